"""The contribution-estimator interface and its result type.

An estimator sees participants only through a *utility* function: the value (higher is better) of
the model aggregated from a coalition of their updates, measured on the coordinator's own
validation data. Estimators differ in which coalitions they evaluate and how they combine them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field

Coalition = frozenset[int]
Utility = Callable[[Coalition], float]


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
    """

    method: str
    scores: list[float]
    utilities: dict[str, float] = field(default_factory=dict)


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


class ContributionEstimator(ABC):
    """Assigns each of ``n`` participants a contribution from a utility over coalitions."""

    name: str = "abstract"

    @abstractmethod
    def estimate(self, n: int, utility: Utility) -> ContributionResult:
        """Score participants ``0..n-1``.

        Parameters
        ----------
        n : int
            Number of participants whose updates were accepted.
        utility : callable
            Maps a coalition (frozenset of indices) to the value of its aggregate.
        """
