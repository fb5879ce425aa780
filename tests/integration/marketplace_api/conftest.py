"""Fixtures of the marketplace API tests.

- ``db_engine``: a migrated database per backend (SQLite file, real PostgreSQL), created once;
- ``database``: a :class:`Database` over it whose changes are rolled back after each test;
- ``world``: an in-process chain with the contracts deployed (one per module: tests use fresh
  accounts and unique metadata, so they never collide on-chain);
- ``api``: a FastAPI ``TestClient`` over both. The app runs no indexer thread (the database's
  sessions are rolled back on one connection, which two threads must not share): the client
  brings the index up to the chain before each ``GET``, as the API's background indexer would
  have by then. The indexer tests drive the index explicitly instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from chain import InProcessBackend
from marketplace_api import Services, create_app
from marketplace_api.core.db import Database, run_migrations
from tests.integration.marketplace_api.market_world import (
    DB_KINDS,
    ChainWorld,
    empty_database,
    make_world,
    rolled_back,
)


@pytest.fixture(scope="session", params=DB_KINDS)
def db_engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """A database of each kind, migrated to head once for the session."""
    with empty_database(request.param, request, tmp_path_factory.mktemp("db")) as engine:
        run_migrations(engine)
        yield engine


@pytest.fixture
def database(db_engine: Engine) -> Iterator[Database]:
    """The session's database; everything a test writes is rolled back."""
    with rolled_back(db_engine) as db:
        yield db


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> ChainWorld:
    """An in-process chain with the contracts deployed and a funded relayer."""
    return make_world(InProcessBackend(), tmp_path_factory.mktemp("store"))


def make_app(world: ChainWorld, database: Database) -> FastAPI:
    """The API over ``world``'s chain and store and ``database`` (no indexer thread)."""
    services = Services.embedded(
        backend=world.backend,
        deployment=world.deployment,
        relayer=world.relayer,
        store=world.store,
        database=database,
        index_interval=None,
    )
    return create_app(services=services)


class IndexedClient(TestClient):
    """A test client that has the index catch up with the chain before each ``GET``."""

    def request(self, method: str, url: Any, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        if method.upper() == "GET":
            services: Services = self.app.state.services  # type: ignore[attr-defined]
            services.catch_up()
        return super().request(method, url, *args, **kwargs)


@pytest.fixture
def solo_world(tmp_path: Path) -> ChainWorld:
    """A chain of one test's own (for tests that count everything listed on it)."""
    return make_world(InProcessBackend(), tmp_path / "store")


@pytest.fixture
def solo_api(solo_world: ChainWorld, database: Database) -> Iterator[TestClient]:
    """A test client of the API over :func:`solo_world`."""
    with IndexedClient(make_app(solo_world, database)) as client:
        yield client


@pytest.fixture
def api(world: ChainWorld, database: Database) -> Iterator[TestClient]:
    """A test client of the API (lifespan run: migrations checked at start-up)."""
    with IndexedClient(make_app(world, database)) as client:
        yield client
