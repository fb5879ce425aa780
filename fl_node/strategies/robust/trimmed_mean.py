"""Coordinate-wise trimmed mean (Yin et al., 2018).

In each coordinate, drop the ``k`` largest and ``k`` smallest values and average the rest,
with ``k = floor(beta * n)``.

Unweighted (a claimed sample count buys no influence). With up to ``k`` arbitrary updates the
aggregate stays within the range of the honest values in every coordinate; with ``k + 1`` one
outlier survives the trim and can move the mean arbitrarily far.

Decisions: weight = the share of coordinates in which the update was kept (between the
coordinate's smallest and largest kept value, bounds included); reason ``trimmed`` below 1.
"""

from __future__ import annotations

import math

import torch

from fl_node.strategies._utils import check_hyperparameter
from fl_node.strategies.robust._rule import DEFAULT_FLAG_AT, RobustRule, RoundData, RulePass
from fl_node.strategies.robust.median import coordinate_weights


def trim_count(n: int, beta: float) -> int:
    """``k = floor(beta * n)``, the values dropped at each end (``beta < 0.5`` keeps one)."""
    return math.floor(beta * n)


def trimmed_mean(rows: torch.Tensor, trim: int) -> torch.Tensor:
    """The mean of each column of ``rows`` without its ``trim`` smallest and largest values."""
    ordered = rows.sort(dim=0).values
    return ordered[trim : rows.shape[0] - trim].mean(dim=0)


class TrimmedMean(RobustRule):
    """The coordinate-wise trimmed mean.

    Parameters
    ----------
    beta : float, default 0.1
        Fraction trimmed at each end, in ``[0, 0.5)``.
    flag_at, clip_max_norm, clip_norm_factor
        See :class:`~fl_node.strategies.robust._rule.RobustRule`.
    """

    name = "trimmed_mean"

    def __init__(
        self,
        beta: float = 0.1,
        flag_at: float = DEFAULT_FLAG_AT,
        clip_max_norm: float = 0.0,
        clip_norm_factor: float = 0.0,
    ) -> None:
        super().__init__(flag_at, clip_max_norm, clip_norm_factor)
        owner = type(self).__name__
        self.beta = check_hyperparameter(owner, "beta", beta, 0.0, 0.5, high_open=True)

    def params(self) -> dict[str, float]:
        """``beta`` and the common parameters."""
        return {"beta": self.beta, **self.common_params()}

    def _pass(self, data: RoundData, active: tuple[int, ...]) -> RulePass:
        """The trimmed mean of the active rows; it is also the flagging reference."""
        rows = data.rows[list(active)]
        trim = trim_count(rows.shape[0], self.beta)
        aggregate = trimmed_mean(rows, trim)
        weights, reasons = coordinate_weights(rows, trim)
        return RulePass(aggregate, aggregate, weights, reasons)
