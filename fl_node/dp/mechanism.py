"""Client-side clipping and Gaussian noise of a round update (the dp-fedavg mechanism).

A participant clips its update to L2 norm ``C`` over all its tensors together and adds
``N(0, (sigma * C)^2)`` to every coordinate before the update leaves its machine
(:func:`privatize_update`). The noise comes from a generator seeded from the operating system's
entropy (:func:`secure_generator`): a seed anyone could derive would let them subtract it.

What others can check about an update (:func:`check_noise`): its norm must be that of a vector
of norm at most ``C`` plus ``d`` Gaussian coordinates of standard deviation ``sigma * C``. An update
sent without noise, with much less noise, or unclipped with much more norm fails the check with
overwhelming probability; noise drawn from a seed the sender shares with someone, or any noise
of the right size correlated with other updates, cannot be told apart from honest noise.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

import torch

from fl_node.dp.config import DPConfig
from fl_node.dp.errors import DPError


def secure_generator() -> torch.Generator:
    """A CPU generator seeded with 63 bits from :mod:`secrets` (never a public seed)."""
    return torch.Generator().manual_seed(secrets.randbits(63))


def update_norm(update: Mapping[str, torch.Tensor]) -> float:
    """The L2 norm of all the floating-point tensors of ``update`` taken together."""
    squares = [t.double().pow(2).sum() for t in update.values() if torch.is_floating_point(t)]
    return math.sqrt(float(torch.stack(squares).sum())) if squares else 0.0


def clip_update(
    update: Mapping[str, torch.Tensor], clip_norm: float
) -> tuple[dict[str, torch.Tensor], float]:
    """``update`` scaled by ``min(1, clip_norm / ||update||)``, and its norm before clipping."""
    if not clip_norm > 0:
        raise DPError("clip_update: clip_norm must be positive")
    norm = update_norm(update)
    factor = min(1.0, clip_norm / norm) if norm > 0 else 1.0
    clipped = {
        k: (t * factor if torch.is_floating_point(t) else t.clone()) for k, t in update.items()
    }
    return clipped, norm


def privatize_update(
    update: Mapping[str, torch.Tensor],
    dp: DPConfig,
    generator: torch.Generator | None = None,
    parts: int = 1,
) -> dict[str, torch.Tensor]:
    """The update clipped to ``dp.clip_norm`` with ``N(0, dp.noise_std^2 / parts)`` on each entry.

    Parameters
    ----------
    update : mapping of str to torch.Tensor
        The round update (new minus old weights), CPU tensors.
    dp : DPConfig
        The task's settings (its mode must be ``"dp-fedavg"``).
    generator : torch.Generator or None, default None
        The noise source; ``None`` draws a fresh :func:`secure_generator` (tests pass a seeded one).
    parts : int, default 1
        Distributed noise: the update is summed with at least ``parts - 1`` others, each noised
        alike, before anyone sees it (secure aggregation), so each adds ``1 / parts`` of the
        variance and the sum carries at least ``dp.noise_std`` (:func:`distributed_noise_std`).
    """
    if dp.mode != "dp-fedavg":
        raise DPError(f"privatize_update: the update is privatised in dp-fedavg, not {dp.mode}")
    std = distributed_noise_std(dp, parts)
    clipped, _ = clip_update(update, dp.clip_norm)
    gen = generator if generator is not None else secure_generator()
    out: dict[str, torch.Tensor] = {}
    for name, tensor in clipped.items():
        if torch.is_floating_point(tensor):
            noise = torch.randn(tensor.shape, generator=gen, dtype=torch.float64) * std
            tensor = (tensor.double() + noise).to(tensor.dtype)
        out[name] = tensor
    return out


def distributed_noise_std(dp: DPConfig, parts: int) -> float:
    """Each of ``parts`` members' noise std, ``sigma C / sqrt(parts)``: their sum's is ``sigma C``.

    A sum of ``s >= parts`` such members carries ``sigma C sqrt(s / parts) >= sigma C``.
    """
    if isinstance(parts, bool) or not isinstance(parts, int) or parts < 1:
        raise DPError(f"distributed_noise_std: parts must be an integer >= 1, not {parts!r}")
    return dp.noise_std / math.sqrt(parts)


@dataclass(frozen=True)
class NoiseCheck:
    """Whether an update's squared norm lies in the band a privatised update falls in."""

    ok: bool
    norm: float
    low: float  # bounds on the norm (not squared)
    high: float
    dims: int


def check_noise(update: Mapping[str, torch.Tensor], dp: DPConfig, z: float = 6.0) -> NoiseCheck:
    """Whether ``update``'s norm is what :func:`privatize_update` under ``dp`` gives.

    With ``u = c + n``, ``||c|| <= C`` and ``n ~ N(0, s^2 I_d)``: ``||n||^2`` has mean ``d s^2``
    and standard deviation ``s^2 sqrt(2d)``, and ``|<c, n>| <= z s C`` but with probability
    ``~ exp(-z^2 / 2)``. So, but with probability about ``2 exp(-z^2 / 2)`` (``z = 6``: 3e-8),
    ``||u||^2`` lies in ``d s^2 -/+ z s^2 sqrt(2d) -/+ 2 z s C`` (plus ``C^2`` above).
    """
    if dp.mode != "dp-fedavg" or dp.noise_multiplier == 0:
        raise DPError("check_noise: only dp-fedavg updates with noise carry a checkable noise")
    dims = sum(t.numel() for t in update.values() if torch.is_floating_point(t))
    s, c = dp.noise_std, dp.clip_norm
    spread = z * s * s * math.sqrt(2 * dims) + 2 * z * s * c
    low = max(dims * s * s - spread, 0.0)
    high = dims * s * s + spread + c * c
    norm = update_norm(update)
    return NoiseCheck(low <= norm * norm <= high, norm, math.sqrt(low), math.sqrt(high), dims)


__all__ = [
    "NoiseCheck",
    "check_noise",
    "clip_update",
    "distributed_noise_std",
    "privatize_update",
    "secure_generator",
    "update_norm",
]
