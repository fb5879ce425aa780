"""``fedmarket task``: design, create and inspect training tasks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fedmarket.cli._checks import choice, float_range, int_list, int_range, key_values
from fedmarket.cli._common import (
    DeploymentOpt,
    KeyEnvOpt,
    RpcOpt,
    StoreOpt,
    connect_deployment,
    out,
)
from kernel.errors import InvalidInputError

if TYPE_CHECKING:
    from fl_node.data import FeatureStats

task_app = typer.Typer(help="Design, create and inspect training tasks.", no_args_is_help=True)

TARGET_METRICS = ("accuracy", "precision", "recall", "f1", "auc", "ks")
"""Held-out test metrics a sponsor may set a target on (each in [0, 1], higher is better)."""
DEFAULT_HIDDEN = "16"


def _model_kinds() -> tuple[str, ...]:
    from fl_node.models import MODEL_KINDS

    return MODEL_KINDS


def _strategies() -> list[str]:
    from fl_node.strategies import STRATEGIES

    return list(STRATEGIES)


def _contribution_methods() -> tuple[str, ...]:
    from fl_node.task import CONTRIBUTION_METHODS

    return CONTRIBUTION_METHODS


ApiOpt = Annotated[
    str | None,
    typer.Option("--api", metavar="URL", help="Marketplace: pool its listings' statistics."),
]
TagOpt = Annotated[str | None, typer.Option("--tag", help="With --api: only listings so tagged.")]
StatsFromOpt = Annotated[
    list[Path] | None,
    typer.Option("--stats-from", metavar="CSV", help="CSV file (header, numbers); repeatable."),
]
LabelOpt = Annotated[
    str, typer.Option("--label", help="Label column of the listings or CSV files (not a feature).")
]
NameOpt = Annotated[
    str | None, typer.Option("--name", help="Task name (default: the --tag, else horizontal-task).")
]
DescriptionOpt = Annotated[str, typer.Option("--description", help="Free text.")]
ModelOpt = Annotated[
    str, typer.Option("--model", help="mlp or logreg.", callback=choice("--model", _model_kinds))
]
HiddenOpt = Annotated[
    str | None,
    typer.Option("--hidden", help=f"MLP hidden widths, e.g. 32,16 (default: {DEFAULT_HIDDEN})."),
]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed of the initial weights.")]
RoundsOpt = Annotated[
    int, typer.Option("--rounds", help="Training rounds.", callback=int_range("--rounds", 1, 1000))
]
EpochsOpt = Annotated[
    int,
    typer.Option(
        "--local-epochs", help="Local epochs per round.", callback=int_range("--local-epochs", 1)
    ),
]
BatchOpt = Annotated[
    int,
    typer.Option(
        "--batch-size",
        help="Batch size (0: all local rows).",
        callback=int_range("--batch-size", 0),
    ),
]
LrOpt = Annotated[
    float,
    typer.Option(
        "--lr", help="Local learning rate.", callback=float_range("--lr", 0, low_open=True)
    ),
]
MomentumOpt = Annotated[
    float,
    typer.Option(
        "--momentum", help="SGD momentum.", callback=float_range("--momentum", 0, 1, high_open=True)
    ),
]
DecayOpt = Annotated[
    float,
    typer.Option("--weight-decay", help="L2 penalty.", callback=float_range("--weight-decay", 0)),
]
MaxStepsOpt = Annotated[
    int,
    typer.Option(
        "--max-steps",
        help="Optimizer steps per round at most (0: no limit).",
        callback=int_range("--max-steps", 0),
    ),
]
TrainSeedOpt = Annotated[int, typer.Option("--train-seed", help="Seed of the batch order.")]
StrategyOpt = Annotated[
    str,
    typer.Option(
        "--strategy", help="fedavg or fedsgd.", callback=choice("--strategy", _strategies)
    ),
]
ServerLrOpt = Annotated[
    float,
    typer.Option(
        "--server-lr",
        help="Server learning rate of the strategy.",
        callback=float_range("--server-lr", 0, low_open=True),
    ),
]
ContributionOpt = Annotated[
    str,
    typer.Option(
        "--contribution",
        help="leave-one-out or shapley-exact.",
        callback=choice("--contribution", _contribution_methods),
    ),
]
TargetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--target",
        metavar="METRIC=VALUE",
        help=f"Acceptance target, e.g. f1=0.88; repeatable ({', '.join(TARGET_METRICS)}).",
    ),
]


@task_app.command("design")
def task_design(
    out_file: Annotated[Path, typer.Option("--out", help="Where to write the spec JSON.")],
    api: ApiOpt = None,
    tag: TagOpt = None,
    stats_from: StatsFromOpt = None,
    label: LabelOpt = "label",
    name: NameOpt = None,
    description: DescriptionOpt = "",
    model: ModelOpt = "mlp",
    hidden: HiddenOpt = None,
    seed: SeedOpt = 7,
    rounds: RoundsOpt = 10,
    local_epochs: EpochsOpt = 2,
    batch_size: BatchOpt = 16,
    lr: LrOpt = 0.05,
    momentum: MomentumOpt = 0.9,
    weight_decay: DecayOpt = 1e-4,
    max_steps: MaxStepsOpt = 0,
    train_seed: TrainSeedOpt = 0,
    strategy: StrategyOpt = "fedavg",
    server_lr: ServerLrOpt = 1.0,
    contribution: ContributionOpt = "leave-one-out",
    target: TargetOpt = None,
) -> None:
    """Write a task spec for tabular data, its input scaling pooled from published statistics.

    Statistics from the marketplace (--api, --tag) or CSV files (--stats-from); flags set the rest.
    """
    from fedmarket.design import pooled_model
    from fl_node.task import TaskSpec
    from fl_node.training import TrainConfig

    stats, features = _design_inputs(api, tag, stats_from, label)
    spec = TaskSpec(
        name=name or tag or "horizontal-task",
        description=description,
        model=pooled_model(stats, kind=model, hidden=_hidden(model, hidden), seed=seed),
        train=TrainConfig(
            local_epochs=local_epochs,
            batch_size=batch_size,
            lr=lr,
            momentum=momentum,
            weight_decay=weight_decay,
            max_steps=max_steps,
            seed=train_seed,
        ),
        rounds=rounds,
        feature_names=features,
        strategy=strategy,
        server_lr=server_lr,
        contribution=contribution,
        acceptance=key_values("--target", target or [], TARGET_METRICS, 0.0, 1.0),
    )
    out_file.write_bytes(spec.to_bytes())
    out.print(f"wrote {out_file}: {spec.name}, {len(features)} features, {rounds} rounds")


def _hidden(model: str, hidden: str | None) -> tuple[int, ...]:
    """The hidden widths: ``--hidden`` for an MLP; none (and no ``--hidden``) for logreg."""
    if model != "mlp":
        if hidden is not None:
            raise InvalidInputError(f"--hidden applies to --model mlp, not {model}")
        return ()
    return int_list("--hidden", hidden or DEFAULT_HIDDEN)


def _design_inputs(
    api: str | None, tag: str | None, stats_from: list[Path] | None, label: str
) -> tuple[list[FeatureStats], tuple[str, ...]]:
    """The statistics to pool and the feature columns, from the marketplace or CSV files."""
    from fedmarket.design import stats_from_csv, stats_from_listings

    if api and stats_from:
        raise InvalidInputError("task design: give --api URL or --stats-from CSV, not both")
    if tag and not api:
        raise InvalidInputError("task design: --tag filters the listings of --api; give --api")
    if api:
        return stats_from_listings(_listings(api, tag), label=label)
    if stats_from:
        return stats_from_csv(stats_from, label=label)
    raise InvalidInputError("task design: give --api URL or --stats-from CSV")


def _listings(api: str, tag: str | None) -> list[dict[str, Any]]:
    """Every listing of the marketplace at ``api`` (tagged ``tag`` when given), page by page."""
    from marketplace_api import MarketplaceClient

    found: list[dict[str, Any]] = []
    with MarketplaceClient(api) as client:
        while True:
            page = client.datasets_page(tag=tag, limit=100, offset=len(found))
            found.extend(page["items"])
            if not page["items"] or len(found) >= int(page["total"]):
                return found


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
