"""The server side: a Flower strategy wrapped so that every round is anchored, checked and paid.

:class:`AnchoredStrategy` wraps an app's Flower strategy (FedAvg) and a
:class:`~fl_node.flower.coordinator.FlowerCoordinator` attached to the task. Per Flower round:

1. ``configure_train`` opens the round on-chain with the coordinator's global model (the model
   Flower sends is that model), and adds a :class:`~fl_node.flower._records.RoundAnchor` to each
   instruction the inner strategy built;
2. ``aggregate_train`` reads each reply's :class:`~fl_node.flower._records.SignedUpdate`. A reply
   whose bytes do not hash to what its author signed is tampered with: its commitment is still
   anchored (the author committed) but its bytes are never revealed, so the coordinator rejects it
   (``missing``) and it earns nothing. The genuine commitments go through the coordinator's mailbox
   into one batch root on-chain; from the reveal start their bytes go to the content store; after
   the reveal deadline the coordinator finalises the round: it checks every committed update
   against its commitment (:func:`fl_node.validation.check_update`), lets the **inner Flower
   strategy** aggregate the accepted updates (each rebuilt from its committed bytes, weighted by
   its committed sample count), measures contributions, allocates rewards, stores the model and
   the evidence and finalises on-chain;
3. the model returned to Flower is the anchored one; evaluation is the inner strategy's own.

The audit (:mod:`fl_node.audit`) recomputes the aggregation with the task's strategy, so the inner
strategy must have a fedmarket equivalent: Flower's ``FedAvg`` is fedmarket's ``fedavg`` with a
server learning rate of 1 (a weighted mean of the models is the base plus the weighted mean of the
deltas), and the evidence says ``fedavg``.

The Flower round's timing sets the chain's: the commit period must outlast a round's training, and
the coordinator moves a dev chain's clock (``travel``) or waits for the deadlines in real time.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from flwr.app import ArrayRecord, ConfigRecord, Message, MetricRecord, RecordDict
from flwr.serverapp import Grid
from flwr.serverapp.strategy import FedAvg, Strategy
from torch import Tensor

from fl_node.errors import SpecError, TaskStateError, UpdateRejectedError
from fl_node.flower._records import ANCHOR_KEY, RoundAnchor, SignedUpdate
from fl_node.flower.client import WEIGHT_KEY, single_arrays, single_metrics
from fl_node.flower.coordinator import FlowerCoordinator
from fl_node.models import FedModel, build_model, full_state, trainable_state
from fl_node.strategies import ClientUpdate
from kernel.types import Address
from storage import compute_cid, content_hash

log = logging.getLogger(__name__)

EQUIVALENTS: dict[type[Strategy], str] = {FedAvg: "fedavg"}
"""Flower strategies the audit can recompute, and the fedmarket strategy each one is."""


@dataclass(frozen=True)
class TamperedReply:
    """A reply refused before anchoring's reveal: its bytes are not what its author signed."""

    participant: Address
    round: int
    reason: str


def equivalent_strategy(inner: Strategy) -> str:
    """The fedmarket strategy ``inner`` is (its exact class only: subclasses change the maths).

    Raises
    ------
    SpecError
        ``inner`` has no equivalent the audit could recompute.
    """
    name = EQUIVALENTS.get(type(inner))
    if name is None:
        known = ", ".join(sorted(k.__name__ for k in EQUIVALENTS))
        raise SpecError(
            f"AnchoredStrategy: {type(inner).__name__} has no fedmarket equivalent "
            f"the audit can recompute (known: {known})"
        )
    return name


def tamper_reason(update: SignedUpdate, anchor: RoundAnchor) -> str | None:
    """Why an anchored update cannot be revealed as it came, or ``None`` when it is intact.

    Parameters
    ----------
    update : SignedUpdate
        The reply's signed commitment and bytes.
    anchor : RoundAnchor
        The round it must belong to.
    """
    commitment = update.signed.commitment
    if (int(commitment.task_id), int(commitment.round)) != (anchor.task_id, anchor.round):
        return "wrong_round"
    if content_hash(update.blob) != bytes(commitment.update_hash):
        return "hash_mismatch"
    if compute_cid(update.blob) != update.cid:
        return "cid_mismatch"
    return None


class AnchoredStrategy(Strategy):
    """A Flower strategy whose rounds are anchored on a fedmarket FedTask and paid by contribution.

    Parameters
    ----------
    inner : Strategy
        The app's own strategy (Flower's ``FedAvg``, weighted by ``num-examples``).
    coordinator : FlowerCoordinator
        The task's coordinator, attached to the task (its spec's strategy must be ``fedavg`` with a
        server learning rate of 1, and its number of rounds Flower's).
    """

    def __init__(self, inner: Strategy, coordinator: FlowerCoordinator) -> None:
        spec = coordinator.spec
        if spec is None or coordinator.task_id is None:
            raise TaskStateError("AnchoredStrategy: attach the coordinator to its task first")
        name = equivalent_strategy(inner)
        if spec.strategy != name or spec.server_lr != 1.0:
            raise SpecError(
                f"AnchoredStrategy: the task aggregates with {spec.strategy} "
                f"(server_lr {spec.server_lr}), the Flower strategy is {name} (server_lr 1.0)"
            )
        if getattr(inner, "weighted_by_key", WEIGHT_KEY) != WEIGHT_KEY:
            raise SpecError(f"AnchoredStrategy: the Flower strategy must weigh by {WEIGHT_KEY}")
        self.inner = inner
        self.coordinator = coordinator
        self.tampered: list[TamperedReply] = []
        self._anchor: RoundAnchor | None = None
        self._staked = False
        self._replies: dict[str, Message] = {}
        self._metrics: MetricRecord | None = None

    # ---- Flower's strategy interface ------------------------------------------------------------
    def summary(self) -> None:
        """Log the wrapping, then the inner strategy's summary."""
        log.info("AnchoredStrategy: task %s, inner %s", self.coordinator.task_id, type(self.inner))
        self.inner.summary()

    def configure_train(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        """Open the round on-chain; the inner strategy's instructions with the anchored model."""
        anchor = self._open_round(server_round)
        model = self._model()
        messages = list(
            self.inner.configure_train(
                server_round, ArrayRecord(torch_state_dict=full_state(model)), config, grid
            )
        )
        for message in messages:
            message.content[ANCHOR_KEY] = anchor.to_record()
        return messages

    def aggregate_train(
        self, server_round: int, replies: Iterable[Message]
    ) -> tuple[ArrayRecord | None, MetricRecord | None]:
        """Anchor, check, aggregate (inner strategy), score and finalise the round."""
        anchor = self._current_anchor()
        intact = self._screen(list(replies), anchor)
        coordinator = self.coordinator
        assert coordinator.mailbox is not None and coordinator.task_id is not None
        for update, _ in intact:
            coordinator.mailbox.send(update.envelope)
        coordinator.post_batch(anchor.round)
        rinfo = coordinator.fed_task.round(coordinator.task_id, anchor.round)
        coordinator.wait_until(rinfo.reveal_start)
        for update, _ in intact:
            coordinator.store.put(update.blob)
        coordinator.wait_until(rinfo.reveal_deadline)
        self._replies = {str(u.signed.participant).lower(): m for u, m in intact}
        self._metrics = None
        coordinator.aggregator = self._aggregate_with_inner
        try:
            coordinator.finalize_round()
        finally:
            coordinator.aggregator = None
            self._replies, self._anchor = {}, None
        return ArrayRecord(torch_state_dict=full_state(self._model())), self._metrics

    def configure_evaluate(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        """The inner strategy's evaluation of the anchored model."""
        return self.inner.configure_evaluate(server_round, arrays, config, grid)

    def aggregate_evaluate(
        self, server_round: int, replies: Iterable[Message]
    ) -> MetricRecord | None:
        """The inner strategy's aggregate of the evaluation metrics."""
        return self.inner.aggregate_evaluate(server_round, replies)

    # ---- after the last round -------------------------------------------------------------------
    def settle(self) -> int:
        """Wait for the last round's challenge window and the stake cooldown; return the stake."""
        return self.coordinator.settle()

    # ---- helpers --------------------------------------------------------------------------------
    def _model(self) -> FedModel:
        model = self.coordinator.model
        if model is None:
            raise TaskStateError("AnchoredStrategy: the coordinator holds no model")
        return model

    def _current_anchor(self) -> RoundAnchor:
        if self._anchor is None:
            raise TaskStateError("AnchoredStrategy: aggregate_train before configure_train")
        return self._anchor

    def _open_round(self, server_round: int) -> RoundAnchor:
        """Stake once, open the next on-chain round; the anchor clients sign under."""
        c = self.coordinator
        if not self._staked:
            c.stake()
            self._staked = True
        round_ = c.open_round()
        if round_ != server_round:
            log.warning(
                "configure_train: Flower round %d is on-chain round %d", server_round, round_
            )
        assert c.task_id is not None and c.spec is not None and c.model_hash is not None
        domain = c.fed_task.domain()
        self._anchor = RoundAnchor(
            task_id=c.task_id,
            round=round_,
            base_model_hash="0x" + c.model_hash.hex(),
            chain_id=domain.chain_id,
            verifying_contract=str(domain.verifying_contract),
            strategy=c.spec.strategy,
            trainable=tuple(trainable_state(self._model())),
        )
        return self._anchor

    def _screen(
        self, replies: list[Message], anchor: RoundAnchor
    ) -> list[tuple[SignedUpdate, Message]]:
        """The replies whose anchored bytes are what their authors signed (one per author)."""
        intact: dict[str, tuple[SignedUpdate, Message]] = {}
        for message in replies:
            if message.has_error() or ANCHOR_KEY not in message.content.config_records:
                continue
            try:
                update = SignedUpdate.from_record(message.content.config_records[ANCHOR_KEY])
            except UpdateRejectedError as exc:
                log.warning("aggregate_train: unreadable anchored reply: %s", exc)
                continue
            reason = tamper_reason(update, anchor)
            author = Address(str(update.signed.participant))
            if reason is not None:
                log.warning("aggregate_train: %s's reply refused: %s", author, reason)
                self.tampered.append(TamperedReply(author, anchor.round, reason))
                if reason != "wrong_round":  # its genuine commitment is anchored, unrevealed
                    self.coordinator.mailbox.send(update.envelope)  # type: ignore[union-attr]
                continue
            intact.setdefault(author.lower(), (update, message))
        return list(intact.values())

    def _aggregate_with_inner(
        self, params: Mapping[str, Tensor], accepted: list[tuple[int, ClientUpdate]]
    ) -> FedModel:
        """The inner strategy's aggregate of the accepted updates, rebuilt from their bytes."""
        c = self.coordinator
        assert c.task_id is not None and c.spec is not None
        participants = c.fed_task.participants(c.task_id)
        base = full_state(self._model())
        messages = [
            self._committed_reply(base, self._replies[participants[i].lower()], update)
            for i, update in accepted
        ]
        next_model = build_model(c.spec.model)
        if not messages:
            next_model.load_state_dict(base)
            return next_model
        arrays, self._metrics = self.inner.aggregate_train(self._current_anchor().round, messages)
        if arrays is None:
            raise TaskStateError("aggregate_train: the Flower strategy aggregated nothing")
        aggregated = arrays.to_torch_state_dict()
        trainable = set(params)
        merged = {k: (aggregated[k] if k in trainable else v) for k, v in base.items()}
        next_model.load_state_dict(merged)
        return next_model

    @staticmethod
    def _committed_reply(
        base: Mapping[str, Tensor], reply: Message, update: ClientUpdate
    ) -> Message:
        """``reply`` with the arrays and the weight of the committed update, nothing else."""
        arrays_key = next(iter(reply.content.array_records))
        metrics_key = next(iter(reply.content.metric_records))
        model = {
            k: (v + update.delta[k].to(v.dtype)) if k in update.delta else v.clone()
            for k, v in base.items()
        }
        metrics = MetricRecord(dict(single_metrics(reply)))
        metrics[WEIGHT_KEY] = update.samples
        single_arrays(reply)  # a reply with other than one ArrayRecord was refused by now
        content = RecordDict(
            {arrays_key: ArrayRecord(torch_state_dict=model), metrics_key: metrics}
        )
        clone = copy.copy(reply)  # the reply's metadata, its content replaced
        clone.content = content
        return clone


__all__ = [
    "EQUIVALENTS",
    "AnchoredStrategy",
    "TamperedReply",
    "equivalent_strategy",
    "tamper_reason",
]
