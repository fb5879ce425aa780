"""The SecureBoost benchmark's --quick form runs end to end and reports real figures."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[5]


def test_quick_bench_equals_the_twin_and_writes_json(tmp_path: Path) -> None:
    data = Path(os.environ.get("FEDMARKET_DATA_DIR", "/work/shared/data"))
    if not (data / "fate_default_credit_hetero").is_dir():
        pytest.skip(f"default-credit is not under {data} (set FEDMARKET_DATA_DIR)")
    os.environ.setdefault("FEDMARKET_DATA_DIR", str(data))
    spec = importlib.util.spec_from_file_location(
        "bench_sb", ROOT / "benchmarks/bench_secureboost.py"
    )
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    sys.modules["bench_sb"] = bench  # dataclasses look their module up
    spec.loader.exec_module(bench)
    out = tmp_path / "sb.json"
    result = bench.main(["--quick", "--json", str(out)])
    assert json.loads(out.read_text()) == json.loads(json.dumps(result))
    assert result["ours"]["equals_twin"] and result["phe"]["subset"]["equals_twin"]
    assert abs(result["ours"]["auc"] - result["twin"]["auc"]) < 0.005
    assert 0.6 < result["ours"]["auc"] <= 1.0 and result["ours"]["seconds_per_tree"] > 0
    assert result["phe"]["ratio"] > 0 and result["ours"]["trees"] == 2
