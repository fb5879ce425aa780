"""A pool task's specification: the base models, the draw, convergence and acceptance.

:class:`PoolSpec` is what the sponsor stores and hashes on FedTask for a pool task (kind
``fedmarket/pool-task``). Beside the base models and the local training it fixes every rule an
auditor re-runs: how many base models a round draws (:func:`fl_node.pool.assignment.draw`), when
a base model's global model has converged (:class:`~fl_node.pool.convergence.ConvergenceRule`),
which converged models enter the shared pool (:class:`~fl_node.pool.acceptance.AcceptanceRule`),
and the commitment to the coordinator's draw secret, so that the coordinator cannot choose the
assignment after seeing who joined.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from fl_node.errors import SpecError
from fl_node.models import ModelSpec
from fl_node.pool.acceptance import AcceptanceRule
from fl_node.pool.convergence import ConvergenceRule
from fl_node.training import TrainConfig
from incentives.rewards import RewardPolicy
from storage import canonical_json, content_hash

KIND = "fedmarket/pool-task"
"""The ``kind`` of a pool task's stored specification."""
BUNDLE_KIND = "fedmarket/pool-bundle"
"""The ``kind`` of the manifest that lists the shared pool (the last rounds' model)."""
CLOSED_KIND = "fedmarket/pool-closed"
"""The ``kind`` of a round's evidence after the pool converged (nothing trained, nothing paid)."""


@dataclass(frozen=True)
class DrawRule:
    """How many base models a round draws and how participants are dealt to them.

    Attributes
    ----------
    min_models : int, default 2
        Fewest base models drawn in a round. One would deal the same model to everyone, so
        two is the default; converged models are drawn again as cover when fewer remain
        (:func:`fl_node.pool.convergence.drawable`).
    max_models : int or None, default None
        Most base models drawn in a round; ``None``: all of them.
    min_per_model : int, default 1
        Fewest participants a drawn base model gets.
    """

    min_models: int = 2
    max_models: int | None = None
    min_per_model: int = 1

    def __post_init__(self) -> None:
        if self.min_models < 1 or self.min_per_model < 1:
            raise SpecError("DrawRule: min_models and min_per_model must be at least 1")
        if self.max_models is not None and self.max_models < self.min_models:
            raise SpecError("DrawRule: max_models is below min_models")


@dataclass(frozen=True)
class PoolSpec:
    """A pool task.

    Attributes
    ----------
    name : str
        Short name.
    base_models : tuple of ModelSpec
        The base models (different architectures or initial weights), indexed from 0.
    train : TrainConfig
        Every participant's local training, whichever base model it is given.
    rounds : int
        Rounds of the task on FedTask.
    convergence : ConvergenceRule
        When a base model's global model has converged.
    acceptance : AcceptanceRule
        The confidence region and the elimination rule of the shared pool.
    draw : DrawRule
        How a round draws base models.
    seed_commitment : str
        ``0x`` keccak of the coordinator's draw secret (revealed in each round's evidence).
    contribution : str, default "leave-one-out"
        The contribution estimator, run per base model on that model's updates.
    rewards : RewardPolicy
        How rounds are paid (as in a single-model task).
    feature_names : tuple of str
        The columns every participant's rows follow.
    """

    name: str
    base_models: tuple[ModelSpec, ...]
    train: TrainConfig
    rounds: int
    convergence: ConvergenceRule
    acceptance: AcceptanceRule
    seed_commitment: str
    draw: DrawRule = field(default_factory=DrawRule)
    contribution: str = "leave-one-out"
    rewards: RewardPolicy = field(default_factory=RewardPolicy)
    feature_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if len(self.base_models) < 2:
            raise SpecError("PoolSpec: a pool needs at least two base models")
        if self.draw.min_models > len(self.base_models):
            raise SpecError("PoolSpec: draw.min_models is above the number of base models")
        if self.rounds < 1:
            raise SpecError("PoolSpec: rounds must be at least 1")
        tasks = {m.task for m in self.base_models}
        if len(tasks) != 1 or {m.n_features for m in self.base_models} != {
            self.base_models[0].n_features
        }:
            raise SpecError("PoolSpec: every base model must solve the same task on the same rows")
        if not (self.seed_commitment.startswith("0x") and len(self.seed_commitment) == 66):
            raise SpecError("PoolSpec: seed_commitment must be a 0x-prefixed 32-byte hex string")

    @property
    def task(self) -> str:
        """The models' task kind (``binary``, ``multiclass`` or ``regression``)."""
        return self.base_models[0].task

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "kind": KIND,
            "name": self.name,
            "base_models": [m.to_dict() for m in self.base_models],
            "train": self.train.to_dict(),
            "rounds": self.rounds,
            "convergence": asdict(self.convergence),
            "acceptance": asdict(self.acceptance),
            "draw": asdict(self.draw),
            "seed_commitment": self.seed_commitment,
            "contribution": self.contribution,
            "rewards": self.rewards.to_dict(),
            "feature_names": list(self.feature_names),
        }

    def to_bytes(self) -> bytes:
        """Canonical JSON bytes (what is stored and hashed on FedTask)."""
        return canonical_json(self.to_dict())

    def hash(self) -> bytes:
        """keccak256 of :meth:`to_bytes`."""
        return bytes(content_hash(self.to_bytes()))

    @classmethod
    def from_bytes(cls, data: bytes) -> PoolSpec:
        """Parse stored spec bytes (raises :class:`SpecError` on anything malformed)."""
        try:
            raw = json.loads(data)
            if raw.get("kind") != KIND:
                raise SpecError("PoolSpec: not a pool task specification")
            return cls(
                name=str(raw["name"]),
                base_models=tuple(ModelSpec.from_dict(m) for m in raw["base_models"]),
                train=TrainConfig.from_dict(raw["train"]),
                rounds=int(raw["rounds"]),
                convergence=ConvergenceRule(**raw["convergence"]),
                acceptance=AcceptanceRule(**raw["acceptance"]),
                draw=DrawRule(**raw["draw"]),
                seed_commitment=str(raw["seed_commitment"]),
                contribution=str(raw["contribution"]),
                rewards=RewardPolicy.from_dict(raw["rewards"]),
                feature_names=tuple(str(n) for n in raw["feature_names"]),
            )
        except SpecError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise SpecError(f"PoolSpec: malformed specification: {exc}") from None


__all__ = ["BUNDLE_KIND", "CLOSED_KIND", "KIND", "DrawRule", "PoolSpec"]
