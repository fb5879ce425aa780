"""The contribution estimators by method name, and a factory that builds one from its parameters.

The name is what a task spec and a round's evidence record (``"shapley-gtg"``); the parameters are
the result's ``params``, so an auditor rebuilds the very estimator a round used with
``make_estimator(result.method, **result.params)``.
"""

from __future__ import annotations

from incentives.contribution.base import ContributionEstimator
from incentives.contribution.gtg import GtgShapley
from incentives.contribution.loo import LeaveOneOut
from incentives.contribution.shapley import ExactShapley
from incentives.contribution.tmc import TmcShapley
from kernel.errors import InvalidInputError

ESTIMATORS: dict[str, type[ContributionEstimator]] = {
    LeaveOneOut.name: LeaveOneOut,
    ExactShapley.name: ExactShapley,
    GtgShapley.name: GtgShapley,
    TmcShapley.name: TmcShapley,
}
"""Every estimator class by its method name."""


def make_estimator(name: str, **params: float) -> ContributionEstimator:
    """The estimator called ``name``, built with ``params`` (defaults for those not given).

    Parameters
    ----------
    name : str
        A key of :data:`ESTIMATORS`.
    **params : float
        Constructor fields of that estimator, e.g. ``eps_within=0.05``.

    Raises
    ------
    InvalidInputError
        An unknown name, an unknown parameter or a value out of range.
    """
    if name not in ESTIMATORS:
        raise InvalidInputError(
            f"make_estimator: unknown method {name!r} (known: {', '.join(sorted(ESTIMATORS))})"
        )
    try:
        return ESTIMATORS[name](**params)
    except TypeError as error:
        raise InvalidInputError(f"make_estimator: bad parameters for {name!r}: {error}") from error


__all__ = ["ESTIMATORS", "make_estimator"]
