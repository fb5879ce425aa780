"""``fedmarket task``: design, create and inspect training tasks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from fedmarket.cli._common import (
    DeploymentOpt,
    KeyEnvOpt,
    RpcOpt,
    StoreOpt,
    connect_deployment,
    out,
)
from kernel.errors import InvalidInputError

task_app = typer.Typer(help="Create and inspect training tasks.", no_args_is_help=True)


@task_app.command("design")
def task_design(
    out_file: Annotated[Path, typer.Option("--out", help="Where to write the spec JSON.")],
    api: Annotated[
        str | None,
        typer.Option(help="Marketplace URL: pool the statistics of its listings (with --tag)."),
    ] = None,
    tag: Annotated[str | None, typer.Option(help="Only listings with this tag.")] = None,
    stats_from: Annotated[
        list[Path] | None,
        typer.Option("--stats-from", help="CSV files whose statistics to pool (repeatable)."),
    ] = None,
    rounds: Annotated[int, typer.Option(min=1, max=1000)] = 10,
) -> None:
    """Write a task spec whose input scaling pools the datasets' published statistics."""
    from fedmarket.demo import design_task
    from fl_node.data import FeatureStats, load_csv

    if api:
        from marketplace_api import MarketplaceClient

        with MarketplaceClient(api) as client:
            listed = client.datasets(**({"tag": tag} if tag else {}))
        if not listed:
            raise InvalidInputError("task design: the marketplace lists no matching dataset")
        stats = [FeatureStats.from_dict(item["statistics"]) for item in listed]
        names = tuple(c["name"] for c in listed[0]["schema"] if c["dtype"] in ("float", "int"))
    elif stats_from:
        stats = [load_csv(path).stats() for path in stats_from]
        with stats_from[0].open(encoding="utf-8") as fh:
            names = tuple(fh.readline().strip().split(",")[:-1])
    else:
        raise InvalidInputError("task design: give --api URL or --stats-from CSV")
    spec = design_task(stats, names, rounds=rounds)
    out_file.write_bytes(spec.to_bytes())
    out.print(f"wrote {out_file}: {spec.name}, {len(names)} features, {rounds} rounds")


@task_app.command("create")
def task_create(
    rpc: RpcOpt,
    deployment: DeploymentOpt,
    store: StoreOpt,
    spec_file: Annotated[Path, typer.Option("--spec", help="Task spec JSON (TaskSpec).")],
    coordinator: Annotated[str, typer.Option(help="Coordinator address.")],
    pool: Annotated[int, typer.Option(min=1, help="Reward pool in token wei.")],
    max_participants: Annotated[int, typer.Option(min=1, max=256)] = 4,
    key_env: KeyEnvOpt = "FEDMARKET_SPONSOR_KEY",
) -> None:
    """Store a task spec and create the task, escrowing POOL from the sponsor (the key's owner)."""
    from chain import account_from_env, signer_for
    from fl_node.task import TaskSpec
    from storage import LocalCidStore, content_hash

    backend, dep = connect_deployment(rpc, deployment)
    signer = signer_for(backend, account_from_env(key_env))
    spec = TaskSpec.from_bytes(spec_file.read_bytes())
    spec_bytes = spec.to_bytes()
    spec_cid = LocalCidStore(store).put(spec_bytes)
    dep.token_client(backend, signer).approve(dep.fed_task, pool)
    task_id, _ = dep.fed_task_client(backend, signer).create_task(
        spec_cid=spec_cid,
        spec_hash=content_hash(spec_bytes),
        coordinator=backend.w3.to_checksum_address(coordinator),
        pool=pool,
        total_rounds=spec.rounds,
        max_participants=max_participants,
    )
    out.print(task_id)


@task_app.command("show")
def task_show(
    rpc: RpcOpt, deployment: DeploymentOpt, task_id: Annotated[int, typer.Argument()]
) -> None:
    """Print a task's on-chain state and its rounds as JSON."""
    backend, dep = connect_deployment(rpc, deployment)
    client = dep.fed_task_client(backend)
    info = client.task(task_id)
    view = {
        "task_id": task_id,
        "status": info.status.name.lower(),
        "sponsor": info.sponsor,
        "coordinator": info.coordinator,
        "pool_wei": str(info.pool),
        "escrow_wei": str(info.escrow),
        "round": info.current_round,
        "round_open": info.round_open,
        "model_cid": info.model_cid,
        "participants": client.participants(task_id),
        "rounds": [
            {
                "round": r.round,
                "model_cid": r.model_cid,
                "evidence_cid": r.evidence_cid,
                "paid_wei": str(r.paid),
            }
            for r in client.finalized_rounds(task_id)
        ],
    }
    out.print_json(json.dumps(view))
