"""The response cache of the index's pages never shows a stale index (SQLite and PostgreSQL).

The API's ``GET /datasets``, ``/datasets/{id}``, ``/tasks`` and ``/tasks/{id}`` are served from
a per-process cache keyed by the query and the index's token (the cursor's version, bumped by
every indexer write). Listings made directly on-chain, then indexed, must show on the very next
request, and so must a delisting; while the index is unchanged the pages come from the cache.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from marketplace_api import Services, create_app
from marketplace_api.cache import ResponseCache
from marketplace_api.core.db import Database
from marketplace_api.listing import metadata_document
from marketplace_api.schemas import DatasetBase
from tests.integration.marketplace_api.market_world import ChainWorld, dataset_metadata

pytestmark = pytest.mark.slow


@pytest.fixture
def reader(solo_world: ChainWorld, database: Database) -> Iterator[tuple[TestClient, Services]]:
    """A plain client (no catch-up before each GET) and the services, indexer driven by hand."""
    services = Services.embedded(
        backend=solo_world.backend,
        deployment=solo_world.deployment,
        relayer=solo_world.relayer,
        store=solo_world.store,
        database=database,
        index_interval=None,
    )
    with TestClient(create_app(services=services)) as client:
        yield client, services


def list_on_chain(world: ChainWorld, tags: list[str]) -> int:
    """A listing made by its owner directly on-chain (no API), its document in the store."""
    owner = world.funded()
    fields = DatasetBase.model_validate(dataset_metadata(owner.address, tags=tags))
    doc = metadata_document(fields)
    world.store.put(doc.data)
    dataset_id, _ = world.registry(owner).list_dataset(bytes(doc.hash), doc.cid)
    return dataset_id


def ids(client: TestClient, **params: str) -> list[int]:
    response = client.get("/datasets", params=params)
    assert response.status_code == 200, response.text
    return [d["id"] for d in response.json()["items"]]


def test_a_new_listing_shows_once_indexed_and_not_before(
    reader: tuple[TestClient, Services], solo_world: ChainWorld
) -> None:
    client, services = reader
    cache = services.response_cache
    assert cache.enabled
    services.catch_up()
    assert ids(client) == []
    assert ids(client) == []
    assert cache.hits >= 1  # the index did not change: the second page came from the cache

    first = list_on_chain(solo_world, ["medical"])
    assert ids(client) == []  # on-chain, not yet indexed: the index (and its page) is unchanged
    assert client.get(f"/datasets/{first}").status_code == 404

    services.catch_up()  # the indexer writes
    assert ids(client) == [first]
    assert ids(client, tag="medical") == [first]
    assert client.get(f"/datasets/{first}").json()["active"] is True

    second = list_on_chain(solo_world, ["credit"])
    services.catch_up()
    assert ids(client) == [first, second]
    assert ids(client, tag="medical") == [first]
    assert ids(client, tag="credit") == [second]

    assert ids(client, owner=client.get(f"/datasets/{first}").json()["owner"]) == [first]


def test_a_delisting_shows_once_indexed(
    reader: tuple[TestClient, Services], solo_world: ChainWorld
) -> None:
    client, services = reader
    owner = solo_world.funded()
    fields = DatasetBase.model_validate(dataset_metadata(owner.address, tags=["medical"]))
    doc = metadata_document(fields)
    solo_world.store.put(doc.data)
    dataset_id, _ = solo_world.registry(owner).list_dataset(bytes(doc.hash), doc.cid)
    services.catch_up()
    assert ids(client) == [dataset_id]
    assert client.get(f"/datasets/{dataset_id}").json()["active"] is True

    solo_world.registry(owner).delist(dataset_id)
    services.catch_up()
    assert ids(client) == []
    assert ids(client, status="delisted") == [dataset_id]
    assert client.get(f"/datasets/{dataset_id}").json()["active"] is False


def test_pages_are_the_same_with_the_cache_off(
    reader: tuple[TestClient, Services], solo_world: ChainWorld
) -> None:
    client, services = reader
    made = [list_on_chain(solo_world, ["medical"]) for _ in range(3)]
    services.catch_up()
    paths = ["/datasets", "/datasets?tag=medical&limit=2&offset=1", f"/datasets/{made[1]}"]
    cached = [client.get(p).json() for p in paths]
    assert [client.get(p).json() for p in paths] == cached  # served from the cache
    services.response_cache = ResponseCache(0)
    assert [client.get(p).json() for p in paths] == cached  # built afresh


def test_a_document_found_later_shows_though_no_block_was_indexed(
    reader: tuple[TestClient, Services], solo_world: ChainWorld
) -> None:
    """The cursor's block stays; only its version tells the page changed."""
    client, services = reader
    owner = solo_world.funded()
    fields = DatasetBase.model_validate(dataset_metadata(owner.address, tags=["medical"]))
    doc = metadata_document(fields)
    dataset_id, _ = solo_world.registry(owner).list_dataset(bytes(doc.hash), doc.cid)
    services.catch_up()
    before = client.get(f"/datasets/{dataset_id}").json()
    assert (before["document_status"], before["name"]) == ("missing", None)
    assert client.get("/datasets", params={"tag": "medical"}).json()["items"] == []
    head = client.get("/datasets").json()

    solo_world.store.put(doc.data)
    assert services.indexer.refresh_missing() == 1
    after = client.get(f"/datasets/{dataset_id}").json()
    assert (after["document_status"], after["name"]) == ("ok", fields.name)
    assert ids(client, tag="medical") == [dataset_id]
    assert client.get("/datasets").json() != head
