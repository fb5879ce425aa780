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
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer
from rich.table import Table

from fedmarket.cli._common import console, out
from fl_node.events import ChainReady, Event, Finished, RewardsPaid, TaskCreated
from kernel.errors import InvalidInputError

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

    from fl_node.vertical.crypto.paillier import RandomizerName
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


def _randomizer(value: str | None) -> str | None:
    """``--paillier-randomizer``: short-exponent or textbook (one line naming the flag)."""
    from fl_node.vertical.crypto.paillier import RANDOMIZERS

    if value is not None and value not in RANDOMIZERS:
        raise InvalidInputError(
            f"--paillier-randomizer must be {' or '.join(RANDOMIZERS)}, not {value!r}"
        )
    return value


PaillierRandomizer = Annotated[
    str | None,
    typer.Option(
        "--paillier-randomizer",
        metavar="short-exponent|textbook",
        callback=_randomizer,
        help="How the guest and the hosts draw Paillier randomisers. short-exponent (default): "
        "a fixed secret base raised to a fresh 256-bit exponent, ~60x phe's encryption speed; "
        "secure under DCR plus the short-exponent assumption. textbook: a uniform r**n, phe's "
        "speed; DCR alone. Every party must use the same setting (a peer announcing another "
        "is refused); it is recorded in the task spec. Cautious deployments: textbook. See "
        'docs/paillier.md, "Which randomiser by default".',
    ),
]


Dataset = Annotated[
    str, typer.Option(help="default-credit (bank + e-commerce, 30,000 customers) or breast.")
]
OutDir = Annotated[Path, typer.Option("--out", help="Folder for summary.json and artifacts.")]
ComparePhe = Annotated[
    bool, typer.Option("--compare-phe", help="Also time the same protocol with phe.")
]
Rpc = Annotated[
    str | None, typer.Option("--rpc", help="JSON-RPC chain URL (default: in-process chain).")
]
Epochs = Annotated[int | None, typer.Option(min=1, help="Override the epoch limit.")]
Folds = Annotated[
    int | None,
    typer.Option(min=1, help="Cross-validation folds for the metrics (1: one split)."),
]
Seed = Annotated[int, typer.Option(help="Seed of id removal, split and batches.")]
Workers = Annotated[int, typer.Option(min=1, help="Processes per party for the PSI.")]
KeyBits = Annotated[
    int, typer.Option(min=512, max=8192, help="Paillier key size (2048; tests use 1024).")
]
Guest = Annotated[
    Path | None,
    typer.Option("--guest", help="Your guest's CSV (id, label, features): your own tables."),
]
Hosts = Annotated[
    list[Path] | None, typer.Option("--host", help="A host's CSV (id, features); repeat it.")
]
IdColumn = Annotated[str | None, typer.Option("--id-column", help="The id column (all files).")]
LabelColumn = Annotated[
    str | None, typer.Option("--label-column", help="The guest's 0/1 (or 1/2) label column.")
]
Schemas = Annotated[
    list[Path] | None,
    typer.Option("--schema", help="Schema TOML/JSON: one for all files, or one per file."),
]
IdRulesText = Annotated[
    str | None, typer.Option("--id-rules", help="Id rules, e.g. 'prefix=\"cust-\"|lstrip0'.")
]
PrepText = Annotated[
    str | None, typer.Option("--prep", help="Preparation rules, e.g. 'clip=3;min_frequency=10'.")
]
AlgorithmName = Annotated[
    str | None,
    typer.Option(
        "--algorithm",
        help="secureboost (default on your tables) or lr (hetero LR with an arbiter); both "
        "take any number of hosts.",
    ),
]
ConfigFile = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="TOML: [secureboost] / [lr] hyper-parameters, [run] party_timeout_s and randomizer "
        "(flags override the file).",
    ),
]
Trees = Annotated[int | None, typer.Option("--trees", min=1, help="SecureBoost trees (30).")]
Depth = Annotated[int | None, typer.Option("--depth", min=1, help="SecureBoost depth (3).")]
LearningRate = Annotated[
    float | None, typer.Option("--learning-rate", help="SecureBoost shrinkage (0.3).")
]
Bins = Annotated[int | None, typer.Option("--bins", min=2, help="Quantile bins (32).")]


def vfl(
    dataset: Dataset = "default-credit",
    out_dir: OutDir = Path("out/vfl"),
    compare_phe: ComparePhe = False,
    rpc: Rpc = None,
    deployment: DeploymentFile = None,
    epochs: Epochs = None,
    folds: Folds = None,
    seed: Seed = 0,
    workers: Workers = 2,
    travel: Travel = True,
    commit_window: CommitWindow = None,
    wait_window: WaitWindow = None,
    participant_stake: ParticipantStake = 0,
    coordinator_stake: CoordinatorStake = 0,
    party_timeout: PartyTimeout = None,
    key_bits: KeyBits = 2048,
    guest: Guest = None,
    host: Hosts = None,
    id_column: IdColumn = None,
    label_column: LabelColumn = None,
    schema: Schemas = None,
    id_rules: IdRulesText = None,
    prep: PrepText = None,
    algorithm: AlgorithmName = None,
    config: ConfigFile = None,
    trees: Trees = None,
    depth: Depth = None,
    learning_rate: LearningRate = None,
    bins: Bins = None,
    paillier_randomizer: PaillierRandomizer = None,
) -> None:
    """Vertical FL over TLS with its on-chain record: a preset, or your own tables (--guest)."""
    from chain import Deployment
    from fedmarket.cli._vfl_tables import TableOptions, tables_input
    from fl_node.vertical.runner import VflSettings, run_vfl

    if deployment is not None and rpc is None:
        raise InvalidInputError("vfl: --deployment needs --rpc (the chain it is on)")
    started = time.monotonic()
    chain = chain_settings(travel, commit_window, wait_window, participant_stake, coordinator_stake)
    settings = VflSettings(compare_phe, epochs, seed, workers, key_bits, cv_folds=folds, **chain)
    settings = _with_flags(settings, config, party_timeout, paillier_randomizer)
    boost_flags = {"n_trees": trees, "max_depth": depth, "learning_rate": learning_rate}
    options = TableOptions(
        guest or Path(), host or [], id_column, label_column, schema or [], id_rules, prep,
        algorithm or "secureboost", config, {**boost_flags, "max_bins": bins},
    )  # fmt: skip
    data = tables_input(options) if guest is not None else _preset(dataset, host, algorithm)
    summary = run_vfl(
        data,
        out_dir,
        settings=settings,
        rpc_url=rpc,
        deployment=Deployment.load(deployment) if deployment is not None else None,
        keys=role_keys(),
        on_event=render,
    )
    _print_summary(summary, dataset if guest is None else str(guest))
    out.print(f"wrote {out_dir / 'summary.json'} in {time.monotonic() - started:.0f} s")


def _with_flags(
    settings: Any, config: Path | None, party_timeout: str | None, randomizer: str | None
) -> Any:
    """``settings`` with ``--config``'s ``[run]`` table, then the flags over it (all checked).

    The flags are ``--party-timeout`` and ``--paillier-randomizer``.
    """
    from fedmarket.cli._vfl_tables import run_options

    settings = replace(settings, **run_options(config))
    if party_timeout is not None:  # a number already: checked by _party_timeout
        settings = replace(settings, party_timeout_s=float(party_timeout))
    if randomizer is None:
        return settings
    name = cast("RandomizerName", randomizer)  # checked by _randomizer
    return replace(settings, randomizer=name)


def _preset(dataset: str, hosts: list[Path] | None, algorithm: str | None) -> str:
    """A preset dataset's name, checked (hetero LR, its own guest and host files)."""
    if hosts:
        raise InvalidInputError("vfl: --host needs --guest (your own tables)")
    if dataset not in DATASETS:
        raise InvalidInputError(f"vfl: unknown dataset {dataset!r} (default-credit or breast)")
    if algorithm not in (None, "lr"):
        raise InvalidInputError(
            f"--algorithm {algorithm}: the presets run hetero LR; SecureBoost runs on your own "
            "tables (--guest CSV --host CSV)"
        )
    return dataset


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


def _print_tables_summary(summary: dict[str, Any]) -> None:
    """The headline figures of a run on the user's tables."""
    m, shapley = summary["metrics"], summary["shapley"]["values"]
    table = Table(title=f"{summary['algorithm']} on {summary['dataset']} ({summary['evaluation']})")
    table.add_column("figure")
    table.add_column("value", justify="right")
    rows = [
        ("AUC (ours)", f"{m['auc']:.4f}"),
        ("KS (ours)", f"{m['ks']:.4f}"),
        ("PSI rows every party shares", f"{summary['psi']['intersection_size']:,}"),
        *_round_seconds(summary),
        ("gas of the task's transactions", f"{summary['chain']['gas_used_total']:,}"),
    ]
    if summary["twin_auc"] is not None:
        rows.insert(1, ("AUC (centralised twin, same folds)", f"{summary['twin_auc']:.4f}"))
    rows += [(f"Shapley {party}", f"{value:.4f}") for party, value in shapley.items()]
    for name, value in rows:
        table.add_row(name, value)
    out.print(table)


def _round_seconds(summary: dict[str, Any]) -> list[tuple[str, str]]:
    """Seconds per tree (SecureBoost) or per epoch (hetero LR)."""
    return [
        (f"seconds per {unit}", f"{summary[f'seconds_per_{unit}']:.2f}")
        for unit in ("tree", "epoch")
        if f"seconds_per_{unit}" in summary
    ]


def _print_summary(summary: dict[str, Any], dataset: str) -> None:
    """The headline figures as a table on stdout."""
    if "algorithm" in summary:
        _print_tables_summary(summary)
        return
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
