"""Model sharing pool benchmark: ``scripts/bench-pool``.

Run it as::

    scripts/bench-pool                 # digits (10 clients) and heart (4 hospitals), 20 rounds
    scripts/bench-pool --quick         # digits over 6 clients, 4 rounds: a smoke run (seconds)
    scripts/bench-pool --dataset digits --rounds 10 --out figures.json

(``python -m fedmarket.bench.pool ...`` is the same.) Heart needs ``$FEDMARKET_DATA_DIR`` to hold
``heart_disease_uci``; digits is scikit-learn's bundled copy. Nothing is downloaded and no chain
runs (:class:`fl_node.pool.ledger.OffChainLedger`): it measures training and what the draw hides.

For each dataset (:mod:`fedmarket.bench._pool_data`) and each family of base models (``mixed``:
two initialisations of the MLP, a wider MLP, a linear model; ``same-arch``: three
initialisations of the MLP; ``graded``: ``mixed`` and an MLP with 2 hidden units, at most three
accepted) it runs, on the same label-skewed participants and the same local training
(:mod:`fedmarket.bench._pool_runs`):

- the pool task under the sponsor's loose convergence rule (:data:`RULES`) and under a strict one
  (:data:`STRICT_RULES`): each round draws 2 to K base models among those not yet converged
  (converged ones are drawn again as cover when fewer than 2 remain) and deals every participant
  to one at random; the task stops training once every model has converged;
- ``pool-all``: every round draws every base model (``DrawRule(min_models=K)``, and a
  convergence rule no run meets) and deals the participants to them at random: the same work per
  model as fixed lineages, so it tells the cost of random dealing from the cost of stopping
  converged models, and its linkage chance is ``1 / K`` as with fixed lineages;
- fixed lineages: every round every base model, participant ``i`` on model ``i mod K``;
- plain FedAvg of each base model alone on every participant every round.

It prints, per base model, final accuracy and rounds (and updates) to reach its own FedAvg final
accuracy less one point, convergence under both rules and the pool's acceptance decisions; the
accepted and eliminated models (with the reason) per dataset and family; what the pool costs in
rounds; the linkage attack's success with the pool and with fixed lineages at each leak over
several seeds, in each view (:data:`fedmarket.bench._pool_figures.VIEWS`: who sees what); and
the update sizes per base model. ``--out`` writes every figure as JSON.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch
from rich.console import Console

from fedmarket.bench._pool_data import (
    DATASETS,
    FAMILIES,
    PoolData,
    acceptance,
    base_models,
    load,
    model_name,
)
from fedmarket.bench._pool_figures import (
    TARGET_POINTS,
    VIEWS,
    LinkageFigures,
    ModelFigures,
    PoolTraces,
    SizeFigures,
    linkage_figures,
    model_figures,
    size_figures,
)
from fedmarket.bench._pool_runs import (
    PoolRun,
    Trace,
    fixed_lineage,
    run_fedavg,
    run_fixed,
    run_pool,
)
from fedmarket.cli.errors import exit_code
from fl_node.models import ModelSpec
from fl_node.pool.acceptance import PoolDecision
from fl_node.pool.convergence import ConvergenceRule
from fl_node.pool.spec import DrawRule
from kernel.errors import FedmarketError, InvalidInputError

log = logging.getLogger(__name__)
console = Console(width=200)

RULES = {"digits": ConvergenceRule(window=3, band=0.02), "heart": ConvergenceRule(3, 0.03)}
"""The sponsor's loose convergence per dataset: the last three trained rounds' test errors within
2 points (heart, with 184 test rows: 3 points)."""

STRICT_RULES = {"digits": ConvergenceRule(window=3, band=0.005), "heart": ConvergenceRule(3, 0.01)}
"""The strict convergence run beside it: within half a point (heart: one point)."""


@dataclass(frozen=True)
class PoolBenchOptions:
    """What to run.

    Parameters
    ----------
    datasets : tuple of str, default DATASETS
        ``digits``, ``heart`` or both.
    families : tuple of str, default FAMILIES
        ``mixed``, ``same-arch`` or both.
    clients : int, default 10
        Digits participants (heart has its four hospitals).
    rounds : int, default 20
        Rounds of every run.
    leaks : tuple of float, default (0.1, 0.2, 0.5)
        Fractions of openings the linkage attacker learns.
    attack_seeds : int, default 5
        Seeds of the linkage attack per leak.
    seed : int, default 0
        Seed of the data splits and of the pool's draw secret.
    rule : ConvergenceRule or None, default None
        The pool's convergence rule; ``None``: :data:`RULES` of each dataset.
    strict : ConvergenceRule or None, default None
        The strict rule of the second pool run; ``None``: :data:`STRICT_RULES` of each dataset.
    """

    datasets: tuple[str, ...] = DATASETS
    families: tuple[str, ...] = FAMILIES
    clients: int = 10
    rounds: int = 20
    leaks: tuple[float, ...] = (0.1, 0.2, 0.5)
    attack_seeds: int = 5
    seed: int = 0
    rule: ConvergenceRule | None = None
    strict: ConvergenceRule | None = None


@dataclass(frozen=True)
class RunFigures:
    """One family on one dataset: the work, convergence and acceptance of the pool.

    Attributes
    ----------
    dataset, family : str
        Where it ran.
    clients, rounds : int
        Participants and rounds.
    pool_rounds : int
        The rounds the pool trained in: it stops once every base model has converged, and
        FedTask's remaining rounds close with nothing committed.
    pool_updates : int
        Updates the pool trained for all its base models together (``clients * pool_rounds``).
    fedavg_updates : int
        Updates FedAvg trains for one base model alone (``clients * rounds``).
    all_converged : int or None
        The task round by which every base model had converged in the pool.
    accepted : tuple of str
        The shared pool.
    eliminated : tuple of str
        ``name: reason`` of every model left out.
    strict_rounds : int
        The rounds the pool trained in under the strict rule.
    strict_accepted, strict_eliminated : tuple of str
        The same under the strict rule.
    seconds : tuple of float
        Wall time of the pool, strict pool, pool-all, fixed-lineage and FedAvg (all models) runs.
    """

    dataset: str
    family: str
    clients: int
    rounds: int
    pool_rounds: int
    pool_updates: int
    fedavg_updates: int
    all_converged: int | None
    accepted: tuple[str, ...]
    eliminated: tuple[str, ...]
    strict_rounds: int
    strict_accepted: tuple[str, ...]
    strict_eliminated: tuple[str, ...]
    seconds: tuple[float, float, float, float, float]


@dataclass(frozen=True)
class PoolBenchFigures:
    """Everything the benchmark measured."""

    runs: tuple[RunFigures, ...]
    models: tuple[ModelFigures, ...]
    linkage: tuple[LinkageFigures, ...]
    sizes: tuple[SizeFigures, ...]


@dataclass(frozen=True)
class _FamilyFigures:
    run: RunFigures
    models: list[ModelFigures]
    linkage: list[LinkageFigures]
    sizes: list[SizeFigures]


def _fedavg(
    data: PoolData, models: Sequence[ModelSpec], rounds: int, cache: dict[ModelSpec, Trace]
) -> tuple[list[Trace], float]:
    """Each model's FedAvg trace (computed once per model and dataset), and the time spent."""
    started = time.perf_counter()
    for m in models:
        if m not in cache:
            cache[m] = run_fedavg(data, m, rounds)
    return [cache[m] for m in models], time.perf_counter() - started


def _all_kept(rounds: int) -> ConvergenceRule:
    """A rule no run of ``rounds`` rounds meets: no model leaves the draw (``pool-all``)."""
    return ConvergenceRule(window=rounds + 1, band=0.0)


def _split(names: Sequence[str], decisions: Sequence[PoolDecision]) -> tuple[Any, Any]:
    """The accepted names, and ``name: reason`` of every model left out."""
    accepted = tuple(names[d.model] for d in decisions if d.accepted)
    return accepted, tuple(f"{names[d.model]}: {d.reason}" for d in decisions if not d.accepted)


def _trained(run: PoolRun) -> int:
    return sum(1 for done in run.result.rounds if done.lanes)


def run_family(
    data: PoolData, family: str, options: PoolBenchOptions, cache: dict[ModelSpec, Trace]
) -> _FamilyFigures:
    """The pool (loose and strict), the pool keeping every model, fixed lineages and FedAvg."""
    models = base_models(data.model, family)
    names = [model_name(m) for m in models]
    rules = (options.rule or RULES[data.name], options.strict or STRICT_RULES[data.name])
    r, accept = options.rounds, acceptance(family)
    pool = run_pool(data, models, r, rules[0], options.seed, acceptance=accept)
    strict = run_pool(data, models, r, rules[1], options.seed, acceptance=accept)
    every = DrawRule(min_models=len(models))
    pool_all = run_pool(data, models, r, _all_kept(r), options.seed, every, accept)
    fixed = run_fixed(data, models, fixed_lineage(len(data.parties), len(models)), r)
    fedavg, fedavg_seconds = _fedavg(data, models, r, cache)
    decisions = (pool.result.decisions, strict.result.decisions)
    traces = PoolTraces(fedavg, pool.traces, strict.traces, pool_all.traces, fixed.traces)
    figures = model_figures((data.name, family), names, traces, decisions, rules)
    converged = [f.pool_converged for f in figures]
    seeds = range(options.seed, options.seed + options.attack_seeds)
    watched = (("fixed", fixed), ("pool", pool.result), ("pool-all", pool_all.result))
    linkage = [
        f
        for lineage, run in watched
        for f in linkage_figures((data.name, family, lineage), run.sightings, options.leaks, seeds)
    ]
    run = RunFigures(
        dataset=data.name,
        family=family,
        clients=len(data.parties),
        rounds=r,
        pool_rounds=_trained(pool),
        pool_updates=sum(sum(t.updates) for t in pool.traces),
        fedavg_updates=sum(fedavg[0].updates),
        all_converged=None if None in converged else max(c for c in converged if c is not None),
        accepted=_split(names, decisions[0])[0],
        eliminated=_split(names, decisions[0])[1],
        strict_rounds=_trained(strict),
        strict_accepted=_split(names, decisions[1])[0],
        strict_eliminated=_split(names, decisions[1])[1],
        seconds=(pool.seconds, strict.seconds, pool_all.seconds, fixed.seconds, fedavg_seconds),
    )
    sizes = size_figures((data.name, family), names, pool.result.sightings)
    return _FamilyFigures(run, figures, linkage, sizes)


def run_bench(options: PoolBenchOptions) -> PoolBenchFigures:
    """Every dataset x family of ``options`` (torch on one thread).

    A family with more base models than the dataset has participants is skipped (``graded``'s
    five on heart's four hospitals): a round that draws every model needs one participant each.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    parts: list[_FamilyFigures] = []
    try:
        for name in options.datasets:
            data = load(name, clients=options.clients, seed=options.seed)
            cache: dict[ModelSpec, Trace] = {}
            for family in options.families:
                if len(base_models(data.model, family)) > len(data.parties):
                    _skipped(data, family)
                    continue
                parts.append(run_family(data, family, options, cache))
                _progress(parts[-1].run)
    finally:
        torch.set_num_threads(threads)
    return PoolBenchFigures(
        runs=tuple(p.run for p in parts),
        models=tuple(f for p in parts for f in p.models),
        linkage=tuple(f for p in parts for f in p.linkage),
        sizes=tuple(f for p in parts for f in p.sizes),
    )


def _num(value: float | int | None, digits: int = 3) -> str:
    if value is None:
        return "never"
    return str(value) if isinstance(value, int) else f"{value:.{digits}f}"


def models_markdown(models: Sequence[ModelFigures]) -> str:
    """Per base model: accuracy, rounds and updates to the target, convergence, decisions."""
    lines = [
        "| dataset | family | model | accuracy FedAvg / pool / strict / pool-all / fixed "
        "| target | rounds to target FedAvg / pool / strict / pool-all / fixed "
        "| updates to target FedAvg / pool / strict / pool-all "
        "| converged, loose rule: FedAvg / pool | converged, strict rule: FedAvg / strict "
        "| rounds trained pool / strict | decision pool / strict |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for m in models:
        accuracy = (m.fedavg_accuracy, m.pool_accuracy, m.strict_accuracy)
        reached = (m.fedavg_to_target, m.pool_to_target, m.strict_to_target)
        updates = (m.fedavg_updates_to_target, m.pool_updates_to_target)
        lines.append(
            f"| {m.dataset} | {m.family} | {m.name} "
            f"| {_nums(*accuracy, m.pool_all_accuracy, m.fixed_accuracy)} | {_num(m.target)} "
            f"| {_nums(*reached, m.pool_all_to_target, m.fixed_to_target)} "
            f"| {_nums(*updates, m.strict_updates_to_target, m.pool_all_updates_to_target)} "
            f"| {_nums(m.fedavg_converged, m.pool_converged)} "
            f"| {_nums(m.fedavg_strict_converged, m.strict_converged)} "
            f"| {m.pool_rounds_trained} / {m.strict_rounds_trained} "
            f"| {m.decision} / {m.strict_decision} |"
        )
    return "\n".join(lines)


def _nums(*values: float | int | None) -> str:
    return " / ".join(_num(v) for v in values)


def runs_markdown(runs: Sequence[RunFigures]) -> str:
    """Per family: the work of the pool against FedAvg, convergence, the time spent."""
    lines = [
        "| dataset | family | clients x rounds | rounds trained pool / strict "
        "| updates: pool (all models) / FedAvg (one model) "
        "| all converged by round (pool) "
        "| seconds pool / strict / pool-all / fixed / FedAvg |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        secs = " / ".join(f"{s:.1f}" for s in r.seconds)
        lines.append(
            f"| {r.dataset} | {r.family} | {r.clients} x {r.rounds} "
            f"| {r.pool_rounds} / {r.strict_rounds} | {r.pool_updates} / {r.fedavg_updates} "
            f"| {_num(r.all_converged)} | {secs} |"
        )
    return "\n".join(lines)


def _eliminated(eliminated: Sequence[str]) -> str:
    """``name: reason`` entries as ``name (reason)``."""
    return ", ".join("{} ({})".format(*e.split(": ", 1)) for e in eliminated) or "none"


def decisions_markdown(runs: Sequence[RunFigures]) -> str:
    """Per dataset and family, under each rule: the accepted set and who was left out, why."""
    return "\n".join(
        f"- {r.dataset} / {r.family}: pool (loose rule): accepted "
        f"{', '.join(r.accepted) or 'none'} / eliminated {_eliminated(r.eliminated)}; "
        f"strict rule: accepted {', '.join(r.strict_accepted) or 'none'} / eliminated "
        f"{_eliminated(r.strict_eliminated)}"
        for r in runs
    )


def linkage_markdown(linkage: Sequence[LinkageFigures]) -> str:
    """The attack's success with fixed lineages, with the pool and with pool-all, side by side."""
    by = {(f.dataset, f.family, f.features, f.leak, f.lineage): f for f in linkage}
    lines = [
        "| dataset | family | view (who sees it) | leak | fixed: success (min-max) / chance "
        "| pool: success (min-max) / chance | pool-all: success (min-max) / chance |",
        "|---|---|---|---|---|---|---|",
    ]
    for dataset, family, features, leak, lineage in by:
        if lineage != "fixed":
            continue
        cells = [by[(dataset, family, features, leak, w)] for w in ("fixed", "pool", "pool-all")]
        lines.append(
            f"| {dataset} | {family} | {features}: {VIEWS[features]} | {leak:g} | "
            + " | ".join(f"{_range(c)} / {c.chance:.2f}" for c in cells)
            + " |"
        )
    return "\n".join(lines)


def _range(f: LinkageFigures) -> str:
    return f"{f.success:.2f} ({f.success_min:.2f}-{f.success_max:.2f})"


def sizes_markdown(sizes: Sequence[SizeFigures]) -> str:
    """Per base model: update sizes (a store reader) and median training time (a direct commit)."""
    lines = [
        "| dataset | family | model | update bytes (min-max) | median training s |",
        "|---|---|---|---|---|",
    ]
    for s in sizes:
        lines.append(
            f"| {s.dataset} | {s.family} | {s.name} | {s.bytes_min}-{s.bytes_max} "
            f"| {s.seconds_median:.4f} |"
        )
    return "\n".join(lines)


def _extra_rounds(group: Sequence[ModelFigures], run: str) -> str:
    """How ``run`` (``pool`` or ``pool_all``) fared against FedAvg on ``group``'s targets."""
    pairs = []
    for m in group:
        reached = getattr(m, f"{run}_to_target")
        if reached is not None and m.fedavg_to_target is not None:
            pairs.append((m.name, reached - m.fedavg_to_target))
    never = [m.name for m in group if getattr(m, f"{run}_to_target") is None]
    mean = f"{sum(d for _, d in pairs) / len(pairs):+.1f}" if pairs else "n/a"
    return (
        f"{run.replace('_', '-')} reached {len(pairs)} of {len(group)} targets, {mean} rounds "
        f"on average against FedAvg alone ({', '.join(f'{n} {d:+d}' for n, d in pairs) or '-'})"
        + (f", never reached: {', '.join(never)}" if never else "")
    )


def cost_markdown(models: Sequence[ModelFigures]) -> str:
    """Per dataset and family: the extra rounds the pools needed to reach each model's target."""
    groups: dict[tuple[str, str], list[ModelFigures]] = {}
    for m in models:
        groups.setdefault((m.dataset, m.family), []).append(m)
    return "\n".join(
        f"- {dataset} / {family}: {_extra_rounds(group, 'pool')}; "
        f"{_extra_rounds(group, 'strict')}; {_extra_rounds(group, 'pool_all')}"
        for (dataset, family), group in groups.items()
    )


def _rule_text(rule: ConvergenceRule | None, rules: dict[str, ConvergenceRule]) -> str:
    if rule is not None:
        return f"last {rule.window} trained rounds within {100 * rule.band:g} points"
    digits, heart = rules["digits"], rules["heart"]
    return (
        f"last {digits.window} trained rounds within {100 * digits.band:g} points, "
        f"heart {100 * heart.band:g}"
    )


def sizes_line(options: PoolBenchOptions) -> str:
    """What was run, in one paragraph."""
    parts = [
        f"{options.rounds} rounds per run, seed {options.seed}, off chain.",
        f"Digits: {options.clients} clients by label-Dirichlet(0.5) over the 70 % left after a",
        "stratified 20 % test and 10 % validation; MLP 64-32-10; 2 local epochs, batches of 16,",
        "lr 0.05. Heart: the four UCI hospitals, one participant each; MLP with 8 hidden units.",
        "Families: mixed = the MLP from seeds 7 and 8, the MLP with its hidden layer doubled, a",
        "linear model; same-arch = the MLP from seeds 7, 8 and 9; graded = mixed and the MLP with",
        "2 hidden units, AcceptanceRule(max_models=3). pool: each round draws 2 to K of the",
        f"models not yet converged ({_rule_text(options.rule, RULES)}; converged ones are drawn",
        "again as cover when fewer than 2 remain) and deals every participant to one, and it",
        "stops once all have converged; strict: the same pool under a strict rule",
        f"({_rule_text(options.strict, STRICT_RULES)}); pool-all: every round draws all K",
        "models (none stops) and deals the participants at random; fixed: participant i",
        "always on model i mod K; FedAvg: one model alone on every participant. Target: a",
        f"model's own FedAvg final accuracy less {TARGET_POINTS:g} point; rounds are task rounds.",
        f"Linkage: {options.attack_seeds} attack seeds per leak; chance is 1 / (models drawn that",
        "round). Views by who sees them: none = a chain watcher with batched commitments (the",
        "default); time = a chain watcher with direct commitments (commit time follows training",
        "time); bytes, time+bytes = a reader of the content store's object sizes (in plain mode",
        "that reader also reads each update's header, which names its base model's hash: it",
        "links every update, 1.00, by construction).",
    ]
    return " ".join(parts)


def report(options: PoolBenchOptions, figures: PoolBenchFigures) -> str:
    """The markdown report."""
    return "\n\n".join(
        [
            sizes_line(options),
            models_markdown(figures.models),
            "What the pool costs in rounds to each model's target:",
            cost_markdown(figures.models),
            "Accepted / eliminated (reason), per dataset and family:",
            decisions_markdown(figures.runs),
            runs_markdown(figures.runs),
            "The linkage attack (success: the share of unrevealed submissions tied to the "
            "right base model):",
            linkage_markdown(figures.linkage),
            "The side channels of each base model's updates in the pool (sizes: a reader of the "
            "content store; training time: a chain watcher when commitments are direct):",
            sizes_markdown(figures.sizes),
        ]
    )


def record(options: PoolBenchOptions, figures: PoolBenchFigures) -> dict[str, Any]:
    """The run as a JSON-ready record, its markdown report included."""
    return {
        "options": asdict(options),
        **asdict(figures),
        "report": report(options, figures),
    }


def quick_options(options: PoolBenchOptions) -> PoolBenchOptions:
    """The smoke run: digits over 6 clients, 4 rounds, leaks 0.2 and 0.5, 2 attack seeds."""
    return replace(
        options, datasets=("digits",), clients=6, rounds=4, leaks=(0.2, 0.5), attack_seeds=2
    )


def _choice(raw: str, allowed: Sequence[str], what: str) -> tuple[str, ...]:
    if raw in ("both", "all"):
        return tuple(allowed)
    if raw not in allowed:
        raise InvalidInputError(f"bench-pool: unknown {what} {raw!r}; known: {allowed}")
    return (raw,)


def _rule(window: int | None, band: float | None, default: float = 0.02) -> ConvergenceRule | None:
    if window is None and band is None:
        return None
    return ConvergenceRule(window=window or 3, band=default if band is None else band)


def parse_args(argv: Sequence[str] | None) -> tuple[PoolBenchOptions, Path | None]:
    """The command line."""
    parser = argparse.ArgumentParser(prog="scripts/bench-pool", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="digits, 6 clients, 4 rounds")
    parser.add_argument("--dataset", choices=(*DATASETS, "both"), default="both")
    parser.add_argument(
        "--family", choices=(*FAMILIES, "all", "both"), default="all", help="both: all of them"
    )
    parser.add_argument("--clients", type=int, default=10, help="digits clients (default 10)")
    parser.add_argument("--rounds", type=int, default=None, help="rounds (default 20)")
    parser.add_argument("--attack-seeds", type=int, default=5, help="linkage seeds per leak")
    parser.add_argument("--seed", type=int, default=0, help="seed of the splits and the draw")
    parser.add_argument("--window", type=int, default=None, help="convergence window (default 3)")
    parser.add_argument(
        "--band", type=float, default=None, help="convergence band (default 0.02, heart 0.03)"
    )
    parser.add_argument("--strict-window", type=int, default=None, help="strict rule's window")
    parser.add_argument(
        "--strict-band", type=float, default=None, help="strict band (default 0.005, heart 0.01)"
    )
    parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON here")
    args = parser.parse_args(argv)
    options = PoolBenchOptions(
        datasets=_choice(args.dataset, DATASETS, "dataset"),
        families=_choice(args.family, FAMILIES, "family"),
        clients=args.clients,
        attack_seeds=args.attack_seeds,
        seed=args.seed,
        rule=_rule(args.window, args.band),
        strict=_rule(args.strict_window, args.strict_band, 0.005),
    )
    if args.quick:
        options = quick_options(options)
    rounds = args.rounds if args.rounds is not None else options.rounds
    if rounds < 2 or options.clients < 4 or options.attack_seeds < 1:
        parser.error("--rounds must be at least 2, --clients 4, --attack-seeds 1")
    return replace(options, rounds=rounds), args.out


def _progress(run: RunFigures) -> None:
    console.print(
        f"[dim]bench-pool: {run.dataset} / {run.family}: seconds pool / strict / pool-all / "
        f"fixed / FedAvg {' / '.join(f'{s:.1f}' for s in run.seconds)}[/dim]",
        highlight=False,
    )


def _skipped(data: PoolData, family: str) -> None:
    console.print(
        f"[dim]bench-pool: {data.name} / {family}: skipped, more base models than its "
        f"{len(data.parties)} participants[/dim]",
        highlight=False,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; print the markdown report (and write the JSON when asked)."""
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    started = time.perf_counter()
    try:
        options, out = parse_args(argv)
        figures = run_bench(options)
    except FedmarketError as exc:
        Console(stderr=True).print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        return exit_code(exc)
    console.print(report(options, figures), markup=False, highlight=False, soft_wrap=True)
    console.print(f"bench-pool: {time.perf_counter() - started:.1f} s in all")
    if out is not None:
        out.write_text(json.dumps(record(options, figures), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
