"""``scripts/bench-pool --quick`` end to end: well-formed figures, and the pool hides lineage.

No timing is asserted (the machine is shared). Digits over six label-skewed clients, four
rounds, the three families of base models: every accuracy is in ``[0, 1]`` and each model's
target is its FedAvg final accuracy less one point, which FedAvg reaches by its last round;
rounds and updates to the target are within what the run trained; the pool trains ``clients``
updates a round it trains, for all its models together; every acceptance decision, under the
loose and the strict convergence rule, has a known reason, and the report lists each eliminated
model with it.
Without side channels the linkage attack beats chance by far more with fixed lineages than with
either pool at every leak, and at leak 0.5 it links every fixed submission, more than in either
pool; fixed lineages and the pool that draws every model have chance ``1 / K``; updates of one
architecture have one size whatever the initialisation, and the mixed family's architectures
differ in size.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from fedmarket.bench.pool import main

pytestmark = pytest.mark.slow

REASONS = {"accepted", "not_converged", "outside_confidence_region", "duplicate", "pruned"}


@pytest.fixture(scope="module")
def record(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("bench") / "pool.json"
    assert main(["--quick", "--out", str(out)]) == 0
    loaded: dict[str, Any] = json.loads(out.read_text())
    return loaded


SIZES = {"mixed": 4, "same-arch": 3, "graded": 5}
"""Base models per family."""


def test_the_quick_run_covers_every_family(record: dict[str, Any]) -> None:
    options = record["options"]
    assert (options["clients"], options["rounds"], options["datasets"]) == (6, 4, ["digits"])
    assert [(r["dataset"], r["family"]) for r in record["runs"]] == [
        ("digits", family) for family in SIZES
    ]
    assert [m["family"] for m in record["models"]] == [
        f for f, k in SIZES.items() for _ in range(k)
    ]
    assert "| digits | mixed | mlp64-s7 |" in record["report"]
    assert "| digits | graded | mlp2-s7 |" in record["report"]
    for view in ("none: chain watcher, batched", "time: chain watcher, direct", "bytes: store"):
        assert f"| {view}" in record["report"]


def test_the_report_names_each_eliminated_model_with_its_reason(record: dict[str, Any]) -> None:
    report = record["report"]
    for r in record["runs"]:
        line = next(
            x
            for x in report.splitlines()
            if x.startswith(f"- {r['dataset']} / {r['family']}: pool (loose rule)")
        )
        for entry in (*r["eliminated"], *r["strict_eliminated"]):
            name, reason = entry.split(": ")
            assert reason in REASONS - {"accepted"} and f"{name} ({reason})" in line
        for name in r["accepted"]:
            assert name in line


def test_model_figures_are_well_formed(record: dict[str, Any]) -> None:
    n, rounds = 6, 4
    for m in record["models"]:
        for run in ("fedavg", "pool", "pool_all", "fixed"):
            assert 0.0 <= m[f"{run}_accuracy"] <= 1.0
            reached, updates = m[f"{run}_to_target"], m[f"{run}_updates_to_target"]
            assert (reached is None) == (updates is None)
            if reached is not None:
                assert 1 <= reached <= rounds and 1 <= updates <= n * reached
        assert m["target"] == pytest.approx(m["fedavg_accuracy"] - 0.01)
        assert m["fedavg_to_target"] is not None  # its own final accuracy is above the target
        assert m["fedavg_updates_to_target"] == n * m["fedavg_to_target"]
        assert 0 <= m["pool_rounds_trained"] <= rounds and m["decision"] in REASONS
        assert 0 <= m["strict_rounds_trained"] <= rounds and m["strict_decision"] in REASONS
        assert 0.0 <= m["strict_accuracy"] <= 1.0
        if m["pool_to_target"] is not None:
            assert 1 <= m["pool_rounds_trained"]
    for r in record["runs"]:
        assert r["fedavg_updates"] == n * rounds and 1 <= r["pool_rounds"] <= rounds
        assert r["pool_updates"] == n * r["pool_rounds"]
        assert len(r["accepted"]) + len(r["eliminated"]) == SIZES[r["family"]]
        assert len(r["strict_accepted"]) + len(r["strict_eliminated"]) == SIZES[r["family"]]
        assert 1 <= r["strict_rounds"] <= rounds
        assert len(r["seconds"]) == 5 and all(s > 0 for s in r["seconds"])


def _linkage(record: dict[str, Any]) -> dict[tuple[str, str, str, float], dict[str, Any]]:
    return {(f["family"], f["lineage"], f["features"], f["leak"]): f for f in record["linkage"]}


def test_fixed_lineages_are_linked_and_the_pool_hides_them(record: dict[str, Any]) -> None:
    by = _linkage(record)
    assert len(by) == 3 * 3 * 4 * 2  # families x lineages x views x leaks
    for (family, lineage, _, _), f in by.items():
        assert 0.0 <= f["success_min"] <= f["success"] <= f["success_max"] <= 1.0
        k = SIZES[family]
        if lineage in ("fixed", "pool-all"):
            assert f["chance"] == pytest.approx(1 / k)
        else:
            assert 1 / k <= f["chance"] <= 1.0

    def edge(family: str, lineage: str, leak: float) -> float:
        f = by[(family, lineage, "none", leak)]
        return float(f["success"] - f["chance"])

    for family in SIZES:
        for leak in (0.2, 0.5):  # over chance, fixed lineages are linked, pooled ones are not
            assert edge(family, "fixed", leak) > edge(family, "pool", leak) + 0.1
            assert edge(family, "fixed", leak) > edge(family, "pool-all", leak) + 0.1
        fixed = by[(family, "fixed", "none", 0.5)]["success"]
        assert fixed == 1.0
        assert fixed > by[(family, "pool", "none", 0.5)]["success"]
        assert fixed > by[(family, "pool-all", "none", 0.5)]["success"]


def test_update_sizes_follow_the_architecture_not_the_initialisation(
    record: dict[str, Any],
) -> None:
    sizes = {(s["family"], s["name"]): s for s in record["sizes"]}
    same = {(s["bytes_min"], s["bytes_max"]) for (f, _), s in sizes.items() if f == "same-arch"}
    assert len(same) == 1
    mixed = [sizes[("mixed", n)]["bytes_min"] for n in ("mlp32-s7", "mlp32-s8", "mlp64-s7")]
    linear = sizes[("mixed", "linear-s7")]["bytes_max"]
    assert mixed[0] == mixed[1] and linear < mixed[0] < mixed[2]
