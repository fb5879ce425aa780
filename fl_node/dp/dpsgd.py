"""DP-SGD in a participant's local training, through Opacus (the dp-sgd mechanism).

Opacus' parts do the work: :class:`~opacus.GradSampleModule` computes per-example gradients,
:class:`~opacus.optimizers.DPOptimizer` clips each to ``clip_norm``, sums them, adds
``N(0, (noise_multiplier * clip_norm)^2)`` and divides by the expected batch size, and
:class:`~opacus.data_loader.DPDataLoader` draws Poisson batches of rate ``sample_rate``. The task
accounts the steps itself (:func:`fl_node.dp.accountant.task_budget`) from the spec, so this
module uses the parts rather than ``PrivacyEngine`` (whose loader fixes the rate to
``1 / len(loader)``). Batches and noise come from a secret generator: a public seed would tell the
coordinator which rows were sampled (no amplification) and what noise to subtract.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from opacus import GradSampleModule
from opacus.data_loader import DPDataLoader
from opacus.optimizers import DPOptimizer
from torch.utils.data import TensorDataset

from fl_node.data import LocalDataset
from fl_node.dp.config import DPConfig
from fl_node.dp.errors import DPError
from fl_node.dp.mechanism import secure_generator
from fl_node.models import FedModel
from fl_node.objectives import task_loss

if TYPE_CHECKING:
    from fl_node.training import TrainConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DPSGDResult:
    """The mean loss over the non-empty batches and the number of noisy steps taken."""

    loss: float
    steps: int


def _check(config: TrainConfig, dp: DPConfig) -> None:
    if dp.mode != "dp-sgd":
        raise DPError(f"train_dp_sgd: the mode is {dp.mode}, not dp-sgd")
    if config.proximal_mu or config.adversarial:
        raise DPError("train_dp_sgd: FedProx and adversarial training are not per-example losses")


def train_dp_sgd(
    model: FedModel,
    data: LocalDataset,
    config: TrainConfig,
    dp: DPConfig,
    *,
    device: torch.device,
    generator: torch.Generator | None = None,
) -> DPSGDResult:
    """Train ``model`` in place with DP-SGD for :meth:`DPConfig.steps_per_round` steps.

    Parameters
    ----------
    model : FedModel
        The global model, trained in place (Opacus' hooks are removed before returning).
    data : LocalDataset
        This party's rows.
    config : TrainConfig
        ``lr``, ``momentum``, ``weight_decay``, ``local_epochs`` and ``max_steps`` are used;
        ``batch_size`` is replaced by Poisson batches of rate ``dp.sample_rate``.
    dp : DPConfig
        The task's settings (mode ``"dp-sgd"``).
    device : torch.device
        Where to train.
    generator : torch.Generator or None, default None
        Source of the batches and the noise; ``None``: a fresh secret one (tests pass a seeded one).
    """
    _check(config, dp)
    gen = generator if generator is not None else secure_generator()
    budget = dp.steps_per_round(config.local_epochs, config.max_steps)
    x = torch.from_numpy(np.ascontiguousarray(data.x))
    y = torch.from_numpy(np.ascontiguousarray(data.y))
    loader = DPDataLoader(TensorDataset(x, y), sample_rate=dp.sample_rate, generator=gen)
    model.to(device).train()
    wrapped = GradSampleModule(model, loss_reduction="mean")
    optimizer = DPOptimizer(
        torch.optim.SGD(
            model.parameters(),
            lr=config.lr,
            momentum=config.momentum,
            weight_decay=config.weight_decay,
        ),
        noise_multiplier=dp.noise_multiplier,
        max_grad_norm=dp.clip_norm,
        expected_batch_size=max(1, round(dp.sample_rate * data.rows)),
        loss_reduction="mean",
        generator=gen if device.type == "cpu" else None,
    )
    try:
        result = _run(model, loader, optimizer, budget, device)
    finally:
        wrapped._close()
    model.to("cpu")
    return result


def _run(
    model: FedModel,
    loader: DPDataLoader,
    optimizer: DPOptimizer,
    budget: int,
    device: torch.device,
) -> DPSGDResult:
    """``budget`` noisy steps over Poisson batches (an empty batch still takes one)."""
    total, batches, steps = 0.0, 0, 0
    with warnings.catch_warnings():  # the inputs need no gradient: Opacus hooks say so
        warnings.filterwarnings("ignore", "Full backward hook is firing", UserWarning)
        while steps < budget:
            for xb, yb in loader:
                optimizer.zero_grad(set_to_none=True)
                xb, yb = xb.to(device), yb.to(device)
                if len(xb):
                    loss = task_loss(model, xb, yb)
                    total, batches = total + float(loss.detach()), batches + 1
                else:  # no rows drawn: the step adds noise only, as the accountant assumes
                    loss = model.raw(xb).sum() * 0.0
                loss.backward()  # type: ignore[no-untyped-call]
                optimizer.step()
                steps += 1
                if steps >= budget:
                    break
    return DPSGDResult(loss=total / batches if batches else 0.0, steps=steps)


__all__ = ["DPSGDResult", "train_dp_sgd"]
