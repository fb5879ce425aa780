"""The strategy interface: what participants run locally, and how their updates are combined.

Two ways to aggregate:

- ``aggregate(params, updates) -> params`` for stateless strategies (FedAvg, FedSGD, FedProx);
- ``aggregate_with_state(params, updates, state) -> AggregateResult(params, state)`` for every
  strategy. Stateless ones return the state they were given untouched; stateful ones (the FedOpt
  family) return the next state, which the coordinator stores beside the model each round.

A stateful strategy refuses the plain ``aggregate``: running it without the round's state would
silently restart its moments every round.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar, NamedTuple

import torch

from fl_node.errors import AggregationError
from fl_node.strategies._utils import require_finite
from fl_node.strategies.state import ServerState
from fl_node.training import TrainConfig


@dataclass(frozen=True)
class ClientUpdate:
    """An accepted update: its parameter deltas and its sample count."""

    delta: Mapping[str, torch.Tensor]
    samples: int


class AggregateResult(NamedTuple):
    """The next global parameters and the strategy's next server state."""

    params: dict[str, torch.Tensor]
    state: ServerState


def check_updates(updates: Sequence[ClientUpdate], where: str) -> None:
    """Every update's deltas are finite and its sample count positive (else AggregationError).

    The coordinator's :func:`fl_node.serialization.decode_update` already rejects non-finite
    updates (``non_finite``); this is the strategy's own guard, so nothing reaches the model or the
    server state that upstream validation let slip.
    """
    for update in updates:
        if isinstance(update.samples, bool) or update.samples <= 0:
            raise AggregationError(f"{where}: an update has {update.samples} samples")
        require_finite(update.delta, where)


class Strategy(ABC):
    """A federated optimisation rule.

    ``configure_train`` turns the task's base training configuration into what each participant
    runs; ``aggregate_with_state`` combines accepted updates into the next global parameters and
    server state. All are pure. ``params`` gives the hyperparameters for the task spec:
    ``make_strategy(s.name, **s.params())`` rebuilds ``s``.
    """

    name: str = "abstract"
    stateful: ClassVar[bool] = False

    @abstractmethod
    def configure_train(self, base: TrainConfig) -> TrainConfig:
        """The local training configuration participants use."""

    @abstractmethod
    def params(self) -> dict[str, float]:
        """The hyperparameters, by the names ``make_strategy`` takes."""

    @abstractmethod
    def aggregate(
        self, params: Mapping[str, torch.Tensor], updates: Sequence[ClientUpdate]
    ) -> dict[str, torch.Tensor]:
        """Next global parameters from the current ones and the accepted updates.

        With no updates the parameters are returned unchanged. Stateful strategies raise
        :class:`AggregationError`: use :meth:`aggregate_with_state`.
        """

    def initial_state(self, params: Mapping[str, torch.Tensor]) -> ServerState:
        """The server state before round 1 (empty for stateless strategies)."""
        return ServerState.empty(self.name)

    def aggregate_with_state(
        self,
        params: Mapping[str, torch.Tensor],
        updates: Sequence[ClientUpdate],
        state: ServerState,
    ) -> AggregateResult:
        """Next parameters and server state; a stateless strategy passes ``state`` through."""
        return AggregateResult(self.aggregate(params, updates), state)
