"""Secure aggregation benchmark: ``scripts/bench-secagg``.

Run it as::

    scripts/bench-secagg                  # 10, 30 and 50 clients; 1k and 100k parameters
    scripts/bench-secagg --quick          # 10 clients, 1k parameters: a smoke run (a second)
    scripts/bench-secagg --participants 10 --sizes 100k --out figures.json

(``python -m fedmarket.bench.secagg ...`` is the same.) Nothing is read or downloaded: the
updates are random (normal, sd 0.05, clipped to [-1, 1]) float32 vectors of each size; ``100k``
is the parameter count of an MNIST MLP 784-128-10 (101,770), ``1k`` that of a small tabular
model (1,000).

For each number of participants, size and dropout rate (0 and 30 %: clients drawn at random,
each dropping after a random stage) it runs one round of :func:`fl_node.secagg.run_secagg` and
the plain float32 sum of the same survivors' updates, and prints:

- bytes each client that finished the round sent, against the plain float32 update (the
  expansion ratio; the target is below 1.5x at 10 clients), and sent plus received;
- seconds per round: every client's work (mean per client), the server's, against the plain sum;
- whether the secure sum equals the plain sum of the survivors' quantised updates exactly in
  ``Z_2^32``, and the largest gap to the float sum against the stated quantisation bound.

``--out`` writes every figure as JSON.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from rich.console import Console

from fedmarket.cli.errors import exit_code
from fl_node.secagg import SecAggResult, TooFewSurvivorsError, random_dropouts, run_secagg
from kernel.errors import FedmarketError, InvalidInputError

console = Console(width=200)
SIZES = {"1k": 1_000, "100k": 101_770}
"""Parameter counts: a small tabular model, and an MNIST MLP 784-128-10."""
EXPANSION_TARGET = 1.5


@dataclass(frozen=True)
class SecAggBenchOptions:
    """What to run.

    Attributes
    ----------
    participants : tuple of int
        Clients per round.
    sizes : tuple of str
        Keys of :data:`SIZES`.
    dropouts : tuple of float
        Dropout fractions.
    seed : int
        Seeds the updates, the dropouts and the graph.
    """

    participants: tuple[int, ...] = (10, 30, 50)
    sizes: tuple[str, ...] = ("1k", "100k")
    dropouts: tuple[float, ...] = (0.0, 0.3)
    seed: int = 0


@dataclass(frozen=True)
class RoundFigures:
    """One round's figures (``completed`` false: too many dropped; the rest are then zero)."""

    participants: int
    size: str
    parameters: int
    dropout: float
    completed: bool
    survivors: int
    degree: int
    threshold: int
    sent: float
    received: float
    plain: int
    expansion: float
    expansion_total: float
    client_seconds: float
    server_seconds: float
    plain_seconds: float
    exact: bool
    error: float
    bound: float


def _updates(n: int, d: int, seed: int) -> NDArray[np.float32]:
    rng = np.random.default_rng(seed)
    return np.clip(rng.normal(0, 0.05, (n, d)), -1, 1).astype(np.float32)


def _plain_seconds(updates: NDArray[np.float32], survivors: Sequence[int]) -> float:
    """The plain server's work: the float32 sum of the survivors' updates."""
    started = time.perf_counter()
    np.sum(updates[list(survivors)], axis=0, dtype=np.float32)
    return time.perf_counter() - started


def _figures(
    n: int, size: str, rate: float, result: SecAggResult, values: np.ndarray
) -> RoundFigures:
    agg, d = result.aggregate, SIZES[size]
    finished = [u for u in agg.survivors if result.bytes_sent(u) and _answered(result, u)]
    sent = float(np.mean([result.bytes_sent(u) for u in finished]))
    received = float(np.mean([result.bytes_received(u) for u in finished]))
    plain_seconds = _plain_seconds(values, agg.survivors)
    total = values[list(agg.survivors)].astype(np.float64).sum(axis=0)
    fp = result.config.fixed_point
    words = np.zeros(d, dtype=np.uint64)
    for u in agg.survivors:
        words += fp.encode(values[u])
    words %= 2**32
    return RoundFigures(
        n, size, d, rate, True, agg.count, result.config.degree, result.config.threshold,
        sent, received, 4 * d, sent / (4 * d), (sent + received) / (4 * d),
        result.client_seconds / n, result.server_seconds, plain_seconds,
        bool(np.array_equal(words.astype(np.uint32), agg.words)),
        float(np.abs(agg.total - total).max()), agg.bound,
    )  # fmt: skip


def _answered(result: SecAggResult, client: int) -> bool:
    return any(t.client == client and t.stage == "unmask" for t in result.traffic)


def run_round(n: int, size: str, rate: float, seed: int) -> RoundFigures:
    """One secure round and its plain counterpart."""
    values = _updates(n, SIZES[size], seed)
    dropouts = random_dropouts(n, rate, seed) if rate else {}
    try:
        result = run_secagg(list(values), dropouts=dropouts, seed=seed)
    except TooFewSurvivorsError:
        d = SIZES[size]
        zero = (0.0, 0.0, 4 * d, 0.0, 0.0, 0.0, 0.0, 0.0, False, 0.0, 0.0)
        return RoundFigures(n, size, d, rate, False, 0, 0, 0, *zero)
    return _figures(n, size, rate, result, values)


def run_bench(options: SecAggBenchOptions) -> list[RoundFigures]:
    """Every round the options name."""
    return [
        run_round(n, size, rate, options.seed)
        for size in options.sizes
        for n in options.participants
        for rate in options.dropouts
    ]


def report(rounds: Sequence[RoundFigures]) -> str:
    """The markdown table of every round."""
    lines = [
        "| clients | params | dropouts | survivors | k | t | bytes sent / client | plain bytes"
        " | expansion sent | sent+received | client s | server s | plain sum s | exact |"
        " max error (bound) |",
        "|" + "---|" * 15,
    ]
    for r in rounds:
        if not r.completed:
            lines.append(f"| {r.participants} | {r.parameters} | {r.dropout:.0%} | failed: too "
                         "few survivors |" + " |" * 11)  # fmt: skip
            continue
        lines.append(
            f"| {r.participants} | {r.parameters} | {r.dropout:.0%} | {r.survivors} | {r.degree}"
            f" | {r.threshold} | {r.sent:,.0f} | {r.plain:,} | {r.expansion:.4f}x"
            f" | {r.expansion_total:.4f}x | {r.client_seconds:.4f} | {r.server_seconds:.4f}"
            f" | {r.plain_seconds:.5f} | {'yes' if r.exact else 'NO'}"
            f" | {r.error:.1e} ({r.bound:.1e}) |"
        )
    lines.append("")
    for size in sorted({r.size for r in rounds}, key=SIZES.__getitem__):
        at_ten = [
            r.expansion for r in rounds if (r.participants, r.size, r.completed) == (10, size, True)
        ]
        if at_ten:
            verdict = "met" if max(at_ten) < EXPANSION_TARGET else "NOT met"
            lines.append(f"Expansion at 10 clients, {size} parameters: at most {max(at_ten):.4f}x"
                         f" (target < {EXPANSION_TARGET}x: {verdict}).")  # fmt: skip
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> tuple[SecAggBenchOptions, Path | None]:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="scripts/bench-secagg", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="10 clients, 1k parameters")
    parser.add_argument(
        "--participants", type=int, nargs="+", default=None, help="clients per round"
    )
    parser.add_argument("--sizes", nargs="+", default=None, help=f"of {sorted(SIZES)}")
    parser.add_argument("--dropouts", type=float, nargs="+", default=None, help="fractions")
    parser.add_argument("--seed", type=int, default=0, help="seed of updates, dropouts and graph")
    parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON here")
    args = parser.parse_args(argv)
    options = SecAggBenchOptions(seed=args.seed)
    if args.quick:
        options = SecAggBenchOptions(participants=(10,), sizes=("1k",), seed=args.seed)
    options = SecAggBenchOptions(
        participants=tuple(args.participants or options.participants),
        sizes=tuple(args.sizes or options.sizes),
        dropouts=tuple(args.dropouts or options.dropouts),
        seed=args.seed,
    )
    if any(s not in SIZES for s in options.sizes):
        raise InvalidInputError(f"bench-secagg: sizes are of {sorted(SIZES)}")
    if any(n < 2 for n in options.participants) or any(not 0 <= r < 1 for r in options.dropouts):
        raise InvalidInputError("bench-secagg: at least 2 participants, dropouts in [0, 1)")
    return options, args.out


def record(options: SecAggBenchOptions, rounds: Sequence[RoundFigures]) -> dict[str, Any]:
    """The run as a JSON-ready record, its markdown report included."""
    return {
        "options": asdict(options),
        "rounds": [asdict(r) for r in rounds],
        "report": report(rounds),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; print the markdown report (and write the JSON when asked)."""
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    started = time.perf_counter()
    try:
        options, out = parse_args(argv)
        rounds = run_bench(options)
    except FedmarketError as exc:
        Console(stderr=True).print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        return exit_code(exc)
    console.print(report(rounds), markup=False, highlight=False, soft_wrap=True)
    console.print(f"bench-secagg: {time.perf_counter() - started:.1f} s in all")
    if out is not None:
        out.write_text(json.dumps(record(options, rounds), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
