"""Pool contributions: measured per base model, summed per participant (pure).

A pool round trains several base models at once, each on the updates of the participants it was
dealt to. Each base model's contributions are measured exactly as in a single-model task (the
coalition utility of its own updates on the coordinator's validation set), so they are in the
same units across base models: :func:`summed_contributions` adds them up per participant, and a
pool of one base model pays exactly what the single-model task pays. The round's measured gain
(:func:`pool_improvement`) is the mean of the base models' gains, so an improvement budget pays a
pool round as much as a single-model round that improved its model as much on average.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from fl_node.pool.errors import PoolInputError


def summed_contributions(
    per_model: Sequence[Mapping[str, float]], participants: Sequence[str]
) -> list[float]:
    """Each participant's contributions over the round's base models, in ``participants`` order.

    Parameters
    ----------
    per_model : sequence of mapping of str to float
        Per drawn base model, the contribution of each participant whose update it took.
    participants : sequence of str
        Every participant of the task, in join order (those absent from every base model get 0).

    Raises
    ------
    PoolInputError
        A contribution names someone who is not a participant, or is not finite.
    """
    index = {p: i for i, p in enumerate(participants)}
    totals = [0.0] * len(participants)
    for scores in per_model:
        for participant, score in scores.items():
            if participant not in index:
                raise PoolInputError(f"summed_contributions: {participant} is not a participant")
            if not math.isfinite(score):
                raise PoolInputError(f"summed_contributions: {participant}'s score is {score}")
            totals[index[participant]] += float(score)
    return totals


def pool_improvement(gains: Sequence[float]) -> float:
    """The round's gain: the mean of the drawn base models' gains (NaN if one is NaN; 0 if none).

    Parameters
    ----------
    gains : sequence of float
        ``v(all its updates) - v(none)`` of each drawn base model.
    """
    if not gains:
        return 0.0
    return float(sum(gains) / len(gains))


__all__ = ["pool_improvement", "summed_contributions"]
