"""The one place the audit recomputes a round's contributions from its published record.

The audit never trusts a published score: it reruns the estimator the task's spec names on the
utilities the evidence publishes (a replayed utility that only reads the record), so a score that
does not follow from the utilities, or an estimator other than the spec's, fails the
``contribution`` check; the challenge's corrections start from the same recomputation.
"""

from __future__ import annotations

from collections.abc import Mapping

from incentives import ExactShapley, LeaveOneOut
from incentives.contribution import Coalition, ContributionEstimator, coalition_key

_REPLAYABLE: dict[str, type[ContributionEstimator]] = {
    "leave-one-out": LeaveOneOut,
    "shapley-exact": ExactShapley,
}
"""The estimators the audit can rerun on recorded utilities, by the name the evidence gives."""


def scores_from_utilities(
    method: str, n: int, utilities: Mapping[str, float]
) -> list[float] | None:
    """The contributions ``method`` gives ``n`` accepted updates from the published utilities.

    Parameters
    ----------
    method : str
        The estimator's name as the evidence records it (``"leave-one-out"``,
        ``"shapley-exact"``).
    n : int
        Accepted updates.
    utilities : mapping of str to float
        Utility of each coalition (keys: sorted indices joined by commas).

    Returns
    -------
    list of float or None
        ``None`` when the method is not one the audit can rerun, or when it asks for a coalition
        the record lacks.
    """
    if n == 0:
        return []
    estimator = _REPLAYABLE.get(method)
    if estimator is None:
        return None
    record = dict(utilities)
    missing: list[str] = []

    def replayed(coalition: Coalition) -> float:
        key = coalition_key(coalition)
        if key not in record:
            missing.append(key)
            return 0.0
        return record[key]

    scores = estimator().estimate(n, replayed).scores
    return None if missing else list(scores)


__all__ = ["scores_from_utilities"]
