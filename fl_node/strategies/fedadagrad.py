"""FedAdagrad (Reddi et al., 2021): the FedOpt server step with Adagrad's second moment."""

from __future__ import annotations

import torch

from fl_node.strategies.fedopt import FedOpt


def adagrad_second_moment(v: torch.Tensor, delta_sq: torch.Tensor) -> torch.Tensor:
    """``v_t = v_{t-1} + Delta_t^2``: every round's squared pseudo-gradient, accumulated."""
    return v + delta_sq


class FedAdagrad(FedOpt):
    """FedOpt with Adagrad's accumulated second moment.

    Parameters
    ----------
    server_lr : float, default 0.1
        The server learning rate ``eta``, in ``(0, 100]``.
    beta1 : float, default 0.0
        First-moment decay, in ``[0, 1)``; 0 (no momentum) is classic Adagrad, as in the paper's
        experiments.
    tau : float, default 1e-3
        Adaptivity constant, in ``[1e-9, 1]``.
    """

    name = "fedadagrad"

    def __init__(self, server_lr: float = 0.1, beta1: float = 0.0, tau: float = 1e-3) -> None:
        super().__init__(server_lr=server_lr, beta1=beta1, tau=tau)

    def second_moment(self, v: torch.Tensor, delta_sq: torch.Tensor) -> torch.Tensor:
        """Adagrad's rule, :func:`adagrad_second_moment`."""
        return adagrad_second_moment(v, delta_sq)

    def params(self) -> dict[str, float]:
        """``server_lr``, ``beta1`` and ``tau``."""
        return {"server_lr": self.server_lr, "beta1": self.beta1, "tau": self.tau}
