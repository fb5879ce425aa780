"""The differential-privacy settings of a task (:class:`DPConfig`), saved with its spec.

Two modes, each with the guarantee it gives and who adds the noise:

``"dp-fedavg"`` (client level, local noise)
    Each participant clips its round update (new minus old weights) to L2 norm ``clip_norm`` and
    adds ``N(0, (noise_multiplier * clip_norm)^2)`` to every coordinate itself, before the update
    leaves its machine. Each released update is a Gaussian mechanism of sensitivity
    ``clip_norm`` (a participant's data against no data, whose update is zero), so the sequence
    of a participant's updates is ``(epsilon, delta)``-DP with respect to its *whole dataset*
    against everyone, the coordinator included; aggregation is post-processing. The sampling of
    clients is public (anyone recomputes it from the spec's seed), so no amplification by
    subsampling is claimed: one step per round, sampling rate 1, ``rounds`` steps in the worst
    case (a participant sampled every round). Against replacing a dataset by another (sensitivity
    ``2 * clip_norm``) the same epsilon holds for half the noise multiplier.

``"dp-sgd"`` (example level, via Opacus)
    Each participant trains with DP-SGD (Opacus' ``PrivacyEngine``): Poisson batches of rate
    ``sample_rate``, per-example gradients clipped to ``clip_norm``, Gaussian noise of standard
    deviation ``noise_multiplier * clip_norm`` added to each batch's gradient sum. Its updates
    are ``(epsilon, delta)``-DP with respect to adding or removing one of its rows, over
    ``rounds * steps_per_round`` steps of the subsampled Gaussian mechanism.

``"dp-fedavg"`` under secure aggregation (distributed noise, recorded as ``"dp-fedavg+secagg"``)
    In a task with ``aggregation: "secagg"`` each member of a group whose threshold is ``t`` (the
    fewest survivors a completed group sum can have) clips its update to ``clip_norm`` and adds
    only ``N(0, (noise_multiplier * clip_norm)^2 / t)`` per coordinate; every member weighs
    equally inside the sum (no sample count), so a member's data moves a group sum by at most
    ``clip_norm``. A completed group sum of ``s >= t`` survivors carries noise of standard deviation
    ``noise_multiplier * clip_norm * sqrt(s / t) >= noise_multiplier * clip_norm`` whatever the
    dropouts, so the same accountant gives the same epsilon for the *group sums*: it protects a
    member's whole dataset against the coordinator (and anyone reading the evidence), who sees
    group sums only. Not against the other members of its group: ``s - 1`` survivors colluding
    with the coordinator subtract their own updates and noise and are left with the member's update
    under noise ``noise_multiplier * clip_norm / sqrt(t)``, the epsilon of noise multiplier
    ``noise_multiplier / sqrt(t)`` (:func:`fl_node.dp.accountant.collusion_budget`).

Epsilon follows from ``(noise_multiplier, sample_rate, steps, delta)`` with the named accountant
(:func:`fl_node.dp.accountant.epsilon`); :func:`noise_for_epsilon` finds the noise multiplier for
a target epsilon.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from fl_node.dp.errors import DPError

DP_MODES = ("dp-fedavg", "dp-sgd")
"""Client-level clipping and local Gaussian noise, or example-level DP-SGD through Opacus."""

DISTRIBUTED_MODE = "dp-fedavg+secagg"
"""The recorded mode of dp-fedavg in a secagg task: noise split among a group's members."""

SECAGG_RANGE_Z = 9.0
"""Distributed noise must fit the secagg encoding's range: ``clip >= C + z * member noise std``.

A coordinate beyond the range would be clipped before the sum (not post-processing of the sum),
so the range leaves ``z`` standard deviations of a member's noise: each coordinate a member sends
is clipped with probability at most ``2 Phi(-9) = 2.3e-19``; that probability times the coordinates
sent over the task adds to ``delta`` (1e-11 for a million parameters, 10 members, 10 rounds)."""

ACCOUNTANTS = ("rdp", "prv")
"""Opacus' Rényi-DP accountant, or its privacy-random-variable (PRV) accountant."""


@dataclass(frozen=True)
class DPConfig:
    """How participants privatise their updates, and the budget that follows.

    Parameters
    ----------
    mode : str
        ``"dp-fedavg"`` or ``"dp-sgd"`` (:data:`DP_MODES`; the module docstring states each
        guarantee).
    clip_norm : float
        ``C``: the L2 bound of an update (dp-fedavg) or of an example's gradient (dp-sgd).
    noise_multiplier : float
        ``sigma``: the noise standard deviation is ``sigma * C``.
    delta : float
        The ``delta`` of the reported ``(epsilon, delta)``.
    accountant : str, default "rdp"
        ``"rdp"`` or ``"prv"`` (:data:`ACCOUNTANTS`).
    sample_rate : float, default 1.0
        dp-sgd: the Poisson rate of a batch (expected batch ``sample_rate * rows``); dp-fedavg
        must leave it at 1 (its sampling is public, see the module docstring).
    target_epsilon : float or None, default None
        The epsilon the sponsor asked for (``noise_multiplier`` was calibrated to it); informative.
    """

    mode: str
    clip_norm: float
    noise_multiplier: float
    delta: float
    accountant: str = "rdp"
    sample_rate: float = 1.0
    target_epsilon: float | None = None

    def __post_init__(self) -> None:
        if self.mode not in DP_MODES:
            raise DPError(f"DPConfig: mode must be one of {DP_MODES}, not {self.mode!r}")
        if self.accountant not in ACCOUNTANTS:
            raise DPError(f"DPConfig: accountant must be one of {ACCOUNTANTS}")
        numbers = (self.clip_norm, self.noise_multiplier, self.delta, self.sample_rate)
        if not all(isinstance(v, int | float) and math.isfinite(v) for v in numbers):
            raise DPError(
                "DPConfig: clip_norm, noise_multiplier, delta, sample_rate must be finite"
            )
        if not (0 < self.clip_norm <= 1e6 and 0 < self.noise_multiplier <= 1e6):
            raise DPError("DPConfig: 0 < clip_norm <= 1e6 and 0 < noise_multiplier <= 1e6")
        if not 0 < self.delta < 1:
            raise DPError("DPConfig: delta must be in (0, 1)")
        if not 0 < self.sample_rate <= 1:
            raise DPError("DPConfig: sample_rate must be in (0, 1]")
        if self.mode == "dp-fedavg" and self.sample_rate != 1.0:
            raise DPError("DPConfig: dp-fedavg takes sample_rate 1 (client sampling is public)")
        if self.target_epsilon is not None and not self.target_epsilon > 0:
            raise DPError("DPConfig: target_epsilon must be positive")

    @property
    def noise_std(self) -> float:
        """The standard deviation of the added noise, ``noise_multiplier * clip_norm``."""
        return self.noise_multiplier * self.clip_norm

    def steps_per_round(self, local_epochs: int, max_steps: int = 0) -> int:
        """Mechanism steps a participant runs per round (1 for dp-fedavg).

        dp-sgd runs ``ceil(local_epochs / sample_rate)`` Poisson batches, at most ``max_steps``
        when that is set (the :class:`~fl_node.training.TrainConfig` fields).
        """
        if self.mode == "dp-fedavg":
            return 1
        steps = math.ceil(local_epochs / self.sample_rate - 1e-9)
        return min(steps, max_steps) if max_steps else steps

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``target_epsilon`` only when set)."""
        out = asdict(self)
        if self.target_epsilon is None:
            del out["target_epsilon"]
        return out

    @classmethod
    def from_dict(cls, raw: Any) -> DPConfig:
        """Parse :meth:`to_dict` output (raises :class:`DPError` on anything malformed)."""
        if not isinstance(raw, dict):
            raise DPError("DPConfig: must be an object")
        unknown = sorted(set(raw) - set(cls.__dataclass_fields__))
        if unknown:
            raise DPError(f"DPConfig: unknown field {unknown[0]!r}")
        try:
            target = raw.get("target_epsilon")
            return cls(
                mode=str(raw["mode"]),
                clip_norm=float(raw["clip_norm"]),
                noise_multiplier=float(raw["noise_multiplier"]),
                delta=float(raw["delta"]),
                accountant=str(raw.get("accountant", "rdp")),
                sample_rate=float(raw.get("sample_rate", 1.0)),
                target_epsilon=None if target is None else float(target),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DPError(f"DPConfig: malformed: {exc}") from None


__all__ = ["ACCOUNTANTS", "DISTRIBUTED_MODE", "DP_MODES", "SECAGG_RANGE_Z", "DPConfig"]
