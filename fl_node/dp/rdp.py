"""Rényi DP of the (Poisson-subsampled) Gaussian mechanism: pure maths, no torch, no Opacus.

The mechanism adds ``N(0, sigma^2)`` to a sum of sensitivity 1 over a Poisson sample of rate
``q``. Its RDP at order ``alpha`` is ``log(A_alpha) / (alpha - 1)`` per step (Mironov, Talwar and
Zhang, "Rényi Differential Privacy of the Sampled Gaussian Mechanism", 2019, section 3.3), with
``A_alpha = E_{z ~ N(0, sigma^2)}[((1 - q) + q r(z))^alpha]`` and
``r(z) = exp((2z - 1) / 2 sigma^2)``:

- integer ``alpha``: the binomial expansion is finite,
  ``A = sum_k C(alpha, k) (1 - q)^(alpha - k) q^k exp((k^2 - k) / 2 sigma^2)``;
- fractional ``alpha``: the integral is split at ``z0 = sigma^2 log(1/q - 1) + 1/2`` (where
  ``q r = 1 - q``), each half expanded in the series that converges there; the Gaussian integrals
  of the terms are normal tail probabilities (:func:`scipy.special.log_ndtr`).

The steps compose additively in RDP, and :func:`epsilon_from_rdp` converts to ``(epsilon, delta)``
with Balle et al. (2020), theorem 21. This module is the reference the tests compare with
Opacus' accountant (:mod:`fl_node.dp.accountant`); it sums the series in vectorised chunks, in
log space with signs, until the terms fall below ``exp(-40)`` of the running total.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import special

from fl_node.dp.errors import DPError

DEFAULT_ORDERS: tuple[float, ...] = tuple(
    [1 + x / 10.0 for x in range(1, 100)] + [float(a) for a in range(12, 64)]
)
"""The RDP orders searched for the best conversion (the grid Opacus' RDP accountant uses)."""

_CHUNK = 512
_MAX_TERMS = 2_000_000
_STOP = -40.0  # stop when a chunk's largest term is below exp(-40) of the running total


def _log_sum_signed(logs: np.ndarray, signs: np.ndarray) -> tuple[float, float]:
    """``(log|s|, sign(s))`` of ``s = sum_i signs_i exp(logs_i)``."""
    top = float(np.max(logs))
    if top == -math.inf:
        return -math.inf, 0.0
    total = float(np.sum(signs * np.exp(logs - top)))
    if total == 0.0:
        return -math.inf, 0.0
    return top + math.log(abs(total)), math.copysign(1.0, total)


def _log_a_int(q: float, sigma: float, alpha: int) -> float:
    """``log(A_alpha)`` for an integer order (a finite sum of positive terms)."""
    k = np.arange(alpha + 1, dtype=np.float64)
    log_binom = special.gammaln(alpha + 1) - special.gammaln(k + 1) - special.gammaln(alpha - k + 1)
    logs = log_binom + k * math.log(q) + (alpha - k) * math.log1p(-q) + (k * k - k) / (2 * sigma**2)
    return float(special.logsumexp(logs))


def _log_a_frac(q: float, sigma: float, alpha: float) -> float:
    """``log(A_alpha)`` for a fractional order (two alternating series, summed until negligible)."""
    z0 = sigma**2 * math.log(1 / q - 1) + 0.5
    log_q, log_1q = math.log(q), math.log1p(-q)
    total_log, total_sign = -math.inf, 1.0
    log_coef, sign = 0.0, 1.0  # C(alpha, 0) = 1, carried across chunks
    start = 0
    while start < _MAX_TERMS:
        i = np.arange(start, start + _CHUNK, dtype=np.float64)
        ratio = np.concatenate(([1.0], (alpha - i[:-1]) / (i[:-1] + 1)))  # C(a,i+1)/C(a,i)
        if start:
            ratio[0] = (alpha - (start - 1)) / start
        steps_log = np.log(np.abs(ratio))
        steps_log[0] = steps_log[0] if start else 0.0
        coef_log = log_coef + np.cumsum(steps_log)
        coef_sign = sign * np.cumprod(np.sign(ratio))
        j = alpha - i
        s0 = coef_log + i * log_q + j * log_1q + (i * i - i) / (2 * sigma**2)
        s0 = s0 + special.log_ndtr((z0 - i) / sigma)
        s1 = coef_log + j * log_q + i * log_1q + (j * j - j) / (2 * sigma**2)
        s1 = s1 + special.log_ndtr((j - z0) / sigma)
        chunk_log, chunk_sign = _log_sum_signed(
            np.concatenate((s0, s1)), np.concatenate((coef_sign, coef_sign))
        )
        total_log, total_sign = _log_sum_signed(
            np.array([total_log, chunk_log]), np.array([total_sign, chunk_sign])
        )
        log_coef, sign = float(coef_log[-1]), float(coef_sign[-1])
        start += _CHUNK
        if start > alpha and max(float(s0.max()), float(s1.max())) < total_log + _STOP:
            break
    if total_sign <= 0:
        raise DPError(f"rdp: A_alpha is not positive for q={q}, sigma={sigma}, alpha={alpha}")
    return total_log


def rdp_gaussian(q: float, sigma: float, alpha: float) -> float:
    """RDP at order ``alpha`` of one step of the subsampled Gaussian mechanism.

    Parameters
    ----------
    q : float
        Poisson sampling rate in ``[0, 1]`` (1: no subsampling).
    sigma : float
        Noise multiplier: noise standard deviation over the L2 sensitivity (> 0).
    alpha : float
        The order (> 1).

    Returns
    -------
    float
        The RDP, ``inf`` when ``sigma`` is 0.
    """
    if not (0.0 <= q <= 1.0) or sigma < 0 or not alpha > 1:
        raise DPError("rdp: need 0 <= q <= 1, sigma >= 0 and alpha > 1")
    if q == 0:
        return 0.0
    if sigma == 0 or math.isinf(alpha):
        return math.inf
    if q == 1.0:
        return alpha / (2 * sigma**2)
    if float(alpha).is_integer():
        return _log_a_int(q, sigma, int(alpha)) / (alpha - 1)
    return _log_a_frac(q, sigma, alpha) / (alpha - 1)


def rdp_curve(
    q: float, sigma: float, steps: int, orders: Sequence[float] = DEFAULT_ORDERS
) -> np.ndarray:
    """RDP of ``steps`` compositions at every order (RDP adds up over steps)."""
    if steps < 0:
        raise DPError("rdp: steps must be >= 0")
    return np.array([rdp_gaussian(q, sigma, a) for a in orders], dtype=np.float64) * steps


def epsilon_from_rdp(
    orders: Sequence[float], rdp: Sequence[float] | np.ndarray, delta: float
) -> tuple[float, float]:
    """``(epsilon, best order)`` from an RDP curve (Balle et al. 2020, theorem 21).

    ``epsilon = min_alpha rdp(alpha) + log((alpha - 1) / alpha) - (log delta + log alpha) /
    (alpha - 1)``.
    """
    if not 0.0 < delta < 1.0:
        raise DPError("rdp: delta must be in (0, 1)")
    a = np.asarray(orders, dtype=np.float64)
    r = np.asarray(rdp, dtype=np.float64)
    if a.shape != r.shape or not a.size:
        raise DPError("rdp: orders and rdp must have the same non-zero length")
    eps = r - (math.log(delta) + np.log(a)) / (a - 1) + np.log((a - 1) / a)
    if np.isnan(eps).all():
        return math.inf, math.nan
    best = int(np.nanargmin(eps))
    return max(float(eps[best]), 0.0), float(a[best])


def rdp_epsilon(
    q: float, sigma: float, steps: int, delta: float, orders: Sequence[float] = DEFAULT_ORDERS
) -> float:
    """``epsilon`` of ``steps`` steps of the subsampled Gaussian mechanism at ``delta``."""
    if steps == 0 or q == 0:
        return 0.0
    return epsilon_from_rdp(orders, rdp_curve(q, sigma, steps, orders), delta)[0]


__all__ = ["DEFAULT_ORDERS", "epsilon_from_rdp", "rdp_curve", "rdp_epsilon", "rdp_gaussian"]
