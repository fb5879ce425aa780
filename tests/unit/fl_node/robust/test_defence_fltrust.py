"""FLTrust: hand-computed trust and aggregate, zero trust, attackers with negative cosine."""

import math

import numpy as np
import pytest
import torch

from fl_node.errors import AggregationError
from fl_node.strategies.base import ClientUpdate
from fl_node.strategies.robust import RoundInputs, make_defence
from fl_node.strategies.robust.fltrust import fltrust_aggregate


def ups(rows):
    return [ClientUpdate({"w": torch.tensor(r, dtype=torch.float64)}, 1) for r in rows]


def root(values):
    return RoundInputs(root_delta={"w": torch.tensor(values, dtype=torch.float64)})


def test_fltrust_hand_computed():
    outcome = make_defence("fltrust", flag_at=0).combine(
        ups([[2.0, 0.0], [1.0, 1.0], [-3.0, 0.0]]), root([1.0, 0.0])
    )
    # trust 1, 1/sqrt2, 0; rescaled to norm 1: [1, 0], [1/sqrt2, 1/sqrt2]
    # (1 * [1, 0] + 1/sqrt2 * [1/sqrt2, 1/sqrt2]) / (1 + 1/sqrt2) = [1.5, 0.5] / 1.7071
    s = 1 + 1 / math.sqrt(2)
    assert outcome.delta["w"].tolist() == pytest.approx([1.5 / s, 0.5 / s])
    assert [d.weight for d in outcome.decisions] == pytest.approx([1.0, 1 / math.sqrt(2), 0.0])
    assert [d.score for d in outcome.decisions] == pytest.approx([1.0, 1 / math.sqrt(2), -1.0])
    assert outcome.decisions[2].reason == "low_trust"


def test_no_trust_at_all_gives_the_zero_delta():
    aggregate, trust = fltrust_aggregate(
        torch.tensor([[-1.0, 0.0], [0.0, 1.0]], dtype=torch.float64),
        torch.tensor([2.0, 0.0], dtype=torch.float64),
    )
    assert aggregate.tolist() == [0.0, 0.0]
    assert trust.tolist() == [0.0, 0.0]


def test_the_aggregate_has_at_most_the_root_norm_whatever_the_boost():
    outcome = make_defence("fltrust", flag_at=0).combine(
        ups([[1e9, 1e9], [1.0, 0.0]]), root([0.0, 2.0])
    )
    assert float(torch.linalg.vector_norm(outcome.delta["w"])) <= 2.0 + 1e-9


@pytest.mark.parametrize("attackers", [1, 2, 3, 4, 6, 9])
def test_any_number_of_attackers_with_negative_cosine_get_no_trust(attackers):
    rng = np.random.default_rng(attackers)
    direction = np.ones(5)
    honest = direction + 0.1 * rng.normal(size=(1, 5))
    bad = -direction * rng.uniform(1, 100, size=(attackers, 1)) + 0.1 * rng.normal(
        size=(attackers, 5)
    )
    rows = np.vstack([bad, honest])
    outcome = make_defence("fltrust", flag_at=0).combine(ups(rows.tolist()), root(direction))
    assert all(d.weight == 0 for d in outcome.decisions[:attackers])
    rescaled = honest[0] * np.linalg.norm(direction) / np.linalg.norm(honest[0])
    assert np.allclose(outcome.delta["w"].numpy(), rescaled)


def test_a_round_without_a_root_update_is_refused():
    with pytest.raises(AggregationError):
        make_defence("fltrust").combine(ups([[1.0], [2.0]]), RoundInputs())
    with pytest.raises(AggregationError):
        make_defence("fltrust").combine(ups([[1.0], [2.0]]), root([1.0, 2.0]))
