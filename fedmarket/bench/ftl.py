"""Federated transfer learning benchmark: ``scripts/bench-ftl``.

Run it as::

    scripts/bench-ftl                      # 5 seeds on X-Wines (red -> other types)
    scripts/bench-ftl --quick              # a smoke run: 2 seeds, 600 users, 40 steps
    scripts/bench-ftl --seeds 3 --out figures.json

(``python -m fedmarket.bench ftl ...`` is the same.) Needs ``$FEDMARKET_DATA_DIR`` to hold
``xwines_slim``; nothing is downloaded.

Once per run the two domains find their shared users with the DH-OPRF PSI; then, per seed (the
seed draws the split of the target's ratings and every initialisation), the same matrix
factorisation (:class:`fl_node.transfer.MFConfig`) is trained on the target's ratings alone,
on both domains pooled on one machine, and by the masked federated protocol. It prints MAE
and RMSE on the target's test ratings (mean, standard deviation, minimum and maximum over the
seeds), the share of the centralised gain the federation recovers, the time of each method,
and each target of issue 13 as MET or MISSED.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from fedmarket.cli.errors import exit_code
from kernel.errors import FedmarketError

log = logging.getLogger(__name__)
console = Console(width=130)

MAE_TARGET = 1.2
RMSE_TARGET = 1.5
RECOVERED_TARGET = 0.70
"""The federation recovers at least this share of the centralised gain (mean over seeds)."""
QUICK_USERS = 600


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="bench-ftl", description=__doc__.split("\n")[0])
    p.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 (default 5)")
    p.add_argument("--quick", action="store_true", help="2 seeds, 600 users, 40 steps")
    p.add_argument("--max-users", type=int, default=0, help="keep this many users (0: all)")
    p.add_argument("--epochs", type=int, default=0, help="override the step limit")
    p.add_argument("--workers", type=int, default=2, help="PSI processes (default 2)")
    p.add_argument("--out", type=Path, default=None, help="write the figures as JSON here")
    return p


def run(seeds: int, *, max_users: int = 0, epochs: int = 0, workers: int = 2) -> dict[str, Any]:
    """Every seed's results and their statistics, as a JSON-able dict.

    Parameters
    ----------
    seeds : int
        Seeds ``0..seeds-1``.
    max_users : int, default 0
        Keep this many users drawn at random (0: all).
    epochs : int, default 0
        Override the step limit of the default :class:`MFConfig` (0: keep it).
    workers : int, default 2
        PSI processes.
    """
    from dataclasses import replace

    from fl_node.transfer import MFConfig, align, compare, load_domains

    started = time.perf_counter()
    target, source = load_domains(max_users=max_users)
    alignment = align(target.user_ids, source.user_ids, workers=workers)
    config = MFConfig() if not epochs else replace(MFConfig(), epochs=epochs)
    results = [compare(target, source, alignment.shared_ids, config, seed) for seed in range(seeds)]
    rows = [
        {
            m: _strip(asdict(getattr(r, m)))
            for m in ("global_mean", "target_only", "centralised", "federated")
        }
        | {"seed": r.seed, "gain_recovered": r.gain_recovered}
        for r in results
    ]
    return {
        "config": config.to_dict(),
        "ratings": {"target": len(target.ratings), "source": len(source.ratings)},
        "users": {"target": len(target.user_ids), "source": len(source.user_ids)},
        "shared_users": len(alignment.shared_ids),
        "psi_seconds": alignment.seconds,
        "seeds": rows,
        "summary": summarise(rows),
        "seconds": time.perf_counter() - started,
    }


def _strip(result: dict[str, Any]) -> dict[str, Any]:
    """A method's result without its curves."""
    return {k: v for k, v in result.items() if k not in ("losses", "valid_curve")}


def spread(values: Sequence[float]) -> dict[str, float]:
    """Mean, sample standard deviation (0 for one value), minimum and maximum."""
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return {"mean": statistics.fmean(values), "std": std, "min": min(values), "max": max(values)}


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per method, the spread of MAE, RMSE and seconds; the spread of the gain recovered."""
    from fl_node.transfer.experiment import recovered

    out: dict[str, Any] = {}
    for method in ("global_mean", "target_only", "centralised", "federated"):
        out[method] = {k: spread([r[method][k] for r in rows]) for k in ("mae", "rmse", "seconds")}
    out["gain_recovered"] = spread([r["gain_recovered"] for r in rows])
    means = {m: out[m]["rmse"]["mean"] for m in ("target_only", "federated", "centralised")}
    out["gain_recovered_of_means"] = recovered(
        means["target_only"], means["federated"], means["centralised"]
    )
    return out


def targets(summary: dict[str, Any]) -> dict[str, bool]:
    """Issue 13's targets on the federated method."""
    fed = summary["federated"]
    return {
        f"MAE <= {MAE_TARGET}": fed["mae"]["mean"] <= MAE_TARGET,
        f"RMSE <= {RMSE_TARGET}": fed["rmse"]["mean"] <= RMSE_TARGET,
        f"gain recovered >= {RECOVERED_TARGET:.0%}": summary["gain_recovered"]["mean"]
        >= RECOVERED_TARGET,
    }


def _print(figures: dict[str, Any]) -> None:
    s = figures["summary"]
    table = Table(title=f"FTL on X-Wines, red -> other types, {len(figures['seeds'])} seeds")
    for column in ("method", "MAE mean ± std", "RMSE mean ± std", "RMSE min..max", "seconds"):
        table.add_column(column, justify="right")
    for method in ("global_mean", "target_only", "federated", "centralised"):
        m = s[method]
        table.add_row(
            method,
            f"{m['mae']['mean']:.4f} ± {m['mae']['std']:.4f}",
            f"{m['rmse']['mean']:.4f} ± {m['rmse']['std']:.4f}",
            f"{m['rmse']['min']:.4f}..{m['rmse']['max']:.4f}",
            f"{m['seconds']['mean']:.1f}",
        )
    console.print(table)
    g = s["gain_recovered"]
    console.print(
        f"gain recovered: {g['mean']:.1%} ± {g['std']:.1%} "
        f"(min {g['min']:.1%}, max {g['max']:.1%}); "
        f"of the mean RMSEs {s['gain_recovered_of_means']:.1%}; "
        f"{figures['shared_users']:,} shared users (PSI {figures['psi_seconds']:.1f} s); "
        f"{figures['seconds']:.0f} s in all"
    )
    for name, met in targets(s).items():
        console.print(f"  {name}: {'MET' if met else 'MISSED'}")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``scripts/bench-ftl``; returns the exit code."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    seeds, users, epochs = args.seeds, args.max_users, args.epochs
    if args.quick:
        seeds, users, epochs = min(seeds, 2), users or QUICK_USERS, epochs or 40
    try:
        figures = run(seeds, max_users=users, epochs=epochs, workers=args.workers)
    except FedmarketError as exc:
        console.print(f"bench-ftl: {exc}")
        return exit_code(exc)
    _print(figures)
    if args.out is not None:
        args.out.write_text(json.dumps(figures, indent=2, sort_keys=True), encoding="utf-8")
    return 0
