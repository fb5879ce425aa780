"""Horizontal FL side by side: ``scripts/bench`` (``python -m fedmarket.bench fl``).

Run it as::

    scripts/bench                       # 10 IID clients, 20 rounds, every system
    scripts/bench --quick               # 3 rounds (a smoke run)
    scripts/bench --systems plain,inprocess --profile   # where fedmarket's round goes
    scripts/bench --json out.json       # the figures as JSON too

One task (:mod:`fedmarket.bench._fl_task`: the same rows, shares, MLP, initial weights and
hyperparameters) runs on each system in turn, in this one process:

- ``plain``: a plain in-process PyTorch FedAvg loop;
- ``flower``: Flower 1.42's simulation engine on Ray (``flwr[simulation]``; skipped with a note
  when it is not installed);
- ``inprocess``: fedmarket on the in-process chain, every update anchored (the full protocol as
  the demo runs it: stakes, batches, reveals, checks, contributions, evidence, claims);
- ``anvil``: the same on an anvil node this command starts (skipped with a note without anvil).

It prints the wall time, the fixed cost (start-up and close), the time per round (rounds 2 to the
last), test accuracy, each system's ratios to Flower and to the plain loop, the largest difference
between each system's final weights and the plain loop's, and fedmarket's JSON-RPC requests per
round. ``--profile`` adds cProfile's top functions of the in-process run.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import logging
import pstats
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from chain import DevNode, InProcessBackend, RpcBackend
from chain.devnode import find_tool
from chain.errors import ChainConnectionError
from fedmarket.bench._fl_fedmarket import run_fedmarket
from fedmarket.bench._fl_systems import SystemResult, flower_available, run_flower, run_plain
from fedmarket.bench._fl_task import DATASETS, BenchTask, bench_task, max_abs_diff

log = logging.getLogger(__name__)
console = Console(width=120)

SYSTEMS = ("plain", "flower", "inprocess", "anvil")
"""What ``--systems`` may name, in the order they run."""


@dataclass(frozen=True)
class FlBenchOptions:
    """What to run.

    Parameters
    ----------
    dataset : str, default "digits"
        One of :data:`~fedmarket.bench._fl_task.DATASETS`.
    clients : int, default 10
        IID clients.
    rounds : int, default 20
        Rounds.
    systems : tuple of str, default SYSTEMS
        Which systems to run.
    profile : bool, default False
        Run the in-process fedmarket system under cProfile.
    """

    dataset: str = "digits"
    clients: int = 10
    rounds: int = 20
    systems: tuple[str, ...] = SYSTEMS
    profile: bool = False


@dataclass(frozen=True)
class FlBench:
    """Every system's result, the notes on those skipped, and the profile text."""

    task: BenchTask
    results: list[SystemResult]
    notes: list[str]
    profile: str


def _fedmarket(task: BenchTask, system: str, profile: bool) -> tuple[SystemResult, str]:
    """Fedmarket on the in-process chain or a fresh anvil; cProfile's top functions if asked."""
    with tempfile.TemporaryDirectory(prefix="fm-bench-") as folder:
        if system == "anvil":
            with DevNode("anvil") as node:
                backend = RpcBackend(node.url)
                return run_fedmarket(task, backend, Path(folder), system="fedmarket, anvil"), ""
        profiler = cProfile.Profile() if profile else None
        if profiler is not None:
            profiler.enable()
        result = run_fedmarket(
            task, InProcessBackend(), Path(folder), system="fedmarket, in-process chain"
        )
        if profiler is None:
            return result, ""
        profiler.disable()
        text = io.StringIO()
        stats = pstats.Stats(profiler, stream=text).strip_dirs()
        stats.sort_stats("tottime").print_stats(25)
        stats.sort_stats("cumulative").print_stats(40)
        return result, text.getvalue()


def _skip_reason(system: str) -> str | None:
    """Why ``system`` cannot run here, or ``None``."""
    if system == "flower" and not flower_available():
        return "flower: flwr[simulation] is not installed (pip install 'flwr[simulation]==1.42.0')"
    if system == "anvil":
        try:
            find_tool("anvil")
        except ChainConnectionError as exc:
            return f"anvil: {exc}"
    return None


def run_fl_bench(options: FlBenchOptions) -> FlBench:
    """Build the task and run each system on it.

    Parameters
    ----------
    options : FlBenchOptions
        What to run.
    """
    task = bench_task(options.dataset, clients=options.clients, rounds=options.rounds)
    results: list[SystemResult] = []
    notes: list[str] = []
    profile = ""
    for system in (s for s in SYSTEMS if s in options.systems):
        reason = _skip_reason(system)
        if reason is not None:
            notes.append(reason)
            continue
        console.print(f"[dim]bench: running {system}...[/dim]")
        if system == "plain":
            results.append(run_plain(task))
        elif system == "flower":
            logging.getLogger("flwr").setLevel(logging.WARNING)
            results.append(run_flower(task))
        else:
            result, text = _fedmarket(task, system, options.profile)
            results.append(result)
            profile = profile or text
    return FlBench(task, results, notes, profile)


def _by_name(bench: FlBench, prefix: str) -> SystemResult | None:
    return next((r for r in bench.results if r.system.startswith(prefix)), None)


def report(bench: FlBench) -> Table:
    """The side-by-side table."""
    task = bench.task
    plain, flower = _by_name(bench, "plain"), _by_name(bench, "Flower")
    model = task.spec.model
    widths = "-".join(str(w) for w in (model.n_features, *model.hidden, max(1, model.classes)))
    table = Table(
        title=f"{task.dataset}: {task.clients} IID clients, {task.rounds} rounds, "
        f"MLP {widths}, FedAvg"
    )
    for column in (
        "system",
        "wall s",
        "fixed s",
        "ms/round",
        "test acc",
        "x Flower wall",
        "x Flower round",
        "ms/round over plain",
        "max |w - plain|",
    ):
        table.add_column(column, justify="left" if column == "system" else "right")
    for r in bench.results:
        table.add_row(
            r.system,
            f"{r.wall_s:.2f}",
            f"{r.fixed_s:.2f}",
            f"{r.round_ms:.1f}",
            f"{r.accuracy:.4f}",
            f"{r.wall_s / flower.wall_s:.2f}" if flower else "-",
            f"{r.round_ms / flower.round_ms:.2f}" if flower else "-",
            f"{r.round_ms - plain.round_ms:+.1f}" if plain else "-",
            f"{max_abs_diff(plain.weights, r.weights):.1e}" if plain else "-",
        )
    return table


def requests_table(result: SystemResult) -> Table:
    """Fedmarket's JSON-RPC requests per round (rounds 2 to the last), the slowest first."""
    table = Table(title=f"{result.system}: JSON-RPC requests per round")
    for column in ("request", "per round", "ms per round"):
        table.add_column(column, justify="left" if column == "request" else "right")
    keys = [k for k in result.counts if not k.endswith(" ms") and result.counts[k] > 0]
    keys.sort(key=lambda k: -result.counts[f"{k} ms"])
    for key in keys:
        table.add_row(key, f"{result.counts[key]:.1f}", f"{result.counts[key + ' ms']:.1f}")
    total = sum(v for k, v in result.counts.items() if k.endswith(" ms"))
    table.add_row("all", f"{sum(result.counts[k] for k in keys):.1f}", f"{total:.1f}")
    return table


def figures(bench: FlBench, options: FlBenchOptions) -> dict[str, Any]:
    """The run as a JSON-ready record."""
    plain = _by_name(bench, "plain")
    return {
        "options": {**options.__dict__, "systems": list(options.systems)},
        "notes": bench.notes,
        "systems": [
            {
                "system": r.system,
                "wall_s": r.wall_s,
                "fixed_s": r.fixed_s,
                "round_ms": r.round_ms,
                "accuracy": r.accuracy,
                "max_abs_diff_to_plain": max_abs_diff(plain.weights, r.weights) if plain else None,
                "requests_per_round": r.counts,
            }
            for r in bench.results
        ],
    }


def parse_args(argv: Sequence[str] | None) -> tuple[FlBenchOptions, Path | None]:
    """The command line."""
    parser = argparse.ArgumentParser(prog="scripts/bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds: a smoke run")
    parser.add_argument("--dataset", choices=DATASETS, default="digits")
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--systems", default=",".join(SYSTEMS), help="comma-separated subset")
    parser.add_argument("--profile", action="store_true", help="cProfile the in-process run")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here too")
    args = parser.parse_args(argv)
    systems = tuple(s.strip() for s in args.systems.split(",") if s.strip())
    unknown = [s for s in systems if s not in SYSTEMS]
    if unknown:
        parser.error(f"unknown systems {unknown} (known: {', '.join(SYSTEMS)})")
    options = FlBenchOptions(
        dataset=args.dataset,
        clients=args.clients,
        rounds=3 if args.quick else args.rounds,
        systems=systems,
        profile=args.profile,
    )
    return options, args.json


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; print the tables (and write the JSON when asked)."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    options, json_out = parse_args(argv)
    bench = run_fl_bench(options)
    console.print(report(bench))
    for result in bench.results:
        if result.counts:
            console.print(requests_table(result))
    for note in bench.notes:
        console.print(f"skipped {note}")
    if bench.profile:
        console.print(bench.profile, markup=False, highlight=False)
    if json_out is not None:
        json_out.write_text(json.dumps(figures(bench, options), indent=2) + "\n")
    return 0
