"""Chain backends side by side: seconds per FedTask transaction and per training round's chain work.

Run::

    .venv/bin/python benchmarks/bench_chain.py [--updates 40]

For each backend (in-process py-evm with the fixed-gas shortcut, in-process with gas
estimation, anvil, a Hardhat node) it deploys the contracts, creates a task with 4 participants
and times ``submitUpdate`` transactions (simulate, sign, send, wait for the receipt) and one
round's full chain traffic (open, 4 submits, finalize with the reward split), then prints the
ratios to the fastest.
"""

# ruff: noqa: T201

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from chain import (
    ChainBackend,
    DevNode,
    InProcessBackend,
    RpcBackend,
    deploy,
    fund,
    new_account,
    signer_for,
)
from storage import content_hash


class _EstimatingInProcess(InProcessBackend):
    fixed_gas_limit = None


@contextmanager
def _backend(kind: str) -> Iterator[ChainBackend]:
    if kind == "in-process":
        yield InProcessBackend()
    elif kind == "in-process (estimate gas)":
        yield _EstimatingInProcess()
    else:
        with DevNode(kind) as node:
            yield RpcBackend(node.url)


def _measure(backend: ChainBackend, updates: int) -> dict[str, float]:
    deployer = signer_for(backend, backend.faucet_account())  # type: ignore[arg-type]
    deployment = deploy(deployer)
    accounts = [new_account() for _ in range(6)]
    for a in accounts:
        fund(backend, a.address, 10**20)
    sponsor, coord, *parties = (signer_for(backend, a) for a in accounts)
    deployment.token_client(backend, deployer).mint(sponsor.address, 10**24)
    deployment.token_client(backend, sponsor).approve(deployment.fed_task, 10**24)
    ft = deployment.fed_task_client(backend)
    rounds = updates // len(parties) + 2
    task_id, _ = ft.as_signer(sponsor).create_task(
        spec_cid="bafkreispec",
        spec_hash=content_hash(b"spec"),
        coordinator=coord.address,
        pool=10**24,
        total_rounds=rounds,
        max_participants=4,
    )
    for p in parties:
        ft.as_signer(p).join(task_id)
    submit_times: list[float] = []
    round_times: list[float] = []
    for r in range(1, rounds + 1):
        start = time.perf_counter()
        ft.as_signer(coord).open_round(task_id, r, "bafkreimodel", content_hash(b"m%d" % r))
        for i, p in enumerate(parties):
            t0 = time.perf_counter()
            ft.as_signer(p).submit_update(
                task_id, r, content_hash(b"u%d%d" % (r, i)), "bafkreiu", 100
            )
            submit_times.append(time.perf_counter() - t0)
        ft.as_signer(coord).finalize_round(
            task_id,
            r,
            model_cid="bafkreinew",
            model_hash=content_hash(b"n%d" % r),
            evidence_cid="bafkreievidence",
            scores=[1, 2, 3, 4],
            budget=10**20,
        )
        round_times.append(time.perf_counter() - start)
    return {
        "submit_ms": 1000 * statistics.median(submit_times[:updates]),
        "round_ms": 1000 * statistics.median(round_times),
    }


def main() -> None:
    """Run every backend and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=40)
    parser.add_argument(
        "--backends",
        default="in-process,in-process (estimate gas),anvil,hardhat",
        help="comma-separated list",
    )
    args = parser.parse_args()
    results: dict[str, dict[str, float]] = {}
    for kind in args.backends.split(","):
        with _backend(kind) as backend:
            results[kind] = _measure(backend, args.updates)
    fastest: Callable[[str], float] = lambda key: min(r[key] for r in results.values())  # noqa: E731
    header = f"{'backend':<28} {'submitUpdate ms':>16} {'x fastest':>10}"
    print(f"{header} {'round ms':>10} {'x fastest':>10}")
    for kind, r in results.items():
        print(
            f"{kind:<28} {r['submit_ms']:>16.1f} {r['submit_ms'] / fastest('submit_ms'):>10.2f}"
            f" {r['round_ms']:>10.1f} {r['round_ms'] / fastest('round_ms'):>10.2f}"
        )
    print("(median over the updates; a round = open + 4 submits + finalize with the split)")


if __name__ == "__main__":
    main()
