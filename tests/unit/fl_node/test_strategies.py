"""Aggregation against hand-computed averages."""

import pytest
import torch

from fl_node.errors import AggregationError, SpecError
from fl_node.strategies import ClientUpdate, FedAvg, FedSGD, ServerState, make_strategy
from fl_node.strategies._utils import apply_delta, weighted_average
from fl_node.training import TrainConfig


def t(*values):
    return torch.tensor(values, dtype=torch.float32)


def test_weighted_average_by_hand():
    deltas = [{"w": t(1.0, 0.0)}, {"w": t(0.0, 3.0)}]
    out = weighted_average(deltas, [1, 3])
    assert torch.allclose(out["w"], t(0.25, 2.25))


@pytest.mark.parametrize(
    ("deltas", "weights"),
    [
        ([], []),
        ([{"w": t(1.0)}], [0]),
        ([{"w": t(1.0)}, {"v": t(1.0)}], [1, 1]),
        ([{"w": t(1.0)}], [1, 2]),
    ],
)
def test_weighted_average_rejects_bad_input(deltas, weights):
    with pytest.raises(AggregationError):
        weighted_average(deltas, weights)


def test_fedavg_weights_by_samples_and_keeps_other_tensors():
    params = {"w": t(1.0, 1.0), "b": t(5.0)}
    updates = [
        ClientUpdate({"w": t(2.0, 0.0), "b": t(1.0)}, samples=10),
        ClientUpdate({"w": t(-2.0, 4.0), "b": t(0.0)}, samples=30),
    ]
    out = FedAvg().aggregate(params, updates)
    # mean delta w = (10*[2,0] + 30*[-2,4]) / 40 = [-1, 3]
    assert torch.allclose(out["w"], t(0.0, 4.0))
    assert torch.allclose(out["b"], t(5.25))
    assert torch.equal(params["w"], t(1.0, 1.0))  # inputs untouched


def test_no_updates_leaves_the_model_unchanged():
    params = {"w": t(1.0)}
    assert torch.equal(FedAvg().aggregate(params, [])["w"], params["w"])
    assert torch.equal(FedSGD().aggregate(params, [])["w"], params["w"])


def test_fedsgd_is_one_full_batch_step_scaled_by_the_server_lr():
    cfg = FedSGD(server_lr=0.1).configure_train(TrainConfig())
    assert (cfg.local_epochs, cfg.batch_size, cfg.lr, cfg.momentum, cfg.max_steps) == (
        1,
        0,
        1.0,
        0.0,
        1,
    )
    out = FedSGD(server_lr=0.1).aggregate({"w": t(1.0)}, [ClientUpdate({"w": t(-2.0)}, 5)])
    assert torch.allclose(out["w"], t(0.8))


def test_apply_delta_and_factory():
    assert torch.allclose(apply_delta({"w": t(1.0)}, {"w": t(2.0)}, 0.5)["w"], t(2.0))
    assert isinstance(make_strategy("fedavg"), FedAvg)
    with pytest.raises(SpecError):
        make_strategy("nope")


@pytest.mark.parametrize("cls", [FedAvg, FedSGD])
@pytest.mark.parametrize("server_lr", [float("nan"), float("inf"), 0.0, -1.0, 1e4])
def test_stateless_strategies_refuse_bad_server_lr(cls, server_lr):
    with pytest.raises(SpecError):
        cls(server_lr=server_lr)


@pytest.mark.parametrize("cls", [FedAvg, FedSGD])
def test_stateless_strategies_pass_the_state_through(cls):
    strategy = cls(server_lr=0.5)
    params = {"w": t(1.0, 2.0)}
    updates = [ClientUpdate({"w": t(2.0, 2.0)}, 4)]
    state = strategy.initial_state(params)
    assert state == ServerState.empty(strategy.name) and not strategy.stateful
    out, after = strategy.aggregate_with_state(params, updates, state)
    assert torch.equal(out["w"], strategy.aggregate(params, updates)["w"])
    assert torch.allclose(out["w"], t(2.0, 3.0))
    assert after is state


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_stateless_strategies_refuse_a_non_finite_update(bad):
    updates = [ClientUpdate({"w": t(1.0)}, 1), ClientUpdate({"w": t(bad)}, 1)]
    with pytest.raises(AggregationError):
        FedAvg().aggregate({"w": t(0.0)}, updates)
    with pytest.raises(AggregationError):
        FedAvg().aggregate({"w": t(0.0)}, [ClientUpdate({"w": t(1.0)}, 0)])
