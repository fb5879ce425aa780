"""``/models``: the ModelMarket's listings of final tasks' models, described and indexed.

A model is sold on-chain: once a task is final (completed, its last challenge window passed
undisputed), its sponsor lists the model on the ModelMarket with a price, a sponsor's cut and the
model card's CID and keccak hash. ``POST /models`` then records that listing's description here,
signed (EIP-191) by the lister and bound to the deployment (chain id, FedTask and ModelMarket
addresses). The API accepts it only when it mirrors the chain: the task is final, the market
lists its model, the signer is that listing's lister, the card CID is the listing's, the card's
bytes hash to the listing's card hash, and the card describes the task's final model as FedTask
recorded it. Contributors and their shares (basis points summing to 10,000) are FedTask's
(``shares``), which the market pays by. Price, activity and proceeds are read from the market
whenever a listing is shown (the lister may change them on-chain); ``GET /models/{id}`` also
shows each contributor's proceeds (entitled, claimed, claimable) and whether the sealed model can
be downloaded by its buyers (``/models/{id}/content``). The model card is pinned in the content
store once the listing is recorded.
"""

from __future__ import annotations

import json
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, status
from pydantic import ValidationError
from sqlalchemy.orm import Session

from chain import FedTaskClient
from chain.fed_task import TaskCompletedEvent
from chain.market import ModelListing as MarketListing
from chain.market import ModelMarketClient, contributor_entitlement
from marketplace_api import crud
from marketplace_api.api.deps import (
    ContentDep,
    CurrentUser,
    FedTaskDep,
    MarketDep,
    ScopeDep,
    SessionDep,
    StoreDep,
    ensure_signed_in_as,
)
from marketplace_api.api.limits import WriteLimit
from marketplace_api.content import ModelDetail, ProceedsPublic
from marketplace_api.core.db import write_transaction
from marketplace_api.crud import Scope
from marketplace_api.errors import (
    ConflictError,
    FieldError,
    ForbiddenError,
    MalformedSignatureError,
    NotFoundError,
)
from marketplace_api.listing import recover_model_lister
from marketplace_api.models import ModelListing
from marketplace_api.schemas import (
    INT64_MAX,
    AddressStr,
    ContributorPublic,
    ModelCard,
    ModelCreate,
    ModelPage,
    ModelPublic,
    ModelSigningParams,
)
from storage import ContentIntegrityError, ContentNotFoundError, ContentStore, content_hash

log = logging.getLogger(__name__)

router = APIRouter(prefix="/models", tags=["models"])

MAX_CARD_BYTES = 1024 * 1024
_CARD_LOC = ("body", "card_cid")


def _hex(value: bytes) -> str:
    return "0x" + bytes(value).hex()


@router.get("/signing-params", response_model=ModelSigningParams)
def read_model_signing_params(fed_task: FedTaskDep, market: MarketDep) -> Any:
    """The chain id, FedTask and ModelMarket addresses a model listing's signature must cover."""
    return ModelSigningParams(
        chain_id=fed_task.backend.chain_id, fed_task=fed_task.address, market=market.address
    )


def to_public(row: ModelListing, scope: Scope, listing: MarketListing) -> ModelPublic:
    """The API form of a stored model listing, with the market's live price and proceeds."""
    return ModelPublic(
        id=listing.model_id,
        chain_id=scope.chain_id,
        fed_task=scope.fed_task,
        market=scope.market,
        task_id=row.task_id,
        name=row.name,
        description=row.description,
        price_wei=listing.price,
        active=listing.active,
        sponsor_bps=listing.sponsor_bps,
        proceeds_wei=listing.proceeds,
        model_cid=row.model_cid,
        model_hash=row.model_hash,
        card_cid=row.card_cid,
        card_hash=row.card_hash or _hex(listing.card_hash),
        metrics=dict(row.metrics),
        contributors=[
            ContributorPublic(address=c.address, share_bps=c.share_bps) for c in row.contributors
        ],
        listed_by=row.listed_by,
        created_at=row.created_at,
    )


def _public(row: ModelListing, scope: Scope, market: ModelMarketClient) -> ModelPublic:
    return to_public(row, scope, market.model(row.model_id or 0))


def read_card(store: ContentStore, card_cid: str, card_hash: bytes) -> ModelCard:
    """Fetch a model card and check its bytes hash to the on-chain listing's card hash.

    Raises
    ------
    FieldError
        At ``card_cid`` when the card is missing, its hash is not the listing's, or it is not a
        JSON object of the model-card shape.
    """
    try:
        data = store.get(card_cid, max_bytes=MAX_CARD_BYTES)
    except ContentNotFoundError:
        raise FieldError(_CARD_LOC, "no model card is stored under this CID") from None
    except ContentIntegrityError as exc:
        raise FieldError(_CARD_LOC, f"the model card cannot be read: {exc}") from None
    if content_hash(data) != bytes(card_hash):
        raise FieldError(
            _CARD_LOC,
            f"the model card hashes to {_hex(content_hash(data))}, not to the card hash "
            f"{_hex(card_hash)} of the on-chain listing",
        )
    try:
        raw = json.loads(data)
    except ValueError:
        raise FieldError(_CARD_LOC, "the model card cannot be read: it is not JSON") from None
    if not isinstance(raw, dict):
        raise FieldError(_CARD_LOC, "the model card is not a JSON object")
    try:
        return ModelCard.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors(include_input=False, include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise FieldError(_CARD_LOC, f"model card field {where}: {first['msg']}") from None


def check_card(card: ModelCard, task_id: int, final: TaskCompletedEvent) -> None:
    """Raise :class:`FieldError` unless ``card`` describes ``task_id``'s final model on-chain."""
    if card.task_id != task_id:
        raise FieldError(_CARD_LOC, f"the model card is about task {card.task_id}, not {task_id}")
    chain_hash = _hex(final.final_model_hash)
    if card.model_cid != final.final_model_cid or card.model_hash.lower() != chain_hash:
        raise FieldError(
            _CARD_LOC,
            f"the model card describes {card.model_cid}, but task {task_id}'s final model on-chain "
            f"is {final.final_model_cid} ({chain_hash})",
        )


def final_task(fed_task: FedTaskClient, task_id: int) -> TaskCompletedEvent:
    """The ``TaskCompleted`` of a final task (``TaskUnknown`` reverts for an unknown one).

    Raises
    ------
    ConflictError
        When the task is not final: not completed, or its last round still in its challenge
        window or disputed (only a final task's model can be listed).
    """
    info = fed_task.task(task_id)
    completed = fed_task.events(TaskCompletedEvent, task_id=task_id)
    if not completed or not fed_task.is_final(task_id):
        window = " but its last round is in its challenge window or disputed" if completed else ""
        raise ConflictError(
            f"task {task_id} is {info.status.name.lower()}{window}: only a final task's model "
            "can be listed"
        )
    return completed[-1]


def market_listing(market: ModelMarketClient, body: ModelCreate) -> MarketListing:
    """The ModelMarket listing of the task's model, checked against the request.

    Raises
    ------
    ConflictError
        When the task's model is not listed on the market.
    ForbiddenError
        When the signer is not the listing's lister.
    FieldError
        When the card CID or the expected price differs from the listing's.
    """
    model_id = market.model_of(body.task_id)
    if model_id == 0:
        raise ConflictError(
            f"task {body.task_id}'s model is not listed on the ModelMarket: its sponsor lists it "
            "there first (listModel)"
        )
    listing = market.model(model_id)
    if body.signer != listing.lister:
        raise ForbiddenError(
            f"only {listing.lister}, who listed task {body.task_id}'s model on the ModelMarket "
            f"(model {model_id}), may describe it, not {body.signer}"
        )
    if body.card_cid != listing.card_cid:
        raise FieldError(
            _CARD_LOC,
            f"the on-chain listing {model_id} carries the card {listing.card_cid}, "
            f"not {body.card_cid}",
        )
    if body.price_wei is not None and int(body.price_wei) != listing.price:
        raise FieldError(
            ("body", "price_wei"),
            f"the on-chain listing {model_id} sells at {listing.price} wei, not {body.price_wei}",
        )
    return listing


def check_signature(body: ModelCreate, fed_task: FedTaskClient, market: ModelMarketClient) -> None:
    """Raise :class:`FieldError` at ``signature`` unless ``body.signer`` signed ``body``."""
    try:
        lister = recover_model_lister(
            body,
            body.signature,
            chain_id=fed_task.backend.chain_id,
            fed_task=fed_task.address,
            market=market.address,
        )
    except MalformedSignatureError:
        raise FieldError(("body", "signature"), "not a valid ECDSA signature") from None
    if lister != body.signer:
        raise FieldError(("body", "signature"), f"the signature is not by {body.signer}")


def record_model(session: Session, scope: Scope, model: crud.NewModel) -> ModelListing:
    """Insert the description unless the task's model is recorded already (409)."""
    existing = crud.model_for_task(session, scope, model.task_id)
    if existing is not None:
        raise ConflictError(
            f"task {model.task_id}'s model is already recorded as model {existing.model_id}"
        )
    return crud.add_model(session, scope, model)


def contributors_of(fed_task: FedTaskClient, task_id: int) -> list[tuple[str, int]]:
    """``(address, share_bps)`` of each participant with a non-zero share, in join order."""
    participants = fed_task.participants(task_id)
    shares = fed_task.shares(task_id)
    return [(p, s) for p, s in zip(participants, shares, strict=True) if s > 0]


@router.post(
    "",
    response_model=ModelPublic,
    status_code=status.HTTP_201_CREATED,
    responses={
        401: {"description": "No session (sign in first: /auth/nonce, /auth/verify)."},
        403: {
            "description": "Not signed by the lister of the on-chain listing, or the session is "
            "another account's."
        },
        404: {"description": "Unknown task."},
        409: {"description": "Task not final, model not listed on-chain, or already recorded."},
        422: {"description": "Invalid signature, or a card or price unlike the on-chain listing."},
    },
    dependencies=[WriteLimit],
)
def create_model(
    body: ModelCreate,
    session: SessionDep,
    scope: ScopeDep,
    fed_task: FedTaskDep,
    market: MarketDep,
    store: StoreDep,
    user: CurrentUser,
) -> Any:
    """Record the description of a final task's model listed on the ModelMarket."""
    ensure_signed_in_as(user, body.signer, "the listing's signer")
    check_signature(body, fed_task, market)
    final = final_task(fed_task, body.task_id)
    listing = market_listing(market, body)
    existing = crud.model_for_task(session, scope, body.task_id)
    if existing is not None:
        raise ConflictError(
            f"task {body.task_id}'s model is already recorded as model {existing.model_id}"
        )
    card = read_card(store, body.card_cid, listing.card_hash)
    check_card(card, body.task_id, final)
    store.pin(body.card_cid)
    contributors = contributors_of(fed_task, body.task_id)
    model = crud.NewModel(
        model_id=listing.model_id,
        task_id=body.task_id,
        name=body.name,
        description=body.description,
        price_wei=listing.price,
        sponsor_bps=listing.sponsor_bps,
        model_cid=final.final_model_cid,
        model_hash=_hex(final.final_model_hash),
        card_cid=body.card_cid,
        card_hash=_hex(listing.card_hash),
        metrics=card.metrics,
        listed_by=body.signer,
        contributors=contributors,
    )
    row = write_transaction(session, lambda: record_model(session, scope, model))
    log.info(
        "create_model: model %s of task %s recorded for %s, %d contributors",
        listing.model_id,
        body.task_id,
        body.signer,
        len(contributors),
    )
    return to_public(row, scope, listing)


@router.get("", response_model=ModelPage)
def read_models(
    session: SessionDep,
    scope: ScopeDep,
    market: MarketDep,
    task_id: Annotated[int | None, Query(ge=1, le=INT64_MAX)] = None,
    contributor: Annotated[AddressStr | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Annotated[int, Query(ge=0, le=INT64_MAX)] = 0,
) -> Any:
    """Model listings by ModelMarket id, optionally one task's or one contributor's."""
    rows, total = crud.list_models(
        session, scope, task_id=task_id, contributor=contributor, limit=limit, offset=offset
    )
    return ModelPage(
        items=[_public(r, scope, market) for r in rows], total=total, limit=limit, offset=offset
    )


def proceeds_of(
    market: ModelMarketClient, listing: MarketListing, row: ModelListing
) -> list[ProceedsPublic]:
    """Each contributor's proceeds of ``listing``, as the market keeps them now."""
    return [
        ProceedsPublic(
            address=c.address,
            share_bps=c.share_bps,
            entitled_wei=contributor_entitlement(listing.proceeds, c.share_bps),
            claimed_wei=market.claimed_proceeds(listing.model_id, c.address),
            claimable_wei=market.claimable_proceeds(listing.model_id, c.address),
        )
        for c in row.contributors
    ]


@router.get("/{model_id}", response_model=ModelDetail, responses={404: {}})
def read_model(
    model_id: Annotated[int, Path(ge=1, le=INT64_MAX)],
    session: SessionDep,
    scope: ScopeDep,
    market: MarketDep,
    content: ContentDep,
) -> Any:
    """One model listing, by its ModelMarket id, with its contributors' sale proceeds."""
    row = crud.get_model(session, scope, model_id)
    if row is None:
        raise NotFoundError(f"model {model_id} is not listed")
    listing = market.model(row.model_id or 0)
    return ModelDetail(
        **to_public(row, scope, listing).model_dump(),
        proceeds=proceeds_of(market, listing, row),
        content=content.summary(session, scope, "model", model_id),
    )
