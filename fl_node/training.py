"""Local training on one party's rows: the only place a participant's data is touched."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from fl_node.adversarial import fgsm, pgd
from fl_node.data import LocalDataset
from fl_node.dp.config import DPConfig
from fl_node.dp.mechanism import privatize_update
from fl_node.errors import SpecError
from fl_node.models import FedModel, trainable_state
from fl_node.objectives import task_loss

log = logging.getLogger(__name__)

ADVERSARIAL_KINDS = ("", "fgsm", "pgd")
"""Adversarial training: none, FGSM or PGD examples mixed into each batch."""

ADVERSARIAL_FIELDS = ("adversarial", "adv_epsilon", "adv_steps")
"""The :class:`TrainConfig` fields that :meth:`TrainConfig.to_dict` omits at their defaults."""


@dataclass(frozen=True)
class TrainConfig:
    """Local training hyperparameters, saved with the task spec.

    Parameters
    ----------
    local_epochs : int, default 2
        Passes over the local data per round.
    batch_size : int, default 32
        Mini-batch size; 0 means the whole local dataset in one batch.
    lr : float, default 0.05
        Learning rate of the local optimizer.
    momentum : float, default 0.9
        SGD momentum (reset every round).
    weight_decay : float, default 1e-4
        L2 penalty.
    max_steps : int, default 0
        Stop after this many optimizer steps in a round (0 = no limit). FedSGD uses 1.
    seed : int, default 0
        Base seed of the batch order; mixed with the round number.
    proximal_mu : float, default 0.0
        FedProx: weight of ``(mu / 2) * ||w - w_global||^2`` added to the local loss.
    adversarial : str, default ""
        Adversarial training: ``""`` (none), ``"fgsm"`` or ``"pgd"``. Each batch's loss becomes
        the mean of its clean loss and the loss of its adversarial version, computed against the
        current local model (Goodfellow et al.'s 50/50 mixture).
    adv_epsilon : float, default 0.0
        The attack's L-infinity radius (> 0 when ``adversarial`` is set, else 0): pixel units for
        images, standardised units for rows (:mod:`fl_node.adversarial`).
    adv_steps : int, default 5
        PGD iterations (step ``2.5 * adv_epsilon / adv_steps``); unused by FGSM.
    dp : DPConfig or None, default None
        Differential privacy (:mod:`fl_node.dp`): dp-fedavg clips and noises the round's update,
        dp-sgd trains with DP-SGD through Opacus. Set from the task spec's ``dp`` field
        (:class:`~fl_node.task.TaskSpec` writes it there), so every caller that trains from
        ``spec.train`` applies it; never written by :meth:`to_dict`.

    The three adversarial fields are left out of :meth:`to_dict` while they hold their defaults,
    so the specs (and hashes) of tasks without adversarial training are unchanged.
    """

    local_epochs: int = 2
    batch_size: int = 32
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 1e-4
    max_steps: int = 0
    seed: int = 0
    proximal_mu: float = 0.0
    adversarial: str = ""
    adv_epsilon: float = 0.0
    adv_steps: int = 5
    dp: DPConfig | None = None

    def __post_init__(self) -> None:
        if self.local_epochs < 1 or self.batch_size < 0 or self.max_steps < 0:
            raise SpecError("TrainConfig: local_epochs >= 1, batch_size >= 0, max_steps >= 0")
        if self.local_epochs > 1000 or self.batch_size > 1_000_000 or self.max_steps > 10**7:
            raise SpecError(
                "TrainConfig: local_epochs <= 1000, batch_size <= 1e6, max_steps <= 1e7"
            )
        numbers = (self.lr, self.momentum, self.weight_decay, self.proximal_mu)
        if not all(math.isfinite(v) for v in numbers):
            raise SpecError("TrainConfig: hyperparameters must be finite")
        if not (0 < self.lr <= 100 and 0 <= self.momentum < 1 and self.weight_decay >= 0):
            raise SpecError("TrainConfig: 0 < lr <= 100, 0 <= momentum < 1, weight_decay >= 0")
        if not 0 <= self.proximal_mu <= 1000:
            raise SpecError("TrainConfig: 0 <= proximal_mu <= 1000")
        self._check_adversarial()

    def _check_adversarial(self) -> None:
        if self.adversarial not in ADVERSARIAL_KINDS:
            raise SpecError(f"TrainConfig: adversarial must be one of {ADVERSARIAL_KINDS}")
        if not (math.isfinite(self.adv_epsilon) and 0 <= self.adv_epsilon <= 100):
            raise SpecError("TrainConfig: adv_epsilon must be in [0, 100]")
        if bool(self.adversarial) != (self.adv_epsilon > 0):
            raise SpecError("TrainConfig: adv_epsilon > 0 exactly when adversarial is set")
        if not 1 <= self.adv_steps <= 100:
            raise SpecError("TrainConfig: adv_steps must be in 1..100")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (adversarial fields only when they differ from their defaults)."""
        out = asdict(self)
        del out["dp"]  # the task spec writes it (TaskSpec.to_dict)
        for name in ADVERSARIAL_FIELDS:
            if out[name] == self.__dataclass_fields__[name].default:
                del out[name]
        return out

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> TrainConfig:
        """Parse :meth:`to_dict` output."""
        try:
            return cls(**{k: raw[k] for k in cls.__dataclass_fields__ if k in raw and k != "dp"})
        except TypeError as exc:
            raise SpecError(f"TrainConfig: {exc}") from None


def pick_device(prefer: str | None = None) -> torch.device:
    """``cuda`` when a GPU is present (or ``prefer`` names a device), else ``cpu``."""
    if prefer:
        return torch.device(prefer)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


SMALL_MODEL_PARAMS = 100_000
"""Below this many parameters, CPU work runs on one thread: intra-op parallelism only adds
synchronisation to such small matrices (10x slower with 2 threads on a 513-parameter MLP)."""


@contextmanager
def cpu_threads_for(model: nn.Module, device: torch.device) -> Iterator[None]:
    """Run the block with one CPU thread when ``model`` is small and on the CPU, then restore."""
    small = sum(p.numel() for p in model.parameters()) < SMALL_MODEL_PARAMS
    if device.type != "cpu" or not small:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@dataclass(frozen=True)
class LocalResult:
    """What one round of local training produced."""

    delta: dict[str, torch.Tensor]
    samples: int
    loss: float  # mean training loss over the round's batches
    steps: int


def train_local(
    model: nn.Module,
    data: LocalDataset,
    config: TrainConfig,
    *,
    round: int,
    device: torch.device | None = None,
    mixed_precision: bool = False,
    generator: torch.Generator | None = None,
) -> LocalResult:
    """Train ``model`` in place on ``data``; return the parameter delta (new - old).

    Parameters
    ----------
    model : nn.Module
        The global model (a fresh :class:`~fl_node.models.FedModel` owned by the caller); trained
        in place.
    data : LocalDataset
        This party's rows; they never leave this function.
    config : TrainConfig
        Hyperparameters.
    round : int
        Round number, mixed into the batch-order seed.
    device : torch.device or None, default None
        Where to train (:func:`pick_device` when ``None``): the same code runs on CPU and CUDA.
    mixed_precision : bool, default False
        On CUDA, run forward and backward under bfloat16 autocast (weights stay float32).
    generator : torch.Generator or None, default None
        With ``config.dp``: the source of the DP noise (and of DP-SGD's Poisson batches);
        ``None`` draws a secret one (:func:`fl_node.dp.secure_generator`). Tests pass a seeded one.

    With ``config.dp`` in mode dp-fedavg the returned delta is clipped and noised
    (:func:`fl_node.dp.privatize_update`); in mode dp-sgd the model is trained by
    :func:`fl_node.dp.dpsgd.train_dp_sgd` and the delta is returned as trained.
    """
    device = device or pick_device()
    if not isinstance(model, FedModel):
        raise SpecError("train_local: the model must be built by fl_node.models.build_model")
    dp = config.dp
    with cpu_threads_for(model, device):
        if dp is not None and dp.mode == "dp-sgd":
            return _train_dp_sgd(model, data, config, dp, device=device, generator=generator)
        result = _train(model, data, config, round_=round, device=device, amp=mixed_precision)
    if dp is None:
        return result
    private = privatize_update(result.delta, dp, generator)
    return LocalResult(delta=private, samples=result.samples, loss=result.loss, steps=result.steps)


def _train_dp_sgd(
    model: FedModel,
    data: LocalDataset,
    config: TrainConfig,
    dp: DPConfig,
    *,
    device: torch.device,
    generator: torch.Generator | None,
) -> LocalResult:
    """DP-SGD through Opacus (imported here: it takes seconds to import)."""
    from fl_node.dp.dpsgd import train_dp_sgd

    before = trainable_state(model)
    run = train_dp_sgd(model, data, config, dp, device=device, generator=generator)
    after = trainable_state(model)
    delta = {k: after[k] - before[k] for k in before}
    return LocalResult(delta=delta, samples=data.rows, loss=run.loss, steps=run.steps)


def _train(
    model: FedModel,
    data: LocalDataset,
    config: TrainConfig,
    *,
    round_: int,
    device: torch.device,
    amp: bool,
) -> LocalResult:
    before = trainable_state(model)
    model.to(device).train()
    x = torch.from_numpy(np.ascontiguousarray(data.x)).to(device)
    y = torch.from_numpy(np.ascontiguousarray(data.y)).to(device)
    optimizer = torch.optim.SGD(
        model.parameters(), lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay
    )
    anchor = [p.detach().clone() for p in model.parameters()] if config.proximal_mu else []
    base = config.seed * 100_003 + round_  # batch order; PGD starts mix in the step
    generator = torch.Generator().manual_seed(base)
    batch = config.batch_size or data.rows
    total = torch.zeros((), device=device)
    steps = 0
    budget = config.local_epochs * -(-data.rows // batch)
    budget = min(budget, config.max_steps) if config.max_steps else budget
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp and device.type == "cuda")
    while steps < budget:
        order = torch.randperm(data.rows, generator=generator).to(device)
        for start in range(0, data.rows, batch):
            idx = order[start : start + batch]
            optimizer.zero_grad(set_to_none=True)
            with autocast:
                loss = _batch_loss(model, x[idx], y[idx], config, seed=base * 1_000_003 + steps)
            if anchor:
                loss = loss + _proximal(model, anchor, config.proximal_mu)
            loss.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
            total += loss.detach()  # summed on the device: no host sync per step
            steps += 1
            if steps >= budget:
                break
    model.to("cpu")
    after = trainable_state(model)
    delta = {k: after[k] - before[k] for k in before}
    return LocalResult(delta=delta, samples=data.rows, loss=float(total) / steps, steps=steps)


def _batch_loss(
    model: FedModel, x: torch.Tensor, y: torch.Tensor, config: TrainConfig, *, seed: int
) -> torch.Tensor:
    """The task loss of a batch; with adversarial training, the mean of clean and attacked."""
    clean = task_loss(model, x, y)
    if not config.adversarial:
        return clean
    if config.adversarial == "fgsm":
        attacked = fgsm(model, x, y, config.adv_epsilon)
    else:
        step = 2.5 * config.adv_epsilon / config.adv_steps
        attacked = pgd(model, x, y, config.adv_epsilon, step, config.adv_steps, seed)
    return 0.5 * (clean + task_loss(model, attacked, y))


def _proximal(model: nn.Module, anchor: list[torch.Tensor], mu: float) -> torch.Tensor:
    """FedProx's ``(mu / 2) * ||w - w_global||^2``."""
    terms = [((p - a) ** 2).sum() for p, a in zip(model.parameters(), anchor, strict=True)]
    return 0.5 * mu * torch.stack(terms).sum()
