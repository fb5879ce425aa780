"""The one place the audit recomputes a round's contributions from its published record.

The audit never trusts a published score: it rebuilds the estimator the evidence names with the
parameters it records (:func:`incentives.contribution.make_estimator`) and reruns it with the
recorded seed on a utility that only reads the published utilities
(:func:`incentives.contribution.lookup_utility`). Sampled estimators (``"shapley-gtg"``,
``"shapley-tmc"``) then ask for the very coalitions, in the very order, the coordinator's run
asked for, so the scores reproduce bit for bit; a coalition the record lacks means the published
record cannot have produced the scores. A score that does not follow fails the ``contribution``
check, and the challenge's corrections start from the same recomputation.
"""

from __future__ import annotations

from fl_node.evidence import ContributionRecord
from incentives.contribution import lookup_utility, make_estimator
from kernel.errors import InvalidInputError, NotFoundError


def recompute_scores(record: ContributionRecord, n: int) -> list[float] | None:
    """The contributions the record's estimator gives its ``n`` accepted updates on replay.

    Parameters
    ----------
    record : ContributionRecord
        The round's published contribution record (method, parameters, seed, utilities).
    n : int
        Accepted updates (the coalitions index them in participant order).

    Returns
    -------
    list of float or None
        ``None`` when the method or its parameters are unknown, or when the replay asks for a
        coalition the record lacks.
    """
    if n == 0:
        return []
    try:
        estimator = make_estimator(record.method, **dict(record.params))
        result = estimator.estimate(n, lookup_utility(record.utilities), seed=record.seed)
    except (InvalidInputError, NotFoundError):
        return None
    return list(result.scores)


__all__ = ["recompute_scores"]
