"""Adversarial examples: FGSM and PGD under an L-infinity budget, and the robustness they leave.

The sponsor contract asks that a model's accuracy drop by at most 5 % (relative) under
adversarial examples. :func:`fgsm` and :func:`pgd` perturb a batch within ``epsilon`` of the
original in the L-infinity norm, in the direction that increases the task's training loss
(:func:`fl_node.objectives.task_loss`, so every task kind is attacked by what it optimises);
:func:`adversarial_metrics` measures the model on clean and attacked rows.

Units of ``epsilon`` (decided by the model's input, :attr:`ModelSpec.is_image`):

- **images**: pixels as the preprocessing scales them (``pixel / pixel_max``, so ``[0, 1]``);
  adversarial images are clamped back into ``[0, 1]``. MNIST at ``epsilon = 0.1`` lets every
  pixel move by a tenth of the full black-to-white range;
- **rows of features**: standardised units. Feature ``j`` may move by ``epsilon * feature_std[j]``
  (the model's own input standardisation), so ``epsilon = 0.25`` is a quarter of a standard
  deviation on every feature at once. There is no clamp: one-hot and integer-coded features may
  take values in between. That is a worst case over the model's input space, not a plausible
  patient.

The functions neither change the model's mode nor touch its parameters' gradients (the input
gradient is taken with :func:`torch.autograd.grad`); :func:`adversarial_metrics` evaluates in
``eval`` mode. PGD starts from a uniformly random point of the ball (seeded) and projects back
onto the ball (and the pixel range) after every signed-gradient step.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from fl_node.data import LocalDataset
from fl_node.errors import SpecError
from fl_node.models import FedModel
from fl_node.objectives import task_loss

log = logging.getLogger(__name__)

PIXEL_RANGE = (0.0, 1.0)
"""The range the preprocessing scales pixels into (``pixel / pixel_max``)."""

DROP_TARGET = 0.05
"""The sponsor's ceiling on the relative drop ``(clean - adversarial) / clean`` of accuracy."""


@dataclass(frozen=True)
class AdversarialConfig:
    """How hard to attack.

    Parameters
    ----------
    epsilon : float
        L-infinity radius, in pixel units for images and standardised units for rows (module
        docstring).
    pgd_step : float, default 0.0
        Size of each PGD step; 0 means ``2.5 * epsilon / pgd_steps`` (Madry et al.'s rule).
    pgd_steps : int, default 10
        PGD iterations.
    seed : int, default 0
        Seed of PGD's random start.
    max_drop : float, default DROP_TARGET
        The relative drop the report checks against (the sponsor's 5 %).
    """

    epsilon: float
    pgd_step: float = 0.0
    pgd_steps: int = 10
    seed: int = 0
    max_drop: float = DROP_TARGET

    def __post_init__(self) -> None:
        if not all(math.isfinite(v) for v in (self.epsilon, self.pgd_step, self.max_drop)):
            raise SpecError("AdversarialConfig: epsilon, pgd_step and max_drop must be finite")
        if not (0 <= self.epsilon <= 100 and self.pgd_step >= 0 and 0 <= self.max_drop <= 1):
            raise SpecError("AdversarialConfig: 0 <= epsilon <= 100, pgd_step >= 0, max_drop 0..1")
        if not 1 <= self.pgd_steps <= 1000:
            raise SpecError("AdversarialConfig: pgd_steps must be in 1..1000")

    @property
    def step(self) -> float:
        """The PGD step size in use."""
        return self.pgd_step or 2.5 * self.epsilon / self.pgd_steps


@dataclass(frozen=True)
class AdversarialReport:
    """A model on clean and attacked rows at one epsilon.

    ``metric`` is ``accuracy`` (classification; higher is better) or ``rmse`` (regression, on the
    target's scale; lower is better). The drops are relative and positive when the attack hurts.
    """

    epsilon: float
    units: str  # "pixels in [0, 1]" or "standardised"
    metric: str
    clean: float
    fgsm: float
    pgd: float
    pgd_step: float
    pgd_steps: int
    rows: int
    max_drop: float = DROP_TARGET

    @property
    def fgsm_drop(self) -> float:
        """``(clean - fgsm) / clean`` (accuracy), ``(fgsm - clean) / clean`` (RMSE)."""
        return _drop(self.metric, self.clean, self.fgsm)

    @property
    def pgd_drop(self) -> float:
        """The same for PGD."""
        return _drop(self.metric, self.clean, self.pgd)

    @property
    def meets_target(self) -> bool:
        """Whether the worse of both attacks stays within :attr:`max_drop`."""
        return max(self.fgsm_drop, self.pgd_drop) <= self.max_drop

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, with the drops and the verdict."""
        return {
            **asdict(self),
            "fgsm_drop": self.fgsm_drop,
            "pgd_drop": self.pgd_drop,
            "meets_target": self.meets_target,
        }


def _drop(metric: str, clean: float, attacked: float) -> float:
    if clean == 0:
        return 0.0 if attacked == clean else math.inf
    worse = clean - attacked if metric == "accuracy" else attacked - clean
    return worse / clean


def units(model: FedModel) -> str:
    """What ``epsilon`` means for ``model`` (module docstring)."""
    return "pixels in [0, 1]" if model.spec.is_image else "standardised"


def _scale(model: FedModel, x: torch.Tensor) -> torch.Tensor:
    """How far one unit of epsilon moves each input value."""
    if model.spec.is_image:
        return torch.ones((), dtype=x.dtype, device=x.device)
    return model.scale.std.to(device=x.device, dtype=x.dtype)


def _project(
    model: FedModel, x: torch.Tensor, adv: torch.Tensor, radius: torch.Tensor
) -> torch.Tensor:
    """``adv`` brought back into the ball of ``radius`` around ``x`` (and the pixel range)."""
    adv = torch.maximum(torch.minimum(adv, x + radius), x - radius)
    if model.spec.is_image:
        adv = adv.clamp(*PIXEL_RANGE)
    return adv.detach()


def _input_gradient(model: FedModel, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The gradient of the task loss with respect to the input (parameters' grads untouched)."""
    probe = x.detach().clone().requires_grad_(True)
    with torch.autocast(x.device.type, enabled=False):
        loss = task_loss(model, probe, y)
    (grad,) = torch.autograd.grad(loss, probe)
    return grad


def fgsm(model: FedModel, x: torch.Tensor, y: torch.Tensor, epsilon: float) -> torch.Tensor:
    """The fast gradient sign method: ``x + epsilon * sign(grad_x loss)`` (scaled, clamped).

    Parameters
    ----------
    model : FedModel
        The attacked model (its mode is left as it is).
    x, y : torch.Tensor
        A batch of inputs (as the model takes them) and its targets.
    epsilon : float
        L-infinity radius (module docstring for the units).
    """
    scale = _scale(model, x)
    if epsilon == 0:
        return x.detach().clone()
    grad = _input_gradient(model, x, y)
    return _project(model, x, x + epsilon * scale * grad.sign(), epsilon * scale)


def pgd(
    model: FedModel,
    x: torch.Tensor,
    y: torch.Tensor,
    epsilon: float,
    step: float,
    steps: int,
    seed: int = 0,
) -> torch.Tensor:
    """Projected gradient descent on the loss: random start, ``steps`` signed steps, projection.

    Parameters
    ----------
    model : FedModel
        The attacked model (its mode is left as it is).
    x, y : torch.Tensor
        A batch of inputs and its targets.
    epsilon : float
        L-infinity radius (module docstring for the units).
    step : float
        Size of each signed-gradient step, in the units of ``epsilon``.
    steps : int
        Iterations (0 leaves the random start).
    seed : int, default 0
        Seed of the random start.
    """
    if epsilon == 0:
        return x.detach().clone()
    scale = _scale(model, x)
    radius = epsilon * scale
    generator = torch.Generator().manual_seed(seed)
    start = (torch.rand(x.shape, generator=generator, dtype=x.dtype) * 2 - 1).to(x.device)
    adv = _project(model, x, x + start * radius, radius)
    for _ in range(steps):
        grad = _input_gradient(model, adv, y)
        adv = _project(model, x, adv + step * scale * grad.sign(), radius)
    return adv


@torch.no_grad()
def _score(model: FedModel, x: torch.Tensor, y: torch.Tensor) -> float:
    """Correct predictions (classification) or the sum of squared errors (regression)."""
    out = model(x)
    if model.spec.task == "multiclass":
        return float((out.argmax(dim=-1) == y.long()).sum())
    if model.spec.task == "binary":
        return float(((out >= 0) == (y >= 0.5)).sum())
    return float(((out.float() - y.float()) ** 2).sum())


def adversarial_metrics(
    model: FedModel,
    data: LocalDataset,
    config: AdversarialConfig,
    *,
    batch: int = 1024,
    device: torch.device | None = None,
) -> AdversarialReport:
    """``model``'s accuracy (RMSE for regression) on ``data``: clean, under FGSM, under PGD.

    Parameters
    ----------
    model : FedModel
        The model (put in ``eval`` mode; moved to ``device`` and back to the CPU).
    data : LocalDataset
        The rows to attack (a held-out test set).
    config : AdversarialConfig
        Epsilon, PGD's step and iterations, the target.
    batch : int, default 1024
        Rows attacked at once.
    device : torch.device or None, default None
        Where to compute (the CPU when ``None``).
    """
    if data.rows == 0:
        raise SpecError("adversarial_metrics: no rows to attack")
    device = device or torch.device("cpu")
    model.to(device).eval()
    totals = np.zeros(3)
    x_all = torch.from_numpy(np.ascontiguousarray(data.x))
    y_all = torch.from_numpy(np.ascontiguousarray(data.y))
    for k, start in enumerate(range(0, data.rows, batch)):
        x = x_all[start : start + batch].to(device)
        y = y_all[start : start + batch].to(device)
        seed = config.seed * 1_000_003 + k
        attacked = (
            x,
            fgsm(model, x, y, config.epsilon),
            pgd(model, x, y, config.epsilon, config.step, config.pgd_steps, seed),
        )
        totals += [_score(model, a, y) for a in attacked]
    model.to("cpu")
    regression = model.spec.task == "regression"
    values = np.sqrt(totals / data.rows) if regression else totals / data.rows
    report = AdversarialReport(
        epsilon=config.epsilon,
        units=units(model),
        metric="rmse" if regression else "accuracy",
        clean=float(values[0]),
        fgsm=float(values[1]),
        pgd=float(values[2]),
        pgd_step=config.step,
        pgd_steps=config.pgd_steps,
        rows=data.rows,
        max_drop=config.max_drop,
    )
    log.info("adversarial_metrics: eps %s: %s", config.epsilon, report.to_dict())
    return report


REPORT_EPSILONS = {"pixels in [0, 1]": (0.05, 0.1), "standardised": (0.1, 0.25)}
"""The epsilons every evaluation report states, by the units of the model's input: for images a
twentieth and a tenth of the pixel range, for rows a tenth and a quarter of a standard deviation
on every feature at once (the figures of ``scripts/bench-adversarial`` use the same)."""


def report_attacks(model: FedModel, data: LocalDataset) -> list[AdversarialReport]:
    """``model`` on ``data`` under FGSM and PGD at each of :data:`REPORT_EPSILONS` of its units.

    What the evaluation report shows for a task's final model.
    """
    return [
        adversarial_metrics(model, data, AdversarialConfig(epsilon))
        for epsilon in REPORT_EPSILONS[units(model)]
    ]
