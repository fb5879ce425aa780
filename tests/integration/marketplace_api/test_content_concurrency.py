"""Uploads of paid content while another writer (the indexer) commits, on a SQLite file.

Sealing, storing and pinning an upload takes a while (a daemon's round trips for IPFS). On SQLite
in WAL mode a transaction that read before another connection committed cannot then write: the
write fails at once with "database is locked" (the busy timeout does not apply to a stale
snapshot). Regression: an upload whose store round trip overlapped an index commit was answered
503 and nothing was recorded, although the envelope was stored and pinned.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from chain import InProcessBackend
from kernel.types import Cid
from marketplace_api import MarketplaceClient, Services, create_app
from marketplace_api.auth import Origin
from storage import LocalCidStore
from tests.integration.marketplace_api.market_world import (
    ChainWorld,
    drive_task,
    list_on_market,
    make_world,
)

pytestmark = pytest.mark.slow


class BusyNeighbourStore(LocalCidStore):
    """A store that lets another connection commit a write while it stores (as the indexer may)."""

    services: Services | None = None
    writes = 0

    def put(self, data: bytes) -> Cid:
        if self.services is not None:
            services = self.services
            with services.database.session() as other:
                services.sign_in.issue_challenge(
                    other,
                    deployment_id=services.scope.deployment_id,
                    chain_id=services.scope.chain_id,
                    origin=Origin.of("http://testserver"),
                )
                other.commit()
            self.writes += 1
        return super().put(data)


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[tuple[ChainWorld, TestClient, BusyNeighbourStore]]:
    world = make_world(InProcessBackend(), tmp_path / "store")
    store = BusyNeighbourStore(tmp_path / "store")
    world.store = store
    services = Services.embedded(
        backend=world.backend, deployment=world.deployment, relayer=world.relayer, store=store,
        database_url=f"sqlite:///{tmp_path / 'market.db'}", index_interval=None,
    )  # fmt: skip
    with TestClient(create_app(services=services)) as http:
        yield world, http, store
    services.close()


def test_an_upload_survives_a_commit_by_another_writer(shop: Any) -> None:
    world, http, store = shop
    model = b"the final model " * 1000
    task = drive_task(world, scores=[[1, 1]], n_participants=2, final_model=model)
    model_id = list_on_market(world, task)
    api = MarketplaceClient("http://testserver", http=http)
    api.sign_in(task.sponsor)
    store.services = http.app.state.services  # from now on every put races a commit
    uploaded = api.upload_content("model", model_id, model)
    assert store.writes == 1
    assert uploaded["size"] == len(model)
    again = api.upload_content("model", model_id, model)  # recorded: the same answer, no new put
    assert again["cid"] == uploaded["cid"] and store.writes == 1
