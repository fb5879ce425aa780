"""The strategy registry: names, hyperparameters by keyword, and refusals."""

import math

import pytest

from fl_node.errors import SpecError
from fl_node.strategies import PARAMETERS, STRATEGIES, FedAdam, FedProx, make_strategy


def test_every_strategy_is_registered_under_its_name():
    assert set(STRATEGIES) == {"fedavg", "fedsgd", "fedprox", "fedadam", "fedyogi", "fedadagrad"}
    for name, cls in STRATEGIES.items():
        assert cls.name == name


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_params_round_trip_through_make_strategy(name):
    default = make_strategy(name)
    assert set(default.params()) == set(PARAMETERS[name])
    assert all(isinstance(v, float) and math.isfinite(v) for v in default.params().values())
    changed = {k: v * 0.5 if v else 0.25 for k, v in default.params().items()}
    rebuilt = make_strategy(name, **changed)
    assert rebuilt.params() == changed
    assert make_strategy(name, **rebuilt.params()).params() == changed


def test_keywords_reach_the_constructor_and_server_lr_stays_positional():
    adam = make_strategy("fedadam", server_lr=0.05, beta1=0.5, beta2=0.9, tau=1e-4)
    assert isinstance(adam, FedAdam)
    assert (adam.server_lr, adam.beta1, adam.beta2, adam.tau) == (0.05, 0.5, 0.9, 1e-4)
    prox = make_strategy("fedprox", 0.8, mu=1)  # how TaskSpec calls it, and an int is a number
    assert isinstance(prox, FedProx) and prox.params() == {"mu": 1.0, "server_lr": 0.8}


@pytest.mark.parametrize("name", ["nope", "", "FedAvg", None])
def test_unknown_names_are_refused(name):
    with pytest.raises(SpecError, match="unknown strategy"):
        make_strategy(name)


@pytest.mark.parametrize(
    ("name", "params"),
    [("fedavg", {"mu": 0.1}), ("fedadagrad", {"beta2": 0.9}), ("fedadam", {"eta": 0.1})],
)
def test_unknown_parameters_are_refused(name, params):
    with pytest.raises(SpecError, match="takes no parameter"):
        make_strategy(name, **params)


@pytest.mark.parametrize("name", sorted(STRATEGIES))
@pytest.mark.parametrize("value", [float("nan"), float("inf"), -1.0, 0.0, 1e6, "1", False])
def test_bad_server_lr_is_refused_everywhere(name, value):
    with pytest.raises(SpecError):
        make_strategy(name, server_lr=value)
