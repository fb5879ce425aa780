"""``scripts/bench-ftl --quick``: the smoke run of the FTL benchmark on a subset of X-Wines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fl_node.errors import DataUnavailableError
from tests.support.services import unavailable

pytestmark = pytest.mark.slow


def test_quick_bench_writes_every_method_and_meets_the_targets(tmp_path: Path) -> None:
    from fedmarket.bench.ftl import main, targets
    from fl_node.transfer.data import dataset_folder

    try:
        dataset_folder()
    except DataUnavailableError as exc:
        unavailable(str(exc))
    out = tmp_path / "ftl.json"
    assert main(["--quick", "--workers", "1", "--out", str(out)]) == 0
    figures = json.loads(out.read_text())
    assert len(figures["seeds"]) == 2 and figures["shared_users"] > 0
    summary = figures["summary"]
    for method in ("global_mean", "target_only", "centralised", "federated"):
        assert summary[method]["rmse"]["std"] >= 0.0
    assert summary["federated"]["rmse"]["mean"] < summary["target_only"]["rmse"]["mean"]
    assert all(targets(summary).values())
