"""Coordinate-wise median and trimmed mean: hand-computed, brute force, and breakdown points."""

import math

import numpy as np
import pytest
import torch

from fl_node.errors import SpecError
from fl_node.strategies.base import ClientUpdate
from fl_node.strategies.robust import RoundInputs, make_defence
from fl_node.strategies.robust.median import coordinate_median
from fl_node.strategies.robust.trimmed_mean import trim_count, trimmed_mean


def ups(*rows, samples=None):
    samples = samples or [1] * len(rows)
    return [
        ClientUpdate({"w": torch.tensor(r, dtype=torch.float64)}, s)
        for r, s in zip(rows, samples, strict=True)
    ]


def combine(name, rows, **params):
    return make_defence(name, **params).combine(ups(*rows), RoundInputs())


def test_median_hand_computed_odd_and_even():
    odd = combine("median", [[1.0, 10.0], [2.0, 20.0], [100.0, -5.0]], flag_at=0)
    assert odd.delta["w"].tolist() == [2.0, 10.0]
    # kept where the value is the median: the first in coordinate 2, the second in coordinate 1
    assert [d.weight for d in odd.decisions] == [0.5, 0.5, 0.0]
    assert [d.reason for d in odd.decisions] == ["trimmed"] * 3
    even = combine("median", [[1.0, 10.0], [2.0, 20.0], [100.0, -5.0], [4.0, 0.0]], flag_at=0)
    # sorted columns [1, 2, 4, 100] and [-5, 0, 10, 20]: (2 + 4) / 2 and (0 + 10) / 2
    assert even.delta["w"].tolist() == [3.0, 5.0]
    assert [d.weight for d in even.decisions] == [0.5, 0.5, 0.0, 1.0]


def test_median_flags_the_far_update_and_returns_the_median_of_the_rest():
    outcome = combine("median", [[1.0, 10.0], [2.0, 20.0], [100.0, -5.0]])
    # distances to [2, 10]: 1, 10, |(98, -15)| = 99.1; median 10, threshold 30
    assert outcome.flagged == (2,)
    assert outcome.decisions[2].score == pytest.approx(math.hypot(98, 15))
    assert outcome.delta["w"].tolist() == [1.5, 15.0]  # median of two: their mean


def test_trimmed_mean_hand_computed():
    rows = [[1.0, -50.0], [2.0, 0.0], [3.0, 1.0], [4.0, 2.0], [100.0, 3.0]]
    outcome = combine("trimmed_mean", rows, beta=0.2, flag_at=0)  # k = floor(0.2 * 5) = 1
    assert outcome.delta["w"].tolist() == [3.0, 1.0]  # mean(2, 3, 4), mean(0, 1, 2)
    assert [d.weight for d in outcome.decisions] == [0.0, 1.0, 1.0, 1.0, 0.0]
    assert [d.reason for d in outcome.decisions] == ["trimmed", "", "", "", "trimmed"]
    nothing = combine("trimmed_mean", rows, beta=0.0, flag_at=0)
    assert nothing.delta["w"].tolist() == pytest.approx([22.0, -8.8])


def test_trim_count_is_the_floor_at_each_end():
    assert [trim_count(n, 0.2) for n in (1, 4, 5, 9, 10)] == [0, 0, 1, 1, 2]
    assert trim_count(10, 0.49) == 4


def test_median_matches_numpy_and_trimmed_mean_a_naive_loop():
    rng = np.random.default_rng(1)
    for n in range(1, 9):
        values = rng.normal(size=(n, 3))
        rows = torch.tensor(values)
        assert np.allclose(coordinate_median(rows).numpy(), np.median(values, axis=0))
        median = combine("median", values.tolist(), flag_at=0)
        assert np.allclose(median.delta["w"].numpy(), np.median(values, axis=0))
        for beta in (0.0, 0.1, 0.25, 0.4):
            k = math.floor(beta * n)
            naive = [
                sum(sorted(values[:, c])[k : n - k]) / (n - 2 * k) for c in range(values.shape[1])
            ]
            assert np.allclose(trimmed_mean(rows, k).numpy(), naive)


def honest(n, seed):
    return np.random.default_rng(seed).uniform(-1.0, 1.0, size=(n, 2))


@pytest.mark.parametrize("n", [3, 4, 5, 7, 10])
def test_median_breakdown_point(n):
    bad = (n - 1) // 2
    for sign in (1.0, -1.0):
        rows = honest(n, n)
        good = rows[bad:]
        rows[:bad] = sign * 1e9
        held = combine("median", rows.tolist(), flag_at=0).delta["w"].numpy()
        assert (held >= good.min(axis=0)).all() and (held <= good.max(axis=0)).all()
        rows[: bad + 1] = sign * 1e9
        broken = combine("median", rows.tolist(), flag_at=0).delta["w"].numpy()
        assert (np.abs(broken) > 1e8).all()


@pytest.mark.parametrize(("n", "beta"), [(5, 0.2), (10, 0.2), (10, 0.3), (9, 0.45)])
def test_trimmed_mean_breakdown_point(n, beta):
    k = trim_count(n, beta)
    rows = honest(n, 7)
    good = rows[k:]
    rows[:k] = 1e9
    held = combine("trimmed_mean", rows.tolist(), beta=beta, flag_at=0).delta["w"].numpy()
    assert (held >= good.min(axis=0)).all() and (held <= good.max(axis=0)).all()
    rows[: k + 1] = 1e9
    broken = combine("trimmed_mean", rows.tolist(), beta=beta, flag_at=0).delta["w"].numpy()
    assert (broken > 1e9 / n).all()


def test_with_flagging_outliers_up_to_the_breakdown_point_are_flagged():
    rows = honest(7, 3)
    rows[:3] = 1e3
    outcome = combine("median", rows.tolist())
    assert outcome.flagged == (0, 1, 2)
    assert np.allclose(outcome.delta["w"].numpy(), np.median(rows[3:], axis=0))


def test_beta_out_of_range_is_refused():
    for beta in (-0.1, 0.5, 0.7, math.nan):
        with pytest.raises(SpecError):
            make_defence("trimmed_mean", beta=beta)
