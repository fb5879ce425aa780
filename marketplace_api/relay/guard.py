"""The relay guard: rate limits, the gas budget and the balance floor, checked in that order.

One :class:`RelayGuard` per API process (``services.relay``). The route dependencies
(:mod:`marketplace_api.api.limits`) call :meth:`RelayGuard.check_client` and
:meth:`RelayGuard.check_balance` before a handler runs; the handler, once the owner's signature
is verified, wraps the relay itself in :meth:`RelayGuard.relaying`, which applies the owner's rate
limit, reserves the gas estimate in the owner's budget, and charges the receipt's ``gasUsed``::

    with gate.relaying(owner) as charge:
        dataset_id, tx = registry.list_dataset_for(request, signature)
        charge(tx)

A relay that raises is not charged (its reservation is dropped): the chain client simulates
every transaction first, so one that reverts is almost always refused before it is sent.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol, TypeVar

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from marketplace_api.core.db import Database
from marketplace_api.core.db import write_transaction as _write
from marketplace_api.relay import ledger
from marketplace_api.relay.balance import BalanceStatus, BalanceWatch
from marketplace_api.relay.budget import BudgetDecision, decide
from marketplace_api.relay.clients import client_key
from marketplace_api.relay.errors import (
    GasBudgetExceededError,
    RateLimitedError,
    RelayerBalanceLowError,
)
from marketplace_api.relay.policy import RelayPolicy
from marketplace_api.relay.ratelimit import Limiter

log = logging.getLogger(__name__)

T = TypeVar("T")

WRITE_ATTEMPTS = 5
"""Tries of a ledger write the database refused as busy."""

PRUNE_EVERY_S = 300.0
"""Least seconds between two prunings of charges that left the window."""


class Mined(Protocol):
    """What :meth:`RelayGuard.relaying` charges: a mined transaction (``chain.TxResult``)."""

    @property
    def tx_hash(self) -> str:
        """The transaction's hash, ``0x`` hex."""
        ...

    @property
    def gas_used(self) -> int:
        """The receipt's ``gasUsed``."""
        ...


Charger = Callable[[Mined], None]
"""Charges a mined transaction to the reservation :meth:`RelayGuard.relaying` made."""


class RelayGuard:
    """Everything that stands between a request and the relayer's money.

    Parameters
    ----------
    policy : RelayPolicy
        The limits.
    database : Database
        The marketplace database (the gas ledger is written in the request's session).
    relayer : str
        The relayer's address.
    read_balance : callable
        Reads the relayer's balance in wei from the chain.
    clock : callable, default time.time
        Unix seconds; tests inject their own (it may be replaced on the instance).
    """

    def __init__(
        self,
        policy: RelayPolicy,
        database: Database,
        *,
        relayer: str,
        read_balance: Callable[[], int],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.policy = policy
        self.database = database
        self.clock = clock
        self.by_address = Limiter(policy.address, policy.max_keys)
        self.by_client = Limiter(policy.ip, policy.max_keys)
        self.sign_in_by_client = Limiter(policy.sign_in_ip, policy.max_keys)
        self.balance = BalanceWatch(
            relayer,
            read_balance,
            floor_wei=policy.balance_floor_wei,
            refresh=policy.balance_refresh,
            clock=lambda: self.clock(),
        )
        self._pruned_at = float("-inf")

    def client(self, peer: str | None, forwarded_for: str | None) -> str:
        """The key a request's client is counted under (see :func:`client_key`)."""
        return client_key(peer, forwarded_for, self.policy.trusted_proxies)

    def _take(self, limiter: Limiter, key: str, who: str) -> None:
        decision = limiter.take(key, self.clock())
        if decision.allowed:
            return
        limit = limiter.limit
        retry = decision.retry_after_s
        log.info("rate limit: %s refused %s (retry after %s s)", limit.name, who, retry)
        raise RateLimitedError(
            f"rate limit '{limit.name}' ({limit.describe()}) reached for {who}; "
            f"retry after {retry} s",
            limit=limit.name,
            retry_after=retry,
        )

    def check_client(self, client: str) -> None:
        """Take a token of the client's write bucket (429 when empty)."""
        self._take(self.by_client, client, f"client {client}")

    def check_sign_in(self, client: str) -> None:
        """Take a token of the client's sign-in bucket (429 when empty)."""
        self._take(self.sign_in_by_client, client, f"client {client}")

    def check_address(self, address: str) -> None:
        """Take a token of the signer's bucket (429 when empty)."""
        self._take(self.by_address, address, f"signer {address}")

    def balance_status(self) -> BalanceStatus:
        """The relayer's balance as last read (read again when stale)."""
        return self.balance.status()

    def check_balance(self) -> BalanceStatus:
        """The relayer's balance; 503 when it is below the floor.

        Raises
        ------
        RelayerBalanceLowError
            Naming the balance, the floor, and how to list directly on-chain.
        """
        status = self.balance.status()
        if status.low:
            raise RelayerBalanceLowError(
                f"relayer balance low: {status.balance_wei} wei, floor {status.floor_wei}; "
                "list directly on-chain with DatasetRegistry.listDataset (paying your own gas: "
                "the index picks the listing up) or retry later",
                retry_after=self.policy.low_balance_retry_after,
            )
        return status

    @contextmanager
    def relaying(
        self, session: Session, deployment_id: int, owner: str, action: str = "list_dataset"
    ) -> Iterator[Charger]:
        """Admit one relayed transaction for ``owner`` and charge what it used.

        Applies the owner's rate limit, reserves the estimate in the owner's gas budget (429
        when it does not fit), yields the function that charges the mined transaction, and drops
        the reservation when the block raises. The reservation and the charge are committed in
        ``session`` (the request's: whatever else it holds is committed with them).

        Parameters
        ----------
        session : Session
            The request's database session.
        deployment_id : int
            The deployment the transaction goes to.
        owner : str
            Who the relayer pays for (the verified signer).
        action : str, default "list_dataset"
            What is relayed (recorded with the charge).

        Raises
        ------
        RateLimitedError
            The owner's rate limit is reached.
        GasBudgetExceededError
            The owner's gas budget has no room for the estimate now.
        """
        self.check_address(owner)
        charge_id = self._reserve(session, deployment_id, owner, action)
        charged = False

        def charge(tx: Mined) -> None:
            nonlocal charged
            charged = True
            try:
                _write(
                    session,
                    lambda: ledger.settle(
                        session, charge_id, gas=int(tx.gas_used), tx_hash=tx.tx_hash
                    ),
                )
            except SQLAlchemyError as exc:  # the relay succeeded: the estimate stays charged
                log.warning("relaying: charge of %s not recorded: %s", tx.tx_hash, exc)

        try:
            yield charge
        except BaseException:
            if not charged:
                session.rollback()
                _write(session, lambda: ledger.release(session, charge_id))
            raise
        finally:
            self.balance.invalidate()
        if not charged:
            log.warning("relaying: %s for %s was not charged: the estimate stays", action, owner)

    def _reserve(self, session: Session, deployment_id: int, owner: str, action: str) -> int:
        budget = self.policy.budget
        now = int(self.clock())
        since = now - budget.window

        def reserve() -> int:
            self._prune(session, since)
            return ledger.reserve(
                session, deployment_id, owner, action=action, at=now, gas=budget.estimate
            )

        charge_id = _write(session, reserve)
        history = ledger.established(
            session,
            deployment_id,
            owner,
            listed_before=now - budget.established_age,
            listings=budget.established_listings,
        )
        others = ledger.charges(session, deployment_id, owner, since, exclude=charge_id)
        decision = decide(
            others,
            allowance=budget.allowance(history),
            window=budget.window,
            now=now,
            estimate=budget.estimate,
        )
        session.commit()  # end the read before writing again (see _write)
        if not decision.allowed:
            _write(session, lambda: ledger.release(session, charge_id))
            raise self._over_budget(owner, history, decision)
        return charge_id

    def _over_budget(
        self, owner: str, history: bool, decision: BudgetDecision
    ) -> GasBudgetExceededError:
        budget = self.policy.budget
        kind = "established" if history else "fresh"
        name = f"gas budget per owner ({kind})"
        log.info("gas budget: refused %s (%s gas spent)", owner, decision.spent)
        return GasBudgetExceededError(
            f"{name}: {owner} was relayed {decision.spent} gas in the last {budget.window} s "
            f"of {decision.allowance}; the next transaction needs about {budget.estimate}; "
            f"retry after {decision.retry_after} s, or list directly on-chain with "
            "DatasetRegistry.listDataset paying your own gas",
            limit=name,
            retry_after=decision.retry_after,
        )

    def _prune(self, session: Session, before: int) -> None:
        now = self.clock()
        if now - self._pruned_at < PRUNE_EVERY_S:
            return
        self._pruned_at = now
        removed = ledger.prune(session, before)
        if removed:
            log.info("prune: %s gas charges left the window", removed)


__all__ = ["Charger", "Mined", "RelayGuard"]
