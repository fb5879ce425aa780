"""One base model's lineage in a pool task: its global model, training and aggregation.

A :class:`Lane` holds a base model's current global model and its test-error history. A
participant dealt to the lane trains a copy (:func:`train_on_lane`) and sends an update whose
metadata names the lane's current model hash, so the update's keccak (its on-chain commitment)
binds the base model it belongs to. :func:`aggregate_lane` aggregates the lane's updates with
FedAvg, measures each update's contribution with the task's estimator on the coordinator's
validation set (:func:`fl_node.coordinator.coalition_utility`, the single-model rule), and
evaluates the new global model on the test set.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from fl_node.coordinator import coalition_utility
from fl_node.data import LocalDataset
from fl_node.errors import UpdateRejectedError
from fl_node.models import FedModel, ModelSpec, build_model, trainable_state
from fl_node.payout import contribution_seed, round_improvement
from fl_node.serialization import UpdateMeta, decode_update, encode_model, encode_update
from fl_node.strategies import ClientUpdate, FedAvg
from fl_node.training import TrainConfig, train_local
from incentives.contribution import coalition_key, make_estimator
from storage import content_hash

log = logging.getLogger(__name__)


@dataclass
class Lane:
    """A base model's global model and history (mutable, owned by the pool's coordinator).

    Attributes
    ----------
    index : int
        The base model's index in the spec.
    spec : ModelSpec
        Its architecture and initial seed.
    model : FedModel
        Its current global model.
    errors : list of float
        Its test error after each round it was trained in.
    rounds : list of int
        Those rounds.
    """

    index: int
    spec: ModelSpec
    model: FedModel
    errors: list[float] = field(default_factory=list)
    rounds: list[int] = field(default_factory=list)

    @classmethod
    def start(cls, index: int, spec: ModelSpec) -> Lane:
        """The lane of base model ``index`` at its initial weights."""
        return cls(index, spec, build_model(spec))

    def blob(self, task_id: int, round_: int) -> bytes:
        """The current global model's bytes (what the store keeps and the chain hashes)."""
        return encode_model(self.model, self.spec, round=round_, task_id=task_id)


@dataclass(frozen=True)
class LaneUpdate:
    """A participant's update to a lane, with what an observer could time.

    Attributes
    ----------
    participant : str
        Its author.
    lane : int
        The base model it trained.
    blob : bytes
        The encoded update (its metadata names the lane's model hash).
    update : ClientUpdate
        The decoded delta and sample count.
    seconds : float
        Wall time of the local training.
    """

    participant: str
    lane: int
    blob: bytes
    update: ClientUpdate
    seconds: float

    @property
    def hash(self) -> bytes:
        """keccak256 of the bytes: the on-chain commitment."""
        return bytes(content_hash(self.blob))


@dataclass(frozen=True)
class LaneRound:
    """What one round did to a lane.

    Attributes
    ----------
    lane : int
        The base model.
    members : tuple of str
        The participants whose updates it aggregated, in join order.
    contributions : dict of str to float
        Each member's measured contribution.
    utilities : dict of str to float
        The coalition utilities measured (keys index ``members``).
    improvement : float
        ``v(all) - v(none)`` on the validation set.
    test_error : float
        The new global model's test error (1 - accuracy; the loss for regression).
    seed : int
        The contribution estimator's seed.
    """

    lane: int
    members: tuple[str, ...]
    contributions: dict[str, float]
    utilities: dict[str, float]
    improvement: float
    test_error: float
    seed: int


def train_on_lane(
    lane: Lane,
    data: LocalDataset,
    train: TrainConfig,
    meta: UpdateMeta,
    *,
    device: torch.device | None = None,
) -> LaneUpdate:
    """Train a copy of ``lane``'s global model on ``data``; the participant's signed-off update.

    Parameters
    ----------
    lane : Lane
        The base model the participant was dealt.
    data : LocalDataset
        The participant's rows (they never leave this function).
    train : TrainConfig
        Local training.
    meta : UpdateMeta
        The update's metadata; ``base_model_hash`` must be the lane's current model hash.
    device : torch.device or None, default None
        Where to train.
    """
    started = time.perf_counter()
    local = copy.deepcopy(lane.model)
    result = train_local(local, data, train, round=meta.round, device=device)
    blob = encode_update(result.delta, meta)
    update = ClientUpdate(result.delta, result.samples)
    return LaneUpdate(meta.participant, lane.index, blob, update, time.perf_counter() - started)


def screen_update(
    blob: bytes,
    *,
    task_id: int,
    round_: int,
    participant: str,
    base_hash: bytes,
    shapes: Mapping[str, tuple[int, ...]],
) -> tuple[ClientUpdate | None, str]:
    """Decode an update and check it against the round: the update, or ``None`` and why.

    The reasons: ``malformed``, ``shape_mismatch``, ``non_finite`` (the bytes), ``wrong_task``
    (another task or round), ``wrong_author`` (another participant's name) and
    ``wrong_base_model`` (it does not start from the base model dealt to its author). The
    coordinator aggregates only what passes, and the audit re-runs it on what was refused.

    Parameters
    ----------
    blob : bytes
        The update's bytes, as committed.
    task_id, round_ : int
        The round it must belong to.
    participant : str
        Its author, as the commitment names it.
    base_hash : bytes
        The opening hash of the base model dealt to ``participant``.
    shapes : mapping of str to tuple of int
        That base model's trainable parameter shapes.
    """
    try:
        delta, meta = decode_update(blob, shapes)
    except UpdateRejectedError as exc:
        return None, exc.reason
    if meta.task_id != task_id or meta.round != round_:
        return None, "wrong_task"
    if meta.participant.lower() != participant.lower():
        return None, "wrong_author"
    if meta.base_model_hash != "0x" + base_hash.hex():
        return None, "wrong_base_model"
    return ClientUpdate(delta, meta.samples), "accepted"


def shapes_of(model: FedModel) -> dict[str, tuple[int, ...]]:
    """The trainable parameters' shapes of ``model`` (what its updates must carry)."""
    return {name: tuple(p.shape) for name, p in model.named_parameters()}


def test_error(model: FedModel, data: LocalDataset) -> float:
    """1 - accuracy of a classifier, the mean squared error of a regressor, on ``data``."""
    model.eval()
    with torch.no_grad():
        out = model(torch.as_tensor(data.x)).detach().cpu().numpy()
    y = np.asarray(data.y)
    if model.spec.task == "regression":
        return float(np.mean((out.reshape(-1) - y.astype(np.float64)) ** 2))
    if model.spec.task == "multiclass":
        return float(np.mean(out.argmax(axis=1) != y))
    return float(np.mean((out.reshape(-1) > 0.0) != (y > 0.5)))


def predictions(model: FedModel, data: LocalDataset) -> tuple[int, ...]:
    """A classifier's predicted class per row (a regressor's rounded value)."""
    model.eval()
    with torch.no_grad():
        out = model(torch.as_tensor(data.x)).detach().cpu().numpy()
    if model.spec.task == "multiclass":
        return tuple(int(c) for c in out.argmax(axis=1))
    if model.spec.task == "regression":
        return tuple(int(round(float(v))) for v in out.reshape(-1))
    return tuple(int(v > 0.0) for v in out.reshape(-1))


def aggregate_lane(
    lane: Lane,
    updates: Sequence[LaneUpdate],
    *,
    round_: int,
    model_hash: bytes,
    estimator: str,
    validation: LocalDataset,
    test: LocalDataset,
) -> LaneRound:
    """FedAvg ``updates`` into ``lane``'s model (in place); measure and evaluate.

    Parameters
    ----------
    lane : Lane
        The base model (its model is replaced by the aggregate).
    updates : sequence of LaneUpdate
        The lane's updates, in join order of their authors.
    round_ : int
        The round.
    model_hash : bytes
        The lane's opening model hash (it seeds the estimator, as in a single-model task).
    estimator : str
        The contribution estimator's name.
    validation, test : LocalDataset
        The coordinator's validation rows (contributions) and the held-out test rows.
    """
    strategy = FedAvg()
    params = trainable_state(lane.model)
    clients = [u.update for u in updates]
    state = strategy.initial_state(params)
    utility = coalition_utility(lane.spec, strategy, params, clients, state, validation)
    seed = contribution_seed(model_hash, round_)
    result = make_estimator(estimator).estimate(len(clients), utility, seed=seed)
    utilities = dict(result.utilities)
    for coalition in (frozenset(), frozenset(range(len(clients)))):
        utilities.setdefault(coalition_key(coalition), utility(coalition))
    lane.model.load_state_dict(strategy.aggregate(params, clients), strict=False)
    error = test_error(lane.model, test)
    lane.errors.append(error)
    lane.rounds.append(round_)
    return LaneRound(
        lane=lane.index,
        members=tuple(u.participant for u in updates),
        contributions={
            u.participant: float(s) for u, s in zip(updates, result.scores, strict=True)
        },
        utilities=utilities,
        improvement=round_improvement(utilities, len(clients)),
        test_error=error,
        seed=seed,
    )


__all__ = [
    "Lane",
    "LaneRound",
    "LaneUpdate",
    "aggregate_lane",
    "predictions",
    "screen_update",
    "shapes_of",
    "test_error",
    "train_on_lane",
]
