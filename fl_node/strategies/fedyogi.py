"""FedYogi (Reddi et al., 2021): the FedOpt server step with Yogi's second moment.

Yogi moves ``v`` towards ``Delta^2`` by a fixed fraction of ``Delta^2`` whatever the gap, so a
single large update cannot blow the second moment up as fast as Adam's average does.
"""

from __future__ import annotations

import torch

from fl_node.strategies._utils import check_hyperparameter
from fl_node.strategies.fedopt import FedOpt


def yogi_second_moment(v: torch.Tensor, delta_sq: torch.Tensor, beta2: float) -> torch.Tensor:
    """``v_t = v_{t-1} - (1 - beta2) * Delta_t^2 * sign(v_{t-1} - Delta_t^2)``.

    ``v`` stays non-negative when it starts so: it only shrinks while it exceeds ``Delta^2``.
    """
    return v - (1.0 - beta2) * delta_sq * torch.sign(v - delta_sq)


class FedYogi(FedOpt):
    """FedOpt with Yogi's moments.

    Parameters
    ----------
    server_lr : float, default 0.1
        The server learning rate ``eta``, in ``(0, 100]``.
    beta1 : float, default 0.9
        First-moment decay, in ``[0, 1)``.
    beta2 : float, default 0.99
        Second-moment rate, in ``[0, 1)``.
    tau : float, default 1e-3
        Adaptivity constant, in ``[1e-9, 1]``.
    """

    name = "fedyogi"

    def __init__(
        self, server_lr: float = 0.1, beta1: float = 0.9, beta2: float = 0.99, tau: float = 1e-3
    ) -> None:
        super().__init__(server_lr=server_lr, beta1=beta1, tau=tau)
        self.beta2 = check_hyperparameter("FedYogi", "beta2", beta2, 0.0, 1.0, high_open=True)

    def second_moment(self, v: torch.Tensor, delta_sq: torch.Tensor) -> torch.Tensor:
        """Yogi's rule, :func:`yogi_second_moment`."""
        return yogi_second_moment(v, delta_sq, self.beta2)

    def params(self) -> dict[str, float]:
        """``server_lr``, ``beta1``, ``beta2`` and ``tau``."""
        return {
            "server_lr": self.server_lr,
            "beta1": self.beta1,
            "beta2": self.beta2,
            "tau": self.tau,
        }
