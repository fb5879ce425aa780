"""FedAdam, FedYogi and FedAdagrad against a per-coordinate brute-force reference over rounds."""

import math

import pytest
import torch

from fl_node.errors import AggregationError, SpecError
from fl_node.strategies import (
    ClientUpdate,
    FedAdagrad,
    FedAdam,
    FedYogi,
    ServerState,
    make_strategy,
)
from fl_node.strategies.fedyogi import yogi_second_moment

HYPER = {"server_lr": 0.3, "beta1": 0.8, "tau": 0.01}


def reference(rule, x0, rounds, eta, beta1, beta2, tau):
    """Algorithm 2 of Reddi et al. in plain Python floats, one coordinate at a time.

    ``x0``: name -> list of floats; ``rounds``: list of rounds, each a list of
    (name -> list of floats, samples). Returns the final x, m, v and how often Yogi's sign was
    +1 / -1.
    """
    x = {k: list(v) for k, v in x0.items()}
    m = {k: [0.0] * len(v) for k, v in x0.items()}
    v = {k: [tau * tau] * len(vals) for k, vals in x0.items()}
    signs = {1: 0, -1: 0}
    for updates in rounds:
        if not updates:
            continue
        total = sum(n for _, n in updates)
        for k in x:
            for i in range(len(x[k])):
                d = sum(delta[k][i] * n for delta, n in updates) / total
                m[k][i] = beta1 * m[k][i] + (1 - beta1) * d
                if rule == "adam":
                    v[k][i] = beta2 * v[k][i] + (1 - beta2) * d * d
                elif rule == "yogi":
                    s = 1 if v[k][i] > d * d else (-1 if v[k][i] < d * d else 0)
                    if s:
                        signs[s] += 1
                    v[k][i] = v[k][i] - (1 - beta2) * d * d * s
                else:
                    v[k][i] = v[k][i] + d * d
                x[k][i] = x[k][i] + eta * m[k][i] / (math.sqrt(v[k][i]) + tau)
    return x, m, v, signs


SHAPES = {"w": (2, 3), "b": (3,)}


def make_rounds(seed=0):
    """Six rounds: two of large deltas, one empty, three of small ones (Yogi's v then shrinks)."""
    gen = torch.Generator().manual_seed(seed)
    rounds = []
    for r, scale in enumerate([1.0, 0.8, None, 0.02, 0.01, 0.03]):
        if scale is None:
            rounds.append([])
            continue
        updates = []
        for j in range(3):
            delta = {k: torch.randn(s, generator=gen) * scale for k, s in SHAPES.items()}
            updates.append(ClientUpdate(delta, samples=5 + 7 * j + r))
        rounds.append(updates)
    return rounds


def flat(tensors):
    return {k: [float(x) for x in v.flatten()] for k, v in tensors.items()}


def run(strategy, params, rounds, through_bytes=False):
    state = strategy.initial_state(params)
    for updates in rounds:
        if through_bytes:
            state = ServerState.from_bytes(state.to_bytes(), strategy=strategy.name)
        params, state = strategy.aggregate_with_state(params, updates, state)
    return params, state


STRATEGIES = [
    ("adam", FedAdam(beta2=0.95, **HYPER), 0.95),
    ("yogi", FedYogi(beta2=0.95, **HYPER), 0.95),
    ("adagrad", FedAdagrad(**HYPER), None),
]


@pytest.mark.parametrize(("rule", "strategy", "beta2"), STRATEGIES, ids=["adam", "yogi", "adagrad"])
def test_each_rule_matches_the_brute_force_reference_over_rounds(rule, strategy, beta2):
    gen = torch.Generator().manual_seed(1)
    params = {k: torch.randn(s, generator=gen) for k, s in SHAPES.items()}
    params["steps"] = torch.tensor(7, dtype=torch.int64)  # a non-float buffer rides along
    rounds = make_rounds()
    out, state = run(strategy, params, rounds)
    raw_rounds = [[(flat(u.delta), u.samples) for u in r] for r in rounds]
    floats = {k: v for k, v in params.items() if k != "steps"}
    x, m, v, signs = reference(rule, flat(floats), raw_rounds, 0.3, 0.8, beta2, 0.01)
    for k, shape in SHAPES.items():
        for got, want in ((out[k], x[k]), (state.tensors[f"m/{k}"], m[k])):
            assert torch.allclose(
                got.double(), torch.tensor(want, dtype=torch.float64).view(shape), rtol=1e-5
            )
        assert torch.allclose(
            state.tensors[f"v/{k}"].double(),
            torch.tensor(v[k], dtype=torch.float64).view(shape),
            rtol=1e-5,
            atol=1e-9,
        )
    assert torch.equal(out["steps"], params["steps"])
    assert set(state.tensors) == {"m/w", "v/w", "m/b", "v/b"}
    if rule == "yogi":  # both branches of the sign rule were exercised
        assert signs[1] > 0 and signs[-1] > 0


def test_yogi_sign_rule_by_hand():
    v = torch.tensor([1.0, 0.01, 0.25], dtype=torch.float64)
    d2 = torch.full((3,), 0.25, dtype=torch.float64)
    # v > d^2 shrinks by (1 - beta2) d^2, v < d^2 grows by it, v == d^2 stays
    want = torch.tensor([1.0 - 0.025, 0.01 + 0.025, 0.25], dtype=torch.float64)
    assert torch.allclose(yogi_second_moment(v, d2, 0.9), want)


def test_adagrad_accumulates_every_squared_pseudo_gradient():
    strategy = FedAdagrad(server_lr=1.0, beta1=0.0, tau=0.5)
    params = {"w": torch.zeros(1)}
    state = strategy.initial_state(params)
    for d in (1.0, 2.0, 3.0):
        params, state = strategy.aggregate_with_state(
            params, [ClientUpdate({"w": torch.tensor([d])}, 1)], state
        )
    assert state.tensors["v/w"].item() == pytest.approx(0.25 + 1 + 4 + 9)
    # beta1 = 0: each step is d / (sqrt(v) + tau)
    want = 1 / (math.sqrt(1.25) + 0.5) + 2 / (math.sqrt(5.25) + 0.5) + 3 / (math.sqrt(14.25) + 0.5)
    assert params["w"].item() == pytest.approx(want, rel=1e-6)


@pytest.mark.parametrize("strategy", [s for _, s, _ in STRATEGIES], ids=lambda s: s.name)
def test_a_round_replayed_from_the_stored_state_is_bit_identical(strategy):
    params = {k: torch.ones(s) for k, s in SHAPES.items()}
    in_memory, state_a = run(strategy, params, make_rounds(3))
    from_bytes, state_b = run(strategy, params, make_rounds(3), through_bytes=True)
    for k in SHAPES:
        assert torch.equal(in_memory[k], from_bytes[k])
    assert state_a.to_bytes() == state_b.to_bytes()


def test_no_updates_leaves_model_and_state_unchanged():
    strategy = FedAdam()
    params = {"w": torch.tensor([1.0, 2.0])}
    state = strategy.initial_state(params)
    out, after = strategy.aggregate_with_state(params, [], state)
    assert torch.equal(out["w"], params["w"]) and after == state


def test_initial_state_is_zero_mean_and_tau_squared():
    state = FedYogi(tau=0.1).initial_state({"w": torch.ones(2, 2), "n": torch.tensor(1)})
    assert set(state.tensors) == {"m/w", "v/w"}
    assert torch.equal(state.tensors["m/w"], torch.zeros(2, 2))
    assert torch.allclose(state.tensors["v/w"], torch.full((2, 2), 0.01))


def test_plain_aggregate_is_refused_for_a_stateful_strategy():
    with pytest.raises(AggregationError, match="stateful"):
        FedAdam().aggregate({"w": torch.ones(1)}, [ClientUpdate({"w": torch.ones(1)}, 1)])


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_a_non_finite_update_is_refused_before_touching_the_state(bad):
    strategy = FedAdam()
    params = {"w": torch.ones(2)}
    state = strategy.initial_state(params)
    before = state.to_bytes()
    poisoned = ClientUpdate({"w": torch.tensor([0.1, bad])}, 3)
    with pytest.raises(AggregationError, match="NaN or infinity"):
        strategy.aggregate_with_state(
            params, [ClientUpdate({"w": torch.ones(2)}, 1), poisoned], state
        )
    assert state.to_bytes() == before


def test_a_finite_update_whose_square_overflows_float32_is_refused_not_stored_as_infinity():
    strategy = FedAdagrad()
    params = {"w": torch.zeros(1)}
    huge = ClientUpdate({"w": torch.tensor([3e30])}, 1)  # 9e60 does not fit a float32
    with pytest.raises(AggregationError, match="next state"):
        strategy.aggregate_with_state(params, [huge], strategy.initial_state(params))


def test_a_state_that_does_not_belong_is_refused():
    params = {"w": torch.ones(2)}
    yogi_state = FedYogi().initial_state(params)
    with pytest.raises(AggregationError, match="state of 'fedyogi'"):
        FedAdam().aggregate_with_state(params, [], yogi_state)
    with pytest.raises(AggregationError, match="does not fit"):
        FedAdam().aggregate_with_state({"w": torch.ones(3)}, [], FedAdam().initial_state(params))
    negative = ServerState("fedadam", {"m/w": torch.zeros(2), "v/w": torch.tensor([1.0, -1.0])})
    with pytest.raises(AggregationError, match="negative"):
        FedAdam().aggregate_with_state(params, [], negative)
    nan_state = ServerState(
        "fedadam", {"m/w": torch.tensor([0.0, float("nan")]), "v/w": torch.ones(2)}
    )
    with pytest.raises(AggregationError, match="NaN"):
        FedAdam().aggregate_with_state(params, [], nan_state)


@pytest.mark.parametrize("name", ["fedadam", "fedyogi", "fedadagrad"])
@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("server_lr", float("nan")),
        ("server_lr", float("inf")),
        ("server_lr", 0.0),
        ("server_lr", -0.1),
        ("server_lr", 1e9),
        ("beta1", 1.0),
        ("beta1", -0.1),
        ("beta1", float("nan")),
        ("tau", 0.0),
        ("tau", 1e-30),
        ("tau", 5.0),
        ("tau", True),
        ("tau", "0.1"),
    ],
)
def test_out_of_range_hyperparameters_are_refused(name, param, value):
    with pytest.raises(SpecError):
        make_strategy(name, **{param: value})


@pytest.mark.parametrize("name", ["fedadam", "fedyogi"])
@pytest.mark.parametrize("value", [1.0, -0.5, float("nan"), 2.0])
def test_beta2_out_of_range_is_refused(name, value):
    with pytest.raises(SpecError):
        make_strategy(name, beta2=value)
