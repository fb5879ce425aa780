"""Vertical-FL training speed: our Paillier vs python-paillier (phe), same protocol, one run.

Run from the repository root (``FEDMARKET_DATA_DIR`` must point at the shared data)::

    FEDMARKET_DATA_DIR=../shared/data .venv/bin/python benchmarks/bench_vfl.py \
        [--dataset default-credit] [--epochs 1] [--phe-batches 2] [--key-bits 2048]

Guest, host and arbiter run as three processes over mutual TLS on 127.0.0.1 (exactly as in
``fedmarket vfl``): PSI, the split, then ``--epochs`` full epochs of hetero-LR training with
our cipher and ``--phe-batches`` mini-batches of the *same* protocol with phe as the cipher
(same batch size, same messages; phe's time per epoch is extrapolated by rows, since every
full batch does the same work). Printed: seconds per epoch for both, their ratio (target
<= 0.2), the per-phase breakdown (seconds per epoch summed over the three parties), row-
features per core-second (training rows x features x epochs / (wall seconds x cores)) and
FATE 2.0's reference (0.13 ms per row-feature per core: 100,000 x 330 in 2m16s per epoch on
2 x 16 cores) side by side. ``--quick`` uses the breast data and 1024-bit keys (seconds).
The machine is shared: the load average is printed at start and end.
"""

# ruff: noqa: T201  -- a command-line report: printing the table is its job.
from __future__ import annotations

import argparse
import os
import time
from dataclasses import replace

from fl_node.vertical.data import dataset_files
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


def main() -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="default-credit", choices=sorted(PRESETS))
    parser.add_argument("--epochs", type=int, default=1, help="full epochs with our cipher")
    parser.add_argument("--phe-batches", type=int, default=2, help="batches measured with phe")
    parser.add_argument("--key-bits", type=int, default=2048)
    parser.add_argument("--workers", type=int, default=2, help="PSI processes per party")
    parser.add_argument("--quick", action="store_true", help="breast data, 1024-bit keys")
    args = parser.parse_args()
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
        roles = ("guest", "host", "arbiter")
        ours_job = TrainJob("bench-ours", cfg, keep=False)
        ours = Training.of(procs.run(dict.fromkeys(roles, ours_job), TrainOutcome))
        phe_job = TrainJob("bench-phe", cfg, "phe", max_batches=args.phe_batches, keep=False)
        phe = Training.of(procs.run(dict.fromkeys(roles, phe_job), TrainOutcome))
    n_features = 13 + 10 if dataset == "default-credit" else 10 + 20
    og, pg = ours.guest.session, phe.guest.session
    ours_epoch = ours.seconds_per_epoch(n_train)
    phe_epoch = phe.seconds_per_epoch(n_train)
    rf = n_train * n_features / (ours_epoch * (cores or 1))
    rf_phe = n_train * n_features / (phe_epoch * (cores or 1))
    ob, pb = ours.breakdown_total(n_train), phe.breakdown_total(n_train)
    ours_cpu = ours.cpu_seconds() * n_train / og.rows
    phe_cpu = phe.cpu_seconds() * n_train / pg.rows
    print(
        f"\ntraining rows {n_train:,}, features {n_features}, ours: {og.batches} batches "
        f"({og.epochs} epoch), phe: {pg.batches} batches ({pg.rows:,} rows) "
        "extrapolated to an epoch by rows"
    )
    width = 34
    print(f"\n{'':<{width}}{'ours':>14}{'phe':>14}{'FATE 2.0 ref':>16}")
    print("-" * (width + 44))
    print(f"{'seconds per epoch':<{width}}{ours_epoch:>14.2f}{phe_epoch:>14.1f}{'':>16}")
    print(f"{'ours / phe':<{width}}{ours_epoch / phe_epoch:>14.4f}{'':>14}{'(target <= 0.2)':>16}")
    print(
        f"{'row-features per core-second':<{width}}{rf:>14,.0f}{rf_phe:>14,.0f}"
        f"{FATE_RF_PER_CORE_S:>16,.0f}"
    )
    print(f"{'CPU seconds per epoch (3 parties)':<{width}}{ours_cpu:>14.2f}{phe_cpu:>14.1f}")
    print(
        f"{'row-features per CPU-second':<{width}}{n_train * n_features / ours_cpu:>14,.0f}"
        f"{n_train * n_features / phe_cpu:>14,.0f}"
    )
    print(
        f"{'ms per row-feature per core':<{width}}{1e3 / rf:>14.4f}{1e3 / rf_phe:>14.3f}"
        f"{1e3 / FATE_RF_PER_CORE_S:>16.3f}"
    )
    print(
        f"{'x FATE per-core throughput':<{width}}{rf / FATE_RF_PER_CORE_S:>14.2f}"
        f"{rf_phe / FATE_RF_PER_CORE_S:>14.3f}{'1.00':>16}"
    )
    print("\nseconds per epoch by phase (summed over guest, host, arbiter):")
    for phase in PHASES:
        print(f"  {phase:<{width - 2}}{ob[phase]:>14.3f}{pb[phase]:>14.2f}")
    for role in ("guest", "host", "arbiter"):
        idle = ours.breakdown(n_train)[role]["idle"]
        print(f"  {'idle, ' + role:<{width - 2}}{idle:>14.3f}")
    load = os.getloadavg()
    print(f"\nload average at end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
