"""Measure what the model sharing pool hides: the linkage attack with and without it.

Run from the repository root::

    .venv/bin/python benchmarks/bench_pool_linkage.py
    .venv/bin/python benchmarks/bench_pool_linkage.py --quick          # smoke run, seconds
    .venv/bin/python benchmarks/bench_pool_linkage.py --json out.json

Three simulated tasks, each with ``--participants`` participants, ``--models`` base models and
``--rounds`` rounds, with the attack of :mod:`fl_node.pool.linkage` at each ``--leaks`` level
and over ``--seeds`` seeds:

- ``no_pool``: every participant always trains the same base model (fixed lineages);
- ``pool``: each round a draw (:func:`fl_node.pool.draw`, at least 2 models) deals the models at
  random; the side channels (a delay and a gas figure) carry nothing about the model;
- ``pool_leaky_channel``: the same draws, but one channel is the update's size, which differs by
  base model (different architectures): what the pool cannot hide.

It prints, per task and leak, the attack's mean success, the chance level and the cascade chosen
most often. Only simulated sightings: no chain, no training.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from fl_node.pool import Sighting, draw, round_seed, run_linkage

SECRET = b"benchmark pool secret, 32 bytes!"


@dataclass(frozen=True)
class Setting:
    """One simulated task's size."""

    participants: int
    models: int
    rounds: int


@dataclass(frozen=True)
class Row:
    """The attack's figures for one task and leak, averaged over seeds."""

    task: str
    leak: float
    success: float
    chance: float
    n: int
    strategy: str


def _people(s: Setting) -> tuple[str, ...]:
    return tuple(f"0x{i:040x}" for i in range(1, s.participants + 1))


def no_pool(s: Setting, seed: int) -> list[Sighting]:
    """Fixed lineages, uninformative channels."""
    rng = np.random.default_rng(seed)
    return [
        Sighting(p, r, i % s.models, (float(rng.exponential()), float(rng.normal(50_000, 500))))
        for r in range(s.rounds)
        for i, p in enumerate(_people(s))
    ]


def _pooled(s: Setting, seed: int, leaky: bool) -> list[Sighting]:
    rng = np.random.default_rng(seed)
    out = []
    for r in range(s.rounds):
        d = draw(round_seed(SECRET, seed, r), r, s.models, _people(s), min_models=2)
        for p, m in d.assignment:
            gas = float(rng.normal(50_000, 500))
            channel = float(100_000 * (m + 1) + rng.integers(0, 64)) if leaky else gas
            out.append(Sighting(p, r, m, (float(rng.exponential()), channel)))
    return out


def pool(s: Setting, seed: int) -> list[Sighting]:
    """The pool's random draws, uninformative channels."""
    return _pooled(s, seed, leaky=False)


def pool_leaky_channel(s: Setting, seed: int) -> list[Sighting]:
    """The pool's random draws, one channel that gives the base model away."""
    return _pooled(s, seed, leaky=True)


TASKS: dict[str, Callable[[Setting, int], list[Sighting]]] = {
    "no_pool": no_pool,
    "pool": pool,
    "pool_leaky_channel": pool_leaky_channel,
}


def measure(s: Setting, leaks: list[float], seeds: int) -> list[Row]:
    """The attack's mean success and chance for every task and leak."""
    rows = []
    for task, make in TASKS.items():
        for leak in leaks:
            results = [run_linkage(make(s, seed), leak, seed) for seed in range(seeds)]
            rows.append(
                Row(
                    task,
                    leak,
                    float(np.mean([r.success for r in results])),
                    float(np.mean([r.chance for r in results])),
                    sum(r.n for r in results),
                    Counter(r.strategy for r in results).most_common(1)[0][0],
                )
            )
    return rows


def main() -> None:
    """Parse the options, run the attack, print the table (and write JSON when asked)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--participants", type=int, default=50)
    parser.add_argument("--models", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--leaks", default="0.05,0.1,0.2,0.4")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    parser.add_argument("--json", help="write the rows to this file")
    args = parser.parse_args()
    if args.quick:
        args.participants, args.rounds, args.seeds, args.leaks = 12, 6, 1, "0.2"
    setting = Setting(args.participants, args.models, args.rounds)
    rows = measure(setting, [float(x) for x in args.leaks.split(",")], args.seeds)
    print(f"{setting}, {args.seeds} seeds")  # noqa: T201
    print(f"{'task':<20}{'leak':>6}{'success':>9}{'chance':>8}{'n':>7}  strategy")  # noqa: T201
    for r in rows:
        print(  # noqa: T201
            f"{r.task:<20}{r.leak:>6.2f}{r.success:>9.3f}{r.chance:>8.3f}{r.n:>7}  {r.strategy}"
        )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"setting": asdict(setting), "rows": [asdict(r) for r in rows]}, f, indent=1)


if __name__ == "__main__":
    main()
