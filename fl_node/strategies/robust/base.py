"""The interface of the robust aggregation rules (defences) and the records they return.

A defence sees the round's accepted updates (their deltas and sample counts) and returns:

- the robust aggregate delta, which the task's strategy then applies to the global model as if
  it were one update (FedAvg scales it by ``server_lr``, the FedOpt family feeds it to its
  moments), and
- one :class:`Decision` per update: the weight it kept in the aggregate (1 kept as sent, 0
  excluded, in between down-weighted or clipped), why, the rule's score, and whether it is
  *flagged*: far enough from the rule's robust reference that the coordinator rejects it, pays it
  nothing and reports it on-chain for slashing.

Every rule is a pure function of its inputs (and of :class:`RoundInputs`, what a round adds:
FLTrust's root update, the trusted-participant vote's ballots), so the audit recomputes the
decisions from the evidence.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import torch

from fl_node.strategies.base import ClientUpdate

KEPT = ""
"""The reason of an update kept as sent."""


@dataclass(frozen=True)
class Decision:
    """What a defence did with one update.

    Attributes
    ----------
    weight : float
        The update's weight in the aggregate relative to plain FedAvg, in ``[0, 1]``: 1 kept as
        sent, 0 excluded (for coordinate-wise rules, the share of coordinates it was kept in).
    reason : str
        Why it was excluded, down-weighted or flagged (``KEPT`` when kept as sent): a short code
        such as ``clipped``, ``krum_not_selected``, ``trimmed``, ``low_trust``, ``deviation``.
    score : float
        The rule's own number for it (Krum score, trust score, distance to the reference...).
    flagged : bool
        Its deviation from the rule's reference is beyond the flag threshold: rejected, unpaid,
        reported for slashing.
    """

    weight: float
    reason: str = KEPT
    score: float = 0.0
    flagged: bool = False


@dataclass(frozen=True)
class RobustOutcome:
    """A defence's aggregate delta and its decision on each update (in input order)."""

    delta: dict[str, torch.Tensor]
    decisions: tuple[Decision, ...]

    @property
    def flagged(self) -> tuple[int, ...]:
        """Indices of the flagged updates."""
        return tuple(i for i, d in enumerate(self.decisions) if d.flagged)


@dataclass(frozen=True)
class Ballot:
    """One participant's scores of the round's updates, measured on its own local data.

    ``scores[j]`` is how much update ``j`` (input order) improves the voter's local loss
    (higher is better); a voter's score of its own update is ignored.
    """

    voter: int
    scores: tuple[float, ...]


@dataclass(frozen=True)
class RoundInputs:
    """What a round gives a defence beyond the updates.

    Attributes
    ----------
    root_delta : mapping of str to Tensor or None
        FLTrust: the update the coordinator trained on its root dataset from the same model.
    ballots : sequence of Ballot
        The trusted-participant vote: one ballot per voting participant (voter indices are
        positions in the updates list).
    """

    root_delta: Mapping[str, torch.Tensor] | None = None
    ballots: Sequence[Ballot] = field(default_factory=tuple)


class Defence(ABC):
    """A robust aggregation rule. ``params`` gives what ``make_defence`` takes to rebuild it."""

    name: str = "abstract"
    uses_root: ClassVar[bool] = False
    """Whether the rule reads the coordinator's root update (``RoundInputs.root_delta``)."""
    uses_ballots: ClassVar[bool] = False
    """Whether the rule reads the participants' signed ballots (``RoundInputs.ballots``)."""

    @abstractmethod
    def params(self) -> dict[str, float]:
        """The hyperparameters, by the names ``make_defence`` takes."""

    @abstractmethod
    def combine(self, updates: Sequence[ClientUpdate], inputs: RoundInputs) -> RobustOutcome:
        """The robust aggregate delta of ``updates`` and a decision per update.

        With one update, it is returned (clipped where the rule clips) and kept. Rules that need
        more updates than given (Krum needs ``n > 2f + 2``) degrade to the mean of those given
        and say so in the reason.
        """
