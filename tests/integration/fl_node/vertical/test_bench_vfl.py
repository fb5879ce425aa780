"""``benchmarks/bench_vfl.py --quick``: three party processes train in both randomiser settings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[4]
pytestmark = pytest.mark.slow


def test_the_quick_vfl_benchmark_trains_in_both_randomizers_against_phe(breast_data: None) -> None:
    out = subprocess.run(
        [sys.executable, "benchmarks/bench_vfl.py", "--quick", "--phe-batches", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout
    header = next(line for line in out.splitlines() if "ours short-exponent" in line)
    assert header.split()[:5] == ["ours", "short-exponent", "ours", "textbook", "phe"]
    assumptions = next(line for line in out.splitlines() if line.startswith("rests on"))
    assert assumptions.split()[2:] == ["DCR", "+", "short", "exp.", "DCR", "DCR"]
    ratios = next(line for line in out.splitlines() if line.startswith("/ phe (wall)"))
    short, textbook, phe_ratio = (float(v) for v in ratios.split()[3:6])
    assert phe_ratio == 1.0 and 0 < short < textbook  # the fast setting is the faster one
