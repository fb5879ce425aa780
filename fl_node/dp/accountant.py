"""Epsilon from the noise, the sampling and the steps: a thin wrapper over Opacus' accountants.

:func:`epsilon` asks Opacus' :class:`~opacus.accountants.RDPAccountant` or
:class:`~opacus.accountants.PRVAccountant` (the maintained implementations); :mod:`fl_node.dp.rdp`
is our own RDP computation, which the tests hold to Opacus' to 1e-6. :func:`noise_for_epsilon`
calibrates the noise multiplier to a target epsilon (Opacus' ``get_noise_multiplier``), and
:func:`task_budget` is what a task with a :class:`~fl_node.dp.config.DPConfig` spends. Opacus
takes seconds to import, so it is imported on first use, not with this module.
"""

from __future__ import annotations

import logging
import math
import warnings
from dataclasses import dataclass
from typing import Any

from fl_node.dp.config import ACCOUNTANTS, DISTRIBUTED_MODE, DPConfig
from fl_node.dp.errors import DPError, PrivacyBudgetError

log = logging.getLogger(__name__)

PRV_EPS_ERROR = 0.01
"""The PRV accountant's allowed error on epsilon (it reports the upper bound)."""


def _check(noise_multiplier: float, sample_rate: float, steps: int, delta: float) -> None:
    if not (noise_multiplier >= 0 and 0 < sample_rate <= 1 and steps >= 0 and 0 < delta < 1):
        raise DPError(
            "accountant: need noise_multiplier >= 0, 0 < sample_rate <= 1, steps >= 0, "
            "0 < delta < 1"
        )


def epsilon(
    noise_multiplier: float,
    sample_rate: float,
    steps: int,
    delta: float,
    accountant: str = "rdp",
) -> float:
    """The ``epsilon`` of ``steps`` steps of the Poisson-subsampled Gaussian mechanism.

    Parameters
    ----------
    noise_multiplier : float
        Noise standard deviation over the L2 sensitivity.
    sample_rate : float
        Poisson sampling rate (1: every step sees everything).
    steps : int
        Number of steps (compositions).
    delta : float
        The target ``delta``.
    accountant : str, default "rdp"
        ``"rdp"`` (Opacus' RDPAccountant) or ``"prv"`` (its PRVAccountant, upper bound).

    Returns
    -------
    float
        ``epsilon`` (0 for no steps, ``inf`` without noise).
    """
    _check(noise_multiplier, sample_rate, steps, delta)
    if accountant not in ACCOUNTANTS:
        raise DPError(f"accountant: must be one of {ACCOUNTANTS}, not {accountant!r}")
    if steps == 0:
        return 0.0
    if noise_multiplier == 0:
        return math.inf
    from opacus.accountants import PRVAccountant, RDPAccountant  # seconds to import: on use

    engine: Any = RDPAccountant() if accountant == "rdp" else PRVAccountant()
    engine.history = [(float(noise_multiplier), float(sample_rate), int(steps))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "optimal order is the largest alpha": a loose bound
        if accountant == "rdp":
            return float(engine.get_epsilon(delta=delta))
        return float(engine.get_epsilon(delta=delta, eps_error=PRV_EPS_ERROR))


def noise_for_epsilon(
    target_epsilon: float,
    delta: float,
    sample_rate: float,
    steps: int,
    accountant: str = "rdp",
    tolerance: float = 0.01,
) -> float:
    """The smallest noise multiplier (to ``tolerance`` in epsilon) that spends ``target_epsilon``.

    Raises
    ------
    PrivacyBudgetError
        When even a noise multiplier of 1e6 spends more.
    """
    _check(0.0, sample_rate, steps, delta)
    if not target_epsilon > 0 or steps < 1:
        raise DPError("noise_for_epsilon: target_epsilon > 0 and steps >= 1")
    from opacus.accountants.utils import get_noise_multiplier  # seconds to import: on use

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sigma = get_noise_multiplier(
                target_epsilon=target_epsilon,
                target_delta=delta,
                sample_rate=sample_rate,
                steps=steps,
                accountant=accountant,
                epsilon_tolerance=tolerance,
            )
    except ValueError as exc:
        raise PrivacyBudgetError(f"noise_for_epsilon: {exc}") from None
    log.info(
        "noise_for_epsilon: sigma %.4f for epsilon %s, delta %s, q %s, %d steps (%s)",
        *(sigma, target_epsilon, delta, sample_rate, steps, accountant),
    )
    return float(sigma)


@dataclass(frozen=True)
class PrivacySpent:
    """What a task's participants have spent after some rounds (the evidence's ``privacy``)."""

    mode: str
    epsilon: float
    delta: float
    noise_multiplier: float
    clip_norm: float
    sample_rate: float
    steps: int
    accountant: str


def task_budget(
    dp: DPConfig, rounds: int, local_epochs: int = 1, max_steps: int = 0
) -> PrivacySpent:
    """The budget a participant sampled in each of ``rounds`` rounds spends (the worst case).

    ``local_epochs`` and ``max_steps`` are the task's :class:`~fl_node.training.TrainConfig`
    fields; they count the steps of dp-sgd (:meth:`DPConfig.steps_per_round`).
    """
    steps = rounds * dp.steps_per_round(local_epochs, max_steps)
    eps = epsilon(dp.noise_multiplier, dp.sample_rate, steps, dp.delta, dp.accountant)
    return PrivacySpent(
        *(dp.mode, eps, dp.delta, dp.noise_multiplier, dp.clip_norm, dp.sample_rate, steps),
        accountant=dp.accountant,
    )


def collusion_budget(dp: DPConfig, rounds: int, threshold: int) -> PrivacySpent:
    """What a dp-fedavg member of a secagg task spends against its group's other survivors.

    Colluding with the coordinator, they subtract their own updates and noise from the group sum
    and are left with the member's clipped update under its own noise only, of standard deviation
    ``sigma C / sqrt(threshold)`` (:func:`fl_node.dp.mechanism.distributed_noise_std`): the budget
    of noise multiplier ``sigma / sqrt(threshold)`` over ``rounds`` steps. Against the coordinator
    alone the member spends :func:`task_budget` (every group sum carries ``sigma C``).
    """
    if dp.mode != "dp-fedavg" or isinstance(threshold, bool) or threshold < 1:
        raise DPError("collusion_budget: a dp-fedavg task and a threshold >= 1")
    sigma = dp.noise_multiplier / math.sqrt(threshold)
    eps = epsilon(sigma, 1.0, rounds, dp.delta, dp.accountant)
    return PrivacySpent(
        *(DISTRIBUTED_MODE, eps, dp.delta, sigma, dp.clip_norm, 1.0, rounds), dp.accountant
    )


def calibrate(
    target_epsilon: float,
    delta: float,
    *,
    mode: str,
    clip_norm: float,
    rounds: int,
    local_epochs: int = 1,
    max_steps: int = 0,
    sample_rate: float = 1.0,
    accountant: str = "rdp",
) -> DPConfig:
    """A :class:`DPConfig` whose noise multiplier spends ``target_epsilon`` over ``rounds``."""
    probe = DPConfig(mode, clip_norm, 1.0, delta, accountant, sample_rate)
    steps = rounds * probe.steps_per_round(local_epochs, max_steps)
    sigma = noise_for_epsilon(target_epsilon, delta, sample_rate, steps, accountant)
    return DPConfig(mode, clip_norm, sigma, delta, accountant, sample_rate, target_epsilon)


__all__ = [
    "PRV_EPS_ERROR",
    "PrivacySpent",
    "calibrate",
    "collusion_budget",
    "epsilon",
    "noise_for_epsilon",
    "task_budget",
]
