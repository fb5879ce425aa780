"""The roles as processes: ``fedmarket participant``, ``coordinator`` and ``audit``."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from fedmarket.cli._common import (
    DeploymentOpt,
    KeyEnvOpt,
    RpcOpt,
    StoreOpt,
    connect_deployment,
    out,
)
from fedmarket.cli.errors import EXIT_VERDICT
from kernel.errors import OperationTimeoutError


def participant(
    rpc: RpcOpt,
    deployment: DeploymentOpt,
    store: StoreOpt,
    task_id: Annotated[int, typer.Option("--task", help="Task id.")],
    data: Annotated[Path, typer.Option(help="This participant's own CSV (features..., label).")],
    key_env: KeyEnvOpt = "FEDMARKET_PARTICIPANT_KEY",
    join: Annotated[bool, typer.Option(help="Join the task first.")] = True,
    timeout: Annotated[float, typer.Option(help="Give up after this many seconds.")] = 3600.0,
    poll: Annotated[float, typer.Option(help="Seconds between chain polls.")] = 0.3,
) -> None:
    """Run a participant node: train on DATA whenever a round opens, until the task completes."""
    from chain import account_from_env, signer_for
    from fl_node.data import load_csv
    from fl_node.participant import ParticipantNode
    from storage import LocalCidStore

    backend, dep = connect_deployment(rpc, deployment)
    signer = signer_for(backend, account_from_env(key_env))
    fed_task = dep.fed_task_client(backend)
    node = ParticipantNode(
        signer=signer, fed_task=fed_task, store=LocalCidStore(store), data=load_csv(data)
    )
    spec = node.spec(task_id)
    node.data = load_csv(data, feature_names=spec.feature_names)
    if join:
        node.join(task_id)
    history = node.run(task_id, poll_interval=poll, timeout=timeout)
    owed = fed_task.owed(signer.address)
    if owed:
        fed_task.as_signer(signer).claim_rewards()
    out.print_json(
        json.dumps(
            {
                "participant": signer.address,
                "rounds": [h.round for h in history],
                "bytes_sent": sum(h.bytes_up for h in history),
                "claimed_wei": str(owed),
            }
        )
    )


def coordinator(
    rpc: RpcOpt,
    deployment: DeploymentOpt,
    store: StoreOpt,
    task_id: Annotated[int, typer.Option("--task", help="Task id.")],
    validation: Annotated[Path, typer.Option(help="The coordinator's validation CSV.")],
    test: Annotated[Path, typer.Option(help="The held-out test CSV.")],
    participants: Annotated[
        int, typer.Option(min=1, help="Wait for this many participants to join.")
    ],
    key_env: KeyEnvOpt = "FEDMARKET_COORDINATOR_KEY",
    round_timeout: Annotated[
        float, typer.Option(help="Seconds to wait for updates per round.")
    ] = 300.0,
    join_timeout: Annotated[float, typer.Option(help="Seconds to wait for participants.")] = 300.0,
) -> None:
    """Run the coordinator of a task: open rounds, check and aggregate updates, pay, finalise."""
    from chain import account_from_env, signer_for
    from fl_node.coordinator import Coordinator
    from fl_node.data import load_csv
    from storage import LocalCidStore

    backend, dep = connect_deployment(rpc, deployment)
    signer = signer_for(backend, account_from_env(key_env))
    fed_task = dep.fed_task_client(backend)
    deadline = time.monotonic() + join_timeout
    while len(fed_task.participants(task_id)) < participants:
        if time.monotonic() > deadline:
            raise OperationTimeoutError(
                f"coordinator: fewer than {participants} participants joined in time"
            )
        time.sleep(0.3)
    node = Coordinator(
        signer=signer,
        fed_task=fed_task,
        store=LocalCidStore(store),
        validation=load_csv(validation),
        test=load_csv(test),
    )
    node.attach(task_id)
    reports = node.run(round_timeout=round_timeout)
    final = reports[-1] if reports else None
    out.print_json(
        json.dumps(
            {
                "task_id": task_id,
                "rounds": len(reports),
                "rejected": [
                    {"round": r.round, "participant": v.participant, "reason": v.reason}
                    for r in reports
                    for v in r.rejected
                ],
                "test": final.test.to_dict() if final else None,
                "model_cid": final.model_cid if final else None,
            }
        )
    )


def audit(
    rpc: RpcOpt,
    deployment: DeploymentOpt,
    store: StoreOpt,
    task_id: Annotated[int, typer.Option("--task", help="Task id.")],
    json_out: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Recompute a task round by round from the chain and the store; exit 1 if anything differs."""
    from fl_node.audit import audit_task
    from storage import LocalCidStore

    backend, dep = connect_deployment(rpc, deployment)
    fed_task = dep.fed_task_client(backend)
    report = audit_task(fed_task, LocalCidStore(store), task_id)
    if json_out:
        out.print_json(json.dumps(report.to_dict()))
    else:
        table = Table(title=f"audit of task {task_id}")
        for column in ("round", "check", "result", "detail"):
            table.add_column(column)
        for r in report.rounds:
            for c in r.checks:
                table.add_row(str(r.round), c.name, "ok" if c.ok else "FAILED", c.detail)
        out.print(table)
    if not report.ok:
        raise typer.Exit(EXIT_VERDICT)
