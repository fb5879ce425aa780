"""Nodes sharing a machine train in parallel, and commit exactly what stepping them in turn does."""

from __future__ import annotations

from pathlib import Path

import pytest

from fedmarket.demo import step_all
from tests.integration.fl_node.flow import start

pytestmark = pytest.mark.slow


def test_parallel_training_gives_the_same_updates_and_models_as_stepping_in_turn(
    tmp_path: Path,
) -> None:
    runs = []
    for parallel in (True, False):
        flow = start(tmp_path / f"parallel-{parallel}", rounds=2)
        prepared = []
        for node in flow.nodes:  # count the updates trained ahead of their step
            original = node.prepare

            def counted(task_id: int, original=original, prepared=prepared) -> bool:  # noqa: ANN001
                made = original(task_id)
                prepared.append(made)
                return made

            node.prepare = counted  # type: ignore[method-assign]
        step = step_all(flow.nodes, flow.task_id, parallel=parallel)
        reports = flow.coordinator.run(between=step, settle=False)
        updates = [tuple(u.cid for u in node.history) for node in flow.nodes]
        runs.append(([r.model_hash for r in reports], updates, sum(prepared)))
    (models, updates, trained_ahead), (models_seq, updates_seq, trained_seq) = runs
    assert trained_ahead == 2 * 4 and trained_seq == 0
    assert updates == updates_seq and all(len(u) == 2 for u in updates)
    assert models == models_seq
