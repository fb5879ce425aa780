"""``fedmarket task design --adversarial KIND=EPSILON``: adversarial local training in the spec.

Without the flag the spec's bytes hold no adversarial field (the stored form of every earlier
task is unchanged); with it the training carries the attack and its radius; a bad value is exit 2
and one line naming the flag.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fl_node.data import breast_cancer_hospitals, save_csv
from fl_node.task import TaskSpec


@pytest.fixture(scope="module")
def hospital_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    split = breast_cancer_hospitals(4, seed=2024)
    folder = tmp_path_factory.mktemp("hospital")
    return save_csv(split.hospitals[0], split.feature_names, folder / "h.csv")


def test_the_flag_puts_the_attack_and_its_radius_in_the_training(cli, tmp_path, hospital_csv):
    plain, robust = tmp_path / "plain.json", tmp_path / "robust.json"
    assert cli("task", "design", "--stats-from", str(hospital_csv), "--out", str(plain)).code == 0
    ran = cli("task", "design", "--stats-from", str(hospital_csv), "--adversarial", "pgd=0.25",
              "--out", str(robust))  # fmt: skip
    assert ran.code == 0, ran.stderr
    assert b"adv" not in plain.read_bytes()
    spec = TaskSpec.from_bytes(robust.read_bytes())
    train = spec.train
    assert (train.adversarial, train.adv_epsilon, train.adv_steps) == ("pgd", 0.25, 5)
    before = TaskSpec.from_bytes(plain.read_bytes())
    assert spec.train.lr == before.train.lr and spec.model == before.model


BAD = ["pgd", "pgd=", "bim=0.1", "fgsm=0", "fgsm=-1", "pgd=nan", "=0.1"]


@pytest.mark.parametrize("value", BAD)
def test_a_bad_value_is_exit_2_and_one_line_naming_the_flag(cli, tmp_path, hospital_csv, value):
    ran = cli("task", "design", "--stats-from", str(hospital_csv), "--adversarial", value,
              "--out", str(tmp_path / "spec.json"))  # fmt: skip
    assert ran.code == 2
    assert "--adversarial" in ran.one_error_line()
