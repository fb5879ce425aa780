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
