"""``scripts/bench --quick`` end to end: every system runs the task and lands on the same model.

No timing is asserted (the machine is shared): the plain loop, fedmarket on the in-process chain
and on anvil, and Flower's simulation (when ``flwr[simulation]`` is installed) each finish three
rounds; fedmarket's and Flower's final weights are the plain loop's up to float rounding, so their
test accuracy is the same; fedmarket's JSON-RPC requests are counted per round.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chain.devnode import find_tool
from chain.errors import ChainConnectionError
from fedmarket.bench._fl_systems import flower_available
from fedmarket.bench.fl import main
from tests.support.services import unavailable

pytestmark = [pytest.mark.slow, pytest.mark.rpc]


def test_the_quick_benchmark_runs_every_system_to_the_same_model(tmp_path: Path) -> None:
    try:
        find_tool("anvil")
    except ChainConnectionError as exc:
        unavailable(str(exc))
    systems = ["plain", "inprocess", "anvil"] + (["flower"] if flower_available() else [])
    out = tmp_path / "bench.json"
    assert main(["--quick", "--systems", ",".join(systems), "--json", str(out)]) == 0
    record = json.loads(out.read_text())
    assert record["options"]["rounds"] == 3 and record["options"]["dataset"] == "digits"
    assert len(record["systems"]) == len(systems)
    plain = record["systems"][0]
    assert plain["system"].startswith("plain")
    assert plain["accuracy"] > 0.8  # three rounds of FedAvg already learn the digits
    for run in record["systems"]:
        assert run["max_abs_diff_to_plain"] < 1e-4, run["system"]
        assert abs(run["accuracy"] - plain["accuracy"]) <= 1 / 360, run["system"]  # one test row
        assert run["wall_s"] > 0 and run["round_ms"] > 0, run["system"]
    for run in (r for r in record["systems"] if r["system"].startswith("fedmarket")):
        requests = run["requests_per_round"]
        assert requests["eth_sendRawTransaction"] >= 3, run["system"]  # open, batch, finalize
        assert all(v >= 0 for v in requests.values())
