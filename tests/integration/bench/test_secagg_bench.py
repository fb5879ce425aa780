"""``scripts/bench-secagg --quick`` end to end: well-formed figures, exact sums, small overhead.

No timing is asserted (the machine is shared). Ten clients, 1k parameters, 0 % and 30 %
dropouts: both rounds complete, the secure sum equals the plain sum of the survivors' quantised
updates exactly and the float sum within the stated bound, 30 % dropouts leave 7 survivors, and
each finishing client sends less than 1.5 times a plain float32 update.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fedmarket.bench.secagg import main

pytestmark = pytest.mark.slow


def test_the_quick_run_sums_exactly_with_and_without_dropouts(tmp_path: Path) -> None:
    out = tmp_path / "secagg.json"
    assert main(["--quick", "--out", str(out)]) == 0
    record: dict[str, Any] = json.loads(out.read_text())
    rounds = record["rounds"]
    assert [(r["participants"], r["parameters"], r["dropout"]) for r in rounds] == [
        (10, 1000, 0.0),
        (10, 1000, 0.3),
    ]
    assert all(r["completed"] and r["exact"] for r in rounds)
    assert all(0 <= r["error"] <= r["bound"] for r in rounds)
    assert [r["survivors"] for r in rounds] == [10, 7]
    assert all(1.0 < r["expansion"] < 1.5 and r["plain"] == 4000 for r in rounds)
    assert "(target < 1.5x: met)" in record["report"]


def test_bad_options_exit_with_the_input_code() -> None:
    assert main(["--sizes", "7k"]) != 0
