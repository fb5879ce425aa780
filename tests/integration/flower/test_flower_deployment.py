"""The same Flower app on Flower's deployment engine: a SuperLink and two SuperNodes as processes.

The test starts ``flower-superlink`` and two ``flower-supernode`` processes on 127.0.0.1 (free
ports) and submits fedquick with ``flwr run``. The SuperLink runs the ServerApp in its own
process; that process coordinates the task on anvil (a JSON-RPC chain every process reaches) and
stores models and evidence in the shared content store; each SuperNode's ClientApp holds nothing
but its participant key. Once the run is over the chain says the task ended, the audit passes and
both hospitals claim what the evidence says they earned.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest

from chain import RpcBackend
from fl_node.audit import audit_task
from fl_node.evidence import RoundEvidence
from tests.integration.flower._deployment import app_copy, start_deployment
from tests.integration.flower._world import claim_all, make_task
from tests.integration.flower.conftest import APP_DIR

pytestmark = [pytest.mark.slow, pytest.mark.rpc]

ROUNDS = 2
RUN_TIMEOUT = 150


def test_deployment_engine_anchors_every_round_and_pays(
    tmp_path: Path, anvil_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    from fedquick.task import ROUNDS as APP_ROUNDS

    assert APP_ROUNDS == ROUNDS
    task = make_task(tmp_path / "store", rounds=ROUNDS, backend=RpcBackend(anvil_url))
    world_file = tmp_path / "world.json"
    world_file.write_text(
        json.dumps(
            {
                "rpc_url": anvil_url,
                "deployment": asdict(task.world.deployment),
                "task_id": task.task_id,
                "store_dir": str(tmp_path / "store"),
            }
        )
    )
    env = {
        **os.environ,
        "FEDMARKET_FLOWER_WORLD": str(world_file),
        "FEDMARKET_FLOWER_COORDINATOR_KEY": task.world.accounts["coordinator"].key.hex(),
    }
    flower, _ = start_deployment(tmp_path / "flower", env, partitions=2)
    try:
        app = app_copy(APP_DIR, tmp_path / "app")
        done = flower.run(
            "flwr-run", "flwr", "run", str(app), "local", "--stream", timeout=RUN_TIMEOUT
        )
        fed_task = task.world.fed_task()
        info = fed_task.task(task.task_id)
        assert done.returncode == 0 and info.status.ended, flower.logs()
    finally:
        flower.stop()

    assert int(info.last_round) == ROUNDS
    finals = fed_task.rounds_finalized(task.task_id)
    evidence = [RoundEvidence.from_dict(task.world.store.get_json(f.evidence_cid)) for f in finals]
    assert [e.round for e in evidence] == [1, 2]
    assert all(sum(v.accepted for v in e.updates) == 2 for e in evidence)
    assert all(e.aggregation.strategy == "fedavg" for e in evidence)
    report = audit_task(fed_task, task.world.store, task.task_id)
    assert report.ok, report.failures
    paid = claim_all(task)
    assert paid == [sum(e.rewards.amounts[i] for e in evidence) for i in range(2)]
    assert sum(paid) > 0
