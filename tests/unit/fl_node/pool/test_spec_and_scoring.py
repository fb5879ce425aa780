"""The pool spec's stored form, and contributions summed per participant."""

from __future__ import annotations

import dataclasses
import itertools
import random

import pytest

from fl_node.errors import SpecError
from fl_node.models import ModelSpec
from fl_node.pool.acceptance import AcceptanceRule
from fl_node.pool.convergence import ConvergenceRule, drawable
from fl_node.pool.errors import PoolInputError
from fl_node.pool.scoring import pool_improvement, summed_contributions
from fl_node.pool.spec import DrawRule, PoolSpec
from fl_node.training import TrainConfig

BASE = ModelSpec(n_features=3, feature_mean=(0.0,) * 3, feature_std=(1.0,) * 3)


def _spec(**changes: object) -> PoolSpec:
    spec = PoolSpec(
        name="p",
        base_models=(BASE, dataclasses.replace(BASE, seed=1, hidden=(8,))),
        train=TrainConfig(),
        rounds=4,
        convergence=ConvergenceRule(window=2, band=0.01),
        acceptance=AcceptanceRule(max_models=1),
        seed_commitment="0x" + "11" * 32,
        draw=DrawRule(min_models=1, max_models=2, min_per_model=2),
    )
    return dataclasses.replace(spec, **changes)  # type: ignore[arg-type]


def test_the_spec_round_trips_through_its_canonical_bytes() -> None:
    spec = _spec()
    again = PoolSpec.from_bytes(spec.to_bytes())
    assert again == spec and again.hash() == spec.hash()
    assert _spec(rounds=5).hash() != spec.hash()


@pytest.mark.parametrize(
    "changes",
    [
        {"base_models": (BASE,)},
        {"base_models": (BASE, dataclasses.replace(BASE, task="regression"))},
        {"rounds": 0},
        {"seed_commitment": "0x12"},
    ],
)
def test_a_malformed_spec_is_refused(changes: dict[str, object]) -> None:
    with pytest.raises(SpecError):
        _spec(**changes)


def test_stored_bytes_of_another_kind_are_refused() -> None:
    with pytest.raises(SpecError, match="not a pool task"):
        PoolSpec.from_bytes(b'{"kind": "fedmarket/horizontal-task"}')


def test_summed_contributions_match_a_brute_force_sum() -> None:
    rng = random.Random(3)
    people = [f"p{i}" for i in range(6)]
    for _ in range(50):
        lanes = []
        for _ in range(rng.randint(1, 4)):
            members = rng.sample(people, rng.randint(1, 6))
            lanes.append({p: rng.uniform(-1, 1) for p in members})
        expected = [sum(lane.get(p, 0.0) for lane in lanes) for p in people]
        assert summed_contributions(lanes, people) == pytest.approx(expected)


def test_one_base_model_pays_as_the_single_model_task() -> None:
    scores = {"a": 0.3, "b": -0.1, "c": 0.0}
    assert summed_contributions([scores], ["a", "b", "c"]) == [0.3, -0.1, 0.0]
    assert pool_improvement([0.2]) == 0.2
    assert pool_improvement([]) == 0.0
    assert pool_improvement([0.1, 0.3]) == pytest.approx(0.2)


@pytest.mark.parametrize("bad", [{"x": 0.1}, {"a": float("nan")}])
def test_a_stranger_or_a_nan_score_is_refused(bad: dict[str, float]) -> None:
    with pytest.raises(PoolInputError):
        summed_contributions([bad], ["a", "b"])


def test_draw_rule_bounds() -> None:
    for lo, hi in itertools.product([0, 1], [None, 0]):
        if lo >= 1 and hi is None:
            continue
        with pytest.raises(SpecError):
            DrawRule(min_models=lo, max_models=hi)


def test_drawable_tops_up_with_converged_models_as_cover() -> None:
    rule = ConvergenceRule(window=2, band=0.01)
    settled, moving = [0.2, 0.2], [0.5, 0.3]
    assert drawable([moving, moving, moving], rule, 2) == (0, 1, 2)
    assert drawable([settled, moving, moving], rule, 2) == (1, 2)
    assert drawable([settled, settled, moving], rule, 2) == (0, 1, 2)
    assert drawable([settled, settled, moving], rule, 1) == (2,)
    assert drawable([settled, settled, settled], rule, 1) == (0, 1, 2)


def test_a_spec_cannot_ask_more_models_a_round_than_it_has() -> None:
    with pytest.raises(SpecError, match="min_models"):
        _spec(draw=DrawRule(min_models=3))
