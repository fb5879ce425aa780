"""The final model on ModelMarket: the sponsor lists it, a buyer buys it, contributors are paid.

Once the task is final (completed, its last challenge window passed undisputed) the sponsor lists
the model with its card; the market fixes the contributors' shares from the task's. One buyer
buys a licence at the listed price: the protocol fee and the sponsor's cut come off, the rest
(rounded down to a multiple of 10,000 wei) becomes the listing's proceeds, which each contributor
pulls in proportion to its share (``claimProceeds``).
"""

from __future__ import annotations

from dataclasses import dataclass

from fedmarket.demo.world import TOKEN, World
from kernel.types import Cid
from storage import content_hash

MODEL_PRICE = 100 * TOKEN
"""The price of a licence of the demo's model."""

SPONSOR_BPS = 1_000
"""The sponsor's cut of each sale (10 %)."""


@dataclass(frozen=True)
class Sale:
    """The listing and its one sale, as the chain recorded them.

    Attributes
    ----------
    model_id : int
        The listing.
    price : int
        What the buyer paid.
    fee, sponsor_amount, contributors_amount : int
        The protocol fee; the sponsor's cut and residue; the contributors' part.
    claimed : dict of str to int
        What each contributor pulled from the proceeds.
    gas_used : int
        Gas of the listing, the purchase and the claims.
    """

    model_id: int
    price: int
    fee: int
    sponsor_amount: int
    contributors_amount: int
    claimed: dict[str, int]
    gas_used: int


def list_model(world: World, task_id: int, card_cid: Cid) -> tuple[int, int]:
    """The sponsor lists the final model with its card; return (model id, gas).

    Parameters
    ----------
    world : World
        The parties.
    task_id : int
        The final task.
    card_cid : Cid
        The model card in the store.
    """
    card_hash = content_hash(world.store.get(card_cid))
    model_id, tx = world.market(world.sponsor).list_model(
        task_id, MODEL_PRICE, SPONSOR_BPS, card_cid, card_hash
    )
    return model_id, tx.gas_used


def sell_once(world: World, model_id: int, contributors: list[str]) -> Sale:
    """The buyer buys a licence; every contributor with a share claims its proceeds.

    Parameters
    ----------
    world : World
        The parties.
    model_id : int
        The listing.
    contributors : list of str
        The task's participants.
    """
    listing = world.market().model(model_id)
    world.mint(world.buyer, listing.price)
    buyer_token = world.token(world.buyer)
    gas = buyer_token.approve(world.deployment.market, listing.price).gas_used
    bought, tx = world.market(world.buyer).buy(model_id, listing.price)
    gas += tx.gas_used
    claimed: dict[str, int] = {}
    for address in contributors:
        if world.market().claimable_proceeds(model_id, address):
            signer = world.parties.signer(world.names[address])
            amount, claim = world.market(signer).claim_proceeds(model_id)
            claimed[address] = int(amount)
            gas += claim.gas_used
    return Sale(
        model_id=model_id,
        price=int(bought.paid),
        fee=int(bought.fee),
        sponsor_amount=int(bought.sponsor_amount),
        contributors_amount=int(bought.contributors_amount),
        claimed=claimed,
        gas_used=gas,
    )


__all__ = ["MODEL_PRICE", "SPONSOR_BPS", "Sale", "list_model", "sell_once"]
