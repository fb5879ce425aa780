"""The CUDA training path: the same code as on the CPU, with and without mixed precision.

Runs where CUDA exists (it is skipped elsewhere, e.g. on the CI machines without a GPU): local
training of an MLP and the CNN on the GPU gives a finite update of the right shape, close to the
CPU's in float32, and bfloat16 autocast stays close too.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fl_node.data import LocalDataset
from fl_node.models import ModelSpec, build_model
from fl_node.training import TrainConfig, train_local

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")


def _data(image: bool) -> tuple[ModelSpec, LocalDataset]:
    rng = np.random.default_rng(0)
    if image:
        x = rng.random((256, 1, 28, 28), dtype=np.float32)
        spec = ModelSpec(784, (0.5,), (0.3,), kind="cnn", hidden=(32,), task="multiclass",
                         classes=10, input_shape=(1, 28, 28))  # fmt: skip
    else:
        x = rng.normal(size=(256, 12)).astype(np.float32)
        spec = ModelSpec(12, (0.0,) * 12, (1.0,) * 12, hidden=(32,), task="multiclass", classes=10)
    return spec, LocalDataset("gpu", x, rng.integers(0, 10, 256))


@pytest.mark.parametrize("image", [False, True])
@pytest.mark.parametrize("mixed", [False, True])
def test_training_on_cuda_matches_the_cpu(image, mixed):
    spec, data = _data(image)
    config = TrainConfig(local_epochs=1, batch_size=32, lr=0.01)
    cpu = train_local(build_model(spec), data, config, round=1, device=torch.device("cpu"))
    gpu = train_local(
        build_model(spec), data, config, round=1, device=torch.device("cuda"), mixed_precision=mixed
    )
    tolerance = 5e-2 if mixed else 1e-3
    for name, delta in cpu.delta.items():
        assert gpu.delta[name].device.type == "cpu" and gpu.delta[name].shape == delta.shape
        assert torch.isfinite(gpu.delta[name]).all()
        scale = float(delta.abs().max()) + 1e-6
        assert float((gpu.delta[name] - delta).abs().max()) / scale < tolerance, name
    assert gpu.steps == cpu.steps
