"""An account's page (``/ui/participants/{address}``) and ``/ui/account`` for the wallet's own.

Earnings (claimed, claimable, pending), the rewards claimable now per task with a Claim button,
sale proceeds and balances to withdraw, stakes (with the button that takes one back) and the
licences held: the JSON ``/participants/{address}`` as a page, plus what the wallet can do now.
"""

from __future__ import annotations

from typing import Any

from eth_utils.address import is_address, to_checksum_address
from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse

from marketplace_api import crud
from marketplace_api.api.deps import ScopeDep, SessionDep
from marketplace_api.api.routes.participants import read_participant
from marketplace_api.indexer import TaskSnapshot
from marketplace_api.transactions import DueReward, due_rewards
from marketplace_api.web.catalogue import not_found
from marketplace_api.web.site import SiteDep
from marketplace_api.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/ui/account", response_class=HTMLResponse)
def own_account(request: Request, site: SiteDep) -> Any:
    """Where the wallet's own page opens once connected (the page script redirects)."""
    return render(request, "account.html", {"title": "My account", "nav": "account", "site": site})


def claimable_by_task(
    session: Any, scope: crud.Scope, address: str, task_ids: list[int]
) -> dict[int, list[DueReward]]:
    """The rewards ``address`` can claim now, by task (tasks with none left out)."""
    head = crud.index_head(session, scope)
    now = head.timestamp if head else 0
    due: dict[int, list[DueReward]] = {}
    for task_id, row in crud.tasks_by_id(session, scope, task_ids).items():
        rounds = due_rewards(TaskSnapshot.model_validate(row.detail), address, now)
        if rounds:
            due[task_id] = rounds
    return due


@router.get("/ui/participants/{address}", response_class=HTMLResponse)
def participant_page(
    address: str, request: Request, session: SessionDep, scope: ScopeDep, site: SiteDep
) -> Any:
    """An account's earnings, claims, stakes and licences, with the wallet's actions."""
    if not is_address(address):
        return not_found(request, site, "This account")
    account = to_checksum_address(address)
    view = read_participant(account, session, scope)
    tasks = [a.task_id for a in crud.task_accounts_of(session, scope, account)]
    context = {
        "title": f"Account {account[:8]}…",
        "nav": "account",
        "site": site,
        "p": view,
        "due": claimable_by_task(session, scope, account, tasks),
    }
    return render(request, "participant.html", context)


__all__ = ["claimable_by_task", "router"]
