"""FedProx (Li et al., 2020): FedAvg whose local objective adds a proximal term.

Each participant minimises ``loss(w) + (mu / 2) * ||w - w_global||^2`` on its data, which keeps
heterogeneous clients from drifting far from the global model; the server averages the deltas
exactly as FedAvg does. ``mu = 0`` is FedAvg.

The participants learn ``mu`` from the training configuration (``TrainConfig.proximal_mu``), and
the local loop adds :func:`proximal_penalty` to each mini-batch's loss.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields, replace

import torch

from fl_node.errors import ModelIntegrityError, SpecError
from fl_node.strategies._utils import check_hyperparameter
from fl_node.strategies.fedavg import FedAvg
from fl_node.training import TrainConfig

MAX_MU = 1000.0
"""Largest proximal coefficient a spec may ask for (the paper tries 0.001 to 1)."""


def proximal_penalty(
    params: Mapping[str, torch.Tensor], global_params: Mapping[str, torch.Tensor], mu: float
) -> torch.Tensor:
    """``(mu / 2) * sum_k ||params[k] - global_params[k]||^2``, differentiable in ``params``.

    Parameters
    ----------
    params : mapping of str to torch.Tensor
        The local model's trainable tensors (``dict(model.named_parameters())``).
    global_params : mapping of str to torch.Tensor
        The round's global model; needs every name in ``params`` (extra names are ignored). It is
        treated as a constant (no gradient flows into it).
    mu : float
        The proximal coefficient, finite and in ``[0, 1000]``.

    Returns
    -------
    torch.Tensor
        A scalar on the device and in the dtype of ``params``; its gradient with respect to
        ``params[k]`` is ``mu * (params[k] - global_params[k])``.

    Raises
    ------
    SpecError
        ``mu`` out of range.
    ModelIntegrityError
        A tensor missing from ``global_params`` or of another shape.
    """
    mu = check_hyperparameter("proximal_penalty", "mu", mu, 0.0, MAX_MU)
    if not params:
        return torch.zeros(())
    first = next(iter(params.values()))
    total = torch.zeros((), dtype=first.dtype, device=first.device)
    for name in sorted(params):
        local = params[name]
        anchor = global_params.get(name)
        if anchor is None or anchor.shape != local.shape:
            raise ModelIntegrityError(f"proximal_penalty: global model lacks {name} as shaped")
        total = total + (local - anchor.detach().to(local.device, local.dtype)).pow(2).sum()
    return total * (mu / 2.0)


class FedProx(FedAvg):
    """FedAvg aggregation with a proximal term in the participants' local objective.

    Parameters
    ----------
    mu : float, default 0.01
        Proximal coefficient, in ``[0, 1000]``; 0 is FedAvg.
    server_lr : float, default 1.0
        Scale of the averaged delta, as in :class:`FedAvg`; in ``(0, 100]``.
    """

    name = "fedprox"

    def __init__(self, mu: float = 0.01, server_lr: float = 1.0) -> None:
        super().__init__(server_lr=server_lr)
        self.mu = check_hyperparameter("FedProx", "mu", mu, 0.0, MAX_MU)

    def configure_train(self, base: TrainConfig) -> TrainConfig:
        """The task's configuration with ``proximal_mu = mu``.

        Raises
        ------
        SpecError
            When this node's :class:`TrainConfig` has no ``proximal_mu`` (it cannot run FedProx).
        """
        if "proximal_mu" not in {f.name for f in fields(base)}:
            raise SpecError("FedProx: this node's TrainConfig has no proximal_mu")
        return replace(base, proximal_mu=self.mu)  # type: ignore[call-arg,unused-ignore]

    def params(self) -> dict[str, float]:
        """``{"mu": ..., "server_lr": ...}``."""
        return {"mu": self.mu, "server_lr": self.server_lr}
