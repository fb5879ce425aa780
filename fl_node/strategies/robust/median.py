"""Coordinate-wise median (Yin et al., 2018).

Each coordinate of the aggregate is the median of that coordinate over the round's updates.

For an even count the median is the mean of the two middle values. It is unweighted: a claimed
sample count buys no influence. With ``n`` updates, up to ``floor((n - 1) / 2)`` arbitrary
ones cannot move any coordinate outside the range of the honest values; one more can move it
anywhere.

Decisions: an update's weight is the share of coordinates in which its value is one of the
middle values the median is taken from (between the lower and upper middle value, bounds
included); reason ``trimmed`` when below 1. That is most updates in most coordinates: the
weight says how often an update was central, and flagging (against the median) says who was
far.
"""

from __future__ import annotations

import torch

from fl_node.strategies.robust._rule import RobustRule, RoundData, RulePass
from fl_node.strategies.robust._vectors import kept_between, median
from fl_node.strategies.robust.base import KEPT

TRIMMED = "trimmed"
"""The reason of an update left out of the aggregate in some coordinates."""


def coordinate_median(rows: torch.Tensor) -> torch.Tensor:
    """The coordinate-wise median of the ``(n, d)`` rows (mean of the two middle for even n)."""
    return median(rows, dim=0)


def middle_bounds(rows: torch.Tensor, trim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per coordinate, the smallest and largest value kept after dropping ``trim`` at each end."""
    ordered = rows.sort(dim=0).values
    return ordered[trim], ordered[rows.shape[0] - 1 - trim]


def coordinate_weights(rows: torch.Tensor, trim: int) -> tuple[tuple[float, ...], tuple[str, ...]]:
    """Each row's share of kept coordinates (``trim`` dropped at each end) and its reason."""
    low, high = middle_bounds(rows, trim)
    shares = tuple(float(x) for x in kept_between(rows, low, high))
    return shares, tuple(TRIMMED if s < 1 else KEPT for s in shares)


class CoordinateMedian(RobustRule):
    """The coordinate-wise median; parameters ``flag_at`` and the clip bounds (RobustRule)."""

    name = "median"

    def params(self) -> dict[str, float]:
        """``flag_at``, ``clip_max_norm``, ``clip_norm_factor``."""
        return self.common_params()

    def _pass(self, data: RoundData, active: tuple[int, ...]) -> RulePass:
        """The median of the active rows; it is also the flagging reference."""
        rows = data.rows[list(active)]
        aggregate = coordinate_median(rows)
        weights, reasons = coordinate_weights(rows, (rows.shape[0] - 1) // 2)
        return RulePass(aggregate, aggregate, weights, reasons)
