"""Flagging: which updates deviate from a rule's robust reference far enough to be rejected.

A flagged participant is rejected, unpaid and reported for slashing, so the test is relative
and loose: an update is flagged when its distance to the reference is more than ``flag_at``
times the median distance of the round's updates. Honest non-IID updates spread around the
reference by comparable amounts, so they stay under a few times the median; a sign-flipped or
boosted update sits many medians away. While honest updates are the majority, the median
distance is an honest one, so attackers cannot inflate the threshold.

When most distances are (nearly) zero, for instance identical updates, the median is zero and any
rounding difference would exceed ``flag_at * 0``; an update must therefore also be farther than a
floor, :data:`FLAG_FLOOR` times the median update norm (and at least :data:`FLAG_ABS_FLOOR`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from fl_node.errors import AggregationError
from fl_node.strategies.robust._vectors import median, norms

FLAG_FLOOR = 1e-6
"""Relative floor: a flagged update is farther than this times the median update norm."""

FLAG_ABS_FLOOR = 1e-12
"""Absolute floor on the distance of a flagged update (all-zero updates flag nothing)."""


@dataclass(frozen=True)
class Flags:
    """Each update's distance to the reference, whether it is flagged, and the threshold used."""

    distances: tuple[float, ...]
    flagged: tuple[bool, ...]
    threshold: float


def flag_threshold(distances: torch.Tensor, flag_at: float, scale: float) -> float:
    """``max(flag_at * median(distances), FLAG_FLOOR * scale, FLAG_ABS_FLOOR)``."""
    return max(flag_at * float(median(distances)), FLAG_FLOOR * scale, FLAG_ABS_FLOOR)


def flag_outliers(vectors: torch.Tensor, reference: torch.Tensor, flag_at: float) -> Flags:
    """Flag the rows of ``vectors`` farther than ``flag_at`` median distances from ``reference``.

    Parameters
    ----------
    vectors : Tensor
        ``(n, d)``: one update per row.
    reference : Tensor
        ``(d,)``: the rule's robust reference (its aggregate, or the trusted update).
    flag_at : float
        Multiple of the median distance beyond which an update is flagged; 0 flags nothing.

    Returns
    -------
    Flags
        ``distances[i] = ||vectors[i] - reference||``; ``flagged[i]`` when ``distances[i]``
        exceeds the threshold ``max(flag_at * median(distances), FLAG_FLOOR * median norm,
        FLAG_ABS_FLOOR)``.
    """
    if vectors.ndim != 2 or reference.shape != vectors.shape[1:]:
        raise AggregationError("flag_outliers: vectors must be (n, d) and the reference (d,)")
    distances = torch.linalg.vector_norm(vectors - reference[None, :], dim=1)
    listed = tuple(float(x) for x in distances)
    if flag_at <= 0 or vectors.shape[0] == 0:
        return Flags(listed, (False,) * len(listed), float("inf"))
    threshold = flag_threshold(distances, flag_at, float(median(norms(vectors))))
    return Flags(listed, tuple(d > threshold for d in listed), threshold)
