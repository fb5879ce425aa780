"""The pool benchmark's figures: rounds to accuracy per base model, and the linkage attack.

Per base model (:func:`model_figures`): its final accuracy under plain FedAvg (alone, every
participant every round), in the pool, and with fixed lineages; the *target* is that model's own
FedAvg final accuracy less :data:`TARGET_POINTS` points, and each run's rounds to the target
count task rounds (a pool round that did not draw the model still counts), with the updates the
model had aggregated by then. Convergence is the pool's :class:`ConvergenceRule`, in task rounds.

The pool runs twice, under the sponsor's loose convergence rule (``pool``) and under a strict one
(``strict``); each has its own rounds to convergence and acceptance decisions.

The linkage attack (:func:`linkage_figures`) runs :func:`fl_node.pool.linkage.run_linkage` on the
sightings of a real run, with the pool (random dealing, as specified or with every model drawn
every round) and without (fixed lineages), at each leak, over several seeds, on the views of
:data:`VIEWS`, each named by who sees it: ``none``, a chain watcher when commitments are batched
(the pool's default: it sees who submitted in which round, no per-participant commit time);
``time``, a chain watcher when each participant commits directly (each commit's time follows
its training time); ``bytes`` and ``time+bytes``, a reader of the content store's object sizes
(in plain mode that reader also reads each update's header, which names its base model's hash,
so it links every update by construction; issue 14 encrypts the store).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fedmarket.bench._pool_runs import Trace
from fl_node.pool.acceptance import PoolDecision
from fl_node.pool.convergence import ConvergenceRule, rounds_to_converge
from fl_node.pool.linkage import Sighting, run_linkage

TARGET_POINTS = 1.0
"""The target is a model's own FedAvg final accuracy less this many points."""

FEATURE_SETS: dict[str, tuple[int, ...]] = {
    "none": (),
    "time": (0,),
    "bytes": (1,),
    "time+bytes": (0, 1),
}
"""Which of a sighting's features ``(training seconds, update bytes)`` the attacker uses."""

VIEWS: dict[str, str] = {
    "none": "chain watcher, batched commits (default)",
    "time": "chain watcher, direct commits",
    "bytes": "store reader, object sizes (plain mode: 1.00 by headers)",
    "time+bytes": "store reader and direct commits (plain mode: 1.00)",
}
"""Who sees each view of :data:`FEATURE_SETS` (module docstring)."""


@dataclass(frozen=True)
class ModelFigures:
    """One base model's figures in one family of one dataset.

    Attributes
    ----------
    dataset, family : str
        Where it ran.
    model : int
        Its index in the family.
    name : str
        Its short name.
    target : float
        The accuracy the runs are timed to (FedAvg final less :data:`TARGET_POINTS` points).
    fedavg_accuracy, pool_accuracy, pool_all_accuracy, fixed_accuracy : float
        Final test accuracy alone (FedAvg), in the pool, in the pool that draws every model every
        round (``pool-all``: no convergence stops it), with fixed lineages.
    fedavg_to_target, pool_to_target, pool_all_to_target, fixed_to_target : int or None
        The task round at which each first reached ``target`` (``None``: never).
    fedavg_updates_to_target, pool_updates_to_target, pool_all_updates_to_target : int or None
        The updates it had aggregated by then (FedAvg, pool, pool-all).
    fixed_updates_to_target : int or None
        The same with fixed lineages.
    fedavg_converged, pool_converged : int or None
        The task round at which it converged under the pool's rule (``None``: never).
    pool_rounds_trained : int
        The pool rounds that drew it.
    pool_updates : int
        The updates it aggregated in the pool, in all.
    decision : str
        The pool's acceptance reason (``accepted``, ``not_converged``, ``duplicate``...).
    strict_accuracy : float
        Final test accuracy in the pool under the strict convergence rule.
    strict_to_target, strict_updates_to_target : int or None
        The task round at which it first reached ``target`` there, and its updates by then.
    fedavg_strict_converged, strict_converged : int or None
        The task round at which FedAvg's and the strict pool's traces met the strict rule.
    strict_rounds_trained : int
        The strict pool's rounds that drew it.
    strict_decision : str
        The strict pool's acceptance reason.
    """

    dataset: str
    family: str
    model: int
    name: str
    target: float
    fedavg_accuracy: float
    pool_accuracy: float
    pool_all_accuracy: float
    fixed_accuracy: float
    fedavg_to_target: int | None
    pool_to_target: int | None
    pool_all_to_target: int | None
    fixed_to_target: int | None
    fedavg_updates_to_target: int | None
    pool_updates_to_target: int | None
    pool_all_updates_to_target: int | None
    fixed_updates_to_target: int | None
    fedavg_converged: int | None
    pool_converged: int | None
    pool_rounds_trained: int
    pool_updates: int
    decision: str
    strict_accuracy: float
    strict_to_target: int | None
    strict_updates_to_target: int | None
    fedavg_strict_converged: int | None
    strict_converged: int | None
    strict_rounds_trained: int
    strict_decision: str


@dataclass(frozen=True)
class LinkageFigures:
    """The attack on one run's sightings at one leak, over seeds.

    Attributes
    ----------
    dataset, family : str
        Where the run was.
    lineage : str
        ``pool`` (random dealing; converged models leave the draw, but for cover), ``pool-all``
        (every model drawn every round) or ``fixed`` (participant ``i`` on model ``i mod K``).
    features : str
        The view: the side channels used (a key of :data:`FEATURE_SETS` and :data:`VIEWS`).
    leak : float
        The fraction of openings leaked.
    success, success_min, success_max : float
        Mean, least and most success over the seeds.
    chance : float
        Mean chance over the seeds (guessing among the round's drawn models).
    targets : int
        Unrevealed sightings scored per seed.
    strategies : str
        How often each cascade was chosen (``lineage 3, features 2``).
    """

    dataset: str
    family: str
    lineage: str
    features: str
    leak: float
    success: float
    success_min: float
    success_max: float
    chance: float
    targets: int
    strategies: str


@dataclass(frozen=True)
class SizeFigures:
    """The side channels of one base model's updates in the pool run.

    The sizes are what a reader of the content store sees; the training time is what a chain
    watcher sees through commit times when commitments are direct (not batched).

    Attributes
    ----------
    dataset, family : str
        Where it ran.
    model : int
        The base model.
    name : str
        Its short name.
    bytes_min, bytes_max : int
        The smallest and largest update it received.
    seconds_median : float
        The median local training time.
    """

    dataset: str
    family: str
    model: int
    name: str
    bytes_min: int
    bytes_max: int
    seconds_median: float


def to_target(trace: Trace, target: float) -> tuple[int | None, int | None]:
    """The first task round at which ``trace`` reached accuracy ``target``, and its updates.

    The updates are those aggregated into the model up to that round; ``(None, None)`` when it
    never reached ``target``.
    """
    total = 0
    for round_, error, updates in zip(trace.rounds, trace.errors, trace.updates, strict=True):
        total += updates
        if 1.0 - error >= target - 1e-12:
            return round_, total
    return None, None


def converged_round(trace: Trace, rule: ConvergenceRule) -> int | None:
    """The task round at which ``trace`` converged under ``rule`` (``None``: never)."""
    own = rounds_to_converge(trace.errors, rule)
    return None if own is None else trace.rounds[own - 1]


def _final(trace: Trace) -> float:
    return 1.0 - trace.errors[-1] if trace.errors else 0.0


@dataclass(frozen=True)
class PoolTraces:
    """Per base model, its trace in each run of one family.

    Attributes
    ----------
    fedavg, pool, strict, pool_all, fixed : sequence of Trace
        FedAvg alone, the pool under the loose and the strict rule, pool-all, fixed lineages.
    """

    fedavg: Sequence[Trace]
    pool: Sequence[Trace]
    strict: Sequence[Trace]
    pool_all: Sequence[Trace]
    fixed: Sequence[Trace]


def model_figures(
    where: tuple[str, str],
    names: Sequence[str],
    traces: PoolTraces,
    decisions: tuple[Sequence[PoolDecision], Sequence[PoolDecision]],
    rules: tuple[ConvergenceRule, ConvergenceRule],
) -> list[ModelFigures]:
    """Every base model's figures.

    Parameters
    ----------
    where : (str, str)
        The dataset and the family.
    names : sequence of str
        The base models' names.
    traces : PoolTraces
        Per base model, in each run.
    decisions : (sequence of PoolDecision, sequence of PoolDecision)
        The pool's acceptance decisions under the loose and the strict rule.
    rules : (ConvergenceRule, ConvergenceRule)
        The loose and the strict convergence rule.
    """
    return [_model(where, k, name, traces, decisions, rules) for k, name in enumerate(names)]


def _model(
    where: tuple[str, str],
    k: int,
    name: str,
    t: PoolTraces,
    decisions: tuple[Sequence[PoolDecision], Sequence[PoolDecision]],
    rules: tuple[ConvergenceRule, ConvergenceRule],
) -> ModelFigures:
    """Base model ``k``'s figures (:func:`model_figures`)."""
    target = _final(t.fedavg[k]) - TARGET_POINTS / 100
    runs = (t.fedavg[k], t.pool[k], t.pool_all[k], t.fixed[k], t.strict[k])
    reached = [to_target(trace, target) for trace in runs]
    return ModelFigures(
        dataset=where[0],
        family=where[1],
        model=k,
        name=name,
        target=target,
        fedavg_accuracy=_final(t.fedavg[k]),
        pool_accuracy=_final(t.pool[k]),
        pool_all_accuracy=_final(t.pool_all[k]),
        fixed_accuracy=_final(t.fixed[k]),
        fedavg_to_target=reached[0][0],
        pool_to_target=reached[1][0],
        pool_all_to_target=reached[2][0],
        fixed_to_target=reached[3][0],
        fedavg_updates_to_target=reached[0][1],
        pool_updates_to_target=reached[1][1],
        pool_all_updates_to_target=reached[2][1],
        fixed_updates_to_target=reached[3][1],
        fedavg_converged=converged_round(t.fedavg[k], rules[0]),
        pool_converged=converged_round(t.pool[k], rules[0]),
        pool_rounds_trained=len(t.pool[k].rounds),
        pool_updates=sum(t.pool[k].updates),
        decision=decisions[0][k].reason,
        strict_accuracy=_final(t.strict[k]),
        strict_to_target=reached[4][0],
        strict_updates_to_target=reached[4][1],
        fedavg_strict_converged=converged_round(t.fedavg[k], rules[1]),
        strict_converged=converged_round(t.strict[k], rules[1]),
        strict_rounds_trained=len(t.strict[k].rounds),
        strict_decision=decisions[1][k].reason,
    )


def project(sightings: Sequence[Sighting], features: str) -> list[Sighting]:
    """``sightings`` with only the side channels of ``features`` (a key of FEATURE_SETS)."""
    keep = FEATURE_SETS[features]
    return [
        Sighting(s.participant, s.round, s.model, tuple(s.features[i] for i in keep))
        for s in sightings
    ]


def linkage_figures(
    where: tuple[str, str, str],
    sightings: Sequence[Sighting],
    leaks: Sequence[float],
    seeds: Sequence[int],
) -> list[LinkageFigures]:
    """The attack on ``sightings`` for every feature set and leak, over ``seeds``.

    Parameters
    ----------
    where : (str, str, str)
        The dataset, the family and the lineage (``pool``, ``pool-all`` or ``fixed``).
    sightings : sequence of Sighting
        A real run's sightings (features ``(training seconds, update bytes)``).
    leaks : sequence of float
        The fractions of openings leaked.
    seeds : sequence of int
        The attack's seeds (which openings leak, tie-breaks).
    """
    out = []
    for features in FEATURE_SETS:
        view = project(sightings, features)
        for leak in leaks:
            results = [run_linkage(view, leak, seed) for seed in seeds]
            success = [r.success for r in results]
            chosen = Counter(r.strategy for r in results)
            out.append(
                LinkageFigures(
                    dataset=where[0],
                    family=where[1],
                    lineage=where[2],
                    features=features,
                    leak=leak,
                    success=float(np.mean(success)),
                    success_min=min(success),
                    success_max=max(success),
                    chance=float(np.mean([r.chance for r in results])),
                    targets=results[0].n,
                    strategies=", ".join(f"{k} {v}" for k, v in sorted(chosen.items())),
                )
            )
    return out


def size_figures(
    where: tuple[str, str], names: Sequence[str], sightings: Sequence[Sighting]
) -> list[SizeFigures]:
    """Per base model, the update sizes and median training time the pool's sightings show."""
    out = []
    for k, name in enumerate(names):
        mine = [s for s in sightings if s.model == k]
        sizes = [int(s.features[1]) for s in mine] or [0]
        seconds = [s.features[0] for s in mine] or [0.0]
        out.append(
            SizeFigures(
                where[0], where[1], k, name, min(sizes), max(sizes), float(np.median(seconds))
            )
        )
    return out


__all__ = [
    "FEATURE_SETS",
    "TARGET_POINTS",
    "VIEWS",
    "LinkageFigures",
    "ModelFigures",
    "PoolTraces",
    "SizeFigures",
    "converged_round",
    "linkage_figures",
    "model_figures",
    "project",
    "size_figures",
    "to_target",
]
