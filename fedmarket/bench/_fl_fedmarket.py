"""fedmarket's runs in the federated benchmark: the full protocol, as the demo runs it.

One world per run: the contracts deployed, a funded key per party, the sponsor's task escrowed,
ten participants joined with their stakes and the coordinator staked. Each round the coordinator
opens it on-chain, the participants train and post signed commitments to the mailbox, the
coordinator anchors the batch, the participants reveal, the coordinator checks every update,
aggregates, measures leave-one-out contributions, stores the model and the evidence and finalises
on-chain. Each participant claims its rewards of every round in one ``claimMany`` once the last
round's window passed (``claim_min_rounds``: the gas-saving choice), and everyone takes their
stake back. Every update is anchored on the chain.

:class:`ChainTrace` counts the JSON-RPC requests the run makes (``eth_call`` by the function it
reads) and the time they take, so the profile says where a round's time goes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chain import ChainBackend, demo_account, provision
from chain.artifacts import CONTRACT_NAMES, load_artifact
from fedmarket.bench._fl_systems import SystemResult
from fedmarket.bench._fl_task import BenchTask
from fedmarket.demo.world import (
    TOKEN,
    World,
    demo_roles,
    make_coordinator,
    make_participants,
    sponsor_task,
    step_all,
)
from fl_node.coordinator import RoundReport
from fl_node.mailbox import InMemoryMailbox
from fl_node.models import trainable_state
from storage import LocalCidStore

log = logging.getLogger(__name__)

POOL = 300 * TOKEN
"""The sponsor's reward pool."""


def _selectors() -> dict[str, str]:
    """``0x<selector> -> Contract.function`` over every contract's ABI."""
    from eth_utils.abi import function_abi_to_4byte_selector

    names: dict[str, str] = {}
    for contract in CONTRACT_NAMES:
        for entry in load_artifact(contract).abi:
            if entry.get("type") == "function":
                selector = "0x" + function_abi_to_4byte_selector(entry).hex()  # type: ignore[arg-type]
                names.setdefault(selector, f"{contract}.{entry['name']}")
    return names


class ChainTrace:
    """Counts a backend's JSON-RPC requests and the seconds they take.

    Parameters
    ----------
    backend : ChainBackend
        The chain whose provider is wrapped (from :meth:`install` on).
    """

    def __init__(self, backend: ChainBackend) -> None:
        self.backend = backend
        self.counts: Counter[str] = Counter()
        self.seconds: dict[str, float] = {}
        self._names = _selectors()
        self._lock = threading.Lock()

    def _key(self, method: str, params: Any) -> str:
        if method in ("eth_call", "eth_estimateGas") and params and isinstance(params[0], dict):
            data = str(params[0].get("data") or params[0].get("input") or "")[:10]
            return f"{method} {self._names.get(data, data)}"
        return method

    def install(self) -> ChainTrace:
        """Wrap the provider's ``make_request`` (web3 rebuilds its request chain over it)."""
        provider: Any = self.backend.w3.provider
        inner: Callable[[Any, Any], Any] = provider.make_request

        def counted(method: Any, params: Any) -> Any:
            started = time.perf_counter()
            try:
                return inner(method, params)
            finally:
                key = self._key(str(method), params)
                with self._lock:
                    self.counts[key] += 1
                    self.seconds[key] = self.seconds.get(key, 0.0) + time.perf_counter() - started

        provider.make_request = counted
        provider._request_func_cache = (None, None)
        return self

    def snapshot(self) -> tuple[Counter[str], dict[str, float]]:
        """Copies of the counts and seconds so far."""
        with self._lock:
            return Counter(self.counts), dict(self.seconds)


def _world(task: BenchTask, backend: ChainBackend, store_dir: Path) -> World:
    """The contracts, a funded key per party, the clients' shares (as the demo's hospitals)."""
    roles = demo_roles(task.clients)
    parties = provision(backend, roles, new_key=lambda role: demo_account(2024, role))
    return World(
        parties=parties,
        store=LocalCidStore(store_dir),
        split=task.split,
        names={parties.address(r): r for r in roles},
        mailbox=InMemoryMailbox(clock=backend.chain_time),
    )


def run_fedmarket(
    task: BenchTask,
    backend: ChainBackend,
    store_dir: Path,
    *,
    system: str,
    trace: bool = True,
) -> SystemResult:
    """The task on fedmarket over ``backend``: deploy, sponsor, join, every round, settle.

    Parameters
    ----------
    task : BenchTask
        The task.
    backend : ChainBackend
        A fresh chain (in-process or a dev node) with a faucet.
    store_dir : Path
        An empty folder for the content store.
    system : str
        Its name in the table.
    trace : bool, default True
        Count the JSON-RPC requests (:class:`ChainTrace`) and report them per round.
    """
    started = time.perf_counter()
    tracer = ChainTrace(backend).install() if trace else None
    world = _world(task, backend, store_dir)
    world.mint(world.sponsor, POOL)
    task_id = sponsor_task(world, task.spec, pool=POOL, max_participants=task.clients)
    nodes = make_participants(world, task_id, claim_min_rounds=task.rounds)
    coordinator = make_coordinator(world, task_id)
    ends: list[float] = []
    marks: list[tuple[Counter[str], dict[str, float]]] = []

    def on_round(report: RoundReport) -> None:
        ends.append(time.perf_counter())
        if tracer is not None:
            marks.append(tracer.snapshot())

    reports = coordinator.run(between=step_all(nodes, task_id), on_round=on_round, settle=True)
    ended = time.perf_counter()
    assert coordinator.model is not None
    return SystemResult(
        system,
        started,
        ended,
        tuple(ends),
        float(getattr(reports[-1].test, "accuracy", float("nan"))),
        trainable_state(coordinator.model),
        counts=_per_round(marks),
    )


def _per_round(marks: list[tuple[Counter[str], dict[str, float]]]) -> dict[str, float]:
    """Requests per round and their ms per round, over rounds 2 to the last.

    Keys are ``"<request>"`` (count per round) and ``"<request> ms"`` (milliseconds per round).
    """
    if len(marks) < 2:
        return {}
    (c0, s0), (c1, s1) = marks[0], marks[-1]
    rounds = len(marks) - 1
    out: dict[str, float] = {}
    for key in c1:
        out[key] = (c1[key] - c0[key]) / rounds
        out[f"{key} ms"] = 1000 * (s1[key] - s0.get(key, 0.0)) / rounds
    return out
