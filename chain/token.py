"""Typed client of the RewardToken (ERC-20, EIP-2612 permits, capped supply, roles).

The supply starts at 0 and grows only through :meth:`RewardTokenClient.mint`, by an account holding
:data:`~chain._access.MINTER_ROLE`, never above :meth:`RewardTokenClient.cap` (the contract reverts
with ``AccessControlUnauthorizedAccount`` or ``ERC20ExceededCap``, surfaced as
:class:`~chain.errors.ChainRevertError` before anything is sent). A holder can also approve a
spender by signature (:func:`sign_permit`), which anyone submits (:meth:`RewardTokenClient.permit`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount

from chain._access import MINTER_ROLE, EventMeta, RoleClient, event_filters, event_meta
from chain._typed_data import EIP712_DOMAIN_TYPE, SignatureError, sign_typed_data, typed_domain
from chain.signer import TxResult
from kernel.types import Address, Hash32, Wei

TOKEN_NAME = "FedMarket Token"
"""The token's name, also its EIP-2612 domain name."""
PERMIT_DOMAIN_VERSION = "1"
"""The version of the token's EIP-712 domain."""

_PERMIT_FIELDS = [
    {"name": "owner", "type": "address"},
    {"name": "spender", "type": "address"},
    {"name": "value", "type": "uint256"},
    {"name": "nonce", "type": "uint256"},
    {"name": "deadline", "type": "uint256"},
]


@dataclass(frozen=True, kw_only=True)
class PermitRequest:
    """What a holder signs to approve a spender without a transaction (EIP-2612 ``Permit``).

    Attributes
    ----------
    owner : str
        The holder, who signs.
    spender : str
        Who may then move the tokens.
    value : int
        The allowance set, in token wei.
    nonce : int
        The holder's current permit nonce (:meth:`RewardTokenClient.nonce`).
    deadline : int
        Last timestamp at which the signature is valid.
    """

    owner: str
    spender: str
    value: int
    nonce: int
    deadline: int


def permit_typed_data(chain_id: int, token: str, request: PermitRequest) -> dict[str, Any]:
    """The EIP-712 ``Permit`` message of ``request``, for ``encode_typed_data(full_message=...)``.

    Parameters
    ----------
    chain_id : int
        The chain the token lives on.
    token : str
        The token's address.
    request : PermitRequest
        What is signed.
    """
    return {
        "types": {
            "EIP712Domain": [dict(f) for f in EIP712_DOMAIN_TYPE],
            "Permit": [dict(f) for f in _PERMIT_FIELDS],
        },
        "primaryType": "Permit",
        "domain": typed_domain(TOKEN_NAME, PERMIT_DOMAIN_VERSION, chain_id, token),
        "message": {
            "owner": request.owner,
            "spender": request.spender,
            "value": request.value,
            "nonce": request.nonce,
            "deadline": request.deadline,
        },
    }


def sign_permit(account: LocalAccount, chain_id: int, token: str, request: PermitRequest) -> bytes:
    """The holder's 65-byte signature of a permit.

    Parameters
    ----------
    account : LocalAccount
        The holder's key (its address should be ``request.owner``).
    chain_id : int
        The chain the token lives on.
    token : str
        The token's address.
    request : PermitRequest
        What is signed.
    """
    return sign_typed_data(account, permit_typed_data(chain_id, token, request))


@dataclass(frozen=True)
class TransferEvent:
    """A ``Transfer`` event (``sender`` is the zero address for a mint).

    Attributes
    ----------
    sender : Address
        Whose tokens moved.
    recipient : Address
        Who received them.
    value : Wei
        The amount.
    meta : EventMeta
        Where it was emitted.
    """

    sender: Address
    recipient: Address
    value: Wei
    meta: EventMeta


class RewardTokenClient(RoleClient):
    """Balances, allowances, transfers, permits, the cap, and minting by ``MINTER_ROLE``.

    Roles (:meth:`has_role`, :meth:`grant_role`, :meth:`revoke_role`, ...) come from
    :class:`~chain._access.RoleClient`.
    """

    artifact_name = "RewardToken"

    def name(self) -> str:
        """The token's name (:data:`TOKEN_NAME`)."""
        return str(self._call(self.contract.functions.name()))

    def symbol(self) -> str:
        """The token's symbol (``FMT``)."""
        return str(self._call(self.contract.functions.symbol()))

    def decimals(self) -> int:
        """The token's decimals (18)."""
        return int(self._call(self.contract.functions.decimals()))

    def balance_of(self, account: str) -> Wei:
        """Token balance of ``account``.

        Parameters
        ----------
        account : str
            The account.
        """
        return Wei(int(self._call(self.contract.functions.balanceOf(account))))

    def total_supply(self) -> Wei:
        """All tokens in existence."""
        return Wei(int(self._call(self.contract.functions.totalSupply())))

    def cap(self) -> Wei:
        """The largest total supply ever allowed (fixed at deployment)."""
        return Wei(int(self._call(self.contract.functions.cap())))

    def mintable(self) -> Wei:
        """What can still be minted: ``cap - total supply``."""
        return Wei(self.cap() - self.total_supply())

    def allowance(self, owner: str, spender: str) -> Wei:
        """What ``spender`` may move from ``owner``.

        Parameters
        ----------
        owner : str
            The holder.
        spender : str
            The spender.
        """
        return Wei(int(self._call(self.contract.functions.allowance(owner, spender))))

    def is_minter(self, account: str) -> bool:
        """Whether ``account`` holds ``MINTER_ROLE``.

        Parameters
        ----------
        account : str
            The account.
        """
        return self.has_role(MINTER_ROLE, account)

    def mint(self, to: str, amount: int) -> TxResult:
        """Create ``amount`` for ``to`` (``MINTER_ROLE`` only, never above the cap).

        Parameters
        ----------
        to : str
            The receiving account.
        amount : int
            The amount, in token wei.
        """
        return self._send(self.contract.functions.mint(to, amount))

    def approve(self, spender: str, amount: int) -> TxResult:
        """Let ``spender`` move ``amount`` of the signer's tokens.

        Parameters
        ----------
        spender : str
            The spender.
        amount : int
            The allowance, in token wei (it replaces the previous one).
        """
        return self._send(self.contract.functions.approve(spender, amount))

    def transfer(self, to: str, amount: int) -> TxResult:
        """Send ``amount`` of the signer's tokens to ``to``.

        Parameters
        ----------
        to : str
            The recipient.
        amount : int
            The amount, in token wei.
        """
        return self._send(self.contract.functions.transfer(to, amount))

    def transfer_from(self, owner: str, to: str, amount: int) -> TxResult:
        """Move ``amount`` from ``owner`` to ``to`` under the signer's allowance.

        Parameters
        ----------
        owner : str
            The holder.
        to : str
            The recipient.
        amount : int
            The amount, in token wei.
        """
        return self._send(self.contract.functions.transferFrom(owner, to, amount))

    def nonce(self, owner: str) -> int:
        """The nonce ``owner``'s next permit must carry.

        Parameters
        ----------
        owner : str
            The holder.
        """
        return int(self._call(self.contract.functions.nonces(owner)))

    def domain_separator(self) -> Hash32:
        """The token's EIP-712 domain separator (:data:`TOKEN_NAME`, version 1)."""
        return Hash32(bytes(self._call(self.contract.functions.DOMAIN_SEPARATOR())))

    def permit(self, request: PermitRequest, signature: bytes) -> TxResult:
        """Submit a holder's signed permit (the signer of this client pays the gas).

        Parameters
        ----------
        request : PermitRequest
            The signed request (its nonce is not sent: the contract uses the current one).
        signature : bytes
            The holder's 65-byte ``r || s || v`` signature (:func:`sign_permit`).

        Raises
        ------
        SignatureError
            When ``signature`` is not 65 bytes long.
        """
        if len(signature) != 65:
            raise SignatureError(f"permit: signature of {len(signature)} bytes, expected 65")
        fn = self.contract.functions.permit(
            request.owner,
            request.spender,
            request.value,
            request.deadline,
            signature[64],
            signature[:32],
            signature[32:64],
        )
        return self._send(fn)

    def transfer_events(
        self, *, sender: str | None = None, recipient: str | None = None
    ) -> list[TransferEvent]:
        """``Transfer`` events, in chain order (scans from the client's ``from_block``).

        Parameters
        ----------
        sender : str or None, default None
            Only those moving this account's tokens (the zero address for mints).
        recipient : str or None, default None
            Only those paying this account.
        """
        filters = event_filters(**{"from": sender, "to": recipient})
        return [
            TransferEvent(
                sender=Address(e["args"]["from"]),
                recipient=Address(e["args"]["to"]),
                value=Wei(int(e["args"]["value"])),
                meta=event_meta(e),
            )
            for e in self._logs("Transfer", **filters)
        ]
