"""Adversarial training as a local training option: the spec's fields and one step by hand."""

from __future__ import annotations

import pytest
import torch

from fl_node.adversarial import fgsm, pgd
from fl_node.data import LocalDataset
from fl_node.errors import SpecError
from fl_node.models import ModelSpec, build_model
from fl_node.objectives import task_loss
from fl_node.training import TrainConfig, train_local

PLAIN_KEYS = {
    "local_epochs",
    "batch_size",
    "lr",
    "momentum",
    "weight_decay",
    "max_steps",
    "seed",
    "proximal_mu",
}
MODEL = ModelSpec(3, (0.0, 1.0, -1.0), (1.0, 0.5, 2.0), kind="mlp", hidden=(4,), seed=1)


def test_defaults_leave_the_stored_form_and_the_task_hash_as_before() -> None:
    from fl_node.task import TaskSpec  # the spec module imports the defences: only this test

    assert set(TrainConfig().to_dict()) == PLAIN_KEYS
    task = TaskSpec(name="t", model=MODEL, train=TrainConfig(), rounds=2,
                    feature_names=("a", "b", "c"))  # fmt: skip
    assert b"adv" not in task.to_bytes()
    assert TrainConfig.from_dict(TrainConfig().to_dict()) == TrainConfig()


def test_adversarial_fields_round_trip() -> None:
    config = TrainConfig(adversarial="pgd", adv_epsilon=0.1, adv_steps=3)
    raw = config.to_dict()
    assert raw["adversarial"] == "pgd" and raw["adv_epsilon"] == 0.1 and raw["adv_steps"] == 3
    assert TrainConfig.from_dict(raw) == config
    assert "adv_steps" not in TrainConfig(adversarial="fgsm", adv_epsilon=0.2).to_dict()


@pytest.mark.parametrize(
    "changes",
    [
        {"adversarial": "bim", "adv_epsilon": 0.1},
        {"adversarial": "fgsm"},  # no epsilon
        {"adv_epsilon": 0.1},  # an epsilon without an attack
        {"adversarial": "pgd", "adv_epsilon": -0.1},
        {"adversarial": "pgd", "adv_epsilon": float("nan")},
        {"adversarial": "pgd", "adv_epsilon": 0.1, "adv_steps": 0},
    ],
)
def test_bad_adversarial_settings_are_refused(changes: dict[str, object]) -> None:
    with pytest.raises(SpecError):
        TrainConfig(**changes)  # type: ignore[arg-type]
    with pytest.raises(SpecError):
        TrainConfig.from_dict({**TrainConfig().to_dict(), **changes})


def _data() -> LocalDataset:
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(12, 3, generator=gen)
    y = (torch.rand(12, generator=gen) < 0.5).float()
    return LocalDataset("p", x.numpy(), y.numpy())


@pytest.mark.parametrize("kind", ["fgsm", "pgd"])
def test_one_step_descends_the_mean_of_clean_and_adversarial_loss(kind: str) -> None:
    data = _data()
    config = TrainConfig(local_epochs=1, batch_size=0, lr=0.1, momentum=0.0, weight_decay=0.0,
                         max_steps=1, adversarial=kind, adv_epsilon=0.3, adv_steps=4)  # fmt: skip
    model = build_model(MODEL)
    result = train_local(model, data, config, round=1, device=torch.device("cpu"))
    reference = build_model(MODEL)
    x, y = torch.from_numpy(data.x), torch.from_numpy(data.y)
    order = torch.randperm(12, generator=torch.Generator().manual_seed(1))  # seed 0, round 1
    x, y = x[order], y[order]
    if kind == "fgsm":
        attacked = fgsm(reference, x, y, 0.3)
    else:
        attacked = pgd(reference, x, y, 0.3, 2.5 * 0.3 / 4, 4, seed=1 * 1_000_003 + 0)
    loss = 0.5 * (task_loss(reference, x, y) + task_loss(reference, attacked, y))
    grads = torch.autograd.grad(loss, list(reference.parameters()))
    for (name, _), grad in zip(reference.named_parameters(), grads, strict=True):
        assert torch.allclose(result.delta[name], -0.1 * grad, atol=1e-6), name
    assert result.loss == pytest.approx(loss.item(), rel=1e-5)
    plain = train_local(build_model(MODEL), data, TrainConfig(**{**config.to_dict(),
                        "adversarial": "", "adv_epsilon": 0.0}), round=1)  # fmt: skip
    assert not torch.allclose(plain.delta["body.0.weight"], result.delta["body.0.weight"])
