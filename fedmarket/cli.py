"""The ``fedmarket`` command line: the user-facing layer (rich output, exit codes).

Every command has ``--help``. Errors raised on purpose by fedmarket code end the program with one
readable line on stderr and a non-zero exit code, mapped in :func:`main` and nowhere else:

- 2: bad input or configuration (:class:`~kernel.errors.FedmarketError` and subclasses),
- 3: a service cannot be reached (chain node, marketplace API),
- 1: anything unexpected (run with ``FEDMARKET_DEBUG=1`` for the traceback).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from kernel.errors import FedmarketError

console = Console(stderr=True)
out = Console()

app = typer.Typer(
    help="fedmarket: paid, auditable federated learning on an Ethereum chain.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
chain_app = typer.Typer(help="Local chain nodes and contract deployment.", no_args_is_help=True)
data_app = typer.Typer(
    help="Datasets: the registry and the demo's hospital files.", no_args_is_help=True
)
task_app = typer.Typer(help="Create and inspect training tasks.", no_args_is_help=True)
app.add_typer(chain_app, name="chain")
app.add_typer(data_app, name="data")
app.add_typer(task_app, name="task")

RpcOpt = Annotated[str, typer.Option("--rpc", help="JSON-RPC URL of the chain node.")]
DeploymentOpt = Annotated[
    Path, typer.Option("--deployment", help="Deployment JSON written by `fedmarket chain deploy`.")
]
KeyEnvOpt = Annotated[
    str,
    typer.Option("--key-env", help="Environment variable holding this party's hex private key."),
]
StoreOpt = Annotated[Path, typer.Option("--store", help="Folder of the shared content store.")]


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


@app.callback()
def _root(
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log progress to stderr.")
    ] = False,
) -> None:
    _setup_logging(verbose)


# ---- demo ----------------------------------------------------------------------------------------
@app.command()
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


# ---- vertical FL ---------------------------------------------------------------------------------
@app.command()
def vfl(
    dataset: Annotated[
        str, typer.Option(help="default-credit (bank + e-commerce, 30,000 customers) or breast.")
    ] = "default-credit",
    out_dir: Annotated[
        Path, typer.Option("--out", help="Folder for summary.json and artifacts.")
    ] = Path("out/vfl"),
    compare_phe: Annotated[
        bool, typer.Option("--compare-phe", help="Also time the same protocol with phe.")
    ] = False,
    rpc: Annotated[
        str | None, typer.Option("--rpc", help="JSON-RPC chain URL (default: in-process chain).")
    ] = None,
    epochs: Annotated[int | None, typer.Option(min=1, help="Override the epoch limit.")] = None,
    folds: Annotated[
        int | None,
        typer.Option(min=1, help="Cross-validation folds for the metrics (1: one split)."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of id removal, split and batches.")] = 0,
    workers: Annotated[int, typer.Option(min=1, help="Processes per party for the PSI.")] = 2,
) -> None:
    """Vertical FL: PSI, Paillier-encrypted hetero LR over TLS, evaluation, on-chain record."""
    from fl_node.vertical.runner import run_vfl

    if dataset not in ("default-credit", "breast"):
        raise FedmarketError(f"vfl: unknown dataset {dataset!r} (default-credit or breast)")
    started = time.monotonic()

    def on_event(kind: str, payload: dict[str, Any]) -> None:
        if kind == "task":
            console.print(f"task {payload['task_id']} on {payload['backend']}")
        elif kind == "psi":
            console.print(
                f"PSI: {payload['intersection_size']:,} shared customers "
                f"in {payload['seconds']:.2f} s"
            )
        elif kind == "train":
            console.print(f"training {payload['model']} ({payload['cipher']} Paillier)...")
        elif kind == "trained":
            shown = {k: v for k, v in payload.items() if k != "losses" and k != "model"}
            console.print(f"  {payload['model']}: {shown}")
        elif kind == "phe":
            console.print(
                f"phe: {payload['seconds_per_epoch']:.1f} s per epoch "
                f"(ours / phe = {payload['ratio']:.3f})"
            )

    summary = run_vfl(
        dataset,
        out_dir,
        compare_phe=compare_phe,
        rpc_url=rpc,
        epochs=epochs,
        seed=seed,
        workers=workers,
        cv_folds=folds,
        on_event=on_event,
    )
    m = summary["metrics"]
    table = Table(title=f"vertical FL on {dataset} ({summary['evaluation'].split(':')[0]})")
    table.add_column("figure")
    table.add_column("value", justify="right")
    rows = [
        ("AUC (ours)", f"{m['auc']:.4f}"),
        ("AUC (centralised LR)", f"{summary['centralized_auc']:.4f}"),
        ("KS (ours)", f"{m['ks']:.4f}"),
        ("PSI intersection", f"{summary['psi']['intersection_size']:,}"),
        ("PSI seconds", f"{summary['psi']['seconds']:.2f}"),
        ("seconds per epoch", f"{summary['seconds_per_epoch']:.2f}"),
        ("row-features per core-second", f"{summary['row_features_per_core_second']:,.0f}"),
    ]
    if "phe_seconds_per_epoch" in summary:
        rows += [
            ("phe seconds per epoch", f"{summary['phe_seconds_per_epoch']:.1f}"),
            ("ours / phe", f"{summary['speed_ratio']:.4f}"),
        ]
    for name, value in rows:
        table.add_row(name, value)
    out.print(table)
    out.print(f"wrote {out_dir / 'summary.json'} in {time.monotonic() - started:.0f} s")


# ---- chain ---------------------------------------------------------------------------------------
@chain_app.command("node")
def chain_node(
    kind: Annotated[str, typer.Option(help="anvil or hardhat.")] = "anvil",
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 8545,
) -> None:
    """Run a local development chain in the foreground until interrupted."""
    from chain import DevNode

    with DevNode(kind, port=port) as node:
        console.print(f"{kind} listening on {node.url} (Ctrl-C to stop)")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


@chain_app.command("deploy")
def chain_deploy(
    rpc: RpcOpt,
    out_file: Annotated[Path, typer.Option("--out", help="Where to write the deployment JSON.")],
    key_env: Annotated[
        str | None,
        typer.Option("--key-env", help="Variable with the deployer key (dev chains: the faucet)."),
    ] = None,
) -> None:
    """Deploy RewardToken, DatasetRegistry and FedTask; write their addresses."""
    from chain import account_from_env, connect, deploy, signer_for

    backend = connect(rpc)
    account = account_from_env(key_env) if key_env else backend.faucet_account()
    if account is None:
        raise FedmarketError("chain deploy: no deployer key (use --key-env)")
    deployment = deploy(signer_for(backend, account))
    deployment.save(out_file)
    out.print_json(json.dumps(deployment.to_dict()))


# ---- data ----------------------------------------------------------------------------------------
@data_app.command("fetch")
def data_fetch(
    name: Annotated[str, typer.Argument(help="Dataset name in the registry.")],
    download: Annotated[bool, typer.Option(help="Download missing files.")] = True,
) -> None:
    """Fetch a registry dataset into the data directory and verify its sha256."""
    from fl_node.data.registry import fetch

    for file, path in fetch(name, download=download).items():
        out.print(f"{file}: {path} (verified)")


@data_app.command("split-hospitals")
def data_split(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for one CSV per party.")],
    hospitals: Annotated[int, typer.Option(min=2, max=16)] = 4,
    seed: Annotated[int, typer.Option()] = 2024,
) -> None:
    """Write the demo's non-IID hospital split: hospital-N.csv, validation.csv, test.csv."""
    from fl_node.data import breast_cancer_hospitals, save_csv

    split = breast_cancer_hospitals(hospitals, seed=seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    for part in (*split.hospitals, split.validation, split.test):
        name = {"coordinator-validation": "validation", "held-out-test": "test"}.get(
            part.name, part.name
        )
        save_csv(part, split.feature_names, out_dir / f"{name}.csv")
        out.print(f"{name}.csv: {part.rows} rows, {part.positive_rate():.0%} malignant")


# ---- task ----------------------------------------------------------------------------------------
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
            raise FedmarketError("task design: the marketplace lists no matching dataset")
        stats = [FeatureStats.from_dict(item["statistics"]) for item in listed]
        names = tuple(c["name"] for c in listed[0]["schema"] if c["dtype"] in ("float", "int"))
    elif stats_from:
        stats = [load_csv(path).stats() for path in stats_from]
        with stats_from[0].open(encoding="utf-8") as fh:
            names = tuple(fh.readline().strip().split(",")[:-1])
    else:
        raise FedmarketError("task design: give --api URL or --stats-from CSV")
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

    backend, dep = _connect(rpc, deployment)
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
    backend, dep = _connect(rpc, deployment)
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


# ---- roles as processes --------------------------------------------------------------------------
@app.command()
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

    backend, dep = _connect(rpc, deployment)
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


@app.command()
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

    backend, dep = _connect(rpc, deployment)
    signer = signer_for(backend, account_from_env(key_env))
    fed_task = dep.fed_task_client(backend)
    deadline = time.monotonic() + join_timeout
    while len(fed_task.participants(task_id)) < participants:
        if time.monotonic() > deadline:
            raise FedmarketError(
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


@app.command()
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

    backend, dep = _connect(rpc, deployment)
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
        raise typer.Exit(1)


# ---- marketplace ---------------------------------------------------------------------------------
@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
) -> None:
    """Serve the marketplace API (configuration from FEDMARKET_API_* variables)."""
    import uvicorn

    from marketplace_api import create_app

    uvicorn.run(create_app(), host=host, port=port)


def _connect(rpc: str, deployment: Path) -> tuple[Any, Any]:
    from chain import Deployment, connect

    backend = connect(rpc)
    dep = Deployment.load(deployment)
    dep.check(backend)
    return backend, dep


def _fail(message: str, code: int) -> None:
    typer.echo(f"error: {message}", err=True)
    sys.exit(code)


def main() -> None:
    """Entry point: run the app and map errors to one line and an exit code.

    Usage errors are reported by Typer itself (exit 2, with the usage line).
    """
    from chain.errors import ChainConnectionError

    try:
        app()
    except ChainConnectionError as exc:
        _fail(str(exc), 3)
    except FedmarketError as exc:
        _fail(str(exc), 2)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except Exception as exc:  # the one place that turns surprises into one line
        if os.environ.get("FEDMARKET_DEBUG") == "1":
            raise
        _fail(f"unexpected {type(exc).__name__}: {exc} (FEDMARKET_DEBUG=1 shows the traceback)", 1)


if __name__ == "__main__":
    main()
