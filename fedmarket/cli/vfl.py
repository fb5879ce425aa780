"""``fedmarket vfl``: vertical FL (PSI, Paillier hetero LR over TLS) with its on-chain record."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from fedmarket.cli._common import console, out
from kernel.errors import InvalidInputError


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
        raise InvalidInputError(f"vfl: unknown dataset {dataset!r} (default-credit or breast)")
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
