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

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from chain import InProcessBackend, new_account
from marketplace_api import Services, create_app
from marketplace_api.auth.messages import sign_challenge
from marketplace_api.core.db import Database, run_migrations
from tests.integration.marketplace_api.market_world import (
    DB_KINDS,
    KNOWN_ACCOUNTS,
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


WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class IndexedClient(TestClient):
    """A test client that has the index catch up with the chain before each ``GET``.

    Every write needs a session: a write sent without an ``Authorization`` header is sent
    signed in as the account it acts for (the JSON body's ``owner`` or ``signer``, when a test
    made that account: :data:`KNOWN_ACCOUNTS`), else as a bystander. Tests of the sessions
    themselves pass their own header (the authorisation matrix does).
    """

    bystander = new_account()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tokens: dict[str, str] = {}

    def sign_in_as(self, account: LocalAccount) -> dict[str, str]:
        """The ``Authorization`` header of a session of ``account`` (signed in once, kept)."""
        if account.address not in self.tokens:
            challenge = super().request("POST", "/auth/nonce").json()
            body = sign_challenge(account, challenge, now=time.time())
            answer = super().request("POST", "/auth/verify", json=body)
            assert answer.status_code == 200, answer.text
            self.tokens[account.address] = answer.json()["token"]
        return {"Authorization": f"Bearer {self.tokens[account.address]}"}

    def acting_account(self, kwargs: dict[str, Any]) -> LocalAccount:
        """Whom a write acts for: its body's owner or signer when known, else the bystander."""
        body = kwargs.get("json")
        if isinstance(body, dict):
            for key in ("owner", "signer"):
                account = KNOWN_ACCOUNTS.get(str(body.get(key)).lower())
                if account is not None:
                    return account
        return self.bystander

    def request(self, method: str, url: Any, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        if method.upper() == "GET":
            services: Services = self.app.state.services  # type: ignore[attr-defined]
            services.catch_up()
        headers = dict(kwargs.get("headers") or {})
        writes = method.upper() in WRITES and not str(url).startswith("/auth")
        if writes and not any(k.lower() == "authorization" for k in headers):
            kwargs["headers"] = {**headers, **self.sign_in_as(self.acting_account(kwargs))}
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
