"""FedSGD: one full-batch gradient per participant per round, averaged by the server."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import torch

from fl_node.errors import SpecError
from fl_node.strategies._utils import apply_delta, weighted_average
from fl_node.strategies.base import ClientUpdate, Strategy
from fl_node.training import TrainConfig


class FedSGD(Strategy):
    """Federated SGD.

    Each participant takes a single full-batch step with learning rate 1 and no momentum, so its
    delta is minus its gradient; the server applies ``server_lr`` times the sample-weighted mean,
    which is one step of gradient descent on the union of the data.

    Parameters
    ----------
    server_lr : float, default 0.5
        The global learning rate.
    """

    name = "fedsgd"

    def __init__(self, server_lr: float = 0.5) -> None:
        if server_lr <= 0:
            raise SpecError("FedSGD: server_lr must be positive")
        self.server_lr = server_lr

    def configure_train(self, base: TrainConfig) -> TrainConfig:
        """One full-batch step, lr 1, no momentum, no weight decay."""
        return replace(
            base, local_epochs=1, batch_size=0, lr=1.0, momentum=0.0, weight_decay=0.0, max_steps=1
        )

    def aggregate(
        self, params: Mapping[str, torch.Tensor], updates: Sequence[ClientUpdate]
    ) -> dict[str, torch.Tensor]:
        """``params - server_lr * sum_i (n_i / n) grad_i``."""
        if not updates:
            return {k: v.clone() for k, v in params.items()}
        mean = weighted_average([u.delta for u in updates], [u.samples for u in updates])
        return apply_delta(params, mean, self.server_lr)
