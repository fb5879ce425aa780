"""The pool benchmark's figures against hand-worked traces and brute-force references.

Rounds to a target and convergence in task rounds against hand-computed cases and a brute-force
scan; the per-model figures of two hand-made models; the linkage summary against
:func:`fl_node.pool.linkage.run_linkage` called directly; the base-model families (the update
bytes of one architecture are the same whatever the initialisation, and differ between
architectures); the digits clients are label-skewed and hold every training row once.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from fedmarket.bench._pool_data import (
    GRADED_ACCEPTANCE,
    acceptance,
    base_models,
    digits_data,
    model_name,
)
from fedmarket.bench._pool_figures import (
    FEATURE_SETS,
    TARGET_POINTS,
    VIEWS,
    PoolTraces,
    converged_round,
    linkage_figures,
    model_figures,
    project,
    to_target,
)
from fedmarket.bench._pool_runs import Trace, fixed_lineage
from fl_node.models import build_model, trainable_state
from fl_node.pool.acceptance import AcceptanceRule, PoolDecision
from fl_node.pool.convergence import ConvergenceRule
from fl_node.pool.linkage import Sighting, run_linkage
from fl_node.serialization import UpdateMeta, encode_update
from kernel.errors import InvalidInputError


def test_to_target_counts_task_rounds_and_the_updates_aggregated_by_then() -> None:
    trace = Trace(rounds=(1, 3, 4, 7), errors=(0.5, 0.2, 0.09, 0.05), updates=(3, 2, 5, 1))
    assert to_target(trace, 0.8) == (3, 5)
    assert to_target(trace, 0.91) == (4, 10)
    assert to_target(trace, 0.95) == (7, 11)  # exactly at the target counts
    assert to_target(trace, 0.96) == (None, None)
    assert to_target(Trace((), (), ()), 0.0) == (None, None)


def _brute_converged(trace: Trace, window: int, band: float) -> int | None:
    for end in range(window, len(trace.errors) + 1):
        last = trace.errors[end - window : end]
        if max(last) - min(last) <= band:
            return trace.rounds[end - 1]
    return None


def test_converged_round_is_the_task_round_of_the_first_settled_window() -> None:
    trace = Trace(rounds=(2, 5, 7, 9), errors=(0.3, 0.1, 0.11, 0.105), updates=(1, 1, 1, 1))
    assert converged_round(trace, ConvergenceRule(window=3, band=0.02)) == 9
    assert converged_round(trace, ConvergenceRule(window=2, band=0.02)) == 7
    assert converged_round(trace, ConvergenceRule(window=3, band=0.001)) is None
    rng = np.random.default_rng(3)
    for _ in range(200):
        n = int(rng.integers(1, 8))
        rounds = tuple(sorted(rng.choice(20, size=n, replace=False).tolist()))
        errors = tuple(float(e) for e in np.round(rng.uniform(0, 0.2, n), 2))
        t = Trace(rounds, errors, (1,) * n)
        for window, band in itertools.product((1, 2, 3), (0.0, 0.03, 0.1)):
            rule = ConvergenceRule(window=window, band=band)
            assert converged_round(t, rule) == _brute_converged(t, window, band)


def test_model_figures_of_two_hand_made_models() -> None:
    fedavg = [
        Trace((1, 2, 3), (0.4, 0.2, 0.1), (4, 4, 4)),
        Trace((1, 2, 3), (0.3, 0.3, 0.3), (4, 4, 4)),
    ]
    pool = [Trace((1, 2, 3), (0.5, 0.112, 0.105), (2, 1, 2)), Trace((2,), (0.35,), (4,))]
    fixed = [Trace((1, 2, 3), (0.3, 0.11, 0.1), (2, 2, 2)), Trace((1, 2, 3), (0.3,) * 3, (2,) * 3)]
    decisions = [PoolDecision(0, "a", True, "accepted"), PoolDecision(1, "b", False, "pruned")]
    strict_decisions = [
        PoolDecision(0, "a", False, "not_converged"),
        PoolDecision(1, "b", False, "outside_confidence_region"),
    ]
    rule, strict_rule = ConvergenceRule(window=2, band=0.01), ConvergenceRule(2, 0.0)
    pool_all = [Trace((1, 2), (0.2, 0.05), (3, 3)), Trace((1, 2), (0.1, 0.1), (1, 1))]
    strict = [Trace((1, 2, 3), (0.3, 0.2, 0.09), (1, 1, 4)), Trace((1, 3), (0.3, 0.3), (2, 2))]
    traces = PoolTraces(fedavg, pool, strict, pool_all, fixed)
    a, b = model_figures(
        ("d", "f"), ["a", "b"], traces, (decisions, strict_decisions), (rule, strict_rule)
    )
    assert a.target == pytest.approx(0.9 - TARGET_POINTS / 100)
    assert (a.fedavg_accuracy, a.pool_accuracy, a.fixed_accuracy) == pytest.approx(
        (0.9, 0.895, 0.9)
    )
    assert (a.fedavg_to_target, a.pool_to_target, a.fixed_to_target) == (3, 3, 2)
    assert a.pool_all_accuracy == pytest.approx(0.95)
    assert (a.pool_all_to_target, a.pool_all_updates_to_target) == (2, 6)
    assert (b.pool_all_to_target, b.pool_all_updates_to_target) == (1, 1)
    assert (a.fedavg_updates_to_target, a.pool_updates_to_target) == (12, 5)
    assert a.fixed_updates_to_target == 4
    assert (a.fedavg_converged, a.pool_converged) == (None, 3)
    assert (a.pool_rounds_trained, a.pool_updates, a.decision) == (3, 5, "accepted")
    assert b.pool_to_target is None and b.pool_updates_to_target is None
    assert (b.fedavg_to_target, b.fedavg_converged, b.decision) == (1, 2, "pruned")
    # the strict run: its own accuracy, target round, updates, convergence and decision
    assert (a.strict_accuracy, a.strict_to_target, a.strict_updates_to_target) == pytest.approx(
        (0.91, 3, 6)
    )
    assert (a.fedavg_strict_converged, a.strict_converged) == (None, None)
    assert (b.fedavg_strict_converged, b.strict_converged) == (2, 3)  # 0.3 twice, task round 3
    assert (b.strict_to_target, b.strict_updates_to_target, b.strict_rounds_trained) == (1, 2, 2)
    assert (a.strict_decision, b.strict_decision) == ("not_converged", "outside_confidence_region")


def _sightings(lineage: str, n: int = 6, rounds: int = 6, k: int = 3) -> list[Sighting]:
    rng = np.random.default_rng(11)
    out = []
    for r in range(1, rounds + 1):
        for i in range(n):
            model = i % k if lineage == "fixed" else int(rng.integers(k))
            out.append(Sighting(f"p{i}", r, model, (float(rng.uniform()), 100.0 * (model + 1))))
    return out


def test_project_keeps_only_the_chosen_side_channels() -> None:
    s = [Sighting("p", 1, 2, (0.5, 300.0))]
    assert project(s, "none")[0].features == ()
    assert project(s, "bytes")[0].features == (300.0,)
    assert project(s, "time")[0].features == (0.5,)
    assert project(s, "time+bytes")[0] == s[0]


def test_linkage_figures_summarise_run_linkage_over_the_seeds() -> None:
    sightings = _sightings("pool")
    figures = linkage_figures(("d", "f", "pool"), sightings, (0.2, 0.5), range(3))
    assert [(f.features, f.leak) for f in figures] == [
        (feat, leak) for feat in ("none", "time", "bytes", "time+bytes") for leak in (0.2, 0.5)
    ]
    assert set(VIEWS) == set(FEATURE_SETS)  # every view says who sees it
    for f in figures:
        direct = [run_linkage(project(sightings, f.features), f.leak, s) for s in range(3)]
        assert f.success == pytest.approx(np.mean([r.success for r in direct]))
        assert (f.success_min, f.success_max) == (
            min(r.success for r in direct),
            max(r.success for r in direct),
        )
        assert f.chance == pytest.approx(np.mean([r.chance for r in direct]))
        assert f.targets == direct[0].n and f.lineage == "pool"
    by = {(f.features, f.leak): f for f in figures}
    assert by[("bytes", 0.5)].success == 1.0  # the size gives the model away


def test_fixed_lineage_deals_participant_i_to_model_i_mod_k() -> None:
    assert fixed_lineage(7, 3) == (0, 1, 2, 0, 1, 2, 0)
    assert fixed_lineage(2, 4) == (0, 1)


def _update_bytes(spec: object) -> int:
    model = build_model(spec)  # type: ignore[arg-type]
    delta = {k: torch.zeros_like(v) for k, v in trainable_state(model).items()}
    meta = UpdateMeta(0, 1, "0x" + "11" * 20, "0x" + "22" * 32, 100, 0.0, "fedavg")
    return len(encode_update(delta, meta))


def test_one_architecture_gives_one_update_size_and_architectures_differ() -> None:
    data = digits_data(clients=5)
    same = base_models(data.model, "same-arch")
    assert len({m.seed for m in same}) == 3
    assert len({_update_bytes(m) for m in same}) == 1
    mixed = base_models(data.model, "mixed")
    sizes = [_update_bytes(m) for m in mixed]
    assert sizes[0] == sizes[1] and len(set(sizes)) == 3
    assert [model_name(m) for m in mixed] == ["mlp32-s7", "mlp32-s8", "mlp64-s7", "linear-s7"]
    graded = base_models(data.model, "graded")
    assert graded[:4] == mixed and model_name(graded[4]) == "mlp2-s7"
    assert _update_bytes(graded[4]) < sizes[3]  # the weak MLP is the smallest update
    assert acceptance("graded") == GRADED_ACCEPTANCE and GRADED_ACCEPTANCE.max_models == 3
    assert acceptance("mixed") == acceptance("same-arch") == AcceptanceRule()
    with pytest.raises(InvalidInputError):
        base_models(data.model, "nope")


def test_digits_clients_are_label_skewed_and_hold_every_training_row_once() -> None:
    data = digits_data(clients=10)
    assert len(data.parties) == 10 and all(p.rows >= 20 for p in data.parties)
    rows = sum(p.rows for p in data.parties) + data.validation.rows + data.test.rows
    assert rows == 1797
    shares = np.array(
        [np.bincount(np.asarray(p.y, np.int64), minlength=10) / p.rows for p in data.parties]
    )
    assert shares.max() > 0.3  # far from the IID 0.1 per class
