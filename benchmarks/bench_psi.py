"""Benchmark private set intersection: openmined.psi against our ECDH-PSI and RSA-PSI.

Run from the repository root::

    .venv/bin/python benchmarks/bench_psi.py --n 100000
    .venv/bin/python benchmarks/bench_psi.py --sizes 100000,1000000 --variants oprf

For every size ``n`` (guest and host both hold ``n`` random ids, ``--overlap`` of them
shared) it prints, side by side and from the same run: openmined.psi (one core, its
ECDH-PSI on P-256, raw data structure), our ECDH-PSI (``oprf`` and ``commutative``
variants on 1 and 2 worker processes), our RSA blind-signature PSI, the ratio of each to
openmined.psi, and the measured cost of the primitives: a variable-base point
multiplication (libsecp256k1), the hash to the curve and the 33-point comb addition, with
the multiplication floor each protocol cannot go under. Every intersection is checked
against Python's set intersection. The load average is printed before and after each run:
figures taken while other processes use the cores are not comparable.

Needs the ``bench`` extra (``openmined.psi``); ``--skip-openmined`` runs without it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tqdm import tqdm

from fl_node.vertical.crypto.psi import PsiResult, ecdh_psi, make_executor, rsa_psi
from fl_node.vertical.crypto.psi import _secp as secp


@dataclass
class Row:
    """One benchmark measurement."""

    size: int
    method: str
    cores: int
    seconds: float
    cpu_seconds: float
    correct: bool
    bytes_sent: int
    floor_seconds: float | None = None
    load_before: float = 0.0
    load_after: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)


def _out(line: str = "") -> None:
    tqdm.write(line, file=sys.stdout)


def make_sets(n: int, overlap: float, seed: int) -> tuple[list[str], list[str], set[str]]:
    """Return guest ids, host ids (``n`` each, ``overlap * n`` shared) and the expected result."""
    rng = random.Random(seed)
    shared = int(n * overlap)
    ids = [f"{rng.getrandbits(64):016x}" for _ in range(2 * n - shared)]
    guest = ids[:n]
    host = ids[:shared] + ids[n:]
    rng.shuffle(host)
    return guest, host, set(ids[:shared])


def _worker_cpu(pool: Any) -> float:
    """CPU seconds used so far by a process pool's workers (Linux ``/proc``; 0 elsewhere)."""
    total = 0.0
    for pid in list(getattr(pool, "_processes", {}) or {}):
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def run_openmined(guest: list[str], host: list[str]) -> tuple[float, set[str], int]:
    """Run openmined.psi (client = guest, server = host); return seconds, result, bytes."""
    import private_set_intersection.python as psi

    start = time.perf_counter()
    client = psi.client.CreateWithNewKey(True)
    server = psi.server.CreateWithNewKey(True)
    setup = server.CreateSetupMessage(1e-9, len(guest), host, psi.DataStructure.RAW)
    request = client.CreateRequest(guest)
    response = server.ProcessRequest(request)
    indices = client.GetIntersection(setup, response)
    seconds = time.perf_counter() - start
    sent = sum(len(m.SerializeToString()) for m in (setup, request, response))
    return seconds, {guest[i] for i in indices}, sent


def primitive_costs(samples: int, repeats: int = 3) -> dict[str, float]:
    """Seconds per operation on one core (best of ``repeats``): mult, hash to curve, comb."""
    ids = [f"{i:016x}" for i in range(samples)]
    randomness = os.urandom(32 * samples)
    table = secp.CombTable(secp.generator())
    best = {"mult": float("inf"), "hash_to_curve": float("inf"), "comb": float("inf")}
    for _ in range(repeats):
        best["mult"] = min(best["mult"], secp.task_floor(samples))
        start = time.perf_counter()
        points = secp._hash_into(ids)
        best["hash_to_curve"] = min(best["hash_to_curve"], time.perf_counter() - start)
        start = time.perf_counter()
        table.add_multiples(points, samples, randomness)
        best["comb"] = min(best["comb"], time.perf_counter() - start)
    best["hash_to_curve"] /= samples
    best["comb"] /= samples
    return best


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run the benchmark, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="ids per side")
    parser.add_argument("--sizes", type=str, default="", help="comma list, overrides --n")
    parser.add_argument("--overlap", type=float, default=0.5, help="shared fraction")
    parser.add_argument("--variants", type=str, default="oprf,commutative")
    parser.add_argument("--cores", type=str, default="1,2", help="worker counts for ECDH")
    parser.add_argument("--rsa-bits", type=int, default=2048)
    parser.add_argument("--rsa-max-n", type=int, default=100_000, help="skip RSA above this")
    parser.add_argument("--rsa-cores", type=int, default=2)
    parser.add_argument("--skip-openmined", action="store_true")
    parser.add_argument("--skip-rsa", action="store_true")
    parser.add_argument("--floor-samples", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=str, default="", help="also write the rows here")
    args = parser.parse_args(argv)

    sizes = [int(s) for s in args.sizes.split(",") if s] or [args.n]
    variants = [v for v in args.variants.split(",") if v]
    cores = [int(c) for c in args.cores.split(",") if c]
    _out(f"cores available: {os.cpu_count()}, load average {os.getloadavg()[0]:.2f}")
    costs = primitive_costs(args.floor_samples)
    _out(
        "primitives, one core: variable-base mult {mult:.1f} us, hash to curve {h:.1f} us, "
        "33-point comb {c:.1f} us".format(
            mult=costs["mult"] * 1e6, h=costs["hash_to_curve"] * 1e6, c=costs["comb"] * 1e6
        )
    )

    plan: list[tuple[int, str, int]] = []
    for n in sizes:
        if not args.skip_openmined:
            plan.append((n, "openmined.psi", 1))
        plan += [(n, f"ecdh-{v}", c) for v in variants for c in cores]
        if not args.skip_rsa and n <= args.rsa_max_n:
            plan.append((n, "rsa", args.rsa_cores))

    rows: list[Row] = []
    data: dict[int, tuple[list[str], list[str], set[str]]] = {}
    for n, method, ncores in tqdm(plan, desc="psi benchmark", unit="run"):
        if n not in data:
            data.clear()
            data[n] = make_sets(n, args.overlap, args.seed)
        guest, host, expected = data[n]
        load_before = os.getloadavg()[0]
        floor = None
        cpu_start = time.process_time()
        if method == "openmined.psi":
            seconds, got, sent = run_openmined(guest, host)
            cpu = time.process_time() - cpu_start
            phases: dict[str, float] = {}
        else:
            runner: Callable[..., PsiResult]
            kwargs: dict[str, Any] = {"workers": ncores}
            if method == "rsa":
                runner, kwargs["bits"] = rsa_psi, args.rsa_bits
            else:
                variant = method.removeprefix("ecdh-")
                runner, kwargs["variant"] = ecdh_psi, variant
                mults = 2 * n if variant == "oprf" else 4 * n
                floor = mults * costs["mult"] / ncores
            if ncores > 1:
                # our own pool, so that its workers' CPU time can be read; its start-up and
                # shut-down are inside the wall time like when the driver owns the pool
                start = time.perf_counter()
                pool = make_executor(ncores)
                result = runner(guest, host, executor=pool, **kwargs)
                worker_cpu = _worker_cpu(pool)
                pool.shutdown()
                seconds = time.perf_counter() - start
            else:
                result = runner(guest, host, **kwargs)
                seconds, worker_cpu = result.seconds, 0.0
            cpu = time.process_time() - cpu_start + worker_cpu
            got = {str(x) for x in result.intersection}
            sent, phases = sum(result.bytes_sent.values()), result.phases
        row = Row(n, method, ncores, seconds, cpu, got == expected, sent, floor, load_before)
        row.load_after = os.getloadavg()[0]
        row.phases = phases
        rows.append(row)
        tqdm.write(f"  {method} n={n} cores={ncores}: {seconds:.2f} s", file=sys.stderr)

    for n in sizes:
        subset = [r for r in rows if r.size == n]
        base = next((r.seconds for r in subset if r.method == "openmined.psi"), None)
        base_cpu = next((r.cpu_seconds for r in subset if r.method == "openmined.psi"), None)
        _out()
        _out(f"n = {n:,} x {n:,}, {int(n * args.overlap):,} shared")
        _out(
            f"{'method':<20}{'cores':>6}{'seconds':>9}{'ratio':>8}{'cpu s':>9}{'cpu ratio':>10}"
            f"{'us/id':>9}{'MB sent':>9}{'mult floor':>12}{'load':>11}  ok"
        )
        for r in subset:
            ratio = f"{r.seconds / base:.3f}" if base else "-"
            cpu_ratio = f"{r.cpu_seconds / base_cpu:.3f}" if base_cpu else "-"
            floor_txt = f"{r.floor_seconds:.2f} s" if r.floor_seconds else "-"
            _out(
                f"{r.method:<20}{r.cores:>6}{r.seconds:>9.2f}{ratio:>8}{r.cpu_seconds:>9.2f}{cpu_ratio:>10}"
                f"{r.seconds / n * 1e6:>9.1f}{r.bytes_sent / 1e6:>9.1f}{floor_txt:>12}"
                f"{r.load_before:>5.2f}>{r.load_after:<5.2f}  {'yes' if r.correct else 'NO'}"
            )
    _out()
    _out("ratio: wall time / openmined.psi's; cpu s: CPU seconds of all our processes (parent")
    _out("and workers), the load-independent measure of work; mult floor: variable-base")
    _out("multiplications the protocol must do (4n commutative, 2n OPRF) x measured cost / cores;")
    _out("load: 1-minute load average before>after the run (2 cores: above ~0.5 means contention).")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"costs": costs, "rows": [vars(r) for r in rows]}, fh, indent=2)
    return 0 if all(r.correct for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
