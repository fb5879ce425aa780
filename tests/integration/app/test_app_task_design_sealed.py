"""``fedmarket task design --sealed-for KEY``: updates sealed at rest, keys wrapped to the holders.

Without the flag the spec holds no ``sealed_updates`` (earlier specs keep their bytes); with it
the spec names each holder's key once, normalised; a key that is not a secp256k1 point is exit 2
and one line naming the field.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from chain import new_account
from fl_node.data import breast_cancer_hospitals, save_csv
from fl_node.task import TaskSpec
from storage.sealing import public_key_of


@pytest.fixture(scope="module")
def hospital_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    split = breast_cancer_hospitals(4, seed=2024)
    folder = tmp_path_factory.mktemp("hospital")
    return save_csv(split.hospitals[0], split.feature_names, folder / "h.csv")


def test_the_flag_names_the_holders_and_a_bad_key_is_exit_2(cli, tmp_path, hospital_csv):
    coordinator, auditor = (public_key_of(bytes(new_account().key)) for _ in range(2))
    plain, sealed = tmp_path / "plain.json", tmp_path / "sealed.json"
    base = ["task", "design", "--stats-from", str(hospital_csv)]
    assert cli(*base, "--out", str(plain)).code == 0
    ran = cli(*base, "--sealed-for", "0x" + coordinator.hex().upper(),
              "--sealed-for", "0x" + auditor.hex(), "--out", str(sealed))  # fmt: skip
    assert ran.code == 0, ran.stderr
    assert b"sealed_updates" not in plain.read_bytes()
    spec = TaskSpec.from_bytes(sealed.read_bytes())
    assert spec.sealed_updates == ("0x" + coordinator.hex(), "0x" + auditor.hex())
    bad = cli(*base, "--sealed-for", "0x" + "11" * 33, "--out", str(tmp_path / "bad.json"))
    assert bad.code == 2 and bad.stderr.count("\n") == 1 and "sealed_updates" in bad.stderr
    twice = cli(*base, "--sealed-for", coordinator.hex(), "--sealed-for", coordinator.hex(),
                "--out", str(tmp_path / "twice.json"))  # fmt: skip
    assert twice.code == 2 and "twice" in twice.stderr


def test_readers_seal_the_artifacts_and_public_key_prints_what_to_list(
    cli, tmp_path, hospital_csv, monkeypatch
):
    coordinator, participant = new_account(), new_account()
    monkeypatch.setenv("READER_KEY", "0x" + bytes(participant.key).hex())
    shown = cli("data", "public-key", "--key-env", "READER_KEY")
    assert shown.code == 0, shown.stderr
    reader, address = shown.stdout.split()
    assert reader == "0x" + public_key_of(bytes(participant.key)).hex()
    assert address == participant.address
    assert bytes(participant.key).hex() not in shown.stdout + shown.stderr
    base = ["task", "design", "--stats-from", str(hospital_csv)]
    holder = "0x" + public_key_of(bytes(coordinator.key)).hex()
    ran = cli(*base, "--sealed-for", holder, "--sealed-reader", reader,
              "--out", str(tmp_path / "spec.json"))  # fmt: skip
    assert ran.code == 0, ran.stderr
    spec = TaskSpec.from_bytes((tmp_path / "spec.json").read_bytes())
    assert spec.sealed_readers == (reader,)
    assert spec.artifact_holders == tuple(sorted((holder, reader)))
    alone = cli(*base, "--sealed-reader", reader, "--out", str(tmp_path / "alone.json"))
    assert alone.code == 2 and alone.stderr.count("\n") == 1 and "sealed_updates" in alone.stderr
