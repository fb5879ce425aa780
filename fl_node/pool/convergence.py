"""When a base model's global model has converged: its test error has settled in a band.

The rule (:class:`ConvergenceRule`): a model has converged after the rounds it was trained in
when it has at least ``window`` test errors, its last ``window`` errors lie within ``band`` of
each other (``max - min <= band``) and, when ``max_error`` is set, every one of them is at most
``max_error``. Errors are counted per round the model was trained (a round that did not draw it
adds none). :func:`rounds_to_converge` gives the first such round, 1-based.

:func:`drawable` is the set a round draws from: the base models that have not converged, topped
up with converged ones as cover whenever fewer than the round's minimum remain. A round that drew
a single base model would deal it to everyone, and anyone who knows that one model was drawn
would know every participant's model.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from fl_node.pool.errors import PoolInputError


@dataclass(frozen=True)
class ConvergenceRule:
    """A preset range for the test error, held for a preset number of rounds.

    Attributes
    ----------
    window : int
        How many consecutive trained rounds the error must stay in the band, at least 1.
    band : float
        The widest spread allowed over the window, ``max - min``, at least 0.
    max_error : float or None, default None
        When set, every error in the window must be at most this.
    """

    window: int
    band: float
    max_error: float | None = None

    def __post_init__(self) -> None:
        """Reject a window below 1, a negative or non-finite band, a non-finite ceiling."""
        if self.window < 1:
            raise PoolInputError(f"window must be at least 1, got {self.window}")
        if not (math.isfinite(self.band) and self.band >= 0):
            raise PoolInputError(f"band must be finite and >= 0, got {self.band}")
        if self.max_error is not None and not math.isfinite(self.max_error):
            raise PoolInputError(f"max_error must be finite, got {self.max_error}")


def _checked(errors: Sequence[float]) -> list[float]:
    values = [float(e) for e in errors]
    if not all(math.isfinite(e) for e in values):
        raise PoolInputError("test errors must be finite")
    return values


def _settled(last: Sequence[float], rule: ConvergenceRule) -> bool:
    if max(last) - min(last) > rule.band:
        return False
    return rule.max_error is None or max(last) <= rule.max_error


def converged(errors: Sequence[float], rule: ConvergenceRule) -> bool:
    """Whether the last ``rule.window`` errors satisfy ``rule``.

    Parameters
    ----------
    errors : sequence of float
        The model's test error after each round it was trained, oldest first.
    rule : ConvergenceRule
        The range and the number of rounds.
    """
    values = _checked(errors)
    return len(values) >= rule.window and _settled(values[-rule.window :], rule)


def rounds_to_converge(errors: Sequence[float], rule: ConvergenceRule) -> int | None:
    """The first trained round (1-based) after which ``errors`` had converged, else ``None``.

    Parameters
    ----------
    errors : sequence of float
        The model's test error after each round it was trained, oldest first.
    rule : ConvergenceRule
        The range and the number of rounds.
    """
    values = _checked(errors)
    for end in range(rule.window, len(values) + 1):
        if _settled(values[end - rule.window : end], rule):
            return end
    return None


def drawable(
    errors: Sequence[Sequence[float]], rule: ConvergenceRule, min_models: int
) -> tuple[int, ...]:
    """The base models a round may draw (rule: module docstring), ascending.

    Parameters
    ----------
    errors : sequence of sequence of float
        Per base model, its test error after each round it was trained.
    rule : ConvergenceRule
        When a model has converged.
    min_models : int
        The fewest models a round draws (the spec's ``DrawRule.min_models``).
    """
    pending = [m for m, history in enumerate(errors) if not converged(history, rule)]
    if len(pending) >= min_models:
        return tuple(pending)
    return tuple(range(len(errors)))
