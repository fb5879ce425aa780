"""``fedmarket data forget`` / ``verify-deletion`` and ``anchor-log`` / ``verify-log``, as run.

On anvil the record is anchored from the participant's own funded account and re-checked on
the chain; a tampered record exits 6 with one line; a recorded file that reappears exits 1.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chain.backends import RpcBackend
from chain.keys import new_account
from chain.signer import fund
from fedmarket.cli.data import data_app
from fedmarket.cli.errors import EXIT_CODES, EXIT_VERDICT
from kernel.errors import IntegrityError
from storage.access_log import AccessLog

KEY_ENV = "FEDMARKET_PARTICIPANT_KEY"


def party_files(root: Path) -> tuple[Path, Path]:
    data = root / "party-01.csv"
    data.write_text("age,label\n63,1\n41,0\n")
    cache = root / "cache"
    cache.mkdir()
    (cache / "features.npy").write_bytes(b"\x93NUMPY" + bytes(64))
    return data, cache


def fedmarket(*args: str | Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fedmarket", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )


def test_forget_then_verify_in_process(tmp_path: Path) -> None:
    account = new_account()
    data, cache = party_files(tmp_path)
    record = tmp_path / "record.json"
    runner = CliRunner()
    env = {KEY_ENV: "0x" + bytes(account.key).hex()}
    args = ["forget", "--data", str(data), "--cache", str(cache), "--task", "4", "--out"]
    done = runner.invoke(data_app, [*args, str(record)], env=env)
    assert done.exit_code == 0, done.output
    assert not data.exists() and not cache.exists()
    assert "2 file(s) deleted" in done.output and "in-process chain" in done.output
    doc = json.loads(record.read_text())
    assert doc["record"]["participant"] == account.address and doc["record"]["task_id"] == 4
    checked = runner.invoke(data_app, ["verify-deletion", str(record)])
    assert checked.exit_code == 0, checked.output
    assert f"signed by {account.address}" in checked.output
    data.write_text("age,label\n")  # a copy came back
    again = runner.invoke(data_app, ["verify-deletion", str(record)])
    assert again.exit_code == EXIT_VERDICT and "still exist" in again.output


@pytest.mark.slow
def test_forget_on_anvil_anchors_for_good_and_a_tampered_record_fails(
    tmp_path: Path, anvil_url: str
) -> None:
    account = new_account()
    fund(RpcBackend(anvil_url), account.address, 10**17)
    data, cache = party_files(tmp_path)
    record = tmp_path / "record.json"
    env = {KEY_ENV: "0x" + bytes(account.key).hex()}
    forgot = fedmarket("data", "forget", "--data", data, "--cache", cache, "--rpc", anvil_url,
                       "--out", record, env=env)  # fmt: skip
    assert forgot.returncode == 0, forgot.stderr
    assert anvil_url not in record.read_text()
    checked = fedmarket("data", "verify-deletion", record, "--rpc", anvil_url, env={})
    assert checked.returncode == 0, checked.stderr
    assert "anchored at chain time" in checked.stdout
    doc = json.loads(record.read_text())
    doc["record"]["files"][0]["size"] += 1
    record.write_text(json.dumps(doc))
    tampered = fedmarket("data", "verify-deletion", record, "--rpc", anvil_url, env={})
    assert tampered.returncode == EXIT_CODES[IntegrityError] == 6
    lines = tampered.stderr.splitlines()
    assert [line for line in lines if line.startswith("error: ")] == lines[-1:]
    assert "signature does not match" in lines[-1]
    assert all("breach alert: integrity_failure" in line for line in lines[:-1])  # logged


def test_an_access_log_anchored_on_anvil_verifies_and_a_cut_tail_or_edit_exits_6(
    tmp_path: Path, anvil_url: str
) -> None:
    keeper = new_account()
    fund(RpcBackend(anvil_url), keeper.address, 10**17)
    folder = tmp_path / "access"
    access_log = AccessLog(folder)
    for i in range(5):
        access_log.append(f"0xbuyer{i}", "get", f"bafy{i}", "model:1")
    env = {"FEDMARKET_LOG_KEEPER_KEY": "0x" + bytes(keeper.key).hex()}
    anchored = fedmarket("data", "anchor-log", folder, "--rpc", anvil_url, env=env)
    assert anchored.returncode == 0, anchored.stderr
    assert "entry 4 anchored in block" in anchored.stdout
    again = fedmarket("data", "anchor-log", folder, "--rpc", anvil_url, "--period", "3600", env=env)
    assert again.returncode == 0 and "nothing to anchor" in again.stdout  # head unchanged
    held = fedmarket("data", "verify-log", folder, "--rpc", anvil_url, env={})
    assert held.returncode == 0, held.stderr
    assert "5 entries" in held.stdout and "anchored head checked: True" in held.stdout

    segment = next(p for p in folder.glob("*.jsonl") if p.name != "anchors.jsonl")
    lines = segment.read_text().splitlines(keepends=True)
    segment.write_text("".join(lines[:-2]))  # the newest two reads deleted: the chain still links
    assert AccessLog(folder).verify(alert=False).ok  # undetectable without the anchor...
    cut = fedmarket("data", "verify-log", folder, "--rpc", anvil_url, env={})
    assert cut.returncode == 6, cut.stdout  # ...caught against it
    assert cut.stderr.splitlines()[-1].startswith("error: access log:")
    anchors = folder / "anchors.jsonl"
    listed = anchors.read_text()
    anchors.unlink()  # the anchor hidden as well: the log's own chain and the list agree...
    hidden = fedmarket("data", "verify-log", folder, "--rpc", anvil_url, env={})
    assert hidden.returncode == 0, hidden.stderr
    by_keeper = ("--rpc", anvil_url, "--keeper", keeper.address)
    kept = fedmarket("data", "verify-log", folder, *by_keeper, env={})
    assert kept.returncode == 6 and "removed" in kept.stderr  # ...the keeper's nonce does not
    anchors.write_text(listed)
    lone = fedmarket("data", "verify-log", folder, "--keeper", keeper.address, env={})
    assert lone.returncode == 2 and "--keeper needs --rpc" in lone.stderr
    segment.write_text("".join(lines).replace("0xbuyer1", "0xbuyer9"))
    edited = fedmarket("data", "verify-log", folder, env={})
    assert edited.returncode == 6 and "access log:" in edited.stderr
    missing = fedmarket("data", "verify-log", tmp_path / "nowhere", env={})
    assert missing.returncode == 2 and "no access log folder" in missing.stderr
