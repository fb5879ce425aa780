"""FedAvg (McMahan et al., 2017): local SGD epochs, deltas averaged by sample count."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from fl_node.strategies._utils import (
    MAX_SERVER_LR,
    apply_delta,
    check_hyperparameter,
    weighted_average,
)
from fl_node.strategies.base import ClientUpdate, Strategy, check_updates
from fl_node.training import TrainConfig


class FedAvg(Strategy):
    """Federated averaging.

    Parameters
    ----------
    server_lr : float, default 1.0
        Scale of the averaged delta applied to the global model (1.0 is plain FedAvg);
        in ``(0, 100]``.
    """

    name = "fedavg"

    def __init__(self, server_lr: float = 1.0) -> None:
        self.server_lr = check_hyperparameter(
            type(self).__name__, "server_lr", server_lr, 0.0, MAX_SERVER_LR, low_open=True
        )

    def configure_train(self, base: TrainConfig) -> TrainConfig:
        """Participants run the task's configuration as given."""
        return base

    def params(self) -> dict[str, float]:
        """``{"server_lr": ...}``."""
        return {"server_lr": self.server_lr}

    def aggregate(
        self, params: Mapping[str, torch.Tensor], updates: Sequence[ClientUpdate]
    ) -> dict[str, torch.Tensor]:
        """``params + server_lr * sum_i (n_i / n) delta_i``."""
        if not updates:
            return {k: v.clone() for k, v in params.items()}
        check_updates(updates, self.name)
        mean = weighted_average([u.delta for u in updates], [u.samples for u in updates])
        return apply_delta(params, mean, self.server_lr)
