"""Which converged global models enter the shared pool: a confidence region, then elimination.

The rules :func:`accept` applies, in order:

1. **Convergence.** A candidate whose per-round errors have not converged under the task's
   :class:`~fl_node.pool.convergence.ConvergenceRule` is rejected (``not_converged``).
2. **Confidence region.** Each converged model's final error rate gets a Wilson score interval at
   ``confidence`` over its ``n_test`` test examples; the *best* model is the converged one with the
   lowest error (ties: lowest index). A model is inside the region when its interval overlaps the
   best one's (its lower bound is at most the best's upper bound), i.e. it is not significantly
   worse than the best; otherwise it is rejected (``outside_confidence_region``).
3. **Elimination.** The inside models are walked from the lowest error (ties: lowest index). A
   model whose test-set predictions agree with an already kept model's on at least ``agreement``
   of the examples is dropped (``duplicate``): it adds nothing to the bundle. Of the models left,
   only the first ``max_models`` are kept (``pruned``), when ``max_models`` is set.

What is kept is the accepted set, the shared pool sold as a bundle.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Literal

from fl_node.pool.convergence import ConvergenceRule, converged
from fl_node.pool.errors import PoolInputError

Reason = Literal["accepted", "not_converged", "outside_confidence_region", "duplicate", "pruned"]
"""Why a candidate is in or out of the pool."""


@dataclass(frozen=True)
class Candidate:
    """A base model's global model at the end of the pool run.

    Attributes
    ----------
    model : int
        The base-model index.
    name : str
        Its name (architecture or initialisation).
    errors : tuple of float
        Its test error after each round it was trained, oldest first.
    error : float
        Its final test error rate (e.g. ``1 - accuracy``), in ``[0, 1]``.
    n_test : int
        The test examples ``error`` was measured on, at least 1.
    predictions : tuple of int
        Its final predicted class for each test example (``n_test`` of them).
    """

    model: int
    name: str
    errors: tuple[float, ...]
    error: float
    n_test: int
    predictions: tuple[int, ...]


@dataclass(frozen=True)
class AcceptanceRule:
    """The confidence level, the duplicate threshold and the pool's size cap.

    Attributes
    ----------
    confidence : float, default 0.95
        The Wilson intervals' confidence level, in ``(0, 1)``.
    agreement : float, default 0.98
        Prediction agreement with a kept model at or above which a model is a duplicate.
    max_models : int or None, default None
        The most models accepted; ``None`` for no cap.
    """

    confidence: float = 0.95
    agreement: float = 0.98
    max_models: int | None = None

    def __post_init__(self) -> None:
        """Reject a confidence outside (0, 1), an agreement outside [0, 1], a cap below 1."""
        if not 0 < self.confidence < 1:
            raise PoolInputError(f"confidence must be in (0, 1), got {self.confidence}")
        if not 0 <= self.agreement <= 1:
            raise PoolInputError(f"agreement must be in [0, 1], got {self.agreement}")
        if self.max_models is not None and self.max_models < 1:
            raise PoolInputError(f"max_models must be at least 1, got {self.max_models}")


@dataclass(frozen=True)
class PoolDecision:
    """Whether a candidate enters the pool, and why.

    Attributes
    ----------
    model : int
        The base-model index.
    name : str
        Its name.
    accepted : bool
        Whether it is in the shared pool.
    reason : Reason
        ``accepted``, ``not_converged``, ``outside_confidence_region``, ``duplicate`` or
        ``pruned``.
    interval : tuple of float or None, default None
        Its Wilson interval ``(low, high)``; ``None`` when it had not converged.
    duplicate_of : int or None, default None
        The kept model it duplicates, for ``duplicate``.
    """

    model: int
    name: str
    accepted: bool
    reason: Reason
    interval: tuple[float, float] | None = None
    duplicate_of: int | None = None


def wilson_interval(error: float, n: int, confidence: float) -> tuple[float, float]:
    """The Wilson score interval of an error rate ``error`` measured on ``n`` examples.

    With ``z`` the standard normal quantile at ``1 - (1 - confidence) / 2``, the interval is
    ``(p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n)``.

    Parameters
    ----------
    error : float
        The observed error rate ``p``, in ``[0, 1]``.
    n : int
        The number of examples, at least 1.
    confidence : float
        The confidence level, in ``(0, 1)``.
    """
    if not (0 <= error <= 1) or n < 1 or not 0 < confidence < 1:
        raise PoolInputError(f"no Wilson interval for error={error}, n={n}, conf={confidence}")
    z = NormalDist().inv_cdf(1 - (1 - confidence) / 2)
    z2n = z * z / n
    centre = (error + z2n / 2) / (1 + z2n)
    half = z * math.sqrt(error * (1 - error) / n + z2n / (4 * n)) / (1 + z2n)
    return max(0.0, centre - half), min(1.0, centre + half)


def agreement_of(a: Sequence[int], b: Sequence[int]) -> float:
    """The fraction of test examples on which two models predict the same class.

    Parameters
    ----------
    a, b : sequence of int
        Two models' predictions over the same test set.
    """
    if len(a) != len(b) or not a:
        raise PoolInputError(f"predictions must be equally long and not empty: {len(a)}, {len(b)}")
    return sum(x == y for x, y in zip(a, b, strict=True)) / len(a)


def _check(candidates: Sequence[Candidate]) -> None:
    models = [c.model for c in candidates]
    if len(set(models)) != len(models):
        raise PoolInputError(f"candidates must be distinct models, got {models}")
    for c in candidates:
        if c.n_test < 1 or len(c.predictions) != c.n_test or not 0 <= c.error <= 1:
            raise PoolInputError(
                f"model {c.model}: need 0 <= error <= 1 and n_test = len(predictions) >= 1"
            )


def _eliminate(
    inside: list[Candidate], rule: AcceptanceRule, intervals: dict[int, tuple[float, float]]
) -> list[PoolDecision]:
    kept: list[Candidate] = []
    out: list[PoolDecision] = []
    for c in sorted(inside, key=lambda c: (c.error, c.model)):
        twin = next(
            (k for k in kept if agreement_of(c.predictions, k.predictions) >= rule.agreement),
            None,
        )
        if twin is not None:
            out.append(
                PoolDecision(c.model, c.name, False, "duplicate", intervals[c.model], twin.model)
            )
        elif rule.max_models is not None and len(kept) >= rule.max_models:
            out.append(PoolDecision(c.model, c.name, False, "pruned", intervals[c.model]))
        else:
            kept.append(c)
            out.append(PoolDecision(c.model, c.name, True, "accepted", intervals[c.model]))
    return out


def accept(
    candidates: Sequence[Candidate], rule: AcceptanceRule, convergence: ConvergenceRule
) -> tuple[PoolDecision, ...]:
    """Decide which candidates enter the shared pool (rules: module docstring).

    Parameters
    ----------
    candidates : sequence of Candidate
        Every base model's final global model, distinct indices.
    rule : AcceptanceRule
        The confidence level, duplicate threshold and size cap.
    convergence : ConvergenceRule
        The rule each candidate's per-round errors must meet.

    Returns
    -------
    tuple of PoolDecision
        One decision per candidate, in the candidates' order.
    """
    _check(candidates)
    done = [c for c in candidates if converged(c.errors, convergence)]
    decisions = {
        c.model: PoolDecision(c.model, c.name, False, "not_converged")
        for c in candidates
        if c not in done
    }
    if done:
        intervals = {c.model: wilson_interval(c.error, c.n_test, rule.confidence) for c in done}
        best = min(done, key=lambda c: (c.error, c.model))
        top = intervals[best.model][1]
        inside = [c for c in done if intervals[c.model][0] <= top]
        for c in done:
            if c not in inside:
                decisions[c.model] = PoolDecision(
                    c.model, c.name, False, "outside_confidence_region", intervals[c.model]
                )
        decisions.update({d.model: d for d in _eliminate(inside, rule, intervals)})
    return tuple(decisions[c.model] for c in candidates)
