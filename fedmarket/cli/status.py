"""``fedmarket status``: where a task stands now, and one account's view, for operators.

``status task ID`` reads the task's phase (join, commit, inclusion, reveal, finalize,
next_round, challenge, ended), its current round against the quorum, the deadlines as chain time
and seconds left, stakes, money, disputes and whether a missed deadline makes it abortable;
``status party ADDRESS`` an account's balances, tasks, stakes, rewards and pull balances. Both
print a table, or JSON with ``--json``; the records come from :mod:`fl_node.status`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from fedmarket.cli._checks import address, int_range
from fedmarket.cli._common import DeploymentOpt, RpcOpt, connect_deployment, open_store, out

if TYPE_CHECKING:
    from fl_node.status import PartyReport, TaskStatusReport
    from storage import ContentStore

status_app = typer.Typer(
    help="Where a task stands now, and one account's view (operators).", no_args_is_help=True
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
StatusStoreOpt = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="The shared content store (a folder or an IPFS daemon's URL): task: count the "
        "reveals; party: the rewards due now, rebuilt from the evidence.",
    ),
]


def _store(location: str | None, purpose: str) -> ContentStore | None:
    """The store read through the sealing layer (plain objects only: no key), or ``None``."""
    if location is None:
        return None
    from storage.sealed_store import SealedStore

    return SealedStore(open_store(location, actor="status", purpose=purpose), key=None)


@status_app.command("task")
def status_task(
    task_id: Annotated[
        int, typer.Argument(metavar="ID", help="Task id.", callback=int_range("ID", 1))
    ],
    rpc: RpcOpt,
    deployment: DeploymentOpt,
    store: StatusStoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Where task ID stands now: phase, round, deadlines, stakes, pool, disputes, overdue."""
    from fl_node.status import read_task_status

    backend, dep = connect_deployment(rpc, deployment)
    content = _store(store, f"status:task:{task_id}")
    report = read_task_status(dep.fed_task_client(backend), task_id, store=content)
    if as_json:
        out.print_json(json.dumps(report.to_dict()))
    else:
        _print_task(report)


@status_app.command("party")
def status_party(
    account: Annotated[str, typer.Argument(metavar="ADDRESS", help="The account.")],
    rpc: RpcOpt,
    deployment: DeploymentOpt,
    store: StatusStoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """ADDRESS's balances, tasks (sponsor, coordinator, participant), stakes, rewards, proceeds."""
    from fl_node.status import read_party_status

    who = address("ADDRESS", account)
    backend, dep = connect_deployment(rpc, deployment)
    content = _store(store, f"status:party:{who}")
    report = read_party_status(backend, dep, who, store=content)
    if as_json:
        out.print_json(json.dumps(report.to_dict()))
    else:
        _print_party(report)


# ---- tables --------------------------------------------------------------------------------------


def _when(at: int) -> str:
    """A chain timestamp as UTC date and time."""
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _span(seconds: int) -> str:
    """``1d 2h``, ``5m 3s``: the two largest units of a duration (its sign dropped)."""
    left = abs(seconds)
    parts: list[str] = []
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)):
        if left >= size or (unit == "s" and not parts):
            parts.append(f"{left // size}{unit}")
            left %= size
    return " ".join(parts[:2])


def _fmt(wei: int) -> str:
    from chain.units import format_amount

    return f"{format_amount(wei)} FMT"


def _line(text: str) -> None:
    """One line of a report, never wrapped (a script may grep it)."""
    out.print(text, highlight=False, soft_wrap=True)


def _print_task(report: TaskStatusReport) -> None:
    """The task's report as a few lines and tables."""
    status = report.status.name.lower()
    _line(f"task {report.task_id}: {status}, phase {report.phase}")
    _line(f"chain time {report.chain_time} ({_when(report.chain_time)})")
    _line(f"sponsor {report.sponsor}, coordinator {report.coordinator}")
    rounds = f"rounds finalised {report.rounds_finalized} of {report.total_rounds}"
    current = report.current
    if current is not None:
        state = "open" if current.open else "finalised"
        revealed = "?" if current.revealed is None else str(current.revealed)
        met = "met" if current.quorum_met else "NOT met"
        rounds += (
            f"; round {current.round} {state}: {current.committed} committed (quorum "
            f"{current.quorum}, {met}), {revealed} revealed, {current.accepted} accepted"
        )
    _line(rounds)
    joined = len(report.participants)
    _line(f"participants {joined} of {report.max_participants} joined")
    money = report.money
    _line(
        f"pool {_fmt(money.pool)}: allocated {_fmt(money.allocated)}, claimed "
        f"{_fmt(money.claimed)}, unallocated {_fmt(money.unallocated)}, slashed in "
        f"{_fmt(money.slashed_in)}, refunded {_fmt(money.refunded)}",
    )
    disputed = ", ".join(str(r) for r in report.disputed_rounds) or "none"
    _line(f"open disputes {report.open_disputes} (rounds: {disputed})")
    _print_overdue(report)
    _print_deadlines(report)
    _print_stakes(report)
    for note in report.notes:
        _line(f"note: {note}")


def _print_overdue(report: TaskStatusReport) -> None:
    late = report.overdue
    if late is None:
        _line("overdue: no")
        return
    who = (
        "anyone"
        if late.abortable_by_anyone
        else f"the sponsor (anyone from {late.anyone_may_abort_at})"
    )
    _line(
        f"OVERDUE: {late.missed} was due at {late.deadline} ({_when(late.deadline)}); "
        f"abortable now by {who}",
    )


def _print_deadlines(report: TaskStatusReport) -> None:
    table = Table(title="deadlines (chain time)")
    for column in ("what", "chain time", "UTC", "left"):
        table.add_column(column)
    for d in report.deadlines:
        left = f"passed {_span(d.seconds_left)} ago" if d.passed else _span(d.seconds_left)
        table.add_row(d.name, str(d.at), _when(d.at), left)
    out.print(table)


def _print_stakes(report: TaskStatusReport) -> None:
    table = Table(title="stakes held")
    for column in ("account", "role", "stake"):
        table.add_column(column)
    for s in report.stakes:
        table.add_row(s.account, s.role, _fmt(s.amount))
    out.print(table)


def _print_party(report: PartyReport) -> None:
    """The account's report as a few lines and tables."""
    held = report.balances
    _line(f"account {report.account}")
    _line(f"ether {held.to_dict()['eth']}, {_fmt(held.tokens)}")
    tasks = Table(title="tasks")
    for column in ("task", "status", "roles", "stake", "claimed", "claimable now", "share"):
        tasks.add_column(column)
    for t in report.tasks:
        due = "?" if t.rewards is None else _fmt(t.rewards.wei)
        if "participant" not in t.roles:
            due = "-"
        if t.rewards is not None and t.rewards.waiting:
            due += f" (+{t.rewards.waiting} rounds waiting)"
        tasks.add_row(
            str(t.task_id), t.status, ", ".join(t.roles), _fmt(t.stake),
            _fmt(t.rewards_claimed), due, f"{t.share_bps / 100:g} %",
        )  # fmt: skip
    out.print(tasks)
    for m in report.models:
        _line(
            f"model {m.model_id} (task {m.task_id}): share {m.share_bps / 100:g} %, claimed "
            f"{_fmt(m.claimed)}, claimable {_fmt(m.claimable)}",
        )
    pull = ", ".join(f"{name} {_fmt(amount)}" for name, amount in report.pull.items())
    _line(f"withdrawable: {pull}")
    _line(f"claimable now in all: {_fmt(report.claimable)}")
