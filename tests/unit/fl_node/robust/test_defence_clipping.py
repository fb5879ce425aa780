"""Norm clipping: hand-computed scales, the relative bound, the clip rule, and clipping any rule."""

import pytest
import torch

from fl_node.errors import SpecError
from fl_node.strategies.base import ClientUpdate
from fl_node.strategies.robust import (
    DEFENCES,
    RoundInputs,
    clip_updates,
    make_defence,
    relative_max_norm,
)


def ups(*rows, samples=None):
    samples = samples or [1] * len(rows)
    return [ClientUpdate({"w": torch.tensor(r)}, s) for r, s in zip(rows, samples, strict=True)]


def test_clip_updates_scales_by_min_one_bound_over_norm_of_the_whole_update():
    deltas = [
        {"a": torch.tensor([3.0]), "b": torch.tensor([4.0])},  # norm 5 over both tensors
        {"a": torch.tensor([0.6]), "b": torch.tensor([0.8])},  # norm 1
        {"a": torch.tensor([0.0]), "b": torch.tensor([0.0])},  # norm 0
    ]
    clipped = clip_updates(deltas, 2.0)
    assert clipped[0]["a"].item() == pytest.approx(1.2)
    assert clipped[0]["b"].item() == pytest.approx(1.6)
    assert clipped[1]["a"].item() == pytest.approx(0.6)
    assert clipped[2]["b"].item() == 0.0


def test_the_relative_bound_is_factor_times_the_median_norm():
    deltas = [{"w": torch.tensor([3.0, 4.0])}, {"w": torch.tensor([0.0, 1.0])}]
    assert relative_max_norm(deltas, 2.0) == pytest.approx(6.0)  # median of 5 and 1 is 3
    deltas.append({"w": torch.tensor([6.0, 8.0])})
    assert relative_max_norm(deltas, 1.0) == pytest.approx(5.0)


def test_clip_rule_hand_computed():
    # norms 5, 1, 10; median 5, factor 1 -> bound 5: the third halved to [3, 4]
    outcome = make_defence("clip", norm_factor=1.0).combine(
        ups([3.0, 4.0], [0.0, 1.0], [6.0, 8.0], samples=[1, 2, 1]), RoundInputs()
    )
    # sample-weighted mean of [3, 4], [0, 1] x2, [3, 4]: [6, 10] / 4
    assert outcome.delta["w"].tolist() == pytest.approx([1.5, 2.5])
    assert [d.weight for d in outcome.decisions] == [1.0, 1.0, 0.5]
    assert [d.reason for d in outcome.decisions] == ["", "", "clipped"]
    assert outcome.flagged == ()


def test_the_tighter_of_the_absolute_and_relative_bounds_applies():
    updates = ups([3.0, 4.0], [0.0, 1.0], [6.0, 8.0])
    both = make_defence("clip", max_norm=1.0, norm_factor=1.0, flag_at=0)
    outcome = both.combine(updates, RoundInputs())
    assert [d.weight for d in outcome.decisions] == pytest.approx([0.2, 1.0, 0.1])


def test_a_boosted_update_moves_the_clipped_mean_no_more_than_the_bound():
    honest = [[1.0, 0.0]] * 4
    for boost in (10.0, 1e6):
        outcome = make_defence("clip", max_norm=1.0, flag_at=0).combine(
            ups(*honest, [boost, 0.0]), RoundInputs()
        )
        assert outcome.delta["w"].tolist() == pytest.approx([1.0, 0.0])


def test_any_rule_clips_first_when_asked():
    # norms 1, 2, 100 (median 2); factor 0.5 -> bound 1: every update becomes [1]
    updates = ups([1.0], [2.0], [100.0])
    median = make_defence("median", clip_norm_factor=0.5, flag_at=0).combine(updates, RoundInputs())
    assert median.delta["w"].item() == pytest.approx(1.0)  # bound 1: [1, 1, 1]
    assert [d.reason for d in median.decisions] == ["", "clipped", "clipped"]
    assert [d.weight for d in median.decisions] == pytest.approx([1.0, 0.5, 0.01])
    krum = make_defence("krum", f=0, clip_max_norm=1.5, flag_at=0).combine(updates, RoundInputs())
    # clipped to 1.5: [1, 1.5, 1.5]; scores (1 neighbour) 0.25, 0, 0 -> the first 1.5
    assert krum.delta["w"].item() == pytest.approx(1.5)
    assert [d.reason for d in krum.decisions] == [
        "krum_not_selected",
        "clipped",
        "clipped+krum_not_selected",
    ]


@pytest.mark.parametrize("name", sorted(DEFENCES))
def test_make_defence_can_ask_every_rule_to_clip(name):
    defence = make_defence(name, clip_norm_factor=1.0)
    rebuilt = make_defence(defence.name, **defence.params())
    assert rebuilt.params() == defence.params()
    key = "norm_factor" if name == "clip" else "clip_norm_factor"
    assert defence.params()[key] == 1.0


def test_clip_needs_a_bound_and_takes_each_bound_once():
    with pytest.raises(SpecError):
        make_defence("clip")
    with pytest.raises(SpecError):
        make_defence("clip", norm_factor=1.0, clip_norm_factor=1.0)
    with pytest.raises(SpecError):
        make_defence("clip", max_norm=-1.0)
