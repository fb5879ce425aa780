"""DP settings, the accountant wrapper, calibration to a target epsilon, and the task spec field."""

from __future__ import annotations

import pytest

from fl_node.dp import DPConfig, DPError, PrivacyBudgetError, calibrate, epsilon, task_budget
from fl_node.errors import SpecError
from fl_node.models import ModelSpec
from fl_node.task import TaskSpec
from fl_node.training import TrainConfig

MODEL = ModelSpec(n_features=2, feature_mean=(0.0, 0.0), feature_std=(1.0, 1.0))
FEDAVG = DPConfig("dp-fedavg", clip_norm=1.0, noise_multiplier=3.0, delta=1e-5)
SGD = DPConfig("dp-sgd", clip_norm=1.0, noise_multiplier=1.1, delta=1e-5, sample_rate=0.05)


def spec(**changes: object) -> TaskSpec:
    base: dict[str, object] = {
        "name": "t",
        "model": MODEL,
        "train": TrainConfig(),
        "rounds": 3,
        "feature_names": ("a", "b"),
    }
    return TaskSpec(**(base | changes))  # type: ignore[arg-type]


@pytest.mark.parametrize("accountant", ["rdp", "prv"])
def test_more_rounds_spend_more_and_more_noise_spends_less(accountant: str) -> None:
    spent = [epsilon(1.0, 0.05, steps, 1e-5, accountant) for steps in (10, 100, 1000)]
    assert spent[0] < spent[1] < spent[2]
    noisier = [epsilon(sigma, 0.05, 100, 1e-5, accountant) for sigma in (0.8, 1.2, 3.0)]
    assert noisier[0] > noisier[1] > noisier[2]
    assert epsilon(1.0, 0.05, 0, 1e-5, accountant) == 0.0


def test_prv_is_at_most_rdp_up_to_its_error() -> None:
    """PRV accounting is tight; RDP's conversion is an upper bound: PRV <= RDP (+ its error)."""
    for sigma, q, steps in [(1.0, 0.01, 1000), (3.0, 1.0, 10), (0.8, 0.1, 200)]:
        assert epsilon(sigma, q, steps, 1e-5, "prv") <= epsilon(sigma, q, steps, 1e-5, "rdp") + 0.02


@pytest.mark.parametrize("target", [1.0, 3.0, 8.0])
def test_calibration_meets_the_target_epsilon(target: float) -> None:
    dp = calibrate(target, 1e-5, mode="dp-fedavg", clip_norm=1.0, rounds=10)
    spent = task_budget(dp, 10).epsilon
    assert target - 0.011 <= spent <= target
    assert dp.target_epsilon == target
    assert task_budget(dp, 20).epsilon > spent  # more rounds than planned: over budget


def test_an_impossible_budget_is_refused() -> None:
    with pytest.raises(PrivacyBudgetError):
        calibrate(1e-9, 1e-12, mode="dp-fedavg", clip_norm=1.0, rounds=10**6)


def test_dp_sgd_counts_poisson_batches_per_round() -> None:
    assert SGD.steps_per_round(local_epochs=2) == 40
    assert SGD.steps_per_round(local_epochs=2, max_steps=7) == 7
    assert FEDAVG.steps_per_round(local_epochs=5) == 1
    assert task_budget(SGD, 3, local_epochs=2).steps == 120


@pytest.mark.parametrize(
    "bad",
    [
        {"mode": "ldp"},
        {"clip_norm": 0.0},
        {"noise_multiplier": 0.0},
        {"delta": 1.0},
        {"accountant": "gdp"},
        {"sample_rate": 0.5},  # dp-fedavg: client sampling is public, no amplification claimed
        {"target_epsilon": -1.0},
        {"clip_norm": float("nan")},
    ],
)
def test_bad_settings_are_refused(bad: dict[str, object]) -> None:
    raw = FEDAVG.to_dict() | bad
    with pytest.raises(DPError):
        DPConfig.from_dict(raw)


def test_a_spec_round_trips_its_dp_and_one_without_keeps_its_bytes() -> None:
    plain = spec()
    assert b'"dp"' not in plain.to_bytes() and plain.privacy_spent() is None
    assert "dp" not in plain.train.to_dict()
    private = spec(dp=FEDAVG)
    assert private.train.dp == FEDAVG  # local training applies it
    again = TaskSpec.from_bytes(private.to_bytes())
    assert again == private and again.to_bytes() == private.to_bytes()
    assert again.privacy_spent() == task_budget(FEDAVG, 3)
    assert spec(dp=FEDAVG).to_bytes() != plain.to_bytes()


def test_a_spec_refuses_conflicting_or_unsupported_dp() -> None:
    from dataclasses import replace

    with pytest.raises(SpecError):
        spec(train=replace(TrainConfig(), dp=SGD), dp=FEDAVG)
    with pytest.raises(SpecError):  # dropping dp from a private spec must drop it from train
        replace(spec(dp=FEDAVG), dp=None)
    with pytest.raises(SpecError):
        spec(train=TrainConfig(proximal_mu=0.1), dp=SGD)
    with pytest.raises(SpecError):
        TaskSpec.from_bytes(spec(dp=FEDAVG).to_bytes().replace(b'"dp-fedavg"', b'"dp-magic"'))
