"""The task specification: what a sponsor asks for, kept in the content store, anchored on-chain.

The spec's canonical JSON bytes are stored in the content store; the chain holds their CID and
keccak-256, and every participant checks the bytes against that hash before training.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from fl_node.copies import COPY_TOLERANCE
from fl_node.data import DataSchema, LocalDataset, load_csv, load_party
from fl_node.dp import (
    DISTRIBUTED_MODE,
    SECAGG_RANGE_Z,
    DPConfig,
    PrivacySpent,
    collusion_budget,
    task_budget,
)
from fl_node.errors import SpecError
from fl_node.evaluation import LOWER_IS_BETTER, METRIC_NAMES
from fl_node.models import ModelSpec
from fl_node.sealed import holder_id
from fl_node.secagg.errors import SecAggInputError
from fl_node.secagg.params import SecAggParams
from fl_node.strategies import STRATEGIES, Strategy, make_strategy, sample_clients
from fl_node.strategies.robust import Defence, make_defence
from fl_node.strategies.sampling import mix_seed
from fl_node.training import TrainConfig
from incentives import ESTIMATORS
from incentives.rewards import RewardPolicy
from kernel.errors import InvalidInputError
from storage import canonical_json

CONTRIBUTION_METHODS = tuple(ESTIMATORS)
"""The contribution methods a spec may name (:data:`incentives.ESTIMATORS`)."""

AGGREGATIONS = ("plain", "secagg")
"""How the coordinator receives updates: each in the clear (or sealed), or only group sums."""


def check_acceptance(kind: str, acceptance: Mapping[str, float]) -> None:
    """Raise :class:`SpecError` unless every target names a metric of ``kind``, in its range.

    Parameters
    ----------
    kind : str
        The task kind (``binary``, ``multiclass``, ``regression``).
    acceptance : mapping of str to float
        Metric name to target value on the held-out test set.
    """
    known = METRIC_NAMES[kind]
    for name, value in acceptance.items():
        if name not in known:
            raise SpecError(
                f"TaskSpec: acceptance target {name!r} is not a {kind} metric ({', '.join(known)})"
            )
        bounded = name in LOWER_IS_BETTER or name == "r2" or 0.0 <= value <= 1.0
        if not math.isfinite(value) or not bounded or (name in LOWER_IS_BETTER and value < 0):
            raise SpecError(f"TaskSpec: acceptance target {name}={value} is out of range")


def _rewards(value: Any) -> RewardPolicy:
    """The spec's reward policy (its defaults when the spec states none)."""
    if not isinstance(value, dict):
        raise SpecError("TaskSpec: rewards must be an object")
    try:
        return RewardPolicy.from_dict(value)
    except InvalidInputError as exc:
        raise SpecError(f"TaskSpec: rewards: {exc}") from None


def _flag(value: object) -> bool:
    if not isinstance(value, bool):
        raise SpecError(f"TaskSpec: require_listing must be true or false, not {value!r}")
    return value


@dataclass(frozen=True)
class TaskSpec:
    """A horizontal federated training task.

    Parameters
    ----------
    name : str
        Short task name.
    model : ModelSpec
        The model to train (its initial weights follow from ``model.seed``).
    train : TrainConfig
        Base local training configuration (the strategy may adapt it).
    rounds : int
        Number of rounds.
    strategy : str, default "fedavg"
        Aggregation rule (:data:`fl_node.strategies.STRATEGIES`: fedavg, fedsgd, fedprox,
        fedadam, fedyogi, fedadagrad).
    server_lr : float or None, default None
        Server learning rate of the strategy (``None``: the strategy's default, 1.0 for FedAvg,
        0.1 for the FedOpt family; the stored spec always writes the value used).
    strategy_params : dict of str to float
        The strategy's other hyperparameters (FedProx ``mu``, FedOpt ``beta1``, ``tau``...).
    sample_fraction : float, default 1.0
        Share of the participants that train each round, chosen by
        :func:`~fl_node.strategies.sample_clients` from ``sample_seed``, the round and the
        joined addresses: anyone can recompute the choice, and the seed is anchored on-chain
        with the spec's hash.
    sample_seed : int, default 0
        Seed of the client sampling.
    schema : DataSchema or None, default None
        What every party's file holds and how it is imputed and encoded (a table's columns or
        images, and the target); ``None`` for the historical numeric CSV with a ``label``
        column. With a schema, ``feature_names`` are its encoded names.
    contribution : str, default "leave-one-out"
        How the coordinator measures contributions: one of :data:`CONTRIBUTION_METHODS`
        ("leave-one-out", "shapley-exact", "shapley-gtg", "shapley-tmc").
    acceptance : dict of str to float
        Targets on the held-out test set, e.g. ``{"accuracy": 0.92, "f1": 0.88}``.
    feature_names : tuple of str
        Schema the participants' data must follow (column order).
    description : str, default ""
        Free text.
    copy_tolerance : float, default fl_node.copies.COPY_TOLERANCE
        Relative distance at or below which an update repeats an earlier round's step and is
        rejected as ``replayed_update`` (:mod:`fl_node.copies`).
    require_listing : bool, default False
        Refuse updates of participants that listed no dataset (``samples_exceed_listing``);
        sample counts are bounded by the rows of a participant's listings whenever it has any.
    rewards : RewardPolicy, default RewardPolicy()
        How rounds are paid (``docs/incentives.md``): by default a round's budget follows the
        global model's measured improvement, what it does not earn returns to the sponsor, and
        only accepted updates with a positive score earn.
    defence : str, default ""
        The robust aggregation rule applied to the screened updates before the strategy
        (:data:`fl_node.strategies.robust.DEFENCES`: clip, median, trimmed_mean, krum,
        multi_krum, fltrust, trusted_vote); ``""`` for none. Updates it flags are rejected as
        ``robust_outlier``, earn nothing and are reported on-chain for slashing.
    defence_params : dict of str to float
        The defence's hyperparameters (``flag_at``, ``beta``, ``f``, ``clip_norm_factor``...).
    sealed_updates : tuple of str, default ()
        Seal the participants' updates at rest (:mod:`fl_node.sealed`): the secp256k1 public
        keys (compressed, ``0x``-hex) of everyone who may open them, the coordinator's first
        (participants refuse a list without the key of the task's coordinator), then the audit
        committee's. Empty: updates are stored in the clear. A spec without it keeps its bytes
        and hash.
    sealed_readers : tuple of str, default ()
        Seal the task's own artifacts too (global models, evidence, server states, batch
        documents: every object the coordinator stores, :mod:`storage.sealed_store`), for the
        holders of ``sealed_updates`` and these readers: the participants' and the sponsor's
        public keys. Needs ``sealed_updates``; a participant whose key is not listed cannot train.
        Empty: the task's artifacts are stored in the clear.
    dp : DPConfig or None, default None
        Differential privacy (:mod:`fl_node.dp`): how participants clip and noise what they
        release, and the ``(epsilon, delta)`` that follows (:meth:`privacy_spent`). The spec
        hands it to ``train.dp``, so local training applies it; dp-fedavg under ``"secagg"`` is
        distributed instead (:attr:`distributed_dp`). A spec without it keeps its bytes and hash.
    aggregation : str, default "plain"
        ``"plain"``: the coordinator reads every update; ``"secagg"``: updates are summed per
        group under secure aggregation (:mod:`fl_node.secagg_task`) and the coordinator learns
        group sums only. A spec with ``"plain"`` keeps its bytes and hash.
    secagg : SecAggParams or None, default None
        The group size, dropout tolerance and clip range of ``"secagg"`` (its defaults when
        unset); refused with ``"plain"``.
    """

    name: str
    model: ModelSpec
    train: TrainConfig
    rounds: int
    feature_names: tuple[str, ...]
    strategy: str = "fedavg"
    server_lr: float | None = None
    contribution: str = "leave-one-out"
    acceptance: dict[str, float] = field(default_factory=dict)
    description: str = ""
    strategy_params: dict[str, float] = field(default_factory=dict)
    sample_fraction: float = 1.0
    sample_seed: int = 0
    schema: DataSchema | None = None
    copy_tolerance: float = COPY_TOLERANCE
    require_listing: bool = False
    rewards: RewardPolicy = field(default_factory=RewardPolicy)
    defence: str = ""
    defence_params: dict[str, float] = field(default_factory=dict)
    sealed_updates: tuple[str, ...] = ()
    sealed_readers: tuple[str, ...] = ()
    dp: DPConfig | None = None
    aggregation: str = "plain"
    secagg: SecAggParams | None = None

    def __post_init__(self) -> None:
        if not self.name or self.rounds < 1:
            raise SpecError("TaskSpec: name must be non-empty and rounds >= 1")
        if self.strategy not in STRATEGIES:
            raise SpecError(f"TaskSpec: unknown strategy {self.strategy!r}")
        if self.contribution not in CONTRIBUTION_METHODS:
            raise SpecError(f"TaskSpec: unknown contribution method {self.contribution!r}")
        if self.server_lr is not None and not (
            self.server_lr > 0 and math.isfinite(self.server_lr)
        ):
            raise SpecError("TaskSpec: server_lr must be positive")
        if len(self.feature_names) != (0 if self.model.is_image else self.model.n_features):
            raise SpecError(
                "TaskSpec: feature_names must match the model's input width (none for images)"
            )
        self._check_acceptance()
        if not (0.0 < self.sample_fraction <= 1.0) or not 0 <= self.sample_seed < 2**256:
            raise SpecError(
                "TaskSpec: sample_fraction must be in (0, 1], sample_seed in [0, 2^256)"
            )
        if not 0.0 <= self.copy_tolerance < 1.0:
            raise SpecError("TaskSpec: copy_tolerance must be in [0, 1)")
        if not isinstance(self.rewards, RewardPolicy):
            raise SpecError("TaskSpec: rewards must be a RewardPolicy")
        strategy = self.make_strategy()  # refuses unknown or out-of-range hyperparameters
        if self.server_lr is None:  # the strategy's default, written down
            object.__setattr__(self, "server_lr", float(strategy.params()["server_lr"]))
        if self.schema is not None:
            self._check_schema(self.schema)
        if self.defence_params and not self.defence:
            raise SpecError("TaskSpec: defence_params without a defence")
        self.make_defence()  # refuses unknown rules and out-of-range hyperparameters
        self._check_sealed()
        self._share_dp()
        self._check_aggregation()

    def _check_aggregation(self) -> None:
        """``secagg`` set exactly under ``"secagg"``, which takes no per-update defence."""
        if self.aggregation not in AGGREGATIONS:
            raise SpecError(f"TaskSpec: unknown aggregation {self.aggregation!r}")
        if self.aggregation == "plain":
            if self.secagg is not None:
                raise SpecError("TaskSpec: secagg parameters with plain aggregation")
            return
        if self.secagg is None:
            object.__setattr__(self, "secagg", SecAggParams())
        if self.defence:
            raise SpecError("TaskSpec: secagg hides single updates: no per-update defence")
        self._check_distributed_dp()

    def _check_distributed_dp(self) -> None:
        """Under :attr:`distributed_dp` the secagg range holds a member's noise (z 9)."""
        if not self.distributed_dp or self.dp is None or self.secagg is None:
            return
        member_std = self.dp.noise_std / math.sqrt(self.secagg.min_threshold)
        need = self.dp.clip_norm + SECAGG_RANGE_Z * member_std
        if self.secagg.clip < need:
            raise SpecError(
                f"TaskSpec: distributed DP needs secagg clip >= {need:.6g} (C + "
                f"{SECAGG_RANGE_Z:g} member noise stds), not {self.secagg.clip:g}"
            )

    @property
    def distributed_dp(self) -> bool:
        """dp-fedavg under ``"secagg"``: members split the noise (:mod:`fl_node.secagg_task.noise`).

        Each member of a group of threshold ``t`` adds ``sigma C / sqrt(t)`` instead of local
        training adding ``sigma C``; every member weighs equally inside the group sum.
        """
        return self.aggregation == "secagg" and self.dp is not None and self.dp.mode == "dp-fedavg"

    @property
    def screened_dp(self) -> DPConfig | None:
        """The settings each revealed update's noise is checked against, or ``None``.

        dp-fedavg under plain aggregation: the coordinator sees each noised update and rejects
        one outside the noise band (:class:`~fl_node.screening.RoundScreen`). Under secagg a
        member's noise is a share, hidden in the sum; dp-sgd's noise is not checkable.
        """
        plain = self.aggregation == "plain" and self.dp is not None
        return self.dp if plain and self.dp is not None and self.dp.mode == "dp-fedavg" else None

    def _share_dp(self) -> None:
        """``train.dp`` is ``dp`` (set from it when unset); DP-SGD's limits checked."""
        if self.dp is None and self.train.dp is not None:
            raise SpecError("TaskSpec: train.dp without dp (set the spec's dp field)")
        if self.dp is not None and self.train.dp != self.dp:
            if self.train.dp is not None:
                raise SpecError("TaskSpec: dp and train.dp differ")
            object.__setattr__(self, "train", replace(self.train, dp=self.dp))
        if self.dp is not None and self.dp.mode == "dp-sgd":
            if self.train.proximal_mu or self.train.adversarial:
                raise SpecError("TaskSpec: dp-sgd takes no proximal term or adversarial training")

    def privacy_spent(self, rounds: int | None = None) -> PrivacySpent | None:
        """The ``(epsilon, delta)`` a participant spends in ``rounds`` rounds (all by default).

        The worst case: a participant that trained in every one of them. ``None`` without DP.
        Under :attr:`distributed_dp` the mode is ``"dp-fedavg+secagg"``: the same epsilon, for
        the group sums the coordinator sees (:meth:`collusion_spent` for colluding members).
        """
        if self.dp is None:
            return None
        done = self.rounds if rounds is None else rounds
        spent = task_budget(self.dp, done, self.train.local_epochs, self.train.max_steps)
        return replace(spent, mode=DISTRIBUTED_MODE) if self.distributed_dp else spent

    def collusion_spent(self, rounds: int | None = None) -> PrivacySpent | None:
        """Under :attr:`distributed_dp`: a member's budget against its colluding group.

        The other survivors of its group, colluding with the coordinator, see its update under
        its own noise only (:func:`fl_node.dp.collusion_budget` at the smallest threshold).
        ``None`` for other tasks.
        """
        if not self.distributed_dp or self.dp is None or self.secagg is None:
            return None
        done = self.rounds if rounds is None else rounds
        return collusion_budget(self.dp, done, self.secagg.min_threshold)

    def _check_sealed(self) -> None:
        """Every key holder is a secp256k1 public key, written in one canonical form, once."""
        for name in ("sealed_updates", "sealed_readers"):
            try:
                holders = tuple(holder_id(k) for k in getattr(self, name))
            except InvalidInputError as exc:
                raise SpecError(f"TaskSpec: {name}: {exc}") from None
            if len(set(holders)) != len(holders):
                raise SpecError(f"TaskSpec: {name} lists a key twice")
            object.__setattr__(self, name, holders)
        if self.sealed_readers and not self.sealed_updates:
            raise SpecError("TaskSpec: sealed_readers needs sealed_updates (the coordinator's key)")

    @property
    def artifact_holders(self) -> tuple[str, ...]:
        """Who may open the task's sealed artifacts (empty when they are stored in the clear)."""
        if not self.sealed_readers:
            return ()
        return tuple(sorted({*self.sealed_updates, *self.sealed_readers}))

    def _check_schema(self, schema: DataSchema) -> None:
        """The schema and the model agree on the task kind, the classes and the inputs."""
        model = self.model
        if schema.target_kind != model.task:
            raise SpecError(
                f"TaskSpec: the schema's target is {schema.target_kind}, "
                f"the model's task {model.task}"
            )
        if model.task == "multiclass" and schema.n_classes != model.classes:
            raise SpecError(
                f"TaskSpec: the schema has {schema.n_classes} classes, the model {model.classes}"
            )
        if tuple(schema.input_shape) != tuple(model.input_shape or (model.n_features,)):
            raise SpecError(
                f"TaskSpec: the schema's inputs are {schema.input_shape}, the "
                f"model's {model.input_shape or (model.n_features,)}"
            )
        if schema.image is None and tuple(self.feature_names) != schema.encoded_names():
            raise SpecError("TaskSpec: feature_names must be the schema's encoded names")

    def load_data(self, path: str | Path, name: str | None = None) -> LocalDataset:
        """A party's file read, imputed and encoded as this task says, and checked against it.

        With a schema any layout it reads (CSV, NPZ, IDX, image folder); without one the
        historical numeric CSV whose columns are ``feature_names`` then ``label``.
        """
        if self.schema is not None:
            data = load_party(path, self.schema, name)
        else:
            data = load_csv(path, name=name, feature_names=self.feature_names)
        self.check_data(data)
        return data

    def _check_acceptance(self) -> None:
        """Targets name metrics of the task's kind, with finite values in their range."""
        check_acceptance(self.model.task, self.acceptance)

    def check_data(self, data: LocalDataset) -> None:
        """Raise :class:`SpecError` unless ``data`` has this task's input shape and targets."""
        model = self.model
        wanted = model.input_shape or (model.n_features,)
        if tuple(data.x.shape[1:]) != tuple(wanted):
            raise SpecError(
                f"task {self.name!r} wants inputs of shape {wanted}, "
                f"{data.name} has {tuple(data.x.shape[1:])}"
            )
        y = data.y
        if model.task == "multiclass":
            if y.dtype.kind not in "iu" or (
                data.rows and not 0 <= y.min() <= y.max() < model.classes
            ):
                raise SpecError(f"{data.name}: labels must be class indices 0..{model.classes - 1}")
        elif model.task == "binary" and data.rows and not np.isin(y, (0, 1)).all():
            raise SpecError(f"{data.name}: binary labels must be 0 or 1")
        elif data.rows and not np.isfinite(y.astype(np.float64)).all():
            raise SpecError(f"{data.name}: regression targets must be finite")

    @property
    def kind(self) -> str:
        """The task kind: ``binary``, ``multiclass`` or ``regression``."""
        return self.model.task

    def make_strategy(self) -> Strategy:
        """The aggregation strategy this task uses."""
        return make_strategy(self.strategy, self.server_lr, **self.strategy_params)

    def make_defence(self) -> Defence | None:
        """The task's robust aggregation rule, or ``None`` when it has none."""
        if not self.defence:
            return None
        return make_defence(self.defence, **self.defence_params)

    @property
    def effective_server_lr(self) -> float:
        """The server learning rate the strategy uses (its default when the spec names none)."""
        return float(self.make_strategy().params()["server_lr"])

    def sampled(
        self, participants: Sequence[str], round_: int, base_model_hash: bytes
    ) -> tuple[str, ...]:
        """The participants who train in ``round_`` (all of them unless the task samples).

        The spec's seed is mixed with the hash of the model the round opened with, which nobody
        knows before the previous round is finalised: a participant cannot choose an address
        at join time that the sampling favours in later rounds.
        """
        if self.sample_fraction >= 1.0:
            return tuple(participants)
        seed = mix_seed(self.sample_seed, bytes(base_model_hash))
        return sample_clients(participants, self.sample_fraction, seed, round_)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "kind": "fedmarket/horizontal-task",
            "name": self.name,
            "description": self.description,
            "model": self.model.to_dict(),
            "train": self.train.to_dict(),
            "rounds": self.rounds,
            "strategy": self.strategy,
            "server_lr": self.effective_server_lr,
            "contribution": self.contribution,
            "acceptance": dict(self.acceptance),
            "feature_names": list(self.feature_names),
            "strategy_params": dict(self.strategy_params),
            "sample_fraction": self.sample_fraction,
            "sample_seed": self.sample_seed,
            "copy_tolerance": self.copy_tolerance,
            "require_listing": self.require_listing,
            "rewards": self.rewards.to_dict(),
            **({"schema": self.schema.to_dict()} if self.schema is not None else {}),
            **(
                {"defence": self.defence, "defence_params": dict(self.defence_params)}
                if self.defence
                else {}
            ),
            **({"sealed_updates": list(self.sealed_updates)} if self.sealed_updates else {}),
            **({"sealed_readers": list(self.sealed_readers)} if self.sealed_readers else {}),
            **({"dp": self.dp.to_dict()} if self.dp is not None else {}),
            **(
                {"aggregation": self.aggregation, "secagg": self.secagg.to_dict()}
                if self.secagg is not None
                else {}
            ),
        }

    def to_bytes(self) -> bytes:
        """Canonical JSON bytes (what is stored and hashed)."""
        return canonical_json(self.to_dict())

    @classmethod
    def from_bytes(cls, data: bytes) -> TaskSpec:
        """Parse stored spec bytes (raises :class:`SpecError` on anything malformed)."""
        try:
            raw = json.loads(data)
            if raw.get("kind") != "fedmarket/horizontal-task":
                raise SpecError("TaskSpec: not a horizontal task specification")
            return cls(
                name=str(raw["name"]),
                description=str(raw.get("description", "")),
                model=ModelSpec.from_dict(raw["model"]),
                train=TrainConfig.from_dict(raw["train"]),
                rounds=int(raw["rounds"]),
                strategy=str(raw["strategy"]),
                server_lr=float(raw["server_lr"]),
                contribution=str(raw["contribution"]),
                acceptance={str(k): float(v) for k, v in raw.get("acceptance", {}).items()},
                feature_names=tuple(str(n) for n in raw["feature_names"]),
                strategy_params={
                    str(k): float(v) for k, v in raw.get("strategy_params", {}).items()
                },
                sample_fraction=float(raw.get("sample_fraction", 1.0)),
                sample_seed=int(raw.get("sample_seed", 0)),
                copy_tolerance=float(raw.get("copy_tolerance", COPY_TOLERANCE)),
                require_listing=_flag(raw.get("require_listing", False)),
                rewards=_rewards(raw.get("rewards", {})),
                schema=DataSchema.from_dict(raw["schema"]) if "schema" in raw else None,
                defence=str(raw.get("defence", "")),
                defence_params={str(k): float(v) for k, v in raw.get("defence_params", {}).items()},
                sealed_updates=tuple(str(k) for k in raw.get("sealed_updates", ())),
                sealed_readers=tuple(str(k) for k in raw.get("sealed_readers", ())),
                dp=DPConfig.from_dict(raw["dp"]) if "dp" in raw else None,
                aggregation=str(raw.get("aggregation", "plain")),
                secagg=SecAggParams.from_dict(raw["secagg"]) if "secagg" in raw else None,
            )
        except SpecError:
            raise
        except SecAggInputError as exc:
            raise SpecError(f"TaskSpec: secagg: {exc}") from None
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise SpecError(f"TaskSpec: malformed specification: {exc}") from None
