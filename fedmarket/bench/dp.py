"""Differential-privacy benchmark: accuracy against epsilon. ``scripts/bench-dp``.

Run it as::

    scripts/bench-dp                   # MNIST (10 clients) and heart (4 hospitals), both modes
    scripts/bench-dp --quick           # heart, 3 rounds, epsilon 3 and inf, both modes: seconds
    scripts/bench-dp --dataset mnist --mode dp-sgd --rounds 5 --out figures.json

(``python -m fedmarket.bench.dp ...`` is the same.) The data are the robustness benchmark's
(:mod:`fedmarket.bench._robust_data`): a 3,000-image MNIST subsample over 10 label-skewed clients
(MLP, one hidden layer of 16) and the four UCI heart-disease hospitals (MLP, 8 hidden units), read
from ``$FEDMARKET_DATA_DIR``. Training is FedAvg in memory (every client every round,
:func:`fl_node.training.train_local` with the task's :class:`~fl_node.dp.DPConfig`), no chain.

For each dataset, mode and target epsilon (``inf``: no DP) it calibrates the noise multiplier to
the target over the whole run (:func:`fl_node.dp.calibrate`, RDP accountant, delta 1e-5), trains,
and reports the test accuracy, the noise multiplier, and the epsilon spent by the RDP and the PRV
accountants. dp-fedavg is client-level with each client's own noise (its guarantee holds
against the coordinator); dp-sgd is example-level (Poisson rate :data:`SGD_RATE`).
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
from rich.console import Console

from fedmarket.bench._robust_data import DATASETS, BenchData, heart_data, mnist_data
from fl_node.dp import DP_MODES, DPConfig, calibrate, epsilon
from fl_node.evaluation import task_metrics
from fl_node.models import build_model
from fl_node.objectives import predict
from fl_node.training import TrainConfig, train_local

log = logging.getLogger(__name__)
console = Console(width=160)

EPSILONS = (1.0, 3.0, 8.0, math.inf)
"""The target epsilons (``inf``: no DP)."""

DELTA = 1e-5
"""The delta of every run."""

FEDAVG_CLIP = {"mnist": 0.5, "heart": 0.5}
"""dp-fedavg: the L2 bound of a client's round update."""

SGD_CLIP = 1.0
"""dp-sgd: the L2 bound of an example's gradient."""

SGD_RATE = 0.05
"""dp-sgd: the Poisson rate of a batch (expected 5 % of a client's rows)."""


@dataclass(frozen=True)
class DPRun:
    """One training run: where, how private, how accurate."""

    dataset: str
    mode: str
    target_epsilon: float | None  # None: no DP
    noise_multiplier: float
    epsilon_rdp: float
    epsilon_prv: float
    accuracy: float
    rounds: int
    seconds: float


def fedavg(data: BenchData, train: TrainConfig, rounds: int) -> float:
    """Test accuracy after ``rounds`` rounds of in-memory FedAvg with every client."""
    cpu = torch.device("cpu")
    model = build_model(data.spec)
    total = sum(p.rows for p in data.parties)
    for round_ in range(1, rounds + 1):
        step: dict[str, torch.Tensor] = {}
        for party in data.parties:
            local = copy.deepcopy(model)
            delta = train_local(local, party, train, round=round_, device=cpu).delta
            for name, value in delta.items():
                step[name] = step.get(name, 0) + value * (party.rows / total)
        with torch.no_grad():
            for name, param in model.named_parameters():
                param.add_(step[name])
    pred = predict(model, data.test.x)
    return float(task_metrics(data.spec.task, data.test.y, pred).to_dict()["accuracy"])


def _private(data: BenchData, mode: str, target: float, rounds: int) -> DPConfig:
    """The DP settings that spend ``target`` over ``rounds`` rounds of ``data``'s training."""
    sgd = mode == "dp-sgd"
    return calibrate(
        *(target, DELTA),
        mode=mode,
        clip_norm=SGD_CLIP if sgd else FEDAVG_CLIP[data.name],
        rounds=rounds,
        local_epochs=data.train.local_epochs,
        max_steps=data.train.max_steps,
        sample_rate=SGD_RATE if sgd else 1.0,
    )


def run_one(data: BenchData, mode: str, target: float, rounds: int) -> DPRun:
    """One run (no DP when ``target`` is infinite)."""
    started = time.perf_counter()
    if math.isinf(target):
        accuracy = fedavg(data, data.train, rounds)
        return DPRun(data.name, "none", None, 0.0, math.inf, math.inf, accuracy, rounds,
                     time.perf_counter() - started)  # fmt: skip
    dp = _private(data, mode, target, rounds)
    train = replace(data.train, dp=dp)
    if mode == "dp-sgd":  # DP-SGD: plain SGD steps, no momentum across noisy steps
        train = replace(train, momentum=0.0, lr=0.5)
    accuracy = fedavg(data, train, rounds)
    steps = rounds * dp.steps_per_round(train.local_epochs, train.max_steps)
    rdp, prv = (
        epsilon(dp.noise_multiplier, dp.sample_rate, steps, DELTA, a) for a in ("rdp", "prv")
    )
    seconds = time.perf_counter() - started
    return DPRun(data.name, mode, target, dp.noise_multiplier, rdp, prv, accuracy, rounds, seconds)


def _table(runs: Sequence[DPRun]) -> None:
    from rich.table import Table

    table = Table(title=f"Accuracy against epsilon (delta {DELTA:g})")
    for column in ("dataset", "mode", "target eps", "sigma", "eps RDP", "eps PRV", "accuracy", "s"):
        table.add_column(column, justify="right")
    for r in runs:
        target = "inf" if r.target_epsilon is None else f"{r.target_epsilon:g}"
        table.add_row(
            *(r.dataset, r.mode, target, f"{r.noise_multiplier:.3f}", f"{r.epsilon_rdp:.3f}"),
            *(f"{r.epsilon_prv:.3f}", f"{r.accuracy:.4f}", f"{r.seconds:.1f}"),
        )
    console.print(table)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scripts/bench-dp", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="heart, 3 rounds, eps 3 and inf")
    parser.add_argument("--dataset", choices=DATASETS, action="append", help="repeatable")
    parser.add_argument("--mode", choices=DP_MODES, action="append", help="repeatable")
    parser.add_argument("--rounds", type=int, default=10, help="FedAvg rounds (default 10)")
    parser.add_argument("--epsilon", type=float, action="append", help="target (repeatable)")
    parser.add_argument("--out", type=Path, help="write every run as JSON")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; print the table; ``--out`` writes the runs as JSON."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    datasets = args.dataset or (["heart"] if args.quick else list(DATASETS))
    modes = args.mode or list(DP_MODES)
    targets = args.epsilon or ([3.0, math.inf] if args.quick else list(EPSILONS))
    rounds = 3 if args.quick else args.rounds
    runs: list[DPRun] = []
    for name in datasets:
        data = mnist_data() if name == "mnist" else heart_data()
        for target in targets:
            for mode in modes if not math.isinf(target) else modes[:1]:
                runs.append(run_one(data, mode, target, rounds))
                log.info("bench-dp: %s", runs[-1])
    _table(runs)
    if args.out:
        args.out.write_text(json.dumps([asdict(r) for r in runs], indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
