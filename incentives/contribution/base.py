"""The contribution-estimator interface, its result type and the utility helpers.

An estimator sees participants only through a *utility* function: the value (higher is better) of
the model aggregated from a coalition of their updates, measured on the coordinator's own
validation data. Estimators differ in which coalitions they evaluate and how they combine them.

Reproducibility contract. Every estimator takes a ``seed`` and records it, with its parameters and
every coalition utility it evaluated, in its :class:`ContributionResult`. An estimator

- calls the utility only through a :class:`CachedUtility`, so every value it used is recorded,
  and each coalition is evaluated at most once;
- draws randomness only from ``random.Random(seed)``, and only through its ``random()`` method
  (the one stream CPython promises to keep across versions);
- does plain sequential float arithmetic (no numpy reductions, no threads), so the scores depend
  only on ``n``, ``seed``, its parameters and the utility values, bit for bit.

An auditor therefore recomputes a round's scores from its evidence alone: the same estimator, the
same seed, and :func:`lookup_utility` over the published ``utilities``. A coalition missing from the
record raises :class:`UnrecordedCoalitionError` instead of being guessed.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import ClassVar

from kernel.errors import InvalidInputError, NotFoundError

Coalition = frozenset[int]
Utility = Callable[[Coalition], float]


class UnrecordedCoalitionError(NotFoundError):
    """A replayed estimator asked for a coalition whose utility the record does not hold."""


@dataclass(frozen=True)
class ContributionResult:
    """Scores of one round, with what is needed to recompute them.

    Attributes
    ----------
    method : str
        Estimator name, e.g. ``"leave-one-out"``.
    scores : list[float]
        One contribution per participant (same order as the input), possibly negative.
    utilities : dict[str, float]
        Every coalition evaluated, keyed ``"0,2,3"`` (sorted indices; ``""`` is the empty one).
    seed : int, default 0
        The seed the estimator drew its permutations from (recorded, unused, by the
        deterministic estimators).
    evaluations : int, default -1
        Distinct coalitions evaluated: ``len(utilities)``; ``-1`` (the default) fills it in, any
        other value must equal it.
    params : dict[str, float], default {}
        The estimator's parameters (:meth:`ContributionEstimator.params`), so the estimator can
        be rebuilt with :func:`~incentives.contribution.make_estimator`.
    permutations : int, default 0
        Permutations sampled (0 for the estimators that sample none).
    """

    method: str
    scores: list[float]
    utilities: dict[str, float] = field(default_factory=dict)
    seed: int = 0
    evaluations: int = -1
    params: dict[str, float] = field(default_factory=dict)
    permutations: int = 0

    def __post_init__(self) -> None:
        """Fill in ``evaluations``, or check it against ``utilities``."""
        if self.evaluations == -1:
            object.__setattr__(self, "evaluations", len(self.utilities))
        elif self.evaluations != len(self.utilities):
            raise InvalidInputError(
                f"ContributionResult: evaluations={self.evaluations} but "
                f"{len(self.utilities)} utilities recorded"
            )


def coalition_key(coalition: Coalition) -> str:
    """Stable text key of a coalition: sorted indices joined by commas."""
    return ",".join(str(i) for i in sorted(coalition))


class CachedUtility:
    """Memoises a utility so no coalition is evaluated twice; records every value."""

    def __init__(self, utility: Utility) -> None:
        self._utility = utility
        self.values: dict[str, float] = {}

    def __call__(self, coalition: Coalition) -> float:
        """The utility of ``coalition``, evaluated once."""
        key = coalition_key(coalition)
        if key not in self.values:
            self.values[key] = float(self._utility(coalition))
        return self.values[key]


def lookup_utility(utilities: Mapping[str, float]) -> Utility:
    """A utility that reads recorded values: what an auditor replays an estimator with.

    Parameters
    ----------
    utilities : mapping of str to float
        Recorded coalition utilities, keyed by :func:`coalition_key`.

    Returns
    -------
    callable
        Maps a coalition to its recorded utility; raises :class:`UnrecordedCoalitionError` (a
        :class:`~kernel.errors.NotFoundError`) for a coalition the record lacks.
    """
    record = dict(utilities)

    def recorded(coalition: Coalition) -> float:
        key = coalition_key(coalition)
        if key not in record:
            raise UnrecordedCoalitionError(
                f"lookup_utility: coalition {{{key}}} was not evaluated in the record"
            )
        return float(record[key])

    return recorded


def check_inputs(n: int, seed: int, who: str) -> None:
    """Refuse a negative or non-integer number of players, or a non-integer seed.

    Parameters
    ----------
    n : int
        Number of players.
    seed : int
        The estimator's seed.
    who : str
        The caller's name, for the message.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise InvalidInputError(f"{who}: the number of players must be an int >= 0, not {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise InvalidInputError(f"{who}: the seed must be an int, not {seed!r}")


class ContributionEstimator(ABC):
    """Assigns each of ``n`` participants a contribution from a utility over coalitions."""

    name: ClassVar[str] = "abstract"

    @abstractmethod
    def estimate(self, n: int, utility: Utility, *, seed: int = 0) -> ContributionResult:
        """Score participants ``0..n-1``.

        Parameters
        ----------
        n : int
            Number of participants whose updates were accepted.
        utility : callable
            Maps a coalition (frozenset of indices) to the value of its aggregate.
        seed : int, default 0
            Seed of the estimator's random draws; recorded in the result.
        """

    def params(self) -> dict[str, float]:
        """The estimator's parameters by name (none by default)."""
        return {}
