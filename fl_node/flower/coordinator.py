"""The fedmarket coordinator behind a Flower strategy: everything but the aggregation rule.

:class:`FlowerCoordinator` is the protocol's :class:`~fl_node.coordinator.Coordinator` (it opens
the round on-chain, anchors the batch of signed commitments, checks every committed update's
bytes, measures contributions, allocates the round's rewards within the cap, stores the model and
the evidence, and finalises the round), except that the next global model comes from an
:data:`Aggregator` when one is set: the wrapped Flower strategy's own aggregation, run on the
accepted updates only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from torch import Tensor

from chain.fed_task import FedTaskClient
from fl_node.audit import AGGREGATION_TOLERANCE
from fl_node.coordinator import Coordinator
from fl_node.mailbox import InMemoryMailbox
from fl_node.models import FedModel, trainable_state
from fl_node.robustness import DefendedRound
from fl_node.strategies import ClientUpdate
from fl_node.strategies.state import ServerState

log = logging.getLogger(__name__)

Aggregator = Callable[[Mapping[str, Tensor], list[tuple[int, ClientUpdate]]], FedModel]
"""``(current trainable params, accepted (participant index, update) pairs) -> next model``."""


class FlowerCoordinator(Coordinator):
    """A :class:`~fl_node.coordinator.Coordinator` whose aggregation can be delegated.

    Takes the Coordinator's keyword arguments; without a ``mailbox`` it keeps an
    :class:`~fl_node.mailbox.InMemoryMailbox` on the chain's clock, where the Flower strategy
    posts the signed commitments that arrive with the replies.
    """

    def __init__(self, **kwargs: Any) -> None:
        if kwargs.get("mailbox") is None:
            fed_task: FedTaskClient = kwargs["fed_task"]
            kwargs["mailbox"] = InMemoryMailbox(clock=fed_task.backend.chain_time)
        super().__init__(**kwargs)
        self.aggregator: Aggregator | None = None

    def _aggregate(
        self,
        params: Mapping[str, Tensor],
        accepted: list[tuple[int, ClientUpdate]],
        defended: DefendedRound | None,
    ) -> tuple[FedModel, ServerState]:
        """The next global model (the :attr:`aggregator`'s when set) and server state.

        The task's strategy runs too: its server state is the round's, and its model is what the
        audit recomputes; the aggregator's model must agree with it within
        :data:`~fl_node.audit.AGGREGATION_TOLERANCE` (a warning says when it does not). A task
        with a robust defence is aggregated by the defence, never by the Flower strategy.
        """
        reference, state = super()._aggregate(params, accepted, defended)
        if self.aggregator is None or defended is not None:
            return reference, state
        model = self.aggregator(params, accepted)
        gap = max_gap(trainable_state(reference), trainable_state(model))
        if gap > AGGREGATION_TOLERANCE:
            log.warning("aggregate: the Flower aggregate is %.2e from the task strategy's", gap)
        return model, state


def max_gap(a: Mapping[str, Tensor], b: Mapping[str, Tensor]) -> float:
    """Largest absolute difference between two models' tensors of the same names."""
    return max((float((a[k] - b[k]).abs().max()) for k in a), default=0.0)


__all__ = ["Aggregator", "FlowerCoordinator", "max_gap"]
