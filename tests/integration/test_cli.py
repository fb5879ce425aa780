"""The command line: --help everywhere, and one readable line with a non-zero exit on errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

COMMANDS = [
    [],
    ["demo"],
    ["vfl"],
    ["participant"],
    ["coordinator"],
    ["audit"],
    ["serve"],
    ["chain"],
    ["chain", "node"],
    ["chain", "deploy"],
    ["data"],
    ["data", "fetch"],
    ["data", "split-hospitals"],
    ["task"],
    ["task", "design"],
    ["task", "create"],
    ["task", "show"],
]


def fedmarket(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fedmarket", *args], capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "root")
def test_every_command_has_help(command):
    from typer.testing import CliRunner

    from fedmarket.cli import app

    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["chain", "deploy", "--rpc", "http://127.0.0.1:9", "--out", "x.json"], 3, "cannot reach"),
        (["data", "fetch", "no-such-dataset"], 2, "unknown dataset"),
        (["task", "design", "--out", "spec.json"], 2, "give --api URL or --stats-from CSV"),
        (["vfl", "--dataset", "mnist"], 2, "unknown dataset"),
    ],
)
def test_errors_are_one_line_and_non_zero(tmp_path, args, code, message):
    done = subprocess.run(
        [sys.executable, "-m", "fedmarket", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == code
    lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ") and message in lines[0]
    assert "Traceback" not in done.stderr


def test_participant_refuses_a_missing_key(tmp_path):
    (tmp_path / "dep.json").write_text("{}")
    done = fedmarket(
        "participant",
        "--rpc",
        "http://127.0.0.1:9",
        "--deployment",
        str(tmp_path / "dep.json"),
        "--store",
        str(tmp_path),
        "--task",
        "1",
        "--data",
        str(tmp_path / "x.csv"),
    )
    assert done.returncode in (2, 3)
    assert done.stderr.startswith("error: ")
