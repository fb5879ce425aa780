"""Part 2: the coordinator's time per round through the Flower interop path, at 10, 50, 100 nodes.

For each size N: an anvil node, the demo's parties (:func:`fedmarket.demo.build_world`: a
sponsor, a coordinator and N participants with their own keys), the rows split over N parties and
the task designed on them (:mod:`fedmarket.bench.loadtest._data`), the task created with the
demo's stakes and every participant joined with its stake. Then Flower runs the rounds: its
``FedAvg`` wrapped in :class:`fl_node.flower.AnchoredStrategy` (timed:
:mod:`fedmarket.bench.loadtest._flower_app`) over N nodes whose ClientApp trains on the node's
rows and signs its update (:func:`fl_node.flower.anchor_train`). The engine is

- ``ray``: Flower's simulation engine (``flwr.simulation.run_simulation``, a Ray instance of its
  own with 2 CPUs, one per client: two clients train at a time), or
- ``inprocess``: :class:`fedmarket.bench.loadtest._grid.InProcessGrid`, every ClientApp called in
  this process in turn (no Ray, no serialisation between processes; see that module).

Either way the strategy and the coordinator are the real code, and the coordinator moves the dev
chain's clock to each deadline instead of waiting. The contribution estimator is the spec's
(``shapley-gtg`` by default: Monte-Carlo permutations with truncation, never the exponential exact
Shapley, which the incentives package refuses above 16 participants); how many coalitions it
evaluated each round, and the evidence document that records each coalition's utility, are
reported with the times.
"""

from __future__ import annotations

import importlib.util
import logging
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from chain import DevNode, RpcBackend
from fedmarket.bench.loadtest._data import PartySplit, prepare_split
from fedmarket.demo import TOKEN, build_world, make_participants, sponsor_task
from fedmarket.demo.world import DEMO_TERMS, World, hospital_roles
from fl_node.data import FederatedSplit
from fl_node.task import TaskSpec
from incentives import make_estimator
from kernel.errors import InvalidInputError, ServiceUnavailableError

if TYPE_CHECKING:  # flwr is the optional "flower" extra: imported when part 2 runs
    from fedmarket.bench.loadtest._flower_app import ClientSetup, TimedCoordinator

log = logging.getLogger(__name__)

ENGINES = ("ray", "inprocess")
POOL = 100 * TOKEN
SEED = 2026
RAY_BACKEND: dict[str, Any] = {
    "client_resources": {"num_cpus": 1, "num_gpus": 0.0},
    # a Ray instance of its own, even where another process runs one ("local")
    "init_args": {"address": "local", "num_cpus": 2, "include_dashboard": False},
}


@dataclass(frozen=True)
class FlowerOptions:
    """Part 2's sizes.

    Parameters
    ----------
    sizes : tuple of int
        Participants (Flower nodes) of each run.
    rounds : int
        Rounds of each run.
    engine : {"ray", "inprocess"}
        Flower's simulation engine, or the in-process grid.
    """

    sizes: tuple[int, ...] = (10, 50, 100)
    rounds: int = 2
    engine: str = "ray"


@dataclass(frozen=True)
class FlowerRound:
    """One round's seconds by phase (see :mod:`fedmarket.bench.loadtest._flower_app`)."""

    round: int
    open_s: float
    clients_s: float
    anchor_s: float
    finalize_s: float
    aggregate_s: float
    contributions_s: float
    accepted: int
    coalitions: int
    evidence_kb: float

    @property
    def coordinator_s(self) -> float:
        """The coordinator's seconds: open, anchor and finalise (not the clients')."""
        return self.open_s + self.anchor_s + self.finalize_s


@dataclass(frozen=True)
class FlowerSize:
    """One size's run.

    Parameters
    ----------
    participants : int
        Nodes.
    engine : str
        How the nodes ran.
    rounds : tuple of FlowerRound
        Each finalised round.
    rounds_asked : int
        Rounds Flower was asked to run.
    setup_s : float
        Deploying, funding, creating the task and joining every participant.
    estimator : str
        The contribution estimator and its parameters.
    """

    participants: int
    engine: str
    rounds: tuple[FlowerRound, ...]
    rounds_asked: int
    setup_s: float
    estimator: str

    @property
    def complete(self) -> bool:
        """Every round finalised with every participant's update accepted."""
        return len(self.rounds) == self.rounds_asked and all(
            r.accepted == self.participants for r in self.rounds
        )

    def mean(self, phase: Callable[[FlowerRound], float]) -> float:
        """The mean of ``phase`` over the rounds (0 without rounds)."""
        return statistics.fmean(phase(r) for r in self.rounds) if self.rounds else 0.0


def _world(rpc_url: str, split: PartySplit, spec: TaskSpec, store: Path) -> tuple[World, int]:
    """The parties with the split's rows, the task created and every participant joined."""
    parties = FederatedSplit(
        feature_names=tuple(spec.feature_names),
        hospitals=tuple(spec.load_data(p, name=p.stem) for p in split.parties),
        validation=spec.load_data(split.validation, name="validation"),
        test=spec.load_data(split.test, name="test"),
    )
    world = build_world(store, backend=RpcBackend(rpc_url), seed=SEED, split=parties)
    world.mint(world.sponsor, POOL)
    n = len(split.parties)
    terms = replace(DEMO_TERMS, quorum=1)
    task_id = sponsor_task(world, spec, pool=POOL, max_participants=n, terms=terms)
    make_participants(world, task_id, batched=True)
    return world, task_id


def _simulate(setup: ClientSetup, coordinator: TimedCoordinator, n: int, rounds: int) -> None:
    """The rounds on Flower's simulation engine (Ray)."""
    from flwr.simulation import run_simulation

    from fedmarket.bench.loadtest._flower_app import TimedStrategy, make_client_app, make_server_app

    finished: list[TimedStrategy] = []
    run_simulation(
        server_app=make_server_app(coordinator, n, rounds, finished.append),
        client_app=make_client_app(setup),
        num_supernodes=n,
        backend_config=RAY_BACKEND,
    )
    if not finished:
        raise ServiceUnavailableError(
            f"bench-load: Flower's simulation of {n} nodes ended without finishing its rounds"
        )


def _rounds(coordinator: TimedCoordinator, world: World) -> tuple[FlowerRound, ...]:
    found = []
    for report in coordinator.reports:
        phases = coordinator.clock.rounds.get(report.round, {})
        found.append(
            FlowerRound(
                round=report.round,
                open_s=phases.get("open", 0.0),
                clients_s=phases.get("clients", 0.0),
                anchor_s=phases.get("anchor", 0.0),
                finalize_s=phases.get("finalize", 0.0),
                aggregate_s=phases.get("aggregate", 0.0),
                contributions_s=phases.get("contributions", 0.0),
                accepted=report.accepted,
                coalitions=len(report.utilities),
                evidence_kb=len(world.store.get(report.evidence_cid)) / 1024,
            )
        )
    return tuple(found)


def run_size(n: int, options: FlowerOptions, work: Path) -> FlowerSize:
    """One run of ``n`` nodes (see the module docstring), its files in ``work``."""
    from fedmarket.bench.loadtest._flower_app import (
        ClientSetup,
        TimedCoordinator,
        make_client_app,
        serve,
    )
    from fedmarket.bench.loadtest._grid import InProcessGrid

    split = prepare_split(work / f"flower-{n}", n, options.rounds)
    spec = TaskSpec.from_bytes(split.spec.read_bytes())
    estimator = make_estimator(spec.contribution)
    with DevNode("anvil") as node:
        started = time.perf_counter()
        world, task_id = _world(node.url, split, spec, work / f"flower-{n}" / "store")
        coordinator = TimedCoordinator(
            signer=world.coordinator, fed_task=world.fed_task(), store=world.store,
            validation=world.split.validation, test=world.split.test, travel=True,
        )  # fmt: skip
        coordinator.attach(task_id)
        setup_s = time.perf_counter() - started
        keys = ["0x" + bytes(world.accounts[r].key).hex() for r in hospital_roles(n)]
        setup = ClientSetup(split.spec.read_bytes(), tuple(map(str, split.parties)), tuple(keys))
        if options.engine == "inprocess":
            serve(InProcessGrid(make_client_app(setup), n), coordinator, n, options.rounds)
        else:
            _simulate(setup, coordinator, n, options.rounds)
        rounds = _rounds(coordinator, world)
    params = ", ".join(f"{k}={v:g}" for k, v in estimator.params().items())
    described = f"{spec.contribution} ({params})"
    return FlowerSize(n, options.engine, rounds, options.rounds, setup_s, described)


def run_flower(options: FlowerOptions, console: Console, work: Path) -> tuple[FlowerSize, ...]:
    """Every size of part 2, smallest first.

    Parameters
    ----------
    options : FlowerOptions
        Sizes, rounds, engine.
    console : Console
        Where each size's line goes as it ends.
    work : Path
        Where the files go.
    """
    if options.engine not in ENGINES:
        raise InvalidInputError(f"--flower-engine: {options.engine!r} is not one of {ENGINES}")
    if importlib.util.find_spec("flwr") is None:
        raise ServiceUnavailableError(
            "bench-load: Flower is not installed (pip install -e '.[flower]'; scripts/setup does)"
        )
    found = []
    for n in sorted(options.sizes):
        with console.status(f"flower: {n} nodes, {options.rounds} rounds ({options.engine})"):
            size = run_size(n, options, work)
        console.print(
            f"[dim]flower: {n} nodes: coordinator {size.mean(lambda r: r.coordinator_s):.2f} s "
            f"per round[/dim]",
            highlight=False,
        )
        found.append(size)
    return tuple(found)


__all__ = ["ENGINES", "FlowerOptions", "FlowerRound", "FlowerSize", "run_flower", "run_size"]
