"""``fedmarket simulate``: a task over the parties' own files, every party in one process.

The full protocol runs on a chain (the in-process one, or ``--rpc``): one participant per
``--party`` file joins with its stake, trains each round it is sampled in and commits its
update; the coordinator checks, aggregates, scores, pays and finalises each round on-chain; the
task is audited at the end. Each file is read and encoded by the task's schema, exactly as a
participant on its own host reads it. ``--baseline`` adds a centralised linear model trained
on the pooled parties' rows, the reference a federation is compared with (an experiment only:
no real party pools its rows).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from fedmarket.cli._common import console, out
from kernel.errors import InvalidInputError

_COLUMNS = (
    TextColumn("[bold]{task.description}"),
    BarColumn(),
    MofNCompleteColumn(),
    TimeElapsedColumn(),
)

if TYPE_CHECKING:
    from fedmarket.simulate import Simulation
    from fl_node.data import FederatedSplit
    from fl_node.evaluation import Metrics
    from fl_node.task import TaskSpec


def simulate(
    spec_file: Annotated[Path, typer.Option("--spec", help="The task spec JSON (task design).")],
    party: Annotated[
        list[Path], typer.Option("--party", help="A participant's data file; repeatable.")
    ],
    validation: Annotated[Path, typer.Option(help="The coordinator's validation file.")],
    test: Annotated[Path, typer.Option(help="The held-out test file.")],
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Write the summary JSON here too.")
    ] = None,
    rpc: Annotated[
        str | None, typer.Option(help="A dev chain's JSON-RPC URL (default: in-process).")
    ] = None,
    baseline: Annotated[
        bool,
        typer.Option(
            help="Also train, on the pooled rows, a centralised linear model and the task's own "
            "model (as many epochs as the federation ran)."
        ),
    ] = False,
) -> None:
    """Run a task over the parties' files on one machine, audited, and print its metrics."""
    from fedmarket.simulate import centralised_baseline, centralised_same_model

    if len(party) < 2:
        raise InvalidInputError("--party: give at least two participants' files")
    spec, split = _inputs(spec_file, party, validation, test)
    result = _run(spec, split, rpc)
    references = {}
    if baseline:
        references["centralised_baseline"] = centralised_baseline(spec, split)
        references["centralised_same_model"] = centralised_same_model(spec, split)
    text = json.dumps(_summary(result, references), indent=2)
    if out_file is not None:
        out_file.write_text(text + "\n", encoding="utf-8")
    out.print_json(text)
    if result.audit is not None and not result.audit.ok:
        console.print("[red]the audit found a failed check[/red]")
        raise typer.Exit(1)


def _inputs(
    spec_file: Path, party: list[Path], validation: Path, test: Path
) -> tuple[TaskSpec, FederatedSplit]:
    """The spec, and every file read and encoded by it."""
    from fl_node.data import FederatedSplit
    from fl_node.task import TaskSpec

    try:
        spec = TaskSpec.from_bytes(spec_file.read_bytes())
    except OSError as exc:
        raise InvalidInputError(f"--spec {spec_file}: {exc.strerror}") from None
    return spec, FederatedSplit(
        feature_names=spec.feature_names,
        hospitals=tuple(spec.load_data(p, f"party-{i + 1}") for i, p in enumerate(party)),
        validation=spec.load_data(validation, "validation"),
        test=spec.load_data(test, "test"),
    )


def _run(spec: TaskSpec, split: FederatedSplit, rpc: str | None) -> Simulation:
    """The simulation, with a progress bar of its rounds."""
    from fedmarket.simulate import simulate as run
    from fl_node.coordinator import RoundReport
    from fl_node.evaluation import headline

    with (
        tempfile.TemporaryDirectory(prefix="fedmarket-simulate-") as store,
        Progress(*_COLUMNS, console=console, transient=True) as progress,
    ):
        bar = progress.add_task("rounds", total=spec.rounds)

        def advance(report: RoundReport) -> None:
            (name, value), _ = headline(report.test)
            progress.update(bar, advance=1, description=f"round {report.round}: {name} {value:.4f}")

        return run(spec, split, Path(store), backend=_backend(rpc), on_round=advance)


def _backend(rpc: str | None) -> Any:
    if rpc is None:
        return None
    from chain import RpcBackend

    return RpcBackend(rpc)


def _summary(result: Simulation, references: dict[str, Metrics]) -> dict[str, Any]:
    """The run's figures: per round, the final test metrics, the audit, the baseline."""
    from fl_node.evaluation import meets

    final = result.final.test
    summary: dict[str, Any] = {
        "task": result.spec.name,
        "kind": result.spec.kind,
        "model": result.spec.model.kind,
        "strategy": result.spec.strategy,
        "rounds": [
            {
                "round": r.round,
                "accepted": r.accepted,
                "validation_loss": r.validation.loss,
                "test": r.test.values(),
                "paid_wei": str(r.budget),
            }
            for r in result.reports
        ],  # fmt: skip
        "test": final.values(),
        "acceptance": {
            "targets": result.spec.acceptance,
            "met": all(meets(final, result.spec.acceptance).values()),
        },  # fmt: skip
        "audit_ok": None if result.audit is None else result.audit.ok,
        "seconds": round(result.seconds, 2),
        "startup_seconds": round(result.startup_seconds, 2),
    }
    summary.update({name: metrics.values() for name, metrics in references.items()})
    return summary
