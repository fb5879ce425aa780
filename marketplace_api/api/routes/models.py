"""``/models``: trained models offered in the marketplace, with their contributors' shares.

A listing is signed (EIP-191) by the task's coordinator or sponsor, only for a completed task,
and its model card must describe the task's final model as the chain records it. Contributors'
shares are fixed at listing time from the rewards the chain allocated them: basis points of the
total paid, via :func:`incentives.rewards.split_proportional` (exactly 10000 in all). When a task
paid nothing at all, every participant gets an equal share (the remainder of 10000 going to the
earliest joiners).
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, status
from pydantic import ValidationError

from chain import FedTaskClient, TaskInfo, TaskStatus
from incentives.rewards import split_proportional
from marketplace_api import crud
from marketplace_api.api.deps import FedTaskDep, ScopeDep, SessionDep, StoreDep
from marketplace_api.api.routes.tasks import reward_totals
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
    INT32_MAX,
    INT64_MAX,
    AddressStr,
    ContributorPublic,
    ModelCard,
    ModelCreate,
    ModelPage,
    ModelPublic,
    ModelSigningParams,
)
from storage import ContentIntegrityError, ContentNotFoundError, ContentStore

log = logging.getLogger(__name__)

router = APIRouter(prefix="/models", tags=["models"])


@router.get("/signing-params", response_model=ModelSigningParams)
def read_model_signing_params(fed_task: FedTaskDep) -> Any:
    """The chain id and FedTask address a model listing's signature must cover."""
    return ModelSigningParams(chain_id=fed_task.backend.chain_id, fed_task=fed_task.address)


BPS = 10_000
MAX_CARD_BYTES = 1024 * 1024
_CARD_LOC = ("body", "card_cid")


def to_public(row: ModelListing, scope: Scope) -> ModelPublic:
    """The API form of a stored model listing."""
    return ModelPublic(
        id=row.id,
        chain_id=scope.chain_id,
        fed_task=scope.fed_task,
        task_id=row.task_id,
        name=row.name,
        description=row.description,
        price_wei=int(row.price_wei),
        model_cid=row.model_cid,
        model_hash=row.model_hash,
        card_cid=row.card_cid,
        metrics=dict(row.metrics),
        contributors=[
            ContributorPublic(address=c.address, share_bps=c.share_bps, paid_wei=int(c.paid_wei))
            for c in row.contributors
        ],
        listed_by=row.listed_by,
        created_at=row.created_at,
    )


def load_card(store: ContentStore, card_cid: str, task_id: int, info: TaskInfo) -> ModelCard:
    """Fetch a model card and check it describes ``task_id``'s final model.

    Raises
    ------
    FieldError
        At ``card_cid`` when the card is missing, not a JSON object, malformed, or about another
        model than the one the chain records.
    """
    try:
        raw = store.get_json(card_cid, max_bytes=MAX_CARD_BYTES)
    except ContentNotFoundError:
        raise FieldError(_CARD_LOC, "no model card is stored under this CID") from None
    except ContentIntegrityError as exc:
        raise FieldError(_CARD_LOC, f"the model card cannot be read: {exc}") from None
    if not isinstance(raw, dict):
        raise FieldError(_CARD_LOC, "the model card is not a JSON object")
    try:
        card = ModelCard.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors(include_input=False, include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise FieldError(_CARD_LOC, f"model card field {where}: {first['msg']}") from None
    if card.task_id != task_id:
        raise FieldError(_CARD_LOC, f"the model card is about task {card.task_id}, not {task_id}")
    chain_hash = "0x" + bytes(info.model_hash).hex()
    if card.model_cid != info.model_cid or card.model_hash.lower() != chain_hash:
        raise FieldError(
            _CARD_LOC,
            f"the model card describes {card.model_cid}, but task {task_id}'s final model on-chain "
            f"is {info.model_cid} ({chain_hash})",
        )
    return card


def contributor_shares(fed_task: FedTaskClient, task_id: int) -> list[tuple[str, int, int]]:
    """(address, share in basis points, wei paid) of each participant, in join order.

    Shares are proportional to the rewards allocated on-chain and sum to exactly 10000; equal
    shares when nothing was paid.
    """
    participants = fed_task.participants(task_id)
    totals = reward_totals(fed_task.rewards(task_id))
    paid = [totals.get(p, 0) for p in participants]
    weights = paid if sum(paid) > 0 else [1] * len(participants)
    shares = split_proportional(BPS, weights) if participants else []
    return [(p, s, w) for p, s, w in zip(participants, shares, paid, strict=True)]


@router.post(
    "",
    response_model=ModelPublic,
    status_code=status.HTTP_201_CREATED,
    responses={
        403: {"description": "Not signed by the task's coordinator or sponsor."},
        404: {"description": "Unknown task."},
        409: {"description": "Task not completed, or its model is already listed."},
        422: {"description": "Invalid signature or model card."},
    },
)
def create_model(
    body: ModelCreate,
    session: SessionDep,
    scope: ScopeDep,
    fed_task: FedTaskDep,
    store: StoreDep,
) -> Any:
    """List a completed task's final model, with contributor shares fixed from the chain."""
    try:
        lister = recover_model_lister(
            body, body.signature, chain_id=fed_task.backend.chain_id, fed_task=fed_task.address
        )
    except MalformedSignatureError:
        raise FieldError(("body", "signature"), "not a valid ECDSA signature") from None
    if lister != body.signer:
        raise FieldError(("body", "signature"), f"the signature is not by {body.signer}")
    info = fed_task.task(body.task_id)
    if body.signer not in (info.coordinator, info.sponsor):
        raise ForbiddenError(
            f"only task {body.task_id}'s coordinator or sponsor may list its model, "
            f"not {body.signer}"
        )
    if info.status != TaskStatus.COMPLETED:
        raise ConflictError(
            f"task {body.task_id} is {info.status.name.lower()}; only a completed task's model "
            "can be listed"
        )
    existing = crud.model_for_task(session, scope, body.task_id)
    if existing is not None:
        raise ConflictError(f"task {body.task_id}'s model is already listed as model {existing.id}")
    card = load_card(store, body.card_cid, body.task_id, info)
    contributors = contributor_shares(fed_task, body.task_id)
    row = crud.add_model(
        session,
        scope,
        task_id=body.task_id,
        name=body.name,
        description=body.description,
        price_wei=int(body.price_wei),
        model_cid=info.model_cid,
        model_hash="0x" + bytes(info.model_hash).hex(),
        card_cid=body.card_cid,
        metrics=card.metrics,
        listed_by=body.signer,
        contributors=contributors,
    )
    session.commit()
    log.info(
        "create_model: model %s of task %s listed by %s, %d contributors",
        row.id,
        body.task_id,
        body.signer,
        len(contributors),
    )
    return to_public(row, scope)


@router.get("", response_model=ModelPage)
def read_models(
    session: SessionDep,
    scope: ScopeDep,
    task_id: Annotated[int | None, Query(ge=1, le=INT64_MAX)] = None,
    contributor: Annotated[AddressStr | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Annotated[int, Query(ge=0, le=INT64_MAX)] = 0,
) -> Any:
    """Model listings, oldest first, optionally one task's or one contributor's."""
    rows, total = crud.list_models(
        session, scope, task_id=task_id, contributor=contributor, limit=limit, offset=offset
    )
    return ModelPage(
        items=[to_public(r, scope) for r in rows], total=total, limit=limit, offset=offset
    )


@router.get("/{model_id}", response_model=ModelPublic, responses={404: {}})
def read_model(
    model_id: Annotated[int, Path(ge=1, le=INT32_MAX)], session: SessionDep, scope: ScopeDep
) -> Any:
    """One model listing."""
    row = crud.get_model(session, scope, model_id)
    if row is None:
        raise NotFoundError(f"model {model_id} is not listed")
    return to_public(row, scope)
