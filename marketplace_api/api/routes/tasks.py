"""``/tasks``: a FedTask v2 task as the chain records it, read fresh on every request.

The view is assembled by :func:`marketplace_api.task_view.task_view` (which documents where each
figure comes from, and why a participant's rewards are the chain's claims plus the evidence's
allocations checked against the on-chain root). Amounts are decimal strings, times chain unix
seconds (see :mod:`marketplace_api.schemas`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from marketplace_api.api.deps import FedTaskDep, StoreDep
from marketplace_api.schemas import INT64_MAX, TaskPublic
from marketplace_api.task_view import task_view

router = APIRouter(prefix="/tasks", tags=["tasks"])


@router.get("/{task_id}", response_model=TaskPublic, responses={404: {}})
def read_task(
    task_id: Annotated[int, Path(ge=1, le=INT64_MAX)], fed_task: FedTaskDep, store: StoreDep
) -> Any:
    """A task: status, schedule, stakes, every round (deadlines, commitments, rewards), shares."""
    return task_view(fed_task, store, task_id)
