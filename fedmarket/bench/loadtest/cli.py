"""``scripts/bench-load``: the options, the run of the parts asked for, the tables and the JSON.

The parts share what they can: with the API part, PostgreSQL, anvil and the contracts are started
first (:func:`fedmarket.bench.loadtest.api.market_world`) and the processes part runs its task on
that chain, whose final model is then the one the buyers buy; without it, the processes part
starts its own anvil. The Flower part starts an anvil per size.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from rich.console import Console

from chain import DevNode
from fedmarket.bench.loadtest._figures import ProcessesResult
from fedmarket.bench.loadtest._task import ChainPlace
from fedmarket.bench.loadtest.api import ApiOptions, ApiResult, market_world, place_of, run_api
from fedmarket.bench.loadtest.flower import ENGINES, FlowerOptions, FlowerSize, run_flower
from fedmarket.bench.loadtest.processes import ProcessesOptions, deploy_place, run_processes
from fedmarket.bench.loadtest.report import (
    api_table,
    as_record,
    flower_table,
    processes_table,
    rounds_table,
)
from kernel.errors import FedmarketError

log = logging.getLogger(__name__)
console = Console(width=160)
progress_console = Console(stderr=True)

PARTS = ("processes", "flower", "api")
T = TypeVar("T")


@dataclass(frozen=True)
class LoadOptions:
    """Which parts to run, and each part's size."""

    parts: tuple[str, ...] = PARTS
    processes: ProcessesOptions = ProcessesOptions()
    flower: FlowerOptions = FlowerOptions()
    api: ApiOptions = ApiOptions()


QUICK = LoadOptions(
    processes=ProcessesOptions(participants=2, rounds=1, commit_s=15, reveal_s=5),
    flower=FlowerOptions(sizes=(2, 4), rounds=2, engine="inprocess"),
    api=ApiOptions(concurrency=(1, 4), duration_s=2.0, listings=200, tasks=10,
                   task_participants=2, commit_s=12, reveal_s=5),
)  # fmt: skip
"""``--quick``: tiny sizes and a short schedule (a smoke run of every part)."""


@dataclass(frozen=True)
class LoadResult:
    """What the parts measured, and the errors of those that failed (by part)."""

    processes: ProcessesResult | None = None
    flower: tuple[FlowerSize, ...] = ()
    api: ApiResult | None = None
    errors: Mapping[str, str] = field(default_factory=dict)

    def missed(self) -> list[str]:
        """The targets missed (lost updates, double payments, errors, incomplete runs)."""
        found = [f"{part}: {error}" for part, error in self.errors.items()]
        p = self.processes
        if p is not None and (p.lost_updates or p.payments.double_payments or p.failed):
            found.append(f"processes: {p.lost_updates} lost, {p.payments.double_payments} "
                         f"double payments, {len(p.failed)} failed")  # fmt: skip
        if p is not None and p.rounds_completed != p.rounds_asked:
            found.append(f"processes: {p.rounds_completed} of {p.rounds_asked} rounds")
        found += [f"flower: {s.participants} nodes incomplete" for s in self.flower
                  if not s.complete]  # fmt: skip
        if self.api is not None:
            errors = sum(lv.idle.errors + lv.busy.errors for lv in self.api.levels)
            if errors or self.api.background.lost_updates:
                found.append(f"api: {errors} errors, "
                             f"{self.api.background.lost_updates} lost updates beside")  # fmt: skip
        return found


def _part(errors: dict[str, str], name: str, run: Callable[[], T]) -> T | None:
    """``run()``, its error recorded in ``errors`` under ``name`` instead of raised."""
    try:
        return run()
    except FedmarketError as exc:
        log.error("%s: %s", name, exc)
        errors[name] = str(exc)
        return None


def run_bench(options: LoadOptions, work: Path) -> LoadResult:
    """Every part asked for (see the module docstring), their files in ``work``."""
    errors: dict[str, str] = {}
    processes, seller, flower, api = None, None, None, None
    with ExitStack() as stack:
        place: ChainPlace | None = None
        world = None
        if "api" in options.parts:
            world = stack.enter_context(market_world(options.api, work / "market"))
            place = place_of(world)
        elif "processes" in options.parts:
            node = stack.enter_context(DevNode())
            place = deploy_place(node.url, work / "chain")
        if "processes" in options.parts and place is not None:
            ran = _part(errors, "processes", lambda: run_processes(
                place, options.processes, progress_console, work))  # fmt: skip
            processes, seller = ran if ran is not None else (None, None)
        if "flower" in options.parts:
            flower = _part(errors, "flower", lambda: run_flower(
                options.flower, progress_console, work / "flower"))  # fmt: skip
        if world is not None:
            api = _part(errors, "api", lambda: run_api(
                world, options.api, progress_console, work / "api", seller))  # fmt: skip
    return LoadResult(processes, flower or (), api, errors)


def _ints(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of numbers: {text}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"every value must be at least 1: {text}")
    return values


def _positive(text: str) -> int:
    (value,) = _ints(text)
    return value


SIZES: tuple[tuple[str, Any, str, str], ...] = (
    ("--participants", _positive, "N", "part 1: participant processes (50)"),
    ("--rounds", _positive, "R", "part 1: rounds (5)"),
    ("--commit-period", _positive, "S", "part 1: seconds (20 + 2.5 per participant)"),
    ("--reveal-period", _positive, "S", "part 1: seconds (10 + 0.4 per participant)"),
    ("--poll", float, "S", "part 1: participants' seconds between looks (0.05 each, >= 0.5)"),
    ("--flower-sizes", _ints, "N,N", "part 2: nodes of each run (10,50,100)"),
    ("--flower-rounds", _positive, "R", "part 2: rounds of each run (2)"),
    ("--concurrency", _ints, "C,C", "part 3: buyers of each measurement (1,10,50)"),
    ("--duration", float, "S", "part 3: measured seconds per measurement (10)"),
    ("--listings", _positive, "N", "part 3: dataset listings seeded in the index (2000)"),
    ("--task-participants", _positive, "N", "part 3: the background task's participants (4)"),
    ("--workers", _positive, "W", "part 3: the API's worker processes (2)"),
)
"""The size options: flag, type, metavar, help (the default in brackets)."""


def _parser() -> argparse.ArgumentParser:
    from fedmarket.bench import loadtest

    parser = argparse.ArgumentParser(
        prog="scripts/bench-load", description=(loadtest.__doc__ or "").split("\n")[0],
        epilog="Sizes given with --quick replace its own.",
    )  # fmt: skip
    add = parser.add_argument
    add("--part", choices=(*PARTS, "all"), default="all", help="one part, or all (default)")
    add("--quick", action="store_true", help="tiny sizes, a short schedule: a smoke run")
    for flag, kind, metavar, text in SIZES:
        add(flag, type=kind, metavar=metavar, help=text)
    add("--flower-engine", choices=ENGINES, help="part 2: ray (the default) or inprocess")
    add("--work", type=Path, metavar="DIR", help="keep the files here (logs, data, store)")
    add("--json", type=Path, metavar="FILE", help="also write every figure here")
    return parser


def _given(args: argparse.Namespace, **names: str) -> dict[str, Any]:
    """``field -> value`` of the options given (``names``: field -> argument)."""
    return {f: getattr(args, a) for f, a in names.items() if getattr(args, a) is not None}


def parse_args(argv: Sequence[str] | None) -> tuple[LoadOptions, argparse.Namespace]:
    """The options from the command line (``--quick`` first, then each size given)."""
    args = _parser().parse_args(argv)
    base = QUICK if args.quick else LoadOptions()
    processes = replace(base.processes, **_given(
        args, participants="participants", rounds="rounds", commit_s="commit_period",
        reveal_s="reveal_period", poll_s="poll"))  # fmt: skip
    flower = replace(base.flower, **_given(
        args, sizes="flower_sizes", rounds="flower_rounds", engine="flower_engine"))  # fmt: skip
    api = replace(base.api, **_given(
        args, concurrency="concurrency", duration_s="duration", listings="listings",
        task_participants="task_participants", workers="workers"))  # fmt: skip
    parts = PARTS if args.part == "all" else (args.part,)
    return LoadOptions(parts, processes, flower, api), args


def _print(result: LoadResult) -> None:
    if result.processes is not None:
        console.print(processes_table(result.processes))
        console.print(rounds_table(result.processes, "part 1, round by round"))
    if result.flower:
        console.print(flower_table(result.flower))
    if result.api is not None:
        console.print(api_table(result.api))
        console.print(rounds_table(result.api.background, "part 3, the background task's rounds"))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; print the tables (and write the JSON when asked).

    Exits 0 when every part ran and met its targets (no update lost, no double payment, no API
    error, every Flower run complete), 1 when a part failed or missed one.
    """
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("flwr").setLevel(logging.ERROR)
    options, args = parse_args(argv)
    started = time.perf_counter()
    # SIGINT and SIGTERM unwind (KeyboardInterrupt), so that every child and server is stopped;
    # set explicitly: a child of a backgrounded shell inherits SIGINT ignored
    stops = (signal.SIGINT, signal.SIGTERM)
    handlers = {s: signal.signal(s, signal.default_int_handler) for s in stops}
    try:
        with tempfile.TemporaryDirectory(prefix="fedmarket-bench-load-") as tmp:
            work = args.work or Path(tmp)
            work.mkdir(parents=True, exist_ok=True)
            result = run_bench(options, work)
    except KeyboardInterrupt:
        console.print("bench-load: interrupted; every process it started is stopped")
        return 130
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    _print(result)
    missed = result.missed()
    elapsed = time.perf_counter() - started
    console.print(f"bench-load: {elapsed:.0f} s in all on {os.cpu_count()} cores; "
                  f"targets {'missed: ' + '; '.join(missed) if missed else 'met'}")  # fmt: skip
    if args.json is not None:
        record = {"options": as_record(options), "result": as_record(result),
                  "missed": missed, "cpus": os.cpu_count(), "seconds": elapsed}  # fmt: skip
        args.json.write_text(json.dumps(record, indent=2) + "\n")
    return 1 if missed else 0


__all__ = ["LoadOptions", "LoadResult", "QUICK", "main", "parse_args", "run_bench"]
