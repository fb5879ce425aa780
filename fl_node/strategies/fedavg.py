"""FedAvg (McMahan et al., 2017): local SGD epochs, deltas averaged by sample count."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from fl_node.errors import SpecError
from fl_node.strategies._utils import apply_delta, weighted_average
from fl_node.strategies.base import ClientUpdate, Strategy
from fl_node.training import TrainConfig


class FedAvg(Strategy):
    """Federated averaging.

    Parameters
    ----------
    server_lr : float, default 1.0
        Scale of the averaged delta applied to the global model (1.0 is plain FedAvg).
    """

    name = "fedavg"

    def __init__(self, server_lr: float = 1.0) -> None:
        if server_lr <= 0:
            raise SpecError("FedAvg: server_lr must be positive")
        self.server_lr = server_lr

    def configure_train(self, base: TrainConfig) -> TrainConfig:
        """Participants run the task's configuration as given."""
        return base

    def aggregate(
        self, params: Mapping[str, torch.Tensor], updates: Sequence[ClientUpdate]
    ) -> dict[str, torch.Tensor]:
        """``params + server_lr * sum_i (n_i / n) delta_i``."""
        if not updates:
            return {k: v.clone() for k, v in params.items()}
        mean = weighted_average([u.delta for u in updates], [u.samples for u in updates])
        return apply_delta(params, mean, self.server_lr)
