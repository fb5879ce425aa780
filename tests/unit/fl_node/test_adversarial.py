"""FGSM, PGD and the robustness metrics against hand-computed results on tiny linear models."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from fl_node.adversarial import AdversarialConfig, adversarial_metrics, fgsm, pgd
from fl_node.data import LocalDataset
from fl_node.errors import SpecError
from fl_node.models import FedModel, ModelSpec, build_model
from fl_node.objectives import task_loss

W = (2.0, -3.0)
B = 0.5
STD = (2.0, 0.5)


def logistic(std: tuple[float, float] = STD) -> FedModel:
    """``logit = w . ((x - 0) / std) + b`` with hand-set weights."""
    model = build_model(ModelSpec(2, (0.0, 0.0), std, kind="linear", task="binary", hidden=()))
    with torch.no_grad():
        linear = model.body[-1]
        linear.weight.copy_(torch.tensor([W]))
        linear.bias.fill_(B)
    return model


def test_fgsm_moves_each_feature_by_epsilon_std_against_the_label() -> None:
    model = logistic()
    x = torch.tensor([[1.0, 1.0], [1.0, 1.0]])
    y = torch.tensor([1.0, 0.0])
    adv = fgsm(model, x, y, 0.1)
    # y = 1: the loss grows as the logit falls: move against sign(w) = (+, -), scaled by std
    assert torch.allclose(adv[0], torch.tensor([1.0 - 0.1 * 2.0, 1.0 + 0.1 * 0.5]))
    # y = 0: the loss grows with the logit: move along sign(w)
    assert torch.allclose(adv[1], torch.tensor([1.0 + 0.1 * 2.0, 1.0 - 0.1 * 0.5]))
    # the logit moves by epsilon * ||w||_1 (weights on standardised inputs): hand-computed losses
    z = 2.0 * 1.0 / 2.0 - 3.0 * 1.0 / 0.5 + B  # -5.5
    shift = 0.1 * (2.0 + 3.0)
    for row, (label, moved) in enumerate(((1.0, z - shift), (0.0, z + shift))):
        expected = (
            -math.log(torch.sigmoid(torch.tensor(moved)).item())
            if label
            else math.log1p(math.exp(moved))
        )
        got = task_loss(model, adv[row : row + 1], y[row : row + 1]).item()
        assert got == pytest.approx(expected, rel=1e-5)
        assert got > task_loss(model, x[row : row + 1], y[row : row + 1]).item()


def test_epsilon_zero_changes_nothing() -> None:
    model = logistic()
    x = torch.randn(5, 2)
    y = torch.tensor([0.0, 1.0, 1.0, 0.0, 1.0])
    assert torch.equal(fgsm(model, x, y, 0.0), x)
    assert torch.equal(pgd(model, x, y, 0.0, 0.1, 5), x)
    data = LocalDataset("d", x.numpy(), y.numpy())
    report = adversarial_metrics(model, data, AdversarialConfig(epsilon=0.0))
    assert report.clean == report.fgsm == report.pgd
    assert report.fgsm_drop == report.pgd_drop == 0.0 and report.meets_target


def _mlp(task: str = "multiclass", **kw: object) -> FedModel:
    spec = ModelSpec(3, (0.5, -1.0, 0.0), (1.0, 2.0, 0.5), kind="mlp", hidden=(8,), seed=3,
                     task=task, **kw)  # type: ignore[arg-type]  # fmt: skip
    return build_model(spec)


def test_pgd_stays_in_the_ball_and_beats_fgsm_on_average() -> None:
    model = _mlp(classes=3)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(64, 3, generator=gen)
    y = torch.randint(0, 3, (64,), generator=gen)
    eps = 0.3
    adv = pgd(model, x, y, eps, step=0.05, steps=20, seed=1)
    radius = eps * torch.tensor([1.0, 2.0, 0.5])
    assert bool(((adv - x).abs() <= radius + 1e-6).all())
    assert not torch.equal(adv, x)
    fgsm_loss = task_loss(model, fgsm(model, x, y, eps), y).item()
    pgd_loss = task_loss(model, adv, y).item()
    assert pgd_loss >= fgsm_loss > task_loss(model, x, y).item()


def test_pgd_reaches_fgsm_corner_on_a_linear_model() -> None:
    """On a linear model the corner FGSM picks is optimal; PGD's steps reach it from anywhere."""
    model = logistic()
    x = torch.tensor([[1.0, 1.0], [-0.5, 2.0]])
    y = torch.tensor([1.0, 0.0])
    assert torch.allclose(pgd(model, x, y, 0.2, 0.05, 10, seed=4), fgsm(model, x, y, 0.2))


def test_images_are_clamped_to_the_pixel_range() -> None:
    spec = ModelSpec(4, (0.5,), (0.25,), kind="linear", task="binary", input_shape=(1, 2, 2))
    model = build_model(spec)
    with torch.no_grad():
        model.body[-1].weight.copy_(torch.tensor([[1.0, -1.0, 1.0, -1.0]]))
    x = torch.tensor([[[[0.95, 0.02], [0.5, 0.5]]]])
    adv = fgsm(model, x, torch.tensor([0.0]), 0.1)  # y = 0: along sign(w), not scaled by std
    assert torch.allclose(adv, torch.tensor([[[[1.0, 0.0], [0.6, 0.4]]]]))
    adv = pgd(model, x, torch.tensor([0.0]), 0.1, 0.05, 10)
    assert bool((adv >= 0).all() and (adv <= 1).all() and ((adv - x).abs() <= 0.1 + 1e-6).all())


def test_regression_attack_raises_the_error() -> None:
    model = _mlp(task="regression", target_mean=1.0, target_std=2.0)
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(32, 3, generator=gen)
    y = torch.randn(32, generator=gen)
    data = LocalDataset("r", x.numpy(), y.numpy())
    report = adversarial_metrics(model, data, AdversarialConfig(epsilon=0.2))
    assert report.metric == "rmse"
    clean = float(torch.sqrt(((model(x).detach() - y) ** 2).mean()))
    assert report.clean == pytest.approx(clean, rel=1e-5)
    assert report.pgd >= report.fgsm > report.clean and report.pgd_drop > 0


def test_accuracy_under_attack_matches_the_margin_rule() -> None:
    """A linear classifier errs under the worst L-inf attack exactly when its margin is small."""
    model = logistic()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 2)).astype(np.float32) * np.array(STD, dtype=np.float32)
    y = (rng.random(400) < 0.5).astype(np.float32)
    eps = 0.25
    z = (x / np.array(STD)) @ np.array(W) + B
    correct = (z >= 0) == (y == 1)
    robust = correct & (np.abs(z) > eps * sum(abs(w) for w in W))
    report = adversarial_metrics(
        model, LocalDataset("d", x, y), AdversarialConfig(eps, pgd_steps=10), batch=64
    )
    assert report.clean == pytest.approx(correct.mean())
    assert report.fgsm == pytest.approx(robust.mean())
    assert report.pgd == pytest.approx(robust.mean())
    assert report.pgd_drop == pytest.approx((correct.mean() - robust.mean()) / correct.mean())
    assert report.meets_target == (report.pgd_drop <= 0.05)


def test_parameters_gradients_and_mode_are_untouched() -> None:
    model = _mlp(classes=3)
    model.train()
    x = torch.randn(8, 3)
    y = torch.zeros(8, dtype=torch.long)
    pgd(model, x, y, 0.1, 0.05, 3)
    assert model.training and all(p.grad is None for p in model.parameters())


def test_config_rejects_nonsense() -> None:
    for bad in ({"epsilon": -1.0}, {"epsilon": math.nan}, {"epsilon": 0.1, "pgd_steps": 0}):
        with pytest.raises(SpecError):
            AdversarialConfig(**bad)  # type: ignore[arg-type]
    assert AdversarialConfig(0.1).step == pytest.approx(0.025)
