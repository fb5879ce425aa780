"""Roles and pauses of the OpenZeppelin-based contracts, and reading events into records.

Every fedmarket contract but the court's helpers is an ``AccessControl``; the registry, the market
and FedTask are also ``Pausable``. :class:`RoleClient` and :class:`PausableClient` wrap those parts
once, for every typed client built on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_utils.crypto import keccak
from web3.logs import DISCARD

from chain._client import ContractClient
from chain.errors import ChainError
from chain.signer import TxResult
from kernel.types import Address, Hash32


def role_id(name: str) -> Hash32:
    """The id of an AccessControl role: ``keccak256(name)``.

    Parameters
    ----------
    name : str
        The role's name, e.g. ``"MINTER_ROLE"``.
    """
    return Hash32(keccak(text=name))


DEFAULT_ADMIN_ROLE = Hash32(bytes(32))
"""Grants and revokes every other role (``bytes32(0)``)."""
MINTER_ROLE = role_id("MINTER_ROLE")
"""May mint reward tokens (RewardToken)."""
PAUSER_ROLE = role_id("PAUSER_ROLE")
"""May pause and unpause (DatasetRegistry, ModelMarket, FedTask, ChallengeCourt)."""
FEE_ROLE = role_id("FEE_ROLE")
"""May set the protocol fee and its recipient (DatasetRegistry, ModelMarket)."""


@dataclass(frozen=True)
class EventMeta:
    """Where an event was emitted.

    Attributes
    ----------
    block : int
        The block of the transaction.
    tx_hash : str
        The transaction's hash, ``0x`` hex.
    log_index : int
        The event's index in its block.
    """

    block: int
    tx_hash: str
    log_index: int


def event_meta(log: Any) -> EventMeta:
    """The :class:`EventMeta` of a decoded log.

    Parameters
    ----------
    log : EventData
        A log decoded by web3 (from ``get_logs`` or ``process_receipt``).
    """
    return EventMeta(
        block=int(log["blockNumber"]),
        tx_hash="0x" + bytes(log["transactionHash"]).hex(),
        log_index=int(log["logIndex"]),
    )


@dataclass(frozen=True)
class RoleEvent:
    """A ``RoleGranted`` or ``RoleRevoked`` event.

    Attributes
    ----------
    role : Hash32
        The role's id.
    account : Address
        The account that gained or lost the role.
    sender : Address
        The account that granted or revoked it.
    granted : bool
        True for ``RoleGranted``, False for ``RoleRevoked``.
    meta : EventMeta
        Where it was emitted.
    """

    role: Hash32
    account: Address
    sender: Address
    granted: bool
    meta: EventMeta


@dataclass(frozen=True)
class PauseEvent:
    """A ``Paused`` or ``Unpaused`` event.

    Attributes
    ----------
    paused : bool
        True for ``Paused``, False for ``Unpaused``.
    account : Address
        The account that paused or unpaused.
    meta : EventMeta
        Where it was emitted.
    """

    paused: bool
    account: Address
    meta: EventMeta


class RoleClient(ContractClient):
    """A client of an OpenZeppelin ``AccessControl`` contract: role views, grants, revocations."""

    def has_role(self, role: bytes, account: str) -> bool:
        """Whether ``account`` holds ``role``.

        Parameters
        ----------
        role : bytes
            The role's id (:data:`MINTER_ROLE`, :data:`PAUSER_ROLE`, ...).
        account : str
            The account.
        """
        return bool(self._call(self.contract.functions.hasRole(role, account)))

    def role_admin(self, role: bytes) -> Hash32:
        """The role whose holders grant and revoke ``role``.

        Parameters
        ----------
        role : bytes
            The role's id.
        """
        return Hash32(bytes(self._call(self.contract.functions.getRoleAdmin(role))))

    def grant_role(self, role: bytes, account: str) -> TxResult:
        """Give ``role`` to ``account`` (holders of the role's admin role only).

        Parameters
        ----------
        role : bytes
            The role's id.
        account : str
            The account.
        """
        return self._send(self.contract.functions.grantRole(role, account))

    def revoke_role(self, role: bytes, account: str) -> TxResult:
        """Take ``role`` from ``account`` (holders of the role's admin role only).

        Parameters
        ----------
        role : bytes
            The role's id.
        account : str
            The account.
        """
        return self._send(self.contract.functions.revokeRole(role, account))

    def renounce_role(self, role: bytes) -> TxResult:
        """Give up ``role`` as the signer.

        Parameters
        ----------
        role : bytes
            The role's id.
        """
        return self._send(self.contract.functions.renounceRole(role, self._sender()))

    def role_events(
        self, *, role: bytes | None = None, account: str | None = None
    ) -> list[RoleEvent]:
        """``RoleGranted`` and ``RoleRevoked`` events, in chain order.

        Parameters
        ----------
        role : bytes or None, default None
            Only this role's.
        account : str or None, default None
            Only those of this account.
        """
        filters = event_filters(role=role, account=account)
        logs = [(True, e) for e in self._logs("RoleGranted", **filters)]
        logs += [(False, e) for e in self._logs("RoleRevoked", **filters)]
        events = [
            RoleEvent(
                role=Hash32(bytes(e["args"]["role"])),
                account=Address(e["args"]["account"]),
                sender=Address(e["args"]["sender"]),
                granted=granted,
                meta=event_meta(e),
            )
            for granted, e in logs
        ]
        return sorted(events, key=lambda ev: (ev.meta.block, ev.meta.log_index))

    def _sender(self) -> str:
        """The signer's address (:class:`ChainError` for a read-only client)."""
        if self.signer is None:
            raise ChainError(f"{type(self).__name__}: read-only client has no signer")
        return self.signer.address

    def _emitted(self, result: TxResult, event: str) -> list[Any]:
        """The ``event`` logs of this contract in a mined transaction's receipt."""
        ev = getattr(self.contract.events, event)()
        logs: list[Any] = ev.process_receipt(result.receipt, errors=DISCARD)
        return [e for e in logs if str(e["address"]).lower() == self.address.lower()]


class PausableClient(RoleClient):
    """A client of a contract that is also OpenZeppelin ``Pausable``."""

    def paused(self) -> bool:
        """Whether the contract is paused."""
        return bool(self._call(self.contract.functions.paused()))

    def pause(self) -> TxResult:
        """Pause the contract (``PAUSER_ROLE`` only)."""
        return self._send(self.contract.functions.pause())

    def unpause(self) -> TxResult:
        """End a pause (``PAUSER_ROLE`` only)."""
        return self._send(self.contract.functions.unpause())

    def pause_events(self) -> list[PauseEvent]:
        """``Paused`` and ``Unpaused`` events, in chain order."""
        logs = [(True, e) for e in self._logs("Paused")]
        logs += [(False, e) for e in self._logs("Unpaused")]
        events = [
            PauseEvent(paused=paused, account=Address(e["args"]["account"]), meta=event_meta(e))
            for paused, e in logs
        ]
        return sorted(events, key=lambda ev: (ev.meta.block, ev.meta.log_index))


def event_filters(**values: Any) -> dict[str, Any]:
    """The indexed-argument filters that were given (``None`` means any).

    Parameters
    ----------
    **values : Any
        Indexed arguments by name; those that are ``None`` are left out.
    """
    return {name: value for name, value in values.items() if value is not None}
