"""``scripts/bench-secagg-task --quick`` end to end: well-formed figures, within-bound updates.

No timing is asserted (the machine is shared). Groups of three over eight hospitals, two rounds:
two groups each round, the secure update within the fixed-point bound of plain FedAvg of the
same clipped updates, every round pays, the payout distance is a distance in [0, 1].
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fedmarket.bench.secagg_task import main

pytestmark = pytest.mark.slow


def test_the_quick_run_reports_each_round_within_the_bound(tmp_path: Path) -> None:
    out = tmp_path / "secagg-task.json"
    assert main(["--quick", "--out", str(out)]) == 0
    record: dict[str, Any] = json.loads(out.read_text())
    (run,) = record["runs"]
    assert run["group_size"] == 3 and [r["round"] for r in run["rounds"]] == [1, 2]
    for r in run["rounds"]:
        assert r["groups"] == 2 and 0 <= r["error"] <= r["bound"] + 1e-12
        assert r["paid"] > 0 and 0.0 <= r["share_distance"] <= 1.0
        assert r["sent_per_member"] > r["plain_bytes"]  # keys, envelopes and shares on top
    assert 0.5 < run["test_accuracy"] <= 1.0
    assert "| g | round |" in record["report"]


def test_bad_options_exit_with_the_input_code() -> None:
    assert main(["--groups", "2"]) != 0
