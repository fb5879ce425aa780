"""``fedmarket pool``: the random model sharing pool on a chain, audited and listed.

Several base models (``--base-model KIND[:WIDTHS][@SEED]``, repeatable) are trained by the
participants of a bundled dataset's split: each round draws base models at random and deals
them to the participants at random, until every base model has converged. The task runs on the
in-process chain (or ``--rpc``, a dev node with a faucet), is audited from the chain and the
store, and the shared pool is listed as one bundle. ``--out DIR`` writes ``summary.json``,
``bundle.json`` and the accepted models' files (``models/*.safetensors``). Exit 1 when the audit
finds a problem.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from fedmarket.cli._common import console, out

if TYPE_CHECKING:
    from fedmarket.pool import PoolTask

DATASETS = ("digits", "breast-cancer")


def pool(
    dataset: Annotated[str, typer.Option(help=f"One of: {', '.join(DATASETS)}.")] = "digits",
    base_model: Annotated[
        list[str] | None,
        typer.Option(help="A base model KIND[:W1xW2][@SEED] (mlp or linear); repeatable."),
    ] = None,
    clients: Annotated[int, typer.Option(min=2, max=100, help="Participants.")] = 10,
    rounds: Annotated[int, typer.Option(min=1, max=200, help="Most rounds.")] = 20,
    window: Annotated[int, typer.Option(min=1, help="Convergence: rounds in the window.")] = 3,
    band: Annotated[
        float, typer.Option(min=0.0, help="Convergence: largest error range in the window.")
    ] = 0.02,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Write the summary, bundle and models here.")
    ] = None,
    rpc: Annotated[
        str | None, typer.Option(help="A dev chain's JSON-RPC URL (default: in-process).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the data split.")] = 0,
) -> None:
    """Run a random model sharing pool task, audit it and list its bundle."""
    from fedmarket.pool import DEFAULT_BASE_MODELS, fresh_secret, pool_task, run_pool_task
    from fl_node.pool.convergence import ConvergenceRule
    from kernel.errors import InvalidInputError

    if dataset not in DATASETS:
        raise InvalidInputError(f"--dataset {dataset!r}: one of {', '.join(DATASETS)}")
    secret = fresh_secret()
    spec, split = pool_task(
        dataset,
        base_model or DEFAULT_BASE_MODELS,
        clients=clients,
        rounds=rounds,
        convergence=ConvergenceRule(window=window, band=band),
        secret=secret,
        seed=seed,
    )
    with tempfile.TemporaryDirectory(prefix="fedmarket-pool-") as store_dir:
        task = run_pool_task(spec, split, Path(store_dir), secret=secret, backend=_backend(rpc))
        if out_dir is not None:
            _write(task, out_dir)
    _print(task)
    if not task.audit.ok:
        console.print("[red]the audit found a problem[/red]")
        raise typer.Exit(1)


def _backend(rpc: str | None) -> Any:
    if rpc is None:
        return None
    from chain import RpcBackend

    return RpcBackend(rpc)


def _write(task: PoolTask, out_dir: Path) -> None:
    """summary.json, bundle.json and the accepted models' files."""
    from fedmarket.pool import pool_summary

    models = out_dir / "models"
    models.mkdir(parents=True, exist_ok=True)
    summary = pool_summary(task)
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    bundle = task.store.get_json(task.result.bundle_cid)
    (out_dir / "bundle.json").write_text(json.dumps(bundle, indent=2) + "\n", encoding="utf-8")
    names = {m["model"]: m["name"] for m in summary["base_models"]}
    for entry in bundle["accepted"]:
        name = str(names[entry["model"]]).replace(":", "-")
        (models / f"{name}.safetensors").write_bytes(task.store.get(entry["cid"]))


def _print(task: PoolTask) -> None:
    from fedmarket.pool import pool_summary

    summary = pool_summary(task)
    table = Table(title=f"pool task {task.task_id}: {summary['rounds_trained']} rounds trained")
    for column in ("base model", "rounds", "converged at", "test error", "decision"):
        table.add_column(column)
    for m in summary["base_models"]:
        error = "-" if m["test_error"] is None else f"{m['test_error']:.4f}"
        table.add_row(
            m["name"], str(m["rounds_trained"]), str(m["converged_at"] or "-"), error, m["reason"]
        )
    out.print(table)
    listing = summary["listing"]
    out.print(
        f"bundle listed as model {listing['model_id']} at {listing['price_wei']} wei; "
        f"audit {'ok' if task.audit.ok else 'FAILED'}; paid {summary['received_wei']}"
    )
