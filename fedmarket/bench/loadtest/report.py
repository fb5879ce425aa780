"""The bench's tables (rich) and its JSON record: one table per part, figures side by side."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from rich.table import Table

from fedmarket.bench.loadtest._buyers import BuyerLoad
from fedmarket.bench.loadtest._figures import ProcessesResult
from fedmarket.bench.loadtest.api import ApiResult
from fedmarket.bench.loadtest.flower import FlowerSize

TOKEN = 10**18


def _tokens(wei: int) -> str:
    return f"{wei / TOKEN:,.4f}"


def _table(title: str, *columns: str) -> Table:
    table = Table(title=title, title_justify="left")
    for i, column in enumerate(columns):
        table.add_column(column, justify="left" if i == 0 else "right")
    return table


def processes_table(r: ProcessesResult) -> Table:
    """Part 1's figures, one per line."""
    s = r.schedule
    table = _table(
        f"participant processes: {r.participants} participants + 1 coordinator, "
        f"{r.rounds_asked} rounds (commit {s.commit_s} s, reveal {s.reveal_s} s, "
        f"poll {s.poll_s:g} s)",
        "figure", "value",
    )  # fmt: skip
    seconds = [x.seconds for x in r.rounds] or [0]
    lags = [x.commit_lag_s for x in r.rounds] or [0]
    p = r.payments
    rows = [
        ("rounds completed", f"{r.rounds_completed} / {r.rounds_asked}"),
        ("time per round (open -> finalised)",
         f"{r.round_mean_s:.1f} s (min {min(seconds)}, max {max(seconds)})"),
        ("commit lag (open -> last commit)", f"max {max(lags)} s of {s.commit_s} s"),
        ("finalisation (reveal deadline -> finalised)",
         f"max {max((x.finalize_s for x in r.rounds), default=0)} s"),
        ("updates committed / expected", f"{r.updates_committed} / {r.updates_expected}"),
        ("updates accepted; lost", f"{r.updates_accepted}; {r.lost_updates}"),
        ("claims; double payments", f"{p.claims}; {p.double_payments}"),
        ("claimed / budgets (tokens)", f"{_tokens(p.claimed_wei)} / {_tokens(p.budgets_wei)}"),
        ("overpaid; unclaimed (tokens)", f"{_tokens(p.overpaid_wei)}; {_tokens(p.unclaimed_wei)}"),
        ("stakes returned", f"{p.stakes_returned} / {r.participants}"),
        ("start-up, spawn -> joined (p50, max)",
         f"{r.startup_p50_s:.1f} s, {r.startup_max_s:.1f} s"),
        ("peak RSS: sum of each; largest",
         f"{r.memory.sum_peak_rss_mb:,.0f} MiB; {r.memory.largest_peak_rss_mb:,.0f} MiB "
         f"({r.memory.largest_role})"),
        ("peak at once: RSS; PSS (shared pages once)",
         f"{r.memory.peak_total_rss_mb:,.0f} MiB; {r.memory.peak_total_pss_mb:,.0f} MiB"),
        ("CPU: per participant (mean); coordinator",
         f"{r.participant_cpu_s:.1f} s; {r.coordinator_cpu_s:.1f} s"),
        ("processes failed", ", ".join(r.failed) or "0"),
        ("wall time (processes)", f"{r.wall_s:.0f} s"),
    ]  # fmt: skip
    for name, value in rows:
        table.add_row(name, value)
    return table


def rounds_table(r: ProcessesResult, title: str) -> Table:
    """Each finalised round of a process task."""
    table = _table(title, "round", "seconds", "commit lag s", "finalise s", "committed",
                   "accepted", "coalitions", "evidence KiB")  # fmt: skip
    for x in r.rounds:
        table.add_row(str(x.round), str(x.seconds), str(x.commit_lag_s), str(x.finalize_s),
                      str(x.committed), str(x.accepted), str(x.coalitions),
                      f"{x.evidence_kb:,.1f}")  # fmt: skip
    return table


def flower_table(sizes: Sequence[FlowerSize]) -> Table:
    """Part 2: the coordinator's seconds per round (means over the rounds) at each size."""
    engine = sizes[0].engine if sizes else "-"
    estimator = sizes[0].estimator if sizes else "-"
    table = _table(
        f"coordinator per round through the Flower interop path ({engine}); contributions: "
        f"{estimator}",
        "nodes", "open s", "anchor s", "finalise s", "(aggregate s", "contributions s)",
        "coordinator s", "x smallest", "clients s", "coalitions", "evidence KiB", "complete",
    )  # fmt: skip
    base = sizes[0].mean(lambda r: r.coordinator_s) if sizes else 0.0
    for size in sizes:
        coordinator = size.mean(lambda r: r.coordinator_s)
        table.add_row(
            str(size.participants),
            *(f"{size.mean(f):.2f}" for f in (
                lambda r: r.open_s, lambda r: r.anchor_s, lambda r: r.finalize_s,
                lambda r: r.aggregate_s, lambda r: r.contributions_s)),
            f"{coordinator:.2f}",
            f"{coordinator / base:.1f}" if base > 0 else "-",
            f"{size.mean(lambda r: r.clients_s):.2f}",
            f"{size.mean(lambda r: r.coalitions):,.0f}",
            f"{size.mean(lambda r: r.evidence_kb):,.1f}",
            "yes" if size.complete else "NO",
        )  # fmt: skip
    return table


def _load_cells(load: BuyerLoad) -> list[str]:
    return [f"{load.rps:.0f}", f"{load.p50_ms:.1f}", f"{load.p99_ms:.1f}", str(load.errors)]


def api_table(r: ApiResult) -> Table:
    """Part 3: each concurrency without and with the task running, all steps then each step."""
    b = r.background
    table = _table(
        f"marketplace API ({r.workers} workers) under concurrent buyers of model {r.model_id}; "
        f"busy: a task of {b.participants} participant processes running ({b.rounds_completed} "
        f"rounds finalised meanwhile, {b.lost_updates} updates lost)",
        "buyers / step", "idle req/s", "p50 ms", "p99 ms", "errors",
        "busy req/s", "p50 ms", "p99 ms", "errors",
    )  # fmt: skip
    for level in r.levels:
        table.add_row(f"{level.concurrency} (all)", *_load_cells(level.idle),
                      *_load_cells(level.busy))  # fmt: skip
        for idle, busy in zip(level.idle.routes, level.busy.routes, strict=True):
            table.add_row(
                f"  {idle.route}", f"{idle.requests / level.idle.duration_s:.0f}",
                f"{idle.p50_ms:.1f}", f"{idle.p99_ms:.1f}", str(idle.errors),
                f"{busy.requests / level.busy.duration_s:.0f}", f"{busy.p50_ms:.1f}",
                f"{busy.p99_ms:.1f}", str(busy.errors), end_section=busy is level.busy.routes[-1],
            )  # fmt: skip
    return table


def as_record(value: Any) -> Any:
    """A result as JSON-ready data (dataclasses to dicts, with their computed figures)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {f.name: as_record(getattr(value, f.name)) for f in dataclasses.fields(value)}
        for name in ("lost_updates", "round_mean_s", "coordinator_s", "complete", "rps",
                     "flows_per_s"):  # fmt: skip
            if hasattr(type(value), name):
                out[name] = getattr(value, name)
        return out
    if isinstance(value, tuple | list):
        return [as_record(v) for v in value]
    if isinstance(value, dict):
        return {str(k): as_record(v) for k, v in value.items()}
    return value


__all__ = ["api_table", "as_record", "flower_table", "processes_table", "rounds_table"]
