"""Task and model specifications: round trips and validation."""

import pytest

from fl_node.errors import SpecError
from fl_node.models import ModelSpec
from fl_node.task import TaskSpec
from fl_node.training import TrainConfig

MODEL = ModelSpec(n_features=2, feature_mean=(0.0, 0.0), feature_std=(1.0, 1.0))


def spec(**changes):
    base = {
        "name": "t",
        "model": MODEL,
        "train": TrainConfig(),
        "rounds": 3,
        "feature_names": ("a", "b"),
    }
    return TaskSpec(**(base | changes))


def test_round_trip_through_canonical_bytes():
    s = spec(acceptance={"accuracy": 0.9})
    assert TaskSpec.from_bytes(s.to_bytes()) == s
    assert s.to_bytes() == TaskSpec.from_bytes(s.to_bytes()).to_bytes()


@pytest.mark.parametrize(
    "changes",
    [
        {"rounds": 0},
        {"strategy": "magic"},
        {"contribution": "vibes"},
        {"feature_names": ("a",)},
        {"server_lr": -1.0},
    ],
)
def test_invalid_specs_are_rejected(changes):
    with pytest.raises(SpecError):
        spec(**changes)


@pytest.mark.parametrize("blob", [b"{}", b"not json", b'{"kind": "fedmarket/horizontal-task"}'])
def test_malformed_bytes_are_rejected(blob):
    with pytest.raises(SpecError):
        TaskSpec.from_bytes(blob)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_features": 2, "feature_mean": (0.0,), "feature_std": (1.0, 1.0)},
        {"n_features": 2, "feature_mean": (0.0, 0.0), "feature_std": (1.0, 0.0)},
        {"n_features": 2, "feature_mean": (0.0, 0.0), "feature_std": (1.0, 1.0), "kind": "cnn"},
    ],
)
def test_invalid_model_specs(kwargs):
    with pytest.raises(SpecError):
        ModelSpec(**kwargs)


def test_invalid_train_config():
    with pytest.raises(SpecError):
        TrainConfig(lr=0.0)
    with pytest.raises(SpecError):
        TrainConfig.from_dict({"local_epochs": 1, "unknown": 2, "lr": -1})


MULTI = ModelSpec(
    n_features=2, feature_mean=(0.0, 0.0), feature_std=(1.0, 1.0), task="multiclass", classes=3
)


@pytest.mark.parametrize(
    "changes",
    [
        {"acceptance": {"macro_f1": 0.5}},  # a multi-class metric on a binary task
        {"acceptance": {"accuracy": 1.5}},
        {"acceptance": {"auc": float("nan")}},
        {"model": MULTI, "acceptance": {"f1": 0.5}},
        {"strategy": "fedadam", "strategy_params": {"beta1": 2.0}},
        {"strategy": "fedprox", "strategy_params": {"momentum": 0.9}},  # not FedProx's
        {"sample_fraction": 0.0},
        {"sample_fraction": 1.5},
        {"sample_seed": -1},
    ],
)
def test_targets_strategies_and_sampling_out_of_range_are_refused(changes):
    with pytest.raises(SpecError):
        spec(**changes)


def test_the_server_learning_rate_defaults_to_the_strategys_own_and_is_written_down():
    adam = spec(strategy="fedadam", strategy_params={"tau": 0.01})
    assert adam.server_lr == pytest.approx(0.1)
    assert adam.make_strategy().params()["tau"] == pytest.approx(0.01)
    again = TaskSpec.from_bytes(adam.to_bytes())
    assert again == adam and b'"server_lr":0.1' in adam.to_bytes()
    assert spec().server_lr == 1.0


def test_sampling_is_recomputable_and_depends_on_the_round_and_the_base_model():
    people = [f"0x{i:040x}" for i in range(1, 11)]
    s = spec(sample_fraction=0.3, sample_seed=42)
    first = s.sampled(people, 1, b"\x01" * 32)
    assert len(first) == 3 and set(first) <= set(people)
    assert s.sampled(list(reversed(people)), 1, b"\x01" * 32) == first
    others = {s.sampled(people, r, b"\x01" * 32) for r in range(2, 12)}
    others |= {s.sampled(people, 1, bytes([k]) * 32) for k in range(2, 12)}
    assert len(others - {first}) >= 5
    assert spec().sampled(people, 1, b"\x01" * 32) == tuple(people)


def test_a_schema_must_agree_with_the_model():
    from fl_node.data import load_schema

    heart = load_schema("heart-disease")
    width = len(heart.encoded_names())
    model = ModelSpec(n_features=width, feature_mean=(0.0,) * width, feature_std=(1.0,) * width)
    good = spec(model=model, feature_names=heart.encoded_names(), schema=heart)
    assert TaskSpec.from_bytes(good.to_bytes()) == good
    with pytest.raises(SpecError):  # the names are not the schema's
        spec(model=model, feature_names=tuple(f"f{i}" for i in range(width)), schema=heart)
    with pytest.raises(SpecError):  # a regression model for a binary target
        regression = ModelSpec(
            n_features=width, feature_mean=(0.0,) * width, feature_std=(1.0,) * width,
            task="regression",
        )  # fmt: skip
        spec(model=regression, feature_names=heart.encoded_names(), schema=heart)


def test_a_partys_data_is_checked_against_the_task():
    import numpy as np

    from fl_node.data import LocalDataset

    multi = spec(model=MULTI)
    multi.check_data(LocalDataset("ok", np.zeros((3, 2), np.float32), np.array([0, 1, 2])))
    for bad in (
        LocalDataset("wide", np.zeros((3, 3), np.float32), np.array([0, 1, 2])),
        LocalDataset("labels", np.zeros((3, 2), np.float32), np.array([0, 1, 3])),
        LocalDataset("floats", np.zeros((3, 2), np.float32), np.array([0.0, 1.0, 2.0])),
    ):
        with pytest.raises(SpecError):
            multi.check_data(bad)
    with pytest.raises(SpecError):
        spec().check_data(LocalDataset("b", np.zeros((2, 2), np.float32), np.array([0.0, 2.0])))


def test_a_defence_round_trips_and_an_undefended_spec_keeps_its_bytes():
    plain = spec()
    assert b"defence" not in plain.to_bytes()  # specs written before issue 12 hash the same
    defended = spec(defence="trimmed_mean", defence_params={"beta": 0.2, "flag_at": 4.0})
    again = TaskSpec.from_bytes(defended.to_bytes())
    assert again == defended
    rule = again.make_defence()
    assert rule is not None and rule.name == "trimmed_mean"
    assert rule.params()["beta"] == 0.2 and rule.params()["flag_at"] == 4.0
    assert plain.make_defence() is None


@pytest.mark.parametrize(
    "changes",
    [
        {"defence": "magic"},
        {"defence": "krum", "defence_params": {"f": 0.5}},
        {"defence": "median", "defence_params": {"beta": 0.1}},
        {"defence": "median", "defence_params": {"flag_at": 0.5}},
        {"defence_params": {"flag_at": 3.0}},
    ],
    ids=["unknown", "krum-half", "foreign-param", "flag-below-one", "params-without-rule"],
)
def test_bad_defences_are_refused(changes):
    with pytest.raises(SpecError):
        spec(**changes)
