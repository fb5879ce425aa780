"""``fedmarket vfl``: vertical FL (PSI, Paillier hetero LR over TLS) with its on-chain record.

On the in-process chain (the default) or a dev node, fresh contracts are deployed and every
party gets a fresh funded key. On any other JSON-RPC chain, give ``--deployment`` and each
role's funded key in ``FEDMARKET_SPONSOR_KEY``, ``FEDMARKET_COORDINATOR_KEY``,
``FEDMARKET_GUEST_KEY`` and ``FEDMARKET_HOST_KEY``; a role without one gets a fresh key funded
from the chain's faucet, which fails where there is none.

The task (FedTask v2) has deadlines: the run travels past them where the chain can move its
clock (in-process, anvil, Hardhat) unless ``--no-travel``; otherwise it waits for them, with a
schedule of ``--commit-window`` seconds for the training and ``--wait-window`` seconds for
each period it waits for. ``--participant-stake`` and ``--coordinator-stake`` add stakes.

``--party-timeout SECONDS`` (default 60) is the liveness timeout: every party sends a heartbeat on
each of its channels every quarter of it, so a party that sends nothing for that long (stopped,
dead, cut off) fails the run with its name (exit 8, or 3 for a dead one), while one that merely
computes for longer is waited for.
"""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from fedmarket.cli._common import console, out
from fl_node.events import ChainReady, Event, Finished, RewardsPaid, TaskCreated
from kernel.errors import InvalidInputError

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

    from fl_node.vertical.runner import TrainingFinished

DATASETS = ("default-credit", "breast")

DeploymentFile = Annotated[
    Path | None,
    typer.Option(
        "--deployment",
        help="Record on these contracts (needs --rpc); role keys from FEDMARKET_<ROLE>_KEY.",
    ),
]
Travel = Annotated[
    bool,
    typer.Option(
        "--travel/--no-travel",
        help="Move a dev chain's clock past the task's deadlines (else wait for them).",
    ),
]
CommitWindow = Annotated[
    int | None,
    typer.Option(
        min=1,
        help="Seconds the parties have to commit their parts (all the training) when the run "
        "waits for deadlines; also the join and finalise periods (default 900).",
    ),
]
WaitWindow = Annotated[
    int | None,
    typer.Option(
        min=1,
        help="Seconds of each period a waiting run waits for: inclusion, reveal, challenge "
        "window, stake cooldown (default 60).",
    ),
]
ParticipantStake = Annotated[
    int, typer.Option(min=0, help="Tokens the guest and the host each stake to join.")
]
CoordinatorStake = Annotated[
    int, typer.Option(min=0, help="Tokens the coordinator stakes before round 1.")
]


def _party_timeout(value: str | None) -> float | None:
    """``--party-timeout``: a number of seconds from 1 to 3600 (one line naming the flag)."""
    from fl_node.vertical.runner.settings import check_party_timeout

    if value is None:
        return None
    try:
        seconds: object = float(value)
    except ValueError:
        seconds = value
    return check_party_timeout(seconds, "--party-timeout")


PartyTimeout = Annotated[
    str | None,
    typer.Option(
        "--party-timeout",
        metavar="SECONDS",
        callback=_party_timeout,
        help="Liveness timeout: a party silent this long (no heartbeat, sent every quarter of "
        "it) fails the run with its name; 1 to 3600 (default 60).",
    ),
]


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
    deployment: DeploymentFile = None,
    epochs: Annotated[int | None, typer.Option(min=1, help="Override the epoch limit.")] = None,
    folds: Annotated[
        int | None,
        typer.Option(min=1, help="Cross-validation folds for the metrics (1: one split)."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of id removal, split and batches.")] = 0,
    workers: Annotated[int, typer.Option(min=1, help="Processes per party for the PSI.")] = 2,
    travel: Travel = True,
    commit_window: CommitWindow = None,
    wait_window: WaitWindow = None,
    participant_stake: ParticipantStake = 0,
    coordinator_stake: CoordinatorStake = 0,
    party_timeout: PartyTimeout = None,
) -> None:
    """Vertical FL: PSI, Paillier-encrypted hetero LR over TLS, evaluation, on-chain record."""
    from chain import Deployment
    from fl_node.vertical.runner import VflSettings, run_vfl

    if dataset not in DATASETS:
        raise InvalidInputError(f"vfl: unknown dataset {dataset!r} (default-credit or breast)")
    if deployment is not None and rpc is None:
        raise InvalidInputError("vfl: --deployment needs --rpc (the chain it is on)")
    started = time.monotonic()
    settings = VflSettings(
        compare_phe=compare_phe,
        epochs=epochs,
        seed=seed,
        workers=workers,
        cv_folds=folds,
        **chain_settings(travel, commit_window, wait_window, participant_stake, coordinator_stake),
    )
    if party_timeout is not None:  # a number already: checked by _party_timeout
        settings = replace(settings, party_timeout_s=float(party_timeout))
    summary = run_vfl(
        dataset,
        out_dir,
        settings=settings,
        rpc_url=rpc,
        deployment=Deployment.load(deployment) if deployment is not None else None,
        keys=role_keys(),
        on_event=render,
    )
    _print_summary(summary, dataset)
    out.print(f"wrote {out_dir / 'summary.json'} in {time.monotonic() - started:.0f} s")


def chain_settings(
    travel: bool,
    commit_window: int | None,
    wait_window: int | None,
    participant_stake: int,
    coordinator_stake: int,
) -> dict[str, Any]:
    """The chain's part of ``VflSettings`` from the command's options.

    Parameters
    ----------
    travel : bool
        ``--travel/--no-travel``: the run owns the chain (travels where it can).
    commit_window, wait_window : int or None
        The windows of a waiting schedule; ``None`` for both keeps the default schedule.
    participant_stake, coordinator_stake : int
        Stakes in whole tokens.
    """
    from fl_node.vertical.runner import waiting_schedule

    windows = {"training": commit_window, "wait": wait_window}
    given = {k: v for k, v in windows.items() if v is not None}
    return {
        "owns_chain": travel,
        "schedule": waiting_schedule(**given) if given else None,
        "participant_stake_tokens": participant_stake,
        "coordinator_stake_tokens": coordinator_stake,
    }


def role_keys() -> dict[str, LocalAccount]:
    """Each role's key from its environment variable, for the roles that have one set."""
    from chain import account_from_env
    from fl_node.vertical.runner import KEY_VARIABLES

    return {
        role: account_from_env(variable)
        for role, variable in KEY_VARIABLES.items()
        if os.environ.get(variable, "").strip()
    }


def render(event: Event) -> None:
    """Show one progress event of the run on stderr."""
    from fl_node.vertical.runner import (
        DeadlineReached,
        PheCompared,
        PsiDone,
        TrainingFinished,
        TrainingStarted,
    )

    show = console.print
    match event:
        case ChainReady(backend=backend):
            show(f"chain: {backend}")
        case TaskCreated(task_id=task_id, pool_wei=pool_wei):
            show(f"task {task_id} created: pool {pool_wei / 1e18:g} FMT")
        case PsiDone(intersection_size=size, seconds=seconds):
            show(f"PSI: {size:,} shared customers in {seconds:.2f} s")
        case TrainingStarted(model=model, cipher=cipher):
            show(f"training {model} ({cipher} Paillier)...")
        case TrainingFinished(model=model, epochs=epochs, seconds=seconds) as done:
            show(f"  {model}: {epochs} epochs in {seconds:.1f} s{_auc(done)}")
        case PheCompared(seconds_per_epoch=phe_epoch, ratio=ratio):
            show(f"phe: {phe_epoch:.1f} s per epoch (ours / phe = {ratio:.3f})")
        case DeadlineReached(deadline=deadline, mode="travel"):
            show(f"chain: travelled to the {deadline}")
        case DeadlineReached(deadline=deadline, waited_seconds=waited):
            show(f"chain: waited {waited:.0f} s for the {deadline}")
        case RewardsPaid(paid_wei=paid_wei):
            show(f"rewards claimed by proof by {len(paid_wei)} parties")
        case Finished(summary_path=path):
            show(f"summary: {path}")
        case _:
            pass


def _auc(done: TrainingFinished) -> str:
    if done.test_auc is not None:
        return f", test AUC {done.test_auc:.4f}"
    if done.validation_auc is not None:
        return f", validation AUC {done.validation_auc:.4f}"
    return ""


def _print_summary(summary: dict[str, Any], dataset: str) -> None:
    """The headline figures as a table on stdout."""
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
        ("gas of the task's transactions", f"{summary['chain']['gas_used_total']:,}"),
        ("deadlines", f"{summary['chain']['clock']} ({summary['chain']['waited_seconds']:.0f} s)"),
    ]
    if "phe_seconds_per_epoch" in summary:
        rows += [
            ("phe seconds per epoch", f"{summary['phe_seconds_per_epoch']:.1f}"),
            ("ours / phe", f"{summary['speed_ratio']:.4f}"),
        ]
    for name, value in rows:
        table.add_row(name, value)
    out.print(table)
