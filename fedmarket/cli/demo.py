"""``fedmarket demo``: the whole story on the embedded default, rendered as it happens."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from fedmarket.cli._common import console, out, stop_signals
from fedmarket.demo.events import (
    ApiStarted,
    DatasetListed,
    ModelListed,
    ModelSold,
    RoundFinished,
    StakesReturned,
)
from fl_node.events import Audited, ChainReady, Event, Finished, RewardsPaid, TaskCreated


def demo(
    out_dir: Annotated[
        Path, typer.Option("--out", help="Folder for summary.json and artifacts.")
    ] = Path("out/demo"),
    rounds: Annotated[int, typer.Option(min=1, max=100, help="Training rounds.")] = 10,
    pool: Annotated[int, typer.Option(min=1, help="Reward pool in whole tokens.")] = 1000,
    seed: Annotated[
        int, typer.Option(help="Seed of the parties' keys and the hospitals' data split.")
    ] = 2024,
    serve: Annotated[
        bool,
        typer.Option(
            "--serve",
            help="Leave the marketplace running at the end (its URL is printed) until Ctrl-C.",
        ),
    ] = False,
    port: Annotated[
        int, typer.Option(min=0, max=65535, help="The marketplace's port with --serve.")
    ] = 8000,
) -> None:
    """Run the whole story on the embedded default: list, sponsor, train, claim, sell, audit."""
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
        summary = run_demo(
            out_dir,
            rounds=rounds,
            pool_tokens=pool,
            seed=seed,
            on_event=lambda event: _render(event, progress, bar),
            hold=(lambda url: _hold(url, out_dir, started)) if serve else None,
            port=port if serve else 0,
        )
    if not serve:
        _print_demo_summary(summary, out_dir, time.monotonic() - started)


def _hold(url: str, out_dir: Path, started: float) -> None:
    """Print the summary (written by now) and the URL, then keep the marketplace up until Ctrl-C."""
    summary = json.loads((out_dir / "summary.json").read_text())
    _print_demo_summary(summary, out_dir, time.monotonic() - started)
    task = summary.get("task_id")
    console.print(f"\n[bold]The marketplace is running at {url}/[/bold]")
    if task is not None:
        console.print(f"  the task the demo ran: {url}/ui/tasks/{task}")
    console.print("  (the chain is in this process: pages and reads work, wallets cannot connect)")
    console.print("Press Ctrl-C to stop.")
    with stop_signals() as stop:
        while not stop.wait(1.0):
            pass
    console.print("stopping the marketplace")


def _render(event: Event, progress: Progress, bar: TaskID) -> None:
    """Show one progress event of the demo above (or in) the progress bar."""
    show = progress.console.print
    match event:
        case ChainReady(backend=backend):
            show(f"chain: {backend}")
        case ApiStarted(url=url):
            show(f"marketplace API: {url}")
        case DatasetListed(name=name, dataset_id=dataset_id, rows=rows):
            show(f"listed {name} ({rows} rows) as dataset {dataset_id}")
        case TaskCreated(task_id=task_id, pool_wei=pool_wei, rounds=rounds):
            show(f"task {task_id} created: pool {pool_wei / 1e18:g} FMT, {rounds} rounds")
            progress.update(bar, description="training")
        case RoundFinished(accuracy=acc, f1=f1, rejected=rejected, paid_wei=paid, gas_used=gas):
            status = (
                f"acc {acc:.3f}  F1 {f1:.3f}  rejected {rejected}  "
                f"budget {paid / 1e18:.1f} FMT  gas {gas:,}"
            )
            progress.update(bar, advance=1, status=status)
        case RewardsPaid(paid_wei=paid_wei, remainder_wei=remainder):
            show(
                f"rewards claimed by proof by {sum(1 for w in paid_wei.values() if w)} "
                f"participants, {remainder / 1e18:g} FMT back to the sponsor"
            )
        case StakesReturned(returned_wei=returned):
            show(f"stakes returned to {len(returned)} parties after the cooldown")
        case ModelListed(model_id=model_id, price_wei=price):
            show(f"model listed on ModelMarket as #{model_id} at {price / 1e18:g} FMT")
        case ModelSold(price_wei=price, contributors_wei=part, claimed_wei=claimed):
            show(
                f"model bought for {price / 1e18:g} FMT: {part / 1e18:g} FMT to "
                f"{len(claimed)} contributors by their shares"
            )
        case Audited(ok=ok, checks=checks):
            show(f"audit from chain + store: {checks} checks {'passed' if ok else 'FAILED'}")
        case Finished():
            progress.update(bar, description="done")
        case _:
            pass


def _rewards_table(summary: dict[str, Any]) -> Table:
    """Each participant's score, claimed rewards, share of the model and part of its sale."""
    policy = summary["rewards"]["policy"]
    rewards = Table(
        title=f"scores ({summary['rewards']['contribution_method']}), rewards (FMT, "
        f"{policy['budget']} budget, unspent: {policy['unspent']}) and shares"
    )
    for column in ("participant", "address", "score", "claimed", "share (bps)", "sale"):
        rewards.add_column(
            column, justify="left" if column in ("participant", "address") else "right"
        )
    names = summary.get("participant_names", {})
    shares = summary["protocol"]["shares_bps"]
    sale = summary["sale"]["claimed_wei"]
    scores = summary["rewards"]["scores"]
    for address, wei in summary["rewards"]["paid_wei"].items():
        rewards.add_row(
            names.get(address, ""),
            address,
            f"{scores.get(address, 0.0):.5f}",
            f"{wei / 1e18:.4f}",
            str(shares.get(address, 0)),
            f"{sale.get(address, 0) / 1e18:.4f}",
        )
    remainder = summary["rewards"]["remainder_wei"]
    rewards.add_row("remainder", "(back to the sponsor)", "", f"{remainder / 1e18:.4f}", "", "")
    return rewards


def _print_demo_summary(summary: dict[str, Any], out_dir: Path, seconds: float) -> None:
    metrics = summary["metrics"]
    table = Table(title=f"{summary['rounds']} rounds, {summary['participants']} hospitals")
    table.add_column("held-out test")
    table.add_column("value", justify="right")
    for key in ("accuracy", "f1", "precision", "recall", "auc"):
        table.add_row(key, f"{metrics[key]:.4f}")
    out.print(table)
    out.print(_rewards_table(summary))
    chain, gas = summary["chain"], summary["protocol"]["gas"]
    out.print(
        f"updates committed {chain['updates_committed']} "
        f"({chain['commitments']['batched']} batched), rejected {chain['updates_rejected']}; "
        f"gas per round {gas['mean_per_round']:,}, per participant-update "
        f"{gas['per_participant_update']:,} (anchoring {gas['anchoring_per_participant_update']:,})"
        f", total {chain['gas_used_total']:,} on {chain['backend']}; targets "
        f"{'met' if summary['acceptance']['met'] else 'NOT met'}"
    )
    out.print(f"wrote {out_dir / 'summary.json'} and the artifacts beside it in {seconds:.1f} s")
