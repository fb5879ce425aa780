"""FedProx: the proximal penalty against a brute-force sum, and FedAvg's aggregation."""

import dataclasses

import pytest
import torch

from fl_node.errors import ModelIntegrityError, SpecError
from fl_node.strategies import ClientUpdate, FedAvg, FedProx, make_strategy, proximal_penalty
from fl_node.training import TrainConfig


def brute_force_penalty(params, global_params, mu):
    total = 0.0
    for name, tensor in params.items():
        for a, b in zip(
            tensor.flatten().tolist(), global_params[name].flatten().tolist(), strict=True
        ):
            total += (a - b) ** 2
    return mu / 2 * total


def random_pair(seed):
    gen = torch.Generator().manual_seed(seed)
    shapes = {"net.0.weight": (4, 3), "net.0.bias": (4,), "net.2.weight": (1, 4)}
    local = {k: torch.randn(s, generator=gen) for k, s in shapes.items()}
    anchor = {k: torch.randn(s, generator=gen) for k, s in shapes.items()}
    return local, anchor


@pytest.mark.parametrize("mu", [0.0, 0.01, 0.5, 3.0])
def test_penalty_matches_the_brute_force_sum(mu):
    local, anchor = random_pair(int(mu * 100))
    got = proximal_penalty(local, anchor, mu)
    assert got.shape == ()
    assert got.item() == pytest.approx(brute_force_penalty(local, anchor, mu), rel=1e-5, abs=1e-9)


def test_penalty_gradient_is_mu_times_the_drift_and_the_anchor_gets_none():
    local, anchor = random_pair(7)
    local = {k: v.clone().requires_grad_(True) for k, v in local.items()}
    anchor = {k: v.clone().requires_grad_(True) for k, v in anchor.items()}
    proximal_penalty(local, anchor, 0.2).backward()
    for name, tensor in local.items():
        assert torch.allclose(tensor.grad, 0.2 * (tensor.detach() - anchor[name].detach()))
        assert anchor[name].grad is None


def test_penalty_through_a_real_module():
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.ReLU(), torch.nn.Linear(2, 1))
    anchor = {k: v.detach().clone() for k, v in model.state_dict().items()}
    assert proximal_penalty(dict(model.named_parameters()), anchor, 1.0).item() == 0.0
    with torch.no_grad():
        model[0].bias.add_(1.0)  # two coordinates moved by 1
    assert proximal_penalty(dict(model.named_parameters()), anchor, 1.0).item() == pytest.approx(
        1.0
    )


def test_penalty_refuses_a_global_model_that_does_not_fit():
    local, anchor = random_pair(1)
    with pytest.raises(ModelIntegrityError):
        proximal_penalty(local, {k: v for k, v in anchor.items() if k != "net.0.bias"}, 0.1)
    with pytest.raises(ModelIntegrityError):
        proximal_penalty(local, {**anchor, "net.0.bias": torch.zeros(5)}, 0.1)


@pytest.mark.parametrize("mu", [float("nan"), float("inf"), -0.1, 1e6, True, "0.1"])
def test_bad_mu_is_refused(mu):
    local, anchor = random_pair(2)
    with pytest.raises(SpecError):
        proximal_penalty(local, anchor, mu)
    with pytest.raises(SpecError):
        make_strategy("fedprox", mu=mu)


def test_fedprox_aggregates_exactly_as_fedavg():
    params = {"w": torch.tensor([1.0, 1.0]), "b": torch.tensor([5.0])}
    updates = [
        ClientUpdate({"w": torch.tensor([2.0, 0.0]), "b": torch.tensor([1.0])}, samples=10),
        ClientUpdate({"w": torch.tensor([-2.0, 4.0]), "b": torch.tensor([0.0])}, samples=30),
    ]
    prox = FedProx(mu=0.5, server_lr=0.7).aggregate(params, updates)
    avg = FedAvg(server_lr=0.7).aggregate(params, updates)
    assert all(torch.equal(prox[k], avg[k]) for k in params)
    assert not FedProx.stateful


def test_configure_train_hands_the_participants_mu():
    """Once ``TrainConfig`` has ``proximal_mu`` the strategy sets it; until then it refuses."""
    base = TrainConfig(lr=0.02)
    has_field = "proximal_mu" in {f.name for f in dataclasses.fields(TrainConfig)}
    if not has_field:
        with pytest.raises(SpecError, match="proximal_mu"):
            FedProx(mu=0.3).configure_train(base)
        return
    cfg = FedProx(mu=0.3).configure_train(base)
    assert cfg.proximal_mu == 0.3
    assert dataclasses.replace(cfg, proximal_mu=base.proximal_mu) == base  # nothing else changed
