"""``fedmarket task design --dp-epsilon ...``: differential privacy in the spec.

Without the flags the spec holds no ``dp`` (the bytes of earlier tasks are unchanged); with them
the spec carries a noise multiplier that spends the target epsilon over the task's rounds; a bad
mode is exit 2 and one line naming the flag.
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


@pytest.mark.parametrize("mode", ["dp-fedavg", "dp-sgd:0.1"])
def test_the_flags_calibrate_the_noise_to_the_target(cli, tmp_path, hospital_csv, mode):
    plain, private = tmp_path / "plain.json", tmp_path / "private.json"
    assert cli("task", "design", "--stats-from", str(hospital_csv), "--out", str(plain)).code == 0
    ran = cli("task", "design", "--stats-from", str(hospital_csv), "--rounds", "5",
              "--dp-epsilon", "3", "--dp-delta", "1e-6", "--dp-clip", "0.5", "--dp-mode", mode,
              "--out", str(private))  # fmt: skip
    assert ran.code == 0, ran.stderr
    assert b'"dp"' not in plain.read_bytes()
    spec = TaskSpec.from_bytes(private.read_bytes())
    assert spec.dp is not None and spec.train.dp == spec.dp
    assert (spec.dp.mode, spec.dp.delta, spec.dp.clip_norm) == (mode.partition(":")[0], 1e-6, 0.5)
    spent = spec.privacy_spent()
    assert spent is not None and 2.98 <= spent.epsilon <= 3.0


@pytest.mark.parametrize("mode", ["dp-magic", "dp-fedavg:0.1", "dp-sgd:x"])
def test_a_bad_mode_is_exit_2_and_one_line_naming_the_flag(cli, tmp_path, hospital_csv, mode):
    ran = cli("task", "design", "--stats-from", str(hospital_csv), "--dp-epsilon", "3",
              "--dp-mode", mode, "--out", str(tmp_path / "spec.json"))  # fmt: skip
    assert ran.code == 2
    assert "--dp-mode" in ran.one_error_line()
