"""Per-feature statistics: what a data owner may publish instead of rows, and their pooling.

A listing carries each feature's count, mean and (population) standard deviation. Pooling them
gives the exact mean and standard deviation of the union of the datasets, which the task sponsor
uses to normalise the model's inputs without ever seeing a row.

A minimum, a maximum or a quantile is one row's value: published exactly, it lets a record at a
column's extreme leave its owner (the canary test found it). Ranges are therefore published
rounded outward to :data:`PUBLISHED_DIGITS` significant digits (:func:`coarse_floor`,
:func:`coarse_ceil`) and quantiles rounded to as many (:func:`coarse`): still a valid range for
every row, no longer any row's value beyond that precision.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from fl_node.errors import DataError

PUBLISHED_DIGITS = 3
"""Significant digits of a published minimum, maximum or quantile."""


def _step(value: float, digits: int) -> float:
    """The unit of the last of ``digits`` significant digits of ``value`` (1 for 0)."""
    if value == 0 or not math.isfinite(value):
        return 1.0
    return float(10.0 ** (math.floor(math.log10(abs(value))) - digits + 1))


def coarse_floor(value: float, digits: int = PUBLISHED_DIGITS) -> float:
    """``value`` rounded down to ``digits`` significant digits (a published lower bound)."""
    step = _step(value, digits)
    return float(round(math.floor(value / step) * step, 12))


def coarse_ceil(value: float, digits: int = PUBLISHED_DIGITS) -> float:
    """``value`` rounded up to ``digits`` significant digits (a published upper bound)."""
    step = _step(value, digits)
    return float(round(math.ceil(value / step) * step, 12))


def coarse(value: float, digits: int = PUBLISHED_DIGITS) -> float:
    """``value`` rounded to the nearest of ``digits`` significant digits."""
    step = _step(value, digits)
    return float(round(round(value / step) * step, 12))


@dataclass(frozen=True)
class FeatureStats:
    """Summary statistics of one dataset, feature by feature."""

    count: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    minimum: tuple[float, ...]
    maximum: tuple[float, ...]

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "count": self.count,
            "mean": list(self.mean),
            "std": list(self.std),
            "min": list(self.minimum),
            "max": list(self.maximum),
        }

    @classmethod
    def from_dict(cls, raw: dict[str, object]) -> FeatureStats:
        """Parse :meth:`to_dict` output, checking lengths and finiteness."""
        try:
            count = int(raw["count"])  # type: ignore[call-overload]
            cols = [tuple(float(v) for v in raw[k]) for k in ("mean", "std", "min", "max")]  # type: ignore[attr-defined]
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"FeatureStats: malformed statistics: {exc}") from None
        if count < 1 or len({len(c) for c in cols}) != 1:
            raise DataError("FeatureStats: count must be >= 1 and all columns the same length")
        if not all(math.isfinite(v) for c in cols for v in c) or min(cols[1], default=0.0) < 0:
            raise DataError("FeatureStats: statistics must be finite, std non-negative")
        return cls(count, cols[0], cols[1], cols[2], cols[3])


def feature_stats(x: npt.NDArray[np.floating]) -> FeatureStats:
    """Statistics of a ``(rows, features)`` array, its ranges rounded outward for publishing."""
    if x.ndim != 2 or x.shape[0] == 0:
        raise DataError("feature_stats: need a non-empty 2-D array")
    x64 = x.astype(np.float64)
    return FeatureStats(
        count=int(x.shape[0]),
        mean=tuple(float(v) for v in x64.mean(axis=0)),
        std=tuple(float(v) for v in x64.std(axis=0)),
        minimum=tuple(coarse_floor(float(v)) for v in x64.min(axis=0)),
        maximum=tuple(coarse_ceil(float(v)) for v in x64.max(axis=0)),
    )


def pool_stats(parts: Sequence[FeatureStats]) -> tuple[list[float], list[float]]:
    """Exact mean and population std of the union of the datasets ``parts`` summarise.

    Uses ``E[x^2] = std^2 + mean^2`` per part, weighted by counts. Features whose pooled std is 0
    get std 1 so normalising by it is safe.
    """
    if not parts:
        raise DataError("pool_stats: nothing to pool")
    width = len(parts[0].mean)
    if any(len(p.mean) != width for p in parts):
        raise DataError("pool_stats: datasets have different feature counts")
    n = np.array([p.count for p in parts], dtype=np.float64)[:, None]
    mean = np.array([p.mean for p in parts], dtype=np.float64)
    std = np.array([p.std for p in parts], dtype=np.float64)
    total = float(n.sum())
    pooled_mean = (n * mean).sum(axis=0) / total
    second = (n * (std**2 + mean**2)).sum(axis=0) / total
    pooled_std = np.sqrt(np.maximum(second - pooled_mean**2, 0.0))
    pooled_std[pooled_std == 0] = 1.0
    return [float(v) for v in pooled_mean], [float(v) for v in pooled_std]
