"""``scripts/bench-api --quick`` end to end on a tiny index: it runs and its figures are sane.

No timing is asserted (the machine is shared): every query shape completes requests, none fails,
and the JSON record holds what the table shows.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chain.devnode import find_tool
from chain.errors import ChainConnectionError
from fedmarket.bench import main
from tests.support.postgres import postgres_available
from tests.support.services import unavailable

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.rpc]


def test_the_quick_benchmark_serves_every_shape_without_errors(tmp_path: Path) -> None:
    if not postgres_available():
        unavailable("PostgreSQL server binaries are not installed")
    try:
        find_tool("anvil")
    except ChainConnectionError as exc:
        unavailable(str(exc))
    out = tmp_path / "bench.json"
    argv = ["--quick", "--listings", "120", "--tasks", "4", "--duration", "1", "--no-compare"]
    assert main([*argv, "--concurrency", "4", "--json", str(out)]) == 0
    record = json.loads(out.read_text())
    assert record["options"]["listings"] == 120
    assert set(record["runs"]) == {"cache on"}
    for run, shapes in record["runs"].items():
        assert len(shapes) == 11, run  # seven JSON shapes and four pages
        assert sum(1 for shape in shapes if shape["name"].startswith("page ")) == 4
        for shape in shapes:
            assert shape["errors"] == 0, (run, shape)
            assert shape["requests"] > 0 and shape["rps"] > 0, (run, shape)
            assert 0 < shape["p50_ms"] <= shape["p90_ms"] <= shape["p99_ms"] <= shape["max_ms"]
            assert shape["cpu_ms_per_req_server"] > 0, (run, shape)
