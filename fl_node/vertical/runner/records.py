"""What the steps of a vertical run hand each other: typed records, not dicts.

Each step of :func:`~fl_node.vertical.runner.run_vfl` returns one of these; the summary
document (``summary.json``) and the deliverables are rendered from the final
:class:`RunRecord`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fl_node.vertical.data import SplitIndices
from fl_node.vertical.runner._errors import InconsistentResultError
from fl_node.vertical.runner.baseline import Baseline
from fl_node.vertical.runner.jobs import PartRecord, PsiOutcome, TrainOutcome
from fl_node.vertical.runner.onchain import RewardsRecord, StakesRecord, TaskTimeline
from fl_node.vertical.runner.parties import ROLES
from fl_node.vertical.runner.settings import RunPlan
from fl_node.vertical.transport import CommStats

PHASE_KEYS = ("encryption", "homomorphic", "decryption", "messaging", "plaintext")
"""The phases of the breakdown (``idle`` is reported per party only)."""


@dataclass(frozen=True)
class PsiRecord:
    """The PSI both parties agreed on (the commitment is ``0x`` hex)."""

    method: str
    intersection_size: int
    guest_size: int
    host_size: int
    seconds: float
    commitment: str

    @classmethod
    def agreed(cls, guest: PsiOutcome, host: PsiOutcome) -> PsiRecord:
        """The record of a PSI whose two sides committed to the same intersection.

        Raises
        ------
        InconsistentResultError
            When the commitments differ.
        """
        if guest.commitment != host.commitment:
            raise InconsistentResultError("guest and host committed to different intersections")
        return cls(
            method=guest.method,
            intersection_size=guest.intersection_size,
            guest_size=guest.own_size,
            host_size=host.own_size,
            seconds=guest.seconds,
            commitment="0x" + guest.commitment,
        )

    def manifest(self, task_id: int) -> dict[str, Any]:
        """The PSI manifest opened on chain: commitment, method, sizes (never ids)."""
        return {
            "kind": "psi-manifest",
            "task_id": task_id,
            "method": self.method,
            "commitment": self.commitment,
            "commitment_scheme": "SHA-256 over sorted canonical ids with a secret 32-byte salt",
            "intersection_size": self.intersection_size,
            "guest_size": self.guest_size,
            "host_size": self.host_size,
        }


@dataclass(frozen=True)
class Training:
    """The three roles' reports on one training session."""

    guest: TrainOutcome
    host: TrainOutcome
    arbiter: TrainOutcome

    @classmethod
    def of(cls, outcomes: dict[str, TrainOutcome]) -> Training:
        """From the ``role -> outcome`` answers of the three parties."""
        return cls(outcomes["guest"], outcomes["host"], outcomes["arbiter"])

    def role(self, name: str) -> TrainOutcome:
        """The report of ``name``."""
        outcome: TrainOutcome = getattr(self, name)
        return outcome

    def seconds_per_epoch(self, n_train: int) -> float:
        """The guest's wall seconds scaled to one full epoch of ``n_train`` rows."""
        g = self.guest.session
        return g.seconds * n_train / max(1, g.rows)

    def cpu_seconds(self) -> float:
        """CPU seconds of the three parties during the session."""
        return sum(self.role(r).session.cpu_seconds for r in ROLES)

    def breakdown(self, n_train: int) -> dict[str, dict[str, float]]:
        """Phase seconds per epoch, per party (``idle`` included)."""
        out = {}
        for r in ROLES:
            s = self.role(r).session
            epochs = max(1e-9, float(s.rows) / float(n_train))
            out[r] = {k: float(s.timer.get(k, 0.0)) / epochs for k in (*PHASE_KEYS, "idle")}
        return out

    def breakdown_total(self, n_train: int) -> dict[str, float]:
        """Phase seconds per epoch, summed over the three parties."""
        per_party = self.breakdown(n_train)
        return {k: sum(per_party[r][k] for r in ROLES) for k in PHASE_KEYS}


@dataclass(frozen=True)
class FoldResult:
    """One cross-validation fold, trained end to end and scored on its held-out rows."""

    fold: int
    test_rows: int
    epochs: int
    metrics: dict[str, float]
    centralized_auc: float
    centralized_ks: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (an entry of ``cv.per_fold``)."""
        return {
            "fold": self.fold,
            "test_rows": self.test_rows,
            "epochs": self.epochs,
            "metrics": self.metrics,
            "centralized_auc": self.centralized_auc,
            "centralized_ks": self.centralized_ks,
        }


@dataclass(frozen=True)
class ModelRecord:
    """The anchored model: its training session and its federated predictions."""

    split: SplitIndices
    training: Training
    test_metrics: dict[str, float]
    val_metrics: dict[str, float]


@dataclass(frozen=True)
class Coalition:
    """A single-group model trained for feature-group Shapley."""

    epochs: int
    seconds: float
    validation_auc: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "epochs": self.epochs,
            "seconds": self.seconds,
            "validation_auc": self.validation_auc,
        }


@dataclass(frozen=True)
class Contributions:
    """Feature-group Shapley over {guest features, host features}.

    Attributes
    ----------
    utilities : dict of str to float
        Coalition (``""``, ``"0"``, ``"1"``, ``"0,1"``) -> validation AUC (empty: 0.5).
    coalitions : dict of str to Coalition
        The single-group models (when measured).
    guest, host : float
        The Shapley values.
    measured : bool
        Whether the single-group utilities were measured (else a 50/50 split).
    """

    utilities: dict[str, float]
    coalitions: dict[str, Coalition]
    guest: float
    host: float
    measured: bool


@dataclass(frozen=True)
class Collected:
    """What the parties hand over at the end: their saved model parts and traffic."""

    parts: dict[str, PartRecord]
    comm: CommStats


@dataclass(frozen=True)
class ChainRecord:
    """The task as recorded on chain (``commits``: role -> its ``commitUpdate`` tx)."""

    backend: str
    chain_id: int
    task_id: int
    pool_wei: int
    psi_manifest_cid: str
    addresses: dict[str, str]
    commits: dict[str, str]
    rewards: RewardsRecord
    stakes: StakesRecord
    timeline: TaskTimeline
    gas_used: int
    contracts: dict[str, object]


@dataclass(frozen=True)
class Headline:
    """The headline quality figures and how they were estimated."""

    metrics: dict[str, float]
    centralized_auc: float
    centralized_ks: float
    evaluation: str


@dataclass(frozen=True)
class Figures:
    """Speed and work figures of the anchored model's training."""

    n_train: int
    guest_features: int
    host_features: int
    seconds_per_epoch: float
    cores: int
    row_features_per_core_second: float
    cpu_seconds_per_epoch: float
    cpu_seconds_per_epoch_by_party: dict[str, float]


@dataclass(frozen=True)
class PheRecord:
    """The same protocol timed with python-paillier on a few batches."""

    training: Training
    seconds_per_epoch: float
    speed_ratio: float


@dataclass(frozen=True)
class RunRecord:
    """Everything a finished run measured, from which the summary and the report are made."""

    plan: RunPlan
    psi: PsiRecord
    cv: list[FoldResult]
    model: ModelRecord
    baseline: Baseline
    contributions: Contributions
    collected: Collected
    chain: ChainRecord
    headline: Headline
    figures: Figures
    phe: PheRecord | None
    load_average_start: tuple[float, float, float]


__all__ = [
    "PHASE_KEYS",
    "ChainRecord",
    "Coalition",
    "Collected",
    "Contributions",
    "Figures",
    "FoldResult",
    "Headline",
    "ModelRecord",
    "PheRecord",
    "PsiRecord",
    "RunRecord",
    "Training",
]
