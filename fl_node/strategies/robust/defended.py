"""A strategy that aggregates through a defence: the robust delta, applied by any strategy.

``Defended(defence, inner, inputs)`` is a :class:`~fl_node.strategies.base.Strategy`: it
combines the round's updates with the defence into one robust delta and hands the inner
strategy that delta as a single update carrying the round's total sample count. FedAvg then
applies it scaled by ``server_lr``; the FedOpt family feeds it to its moments. The coordinator,
the audit and the contribution measurement share this one aggregation path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from fl_node.strategies.base import AggregateResult, ClientUpdate, Strategy
from fl_node.strategies.robust.base import Defence, RoundInputs
from fl_node.strategies.state import ServerState
from fl_node.training import TrainConfig


class Defended(Strategy):
    """``inner`` applied to ``defence``'s robust aggregate of the updates.

    Parameters
    ----------
    defence : Defence
        The robust rule that combines the updates.
    inner : Strategy
        The strategy that applies the combined delta (its name, parameters, training
        configuration and server state are the Defended strategy's).
    inputs : RoundInputs, default RoundInputs()
        What the round gives the defence (FLTrust's root update, the vote's ballots).
    """

    def __init__(
        self, defence: Defence, inner: Strategy, inputs: RoundInputs | None = None
    ) -> None:
        self.defence = defence
        self.inner = inner
        self.inputs = inputs if inputs is not None else RoundInputs()
        self.name = inner.name
        # The inner strategy's class-level flag, shadowed per instance: a Defended FedAdam is
        # stateful, a Defended FedAvg is not.
        object.__setattr__(self, "stateful", inner.stateful)

    def robust_updates(self, updates: Sequence[ClientUpdate]) -> list[ClientUpdate]:
        """The defence's aggregate as one update with the round's total samples ([] for none)."""
        if not updates:
            return []
        outcome = self.defence.combine(updates, self.inputs)
        return [ClientUpdate(outcome.delta, sum(u.samples for u in updates))]

    def configure_train(self, base: TrainConfig) -> TrainConfig:
        """The inner strategy's configuration."""
        return self.inner.configure_train(base)

    def params(self) -> dict[str, float]:
        """The inner strategy's hyperparameters."""
        return self.inner.params()

    def initial_state(self, params: Mapping[str, torch.Tensor]) -> ServerState:
        """The inner strategy's initial state."""
        return self.inner.initial_state(params)

    def aggregate(
        self, params: Mapping[str, torch.Tensor], updates: Sequence[ClientUpdate]
    ) -> dict[str, torch.Tensor]:
        """The inner strategy's ``aggregate`` of the robust update."""
        return self.inner.aggregate(params, self.robust_updates(updates))

    def aggregate_with_state(
        self,
        params: Mapping[str, torch.Tensor],
        updates: Sequence[ClientUpdate],
        state: ServerState,
    ) -> AggregateResult:
        """The inner strategy's ``aggregate_with_state`` of the robust update."""
        return self.inner.aggregate_with_state(params, self.robust_updates(updates), state)
