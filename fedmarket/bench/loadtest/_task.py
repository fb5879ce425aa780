"""One task run by separate processes: a coordinator and N participants, on a JSON-RPC chain.

What ``tests/integration/fl_node/test_processes.py`` does, at any N: fresh keys for the sponsor,
the coordinator and each participant (each process gets only its own, through its environment),
gas from the chain's faucet and reward tokens minted by the deployer (the stakes, and the
sponsor's pool), ``fedmarket task create`` as the sponsor, then ``fedmarket coordinator`` and
``fedmarket participant`` processes that meet through nothing but the chain and the shared
content store, on a real-time schedule (:class:`TaskSchedule`: nobody travels in time).

The schedule grows with N: on a small machine the N processes start, train and commit on a few
shared cores, so the join and commit periods must leave room for all of them, and the
participants look at the chain less often when there are many of them (each look is a few
JSON-RPC calls and some Python: fifty processes polling every 0.3 s keep two cores busy by
themselves).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from eth_account.signers.local import LocalAccount

from chain import Deployment, RewardTokenClient, RpcBackend, fund, new_account, signer_for
from chain.fed_task import FedTaskClient, TaskJoinedEvent
from fedmarket.bench.loadtest._children import Child, Children
from fedmarket.bench.loadtest._data import PartySplit, run_cli
from kernel.errors import OperationTimeoutError, ServiceUnavailableError

TOKEN = 10**18
STAKE = TOKEN
POOL = 100 * TOKEN
GAS_WEI = 10**19
PSS_EVERY = 5
"""Read the processes' PSS every this many samples (every 10 s; RSS every 2 s)."""


@dataclass(frozen=True)
class TaskSchedule:
    """A task's real-time schedule and the participants' polling interval, in seconds.

    Parameters
    ----------
    commit_s : int
        Round open -> commit deadline (the reveal starts then: no inclusion period).
    reveal_s : int
        Reveal start -> reveal deadline.
    join_s : int
        Task creation -> round 1 must be open (every process must have started and joined).
    finalize_s : int
        Reveal deadline -> finalisation deadline (the coordinator's work, contributions first).
    challenge_s, cooldown_s : int
        Each round's challenge window; the stake cooldown after the last round.
    poll_s : float
        Seconds between two looks at the chain, for each participant.
    """

    commit_s: int
    reveal_s: int
    join_s: int
    finalize_s: int = 600
    challenge_s: int = 3
    cooldown_s: int = 2
    poll_s: float = 0.5

    @classmethod
    def for_parties(
        cls,
        parties: int,
        *,
        commit_s: int | None = None,
        reveal_s: int | None = None,
        poll_s: float | None = None,
    ) -> TaskSchedule:
        """The default schedule for ``parties`` participants on a small machine (or the given).

        Commit: 20 s plus 2.5 s per participant (145 s at 50): every participant trains at once
        when a round opens, and the first round costs each process about 2 s of CPU more than
        the others (its first optimiser imports ``torch._dynamo``); at 8 participants on two
        busy cores round 1's last commitment came 27 s after the opening, round 2's after 2 s.
        Reveal: 10 s plus 0.4 s each. Join: 60 s plus 8 s each (each start imports torch: about
        4 s of CPU). Poll: 0.05 s per participant, at least 0.5 s (2.5 s at 50).
        """
        return cls(
            commit_s=commit_s or math.ceil(20 + 2.5 * parties),
            reveal_s=reveal_s or math.ceil(10 + 0.4 * parties),
            join_s=math.ceil(60 + 8 * parties),
            poll_s=poll_s or max(0.5, 0.05 * parties),
        )

    def flags(self) -> list[str]:
        """``task create``'s schedule options."""
        periods = {
            "--join-period": self.join_s,
            "--commit-period": self.commit_s,
            "--inclusion-period": 0,
            "--reveal-period": self.reveal_s,
            "--finalize-period": self.finalize_s,
            "--challenge-period": self.challenge_s,
            "--open-period": 600,
            "--abort-grace": 600,
            "--stake-cooldown": self.cooldown_s,
        }
        return [arg for name, s in periods.items() for arg in (name, f"{s}s")]

    def longest_s(self, rounds: int) -> float:
        """How long the whole task may take before the bench gives up on it."""
        per_round = self.commit_s + self.reveal_s + self.finalize_s
        return self.join_s + rounds * per_round + self.challenge_s + self.cooldown_s + 120


@dataclass(frozen=True)
class ChainPlace:
    """Where a task runs: the node, the contracts and the shared content store."""

    rpc_url: str
    deployment_file: Path
    store_dir: Path


@dataclass(frozen=True)
class TaskProgress:
    """How far a task got, read from the chain."""

    joined: int
    finalized: int
    ended: bool


def _hex_key(account: LocalAccount) -> str:
    return "0x" + bytes(account.key).hex()


class ProcessTask:
    """A task, its sponsor's setup and its processes (see the module docstring).

    Parameters
    ----------
    place : ChainPlace
        The chain, the deployment and the store.
    split : PartySplit
        The parties' files and the spec (its rounds are the task's).
    schedule : TaskSchedule
        The task's periods.
    children : Children
        Where the processes are started (and stopped).
    name : str, default "task"
        Prefix of the processes' file names.
    """

    def __init__(
        self,
        place: ChainPlace,
        split: PartySplit,
        schedule: TaskSchedule,
        children: Children,
        name: str = "task",
    ) -> None:
        self.place = place
        self.split = split
        self.schedule = schedule
        self.children = children
        self.name = name
        self.backend = RpcBackend(place.rpc_url)
        self.deployment = Deployment.load(place.deployment_file)
        self.sponsor, self.coordinator = new_account(), new_account()
        self.accounts = [new_account() for _ in split.parties]
        self.task_id = 0
        self.coordinator_child: Child | None = None
        self.participant_children: list[Child] = []
        self._block_times: dict[int, int] = {}

    @property
    def parties(self) -> int:
        """Participants."""
        return len(self.accounts)

    def fed_task(self) -> FedTaskClient:
        """A read-only FedTask client."""
        return self.deployment.fed_task_client(self.backend)

    def _common(self) -> list[str]:
        place = self.place
        return ["--rpc", place.rpc_url, "--deployment", str(place.deployment_file),
                "--store", str(place.store_dir)]  # fmt: skip

    def create(self) -> int:
        """Fund every account, mint the stakes and the pool, create the task; its id."""
        faucet = self.backend.faucet_account()
        if faucet is None:
            raise ServiceUnavailableError("bench-load: the chain has no funded account")
        deployer = signer_for(self.backend, faucet)
        minter = RewardTokenClient(self.backend, self.deployment.token, deployer)
        for account in (self.sponsor, self.coordinator, *self.accounts):
            fund(self.backend, account.address, GAS_WEI)
            minter.mint(account.address, STAKE)
        minter.mint(self.sponsor.address, POOL)
        n = self.parties
        terms = [
            *("--quorum", str(max(1, n // 2)), "--participant-stake", str(STAKE)),
            *("--coordinator-stake", str(STAKE), "--slash-bps", "5000"),
            *self.schedule.flags(),
        ]
        out = run_cli(
            ["task", "create", *self._common(), "--spec", str(self.split.spec),
             "--coordinator", self.coordinator.address, "--pool", str(POOL),
             "--max-participants", str(n), *terms, "--key-env", "FEDMARKET_KEY"],
            env=_env_with_key(self.sponsor),
        )  # fmt: skip
        self.task_id = int(out.strip().splitlines()[-1])
        return self.task_id

    def launch(self) -> None:
        """Start the coordinator, then every participant (all at once)."""
        task = ["--task", str(self.task_id), "--key-env", "FEDMARKET_KEY"]
        join_timeout = str(self.schedule.join_s)
        self.coordinator_child = self.children.spawn(
            f"{self.name}-coordinator",
            ["coordinator", *self._common(), *task, "--participants", str(self.parties),
             "--validation", str(self.split.validation), "--test", str(self.split.test),
             "--join-timeout", join_timeout, "--poll", "0.5"],
            {"FEDMARKET_KEY": _hex_key(self.coordinator)},
        )  # fmt: skip
        for i, (account, data) in enumerate(zip(self.accounts, self.split.parties, strict=True)):
            child = self.children.spawn(
                f"{self.name}-participant-{i + 1:03d}",
                ["participant", *self._common(), *task, "--data", str(data),
                 "--poll", f"{self.schedule.poll_s:g}"],
                {"FEDMARKET_KEY": _hex_key(account)},
            )  # fmt: skip
            self.participant_children.append(child)

    def progress(self) -> TaskProgress:
        """Participants joined, rounds finalised, whether the task ended (from the chain)."""
        client = self.fed_task()
        info = client.task(self.task_id)
        finalized = int(info.last_round) - (1 if info.round_open else 0)
        return TaskProgress(len(client.participants(self.task_id)), finalized, info.status.ended)

    def processes(self) -> list[Child]:
        """The coordinator and the participants."""
        head = [self.coordinator_child] if self.coordinator_child is not None else []
        return head + self.participant_children

    def wait(self, on_tick: Callable[[TaskProgress], None], timeout: float) -> None:
        """Until every process exited; sample their memory and report progress meanwhile.

        Raises
        ------
        OperationTimeoutError
            When they are still running after ``timeout`` seconds (they are then stopped).
        """
        deadline = time.monotonic() + timeout
        mine = self.processes()
        ticks = 0
        while any(c.proc.poll() is None for c in mine):
            self.children.sample(pss=ticks % PSS_EVERY == 0)  # smaps_rollup: 3 ms a process
            ticks += 1
            on_tick(self.progress())
            coordinator = self.coordinator_child
            if coordinator is not None and coordinator.proc.poll() not in (None, 0):
                self.children.stop(mine)
                raise ServiceUnavailableError(
                    f"bench-load: the coordinator exited with {coordinator.proc.returncode}: "
                    f"...{coordinator.log_tail()}"
                )
            if time.monotonic() > deadline:
                self.children.stop(mine)
                raise OperationTimeoutError(f"bench-load: the task ran past {timeout:.0f} s")
            time.sleep(2.0)
        on_tick(self.progress())

    def joined_at(self) -> dict[str, int]:
        """``address -> timestamp`` of each participant's join (its block's)."""
        events = self.fed_task().events(TaskJoinedEvent, task_id=self.task_id)
        return {e.participant.lower(): self.block_time(e.meta.block) for e in events}

    def block_time(self, block: int) -> int:
        """The timestamp of ``block``."""
        if block not in self._block_times:
            self._block_times[block] = int(self.backend.w3.eth.get_block(block)["timestamp"])
        return self._block_times[block]


def _env_with_key(account: LocalAccount) -> dict[str, str]:
    return {**os.environ, "FEDMARKET_KEY": _hex_key(account)}


__all__ = ["ChainPlace", "ProcessTask", "TaskProgress", "TaskSchedule"]
