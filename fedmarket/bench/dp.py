"""Differential-privacy benchmark: accuracy against epsilon. ``scripts/bench-dp``.

Run it as::

    scripts/bench-dp                   # MNIST (10 clients) and heart (4 hospitals), every mode
    scripts/bench-dp --quick           # heart, 3 rounds, epsilon 3 and inf, every mode: seconds
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
against the coordinator); dp-sgd is example-level (Poisson rate :data:`SGD_RATE`);
``dp-fedavg+secagg`` is dp-fedavg's noise multiplier and clip split among secure-aggregation
groups of :data:`SECAGG_GROUP` members (:mod:`fl_node.secagg_task.noise`): each client trains
without noise, and the round runs the real protocol (:func:`fl_node.secagg_task.run_secure_round`,
every client surviving), whose mean update is the equal-weight mean of the clipped updates plus
noise of standard deviation ``sigma C sqrt(sum_k s_k / t_k) / n`` (``s_k`` survivors and
threshold ``t_k`` of group ``k``, ``n`` clients), against ``sigma C sqrt(n) / n``-ish with local
noise. Same epsilon against the coordinator, a weaker one against colluding group members
(:func:`fl_node.dp.collusion_budget`, in the JSON).
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
from fl_node.dp import (
    DISTRIBUTED_MODE,
    DP_MODES,
    SECAGG_RANGE_Z,
    DPConfig,
    calibrate,
    collusion_budget,
    epsilon,
)
from fl_node.evaluation import task_metrics
from fl_node.models import FedModel, build_model, trainable_state
from fl_node.objectives import predict
from fl_node.secagg import SecAggParams
from fl_node.secagg_task import MemberInput, MemoryBoard, run_secure_round
from fl_node.secagg_task.runner import flatten, unflatten
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

MODES = (*DP_MODES, DISTRIBUTED_MODE)
"""Every mode the benchmark runs."""

SECAGG_GROUP = {"mnist": 5, "heart": 4}
"""dp-fedavg+secagg: the group size (MNIST: 2 groups of 5, threshold 3; heart: 1 group of 4,
threshold 3), dropout tolerance 0.3."""


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
    collusion_epsilon: float | None = None  # dp-fedavg+secagg: against a colluding group


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
    return _accuracy(data, model)


def _accuracy(data: BenchData, model: FedModel) -> float:
    """``model``'s accuracy on ``data``'s test rows."""
    pred = predict(model, data.test.x)
    return float(task_metrics(data.spec.task, data.test.y, pred).to_dict()["accuracy"])


def secagg_params(data: BenchData, dp: DPConfig) -> SecAggParams:
    """The groups of ``data``'s distributed-DP runs, their range just wide enough for the noise."""
    probe = SecAggParams(group_size=SECAGG_GROUP[data.name])
    clip = dp.clip_norm + SECAGG_RANGE_Z * dp.noise_std / math.sqrt(probe.min_threshold)
    return replace(probe, clip=clip)


def secagg_fedavg(data: BenchData, train: TrainConfig, dp: DPConfig, rounds: int) -> float:
    """Test accuracy after ``rounds`` rounds whose noise is split inside secure group sums."""
    cpu = torch.device("cpu")
    model = build_model(data.spec)
    params = secagg_params(data, dp)
    plain = replace(train, dp=None)  # the members clip and noise when they encode
    for round_ in range(1, rounds + 1):
        opened = trainable_state(model)
        names = list(opened)
        inputs = {}
        for i, party in enumerate(data.parties):
            local = copy.deepcopy(model)
            result = train_local(local, party, plain, round=round_, device=cpu)
            inputs[f"client-{i:02d}"] = MemberInput(flatten(result.delta, names), result.samples)
        seed = round_.to_bytes(32, "big")
        secure = run_secure_round(
            *(inputs, params), task=1, round_=round_, seed=seed, board=MemoryBoard(), dp=dp
        )
        step = unflatten(secure.mean_update(), {n: t.shape for n, t in opened.items()})
        with torch.no_grad():
            for name, param in model.named_parameters():
                param.add_(step[name])
    return _accuracy(data, model)


def _private(data: BenchData, mode: str, target: float, rounds: int) -> DPConfig:
    """The DP settings that spend ``target`` over ``rounds`` rounds of ``data``'s training."""
    sgd = mode == "dp-sgd"
    return calibrate(
        *(target, DELTA),
        mode="dp-fedavg" if mode == DISTRIBUTED_MODE else mode,
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
    colluded = None
    if mode == DISTRIBUTED_MODE:
        accuracy = secagg_fedavg(data, train, dp, rounds)
        threshold = secagg_params(data, dp).min_threshold
        colluded = collusion_budget(dp, rounds, threshold).epsilon
    else:
        accuracy = fedavg(data, train, rounds)
    steps = rounds * dp.steps_per_round(train.local_epochs, train.max_steps)
    rdp, prv = (
        epsilon(dp.noise_multiplier, dp.sample_rate, steps, DELTA, a) for a in ("rdp", "prv")
    )
    seconds = time.perf_counter() - started
    return DPRun(
        *(data.name, mode, target, dp.noise_multiplier, rdp, prv, accuracy, rounds, seconds),
        collusion_epsilon=colluded,
    )


def _table(runs: Sequence[DPRun]) -> None:
    from rich.table import Table

    table = Table(title=f"Accuracy against epsilon (delta {DELTA:g})")
    columns = ("dataset", "mode", "target eps", "sigma", "eps RDP", "eps PRV", "eps colluding")
    for column in (*columns, "accuracy", "s"):
        table.add_column(column, justify="right")
    for r in runs:
        target = "inf" if r.target_epsilon is None else f"{r.target_epsilon:g}"
        colluded = "" if r.collusion_epsilon is None else f"{r.collusion_epsilon:.3f}"
        table.add_row(
            *(r.dataset, r.mode, target, f"{r.noise_multiplier:.3f}", f"{r.epsilon_rdp:.3f}"),
            *(f"{r.epsilon_prv:.3f}", colluded, f"{r.accuracy:.4f}", f"{r.seconds:.1f}"),
        )
    console.print(table)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scripts/bench-dp", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="heart, 3 rounds, eps 3 and inf")
    parser.add_argument("--dataset", choices=DATASETS, action="append", help="repeatable")
    parser.add_argument("--mode", choices=MODES, action="append", help="repeatable")
    parser.add_argument("--rounds", type=int, default=10, help="FedAvg rounds (default 10)")
    parser.add_argument("--epsilon", type=float, action="append", help="target (repeatable)")
    parser.add_argument("--out", type=Path, help="write every run as JSON")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; print the table; ``--out`` writes the runs as JSON."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    datasets = args.dataset or (["heart"] if args.quick else list(DATASETS))
    modes = args.mode or list(MODES)
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
