"""make_defence (names, parameters, round trip, refusals) and Defended around a strategy."""

import math

import pytest
import torch

from fl_node.errors import SpecError
from fl_node.strategies import FedAdam, FedAvg, ServerState
from fl_node.strategies.base import ClientUpdate
from fl_node.strategies.robust import (
    DEFENCE_PARAMETERS,
    DEFENCES,
    Defended,
    RoundInputs,
    make_defence,
)
from fl_node.strategies.robust.base import Defence

NAMES = {"clip", "median", "trimmed_mean", "krum", "multi_krum", "fltrust", "trusted_vote"}
NON_DEFAULT = {
    "clip": {"max_norm": 2.0, "norm_factor": 1.5, "flag_at": 0.0},
    "median": {"flag_at": 4.0, "clip_norm_factor": 2.0},
    "trimmed_mean": {"beta": 0.3, "clip_max_norm": 5.0},
    "krum": {"f": 0.1, "flag_at": 1.0},
    "multi_krum": {"f": 0.3, "m": 0.5},
    "fltrust": {"flag_at": 2.5, "clip_max_norm": 1.0},
    "trusted_vote": {"central": 0.0, "flag_at": 5.0},
}


def test_every_rule_is_registered_by_name():
    assert set(DEFENCES) == NAMES
    assert all(issubclass(cls, Defence) for cls in DEFENCES.values())


@pytest.mark.parametrize("name", sorted(NAMES))
def test_params_round_trip(name):
    defence = make_defence(name, **NON_DEFAULT[name])
    assert defence.name == name
    for key, value in NON_DEFAULT[name].items():
        assert defence.params()[key] == value
    rebuilt = make_defence(name, **defence.params())
    assert rebuilt.params() == defence.params()
    assert set(defence.params()) == set(DEFENCE_PARAMETERS[name])


@pytest.mark.parametrize("name", sorted(NAMES))
def test_unknown_parameters_and_bad_values_are_refused(name):
    base = {"max_norm": 1.0} if name == "clip" else {}
    with pytest.raises(SpecError):
        make_defence(name, **base, gamma=1.0)
    for bad in (-1.0, 0.5, 101.0, math.inf, math.nan, "3", True):
        with pytest.raises(SpecError):
            make_defence(name, **base, flag_at=bad)
    with pytest.raises(SpecError):
        make_defence(name, **base, clip_norm_factor=-0.1)


def test_unknown_names_and_out_of_range_rule_parameters_are_refused():
    for name in ("fedavg", "Median", "", None):
        with pytest.raises(SpecError):
            make_defence(name)
    for name, params in (
        ("krum", {"f": 0.5}),
        ("multi_krum", {"m": 1.5}),
        ("multi_krum", {"f": -0.1}),
        ("trimmed_mean", {"beta": 0.5}),
        ("trusted_vote", {"central": 2.0}),
    ):
        with pytest.raises(SpecError):
            make_defence(name, **params)


PARAMS = {"w": torch.tensor([1.0, 1.0]), "b": torch.tensor([0.5])}


def updates():
    rows = [([1.0, 2.0], [0.0]), ([2.0, 2.0], [1.0]), ([3.0, 2.0], [2.0]), ([90.0, -50.0], [9.0])]
    return [
        ClientUpdate({"w": torch.tensor(w), "b": torch.tensor(b)}, 10 * (i + 1))
        for i, (w, b) in enumerate(rows)
    ]


def test_defended_fedavg_applies_the_robust_delta_with_server_lr():
    defence = make_defence("median", flag_at=0)
    strategy = Defended(defence, FedAvg(server_lr=0.5))
    assert strategy.name == "fedavg" and strategy.params() == {"server_lr": 0.5}
    assert not strategy.stateful
    got = strategy.aggregate(PARAMS, updates())
    # the median: w = [(2 + 3) / 2, 2], b = (1 + 2) / 2
    assert got["w"].tolist() == pytest.approx([1.0 + 0.5 * 2.5, 1.0 + 0.5 * 2.0])
    assert got["b"].tolist() == pytest.approx([0.5 + 0.5 * 1.5])
    robust = defence.combine(updates(), RoundInputs()).delta
    state = ServerState.empty("fedavg")
    with_state = strategy.aggregate_with_state(PARAMS, updates(), state)
    for k in PARAMS:
        assert torch.allclose(with_state.params[k], PARAMS[k] + 0.5 * robust[k])
    assert with_state.state == state


def test_defended_passes_the_round_inputs_and_no_updates_leave_the_model_unchanged():
    root = {"w": torch.tensor([1.0, 0.0]), "b": torch.tensor([0.0])}
    strategy = Defended(make_defence("fltrust"), FedAvg(), RoundInputs(root_delta=root))
    assert strategy.aggregate(PARAMS, [])["w"].tolist() == [1.0, 1.0]
    moved = strategy.aggregate(PARAMS, updates()[:3])
    assert float(torch.linalg.vector_norm(moved["w"] - PARAMS["w"])) <= 1.0 + 1e-6


def test_defended_fedadam_is_stateful_and_feeds_the_robust_delta_to_the_moments():
    inner = FedAdam(server_lr=0.1)
    defence = make_defence("trimmed_mean", beta=0.25, flag_at=0)
    strategy = Defended(defence, inner)
    assert strategy.stateful and strategy.name == inner.name
    state = strategy.initial_state(PARAMS)
    assert state == inner.initial_state(PARAMS)
    got = strategy.aggregate_with_state(PARAMS, updates(), state)
    robust = defence.combine(updates(), RoundInputs()).delta
    want = inner.aggregate_with_state(PARAMS, [ClientUpdate(robust, 100)], state)
    for k in PARAMS:
        assert torch.allclose(got.params[k], want.params[k])
    assert got.state == want.state


def test_only_fltrust_reads_a_root_update_and_only_the_vote_reads_ballots() -> None:
    """The coordinator, the audit and the bench ask the rule, never its name."""
    assert {name for name, cls in DEFENCES.items() if cls.uses_root} == {"fltrust"}
    assert {name for name, cls in DEFENCES.items() if cls.uses_ballots} == {"trusted_vote"}
