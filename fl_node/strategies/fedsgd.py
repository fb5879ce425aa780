"""FedSGD: one full-batch gradient per participant per round, averaged by the server."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import torch

from fl_node.strategies._utils import (
    MAX_SERVER_LR,
    apply_delta,
    check_hyperparameter,
    weighted_average,
)
from fl_node.strategies.base import ClientUpdate, Strategy, check_updates
from fl_node.training import TrainConfig


class FedSGD(Strategy):
    """Federated SGD.

    Each participant takes a single full-batch step with learning rate 1 and no momentum, so its
    delta is minus its gradient; the server applies ``server_lr`` times the sample-weighted mean,
    which is one step of gradient descent on the union of the data.

    Parameters
    ----------
    server_lr : float, default 0.5
        The global learning rate, in ``(0, 100]``.
    """

    name = "fedsgd"

    def __init__(self, server_lr: float = 0.5) -> None:
        self.server_lr = check_hyperparameter(
            "FedSGD", "server_lr", server_lr, 0.0, MAX_SERVER_LR, low_open=True
        )

    def configure_train(self, base: TrainConfig) -> TrainConfig:
        """One full-batch step, lr 1, no momentum, no weight decay."""
        return replace(
            base, local_epochs=1, batch_size=0, lr=1.0, momentum=0.0, weight_decay=0.0, max_steps=1
        )

    def params(self) -> dict[str, float]:
        """``{"server_lr": ...}``."""
        return {"server_lr": self.server_lr}

    def aggregate(
        self, params: Mapping[str, torch.Tensor], updates: Sequence[ClientUpdate]
    ) -> dict[str, torch.Tensor]:
        """``params - server_lr * sum_i (n_i / n) grad_i``."""
        if not updates:
            return {k: v.clone() for k, v in params.items()}
        check_updates(updates, self.name)
        mean = weighted_average([u.delta for u in updates], [u.samples for u in updates])
        return apply_delta(params, mean, self.server_lr)
