"""Secure aggregation inside a task: ``scripts/bench-secagg-task``.

Run it as::

    scripts/bench-secagg-task                 # 12 hospitals, groups of 3, 4 and 6, 5 rounds
    scripts/bench-secagg-task --quick         # 8 hospitals, groups of 3, 2 rounds: a smoke run
    scripts/bench-secagg-task --groups 3 4 --rounds 5 --out figures.json

(``python -m fedmarket.bench.secagg_task ...`` is the same.) The Wisconsin breast cancer rows
(scikit-learn's copy, nothing downloaded) split over twelve hospitals (eight with ``--quick``);
the demo's MLP; each round runs :class:`fl_node.secagg_task.runner.SecAggTask` with exact
Shapley over groups. On the side, with the same updates, it measures what a plain task would
have: exact Shapley over the participants. Per group size it prints:

- the largest gap between the secure round's update and the plain FedAvg of the same clipped
  updates, against the fixed-point bound;
- bytes each member sent over the board, against a plain float32 update, and seconds of the
  secure round (every group, every stage, in one process) against the local training;
- how far the group-level payout shares are from the per-participant Shapley shares (half the L1
  distance between the two distributions of positive scores: 0 same, 1 disjoint), and the
  Spearman correlation of the two score vectors;
- the final model's test accuracy and loss.

``--out`` writes every figure as JSON.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from scipy.stats import spearmanr

from fedmarket.cli.errors import exit_code
from fedmarket.demo import design_task
from fl_node.coordinator import coalition_utility
from fl_node.data.hospitals import breast_cancer_hospitals
from fl_node.evaluation import task_metrics
from fl_node.models import trainable_state
from fl_node.objectives import predict
from fl_node.secagg import SecAggParams
from fl_node.secagg_task import MemberInput, MemoryBoard, run_secure_round
from fl_node.secagg_task.groups import group_seed
from fl_node.secagg_task.runner import Party, SecAggRoundReport, SecAggTask, unflatten
from fl_node.strategies import ClientUpdate
from incentives import make_estimator
from kernel.errors import FedmarketError, InvalidInputError

console = Console(width=200)
HOSPITALS = 12
CLIP = 0.5


@dataclass(frozen=True)
class RoundFigures:
    """One round of one group size."""

    group_size: int
    round: int
    groups: int
    error: float
    bound: float
    sent_per_member: float
    plain_bytes: int
    secure_seconds: float
    train_seconds: float
    share_distance: float
    spearman: float
    paid: int


@dataclass(frozen=True)
class RunFigures:
    """One group size: its rounds and the final model."""

    group_size: int
    rounds: tuple[RoundFigures, ...]
    test_accuracy: float
    test_loss: float


def _shares(scores: Sequence[float]) -> np.ndarray:
    positive = np.clip(np.asarray(scores, dtype=np.float64), 0, None)
    return positive / positive.sum() if positive.sum() > 0 else positive


def _plain_scores(task: SecAggTask, inputs: Mapping[str, MemberInput], round_: int) -> list[float]:
    """Exact Shapley over the participants, as a plain task would measure it."""
    params = trainable_state(task.model)
    shapes = {n: t.shape for n, t in params.items()}
    updates = [
        ClientUpdate(unflatten(np.clip(inputs[p.address].delta, -CLIP, CLIP), shapes),
                     inputs[p.address].samples)
        for p in task.parties
    ]  # fmt: skip
    utility = coalition_utility(
        task.spec.model, task.strategy, params, updates, task.state, task.validation
    )
    return list(make_estimator("shapley-exact").estimate(len(updates), utility, seed=round_).scores)


def _secure_cost(
    task: SecAggTask, inputs: Mapping[str, MemberInput], round_: int
) -> tuple[float, float]:
    """Seconds of one secure round on ``inputs``, and the bytes each member posted."""
    board = MemoryBoard()
    seed = group_seed(task.spec.sample_seed, task.model_hash, round_)
    started = time.perf_counter()
    assert task.params is not None
    run_secure_round(inputs, task.params, task=1, round_=round_, seed=seed, board=board)
    seconds = time.perf_counter() - started
    sent = sum(len(p.payload) for t, p in board.everything() if p.sender >= 0)
    return seconds, sent / len(inputs)


def _round(task: SecAggTask, round_: int) -> RoundFigures:
    started = time.perf_counter()
    inputs = task.member_inputs(round_)
    train_seconds = time.perf_counter() - started
    plain = _plain_scores(task, inputs, round_)
    seconds, sent = _secure_cost(task, inputs, round_)
    reference = sum(np.clip(m.delta, -CLIP, CLIP) * m.samples for m in inputs.values())
    report: SecAggRoundReport = task.run_round(round_, inputs=inputs)
    secure = report.secure
    bound = sum(g.decoded.bound for g in secure.completed if g.decoded) / secure.samples
    error = float(np.abs(secure.mean_update() - reference / secure.samples).max())
    distance = 0.5 * float(np.abs(_shares(plain) - _shares(report.contributions)).sum())
    rho = float(spearmanr(plain, report.contributions).statistic)
    d = next(iter(inputs.values())).delta.size
    return RoundFigures(
        task.params.group_size if task.params else 0, round_, len(secure.completed), error, bound,
        sent, 4 * d, seconds, train_seconds, distance, rho, report.paid,
    )  # fmt: skip


def run_group_size(group_size: int, rounds: int, seed: int, hospitals: int) -> RunFigures:
    """A whole task of ``hospitals`` participants in groups of at least ``group_size``."""
    split = breast_cancer_hospitals(hospitals, seed=seed, min_rows=15)
    spec = design_task([h.stats() for h in split.hospitals], split.feature_names, rounds=rounds)
    spec = replace(
        spec,
        aggregation="secagg",
        secagg=SecAggParams(group_size=group_size, clip=CLIP, max_samples=1000),
        contribution="shapley-exact",
    )
    parties = [Party(f"0x{i + 1:040x}", d) for i, d in enumerate(split.hospitals)]
    task = SecAggTask(spec, parties, validation=split.validation, test=split.test, pool=10**20)
    figures = tuple(_round(task, r) for r in range(1, rounds + 1))
    with torch.no_grad():
        metrics = task_metrics(spec.kind, split.test.y, predict(task.model, split.test.x))
    accuracy = float(getattr(metrics, "accuracy", float("nan")))
    return RunFigures(group_size, figures, accuracy, metrics.loss)


def report(runs: Sequence[RunFigures]) -> str:
    """The markdown table of every round, and each run's final model."""
    lines = [
        "| g | round | groups | max error (bound) | bytes sent / member | plain bytes"
        " | secure s | training s | payout distance | Spearman | paid (wei) |",
        "|" + "---|" * 11,
    ]
    for run in runs:
        for r in run.rounds:
            lines.append(
                f"| {r.group_size} | {r.round} | {r.groups} | {r.error:.1e} ({r.bound:.1e})"
                f" | {r.sent_per_member:,.0f} | {r.plain_bytes:,} | {r.secure_seconds:.3f}"
                f" | {r.train_seconds:.3f} | {r.share_distance:.3f} | {r.spearman:.2f}"
                f" | {r.paid:.3e} |"
            )
    lines.append("")
    for run in runs:
        lines.append(f"g = {run.group_size}: final test accuracy {run.test_accuracy:.4f}, "
                     f"loss {run.test_loss:.4f}.")  # fmt: skip
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> tuple[tuple[int, ...], int, int, int, Path | None]:
    """The command line: group sizes, rounds, hospitals, seed, output path."""
    parser = argparse.ArgumentParser(
        prog="scripts/bench-secagg-task", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="8 hospitals, groups of 3, 2 rounds")
    parser.add_argument("--hospitals", type=int, default=None, help="participants")
    parser.add_argument("--groups", type=int, nargs="+", default=None, help="group sizes g")
    parser.add_argument("--rounds", type=int, default=None, help="rounds per task")
    parser.add_argument("--seed", type=int, default=2024, help="seed of the hospitals' split")
    parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON here")
    args = parser.parse_args(argv)
    groups = tuple(args.groups or ((3,) if args.quick else (3, 4, 6)))
    rounds = args.rounds or (2 if args.quick else 5)
    hospitals = args.hospitals or (8 if args.quick else HOSPITALS)
    if any(not 3 <= g <= hospitals // 2 for g in groups) or rounds < 1 or hospitals > 16:
        raise InvalidInputError(
            "bench-secagg-task: g in [3, hospitals / 2], rounds >= 1, <= 16 hospitals"
        )
    return groups, rounds, hospitals, args.seed, args.out


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; print the markdown report (and write the JSON when asked)."""
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    started = time.perf_counter()
    try:
        groups, rounds, hospitals, seed, out = parse_args(argv)
        runs = [run_group_size(g, rounds, seed, hospitals) for g in groups]
    except FedmarketError as exc:
        Console(stderr=True).print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        return exit_code(exc)
    text = report(runs)
    console.print(text, markup=False, highlight=False, soft_wrap=True)
    console.print(f"bench-secagg-task: {time.perf_counter() - started:.1f} s in all")
    if out is not None:
        record = {"runs": [asdict(r) for r in runs], "report": text}
        out.write_text(json.dumps(record, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
