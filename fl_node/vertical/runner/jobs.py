"""What the orchestrator asks a party process to do, and what the party answers: typed records.

Jobs and results cross the control pipe between the orchestrator and a party process (they
are pickled); results carry only *reportable* figures (sizes, timings, metrics, hashes),
never rows, features, labels or keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from fl_node.vertical.data import SplitIndices
from fl_node.vertical.protocol import CipherName, HeteroLRConfig, SessionResult
from fl_node.vertical.protocol.boost import BoostConfig
from fl_node.vertical.tables import PartyReport

Part = Literal["validation", "test"]


# --------------------------------------------------------------------------- jobs


@dataclass(frozen=True)
class PsiJob:
    """Guest and host: find the shared ids (DH-OPRF PSI) and commit to them."""

    workers: int = 1


@dataclass(frozen=True)
class SplitJob:
    """Guest: split the aligned rows and tell the host; both standardise on the training rows.

    ``folds >= 2`` asks for fold ``fold`` of a stratified cross-validation (its test part is
    that fold) instead of a ``test`` share; the host only reads ``clip``.
    """

    clip: float
    validation: float = 0.1
    test: float = 0.2
    seed: int = 0
    folds: int = 0
    fold: int = 0


@dataclass(frozen=True)
class TrainJob:
    """Every role: run one training session named ``name``.

    ``use_guest`` / ``use_host`` drop a party's features (feature-group coalitions);
    ``max_batches`` stops after that many batches (0: none, the guest announces it);
    ``keep`` keeps the trained parts under ``name`` for prediction and saving.
    """

    name: str
    config: HeteroLRConfig
    cipher: CipherName = "ours"
    use_guest: bool = True
    use_host: bool = True
    max_batches: int = 0
    keep: bool = True


@dataclass(frozen=True)
class PredictJob:
    """Guest: score ``part`` with model ``name`` (the host answers whatever the guest asks)."""

    name: str = ""
    part: Part = "test"


@dataclass(frozen=True)
class SaveJob:
    """Guest and host: write this party's part of model ``name`` into ``folder``."""

    name: str
    folder: str


@dataclass(frozen=True)
class StatsJob:
    """Every role: report communication statistics and timer totals."""


@dataclass(frozen=True)
class PreflightJob:
    """A party with its own table: its preflight report after the id rules (canonical text)."""

    id_rules: str


@dataclass(frozen=True)
class PrepareJob:
    """A party with its own table: normalise its ids and fit and apply the preparation rules."""

    id_rules: str
    prep_rules: str


@dataclass(frozen=True)
class AlignJob:
    """Guest and every host: the PSI of the guest with each host, kept rows shared by all.

    ``hosts`` are the host roles in order (the guest runs one PSI per host).
    """

    hosts: tuple[str, ...]
    workers: int = 1


@dataclass(frozen=True)
class BoostTrainJob:
    """Guest and the coalition's hosts: one SecureBoost training session named ``name``.

    ``hosts`` are the hosts whose features the model uses (the others get no job);
    ``keep`` keeps the trained parts under ``name`` for prediction and saving.
    """

    name: str
    config: BoostConfig
    hosts: tuple[str, ...]
    keep: bool = True


@dataclass(frozen=True)
class BoostPredictJob:
    """Guest and the model's hosts: federated prediction of ``part`` with model ``name``."""

    name: str
    part: Part = "test"


@dataclass(frozen=True)
class LrTrainJob:
    """Guest, every host and the arbiter: one hetero-LR session on the users' tables.

    Every host takes part (``hosts``, in the agreed order); ``features`` names the parties
    whose features the model uses (the guest's labels always are): the feature-group
    coalitions. Each data party standardises its aligned rows on the split's training rows
    and clips at ``config.x_bound``; ``keep`` keeps the parts under ``name``.
    """

    name: str
    config: HeteroLRConfig
    hosts: tuple[str, ...]
    features: tuple[str, ...]
    keep: bool = True


@dataclass(frozen=True)
class LrPredictJob:
    """Guest and every host: federated prediction of ``part`` with hetero-LR model ``name``."""

    name: str
    part: Part = "test"


Job = (
    PsiJob
    | SplitJob
    | TrainJob
    | PredictJob
    | SaveJob
    | StatsJob
    | PreflightJob
    | PrepareJob
    | AlignJob
    | BoostTrainJob
    | BoostPredictJob
    | LrTrainJob
    | LrPredictJob
)


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class PsiOutcome:
    """One side's PSI result: sizes, the salted commitment (hex), the time it took."""

    method: str
    intersection_size: int
    own_size: int
    peer_size: int
    commitment: str
    seconds: float


@dataclass(frozen=True)
class SplitOutcome:
    """The split a party adopted (the guest also reports its positive rate)."""

    split: SplitIndices
    positive_rate: float | None = None


@dataclass(frozen=True)
class TrainOutcome:
    """One role's report on a training session (the arbiter adds its batch losses)."""

    session: SessionResult
    keygen_seconds: float = 0.0
    batch_losses: tuple[float, ...] = ()


@dataclass(frozen=True)
class PredictOutcome:
    """The model that was scored; the guest alone has the metrics."""

    model: str
    metrics: dict[str, float] | None = None


@dataclass(frozen=True)
class PartRecord:
    """A saved model part: its content id, keccak hash, size, file, rows and weights."""

    cid: str
    hash: str
    bytes: int
    file: str
    samples: int
    features: int


@dataclass(frozen=True)
class PartyStats:
    """A party's communication statistics (:meth:`CommStats.to_state`) and timer totals."""

    stats: dict[str, list[list[Any]]]
    timer: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class ReportOutcome:
    """A party's preflight report (summaries only: no id, no row)."""

    report: PartyReport


@dataclass(frozen=True)
class PreparedOutcome:
    """A party's table after its preparation: rows and encoded feature columns."""

    rows: int
    features: int


@dataclass(frozen=True)
class BoostOutcome:
    """One party's report on a SecureBoost session (the guest adds the trees and their times)."""

    seconds: float
    cpu_seconds: float
    trees: int = 0
    tree_seconds: tuple[float, ...] = ()
    records: int = 0


JobResult = (
    PsiOutcome
    | SplitOutcome
    | TrainOutcome
    | PredictOutcome
    | PartRecord
    | PartyStats
    | ReportOutcome
    | PreparedOutcome
    | BoostOutcome
)

__all__ = [
    "AlignJob",
    "BoostOutcome",
    "BoostPredictJob",
    "BoostTrainJob",
    "Job",
    "JobResult",
    "LrPredictJob",
    "LrTrainJob",
    "PartRecord",
    "PartyStats",
    "PredictJob",
    "PredictOutcome",
    "PreflightJob",
    "PrepareJob",
    "PreparedOutcome",
    "PsiJob",
    "PsiOutcome",
    "ReportOutcome",
    "SaveJob",
    "SplitJob",
    "SplitOutcome",
    "StatsJob",
    "TrainJob",
    "TrainOutcome",
]
