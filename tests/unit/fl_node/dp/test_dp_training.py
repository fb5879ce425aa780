"""DP in local training: dp-fedavg privatises the returned delta, dp-sgd trains through Opacus."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from fl_node.data import LocalDataset
from fl_node.dp import DPConfig, DPError, check_noise, update_norm
from fl_node.models import ModelSpec, build_model
from fl_node.training import TrainConfig, train_local

MODEL = ModelSpec(4, (0.0,) * 4, (1.0,) * 4, kind="mlp", hidden=(64,), seed=3)
CPU = torch.device("cpu")


def party(rows: int = 200, seed: int = 0) -> LocalDataset:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 4)).astype(np.float32)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.float32)
    return LocalDataset("p", x, y)


def test_dp_fedavg_returns_a_clipped_and_noised_delta() -> None:
    dp = DPConfig("dp-fedavg", clip_norm=0.1, noise_multiplier=1.0, delta=1e-5)
    config = TrainConfig(local_epochs=1, batch_size=20, dp=dp)
    plain = train_local(build_model(MODEL), party(), replace(config, dp=None), round=1, device=CPU)
    private = train_local(
        build_model(MODEL),
        party(),
        config,
        round=1,
        device=CPU,
        generator=torch.Generator().manual_seed(0),
    )
    assert update_norm(plain.delta) > 0.1  # clipping has work to do
    assert check_noise(private.delta, dp).ok
    assert not check_noise(plain.delta, dp).ok
    assert private.samples == plain.samples and private.loss == plain.loss


def test_dp_sgd_trains_with_noise_and_is_reproducible_with_a_seeded_generator() -> None:
    dp = DPConfig("dp-sgd", clip_norm=1.0, noise_multiplier=0.8, delta=1e-5, sample_rate=0.1)
    config = TrainConfig(local_epochs=2, lr=0.1, momentum=0.0, weight_decay=0.0, dp=dp)

    def run(seed: int) -> tuple[dict[str, torch.Tensor], int, float]:
        model = build_model(MODEL)
        result = train_local(
            model,
            party(),
            config,
            round=1,
            device=CPU,
            generator=torch.Generator().manual_seed(seed),
        )
        assert not any(
            hasattr(p, "grad_sample") and p.grad_sample is not None for p in model.parameters()
        )
        return result.delta, result.steps, result.loss

    first, steps, loss = run(1)
    again, _, _ = run(1)
    other, _, _ = run(2)
    assert steps == dp.steps_per_round(2) == 20 and loss > 0
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert any(not torch.equal(first[k], other[k]) for k in first)
    assert update_norm(first) > 0


def test_dp_sgd_clips_each_example_gradient() -> None:
    """Without noise and with one step over one row, the step is lr * clipped gradient."""
    dp = DPConfig("dp-sgd", clip_norm=1e-3, noise_multiplier=1e-6, delta=1e-5, sample_rate=1.0)
    config = TrainConfig(local_epochs=1, lr=1.0, momentum=0.0, weight_decay=0.0, dp=dp)
    result = train_local(build_model(MODEL), party(rows=1), config, round=1, device=CPU)
    assert update_norm(result.delta) == pytest.approx(1e-3, rel=1e-3)


def test_dp_sgd_refuses_a_proximal_term() -> None:
    dp = DPConfig("dp-sgd", 1.0, 1.0, 1e-5, sample_rate=0.1)
    with pytest.raises(DPError):
        train_local(
            build_model(MODEL), party(), TrainConfig(proximal_mu=0.1, dp=dp), round=1, device=CPU
        )
