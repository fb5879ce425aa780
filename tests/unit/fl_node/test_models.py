"""Model families: shapes, determinism, the task kinds' heads, and specs an attacker might send."""

from __future__ import annotations

import json

import pytest
import torch

from fl_node.errors import SpecError
from fl_node.models import (
    LayerSpec,
    ModelSpec,
    build_model,
    parameter_count,
    trainable_state,
)
from fl_node.objectives import predict, task_loss


def tabular(**changes: object) -> ModelSpec:
    base: dict[str, object] = {
        "n_features": 4,
        "feature_mean": (0.0,) * 4,
        "feature_std": (1.0,) * 4,
    }
    return ModelSpec(**{**base, **changes})  # type: ignore[arg-type]


def image(**changes: object) -> ModelSpec:
    base: dict[str, object] = {
        "n_features": 784, "feature_mean": (0.1,), "feature_std": (0.3,), "kind": "cnn",
        "task": "multiclass", "classes": 10, "input_shape": (1, 28, 28), "hidden": (32,),
    }  # fmt: skip
    return ModelSpec(**{**base, **changes})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("spec", "shape"),
    [
        (tabular(kind="linear"), (5,)),
        (tabular(kind="logreg"), (5,)),
        (tabular(kind="mlp", hidden=(8, 4)), (5,)),
        (tabular(task="multiclass", classes=3), (5, 3)),
        (tabular(task="regression", target_mean=10.0, target_std=2.0), (5,)),
        (image(), (5, 10)),
        (
            image(
                input_shape=(3, 32, 32),
                n_features=3072,
                feature_mean=(0.5,) * 3,
                feature_std=(0.2,) * 3,
            ),
            (5, 10),
        ),  # fmt: skip
    ],
)
def test_every_family_and_kind_gives_its_output_shape(spec, shape):
    model = build_model(spec)
    x = torch.randn(5, *(spec.input_shape or (spec.n_features,)))
    assert model(x).shape == shape
    assert model(x.reshape(5, -1)).shape == shape  # flat rows work for images too


def test_the_same_spec_builds_the_same_initial_weights_and_the_seed_changes_them():
    a, b = trainable_state(build_model(image())), trainable_state(build_model(image()))
    c = trainable_state(build_model(image(seed=1)))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_regression_predicts_on_the_targets_scale_and_trains_on_the_standardised_one():
    spec = tabular(task="regression", target_mean=100.0, target_std=10.0, kind="linear")
    model = build_model(spec)
    x = torch.zeros(3, 4)
    assert torch.allclose(model(x), model.raw(x) * 10.0 + 100.0)
    y = model(x).detach()  # a perfect prediction costs nothing
    assert float(task_loss(model, x, y).detach()) == pytest.approx(0.0, abs=1e-10)


def test_predictions_are_probabilities_for_classifiers():
    multi = build_model(tabular(task="multiclass", classes=3))
    prob = predict(multi, torch.randn(6, 4).numpy())
    assert prob.shape == (6, 3) and prob.sum(axis=1) == pytest.approx(1.0)
    binary = predict(build_model(tabular()), torch.randn(6, 4).numpy())
    assert binary.shape == (6,) and ((binary > 0) & (binary < 1)).all()


def test_a_declared_architecture_builds_from_the_vocabulary_and_round_trips():
    layers = (
        LayerSpec("conv2d", size=8, kernel=3, padding=1), LayerSpec("relu"),
        LayerSpec("maxpool2d", kernel=2, stride=2), LayerSpec("flatten"),
        LayerSpec("linear", size=16), LayerSpec("gelu"), LayerSpec("dropout", p=0.1),
    )  # fmt: skip
    spec = image(kind="declared", layers=layers, hidden=())
    model = build_model(spec)
    assert model(torch.randn(2, 1, 28, 28)).shape == (2, 10)
    assert parameter_count(spec) == sum(p.numel() for p in model.parameters())
    again = ModelSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    assert again == spec


@pytest.mark.parametrize(
    "raw_layers",
    [
        [{"op": "__import__", "size": 1}],  # not in the vocabulary
        [{"op": "linear", "size": 8, "code": "print(1)"}],  # unknown key
        [{"op": "linear", "size": 10**9}],  # too wide
        [{"op": "conv2d", "size": 8, "kernel": 3}],  # a convolution on a flat row
        [{"op": "linear", "size": 4096}, {"op": "linear", "size": 4096}],  # over the limit
        [{"op": "maxpool2d", "kernel": 9}] * 1,  # not an image
        "lambda x: x",
    ],
)
def test_a_declared_spec_that_is_not_in_the_vocabulary_or_does_not_fit_is_refused(raw_layers):
    raw = tabular(kind="mlp").to_dict() | {"kind": "declared", "layers": raw_layers}
    raw["n_features"], raw["feature_mean"], raw["feature_std"] = 4096, [0.0] * 4096, [1.0] * 4096
    with pytest.raises(SpecError):
        spec = ModelSpec.from_dict(raw)
        build_model(spec)


@pytest.mark.parametrize(
    "changes",
    [
        {"kind": "transformer"},
        {"task": "ranking"},
        {"task": "multiclass", "classes": 1},
        {"task": "binary", "classes": 3},
        {"feature_std": (1.0, 1.0, 0.0, 1.0)},
        {"feature_mean": (float("nan"),) * 4},
        {"target_std": 0.0},
        {"hidden": (10**6,)},
        {"kind": "cnn"},  # no image shape
        {"input_shape": (1, 2, 3)},  # 6 values for 4 features
    ],
)
def test_malformed_model_specs_are_refused(changes):
    with pytest.raises(SpecError):
        tabular(**changes)


def test_a_cnn_on_an_image_too_small_for_its_pools_is_refused():
    spec = image(input_shape=(1, 2, 2), n_features=4, channels=(4, 4, 4))
    with pytest.raises(SpecError):
        build_model(spec)
