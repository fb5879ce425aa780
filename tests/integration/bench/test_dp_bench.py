"""``scripts/bench-dp --quick`` end to end: well-formed runs, each within its privacy budget.

No timing or accuracy ordering is asserted (three rounds on a shared machine): every accuracy is
in ``[0, 1]``, each private run spends at most its target by the RDP accountant it was
calibrated with (and within the calibration's tolerance below it), PRV spends no more than RDP
(up to its error), the distributed run states a larger epsilon against colluding group members,
and the run without DP reports no noise and an infinite epsilon.
"""

from __future__ import annotations

import json
import math

import pytest

from fedmarket.bench.dp import main

pytestmark = pytest.mark.slow


def test_the_quick_bench_writes_runs_within_their_budgets(tmp_path) -> None:
    out = tmp_path / "dp.json"
    assert main(["--quick", "--out", str(out)]) == 0
    runs = json.loads(out.read_text())
    assert {(r["dataset"], r["mode"]) for r in runs} == {
        ("heart", "dp-fedavg"),
        ("heart", "dp-sgd"),
        ("heart", "dp-fedavg+secagg"),
        ("heart", "none"),
    }
    for r in runs:
        assert 0.0 <= r["accuracy"] <= 1.0 and r["rounds"] == 3
        if r["mode"] == "none":
            assert r["target_epsilon"] is None and r["noise_multiplier"] == 0.0
            assert math.isinf(r["epsilon_rdp"])
            continue
        assert r["noise_multiplier"] > 0
        assert r["target_epsilon"] - 0.011 <= r["epsilon_rdp"] <= r["target_epsilon"]
        assert r["epsilon_prv"] <= r["epsilon_rdp"] + 0.02
        if r["mode"] == "dp-fedavg+secagg":  # colluding members see a member's share only
            assert r["collusion_epsilon"] > r["epsilon_rdp"]
        else:
            assert r["collusion_epsilon"] is None
