"""What the dataset registry and the model market share: a protocol fee, pull balances, licences.

Both contracts sell licences for the reward token, credit a capped protocol fee to a fee recipient
and the rest to sellers' pull balances (``withdraw``), and are paused by ``PAUSER_ROLE`` (a pause
stops sales, never withdrawals). :class:`SalesClient` wraps that common surface once.
"""

from __future__ import annotations

from dataclasses import dataclass

from chain._access import EventMeta, PausableClient, event_filters, event_meta
from chain.signer import TxResult
from kernel.types import Address, Wei

BPS = 10_000
"""Basis points in a whole."""


@dataclass(frozen=True)
class FeeConfig:
    """The protocol fee of later sales and the account it is credited to.

    Attributes
    ----------
    fee_bps : int
        The fee in basis points (at most the contract's ``MAX_FEE_BPS``, 1,000).
    fee_recipient : Address
        The account credited with fees.
    """

    fee_bps: int
    fee_recipient: Address


@dataclass(frozen=True)
class Licence:
    """A licence bought for a dataset or a model.

    Attributes
    ----------
    at_block : int
        The block of the purchase.
    price_paid : Wei
        The amount the contract received from the buyer.
    """

    at_block: int
    price_paid: Wei


@dataclass(frozen=True)
class WithdrawnEvent:
    """A ``Withdrawn`` event: an account was paid its pull balance.

    Attributes
    ----------
    account : Address
        The account paid.
    amount : Wei
        The amount paid.
    meta : EventMeta
        Where it was emitted.
    """

    account: Address
    amount: Wei
    meta: EventMeta


@dataclass(frozen=True)
class FeeChangedEvent:
    """A ``FeeChanged`` event (the constructor emits the first one).

    Attributes
    ----------
    fee_bps : int
        The new fee in basis points.
    meta : EventMeta
        Where it was emitted.
    """

    fee_bps: int
    meta: EventMeta


@dataclass(frozen=True)
class FeeRecipientChangedEvent:
    """A ``FeeRecipientChanged`` event (the constructor emits the first one).

    Attributes
    ----------
    fee_recipient : Address
        The new fee recipient.
    meta : EventMeta
        Where it was emitted.
    """

    fee_recipient: Address
    meta: EventMeta


class SalesClient(PausableClient):
    """Fees, pull balances and licences of the registry and the market."""

    def fee_config(self) -> FeeConfig:
        """The protocol fee of later sales and its recipient."""
        fee_bps, recipient = self._call(self.contract.functions.feeConfig())
        return FeeConfig(fee_bps=int(fee_bps), fee_recipient=Address(recipient))

    def max_fee_bps(self) -> int:
        """The highest protocol fee the contract allows, in basis points (1,000)."""
        return int(self._call(self.contract.functions.MAX_FEE_BPS()))

    def set_fee_bps(self, fee_bps: int) -> TxResult:
        """Set the protocol fee of later sales (``FEE_ROLE`` only).

        Parameters
        ----------
        fee_bps : int
            The fee in basis points (at most :meth:`max_fee_bps`).
        """
        return self._send(self.contract.functions.setFeeBps(fee_bps))

    def set_fee_recipient(self, fee_recipient: str) -> TxResult:
        """Set the account credited with later fees (``FEE_ROLE`` only).

        Parameters
        ----------
        fee_recipient : str
            The new fee recipient (non-zero).
        """
        return self._send(self.contract.functions.setFeeRecipient(fee_recipient))

    def token_address(self) -> Address:
        """The token prices are paid in."""
        return Address(self._call(self.contract.functions.token()))

    def withdrawable(self, account: str) -> Wei:
        """What :meth:`withdraw` would pay ``account``.

        Parameters
        ----------
        account : str
            The account.
        """
        return Wei(int(self._call(self.contract.functions.withdrawable(account))))

    def withdraw(self) -> tuple[Wei, TxResult]:
        """Pay the signer its whole pull balance (never blocked by a pause).

        Returns
        -------
        tuple of (Wei, TxResult)
            The amount paid and the transaction.
        """
        result = self._send(self.contract.functions.withdraw())
        (event,) = self._emitted(result, "Withdrawn")
        return Wei(int(event["args"]["amount"])), result

    def has_licence(self, item_id: int, account: str) -> bool:
        """Whether ``account`` bought a licence for the dataset or model ``item_id``.

        Parameters
        ----------
        item_id : int
            The listing's id.
        account : str
            The account.
        """
        return bool(self._call(self.contract.functions.hasLicence(item_id, account)))

    def licence_of(self, item_id: int, account: str) -> Licence | None:
        """The licence ``account`` bought for the listing ``item_id``, or ``None``.

        Parameters
        ----------
        item_id : int
            The listing's id.
        account : str
            The account.
        """
        at_block, price_paid = self._call(self.contract.functions.licenceOf(item_id, account))
        if int(at_block) == 0:
            return None
        return Licence(at_block=int(at_block), price_paid=Wei(int(price_paid)))

    def withdrawn_events(self, account: str | None = None) -> list[WithdrawnEvent]:
        """``Withdrawn`` events, in chain order.

        Parameters
        ----------
        account : str or None, default None
            Only those paying this account.
        """
        return [
            WithdrawnEvent(
                account=Address(e["args"]["account"]),
                amount=Wei(int(e["args"]["amount"])),
                meta=event_meta(e),
            )
            for e in self._logs("Withdrawn", **event_filters(account=account))
        ]

    def fee_changed_events(self) -> list[FeeChangedEvent]:
        """``FeeChanged`` events, in chain order (the first is the constructor's)."""
        return [
            FeeChangedEvent(fee_bps=int(e["args"]["feeBps"]), meta=event_meta(e))
            for e in self._logs("FeeChanged")
        ]

    def fee_recipient_changed_events(self) -> list[FeeRecipientChangedEvent]:
        """``FeeRecipientChanged`` events, in chain order (the first is the constructor's)."""
        return [
            FeeRecipientChangedEvent(
                fee_recipient=Address(e["args"]["feeRecipient"]), meta=event_meta(e)
            )
            for e in self._logs("FeeRecipientChanged")
        ]
