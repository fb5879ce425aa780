"""What a vertical run does: per-dataset presets and the run's settings.

:class:`VflSettings` holds every knob of :func:`~fl_node.vertical.runner.run_vfl` except the
chain and the event sink; :meth:`VflSettings.plan` resolves it for one dataset into a
:class:`RunPlan` (hyper-parameters, folds, the verified data files, the output folder, the
task's on-chain terms).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from fl_node.vertical.crypto.paillier import RANDOMIZERS, RandomizerName
from fl_node.vertical.data import DEFAULT_DROP_FRACTION, dataset_files
from fl_node.vertical.protocol import HeteroLRConfig
from fl_node.vertical.runner._errors import VflInputError
from fl_node.vertical.runner.onchain import BPS, TOKEN, TaskTerms
from fl_node.vertical.transport import DEFAULT_LIVENESS_TIMEOUT

if TYPE_CHECKING:
    from chain.fed_task import Schedule
    from fl_node.vertical.protocol.boost import BoostConfig

C = TypeVar("C", "HeteroLRConfig", "BoostConfig")

PRESETS: dict[str, HeteroLRConfig] = {
    "default-credit": HeteroLRConfig(
        batch_size=1024, learning_rate=0.3, lr_decay=0.5, l2=1e-4, max_epochs=10, tol=1e-4
    ),
    "breast": HeteroLRConfig(
        batch_size=64, learning_rate=0.3, lr_decay=0.5, l2=1e-4, max_epochs=15, tol=1e-4
    ),
}
"""Per-dataset hyper-parameters (learning rate etc.; see ``docs/vfl.md``)."""

PARTY_TIMEOUT_RANGE = (1.0, 3600.0)
"""Allowed liveness timeouts in seconds.

Below a second the heartbeats (a quarter of it) would compete with the work and a
garbage-collection pause could fail a healthy run; above an hour a stalled party would hold the
others for longer than any job of the presets takes.
"""

CV_FOLDS: dict[str, int] = {"default-credit": 1, "breast": 5}
"""Folds of the stratified cross-validation that estimates held-out metrics.

Small datasets use it: a single 20 % test split of breast's ~535 aligned rows has ~107 rows,
so its AUC moves by +-0.01 from one split seed to the next (plaintext LR too); the mean over
five folds, each trained end to end with the encrypted protocol, is the stable figure.
"""


@dataclass(frozen=True)
class VflSettings:
    """The knobs of a vertical run (the chain and the event sink are given separately).

    Attributes
    ----------
    compare_phe : bool, default False
        Also run the same protocol with python-paillier on ``phe_batches`` batches and
        extrapolate its seconds per epoch (every full batch costs the same).
    epochs : int or None, default None
        Override the preset's epoch limit.
    seed : int, default 0
        Seed of the id removal, the split and the epoch plans.
    workers : int, default 2
        Processes per party for the PSI's elliptic-curve work.
    key_bits : int, default 2048
        Paillier modulus size (2048 for real runs; tests use 1024).
    phe_batches : int, default 2
        Batches measured with phe.
    shapley : bool, default True
        Train the guest-only and host-only models for feature-group Shapley (else the
        utilities of the single-group coalitions are not measured and the split is 50/50).
    pool_tokens : int, default 1000
        Reward pool in whole tokens.
    drop_fraction : float, default DEFAULT_DROP_FRACTION
        Share of ids each side drops before the PSI.
    config : HeteroLRConfig or None, default None
        Full configuration (overrides the preset).
    cv_folds : int or None, default None
        Estimate the held-out metrics by stratified k-fold cross-validation, each fold trained
        end to end with the encrypted protocol (``None``: the dataset's :data:`CV_FOLDS`; 1:
        the single held-out split only). The anchored model is always the one trained on the
        single split.
    owns_chain : bool, default True
        The run may move the chain's clock past the task's deadlines where the chain allows it
        (the in-process chain, anvil, the Hardhat node). ``False`` (a chain others use, or any
        chain that cannot travel) waits for each deadline in real time.
    schedule : Schedule or None, default None
        The task's timetable on chain. ``None``: :func:`~.onchain.travel_schedule` (realistic
        periods, travelled past) where the run travels, :func:`~.onchain.waiting_schedule`
        where it waits. A waiting run must fit its training in the commit period and waits
        for the inclusion, reveal and challenge periods and the stake cooldown.
    participant_stake_tokens : int, default 0
        Whole tokens the guest and the host each lock to join (returned after the cooldown).
    coordinator_stake_tokens : int, default 0
        Whole tokens the coordinator locks before it opens round 1.
    slash_bps : int, default 0
        Share of a flagged or stalling party's stake that is slashed, 0 to 10,000 basis points.
    party_timeout_s : float, default DEFAULT_LIVENESS_TIMEOUT (60.0)
        Liveness timeout: seconds a party may send nothing, not even a heartbeat (sent every
        quarter of it, busy or not), before the run fails naming it
        (:class:`~fl_node.vertical.runner.PartyStalledError`); from 1 to 3600. A party that
        computes for longer is waited for.
    randomizer : {"short-exponent", "textbook"} or None, default None
        How the encrypting parties draw Paillier randomisers (``--paillier-randomizer``),
        applied to the run's configuration (hetero LR's ``HeteroLRConfig.randomizer``;
        SecureBoost's ``BoostConfig.randomizer``, where the guest holds the key and textbook
        means CRT encryption) and recorded in the task spec. ``None`` keeps the configuration's
        own setting (default ``"short-exponent"``).
    """

    compare_phe: bool = False
    epochs: int | None = None
    seed: int = 0
    workers: int = 2
    key_bits: int = 2048
    phe_batches: int = 2
    shapley: bool = True
    pool_tokens: int = 1000
    drop_fraction: float = DEFAULT_DROP_FRACTION
    config: HeteroLRConfig | None = None
    cv_folds: int | None = None
    owns_chain: bool = True
    schedule: Schedule | None = None
    participant_stake_tokens: int = 0
    coordinator_stake_tokens: int = 0
    slash_bps: int = 0
    party_timeout_s: float = DEFAULT_LIVENESS_TIMEOUT
    randomizer: RandomizerName | None = None

    def plan(self, dataset: str, out: Path) -> RunPlan:
        """Resolve these settings for ``dataset`` (files verified, ``out`` created).

        Parameters
        ----------
        dataset : {"default-credit", "breast"}
            Which FATE hetero dataset.
        out : Path
            Output folder.

        Raises
        ------
        VflInputError
            For an unknown dataset, or a pool, stake, slash share or timeout out of range.
        """
        if dataset not in PRESETS:
            raise VflInputError(f"unknown dataset {dataset!r}; choose from {sorted(PRESETS)}")
        self._check_terms()
        check_party_timeout(self.party_timeout_s)
        cfg = replace(self.config or PRESETS[dataset], key_bits=self.key_bits, seed=self.seed)
        cfg = self.with_randomizer(cfg)
        if self.epochs is not None:
            cfg = replace(cfg, max_epochs=self.epochs)
        folds = CV_FOLDS.get(dataset, 1) if self.cv_folds is None else self.cv_folds
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        guest_csv, host_csv = dataset_files(dataset)
        return RunPlan(dataset, out, self, cfg, folds, guest_csv, host_csv)

    def with_randomizer(self, config: C) -> C:
        """``config`` with :attr:`randomizer` applied (unchanged when it is ``None``).

        Parameters
        ----------
        config : HeteroLRConfig or BoostConfig
            The run's hyper-parameters.
        """
        if self.randomizer is None:
            return config
        return replace(config, randomizer=self.randomizer)

    def _check_terms(self) -> None:
        """Refuse a pool, stakes, slash share or randomiser the run cannot use."""
        if self.randomizer is not None and self.randomizer not in RANDOMIZERS:
            raise VflInputError(
                f"randomizer must be one of {', '.join(RANDOMIZERS)}, not {self.randomizer!r}"
            )
        if self.pool_tokens <= 0:
            raise VflInputError(f"pool_tokens must be positive, not {self.pool_tokens}")
        stakes = (self.participant_stake_tokens, self.coordinator_stake_tokens)
        if min(stakes) < 0:
            raise VflInputError(f"stakes must not be negative: {stakes}")
        if not 0 <= self.slash_bps <= BPS:
            raise VflInputError(f"slash_bps must be in 0..{BPS}, not {self.slash_bps}")


def check_party_timeout(seconds: object, name: str = "party_timeout_s") -> float:
    """Return ``seconds`` if it is a liveness timeout in :data:`PARTY_TIMEOUT_RANGE`.

    Parameters
    ----------
    seconds : object
        The timeout (what the caller was given).
    name : str, default "party_timeout_s"
        How the caller calls it (the CLI: ``--party-timeout``).

    Raises
    ------
    VflInputError
        Not a number of seconds from 1 to 3600.
    """
    low, high = PARTY_TIMEOUT_RANGE
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, int | float)
        or not low <= seconds <= high
    ):
        raise VflInputError(
            f"{name} must be a number of seconds from {low:g} to {high:g}, not {seconds!r}"
        )
    return float(seconds)


@dataclass(frozen=True)
class RunPlan:
    """:class:`VflSettings` resolved for one dataset.

    Attributes
    ----------
    dataset : str
        The dataset.
    out : Path
        Output folder (exists).
    settings : VflSettings
        What was asked.
    config : HeteroLRConfig
        The hyper-parameters every session uses.
    folds : int
        Cross-validation folds (1: none).
    guest_csv, host_csv : Path
        The verified data files.
    """

    dataset: str
    out: Path
    settings: VflSettings
    config: HeteroLRConfig
    folds: int
    guest_csv: Path
    host_csv: Path

    @property
    def pool_wei(self) -> int:
        """The reward pool in wei."""
        return self.settings.pool_tokens * TOKEN

    def terms(self) -> TaskTerms:
        """What the sponsor asks of the task on chain: pool, schedule, stakes, slash share."""
        s = self.settings
        return TaskTerms(
            pool=self.pool_wei,
            schedule=s.schedule,
            participant_stake=s.participant_stake_tokens * TOKEN,
            coordinator_stake=s.coordinator_stake_tokens * TOKEN,
            slash_bps=s.slash_bps,
        )

    def task_spec(self) -> dict[str, object]:
        """The task spec stored in the content store (its hash goes on chain)."""
        return {
            "kind": "vertical-logistic-regression",
            "dataset": self.dataset,
            "parties": {"guest": "labels + features", "host": "features"},
            "protocol": "hetero LR, Taylor loss, Paillier with an arbiter (FATE coordinated LR)",
            "psi": "ecdh-oprf-secp256k1",
            "config": self.config.to_dict(),
            "contribution": "feature-group Shapley (validation AUC; empty coalition 0.5)",
        }


__all__ = [
    "CV_FOLDS",
    "PARTY_TIMEOUT_RANGE",
    "PRESETS",
    "RunPlan",
    "VflSettings",
    "check_party_timeout",
]
