"""``fedmarket pool`` end to end: a pool task on the in-process chain, audited and listed."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from fedmarket.cli import app


def test_fedmarket_pool_writes_the_summary_the_bundle_and_the_accepted_models(
    tmp_path: Path,
) -> None:
    args = ["pool", "--clients", "4", "--rounds", "4", "--window", "2", "--band", "0.05"]
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "summary.json").read_text())
    bundle = json.loads((tmp_path / "bundle.json").read_text())
    assert summary["audit"] == {"ok": True, "problems": []}
    assert [m["name"] for m in summary["base_models"]] == [
        "0:mlp32-seed7",
        "1:mlp32-seed8",
        "2:mlp64-seed9",
        "3:linear-seed10",
    ]
    assert bundle["kind"] == "fedmarket/pool-bundle"
    assert sorted(e["model"] for e in bundle["accepted"]) == summary["accepted"]
    assert len(list((tmp_path / "models").iterdir())) == len(summary["accepted"])
    assert summary["listing"]["model_id"] == 1
    assert sum(int(v) for v in summary["received_wei"]) > 0
    for rnd in summary["assignment"]:
        assert {m for _, m in rnd["assignment"]} == set(rnd["drawn"])
    chain = summary["chain"]
    assert [r["round"] for r in chain] == [1, 2, 3, 4]
    for earlier, later in zip(chain, chain[1:], strict=False):
        assert later["opening_manifest"] == earlier["closing_manifest"]
    trained = len(summary["assignment"])
    assert all(r["batch"]["count"] == 4 for r in chain[:trained])
    assert all(r["batch"] is None and r["budget_wei"] == "0" for r in chain[trained:])


def test_fedmarket_pool_on_anvil_is_audited_and_pays(anvil_url: str, tmp_path: Path) -> None:
    """The same command against a real chain node (its faucet funds fresh keys)."""
    args = ["pool", "--clients", "3", "--rounds", "3", "--window", "2", "--band", "0.05"]
    result = CliRunner().invoke(app, [*args, "--rpc", anvil_url, "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["audit"]["ok"] and summary["rounds"] == 3
    assert sum(int(v) for v in summary["received_wei"]) > 0
