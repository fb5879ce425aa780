"""``fedmarket demo``: the whole story on the embedded default, rendered as it happens."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from fedmarket.cli._common import console, out


def demo(
    out_dir: Annotated[
        Path, typer.Option("--out", help="Folder for summary.json and artifacts.")
    ] = Path("out/demo"),
    rounds: Annotated[int, typer.Option(min=1, max=100, help="Training rounds.")] = 10,
    pool: Annotated[int, typer.Option(min=1, help="Reward pool in whole tokens.")] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of the hospitals' data split.")] = 2024,
) -> None:
    """Run the whole story on the embedded default: list, sponsor, train, pay, publish."""
    from fedmarket.demo import run_demo

    started = time.monotonic()
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        bar = progress.add_task("setting up", total=rounds, status="")

        def on_event(kind: str, payload: dict[str, Any]) -> None:
            if kind == "chain":
                progress.console.print(f"chain: {payload['backend']}")
            elif kind == "api":
                progress.console.print(f"marketplace API: {payload['url']}")
            elif kind == "listed":
                progress.console.print(
                    f"listed {payload['name']} ({payload['rows']} rows) as dataset "
                    f"{payload['dataset_id']}"
                )
            elif kind == "task":
                progress.console.print(
                    f"task {payload['task_id']} created: pool {payload['pool_wei'] / 1e18:g} FMT, "
                    f"{payload['rounds']} rounds"
                )
                progress.update(bar, description="training")
            elif kind == "round":
                r = payload["report"]
                status = (
                    f"acc {r.test.accuracy:.3f}  F1 {r.test.f1:.3f}  "
                    f"rejected {len(r.rejected)}  paid {sum(r.amounts) / 1e18:.1f} FMT"
                )
                progress.update(bar, advance=1, status=status)
            elif kind == "model":
                progress.console.print(f"model listed in the marketplace as #{payload['model_id']}")
            elif kind == "audit":
                verdict = "passed" if payload["ok"] else "FAILED"
                progress.console.print(
                    f"audit from chain + store: {payload['checks']} checks {verdict}"
                )

        summary = run_demo(out_dir, rounds=rounds, pool_tokens=pool, seed=seed, on_event=on_event)
    _print_demo_summary(summary, out_dir, time.monotonic() - started)


def _print_demo_summary(summary: dict[str, Any], out_dir: Path, seconds: float) -> None:
    metrics = summary["metrics"]
    table = Table(title=f"{summary['rounds']} rounds, {summary['participants']} hospitals")
    table.add_column("held-out test")
    table.add_column("value", justify="right")
    for key in ("accuracy", "f1", "precision", "recall", "auc"):
        table.add_row(key, f"{metrics[key]:.4f}")
    out.print(table)
    rewards = Table(title="rewards (FMT)")
    rewards.add_column("participant")
    rewards.add_column("address")
    rewards.add_column("paid", justify="right")
    names = summary.get("participant_names", {})
    for address, wei in summary["rewards"]["paid_wei"].items():
        rewards.add_row(names.get(address, ""), address, f"{wei / 1e18:.4f}")
    remainder = summary["rewards"]["remainder_wei"]
    rewards.add_row("remainder", "(back to the sponsor)", f"{remainder / 1e18:.4f}")
    out.print(rewards)
    chain = summary["chain"]
    out.print(
        f"updates anchored {chain['updates_anchored']}, rejected {chain['updates_rejected']}, "
        f"gas {chain['gas_used_total']:,} on {chain['backend']}; targets "
        f"{'met' if summary['acceptance']['met'] else 'NOT met'}"
    )
    out.print(f"wrote {out_dir / 'summary.json'} and the artifacts beside it in {seconds:.1f} s")
