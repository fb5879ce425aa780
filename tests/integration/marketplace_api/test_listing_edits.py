"""``PATCH``/``DELETE /datasets/{id}`` and the task descriptions: what they change, and refuse.

The chain holds a listing's mode, price and activity: an edit shows in ``GET`` only once the
index saw its event, and every refusal leaves the chain as it was. Over SQLite and PostgreSQL.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from chain import (
    ListingActiveRequest,
    ListingUpdateRequest,
    sign_listing_active,
    sign_listing_update,
)
from chain.registry import AccessMode
from marketplace_api import MarketplaceApiError, MarketplaceClient
from tests.integration.marketplace_api.conftest import IndexedClient
from tests.integration.marketplace_api.market_world import (
    TOKEN,
    ChainWorld,
    dataset_metadata,
    drive_task,
)

pytestmark = pytest.mark.slow


def client_of(api: IndexedClient) -> MarketplaceClient:
    return MarketplaceClient("http://testserver", http=api)


def refused(call: Any, *args: Any, **kwargs: Any) -> MarketplaceApiError:
    with pytest.raises(MarketplaceApiError) as exc:
        call(*args, **kwargs)
    return exc.value


def test_an_owner_reprices_delists_and_relists(api: IndexedClient, world: ChainWorld) -> None:
    owner = world.funded()
    client = client_of(api)
    listing = client.list_dataset(owner, dataset_metadata(owner.address))
    dataset_id = int(listing["id"])

    answer = client.update_dataset(owner, dataset_id, access_mode="downloadable", price_wei=TOKEN)
    assert (answer["change"], answer["status"]) == ("update", "relayed")
    on_chain = world.registry().listing(dataset_id)
    assert (on_chain.access_mode, on_chain.price) == (AccessMode.DOWNLOADABLE, TOKEN)
    shown = client.dataset(dataset_id)
    assert (shown["access_mode"], shown["price_wei"]) == ("downloadable", str(TOKEN))

    assert client.set_dataset_active(owner, dataset_id, active=False)["change"] == "delist"
    assert client.dataset(dataset_id)["active"] is False
    assert dataset_id not in [d["id"] for d in client.datasets(owner=owner.address)]
    again = refused(client.set_dataset_active, owner, dataset_id, active=False)
    assert again.status == 409 and "delisted already" in str(again.detail)

    assert client.set_dataset_active(owner, dataset_id, active=True)["change"] == "relist"
    assert client.dataset(dataset_id)["active"] is True
    twice = refused(client.set_dataset_active, owner, dataset_id, active=True)
    assert twice.status == 409 and "not delisted" in str(twice.detail)


def test_a_signature_is_good_once_and_for_its_kind_only(
    api: IndexedClient, world: ChainWorld
) -> None:
    owner = world.funded()
    client = client_of(api)
    dataset_id = int(client.list_dataset(owner, dataset_metadata(owner.address))["id"])
    registry = world.registry()
    deadline = int(max(time.time(), world.backend.latest_timestamp())) + 600
    update = ListingUpdateRequest(
        owner=owner.address,
        dataset_id=dataset_id,
        access_mode=AccessMode.DOWNLOADABLE,
        price=TOKEN,
        nonce=registry.nonce(owner.address),
        deadline=deadline,
    )
    signed = sign_listing_update(owner, world.backend.chain_id, registry.address, update)
    body = {
        "access_mode": "downloadable",
        "price_wei": str(TOKEN),
        "deadline": deadline,
        "signature": "0x" + signed.hex(),
    }
    path = f"/datasets/{dataset_id}"
    auth = api.sign_in_as(owner)
    assert api.patch(path, json=body, headers=auth).status_code == 202
    replayed = api.patch(path, json=body, headers=auth)  # the nonce is spent
    assert replayed.status_code == 422 and replayed.json()["detail"][0]["loc"] == [
        "body",
        "signature",
    ]
    # the same signature offered as a delisting: another message, another signer recovered
    as_delist = {"deadline": deadline, "signature": body["signature"]}
    assert api.request("DELETE", path, json=as_delist, headers=auth).status_code == 422
    # a price the owner did not sign
    cheaper = {**body, "price_wei": "1"}
    assert api.patch(path, json=cheaper, headers=auth).status_code == 422
    assert registry.listing(dataset_id).price == TOKEN


def test_edits_that_cannot_be_are_4xx(api: IndexedClient, world: ChainWorld) -> None:
    owner = world.funded()
    client = client_of(api)
    dataset_id = int(client.list_dataset(owner, dataset_metadata(owner.address))["id"])
    registry = world.registry()
    deadline = int(max(time.time(), world.backend.latest_timestamp())) + 600
    active = ListingActiveRequest(
        owner=owner.address,
        dataset_id=dataset_id,
        active=False,
        nonce=registry.nonce(owner.address),
        deadline=deadline,
    )
    signature = (
        "0x" + sign_listing_active(owner, world.backend.chain_id, registry.address, active).hex()
    )
    cases: list[tuple[dict[str, Any], int]] = [
        ({"deadline": deadline, "signature": signature}, 422),  # nothing to change
        (
            {"active": False, "access_mode": "downloadable", "deadline": 1, "signature": signature},
            422,
        ),
        ({"price_wei": "5", "deadline": deadline, "signature": signature}, 422),
        ({"active": False, "deadline": deadline, "signature": "0x12"}, 422),
        ({"active": False, "deadline": -1, "signature": signature}, 422),
        ({"active": False, "deadline": deadline, "signature": signature, "x": 1}, 422),
    ]
    auth = api.sign_in_as(owner)
    for body, status in cases:
        answer = api.patch(f"/datasets/{dataset_id}", json=body, headers=auth)
        assert answer.status_code == status, (body, answer.text)
    missing = {**cases[0][0], "active": False}
    assert api.patch("/datasets/999999", json=missing, headers=auth).status_code == 404
    expired = {"active": False, "deadline": 1, "signature": signature}
    answer = api.patch(f"/datasets/{dataset_id}", json=expired, headers=auth)
    assert answer.status_code == 422
    assert registry.listing(dataset_id).active  # nothing was relayed


def test_a_sponsor_describes_its_task(api: IndexedClient, world: ChainWorld) -> None:
    task = drive_task(world, scores=[[1, 1]], n_participants=2)
    assert api.get(f"/tasks/{task.task_id}/description").status_code == 404
    body = {"task_id": task.task_id, "title": "  Heart\tdisease  ", "tags": ["medical"]}
    created = api.post("/tasks", json=body, headers=api.sign_in_as(task.sponsor))
    assert created.status_code == 201, created.text
    assert created.headers["location"] == f"/tasks/{task.task_id}/description"
    assert created.json()["title"] == "Heart disease"  # normalised
    again = api.post("/tasks", json=body, headers=api.sign_in_as(task.sponsor))
    assert again.status_code == 409
    edit = {"description": "Four hospitals."}
    patched = api.patch(f"/tasks/{task.task_id}", json=edit, headers=api.sign_in_as(task.sponsor))
    assert patched.status_code == 200
    shown = api.get(f"/tasks/{task.task_id}/description").json()
    assert (shown["title"], shown["description"], shown["tags"]) == (
        "Heart disease",
        "Four hospitals.",
        ["medical"],
    )
    assert shown["sponsor"] == task.sponsor.address
    unknown = api.post(
        "/tasks", json={**body, "task_id": 10_000}, headers=api.sign_in_as(task.sponsor)
    )
    assert unknown.status_code == 404
    nul = api.patch(
        f"/tasks/{task.task_id}",
        json={"title": "bad\u0000name"},
        headers=api.sign_in_as(task.sponsor),
    )
    assert nul.status_code == 422 and nul.json()["detail"][0]["loc"][:2] == ["body", "title"]
