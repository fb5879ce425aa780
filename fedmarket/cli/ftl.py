"""``fedmarket ftl``: federated transfer learning across two rating domains, recorded on chain.

X-Wines: the source party holds the ratings of red wines, the target party those of every
other type; they find their shared users by PSI and learn those users' latent factors
together (masked gradients summed by the coordinator), so the target predicts its ratings
better than from its own data alone. The run also trains the target alone and both domains
pooled on one machine, as references. The task, the PSI manifest and each party's model-part
hash are recorded on FedTask (target in the guest's seat, source in the host's); the pool is
split by two-party Shapley. Chain options as ``fedmarket vfl``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from fedmarket.cli._common import console, out
from fedmarket.cli.vfl import (
    CommitWindow,
    CoordinatorStake,
    DeploymentFile,
    ParticipantStake,
    Travel,
    WaitWindow,
    chain_settings,
    role_keys,
)
from fl_node.events import ChainReady, Event, Finished, RewardsPaid, TaskCreated
from kernel.errors import InvalidInputError


def ftl(
    dataset: Annotated[
        str, typer.Option(help="xwines (red wines -> every other type).")
    ] = "xwines",
    out_dir: Annotated[
        Path, typer.Option("--out", help="Folder for summary.json and artifacts.")
    ] = Path("out/ftl"),
    rpc: Annotated[
        str | None, typer.Option("--rpc", help="JSON-RPC chain URL (default: in-process chain).")
    ] = None,
    deployment: DeploymentFile = None,
    seed: Annotated[int, typer.Option(help="Seed of the split and the initialisations.")] = 0,
    epochs: Annotated[int | None, typer.Option(min=1, help="Override the step limit.")] = None,
    max_users: Annotated[
        int, typer.Option(min=0, help="Keep this many users drawn at random (0: all).")
    ] = 0,
    workers: Annotated[int, typer.Option(min=1, help="Processes for the PSI.")] = 2,
    travel: Travel = True,
    commit_window: CommitWindow = None,
    wait_window: WaitWindow = None,
    participant_stake: ParticipantStake = 0,
    coordinator_stake: CoordinatorStake = 0,
) -> None:
    """Federated transfer learning (PSI, masked shared user factors) with its on-chain record."""
    from dataclasses import replace

    from chain import Deployment
    from fl_node.transfer import MFConfig
    from fl_node.transfer.runner import DATASETS, FtlSettings, run_ftl

    if dataset not in DATASETS:
        raise InvalidInputError(f"ftl: unknown dataset {dataset!r} (xwines)")
    if deployment is not None and rpc is None:
        raise InvalidInputError("ftl: --deployment needs --rpc (the chain it is on)")
    started = time.monotonic()
    chain = chain_settings(travel, commit_window, wait_window, participant_stake, coordinator_stake)
    settings = FtlSettings(
        config=replace(MFConfig(), epochs=epochs) if epochs else MFConfig(),
        seed=seed,
        max_users=max_users,
        workers=workers,
        **chain,
    )
    summary = run_ftl(
        dataset,
        out_dir,
        settings=settings,
        rpc_url=rpc,
        deployment=Deployment.load(deployment) if deployment is not None else None,
        keys=role_keys(),
        on_event=render,
    )
    _print_summary(summary)
    out.print(f"wrote {out_dir / 'summary.json'} in {time.monotonic() - started:.0f} s")


def render(event: Event) -> None:
    """Show one progress event of the run on stderr."""
    from fl_node.transfer.runner import ModelTrained, SharedUsersFound

    show = console.print
    match event:
        case ChainReady(backend=backend):
            show(f"chain: {backend}")
        case TaskCreated(task_id=task_id, pool_wei=pool_wei):
            show(f"task {task_id} created: pool {pool_wei / 1e18:g} FMT")
        case SharedUsersFound(shared=shared, seconds=seconds):
            show(f"PSI: {shared:,} shared users in {seconds:.2f} s")
        case ModelTrained(method=method, steps=steps, test_rmse=test_rmse, seconds=seconds):
            show(f"  {method}: {steps} steps in {seconds:.1f} s, test RMSE {test_rmse:.4f}")
        case RewardsPaid(paid_wei=paid_wei):
            show(f"rewards claimed by proof by {len(paid_wei)} parties")
        case Finished(summary_path=path):
            show(f"summary: {path}")
        case _:
            pass


def _print_summary(summary: dict[str, Any]) -> None:
    """The headline figures as a table on stdout."""
    m = summary["metrics"]
    table = Table(
        title=f"federated transfer learning on {summary['dataset']} (seed {summary['seed']})"
    )
    table.add_column("method")
    table.add_column("test MAE", justify="right")
    table.add_column("test RMSE", justify="right")
    for name in ("global_mean", "target_only", "federated", "centralised"):
        table.add_row(name, f"{m[name]['mae']:.4f}", f"{m[name]['rmse']:.4f}")
    out.print(table)
    shapley = summary["contribution"]["shapley"]
    out.print(
        f"gain recovered {summary['gain_recovered']:.1%}; Shapley target {shapley['target']:.4f}, "
        f"source {shapley['source']:.4f}; gas {summary['chain']['gas_used_total']:,}"
    )
