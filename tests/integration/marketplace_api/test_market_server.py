"""The API through a real uvicorn server and the HTTP client, as the demo uses it."""

from __future__ import annotations

from pathlib import Path

import pytest

from chain import DatasetRegistryClient, InProcessBackend
from marketplace_api import (
    MarketplaceApiError,
    MarketplaceClient,
    MarketplaceConnectionError,
    Services,
    create_app,
    serve_in_thread,
)
from storage import canonical_json, compute_cid
from tests.integration.marketplace_api.market_world import (
    TOKEN,
    dataset_metadata,
    drive_task,
    list_on_market,
    make_world,
)

pytestmark = pytest.mark.slow


def test_whole_story_over_http(tmp_path: Path) -> None:
    world = make_world(InProcessBackend(), tmp_path / "store")
    services = Services.embedded(
        backend=world.backend,
        deployment=world.deployment,
        relayer=world.relayer,
        store=world.store,
        database_url=f"sqlite:///{tmp_path / 'marketplace.db'}",
    )
    server = serve_in_thread(create_app(services=services))
    try:
        assert server.url.startswith("http://127.0.0.1:")
        with MarketplaceClient(server.url, timeout=10) as api:
            health = api.health()
            assert health["status"] == "ok"
            assert health["chain"]["chain_id"] == world.backend.chain_id
            assert health["contracts"]["market"] == world.deployment.market
            assert health["contracts"]["court"] == world.deployment.court

            owners = [world.funded(), world.funded()]
            listings = [
                api.list_dataset(o, dataset_metadata(o.address, tags=["medical", f"site-{i}"]))
                for i, o in enumerate(owners)
            ]
            registry = DatasetRegistryClient(world.backend, world.deployment.registry)
            for owner, listing in zip(owners, listings, strict=True):
                assert registry.listing(listing["id"]).owner == owner.address
                assert api.dataset(listing["id"]) == listing
            assert [d["id"] for d in api.datasets(tag="medical")] == [x["id"] for x in listings]
            assert api.datasets(tag="site-1") == [listings[1]]
            assert api.datasets_page(limit=1)["total"] == 2

            # the metadata document the client signed is the one stored and anchored
            doc = world.store.get(listings[0]["metadata_cid"])
            assert compute_cid(doc) == listings[0]["metadata_cid"]
            assert b'"owner":"%s"' % owners[0].address.encode() in doc

            with pytest.raises(MarketplaceApiError) as dup:
                api.list_dataset(
                    owners[0],
                    dataset_metadata(
                        owners[0].address, name=listings[0]["name"], tags=["medical", "site-0"]
                    ),
                )
            assert dup.value.status == 409

            with pytest.raises(MarketplaceApiError) as bad:
                api.list_dataset(owners[0], {**dataset_metadata(owners[0].address), "rows": [[1]]})
            assert bad.value.status == 422 and bad.value.fields == [("body", "rows")]

            paid = world.funded()
            sold = api.list_dataset(
                paid,
                dataset_metadata(paid.address, tags=["medical"], downloadable=True),
                access_mode="downloadable",
                price_wei=3 * TOKEN,
            )
            assert (sold["access_mode"], sold["price_wei"]) == ("downloadable", str(3 * TOKEN))
            assert api.datasets(access_mode="downloadable") == [sold]

            task = drive_task(world, scores=[[1, 3]], n_participants=2, claims=[(1, 1)])

            api.wait_indexed(world.backend.w3.eth.block_number)  # the task lives on-chain
            view = api.task(task.task_id)
            assert (view["status"], view["final"]) == ("completed", True)
            assert view["allocated"] == {a: str(v) for a, v in task.allocated.items()}
            assert view["claimed"] == {a: str(task.claimed.get(a, 0)) for a in task.addresses}

            assert task.card_cid is not None
            model_id = list_on_market(world, task, price=10 * TOKEN)
            api.wait_indexed(world.backend.w3.eth.block_number)
            model = api.list_model(
                task.sponsor,
                task_id=task.task_id,
                name="model",
                description="two clinics",
                price_wei=10 * TOKEN,
                card_cid=task.card_cid,
            )
            assert model["id"] == model_id
            assert [c["share_bps"] for c in model["contributors"]] == [2500, 7500]
            detail = api.model(model["id"])
            assert {k: v for k, v in detail.items() if k in model} == model
            assert api.models() == [model]

            with pytest.raises(MarketplaceApiError) as missing:
                api.task(10_000)
            assert missing.value.status == 404
            assert missing.value.detail == "task 10000 does not exist"
    finally:
        server.stop()
    assert not server.thread.is_alive()
    with pytest.raises(MarketplaceConnectionError):
        MarketplaceClient(server.url, timeout=2).health()
    services.close()


def test_client_validates_before_sending(tmp_path: Path) -> None:
    from chain import new_account

    api = MarketplaceClient("http://127.0.0.1:9", timeout=1)  # nothing listens there
    with pytest.raises(MarketplaceApiError) as exc:
        api.list_dataset(new_account(), {"name": "", "schema": [], "row_count": 0, "license": "x"})
    assert exc.value.status == 422
    assert {("body", "name"), ("body", "schema"), ("body", "row_count")} <= set(exc.value.fields)
    assert canonical_json(exc.value.detail)  # JSON-able, like the server's


def test_server_start_failure_is_reported(tmp_path: Path) -> None:
    from marketplace_api import ServerStartError

    world = make_world(InProcessBackend(), tmp_path / "store")
    broken = tmp_path / "not-a-dir" / "x.db"
    (tmp_path / "not-a-dir").write_text("a file, not a folder")
    services = Services.embedded(
        backend=world.backend,
        deployment=world.deployment,
        relayer=world.relayer,
        store=world.store,
        database_url=f"sqlite:///{broken}",
    )
    with pytest.raises(ServerStartError):
        serve_in_thread(create_app(services=services), startup_timeout=10)


def test_a_database_outliving_its_chain(tmp_path: Path) -> None:
    """A rerun on a fresh in-process chain with the same database file (the demo's out dir)."""
    from fastapi.testclient import TestClient

    database_url = f"sqlite:///{tmp_path / 'marketplace.db'}"
    seen = []
    for run in range(2):
        world = make_world(InProcessBackend(), tmp_path / f"store-{run}")
        services = Services.embedded(
            backend=world.backend,
            deployment=world.deployment,
            relayer=world.relayer,
            store=world.store,
            database_url=database_url,
        )
        with TestClient(create_app(services=services)) as http:
            api = MarketplaceClient("http://testserver", http=http)
            owner = world.funded()
            listing = api.list_dataset(owner, dataset_metadata(owner.address))
            assert listing["id"] == 1  # ids restart with the chain
            assert api.datasets() == [listing]  # the previous run's listing is not shown
            seen.append(listing["registry"])
        services.close()
    # the same deployer deployed to the same addresses: only the deployment block tells them apart
    assert seen[0] == seen[1]
