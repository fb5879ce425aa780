"""The contribution benchmark's statistics: pure functions of lists of floats.

- :func:`spearman`: Spearman's rank correlation (Pearson's on the ranks, ties sharing their mean
  rank), how well an estimate orders the participants as the exact Shapley values do;
- :func:`max_relative_error`: the largest error of any participant's estimate, relative to the
  largest exact value in magnitude (a per-participant ratio explodes on values near 0);
- :func:`gini`: the Gini coefficient of non-negative amounts (0: all equal).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from kernel.errors import InvalidInputError


def ranks(values: Sequence[float]) -> list[float]:
    """Ranks from 1 in ascending order, tied values sharing their mean rank."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    out = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for k in range(start, end + 1):
            out[order[k]] = (start + end) / 2 + 1
        start = end + 1
    return out


def _check_pair(a: Sequence[float], b: Sequence[float], what: str) -> None:
    if len(a) != len(b):
        raise InvalidInputError(f"{what}: {len(a)} values against {len(b)}")


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman's rank correlation of ``a`` and ``b``; NaN when either side is constant.

    Parameters
    ----------
    a, b : sequence of float
        Paired values (at least two for a finite result).
    """
    _check_pair(a, b, "spearman")
    ra, rb = ranks(a), ranks(b)
    n = len(ra)
    if n < 2:
        return math.nan
    ma, mb = sum(ra) / n, sum(rb) / n
    cov = sum((x - ma) * (y - mb) for x, y in zip(ra, rb, strict=True))
    va = sum((x - ma) ** 2 for x in ra)
    vb = sum((y - mb) ** 2 for y in rb)
    return cov / math.sqrt(va * vb) if va > 0 and vb > 0 else math.nan


def max_relative_error(estimate: Sequence[float], exact: Sequence[float]) -> float:
    """``max_i |estimate_i - exact_i| / max_j |exact_j|``; 0 when every exact value is 0.

    Parameters
    ----------
    estimate, exact : sequence of float
        One value per participant.
    """
    _check_pair(estimate, exact, "max_relative_error")
    scale = max((abs(v) for v in exact), default=0.0)
    if scale == 0.0:
        return 0.0
    return max(abs(e - x) for e, x in zip(estimate, exact, strict=True)) / scale


def gini(values: Sequence[float]) -> float:
    """The Gini coefficient of ``values`` (negatives count as 0): 0 equal, ``1 - 1/n`` one has all.

    Computed as ``sum_i sum_j |x_i - x_j| / (2 n sum x)`` by the sorted form; 0 for no values or a
    zero sum.

    Parameters
    ----------
    values : sequence of float
        Amounts (rewards, scores).
    """
    xs = sorted(max(float(v), 0.0) for v in values)
    n, total = len(xs), sum(xs)
    if n == 0 or total == 0:
        return 0.0
    weighted = sum((i + 1) * x for i, x in enumerate(xs))
    return (2 * weighted) / (n * total) - (n + 1) / n


def finite(values: Sequence[float]) -> list[float]:
    """The finite values of ``values`` (NaN rounds left out of a mean or a minimum)."""
    return [v for v in values if math.isfinite(v)]


def mean(values: Sequence[float]) -> float:
    """The mean of the finite values; NaN when there are none."""
    kept = finite(values)
    return sum(kept) / len(kept) if kept else math.nan


def minimum(values: Sequence[float]) -> float:
    """The smallest finite value; NaN when there are none."""
    kept = finite(values)
    return min(kept) if kept else math.nan
