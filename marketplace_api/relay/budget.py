"""The per-owner gas budget over a rolling window: the pure maths.

Every relayed transaction is charged to the owner it was relayed for, with the gas its receipt
says it used. Before relaying, the charges of the last ``window`` seconds plus an estimate of the
new transaction must fit in the owner's allowance; otherwise the owner is told when enough of
the old charges leave the window (``Retry-After``). A charge made at ``t`` counts while
``now < t + window``.

Two allowances, kept simple on purpose:

- a **fresh** owner (no listing of theirs in the index old enough) gets ``fresh_gas``: a couple
  of listings a day, enough for an honest newcomer, and small enough that a flood of fresh keys
  costs the relayer little more than the per-IP rate limit lets through;
- an **established** owner (at least ``established_listings`` listings in the index, each with a
  readable metadata document, listed at least ``established_age`` seconds ago) gets
  ``established_gas``.

The history cannot be faked cheaply: it is the chain's (listings the indexer saw), and aging
takes real time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kernel.errors import ConfigurationError

LISTING_GAS_ESTIMATE = 250_000
"""What a relayed ``listDatasetFor`` is assumed to cost before it is sent (measured: 177,550 to
about 220,000 gas, depending on the document's CID and whether the owner listed before)."""


@dataclass(frozen=True)
class GasBudgetPolicy:
    """How much gas the relayer spends for one owner per window.

    Parameters
    ----------
    window : int, default 86400
        Length of the rolling window, seconds.
    fresh_gas : int, default 600000
        Allowance of an owner without history (two listings).
    established_gas : int, default 3000000
        Allowance of an owner with history (about thirteen listings).
    established_listings : int, default 1
        Listings in the index that make an owner established.
    established_age : int, default 86400
        Seconds those listings must have been on-chain.
    estimate : int, default LISTING_GAS_ESTIMATE
        Gas a relayed transaction is assumed to need before it is sent.
    """

    window: int = 86_400
    fresh_gas: int = 600_000
    established_gas: int = 3_000_000
    established_listings: int = 1
    established_age: int = 86_400
    estimate: int = LISTING_GAS_ESTIMATE

    def __post_init__(self) -> None:
        if self.window < 1:
            raise ConfigurationError("gas budget: the window must be at least 1 second")
        if self.estimate < 21_000:
            raise ConfigurationError("gas budget: the estimate must be at least 21000 gas")
        if min(self.fresh_gas, self.established_gas) < self.estimate:
            raise ConfigurationError(
                f"gas budget: every allowance must fit one relayed transaction "
                f"({self.estimate} gas), or honest owners could never list without gas"
            )
        if self.established_listings < 1 or self.established_age < 0:
            raise ConfigurationError("gas budget: established needs >= 1 listing, age >= 0")

    def allowance(self, established: bool) -> int:
        """The allowance of an owner with (``True``) or without history."""
        return self.established_gas if established else self.fresh_gas


@dataclass(frozen=True)
class Charge:
    """Gas charged to an owner at ``at`` (unix seconds)."""

    at: int
    gas: int


@dataclass(frozen=True)
class BudgetDecision:
    """What :func:`decide` decided.

    Attributes
    ----------
    allowed : bool
        Whether ``estimate`` more gas fits now.
    spent : int
        Gas charged within the window.
    allowance : int
        The owner's allowance.
    retry_after : int
        Seconds until it fits (0 when allowed).
    """

    allowed: bool
    spent: int
    allowance: int
    retry_after: int


def live_charges(charges: Sequence[Charge], *, window: int, now: int) -> list[Charge]:
    """The charges still in the window at ``now``, oldest first."""
    return sorted((c for c in charges if now < c.at + window), key=lambda c: c.at)


def decide(
    charges: Sequence[Charge], *, allowance: int, window: int, now: int, estimate: int
) -> BudgetDecision:
    """Whether ``estimate`` more gas fits in ``allowance`` over the window ending at ``now``.

    When it does not, ``retry_after`` is the time until the oldest charges have left the window
    and it fits (the whole window when the estimate alone exceeds the allowance, which a valid
    :class:`GasBudgetPolicy` rules out).

    Parameters
    ----------
    charges : sequence of Charge
        The owner's charges (any order; those outside the window are ignored).
    allowance : int
        Gas the owner may be charged per window.
    window : int
        Length of the window, seconds.
    now : int
        The current time (unix seconds).
    estimate : int
        Gas the next transaction is assumed to need.
    """
    live = live_charges(charges, window=window, now=now)
    spent = sum(c.gas for c in live)
    if spent + estimate <= allowance:
        return BudgetDecision(allowed=True, spent=spent, allowance=allowance, retry_after=0)
    wait = window
    remaining = spent
    for charge in live:
        remaining -= charge.gas
        if remaining + estimate <= allowance:
            wait = charge.at + window - now
            break
    return BudgetDecision(allowed=False, spent=spent, allowance=allowance, retry_after=max(1, wait))


__all__ = [
    "LISTING_GAS_ESTIMATE",
    "BudgetDecision",
    "Charge",
    "GasBudgetPolicy",
    "decide",
    "live_charges",
]
