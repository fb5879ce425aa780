"""Participants and coordinator as separate OS processes against a real JSON-RPC node (anvil).

Each process gets only its own key (through its environment, never argv) and its own CSV; they
coordinate through nothing but the chain and the shared content store, via the ``fedmarket`` CLI.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from chain import (
    FedTaskClient,
    RewardTokenClient,
    RpcBackend,
    TaskStatus,
    deploy,
    fund,
    new_account,
    signer_for,
)

pytestmark = [pytest.mark.slow, pytest.mark.rpc]

ROUNDS = 3
POOL = 90 * 10**18


def fedmarket(*args: str, key=None, env_name="FEDMARKET_KEY", **popen) -> subprocess.Popen:
    env = dict(os.environ)
    if key is not None:
        env[env_name] = "0x" + bytes(key).hex()
    return subprocess.Popen(
        [sys.executable, "-m", "fedmarket", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,
    )


def finish(proc: subprocess.Popen, timeout: float = 240) -> str:
    stdout, stderr = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, f"exit {proc.returncode}: {stderr[-2000:]}"
    return stdout


def test_separate_processes_train_a_task_over_json_rpc(anvil_url, tmp_path: Path):
    backend = RpcBackend(anvil_url)
    deployer = signer_for(backend, backend.faucet_account())
    deployment = deploy(deployer)
    dep_file = deployment.save(tmp_path / "deployment.json")
    store = tmp_path / "store"
    data = tmp_path / "data"
    finish(fedmarket("data", "split-hospitals", "--out", str(data)))

    sponsor, coordinator = new_account(), new_account()
    hospitals = [new_account() for _ in range(4)]
    for account in (sponsor, coordinator, *hospitals):
        fund(backend, account.address, 10**19)
    RewardTokenClient(backend, deployment.token, deployer).mint(sponsor.address, POOL)

    # The sponsor designs the task from what listings publish: per-hospital statistics.
    stats_from = [
        arg for i in range(4) for arg in ("--stats-from", str(data / f"hospital-{i + 1}.csv"))
    ]
    finish(
        fedmarket(
            "task",
            "design",
            *stats_from,
            "--rounds",
            str(ROUNDS),
            "--out",
            str(tmp_path / "spec.json"),
        )
    )
    common = ["--rpc", anvil_url, "--deployment", str(dep_file), "--store", str(store)]
    task_id = int(
        finish(
            fedmarket(
                "task",
                "create",
                *common,
                "--spec",
                str(tmp_path / "spec.json"),
                "--coordinator",
                coordinator.address,
                "--pool",
                str(POOL),
                "--max-participants",
                "4",
                "--key-env",
                "FEDMARKET_KEY",
                key=sponsor.key,
            )
        ).strip()
    )

    coord = fedmarket(
        "coordinator",
        *common,
        "--task",
        str(task_id),
        "--participants",
        "4",
        "--validation",
        str(data / "validation.csv"),
        "--test",
        str(data / "test.csv"),
        "--key-env",
        "FEDMARKET_KEY",
        "--round-timeout",
        "120",
        key=coordinator.key,
    )
    nodes = [
        fedmarket(
            "participant",
            *common,
            "--task",
            str(task_id),
            "--data",
            str(data / f"hospital-{i + 1}.csv"),
            "--key-env",
            "FEDMARKET_KEY",
            key=account.key,
        )
        for i, account in enumerate(hospitals)
    ]
    outputs = [json.loads(finish(p)) for p in nodes]
    result = json.loads(finish(coord))

    # distinct processes with distinct keys each trained every round
    assert sorted(o["participant"] for o in outputs) == sorted(a.address for a in hospitals)
    assert all(o["rounds"] == list(range(1, ROUNDS + 1)) for o in outputs)
    assert result["rounds"] == ROUNDS and result["rejected"] == []
    assert result["test"]["accuracy"] > 0.9

    client = FedTaskClient(backend, deployment.fed_task, from_block=deployment.block)
    info = client.task(task_id)
    assert info.status is TaskStatus.COMPLETED
    anchors = client.update_anchors(task_id)
    assert len(anchors) == ROUNDS * 4
    assert {a.participant for a in anchors} == {a.address for a in hospitals}
    token = RewardTokenClient(backend, deployment.token)
    claimed = sum(token.balance_of(a.address) for a in hospitals)
    assert claimed == sum(int(o["claimed_wei"]) for o in outputs)
    assert claimed + info.escrow == POOL
