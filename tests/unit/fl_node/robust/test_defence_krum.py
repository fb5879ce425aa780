"""Krum and Multi-Krum: hand-computed scores, a naive double loop, too few, breakdown point."""

import itertools

import numpy as np
import pytest
import torch

from fl_node.strategies.base import ClientUpdate
from fl_node.strategies.robust import RoundInputs, make_defence
from fl_node.strategies.robust.krum import byzantine_count, krum_scores


def ups(rows):
    return [ClientUpdate({"w": torch.tensor(r, dtype=torch.float64)}, 1) for r in rows]


def combine(name, rows, **params):
    return make_defence(name, **params).combine(ups(rows), RoundInputs())


POINTS = [[0.0], [1.0], [3.0], [10.0]]
# f = 0, n = 4: each score sums the squared distances to the 2 nearest others:
# 0: 1 + 9 = 10; 1: 1 + 4 = 5; 3: 4 + 9 = 13; 10: 49 + 81 = 130


def test_krum_hand_computed():
    outcome = combine("krum", POINTS, f=0, flag_at=0)
    assert outcome.delta["w"].tolist() == [1.0]
    assert [d.score for d in outcome.decisions] == [10.0, 5.0, 13.0, 130.0]
    assert [d.weight for d in outcome.decisions] == [0.0, 1.0, 0.0, 0.0]
    assert outcome.decisions[0].reason == "krum_not_selected"


def test_multi_krum_hand_computed():
    two = combine("multi_krum", POINTS, f=0, m=0.5, flag_at=0)  # floor(0.5 * 4) = 2 lowest
    assert two.delta["w"].tolist() == [0.5]
    assert [d.weight for d in two.decisions] == [1.0, 1.0, 0.0, 0.0]
    default = combine("multi_krum", [*POINTS, [2.0]], f=0.2, flag_at=0)
    # n = 5, f = 1, 2 nearest: 0: 1+4=5; 1: 1+1=2; 3: 1+4=5; 10: 49+64=113; 2: 1+1=2
    # m = n - f = 4 lowest: all but 10
    assert default.delta["w"].tolist() == [1.5]
    assert [d.score for d in default.decisions] == [5.0, 2.0, 5.0, 113.0, 2.0]


def test_krum_flags_the_far_point_then_reruns_on_the_rest():
    outcome = combine("krum", POINTS, f=0, flag_at=3)
    # reference 1: distances 1, 0, 2, 9; median 1.5, threshold 4.5 -> 10 flagged
    assert outcome.flagged == (3,)
    # on [0, 1, 3] (one neighbour): scores 1, 1, 4 -> tie to the lowest position, 0
    assert outcome.delta["w"].tolist() == [0.0]
    assert [d.score for d in outcome.decisions] == [1.0, 1.0, 4.0, 130.0]


def test_too_few_updates_degrade_to_the_mean_and_say_so():
    outcome = combine("krum", POINTS, f=0.25, flag_at=0)  # f = 1 needs n > 4
    assert outcome.delta["w"].tolist() == [3.5]
    assert {d.reason for d in outcome.decisions} == {"krum_too_few"}
    assert combine("krum", [[1.0], [3.0]], f=0, flag_at=0).delta["w"].tolist() == [2.0]


def naive_scores(rows, f):
    n = len(rows)
    scores = []
    for i in range(n):
        distances = []
        for j in range(n):
            if j != i:
                distances.append(sum((a - b) ** 2 for a, b in zip(rows[i], rows[j], strict=True)))
        scores.append(sum(sorted(distances)[: n - f - 2]))
    return scores


def test_scores_match_a_naive_double_loop():
    rng = np.random.default_rng(2)
    for n, f in itertools.product(range(3, 10), range(4)):
        if n <= 2 * f + 2:
            continue
        rows = rng.normal(size=(n, 3)).tolist()
        ours = krum_scores(torch.tensor(rows, dtype=torch.float64), f).tolist()
        assert ours == pytest.approx(naive_scores(rows, f))
        chosen = int(np.argmin(naive_scores(rows, f)))
        outcome = combine("krum", rows, f=f / n + 1e-9, flag_at=0)
        assert byzantine_count(n, f / n + 1e-9) == f
        assert outcome.delta["w"].tolist() == pytest.approx(rows[chosen])


@pytest.mark.parametrize("n", [6, 8, 10, 13])
def test_far_attackers_below_the_breakdown_point_are_never_selected(n):
    rng = np.random.default_rng(n)
    for attackers in range(0, n):
        if not attackers < (n - 2) / 2:
            break
        rows = rng.normal(size=(n, 4))
        rows[:attackers] = rng.normal(size=(attackers, 4)) * 1e6
        frac = attackers / n + 1e-9
        krum = combine("krum", rows.tolist(), f=frac, flag_at=0)
        assert all(d.weight == 0 for d in krum.decisions[:attackers])
        multi = combine("multi_krum", rows.tolist(), f=frac, flag_at=0)
        assert all(d.weight == 0 for d in multi.decisions[:attackers])
        assert np.abs(multi.delta["w"].numpy()).max() < 10


def test_krum_and_multi_krum_flag_nothing_unless_asked():
    """Leaving an update out is their defence; a far update is excluded, not flagged."""
    for name in ("krum", "multi_krum"):
        outcome = combine(name, POINTS, f=0)
        assert outcome.flagged == ()
        assert make_defence(name).params()["flag_at"] == 0.0
