"""The slither gate fails on an unjustified high/medium finding and on a stale justification."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
_spec = importlib.util.spec_from_file_location(
    "slither_check", ROOT / "scripts" / "slither_check.py"
)
assert _spec and _spec.loader
slither_check = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(slither_check)

FINDING = {
    "check": "reentrancy-eth",
    "impact": "High",
    "description": "Market.buy(uint256) (contracts/Market.sol#10-20) sends before writing state\n",
}
LOW = {"check": "timestamp", "impact": "Low", "description": "uses timestamp (contracts/X.sol#1)"}


def _run(tmp_path: Path, findings: list[dict[str, str]], triage: list[dict[str, str]]) -> int:
    report = tmp_path / "report.json"
    report.write_text(json.dumps({"results": {"detectors": findings}}))
    triage_file = tmp_path / "triage.json"
    triage_file.write_text(json.dumps({"findings": triage}))
    code: int = slither_check.main(str(report), str(triage_file))
    return code


def test_an_unjustified_high_finding_fails(tmp_path: Path) -> None:
    assert _run(tmp_path, [FINDING, LOW], []) == 1


def test_a_justified_finding_passes_even_when_its_lines_move(tmp_path: Path) -> None:
    key = slither_check.finding_key(FINDING)
    moved = dict(FINDING, description=FINDING["description"].replace("#10-20", "#30-41"))
    assert _run(tmp_path, [moved, LOW], [{"finding": key, "justification": "why"}]) == 0


def test_a_stale_justification_fails(tmp_path: Path) -> None:
    key = slither_check.finding_key(FINDING)
    assert _run(tmp_path, [LOW], [{"finding": key, "justification": "fixed since"}]) == 1
