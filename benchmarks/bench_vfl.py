"""Vertical-FL training speed: our Paillier vs python-paillier (phe), same protocol, one run.

Run from the repository root (``FEDMARKET_DATA_DIR`` must point at the shared data)::

    FEDMARKET_DATA_DIR=../shared/data .venv/bin/python benchmarks/bench_vfl.py \
        [--dataset default-credit] [--epochs 1] [--phe-batches 2] [--key-bits 2048]

Guest, host and arbiter run as three processes over mutual TLS on 127.0.0.1 (exactly as in
``fedmarket vfl``): PSI, the split, then ``--epochs`` full epochs of hetero-LR training with
our cipher in *each* randomiser setting (``HeteroLRConfig.randomizer``: ``short-exponent``,
DCR plus the short-exponent assumption; ``textbook``, DCR alone) and ``--phe-batches``
mini-batches of the *same* protocol with phe as the cipher (textbook randomisers; same batch
size, same messages; phe's time per epoch is extrapolated by rows, since every full batch
does the same work). Printed, side by side: seconds per epoch, the ratio to phe (target
<= 0.2), CPU seconds, the per-phase breakdown (seconds per epoch summed over the three
parties), row-features per core-second (training rows x features x epochs / (wall seconds x
cores)) and FATE 2.0's reference (0.13 ms per row-feature per core: 100,000 x 330 in 2m16s
per epoch on 2 x 16 cores). ``--randomizers textbook`` measures one setting only.
``--quick`` uses the breast data and 1024-bit keys (seconds). The machine is shared: the
load average is printed at start and end.
"""

# ruff: noqa: T201  -- a command-line report: printing the table is its job.
from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass, replace

from fl_node.vertical.crypto.paillier import RANDOMIZERS, RandomizerName
from fl_node.vertical.data import dataset_files
from fl_node.vertical.protocol import HeteroLRConfig
from fl_node.vertical.runner import (
    PRESETS,
    PartyProcesses,
    PartySpec,
    PsiJob,
    PsiOutcome,
    SplitJob,
    SplitOutcome,
    Training,
    TrainJob,
    TrainOutcome,
)
from fl_node.vertical.transport import make_credentials

FATE_RF_PER_CORE_S = 100_000 * 330 / (136 * 32)
PHASES = ("encryption", "homomorphic", "decryption", "messaging", "plaintext")
ASSUMPTION = {"short-exponent": "DCR + short exp.", "textbook": "DCR", "phe": "DCR"}


@dataclass(frozen=True)
class Column:
    """One measured cipher set-up: its label, the assumption it rests on, its training."""

    label: str
    assumption: str
    training: Training


def parse() -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="default-credit", choices=sorted(PRESETS))
    parser.add_argument("--epochs", type=int, default=1, help="full epochs with our cipher")
    parser.add_argument("--phe-batches", type=int, default=2, help="batches measured with phe")
    parser.add_argument("--key-bits", type=int, default=2048)
    parser.add_argument("--workers", type=int, default=2, help="PSI processes per party")
    parser.add_argument(
        "--randomizers",
        nargs="+",
        choices=RANDOMIZERS,
        default=list(RANDOMIZERS),
        help="our cipher's randomiser settings to measure (default: both)",
    )
    parser.add_argument("--quick", action="store_true", help="breast data, 1024-bit keys")
    return parser.parse_args()


def train_all(
    procs: PartyProcesses,
    cfg: HeteroLRConfig,
    randomizers: list[RandomizerName],
    phe_batches: int,
) -> list[Column]:
    """Train with our cipher in each randomiser setting, then a few batches with phe."""
    roles = ("guest", "host", "arbiter")
    columns = []
    for randomizer in randomizers:
        job = TrainJob(f"bench-{randomizer}", replace(cfg, randomizer=randomizer), keep=False)
        training = Training.of(procs.run(dict.fromkeys(roles, job), TrainOutcome))
        columns.append(Column(f"ours {randomizer}", ASSUMPTION[randomizer], training))
    phe_job = TrainJob("bench-phe", cfg, "phe", max_batches=phe_batches, keep=False)
    phe = Training.of(procs.run(dict.fromkeys(roles, phe_job), TrainOutcome))
    return [*columns, Column("phe", ASSUMPTION["phe"], phe)]


def report(columns: list[Column], n_train: int, n_features: int, cores: int) -> None:
    """Print the side-by-side table (phe is the last column)."""
    width, col = 34, 18
    phe = columns[-1]
    epoch = [c.training.seconds_per_epoch(n_train) for c in columns]
    cpu = [c.training.cpu_seconds() * n_train / c.training.guest.session.rows for c in columns]
    rf = [n_train * n_features / (e * cores) for e in epoch]

    def line(name: str, cells: list[str], extra: str = "") -> None:
        print(f"{name:<{width}}" + "".join(f"{x:>{col}}" for x in cells) + extra)

    line("", [c.label for c in columns], f"{'FATE 2.0 ref':>16}")
    line("rests on", [c.assumption for c in columns])
    print("-" * (width + col * len(columns) + 16))
    line("seconds per epoch", [f"{e:.2f}" for e in epoch])
    line("/ phe (wall)", [f"{e / epoch[-1]:.4f}" for e in epoch], f"{'(target <= 0.2)':>16}")
    line("CPU seconds per epoch (3 parties)", [f"{c:.2f}" for c in cpu])
    line("/ phe (CPU)", [f"{c / cpu[-1]:.4f}" for c in cpu])
    line("row-features per core-second", [f"{r:,.0f}" for r in rf], f"{FATE_RF_PER_CORE_S:>16,.0f}")
    line("row-features per CPU-second", [f"{n_train * n_features / c:,.0f}" for c in cpu])
    line("x FATE per-core throughput", [f"{r / FATE_RF_PER_CORE_S:.3f}" for r in rf], f"{1:>16.2f}")
    print(
        f"\nphe: {phe.training.guest.session.batches} batches "
        f"({phe.training.guest.session.rows:,} rows) extrapolated to an epoch by rows"
    )
    print("\nseconds per epoch by phase (summed over guest, host, arbiter):")
    totals = [c.training.breakdown_total(n_train) for c in columns]
    for phase in PHASES:
        line(f"  {phase}", [f"{t[phase]:.3f}" for t in totals])
    for role in ("guest", "host", "arbiter"):
        line(
            f"  idle, {role}",
            [f"{c.training.breakdown(n_train)[role]['idle']:.3f}" for c in columns],
        )


def main() -> None:
    """Run the benchmark and print the table."""
    args = parse()
    dataset = "breast" if args.quick else args.dataset
    key_bits = 1024 if args.quick else args.key_bits
    cfg = replace(PRESETS[dataset], key_bits=key_bits, max_epochs=args.epochs, tol=0.0)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = os.getloadavg()
    print(f"vertical FL benchmark: {dataset}, {key_bits}-bit Paillier, batch {cfg.batch_size}")
    print(
        f"load average at start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} ({cores} cores)"
        + ("  -- machine busy: figures are noisy" if load[0] > 1 else "")
    )
    guest_csv, host_csv = dataset_files(dataset)
    creds = make_credentials(["guest", "host", "arbiter"])
    data = {"guest": guest_csv, "host": host_csv, "arbiter": None}
    specs = {
        role: PartySpec(role, creds[role], data[role], drop_fraction=0.03, seed=0, log_level=40)
        for role in ("guest", "host", "arbiter")
    }
    with PartyProcesses(specs) as procs:
        t0 = time.perf_counter()
        job = PsiJob(workers=args.workers)
        psi = procs.run({"guest": job, "host": job}, PsiOutcome)
        print(
            f"PSI ({psi['guest'].method}): {psi['guest'].own_size:,} x "
            f"{psi['host'].own_size:,} ids -> {psi['guest'].intersection_size:,} shared "
            f"in {time.perf_counter() - t0:.2f} s"
        )
        split = procs.run(
            {"guest": SplitJob(3.0, 0.1, 0.2, seed=0), "host": SplitJob(3.0)}, SplitOutcome
        )
        n_train = int(split["guest"].split.train.size)
        columns = train_all(procs, cfg, args.randomizers, args.phe_batches)
    n_features = 13 + 10 if dataset == "default-credit" else 10 + 20
    print(f"\ntraining rows {n_train:,}, features {n_features}, ours: {args.epochs} epoch(s)\n")
    report(columns, n_train, n_features, cores or 1)
    load = os.getloadavg()
    print(f"\nload average at end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
