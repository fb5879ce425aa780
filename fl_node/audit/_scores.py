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
from fl_node.task import TaskSpec
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


def estimator_problems(record: ContributionRecord, spec: TaskSpec) -> list[str]:
    """How the record's estimator differs from the one the task's spec fixes (empty if not).

    The spec names the method; its parameters are that estimator's defaults. A coordinator free
    to pick another method, or parameters (a looser truncation, fewer permutations), could pick
    whichever pays whom it favours.

    Parameters
    ----------
    record : ContributionRecord
        The round's published contribution record.
    spec : TaskSpec
        The task's spec.
    """
    if record.method != spec.contribution:
        return [f"the spec names {spec.contribution}, not {record.method}"]
    expected = make_estimator(spec.contribution).params()
    if dict(record.params) != expected:
        return [f"the estimator's parameters {dict(record.params)} are not the spec's {expected}"]
    return []


__all__ = ["estimator_problems", "recompute_scores"]
