"""The shared pieces: vectors, the median convention, flagging, and flagging under every rule."""

import math

import numpy as np
import pytest
import torch

from fl_node.errors import AggregationError
from fl_node.strategies.base import ClientUpdate
from fl_node.strategies.robust import (
    DEFENCES,
    Ballot,
    RoundInputs,
    flag_outliers,
    make_defence,
)
from fl_node.strategies.robust._flagging import FLAG_FLOOR
from fl_node.strategies.robust._vectors import flatten, median, stack, unflatten

RULE_PARAMS = {
    "clip": {"norm_factor": 1.0},
    "krum": {"flag_at": 3.0},  # Krum and Multi-Krum flag only when asked (KRUM_FLAG_AT)
    "multi_krum": {"flag_at": 3.0},
}


def test_flatten_takes_tensors_in_sorted_key_order_and_unflatten_inverts_it():
    delta = {"b": torch.tensor([[3.0, 4.0]]), "a": torch.tensor([1.0, 2.0], dtype=torch.float16)}
    vector = flatten(delta)
    assert vector.dtype == torch.float64
    assert vector.tolist() == [1.0, 2.0, 3.0, 4.0]
    back = unflatten(vector, delta)
    assert back["a"].dtype == torch.float16 and back["b"].shape == (1, 2)
    assert back["b"].tolist() == [[3.0, 4.0]]


def test_stack_refuses_updates_of_different_shapes():
    with pytest.raises(AggregationError):
        stack([{"a": torch.zeros(2)}, {"a": torch.zeros(3)}])
    with pytest.raises(AggregationError):
        stack([{"a": torch.zeros(2)}, {"b": torch.zeros(2)}])


def test_median_of_an_even_count_is_the_mean_of_the_two_middle_values():
    assert float(median(torch.tensor([4.0, 1.0, 3.0, 2.0]))) == 2.5
    assert float(median(torch.tensor([5.0, 1.0, 3.0]))) == 3.0
    rng = np.random.default_rng(0)
    for n in range(1, 8):
        values = rng.normal(size=(n, 3))
        ours = median(torch.tensor(values), dim=0).numpy()
        assert np.allclose(ours, np.median(values, axis=0))


def test_flag_outliers_hand_computed():
    vectors = torch.tensor([[1.0, 0.0], [0.0, 2.0], [3.0, 0.0], [0.0, 40.0]], dtype=torch.float64)
    flags = flag_outliers(vectors, torch.zeros(2, dtype=torch.float64), 3.0)
    # distances 1, 2, 3, 40: median 2.5, threshold 7.5
    assert flags.distances == (1.0, 2.0, 3.0, 40.0)
    assert flags.threshold == 7.5
    assert flags.flagged == (False, False, False, True)
    assert not any(flag_outliers(vectors, torch.zeros(2, dtype=torch.float64), 0.0).flagged)


def test_when_most_distances_are_zero_only_a_real_deviation_is_flagged():
    same = [[1.0, 1.0]] * 4
    vectors = torch.tensor([*same, [1.0, 1.0 + 1e-9], [5.0, 1.0]], dtype=torch.float64)
    flags = flag_outliers(vectors, torch.tensor([1.0, 1.0], dtype=torch.float64), 3.0)
    assert flags.flagged == (False, False, False, False, False, True)
    assert flags.threshold == pytest.approx(FLAG_FLOOR * math.sqrt(2))


def honest_round(n, seed, width=20, noise=0.3):
    generator = torch.Generator().manual_seed(seed)
    common = torch.ones(width)
    return [common + noise * torch.randn(width, generator=generator) for _ in range(n)]


def round_inputs(rows):
    """A root update near the honest direction; ballots scoring updates by closeness."""
    root = torch.ones(rows[0].shape[0]) * 1.02
    ballots = tuple(
        Ballot(v, tuple(-float(torch.linalg.vector_norm(r - rows[v])) for r in rows))
        for v in range(len(rows))
    )
    return RoundInputs(root_delta={"w": root}, ballots=ballots)


def as_updates(rows):
    return [ClientUpdate({"w": r}, 10 + i) for i, r in enumerate(rows)]


@pytest.mark.parametrize("name", sorted(DEFENCES))
def test_honest_spread_updates_are_not_flagged_by_any_rule(name):
    for seed in range(5):
        rows = honest_round(10, seed)
        outcome = make_defence(name, **RULE_PARAMS.get(name, {})).combine(
            as_updates(rows), round_inputs(rows)
        )
        assert outcome.flagged == ()


@pytest.mark.parametrize("name", sorted(DEFENCES))
def test_a_sign_flipped_and_a_boosted_update_are_flagged_by_every_rule(name):
    for seed in range(5):
        rows = honest_round(8, seed)
        rows += [-honest_round(1, 100 + seed)[0], 10 * honest_round(1, 200 + seed)[0]]
        outcome = make_defence(name, **RULE_PARAMS.get(name, {})).combine(
            as_updates(rows), round_inputs(rows)
        )
        assert outcome.flagged == (8, 9)
        assert all(d.weight == 0 and d.reason == "deviation" for d in outcome.decisions[8:])


@pytest.mark.parametrize("name", sorted(DEFENCES))
def test_the_returned_delta_is_the_rule_over_the_unflagged_updates(name):
    rows = honest_round(8, 3) + [-5 * honest_round(1, 9)[0]]
    inputs = round_inputs(rows)
    defence = make_defence(name, **RULE_PARAMS.get(name, {}))
    outcome = defence.combine(as_updates(rows), inputs)
    assert outcome.flagged == (8,)
    unflagged = as_updates(rows)[:8]
    ballots = tuple(Ballot(b.voter, b.scores[:8]) for b in inputs.ballots if b.voter < 8)
    again = defence.combine(unflagged, RoundInputs(inputs.root_delta, ballots))
    assert torch.allclose(outcome.delta["w"], again.delta["w"], atol=1e-6)


@pytest.mark.parametrize("name", sorted(DEFENCES))
def test_one_update_is_returned_and_kept(name):
    update = ClientUpdate({"w": torch.tensor([3.0, 4.0])}, 7)
    outcome = make_defence(name, max_norm=10.0) if name == "clip" else make_defence(name)
    result = outcome.combine([update], RoundInputs())
    assert result.delta["w"].tolist() == [3.0, 4.0]
    assert result.decisions[0].weight == 1.0 and not result.decisions[0].flagged


@pytest.mark.parametrize("name", sorted(DEFENCES))
def test_no_updates_or_non_finite_ones_are_refused(name):
    defence = make_defence(name, **RULE_PARAMS.get(name, {}))
    with pytest.raises(AggregationError):
        defence.combine([], RoundInputs())
    bad = [ClientUpdate({"w": torch.tensor([math.nan])}, 1), ClientUpdate({"w": torch.ones(1)}, 1)]
    with pytest.raises(AggregationError):
        defence.combine(bad, RoundInputs())
