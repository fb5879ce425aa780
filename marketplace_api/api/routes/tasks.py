"""``/tasks``: FedTask v2 tasks as the index holds them (no chain read per request).

The indexer rebuilds each task from FedTask's events and ChallengeCourt's (status, schedule,
rounds with their batches, direct commitments, claims and the evidence's allocations checked
against the on-chain roots, stakes, shares, challenges);
:func:`marketplace_api.task_view.indexed_task_view` shows it as of the chain time of the last
block indexed, which every answer names (``indexed_block``). Amounts are decimal strings, times
chain unix seconds (see :mod:`marketplace_api.schemas`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from marketplace_api import crud
from marketplace_api.api.deps import ScopeDep, ServicesDep
from marketplace_api.api.pages import cached_json
from marketplace_api.errors import NotFoundError
from marketplace_api.indexer import TaskSnapshot
from marketplace_api.models import IndexedTask
from marketplace_api.schemas import (
    INT64_MAX,
    AddressStr,
    Hash32Hex,
    TaskPublic,
    TaskStatusName,
    Wei,
)
from marketplace_api.task_view import indexed_task_view

router = APIRouter(prefix="/tasks", tags=["tasks"])


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
