"""Fail on any high or medium slither finding that the triage file does not justify.

Run by ``scripts/slither`` (and ``scripts/test``) on slither's JSON report::

    python scripts/slither_check.py REPORT.json contracts/slither-triage.json

A finding is keyed by its detector and its description with the source locations removed, so a
justification survives unrelated edits that move lines but not a change of the code it is about.
Every triage entry must still match a finding (a fixed finding leaves a stale entry, reported).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

GATED = ("High", "Medium")
_LOCATION = re.compile(r"\s*\(contracts/[^)]*\)")


def finding_key(result: dict[str, object]) -> str:
    """Detector and description without source locations (stable across moved lines)."""
    description = _LOCATION.sub("", str(result["description"]))
    return f"{result['check']}: " + " ".join(description.split())


def main(report_path: str, triage_path: str) -> int:
    """Compare the report with the triage file; print what is wrong; 0 when all is justified."""
    report = json.loads(Path(report_path).read_text(encoding="utf-8"))
    results = report.get("results", {}).get("detectors", [])
    triage = json.loads(Path(triage_path).read_text(encoding="utf-8"))
    justified = {entry["finding"]: entry["justification"] for entry in triage["findings"]}
    gated = [r for r in results if r["impact"] in GATED]
    keys = {finding_key(r): r for r in gated}
    untriaged = [k for k in keys if k not in justified]
    stale = [k for k in justified if k not in keys]
    for key in untriaged:
        print(f"UNTRIAGED {keys[key]['impact']}: {key}")  # noqa: T201 - a script's report
    for key in stale:
        print(f"STALE triage entry (no such finding any more): {key}")  # noqa: T201
    print(  # noqa: T201
        f"slither: {len(results)} findings, {len(keys)} distinct high/medium, "
        f"{len(keys) - len(untriaged)} justified in {triage_path}, {len(untriaged)} untriaged"
    )
    return 1 if untriaged or stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
