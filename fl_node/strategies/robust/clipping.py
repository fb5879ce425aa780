"""Norm clipping: every update scaled down to at most a bound on its L2 norm, then averaged.

The bound is absolute (``max_norm``) or relative to the round (``norm_factor`` times the median
L2 norm of the round's updates, so it needs no knowledge of the model's scale); with both, the
tighter one. An update of norm ``||d||`` is multiplied by ``min(1, bound / ||d||)`` (the norm
is taken over the whole update, every tensor together). A boosted update thus moves the
aggregate no more than an honest one of the bound's size.

Clipping composes with every other rule: each rule takes ``clip_max_norm`` /
``clip_norm_factor`` and clips before it runs (:mod:`fl_node.strategies.robust._rule`);
:class:`NormClipping` is clipping followed by the sample-weighted mean.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from fl_node.errors import SpecError
from fl_node.strategies._utils import check_hyperparameter
from fl_node.strategies.robust._rule import (
    DEFAULT_FLAG_AT,
    MAX_NORM,
    MAX_NORM_FACTOR,
    RobustRule,
    RoundData,
    RulePass,
    clip_scales,
)
from fl_node.strategies.robust._vectors import flatten, median, weighted_mean
from fl_node.strategies.robust.base import KEPT


def update_norm(delta: Mapping[str, torch.Tensor]) -> float:
    """The L2 norm of a whole update (all its tensors together)."""
    return float(torch.linalg.vector_norm(flatten(delta)))


def clip_updates(
    deltas: Sequence[Mapping[str, torch.Tensor]], max_norm: float
) -> list[dict[str, torch.Tensor]]:
    """Each delta scaled by ``min(1, max_norm / ||delta||)`` (its tensors keep their dtypes)."""
    clipped = []
    for delta in deltas:
        norm = torch.tensor([update_norm(delta)], dtype=torch.float64)
        scale = float(clip_scales(norm, max_norm)[0])
        clipped.append({k: (v.to(torch.float64) * scale).to(v.dtype) for k, v in delta.items()})
    return clipped


def relative_max_norm(deltas: Sequence[Mapping[str, torch.Tensor]], norm_factor: float) -> float:
    """``norm_factor`` times the median L2 norm of ``deltas`` (the relative clip bound)."""
    values = torch.tensor([update_norm(d) for d in deltas], dtype=torch.float64)
    return norm_factor * float(median(values))


class NormClipping(RobustRule):
    """Clip every update, then take the sample-weighted mean.

    Decisions: weight = the clip scale, reason ``clipped`` when scaled. The flagging reference
    is the coordinate-wise median of the clipped updates (the mean itself is not robust).

    Parameters
    ----------
    max_norm : float, default 0
        Absolute bound on each update's L2 norm (0: none).
    norm_factor : float, default 0
        Relative bound: this multiple of the round's median update norm (0: none). At least
        one of the two must be set.
    flag_at : float, default 3.0
        See :class:`~fl_node.strategies.robust._rule.RobustRule`.
    """

    name = "clip"

    def __init__(
        self, max_norm: float = 0.0, norm_factor: float = 0.0, flag_at: float = DEFAULT_FLAG_AT
    ) -> None:
        super().__init__(flag_at)
        owner = type(self).__name__
        self.max_norm = check_hyperparameter(owner, "max_norm", max_norm, 0.0, MAX_NORM)
        self.norm_factor = check_hyperparameter(
            owner, "norm_factor", norm_factor, 0.0, MAX_NORM_FACTOR
        )
        if self.max_norm == 0 and self.norm_factor == 0:
            raise SpecError(f"{owner}: give max_norm or norm_factor (both are 0)")

    def params(self) -> dict[str, float]:
        """``max_norm``, ``norm_factor`` and ``flag_at``."""
        return {"max_norm": self.max_norm, "norm_factor": self.norm_factor, "flag_at": self.flag_at}

    def clip_settings(self) -> tuple[float, float]:
        """The rule's own bounds."""
        return self.max_norm, self.norm_factor

    def _pass(self, data: RoundData, active: tuple[int, ...]) -> RulePass:
        """The sample-weighted mean of the (clipped) updates; reference: coordinate median."""
        rows = data.rows[list(active)]
        aggregate = weighted_mean(rows, data.samples[list(active)])
        ones = (1.0,) * len(active)
        return RulePass(aggregate, median(rows), ones, (KEPT,) * len(active))


__all__ = ["NormClipping", "clip_updates", "relative_max_norm", "update_norm"]
