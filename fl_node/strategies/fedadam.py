"""FedAdam (Reddi et al., 2021): the FedOpt server step with Adam's second moment."""

from __future__ import annotations

import torch

from fl_node.strategies._utils import check_hyperparameter
from fl_node.strategies.fedopt import FedOpt


def adam_second_moment(v: torch.Tensor, delta_sq: torch.Tensor, beta2: float) -> torch.Tensor:
    """``v_t = beta2 * v_{t-1} + (1 - beta2) * Delta_t^2``: an exponential moving average."""
    return beta2 * v + (1.0 - beta2) * delta_sq


class FedAdam(FedOpt):
    """FedOpt with Adam's moments.

    Parameters
    ----------
    server_lr : float, default 0.1
        The server learning rate ``eta``, in ``(0, 100]``.
    beta1 : float, default 0.9
        First-moment decay, in ``[0, 1)``.
    beta2 : float, default 0.99
        Second-moment decay, in ``[0, 1)``.
    tau : float, default 1e-3
        Adaptivity constant, in ``[1e-9, 1]``.
    """

    name = "fedadam"

    def __init__(
        self, server_lr: float = 0.1, beta1: float = 0.9, beta2: float = 0.99, tau: float = 1e-3
    ) -> None:
        super().__init__(server_lr=server_lr, beta1=beta1, tau=tau)
        self.beta2 = check_hyperparameter("FedAdam", "beta2", beta2, 0.0, 1.0, high_open=True)

    def second_moment(self, v: torch.Tensor, delta_sq: torch.Tensor) -> torch.Tensor:
        """Adam's rule, :func:`adam_second_moment`."""
        return adam_second_moment(v, delta_sq, self.beta2)

    def params(self) -> dict[str, float]:
        """``server_lr``, ``beta1``, ``beta2`` and ``tau``."""
        return {
            "server_lr": self.server_lr,
            "beta1": self.beta1,
            "beta2": self.beta2,
            "tau": self.tau,
        }
