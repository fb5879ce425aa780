"""The command line: --help everywhere, and one readable line with a non-zero exit on errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

COMMANDS = [
    [],
    ["demo"],
    ["vfl"],
    ["ftl"],
    ["pool"],
    ["participant"],
    ["coordinator"],
    ["audit"],
    ["challenge"],
    ["claim"],
    ["court"],
    ["court", "register"],
    ["court", "vote"],
    ["court", "resolve"],
    ["court", "withdraw"],
    ["buy"],
    ["proceeds"],
    ["serve"],
    ["index"],
    ["chain"],
    ["chain", "node"],
    ["chain", "deploy"],
    ["data"],
    ["data", "fetch"],
    ["data", "split-hospitals"],
    ["data", "describe"],
    ["task"],
    ["task", "design"],
    ["task", "create"],
    ["task", "invite"],
    ["task", "show"],
    ["token"],
    ["token", "balance"],
    ["token", "transfer"],
    ["token", "faucet"],
    ["status"],
    ["status", "task"],
    ["status", "party"],
]

CHAIN = ["--rpc", "http://127.0.0.1:9", "--deployment", "dep.json"]
CREATE = [
    "task", "create", *CHAIN, "--store", "store", "--spec", "spec.json",
    "--coordinator", "0x" + "ab" * 20, "--pool", "100",
]  # fmt: skip


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
        (
            ["buy", "0", *CHAIN, "--api", "http://127.0.0.1:9", "--max-price", "1"],
            2,
            "MODEL_ID must be an integer >= 1",
        ),
        (
            ["buy", "1", *CHAIN, "--api", "http://127.0.0.1:9", "--max-price", "-1"],
            2,
            "--max-price must be an integer >= 0",
        ),
        (
            [
                "buy",
                "1",
                *CHAIN,
                "--api",
                "http://127.0.0.1:9",
                "--max-price",
                "1",
                "--out",
                "no-such-folder/m.bin",
            ],
            2,
            "--out no-such-folder/m.bin: no folder no-such-folder",
        ),
        (["proceeds", *CHAIN, "--address", "bob"], 2, "--address must be an address"),
        (["index", *CHAIN, "--batch-blocks", "0"], 2, "--batch-blocks must be an integer from 1"),
        (["index", *CHAIN, "--poll", "0"], 2, "--poll must be a number > 0"),
        (["index", *CHAIN, "--store-backend", "s3"], 2, "--store-backend must be one of"),
        (["task", "design", "--out", "spec.json"], 2, "give --api URL or --stats-from FILE"),
        (["vfl", "--dataset", "mnist"], 2, "unknown dataset"),
        (["ftl", "--dataset", "mnist"], 2, "unknown dataset"),
        (["pool", "--dataset", "mnist"], 2, "--dataset 'mnist': one of digits"),
        (["pool", "--base-model", "cnn", "--base-model", "mlp:8"], 2, "must be mlp or linear"),
        (["pool", "--base-model", "mlp:8@x", "--base-model", "mlp:8"], 2, "seed are integers"),
        (["pool", "--base-model", "mlp:8"], 2, "at least two base models"),
        # every flag of the protocol is checked before anything is sent
        ([*CREATE, "--commit-period", "soon"], 2, "--commit-period must be a duration"),
        ([*CREATE, "--reveal-period", "0"], 2, "--reveal-period must be a duration"),
        ([*CREATE, "--slash-bps", "10001"], 2, "--slash-bps must be an integer from 0 to 10000"),
        ([*CREATE, "--quorum", "5"], 2, "--quorum 5 is above --max-participants 4"),
        ([*CREATE, "--participant-stake", "-1"], 2, "--participant-stake must be an integer"),
        ([*CREATE, "--allow", "0x" + "cd" * 20], 2, "--allow applies to --permissioned tasks"),
        ([*CREATE, "--permissioned", "--allow", "bob"], 2, "--allow must be an address"),
        ([*CREATE, "--coordinator", "carol"], 2, "--coordinator must be an address"),
        (
            [
                "task",
                "invite",
                *CHAIN,
                "--task",
                "1",
                "--participant",
                "0x" + "ab" * 20,
                "--out",
                "i.json",
                "--valid-for",
                "7w",
            ],
            2,
            "--valid-for must be a duration",
        ),  # fmt: skip
        (
            ["challenge", *CHAIN, "--store", "s", "--task", "1", "--round", "1"],
            2,
            "give --evidence-cid or --challenge-file",
        ),  # fmt: skip
        (
            [
                "challenge",
                *CHAIN,
                "--store",
                "s",
                "--task",
                "1",
                "--round",
                "0",
                "--evidence-cid",
                "x",
            ],
            2,
            "--round must be an integer >= 1",
        ),  # fmt: skip
        (
            ["court", "vote", *CHAIN, "--store", "s", "--challenge", "0"],
            2,
            "--challenge must be an integer >= 1",
        ),  # fmt: skip
        (
            [
                "coordinator",
                *CHAIN,
                "--store",
                "s",
                "--task",
                "1",
                "--validation",
                "v.csv",
                "--test",
                "t.csv",
                "--participants",
                "0",
            ],
            2,
            "--participants must be",
        ),  # fmt: skip
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


def test_participant_refuses_an_invitation_it_cannot_read(tmp_path):
    (tmp_path / "invitation.json").write_text('{"task_id": 2}')
    done = fedmarket(
        "participant", *CHAIN, "--store", str(tmp_path), "--task", "1",
        "--data", str(tmp_path / "x.csv"), "--invitation", str(tmp_path / "invitation.json"),
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.startswith("error: --invitation: cannot read")


def test_challenge_refuses_a_round_the_audit_found_nothing_wrong_in(tmp_path):
    (tmp_path / "challenges.json").write_text("[]")
    done = fedmarket(
        "challenge", *CHAIN, "--store", str(tmp_path), "--task", "1", "--round", "2",
        "--challenge-file", str(tmp_path / "challenges.json"),
    )  # fmt: skip
    assert done.returncode == 2
    assert "the audit found nothing wrong in round 2" in done.stderr


def test_data_describe_writes_statistics_and_never_a_row(tmp_path):
    import csv
    import json

    assert fedmarket("data", "split-hospitals", "--out", str(tmp_path)).returncode == 0
    source = tmp_path / "hospital-1.csv"
    target = tmp_path / "metadata.json"
    done = fedmarket("data", "describe", str(source), "--out", str(target), "--name", "clinic",
                     "--tag", "medical", "--tag", "breast-cancer")  # fmt: skip
    assert done.returncode == 0, done.stderr
    metadata = json.loads(target.read_text())
    with source.open(newline="") as fh:
        header, *rows = list(csv.reader(fh))
    assert metadata["name"] == "clinic" and metadata["tags"] == ["medical", "breast-cancer"]
    assert [c["name"] for c in metadata["schema"]] == header
    assert metadata["row_count"] == len(rows) == metadata["statistics"]["count"]
    written = target.read_text()
    assert not any(",".join(row) in written for row in rows)  # statistics only
    missing = fedmarket("data", "describe", str(tmp_path / "none.csv"), "--out", str(target),
                        "--name", "x")  # fmt: skip
    assert missing.returncode == 2 and missing.stderr.strip().count("\n") == 0
