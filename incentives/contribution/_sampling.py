"""Shared machinery of the permutation-sampling Shapley estimators (GTG and TMC).

Three pieces, each pure and deterministic given its inputs:

- :func:`shuffled`: a Fisher-Yates shuffle driven only by ``random.Random.random()``, the one
  method whose stream CPython promises to keep for a given integer seed (``shuffle`` and
  ``randrange`` are not promised), so a permutation drawn today is drawn again by an auditor on
  another Python version;
- :func:`walk`: the marginal contributions along one permutation, with truncation: once the
  prefix's utility is within ``cutoff`` of the grand coalition's, the rest of the permutation is
  not evaluated and its marginals count as 0;
- :class:`RunningShapley`: the running mean of the marginals and the convergence test (the
  relative L1 change of the estimates over a window of permutations).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

from incentives.contribution.base import CachedUtility
from kernel.errors import InvalidInputError


def shuffled(rng: random.Random, items: Sequence[int]) -> list[int]:
    """A uniformly shuffled copy of ``items`` (Fisher-Yates on ``rng.random()`` draws).

    ``int(random() * k)`` is uniform on ``0..k-1`` up to the 53-bit resolution of ``random()``:
    a bias below ``k / 2**53``, far below any sampling error here.

    Parameters
    ----------
    rng : random.Random
        The estimator's generator, seeded once per estimate.
    items : sequence of int
        What to shuffle.
    """
    out = list(items)
    for i in range(len(out) - 1, 0, -1):
        j = min(int(rng.random() * (i + 1)), i)
        out[i], out[j] = out[j], out[i]
    return out


def walk(
    order: Sequence[int], cached: CachedUtility, bounds: tuple[float, float], cutoff: float
) -> list[float]:
    """Marginal contribution of each player along ``order``, truncated near the grand value.

    Parameters
    ----------
    order : sequence of int
        A permutation of ``0..n-1``.
    cached : CachedUtility
        The recording utility.
    bounds : tuple of float
        ``(U(empty), U(N))``, already evaluated.
    cutoff : float
        Truncate once ``|U(N) - U(prefix)| <= cutoff`` (a negative cutoff never truncates).

    Returns
    -------
    list of float
        Indexed by player: ``U(prefix + player) - U(prefix)``, or 0 after the truncation point.
    """
    empty, full = bounds
    n = len(order)
    marginals = [0.0] * n
    previous = empty
    prefix: frozenset[int] = frozenset()
    for position, player in enumerate(order):
        if abs(full - previous) <= cutoff:
            break
        prefix = prefix | {player}
        value = full if position == n - 1 else cached(prefix)
        marginals[player] = value - previous
        previous = value
    return marginals


class RunningShapley:
    """Running mean of sampled marginals, with a history to test convergence on.

    Parameters
    ----------
    n : int
        Number of players.
    """

    def __init__(self, n: int) -> None:
        self._totals = [0.0] * n
        self.count = 0
        self.history: list[list[float]] = []

    def add(self, marginals: Sequence[float]) -> None:
        """Add one permutation's marginals and record the new estimates."""
        self._totals = [t + m for t, m in zip(self._totals, marginals, strict=True)]
        self.count += 1
        self.history.append(self.estimates())

    def estimates(self) -> list[float]:
        """The current estimates: each player's mean marginal (zeros before any sample)."""
        if self.count == 0:
            return [0.0] * len(self._totals)
        return [t / self.count for t in self._totals]

    def relative_change(self, window: int) -> float:
        """``sum|phi_t - phi_(t-window)| / sum|phi_t|`` (0 if both are 0, inf if too few)."""
        if window < 1 or self.count <= window:
            return float("inf")
        now, before = self.history[-1], self.history[-1 - window]
        change = sum(abs(a - b) for a, b in zip(now, before, strict=True))
        scale = sum(abs(a) for a in now)
        if scale == 0.0:
            return 0.0 if change == 0.0 else float("inf")
        return change / scale


def budget_left(
    count: int, max_permutations: int, cached: CachedUtility, max_evaluations: int
) -> bool:
    """Whether another permutation may start: under both caps (``max_evaluations`` 0: none).

    Parameters
    ----------
    count : int
        Permutations sampled so far.
    max_permutations : int
        Cap on permutations.
    cached : CachedUtility
        The recording utility (its size is the evaluations so far).
    max_evaluations : int
        Cap on distinct coalitions evaluated, or 0 for no cap. Tested before each permutation,
        so a permutation in progress may overshoot it by at most ``n - 1``.
    """
    if count >= max_permutations:
        return False
    return max_evaluations == 0 or len(cached.values) < max_evaluations


def check_count(who: str, label: str, value: int, least: int) -> None:
    """Refuse a count that is not an int of at least ``least``.

    Parameters
    ----------
    who : str
        The estimator's name, for the message.
    label : str
        The parameter's name.
    value : int
        Its value.
    least : int
        The smallest value allowed.
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise InvalidInputError(f"{who}: {label} must be an int >= {least}, not {value!r}")


def check_sampling_params(
    who: str, tolerance: float, min_rounds: int, max_permutations: int, eps: float
) -> None:
    """Refuse a negative tolerance or truncation threshold, or non-positive counts.

    Parameters
    ----------
    who : str
        The estimator's name, for the message.
    tolerance : float
        Convergence tolerance (>= 0).
    min_rounds : int
        Minimum cycles or permutations before testing convergence (>= 1).
    max_permutations : int
        Cap on permutations (>= 1).
    eps : float
        A truncation threshold in utility units (>= 0).
    """
    check_count(who, "min", min_rounds, 1)
    check_count(who, "max_permutations", max_permutations, 1)
    if not tolerance >= 0.0:
        raise InvalidInputError(f"{who}: tolerance must be >= 0, not {tolerance!r}")
    if not eps >= 0.0 or not math.isfinite(eps):
        raise InvalidInputError(f"{who}: truncation threshold must be >= 0, not {eps!r}")


def check_finite(who: str, label: str, value: float) -> None:
    """Refuse a NaN or infinite parameter.

    Parameters
    ----------
    who : str
        The estimator's name, for the message.
    label : str
        The parameter's name.
    value : float
        Its value.
    """
    if not math.isfinite(value):
        raise InvalidInputError(f"{who}: {label} must be finite, not {value!r}")
