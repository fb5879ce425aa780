"""The same API over a JSON-RPC chain node (anvil) instead of the in-process chain."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from chain import DatasetRegistryClient, RpcBackend
from marketplace_api import MarketplaceApiError, MarketplaceClient, Services, create_app
from tests.integration.marketplace_api.market_world import (
    dataset_metadata,
    drive_task,
    list_on_market,
    make_world,
)

pytestmark = [pytest.mark.slow, pytest.mark.rpc]


def test_listing_and_task_over_json_rpc(anvil_url: str, tmp_path: Path) -> None:
    world = make_world(RpcBackend(anvil_url), tmp_path / "store")
    services = Services.embedded(
        backend=world.backend,
        deployment=world.deployment,
        relayer=world.relayer,
        store=world.store,
        database_url=f"sqlite:///{tmp_path / 'marketplace.db'}",
    )
    with TestClient(create_app(services=services)) as http:
        api = MarketplaceClient("http://testserver", http=http)
        health = api.health()
        assert health["chain"]["backend"] == "json-rpc"
        assert health["chain"]["chain_id"] == 31337

        owner = world.funded()
        listing = api.list_dataset(owner, dataset_metadata(owner.address))
        on_chain = DatasetRegistryClient(world.backend, world.deployment.registry)
        assert on_chain.listing(listing["id"]).owner == owner.address

        intruder = world.funded()
        with pytest.raises(MarketplaceApiError) as exc:
            # the intruder, signed in as itself, signs a listing naming the owner: refused
            # before any gas is spent (the session is not the owner's)
            api.list_dataset(intruder, dataset_metadata(owner.address))
        assert exc.value.status == 403 and owner.address in str(exc.value.detail)

        # the v2 task on a node: anvil travels past every deadline
        task = drive_task(world, scores=[[2, 1], [1, 1]], n_participants=2, claims=[(0, 1)])
        api.wait_indexed(world.backend.w3.eth.block_number)  # the task lives on-chain
        view = api.task(task.task_id)
        assert (view["status"], view["final"]) == ("completed", True)
        assert [r["budget_wei"] for r in view["rounds"]] == [str(r["budget"]) for r in task.rounds]
        assert [r["evidence_status"] for r in view["rounds"]] == ["verified", "verified"]
        assert view["allocated"] == {a: str(v) for a, v in task.allocated.items()}
        assert view["claimed"][task.addresses[0]] == str(task.claimed[task.addresses[0]])
        assert task.card_cid is not None
        model_id = list_on_market(world, task, price=0)
        api.wait_indexed(world.backend.w3.eth.block_number)
        model = api.list_model(
            task.sponsor,
            task_id=task.task_id,
            name="anvil model",
            description="",
            price_wei=0,
            card_cid=task.card_cid,
        )
        assert model["id"] == model_id
        assert sum(c["share_bps"] for c in model["contributors"]) == 10_000
    services.close()


def test_app_built_from_settings(anvil_url: str, tmp_path: Path) -> None:
    """``fedmarket serve``'s path: everything from FEDMARKET_API_* settings, nothing injected."""
    from marketplace_api import Settings

    world = make_world(RpcBackend(anvil_url), tmp_path / "store")
    deployment_file = world.deployment.save(tmp_path / "deployment.json")
    relayer = world.funded()
    settings = Settings(
        relayer_key="0x" + bytes(relayer.key).hex(),
        chain_url=anvil_url,
        deployment_file=deployment_file,
        database_url=f"sqlite:///{tmp_path / 'served.db'}",
        store_dir=tmp_path / "store",
        cors_origins=["https://shop.example"],
    )
    app = create_app(settings)
    with TestClient(app) as http:
        api = MarketplaceClient("http://testserver", http=http)
        assert api.health()["status"] == "ok"
        owner = world.funded()
        listing = api.list_dataset(owner, dataset_metadata(owner.address))
        assert (
            DatasetRegistryClient(world.backend, world.deployment.registry)
            .listing(listing["id"])
            .owner
            == owner.address
        )
        assert app.state.services.relayer.address == relayer.address
        preflight = http.options(
            "/datasets",
            headers={"Origin": "https://shop.example", "Access-Control-Request-Method": "POST"},
        )
        assert preflight.headers["access-control-allow-origin"] == "https://shop.example"
