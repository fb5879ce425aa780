"""Protocol v2 on every chain backend: gas and latency of a round's FedTask transactions.

Run::

    .venv/bin/python benchmarks/bench_chain.py [--rounds 3] [--backends in-process,anvil,hardhat]

For each backend (in-process py-evm, anvil, a Hardhat node) it deploys the five contracts, creates
a task of 10 participants and runs ``--rounds`` rounds, travelling past each deadline: the
coordinator opens the round and anchors all 10 signed commitments with one ``commitBatch``, 3
participants also commit directly (``commitUpdate``), the coordinator finalises with a rewards
root, and after the challenge window every participant claims with its Merkle proof. Latency is
the wall time of one call through the client (simulate, sign, send, wait for the receipt); gas is
the receipt's. The last round (which also records the shares) is left out of ``finalizeRound``.
Prints one table; about a minute in all.
"""

# ruff: noqa: T201

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

from eth_utils.crypto import keccak

from chain.backends import ChainBackend, InProcessBackend, RpcBackend
from chain.commitments import (
    CommitmentBatch,
    RewardTree,
    UpdateCommitment,
    encode_shares,
    sign_commitment,
)
from chain.deployment import deploy
from chain.devnode import DevNode
from chain.fed_task import FedTaskClient, Finalization, Schedule, TaskConfig
from chain.keys import new_account
from chain.signer import Signer, TxResult, fund, signer_for
from kernel.types import Round, TaskId

PARTICIPANTS = 10
DIRECT = 3
TOKEN = 10**18
CALLS = ("commitBatch", "per update", "commitUpdate", "finalizeRound", "claimRewards")


@dataclass
class Samples:
    """Gas and seconds of every measured call, by call."""

    gas: dict[str, list[int]] = field(default_factory=dict)
    seconds: dict[str, list[float]] = field(default_factory=dict)

    def timed(self, name: str, send: Callable[[], TxResult]) -> TxResult:
        """Send through ``send`` and record its wall time and gas under ``name``."""
        start = time.perf_counter()
        result = send()
        self.seconds.setdefault(name, []).append(time.perf_counter() - start)
        self.gas.setdefault(name, []).append(result.gas_used)
        return result


@contextmanager
def _backend(kind: str) -> Iterator[ChainBackend]:
    if kind == "in-process":
        yield InProcessBackend()
    else:
        with DevNode(kind) as node:
            yield RpcBackend(node.url)


def _setup(backend: ChainBackend, rounds: int) -> tuple[FedTaskClient, list[Signer], TaskId]:
    """Deploy, fund a sponsor, a coordinator and the participants; create the task and join."""
    faucet = backend.faucet_account()
    assert faucet is not None
    deployer = signer_for(backend, faucet)
    deployment = deploy(deployer)
    signers = []
    for _ in range(PARTICIPANTS + 2):
        account = new_account()
        fund(backend, account.address, 10**20)
        signers.append(signer_for(backend, account))
        deployment.token_client(backend, deployer).mint(account.address, 10**6 * TOKEN)
        deployment.token_client(backend, signers[-1]).approve(deployment.fed_task, 10**6 * TOKEN)
    ft = deployment.fed_task_client(backend)
    config = TaskConfig(
        spec_cid="bafkreispec",
        spec_hash=keccak(text="spec"),
        coordinator=signers[1].address,
        pool=10**5 * TOKEN,
        total_rounds=rounds + 1,
        max_participants=PARTICIPANTS,
        schedule=replace(Schedule.uniform(3_600), open_period=4 * 3_600),  # claims come first
        quorum=PARTICIPANTS // 2,
        participant_stake=TOKEN,
    )
    task_id, _ = ft.as_signer(signers[0]).create_task(config)
    for p in signers[2:]:
        ft.as_signer(p).join(task_id)
    return ft, signers, task_id


def _round(
    ft: FedTaskClient, signers: list[Signer], task_id: TaskId, r: int, samples: Samples
) -> None:
    """One round: open, batch of all, a few direct commits, finalise, claims after the window."""
    coord, parties = ft.as_signer(signers[1]), signers[2:]
    coord.open_round(task_id, r, "bafkreimodel", keccak(text=f"model {r - 1}"))
    domain = ft.domain()
    signed = [
        sign_commitment(
            p.account, domain, UpdateCommitment(task_id, Round(r), keccak(text=f"{r}{i}"), 100)
        )
        for i, p in enumerate(parties)
    ]
    batch = CommitmentBatch.build(signed)
    result = samples.timed("commitBatch", lambda: coord.post_batch(batch, "bafkreibatch"))
    samples.gas.setdefault("per update", []).append(result.gas_used // PARTICIPANTS)
    for i, p in enumerate(parties[:DIRECT]):
        h = keccak(text=f"direct {r}{i}")
        samples.timed(
            "commitUpdate", lambda p=p, h=h: ft.as_signer(p).commit_update(task_id, r, h, 50, "u")
        )
    last = r == ft.task(task_id).total_rounds
    ft.backend.wait_until(ft.round(task_id, r).reveal_deadline, travel=True)
    tree = RewardTree.build(task_id, r, {p.address: (i + 1) * TOKEN for i, p in enumerate(parties)})
    finalization = Finalization(
        "bafkreinew",
        keccak(text=f"model {r}"),
        "bafkreievidence",
        tree.root,
        tree.budget,
        PARTICIPANTS,
        shares=encode_shares([1_000] * PARTICIPANTS) if last else b"",
    )
    name = "finalizeRound (last)" if last else "finalizeRound"
    samples.timed(name, lambda: coord.finalize_round(task_id, r, finalization))
    ft.backend.wait_until(ft.round(task_id, r).claimable_at, travel=True)
    for p in parties:
        claim = tree.claim_for(p.address)
        samples.timed(
            "claimRewards", lambda p=p, c=claim: ft.as_signer(p).claim_rewards(task_id, c)
        )


def measure(kind: str, rounds: int) -> Samples:
    """Run the task on backend ``kind`` and return its samples."""
    samples = Samples()
    with _backend(kind) as backend:
        ft, signers, task_id = _setup(backend, rounds)
        for r in range(1, rounds + 2):
            _round(ft, signers, task_id, r, samples)
    return samples


def main() -> None:
    """Run every backend and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds measured (one more runs)")
    parser.add_argument("--backends", default="in-process,anvil,hardhat", help="comma-separated")
    args = parser.parse_args()
    results = {kind: measure(kind, args.rounds) for kind in args.backends.split(",")}
    kinds = list(results)
    print(f"{'call':<16}" + "".join(f"{k + ' gas':>18}{k + ' ms':>16}" for k in kinds))
    for call in CALLS:
        row = f"{call:<16}"
        for kind in kinds:
            gas = results[kind].gas.get(call, [0])
            seconds = results[kind].seconds.get(call)
            ms = f"{1000 * statistics.median(seconds):.1f}" if seconds else "-"
            row += f"{statistics.median(gas):>18,.0f}{ms:>16}"
        print(row)
    print(
        f"(medians; {PARTICIPANTS} participants, {args.rounds} rounds, {DIRECT} direct commits a"
        " round; 'per update' = commitBatch gas / participants; finalizeRound before the last"
        " round; claims include the first of each bitmap word)"
    )


if __name__ == "__main__":
    main()
