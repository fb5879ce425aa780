"""Krum and Multi-Krum (Blanchard et al., 2017): keep the updates closest to their neighbours.

With ``n`` updates of which at most ``f`` are assumed Byzantine (``f = floor(f_fraction * n)``),
each update's score is the sum of its squared L2 distances to its ``n - f - 2`` nearest other
updates. Krum returns the update with the lowest score; Multi-Krum the mean of the ``m`` lowest
(ties: lowest index first). The mean is unweighted, as in the paper: a claimed sample count buys
no influence. Krum's guarantee needs ``n > 2f + 2``; with fewer updates the rule degrades to the
mean of all of them and says so (reason ``krum_too_few``).

An attacker far from the honest cluster has a score of at least its squared distance to the
nearest honest updates, while an honest update's neighbours include the other honest ones, so
while ``f < (n - 2) / 2`` the far attackers are never selected.

Decisions: selected weight 1, others weight 0 with reason ``krum_not_selected``; the score is
the Krum score. Flagging measures the distance to the coordinate-wise median of the round (not
to the selection), so an update Krum merely leaves out is not thereby flagged.
"""

from __future__ import annotations

import math

import torch

from fl_node.strategies._utils import check_hyperparameter
from fl_node.strategies.robust._rule import RobustRule, RoundData, RulePass
from fl_node.strategies.robust._vectors import median
from fl_node.strategies.robust.base import KEPT

KRUM_FLAG_AT = 0.0
"""Krum and Multi-Krum flag nothing unless the spec asks (``flag_at``): on label-skewed clients
the updates they leave out round after round drift ever farther from the rest, and the benchmark
saw Multi-Krum flag honest MNIST clients in 25 of 37 runs, with no attacker in some; leaving an
update out is their defence, and it costs its author that round's pay, not its stake."""

NOT_SELECTED = "krum_not_selected"
TOO_FEW = "krum_too_few"


def byzantine_count(n: int, fraction: float) -> int:
    """``floor(fraction * n)``: how many of ``n`` updates Krum assumes may be Byzantine."""
    return math.floor(fraction * n)


def krum_scores(rows: torch.Tensor, f_count: int) -> torch.Tensor:
    """Each row's sum of squared distances to its ``n - f_count - 2`` nearest other rows.

    Needs ``n > 2 * f_count + 2`` (so at least one neighbour is counted).
    """
    n = rows.shape[0]
    neighbours = n - f_count - 2
    squared = torch.cdist(rows, rows, compute_mode="donot_use_mm_for_euclid_dist").pow(2)
    squared.fill_diagonal_(math.inf)
    nearest = squared.sort(dim=1).values[:, :neighbours]
    return nearest.sum(dim=1)


def lowest(scores: torch.Tensor, count: int) -> tuple[int, ...]:
    """Positions of the ``count`` lowest scores, ties to the lowest position."""
    order = sorted(range(scores.shape[0]), key=lambda i: (float(scores[i]), i))
    return tuple(sorted(order[:count]))


class MultiKrum(RobustRule):
    """Multi-Krum: the mean of the ``m`` updates with the lowest Krum scores.

    Parameters
    ----------
    f : float, default 0.2
        The assumed Byzantine share of the updates, in ``[0, 0.5)``.
    m : float, default 0
        The share of updates averaged, in ``[0, 1]``: ``max(1, floor(m * n))`` of them; 0 means
        ``n - f_count``.
    flag_at : float, default KRUM_FLAG_AT (0: no flagging)
        See :class:`~fl_node.strategies.robust._rule.RobustRule`.
    clip_max_norm, clip_norm_factor
        See :class:`~fl_node.strategies.robust._rule.RobustRule`.
    """

    name = "multi_krum"

    def __init__(
        self,
        f: float = 0.2,
        m: float = 0.0,
        flag_at: float = KRUM_FLAG_AT,
        clip_max_norm: float = 0.0,
        clip_norm_factor: float = 0.0,
    ) -> None:
        super().__init__(flag_at, clip_max_norm, clip_norm_factor)
        owner = type(self).__name__
        self.f = check_hyperparameter(owner, "f", f, 0.0, 0.5, high_open=True)
        self.m = check_hyperparameter(owner, "m", m, 0.0, 1.0)

    def params(self) -> dict[str, float]:
        """``f``, ``m`` and the common parameters."""
        return {"f": self.f, "m": self.m, **self.common_params()}

    def selected_count(self, n: int, f_count: int) -> int:
        """How many of ``n`` updates are averaged."""
        if self.m == 0:
            return n - f_count
        return max(1, math.floor(self.m * n))

    def _pass(self, data: RoundData, active: tuple[int, ...]) -> RulePass:
        """The mean of the selected active rows; the flagging reference is their median.

        Not the selection's mean: the mean of the ``m`` most central updates sits so close to
        the cluster that the median distance shrinks and non-IID honest updates cross
        ``flag_at`` times it (Multi-Krum flagged honest MNIST clients with no attacker in the
        benchmark); the coordinate-wise median is the reference the other rules share.
        """
        rows = data.rows[list(active)]
        n = rows.shape[0]
        f_count = byzantine_count(n, self.f)
        if n <= 2 * f_count + 2:
            mean = rows.mean(dim=0)
            return RulePass(mean, mean, (1.0,) * n, (TOO_FEW,) * n)
        scores = krum_scores(rows, f_count)
        chosen = lowest(scores, self.selected_count(n, f_count))
        aggregate = rows[list(chosen)].mean(dim=0)
        weights = tuple(1.0 if i in chosen else 0.0 for i in range(n))
        reasons = tuple(KEPT if i in chosen else NOT_SELECTED for i in range(n))
        centre = median(rows, dim=0)
        return RulePass(aggregate, centre, weights, reasons, tuple(float(s) for s in scores))


class Krum(MultiKrum):
    """Krum: the single update with the lowest score (Multi-Krum with ``m`` = one update).

    Parameters
    ----------
    f : float, default 0.2
        The assumed Byzantine share of the updates, in ``[0, 0.5)``.
    flag_at : float, default KRUM_FLAG_AT (0: no flagging)
        See :class:`~fl_node.strategies.robust._rule.RobustRule`.
    clip_max_norm, clip_norm_factor
        See :class:`~fl_node.strategies.robust._rule.RobustRule`.
    """

    name = "krum"

    def __init__(
        self,
        f: float = 0.2,
        flag_at: float = KRUM_FLAG_AT,
        clip_max_norm: float = 0.0,
        clip_norm_factor: float = 0.0,
    ) -> None:
        super().__init__(f, 0.0, flag_at, clip_max_norm, clip_norm_factor)

    def params(self) -> dict[str, float]:
        """``f`` and the common parameters."""
        return {"f": self.f, **self.common_params()}

    def selected_count(self, n: int, f_count: int) -> int:
        """One."""
        return 1
