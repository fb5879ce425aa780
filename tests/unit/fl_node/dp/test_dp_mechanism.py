"""Client-side clipping and Gaussian noise (dp-fedavg), and what can be checked of an update."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from fl_node.dp import DPConfig, DPError, check_noise, clip_update, privatize_update, update_norm

DP = DPConfig("dp-fedavg", clip_norm=0.5, noise_multiplier=2.0, delta=1e-5)


def update(scale: float, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {
        "w": torch.randn(40, 25, generator=g) * scale,
        "b": torch.randn(25, generator=g) * scale,
    }


@pytest.mark.parametrize("scale", [1e-4, 0.01, 1.0, 100.0])
def test_clipping_bounds_the_norm_and_keeps_the_direction(scale: float) -> None:
    raw = update(scale)
    clipped, before = clip_update(raw, 0.5)
    flat_raw = torch.cat([t.flatten() for t in raw.values()]).double()
    flat = torch.cat([t.flatten() for t in clipped.values()]).double()
    assert before == pytest.approx(float(flat_raw.norm()), rel=1e-9)
    assert update_norm(clipped) <= 0.5 * (1 + 1e-6)
    if before <= 0.5:
        assert torch.equal(flat, flat_raw.to(flat.dtype))  # small updates pass unchanged
    else:
        assert update_norm(clipped) == pytest.approx(0.5, rel=1e-6)
        cosine = float(flat @ flat_raw / (flat.norm() * flat_raw.norm()))
        assert cosine == pytest.approx(1.0, abs=1e-6)


def test_the_noise_has_standard_deviation_sigma_times_c() -> None:
    """Noise = privatised - clipped: mean 0, std sigma * C (chi-square bounds on the variance)."""
    raw = update(0.001)  # below the clip norm: the clipped update is the raw one
    noisy = privatize_update(raw, DP, torch.Generator().manual_seed(1))
    noise = torch.cat([(noisy[k] - raw[k]).flatten() for k in raw]).double().numpy()
    n, s = noise.size, DP.noise_std
    assert s == 1.0
    # the sample variance of n normals: relative sd sqrt(2 / n); 5 sd bounds
    assert abs(noise.var() / s**2 - 1) < 5 * math.sqrt(2 / n)
    assert abs(noise.mean()) < 5 * s / math.sqrt(n)
    # normality: the share within one sd is 0.6827 (binomial sd sqrt(p (1 - p) / n))
    inside = float(np.mean(np.abs(noise) < s))
    assert abs(inside - 0.6827) < 5 * math.sqrt(0.6827 * 0.3173 / n)


def test_noise_differs_between_calls_without_a_generator() -> None:
    raw = update(1.0)
    first, second = privatize_update(raw, DP), privatize_update(raw, DP)
    assert not torch.equal(first["w"], second["w"])


def test_an_honest_update_passes_the_noise_check_and_a_dishonest_one_does_not() -> None:
    for seed in range(20):
        honest = privatize_update(update(10.0, seed), DP, torch.Generator().manual_seed(seed))
        assert check_noise(honest, DP).ok
    clipped_only, _ = clip_update(update(10.0), DP.clip_norm)
    assert not check_noise(clipped_only, DP).ok  # no noise at all
    half = DPConfig("dp-fedavg", 0.5, 1.0, 1e-5)
    weak = privatize_update(update(10.0), half, torch.Generator().manual_seed(3))
    assert not check_noise(weak, DP).ok  # half the promised noise
    noisy_unclipped = {k: v + privatize_update(update(0.0), DP)[k] for k, v in update(1.0).items()}
    assert not check_noise(noisy_unclipped, DP).ok  # norm 1.0 * sqrt(1025) above the clip norm


def test_dp_sgd_settings_are_not_privatised_here() -> None:
    with pytest.raises(DPError):
        privatize_update(update(1.0), DPConfig("dp-sgd", 1.0, 1.0, 1e-5, sample_rate=0.1))
