"""Every strategy trains: federated least squares over clients with different data.

Five clients hold linear-regression data drawn around different true weights (non-IID). Each
round every client runs a few local gradient steps from the global model (with the FedProx
penalty where the strategy asks for it) and the strategy aggregates the deltas. The global loss
on the union of the data must fall to near the least-squares optimum.
"""

import pytest
import torch

from fl_node.strategies import ClientUpdate, make_strategy, proximal_penalty

D = 4


def clients(seed=0):
    gen = torch.Generator().manual_seed(seed)
    out = []
    for i in range(5):
        n = 20 + 10 * i
        x = torch.randn(n, D, generator=gen)
        w_true = torch.linspace(-1, 1, D) + 0.5 * torch.randn(D, generator=gen)
        out.append((x, x @ w_true + 0.1 * torch.randn(n, generator=gen)))
    return out


def loss(w, data):
    x = torch.cat([d[0] for d in data])
    y = torch.cat([d[1] for d in data])
    return float(((x @ w - y) ** 2).mean())


def local_delta(w_global, x, y, mu, steps=5, lr=0.05):
    w = w_global.clone().requires_grad_(True)
    for _ in range(steps):
        objective = ((x @ w - y) ** 2).mean()
        if mu:
            objective = objective + proximal_penalty({"w": w}, {"w": w_global}, mu)
        (grad,) = torch.autograd.grad(objective, w)
        w = (w - lr * grad).detach().requires_grad_(True)
    return w.detach() - w_global


def train(name, rounds, **params):
    strategy = make_strategy(name, **params)
    mu = params.get("mu", 0.0)
    data = clients()
    model = {"w": torch.zeros(D)}
    state = strategy.initial_state(model)
    for _ in range(rounds):
        updates = [ClientUpdate({"w": local_delta(model["w"], x, y, mu)}, len(y)) for x, y in data]
        model, state = strategy.aggregate_with_state(model, updates, state)
    return model["w"], data


def optimum(data):
    x = torch.cat([d[0] for d in data]).double()
    y = torch.cat([d[1] for d in data]).double()
    return torch.linalg.lstsq(x, y.unsqueeze(1)).solution.squeeze(1).float()


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("fedavg", {}),
        ("fedprox", {"mu": 0.1}),
        ("fedadam", {"server_lr": 0.05}),
        ("fedyogi", {"server_lr": 0.05}),
        ("fedadagrad", {"server_lr": 0.2}),
    ],
)
def test_each_strategy_reaches_the_least_squares_optimum(name, params):
    w, data = train(name, 80, **params)
    best = loss(optimum(data), data)
    start = loss(torch.zeros(D), data)
    assert loss(w, data) - best < 0.01 * (start - best)


def test_the_proximal_term_keeps_local_models_closer_to_the_global_one():
    x, y = clients()[0]
    w0 = torch.zeros(D)
    free = local_delta(w0, x, y, mu=0.0, steps=20).norm()
    held = local_delta(w0, x, y, mu=5.0, steps=20).norm()
    assert held < 0.7 * free
