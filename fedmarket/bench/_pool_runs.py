"""The pool benchmark's three ways of training the same base models on the same participants.

- :func:`run_pool`: the pool task itself (:class:`fl_node.pool.run.PoolRunner` on an
  :class:`~fl_node.pool.ledger.OffChainLedger`): each round draws base models among those not yet
  converged and deals the participants to them at random;
- :func:`run_fixed`: fixed lineages, every round every base model, participant ``i`` always
  training base model ``i mod K`` (no pool: what a chain watcher can link);
- :func:`run_fedavg`: one base model alone, every participant every round (plain FedAvg).

The last two run the pool's own lane code (:func:`fl_node.pool.lanes.train_on_lane` and
:func:`~fl_node.pool.lanes.aggregate_lane`: the same local training, update bytes, FedAvg and test
error), so the three differ only in who trains what; every run records, per base model, its test
error after each task round it trained in (:class:`Trace`), and the fixed run records the same
:class:`~fl_node.pool.linkage.Sighting` per submission as the pool (training seconds, update
bytes).
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from fedmarket.bench._pool_data import PoolData
from fl_node.models import ModelSpec
from fl_node.pool.acceptance import AcceptanceRule
from fl_node.pool.assignment import seed_commitment
from fl_node.pool.convergence import ConvergenceRule
from fl_node.pool.lanes import Lane, LaneRound, aggregate_lane, train_on_lane
from fl_node.pool.ledger import OffChainLedger
from fl_node.pool.linkage import Sighting
from fl_node.pool.run import PoolParty, PoolResult, PoolRunner
from fl_node.pool.spec import DrawRule, PoolSpec
from fl_node.serialization import UpdateMeta
from storage import LocalCidStore, content_hash

log = logging.getLogger(__name__)

ESTIMATOR = "leave-one-out"
"""The contribution estimator every run measures with (as the pool task does)."""


@dataclass(frozen=True)
class Trace:
    """A base model's history in one run.

    Attributes
    ----------
    rounds : tuple of int
        The task rounds it trained in, ascending.
    errors : tuple of float
        Its test error (1 - accuracy) after each of them.
    updates : tuple of int
        The updates aggregated into it in each of them.
    """

    rounds: tuple[int, ...]
    errors: tuple[float, ...]
    updates: tuple[int, ...]


@dataclass(frozen=True)
class LaneRun:
    """A run without the pool: every base model's trace and every submission's sighting.

    Attributes
    ----------
    traces : tuple of Trace
        Per base model.
    sightings : tuple of Sighting
        Per (participant, round), features ``(training seconds, update bytes)``.
    seconds : float
        Wall time.
    """

    traces: tuple[Trace, ...]
    sightings: tuple[Sighting, ...]
    seconds: float


@dataclass(frozen=True)
class PoolRun:
    """A pool run: the runner's result and every base model's trace.

    Attributes
    ----------
    result : PoolResult
        What :meth:`PoolRunner.run` returned (decisions, sightings, convergence).
    traces : tuple of Trace
        Per base model, read from the rounds' lanes.
    seconds : float
        Wall time.
    """

    result: PoolResult
    traces: tuple[Trace, ...]
    seconds: float


def addresses(n: int) -> tuple[str, ...]:
    """The benchmark's participant addresses, ``0x..01`` to ``0x..n``."""
    return tuple(f"0x{i + 1:040x}" for i in range(n))


def _hex(raw: bytes) -> str:
    return "0x" + raw.hex()


def _train_round(
    lanes: Sequence[Lane], data: PoolData, lineage: Sequence[int], round_: int
) -> tuple[list[LaneRound], list[Sighting]]:
    """One round without the pool: each participant trains its lane, each lane aggregates."""
    hashes = {lane.index: bytes(content_hash(lane.blob(0, round_ - 1))) for lane in lanes}
    updates, sightings = [], []
    for who, party, index in zip(addresses(len(data.parties)), data.parties, lineage, strict=True):
        lane = lanes[index]
        meta = UpdateMeta(0, round_, who, _hex(hashes[index]), party.rows, 0.0, "fedavg")
        update = train_on_lane(lane, party, data.train, meta)
        updates.append(update)
        sightings.append(Sighting(who, round_, index, (update.seconds, float(len(update.blob)))))
    aggregated = [
        aggregate_lane(
            lane,
            [u for u in updates if u.lane == lane.index],
            round_=round_,
            model_hash=hashes[lane.index],
            estimator=ESTIMATOR,
            validation=data.validation,
            test=data.test,
        )
        for lane in lanes
        if lane.index in set(lineage)
    ]
    return aggregated, sightings


def _traces(n_models: int, rounds: Sequence[Sequence[LaneRound]], at: Sequence[int]) -> list[Trace]:
    """Per base model, its trace from each round's aggregations (``at``: the task rounds)."""
    seen: list[list[tuple[int, float, int]]] = [[] for _ in range(n_models)]
    for round_, lanes in zip(at, rounds, strict=True):
        for lr in lanes:
            seen[lr.lane].append((round_, lr.test_error, len(lr.members)))
    return [
        Trace(tuple(r for r, _, _ in s), tuple(e for _, e, _ in s), tuple(u for _, _, u in s))
        for s in seen
    ]


def run_fixed(
    data: PoolData, models: Sequence[ModelSpec], lineage: Sequence[int], rounds: int
) -> LaneRun:
    """Train ``models`` for ``rounds`` rounds, participant ``i`` always on ``lineage[i]``.

    Parameters
    ----------
    data : PoolData
        The participants, validation and test rows.
    models : sequence of ModelSpec
        The base models.
    lineage : sequence of int
        Each participant's base model (one per party).
    rounds : int
        Rounds.
    """
    started = time.perf_counter()
    lanes = [Lane.start(i, m) for i, m in enumerate(models)]
    history: list[list[LaneRound]] = []
    sightings: list[Sighting] = []
    for round_ in range(1, rounds + 1):
        aggregated, seen = _train_round(lanes, data, lineage, round_)
        history.append(aggregated)
        sightings += seen
    traces = _traces(len(models), history, range(1, rounds + 1))
    return LaneRun(tuple(traces), tuple(sightings), time.perf_counter() - started)


def fixed_lineage(n_parties: int, n_models: int) -> tuple[int, ...]:
    """Participant ``i`` on base model ``i mod n_models``."""
    return tuple(i % n_models for i in range(n_parties))


def run_fedavg(data: PoolData, model: ModelSpec, rounds: int) -> Trace:
    """Plain FedAvg of ``model`` alone: every participant every round."""
    return run_fixed(data, (model,), (0,) * len(data.parties), rounds).traces[0]


def pool_spec(
    data: PoolData,
    models: Sequence[ModelSpec],
    rounds: int,
    rule: ConvergenceRule,
    secret: bytes,
    draw: DrawRule | None = None,
    acceptance: AcceptanceRule | None = None,
) -> PoolSpec:
    """The pool task of the benchmark: leave-one-out; ``draw``, ``acceptance`` or the defaults."""
    return PoolSpec(
        name=f"bench-pool-{data.name}",
        base_models=tuple(models),
        train=data.train,
        rounds=rounds,
        convergence=rule,
        acceptance=acceptance or AcceptanceRule(),
        seed_commitment=_hex(seed_commitment(secret)),
        draw=draw or DrawRule(),
        contribution=ESTIMATOR,
        feature_names=data.feature_names,
    )


def run_pool(
    data: PoolData,
    models: Sequence[ModelSpec],
    rounds: int,
    rule: ConvergenceRule,
    seed: int = 0,
    draw: DrawRule | None = None,
    acceptance: AcceptanceRule | None = None,
) -> PoolRun:
    """Run the pool task on ``data`` off chain (the draw secret is derived from ``seed``).

    Parameters
    ----------
    data : PoolData
        The participants, validation and test rows.
    models : sequence of ModelSpec
        The base models.
    rounds : int
        Rounds of the task.
    rule : ConvergenceRule
        When a base model has converged (it is then no longer drawn).
    seed : int, default 0
        Seed of the draw secret.
    draw : DrawRule or None, default None
        How many models a round draws; ``None``: the default (2 to all pending, converged models
        drawn again as cover when fewer than 2 are pending).
    acceptance : AcceptanceRule or None, default None
        Which converged models enter the shared pool; ``None``: the default.
    """
    started = time.perf_counter()
    secret = f"bench-pool-secret-{seed:014d}".encode().ljust(32, b"\0")
    spec = pool_spec(data, models, rounds, rule, secret, draw, acceptance)
    with tempfile.TemporaryDirectory(prefix="bench-pool-") as tmp:
        store = LocalCidStore(Path(tmp))
        ledger = OffChainLedger(addresses(len(data.parties)), store)
        parties = [PoolParty(a, d) for a, d in zip(ledger.participants, data.parties, strict=True)]
        result = PoolRunner(spec, parties, data.validation, data.test, secret, ledger, store).run()
    rounds_seen = [r.lanes for r in result.rounds]
    traces = _traces(len(models), rounds_seen, [r.round for r in result.rounds])
    return PoolRun(result, tuple(traces), time.perf_counter() - started)


__all__ = [
    "ESTIMATOR",
    "LaneRun",
    "PoolRun",
    "Trace",
    "addresses",
    "fixed_lineage",
    "pool_spec",
    "run_fedavg",
    "run_fixed",
    "run_pool",
]
