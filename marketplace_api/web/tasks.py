"""The task pages: the list (``/ui/tasks``) and one task (``/ui/tasks/{id}``) with its audit.

A task's page shows its status, round progress and deadlines from the index, and from each
round's evidence the loss curve, the contribution leaderboard (per round and cumulative) and
the updates rejected with their reasons. The audit (``/ui/tasks/{id}/audit``, fetched by the
page after it loads) recomputes every finalised round from the chain and the store as
``fedmarket audit`` does, and is remembered until the task finalises another round.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse

from fl_node.audit import AuditReport, audit_task
from marketplace_api import crud
from marketplace_api.api.deps import ScopeDep, ServicesDep, SessionDep
from marketplace_api.api.errors import CHAIN_DOWN
from marketplace_api.api.routes.tasks import IndexedTaskPublic, summary, task_public
from marketplace_api.indexer import TaskSnapshot
from marketplace_api.web.catalogue import item_id, not_found
from marketplace_api.web.charts import Series, legend, line_chart
from marketplace_api.web.evidence import RoundSummary, round_summary
from marketplace_api.web.forms import one_of, whole_number
from marketplace_api.web.site import SiteDep
from marketplace_api.web.templating import render

log = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 25
STATUSES = ("joining", "training", "completed", "cancelled", "aborted")


@router.get("/ui/tasks", response_class=HTMLResponse)
def task_list(request: Request, session: SessionDep, scope: ScopeDep, site: SiteDep) -> Any:
    """Every task, newest first, optionally of one status."""
    errors: dict[str, str] = {}
    status = one_of(request.query_params.get("status"), "status", errors, STATUSES)
    offset = whole_number(
        request.query_params.get("offset"), "offset", errors, default=0, maximum=10**9
    )
    rows, total = crud.list_tasks(session, scope, status=status, limit=PAGE_SIZE, offset=offset)
    context = {
        "title": "Tasks",
        "nav": "tasks",
        "site": site,
        "tasks": [summary(r) for r in rows],
        "page": {"total": total, "limit": PAGE_SIZE, "offset": offset},
        "filters_query": f"status={status}" if status else "",
        "status": status,
        "statuses": STATUSES,
        "errors": errors,
    }
    return render(request, "tasks.html", context, 400 if errors else 200)


@dataclass(frozen=True)
class Standing:
    """One participant's line of a leaderboard."""

    participant: str
    contribution: float
    share_bps: int | None
    accepted: int
    rejected: int


def cumulative_standings(task: IndexedTaskPublic, rounds: list[RoundSummary]) -> list[Standing]:
    """The cumulative leaderboard: contributions summed over the rounds, best first.

    The last round's evidence carries the task's cumulative contributions and final shares; where
    it does not (a task still training), the rounds' published contributions are summed.
    """
    final = next((r for r in reversed(rounds) if r.cumulative is not None), None)
    # by address, not position: a document that lists fewer verdicts, or in another order,
    # must not credit one participant with another's contribution
    verdicts = [{e.participant.lower(): e for e in r.entries} for r in rounds]
    standings = []
    for i, who in enumerate(task.participants):
        entries = [v[who.lower()] for v in verdicts if who.lower() in v]
        summed = sum(e.contribution or 0.0 for e in entries)
        if final is not None and final.cumulative is not None and i < len(final.cumulative):
            summed = final.cumulative[i]
        bps = task.shares_bps[i] if i < len(task.shares_bps) else None
        standings.append(
            Standing(
                participant=who,
                contribution=summed,
                share_bps=bps,
                accepted=sum(1 for e in entries if e.accepted),
                rejected=sum(1 for e in entries if not e.accepted and e.reason != "not_submitted"),
            )
        )
    return sorted(standings, key=lambda s: (-s.contribution, s.participant))


def loss_chart(rounds: list[RoundSummary]) -> dict[str, Any] | None:
    """The loss curve (validation and test log-loss per round) and its legend.

    ``None`` when the evidence carries no loss to draw (the page says so, not an empty frame).
    """
    series = [
        Series("validation log-loss", [r.validation_loss for r in rounds]),
        Series("test log-loss", [r.test_loss for r in rounds]),
    ]
    labels = [str(r.round) for r in rounds]
    chart = line_chart(series, x_labels=labels, title="Loss per round", y_label="log-loss")
    return {"svg": chart, "legend": legend(series)} if chart else None


def _snapshot(session: Any, scope: crud.Scope, task_id: int) -> IndexedTaskPublic | None:
    row = crud.get_task(session, scope, task_id)
    head = crud.index_head(session, scope)
    if row is None or head is None:
        return None
    return task_public(TaskSnapshot.model_validate(row.detail), head)


@router.get("/ui/tasks/{task_id}", response_class=HTMLResponse)
def task_page(
    task_id: str,
    request: Request,
    session: SessionDep,
    scope: ScopeDep,
    services: ServicesDep,
    site: SiteDep,
) -> Any:
    """One task: status, progress, deadlines, loss curve, leaderboards, rejections, audit."""
    number = item_id(task_id)
    task = _snapshot(session, scope, number) if number is not None else None
    if task is None:
        return not_found(request, site, f"Task {task_id}")
    summaries = [round_summary(services.store, r.evidence_cid) for r in task.rounds if r.finalized]
    readable = [s for s in summaries if s is not None]
    names = {p: f"#{i + 1}" for i, p in enumerate(task.participants)}
    context = {
        "title": f"Task {number}",
        "nav": "tasks",
        "site": site,
        "t": task,
        "names": names,
        "rounds": readable,
        "unreadable": len(summaries) - len(readable),
        "chart": loss_chart(readable) if readable else None,
        "cumulative": cumulative_standings(task, readable),
        "rejections": [(r.round, e) for r in readable for e in r.rejected],
        "current": next((r for r in task.rounds if r.round == task.current_round), None),
        "model_id": _model_of(session, scope, number),
    }
    return render(request, "task.html", context)


def _model_of(session: Any, scope: crud.Scope, task_id: int | None) -> int | None:
    rows, _ = crud.list_models(session, scope, task_id=task_id, limit=1, offset=0)
    return rows[0].model_id if rows else None


class _AuditCache:
    """Audit reports by task, kept while the task's finalised rounds stay the same."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reports: dict[tuple[int, int], AuditReport] = {}

    def get(self, key: tuple[int, int]) -> AuditReport | None:
        with self._lock:
            return self._reports.get(key)

    def put(self, key: tuple[int, int], report: AuditReport) -> None:
        with self._lock:
            if len(self._reports) > 256:
                self._reports.clear()
            self._reports[key] = report


_audits = _AuditCache()


@router.get("/ui/tasks/{task_id}/audit", response_class=HTMLResponse)
def task_audit(
    task_id: str,
    request: Request,
    session: SessionDep,
    scope: ScopeDep,
    services: ServicesDep,
    site: SiteDep,
) -> Any:
    """The audit verdict of a task, as a fragment of its page."""
    number = item_id(task_id)
    task = _snapshot(session, scope, number) if number is not None else None
    if task is None or number is None:
        return not_found(request, site, f"Task {task_id}")
    finalized = sum(1 for r in task.rounds if r.finalized)
    report, error = _audits.get((number, finalized)), None
    if report is None and finalized:
        try:
            report = audit_task(services.fed_task, services.store, number, challenges=False)
        except CHAIN_DOWN as exc:  # the fragment says why
            log.warning("task_audit: task %s could not be audited: %s", number, exc)
            error = str(exc)
        else:
            _audits.put((number, finalized), report)
    context = {"report": report, "error": error, "finalized": finalized, "t": task}
    return render(request, "_audit.html", context)


__all__ = ["cumulative_standings", "loss_chart", "router"]
