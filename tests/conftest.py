"""Shared fixtures: chain backends (in-process, anvil, Hardhat node) and PostgreSQL.

Real services are started by the tests themselves on 127.0.0.1. Where one cannot start (tools
not installed) its tests are skipped, unless ``FEDMARKET_REQUIRE_REAL=1`` (set by ``scripts/test``
and CI), which turns the skip into a failure so a missing service can never pass silently.

Tests marked ``long`` (real-time runs of several OS processes whose in-process siblings run in
every CI) are deselected unless ``FEDMARKET_LONG=1``: ``scripts/test-long`` runs them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from chain import ChainBackend, DevNode, InProcessBackend, RpcBackend
from chain.devnode import find_tool
from chain.errors import ChainConnectionError
from tests.support.postgres import postgres_available, running_postgres
from tests.support.services import unavailable

RUN_LONG = os.environ.get("FEDMARKET_LONG") == "1"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Outside ``scripts/test-long``, leave out the tests marked ``long``."""
    if RUN_LONG:
        return
    dropped = [i for i in items if i.get_closest_marker("long")]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [i for i in items if i not in dropped]


@pytest.fixture(scope="session")
def anvil_url() -> Iterator[str]:
    """URL of an anvil node started for this test session."""
    try:
        find_tool("anvil")
    except ChainConnectionError as exc:
        unavailable(str(exc))
    with DevNode("anvil") as node:
        yield node.url


@pytest.fixture(scope="session")
def hardhat_url() -> Iterator[str]:
    """URL of a Hardhat node started for this test session."""
    try:
        find_tool("hardhat")
        node = DevNode("hardhat").start()
    except ChainConnectionError as exc:
        unavailable(str(exc))
    try:
        yield node.url
    finally:
        node.stop()


@pytest.fixture(params=["in-process", "anvil", "hardhat"])
def backend(request: pytest.FixtureRequest) -> Iterator[ChainBackend]:
    """Each chain backend in turn; the same tests run over all of them."""
    if request.param == "in-process":
        yield InProcessBackend()
    elif request.param == "anvil":
        yield RpcBackend(request.getfixturevalue("anvil_url"))
    else:
        yield RpcBackend(request.getfixturevalue("hardhat_url"))


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """SQLAlchemy URL of a real PostgreSQL server started for this test session."""
    if not postgres_available():
        unavailable("PostgreSQL server binaries are not installed")
    with running_postgres() as url:
        yield url
