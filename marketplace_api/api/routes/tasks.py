"""``/tasks``: FedTask v2 tasks as the index holds them (no chain read per request).

The indexer rebuilds each task from FedTask's events and ChallengeCourt's (status, schedule,
rounds with their batches, direct commitments, claims and the evidence's allocations checked
against the on-chain roots, stakes, shares, challenges);
:func:`marketplace_api.task_view.indexed_task_view` shows it as of the chain time of the last
block indexed, which every answer names (``indexed_block``). Amounts are decimal strings, times
chain unix seconds (see :mod:`marketplace_api.schemas`).

A task's sponsor also says what the task is for (``POST /tasks``, ``PATCH /tasks/{id}``, read at
``GET /tasks/{id}/description``): service state in :mod:`marketplace_api.descriptions`, written
by the sponsor FedTask records, checked on-chain at each write.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy.orm import Session

from chain import ChainRevertError, FedTaskClient
from marketplace_api import crud, descriptions
from marketplace_api.api.deps import (
    CurrentUser,
    FedTaskDep,
    ScopeDep,
    ServicesDep,
    SessionDep,
    ensure_signed_in_as,
)
from marketplace_api.api.limits import WriteLimit
from marketplace_api.api.pages import cached_json
from marketplace_api.auth import SignedInUser
from marketplace_api.core.db import write_transaction
from marketplace_api.descriptions import DescriptionEdit, TaskDescription
from marketplace_api.errors import NotFoundError
from marketplace_api.indexer import TaskSnapshot
from marketplace_api.models import IndexedTask
from marketplace_api.schemas import (
    INT64_MAX,
    AddressStr,
    Hash32Hex,
    Tag,
    TaskPublic,
    TaskStatusName,
    Wei,
)
from marketplace_api.task_view import indexed_task_view
from marketplace_api.text import Name, Text

log = logging.getLogger(__name__)

router = APIRouter(prefix="/tasks", tags=["tasks"])

MAX_DESCRIPTION = 5000
"""Longest task description, in characters."""


class ChallengePublic(BaseModel):
    """A ChallengeCourt challenge of one of the task's rounds, and its verdict once resolved."""

    challenge_id: int
    round: int
    challenger: AddressStr
    accused: AddressStr | None = Field(description="Null when the coordinator's verdict is.")
    bond_wei: Wei
    evidence_cid: str
    corrected_root: Hash32Hex
    voting_ends: int
    votes: int
    status: Literal["open", "upheld", "rejected", "dismissed"]
    consensus_bps: int | None
    challenger_paid_wei: Wei
    validators_paid_wei: Wei
    block: int
    tx_hash: Hash32Hex


class IndexedTaskPublic(TaskPublic):
    """A task as the index holds it, as of ``indexed_block``."""

    challenges: list[ChallengePublic] = Field(description="Challenges of its rounds, oldest first.")
    indexed_block: int = Field(description="The last block indexed: the view is as of it.")


class TaskSummaryPublic(BaseModel):
    """A task in a list (``GET /tasks/{id}`` has everything)."""

    task_id: int
    sponsor: AddressStr
    coordinator: AddressStr
    status: TaskStatusName
    created_at: int
    ended_at: int | None
    total_rounds: int
    current_round: int
    participant_count: int
    pool_wei: Wei
    spec_cid: str


class TaskPage(BaseModel):
    """A page of tasks, by id."""

    items: list[TaskSummaryPublic]
    total: int
    limit: int
    offset: int


def summary(row: IndexedTask) -> TaskSummaryPublic:
    """The list form of an indexed task."""
    return TaskSummaryPublic(
        task_id=row.task_id,
        sponsor=row.sponsor,
        coordinator=row.coordinator,
        status=row.status,
        created_at=row.created_at,
        ended_at=row.ended_at,
        total_rounds=row.total_rounds,
        current_round=row.current_round,
        participant_count=row.participant_count,
        pool_wei=int(row.pool_wei),
        spec_cid=row.spec_cid,
    )


def task_public(snapshot: TaskSnapshot, head: crud.IndexHead) -> IndexedTaskPublic:
    """The full view of an indexed task as of the index's head."""
    view = indexed_task_view(snapshot, head.timestamp)
    challenges = [
        ChallengePublic(
            **c.model_dump(
                exclude={"bond", "challenger_paid", "validators_paid", "corrected_shares"}
            ),
            bond_wei=c.bond,
            challenger_paid_wei=c.challenger_paid,
            validators_paid_wei=c.validators_paid,
        )
        for c in snapshot.challenges
    ]
    return IndexedTaskPublic(**dict(view), challenges=challenges, indexed_block=head.block)


@router.get("", response_model=TaskPage)
async def read_tasks(
    scope: ScopeDep,
    services: ServicesDep,
    status: Annotated[TaskStatusName | None, Query()] = None,
    sponsor: Annotated[AddressStr | None, Query()] = None,
    coordinator: Annotated[AddressStr | None, Query()] = None,
    participant: Annotated[AddressStr | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Annotated[int, Query(ge=0, le=INT64_MAX)] = 0,
) -> Any:
    """Tasks by id, optionally of one status, sponsor, coordinator or participant."""

    def build(session: Session) -> bytes:
        rows, total = crud.list_tasks(
            session,
            scope,
            status=status,
            sponsor=sponsor,
            coordinator=coordinator,
            participant=participant,
            limit=limit,
            offset=offset,
        )
        page = TaskPage(items=[summary(r) for r in rows], total=total, limit=limit, offset=offset)
        return page.model_dump_json(by_alias=True).encode()

    key = ("tasks", status, sponsor, coordinator, participant, limit, offset)
    return await cached_json(services.database, services.response_cache, scope, key, build)


@router.get("/{task_id}", response_model=IndexedTaskPublic, responses={404: {}})
async def read_task(
    task_id: Annotated[int, Path(ge=1, le=INT64_MAX)],
    scope: ScopeDep,
    services: ServicesDep,
) -> Any:
    """A task: status, schedule, stakes, every round (deadlines, commitments, rewards), shares."""

    def build(session: Session) -> bytes:
        row = crud.get_task(session, scope, task_id)
        head = crud.index_head(session, scope)
        if row is None or head is None:
            raise NotFoundError(f"task {task_id} does not exist")
        view = task_public(TaskSnapshot.model_validate(row.detail), head)
        return view.model_dump_json(by_alias=True).encode()

    key = ("task", task_id)
    return await cached_json(services.database, services.response_cache, scope, key, build)


# ---- the sponsor's description (service state, written by the task's sponsor only) -------------
class TaskDescriptionFields(BaseModel):
    """What a sponsor says about its task (every field optional in an edit)."""

    model_config = ConfigDict(extra="forbid")

    title: Name | None = None
    description: Annotated[Text, StringConstraints(max_length=MAX_DESCRIPTION)] | None = None
    tags: Annotated[list[Tag], Field(max_length=20)] | None = None


class TaskDescriptionCreate(TaskDescriptionFields):
    """The first description of a task its sponsor created on-chain."""

    task_id: int = Field(ge=1, le=INT64_MAX)
    title: Name


class TaskDescriptionPublic(BaseModel):
    """A sponsor's description of one of its tasks."""

    task_id: int
    sponsor: AddressStr
    title: str
    description: str
    tags: list[str]
    created_at: int = Field(description="Unix seconds.")
    updated_at: int = Field(description="Unix seconds.")


def description_public(row: TaskDescription) -> TaskDescriptionPublic:
    """The API form of a stored description."""
    return TaskDescriptionPublic(
        task_id=row.task_id,
        sponsor=row.sponsor,
        title=row.title,
        description=row.description,
        tags=list(row.tags),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def ensure_sponsor(fed_task: FedTaskClient, task_id: int, user: SignedInUser) -> str:
    """The task's sponsor, read on-chain now; 404 for an unknown task, 403 for anyone else."""
    try:
        sponsor = str(fed_task.task(task_id).sponsor)
    except ChainRevertError:  # TaskUnknown
        raise NotFoundError(f"task {task_id} does not exist") from None
    ensure_signed_in_as(user, sponsor, "the task's sponsor")
    return sponsor


def edit_of(body: TaskDescriptionFields) -> DescriptionEdit:
    """The fields ``body`` sets."""
    return DescriptionEdit(title=body.title, description=body.description, tags=body.tags)


_DESCRIPTION_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No session (sign in first: /auth/nonce, /auth/verify)."},
    403: {"description": "The session is not the task's sponsor."},
    404: {"description": "Unknown task (or, for an edit, no description yet)."},
}


@router.post(
    "",
    response_model=TaskDescriptionPublic,
    status_code=status.HTTP_201_CREATED,
    responses={**_DESCRIPTION_ERRORS, 409: {"description": "The task is described already."}},
    dependencies=[WriteLimit],
)
def create_task_description(
    body: TaskDescriptionCreate,
    response: Response,
    session: SessionDep,
    scope: ScopeDep,
    fed_task: FedTaskDep,
    user: CurrentUser,
) -> Any:
    """Publish what a task is for: its sponsor only, once it exists on-chain."""
    sponsor = ensure_sponsor(fed_task, body.task_id, user)
    edit = edit_of(body)
    row = write_transaction(
        session,
        lambda: descriptions.publish(session, scope.deployment_id, body.task_id, sponsor, edit),
    )
    log.info("create_task_description: task %s described by %s", body.task_id, sponsor)
    response.headers["Location"] = f"/tasks/{body.task_id}/description"
    return description_public(row)


@router.patch(
    "/{task_id}",
    response_model=TaskDescriptionPublic,
    responses=_DESCRIPTION_ERRORS,
    dependencies=[WriteLimit],
)
def update_task_description(
    task_id: Annotated[int, Path(ge=1, le=INT64_MAX)],
    body: TaskDescriptionFields,
    session: SessionDep,
    scope: ScopeDep,
    fed_task: FedTaskDep,
    user: CurrentUser,
) -> Any:
    """Edit a task's description: its sponsor only (what the chain holds cannot change here)."""
    ensure_sponsor(fed_task, task_id, user)
    edit = edit_of(body)
    row = write_transaction(
        session, lambda: descriptions.amend(session, scope.deployment_id, task_id, edit)
    )
    return description_public(row)


@router.get(
    "/{task_id}/description",
    response_model=TaskDescriptionPublic,
    responses={404: {"description": "No description published for this task."}},
)
def read_task_description(
    task_id: Annotated[int, Path(ge=1, le=INT64_MAX)], session: SessionDep, scope: ScopeDep
) -> Any:
    """What the task's sponsor says the task is for."""
    row = descriptions.get_description(session, scope.deployment_id, task_id)
    if row is None:
        raise NotFoundError(f"task {task_id} has no description")
    return description_public(row)
