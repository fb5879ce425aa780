"""Typed client of the ModelMarket, and the reference arithmetic of its sales and claims.

The sponsor of a final task lists its model (:meth:`ModelMarketClient.list_model`); a buyer pays
the current price, at most what it agreed to (:meth:`ModelMarketClient.buy`). A sale splits the
amount received into a protocol fee, the sponsor's cut, and the contributors' part rounded down to
a multiple of 10,000 wei, the residue going to the sponsor (:func:`sale_split`). The contributors'
part adds to the listing's proceeds, from which each contributor of the task pulls its share
(:func:`contributor_entitlement`, :meth:`ModelMarketClient.claim_proceeds`); because the proceeds
are a multiple of 10,000 and the shares sum to 10,000 basis points, the claims sum to the proceeds
to the wei. Sponsor cuts and fees are pull balances (:meth:`ModelMarketClient.withdraw`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chain._access import EventMeta, event_filters, event_meta
from chain._sales import BPS, SalesClient
from chain.signer import TxResult
from kernel.errors import InvalidInputError
from kernel.types import Address, Cid, Hash32, TaskId, Wei

PROCEEDS_UNIT = 10_000
"""The contributors' part of a sale is a multiple of this many wei."""
MAX_FEE_BPS = 1_000
"""The contract's highest protocol fee, in basis points."""
MAX_SPONSOR_BPS = BPS - MAX_FEE_BPS
"""The contract's highest sponsor's cut, in basis points, so fee and cut never exceed a sale."""


@dataclass(frozen=True)
class SaleSplit:
    """Where the amount received for a model goes.

    Attributes
    ----------
    paid : Wei
        The amount received from the buyer.
    fee : Wei
        The protocol fee: ``paid * fee_bps // 10,000``.
    sponsor_cut : Wei
        The sponsor's cut: ``paid * sponsor_bps // 10,000``.
    residue : Wei
        What rounding the contributors' part down left over (below 10,000 wei), for the sponsor.
    sponsor_amount : Wei
        What the sponsor is credited: ``sponsor_cut + residue``.
    contributors_amount : Wei
        The contributors' part added to the proceeds (a multiple of 10,000 wei).
    """

    paid: Wei
    fee: Wei
    sponsor_cut: Wei
    residue: Wei
    sponsor_amount: Wei
    contributors_amount: Wei


def sale_split(paid: int, fee_bps: int, sponsor_bps: int) -> SaleSplit:
    """The split of a model sale, computed as ``ModelMarket.buy`` does.

    Parameters
    ----------
    paid : int
        The amount received from the buyer, in token wei.
    fee_bps : int
        The protocol fee in basis points.
    sponsor_bps : int
        The listing's sponsor cut in basis points.

    Raises
    ------
    InvalidInputError
        When ``paid`` or a rate is negative, or the rates add up to more than 10,000.
    """
    if paid < 0 or fee_bps < 0 or sponsor_bps < 0 or fee_bps + sponsor_bps > BPS:
        raise InvalidInputError(
            f"sale_split: paid={paid}, fee_bps={fee_bps}, sponsor_bps={sponsor_bps}"
        )
    fee = paid * fee_bps // BPS
    sponsor_cut = paid * sponsor_bps // BPS
    rest = paid - fee - sponsor_cut
    residue = rest % PROCEEDS_UNIT
    return SaleSplit(
        paid=Wei(paid),
        fee=Wei(fee),
        sponsor_cut=Wei(sponsor_cut),
        residue=Wei(residue),
        sponsor_amount=Wei(sponsor_cut + residue),
        contributors_amount=Wei(rest - residue),
    )


def contributor_entitlement(proceeds: int, share_bps: int, claimed: int = 0) -> Wei:
    """What a contributor can claim: ``proceeds * share_bps // 10,000 - claimed``, at least 0.

    Exact (no rounding) when ``proceeds`` is a multiple of 10,000, as the market keeps it.

    Parameters
    ----------
    proceeds : int
        The listing's proceeds so far, in token wei.
    share_bps : int
        The contributor's share of the task, in basis points (0 to 10,000).
    claimed : int, default 0
        What the contributor has claimed of this listing already.

    Raises
    ------
    InvalidInputError
        When an amount is negative or the share is out of range.
    """
    if proceeds < 0 or claimed < 0 or not 0 <= share_bps <= BPS:
        raise InvalidInputError(
            f"contributor_entitlement: proceeds={proceeds}, share_bps={share_bps}, "
            f"claimed={claimed}"
        )
    return Wei(max(proceeds * share_bps // BPS - claimed, 0))


@dataclass(frozen=True)
class ModelListing:
    """A model listing as the contract stores it (``IModelMarket.ModelListing``).

    Attributes
    ----------
    model_id : int
        The listing's id (ids start at 1).
    lister : Address
        The task's sponsor, who listed the model and receives the sponsor's cut.
    sponsor_bps : int
        The sponsor's cut of each sale, in basis points (fixed at listing).
    active : bool
        Whether the model can be bought.
    listed_at : int
        Timestamp of the block that recorded the listing.
    task_id : TaskId
        The completed task that trained the model.
    price : Wei
        Price of a licence.
    proceeds : Wei
        Contributors' part of every sale so far (a multiple of 10,000 wei).
    claimed : Wei
        Proceeds already claimed by contributors.
    card_hash : Hash32
        Hash of the model card.
    card_cid : Cid
        Content identifier of the model card.
    """

    model_id: int
    lister: Address
    sponsor_bps: int
    active: bool
    listed_at: int
    task_id: TaskId
    price: Wei
    proceeds: Wei
    claimed: Wei
    card_hash: Hash32
    card_cid: Cid


@dataclass(frozen=True)
class ModelListedEvent:
    """A ``ModelListed`` event.

    Attributes
    ----------
    model_id : int
        The new listing's id.
    task_id : TaskId
        The task that trained the model.
    lister : Address
        The task's sponsor.
    price : Wei
        Price of a licence.
    sponsor_bps : int
        The sponsor's cut of each sale, in basis points.
    card_cid : Cid
        Content identifier of the model card.
    card_hash : Hash32
        Hash of the model card.
    meta : EventMeta
        Where it was emitted.
    """

    model_id: int
    task_id: TaskId
    lister: Address
    price: Wei
    sponsor_bps: int
    card_cid: Cid
    card_hash: Hash32
    meta: EventMeta


@dataclass(frozen=True)
class ModelPriceChangedEvent:
    """A ``ModelPriceChanged`` event.

    Attributes
    ----------
    model_id : int
        The listing's id.
    price : Wei
        The new price.
    meta : EventMeta
        Where it was emitted.
    """

    model_id: int
    price: Wei
    meta: EventMeta


@dataclass(frozen=True)
class ModelActiveChangedEvent:
    """A ``ModelActiveChanged`` event.

    Attributes
    ----------
    model_id : int
        The listing's id.
    active : bool
        Whether the model can now be bought.
    meta : EventMeta
        Where it was emitted.
    """

    model_id: int
    active: bool
    meta: EventMeta


@dataclass(frozen=True)
class ModelBoughtEvent:
    """A ``ModelBought`` event: a licence was sold and the payment split.

    Attributes
    ----------
    model_id : int
        The listing's id.
    buyer : Address
        The licence holder.
    paid : Wei
        The amount received from the buyer.
    fee : Wei
        The protocol fee credited to the fee recipient.
    sponsor_amount : Wei
        The sponsor's cut plus the rounding residue, credited to the lister.
    contributors_amount : Wei
        The contributors' part added to the proceeds (a multiple of 10,000 wei).
    meta : EventMeta
        Where it was emitted.
    """

    model_id: int
    buyer: Address
    paid: Wei
    fee: Wei
    sponsor_amount: Wei
    contributors_amount: Wei
    meta: EventMeta


@dataclass(frozen=True)
class ProceedsClaimedEvent:
    """A ``ProceedsClaimed`` event: a contributor pulled its share of a listing's proceeds.

    Attributes
    ----------
    model_id : int
        The listing's id.
    contributor : Address
        The contributor paid.
    amount : Wei
        The amount paid.
    meta : EventMeta
        Where it was emitted.
    """

    model_id: int
    contributor: Address
    amount: Wei
    meta: EventMeta


class ModelMarketClient(SalesClient):
    """Calls, views and events of the ModelMarket, typed.

    Fees, pull balances, licences (:meth:`has_licence`, :meth:`licence_of` by model id), roles
    and pauses come from :class:`~chain._sales.SalesClient`.
    """

    artifact_name = "ModelMarket"

    def list_model(
        self, task_id: int, price: int, sponsor_bps: int, card_cid: str, card_hash: bytes
    ) -> tuple[int, TxResult]:
        """List a final task's model, as the task's sponsor.

        Parameters
        ----------
        task_id : int
            The task's id (the task must be final: ``MarketTaskNotFinal`` otherwise).
        price : int
            Price of a licence in token wei.
        sponsor_bps : int
            The sponsor's cut of each sale, in basis points (at most :data:`MAX_SPONSOR_BPS`).
        card_cid : str
            Content identifier of the model card.
        card_hash : bytes
            Hash of the model card (non-zero).

        Returns
        -------
        tuple of (int, TxResult)
            The new listing's id and the transaction.
        """
        fn = self.contract.functions.listModel(task_id, price, sponsor_bps, card_cid, card_hash)
        result = self._send(fn)
        (event,) = self._emitted(result, "ModelListed")
        return int(event["args"]["modelId"]), result

    def set_price(self, model_id: int, price: int) -> TxResult:
        """Change a listing's price for later sales (its lister only).

        Parameters
        ----------
        model_id : int
            The listing's id.
        price : int
            The new price in token wei.
        """
        return self._send(self.contract.functions.setPrice(model_id, price))

    def set_active(self, model_id: int, active: bool) -> TxResult:
        """Activate or deactivate a listing (its lister only).

        Parameters
        ----------
        model_id : int
            The listing's id.
        active : bool
            Whether the model can be bought.
        """
        return self._send(self.contract.functions.setActive(model_id, active))

    def buy(self, model_id: int, max_price: int) -> tuple[ModelBoughtEvent, TxResult]:
        """Buy a licence for a model at its current price.

        The signer approves the market for the price first (:meth:`RewardTokenClient.approve`).

        Parameters
        ----------
        model_id : int
            The listing's id.
        max_price : int
            The most the signer agrees to pay: a price raised above it reverts with
            ``MarketPriceAboveMax`` instead of charging more.

        Returns
        -------
        tuple of (ModelBoughtEvent, TxResult)
            The sale as the contract split it, and the transaction.
        """
        result = self._send(self.contract.functions.buy(model_id, max_price))
        (event,) = self._emitted(result, "ModelBought")
        return _bought(event), result

    def claim_proceeds(self, model_id: int) -> tuple[Wei, TxResult]:
        """Pay the signer, a contributor of the model's task, its unclaimed share of the proceeds.

        Parameters
        ----------
        model_id : int
            The listing's id.

        Returns
        -------
        tuple of (Wei, TxResult)
            The amount paid and the transaction.
        """
        result = self._send(self.contract.functions.claimProceeds(model_id))
        (event,) = self._emitted(result, "ProceedsClaimed")
        return Wei(int(event["args"]["amount"])), result

    def model(self, model_id: int) -> ModelListing:
        """A listing by id (``MarketUnknownModel`` when there is none).

        Parameters
        ----------
        model_id : int
            The listing's id.
        """
        raw = self._call(self.contract.functions.getModel(model_id))

        def field(name: str, index: int) -> Any:
            return raw[name] if isinstance(raw, dict) else raw[index]

        return ModelListing(
            model_id=model_id,
            lister=Address(field("lister", 0)),
            sponsor_bps=int(field("sponsorBps", 1)),
            active=bool(field("active", 2)),
            listed_at=int(field("listedAt", 3)),
            task_id=TaskId(int(field("taskId", 4))),
            price=Wei(int(field("price", 5))),
            proceeds=Wei(int(field("proceeds", 6))),
            claimed=Wei(int(field("claimed", 7))),
            card_hash=Hash32(bytes(field("cardHash", 8))),
            card_cid=Cid(field("cardCid", 9)),
        )

    def model_count(self) -> int:
        """Number of listings ever made (the id of the latest one)."""
        return int(self._call(self.contract.functions.modelCount()))

    def model_of(self, task_id: int) -> int:
        """The listing of a task's model (0 when the task's model is not listed).

        Parameters
        ----------
        task_id : int
            The task's id.
        """
        return int(self._call(self.contract.functions.modelOf(task_id)))

    def claimable_proceeds(self, model_id: int, account: str) -> Wei:
        """What :meth:`claim_proceeds` would pay ``account`` now.

        Parameters
        ----------
        model_id : int
            The listing's id.
        account : str
            The contributor.
        """
        fn = self.contract.functions.claimableProceeds(model_id, account)
        return Wei(int(self._call(fn)))

    def claimed_proceeds(self, model_id: int, account: str) -> Wei:
        """What ``account`` has claimed of the model's proceeds so far.

        Parameters
        ----------
        model_id : int
            The listing's id.
        account : str
            The contributor.
        """
        return Wei(int(self._call(self.contract.functions.claimedProceeds(model_id, account))))

    def max_sponsor_bps(self) -> int:
        """The largest sponsor's cut the contract allows, in basis points (9,000)."""
        return int(self._call(self.contract.functions.MAX_SPONSOR_BPS()))

    def fed_task_address(self) -> Address:
        """The FedTask contract whose sponsors, finality and shares the market reads."""
        return Address(self._call(self.contract.functions.fedTask()))

    def model_listed_events(
        self,
        *,
        model_id: int | None = None,
        task_id: int | None = None,
        lister: str | None = None,
    ) -> list[ModelListedEvent]:
        """``ModelListed`` events, in chain order.

        Parameters
        ----------
        model_id : int or None, default None
            Only this listing's.
        task_id : int or None, default None
            Only this task's.
        lister : str or None, default None
            Only this sponsor's.
        """
        filters = event_filters(modelId=model_id, taskId=task_id, lister=lister)
        return [_listed(e) for e in self._logs("ModelListed", **filters)]

    def model_price_changed_events(
        self, model_id: int | None = None
    ) -> list[ModelPriceChangedEvent]:
        """``ModelPriceChanged`` events, in chain order.

        Parameters
        ----------
        model_id : int or None, default None
            Only this listing's.
        """
        return [
            ModelPriceChangedEvent(
                model_id=int(e["args"]["modelId"]),
                price=Wei(int(e["args"]["price"])),
                meta=event_meta(e),
            )
            for e in self._logs("ModelPriceChanged", **event_filters(modelId=model_id))
        ]

    def model_active_changed_events(
        self, model_id: int | None = None
    ) -> list[ModelActiveChangedEvent]:
        """``ModelActiveChanged`` events, in chain order.

        Parameters
        ----------
        model_id : int or None, default None
            Only this listing's.
        """
        return [
            ModelActiveChangedEvent(
                model_id=int(e["args"]["modelId"]),
                active=bool(e["args"]["active"]),
                meta=event_meta(e),
            )
            for e in self._logs("ModelActiveChanged", **event_filters(modelId=model_id))
        ]

    def model_bought_events(
        self, *, model_id: int | None = None, buyer: str | None = None
    ) -> list[ModelBoughtEvent]:
        """``ModelBought`` events, in chain order.

        Parameters
        ----------
        model_id : int or None, default None
            Only this listing's.
        buyer : str or None, default None
            Only this buyer's.
        """
        filters = event_filters(modelId=model_id, buyer=buyer)
        return [_bought(e) for e in self._logs("ModelBought", **filters)]

    def proceeds_claimed_events(
        self, *, model_id: int | None = None, contributor: str | None = None
    ) -> list[ProceedsClaimedEvent]:
        """``ProceedsClaimed`` events, in chain order.

        Parameters
        ----------
        model_id : int or None, default None
            Only this listing's.
        contributor : str or None, default None
            Only this contributor's.
        """
        filters = event_filters(modelId=model_id, contributor=contributor)
        return [
            ProceedsClaimedEvent(
                model_id=int(e["args"]["modelId"]),
                contributor=Address(e["args"]["contributor"]),
                amount=Wei(int(e["args"]["amount"])),
                meta=event_meta(e),
            )
            for e in self._logs("ProceedsClaimed", **filters)
        ]


def _listed(e: Any) -> ModelListedEvent:
    args = e["args"]
    return ModelListedEvent(
        model_id=int(args["modelId"]),
        task_id=TaskId(int(args["taskId"])),
        lister=Address(args["lister"]),
        price=Wei(int(args["price"])),
        sponsor_bps=int(args["sponsorBps"]),
        card_cid=Cid(args["cardCid"]),
        card_hash=Hash32(bytes(args["cardHash"])),
        meta=event_meta(e),
    )


def _bought(e: Any) -> ModelBoughtEvent:
    args = e["args"]
    return ModelBoughtEvent(
        model_id=int(args["modelId"]),
        buyer=Address(args["buyer"]),
        paid=Wei(int(args["paid"])),
        fee=Wei(int(args["fee"])),
        sponsor_amount=Wei(int(args["sponsorAmount"])),
        contributors_amount=Wei(int(args["contributorsAmount"])),
        meta=event_meta(e),
    )
