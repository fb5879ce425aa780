"""``/models/{id}/content``: who uploads, who downloads, and what each refusal answers.

Over SQLite and PostgreSQL (the ``database`` fixture) and the in-process chain: only the sponsor
who listed a model uploads it, and only its final bytes; only a buyer the chain licenses gets the
key, wrapped to the key it signed in with; every refusal is a 4xx naming what is wrong, and no
refusal carries key material.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from marketplace_api import MarketplaceApiError, MarketplaceClient, Services, create_app
from marketplace_api.content import open_grant
from marketplace_api.content.vault import ArtifactRef
from marketplace_api.core.db import Database
from storage import content_hash
from storage.access_log import AccessLog
from tests.integration.marketplace_api.conftest import IndexedClient
from tests.integration.marketplace_api.market_world import (
    TOKEN,
    ChainWorld,
    DrivenTask,
    drive_task,
    list_on_market,
)

PRICE = 3 * TOKEN
MODEL = b"final weights " * 300


def listed(world: ChainWorld) -> tuple[DrivenTask, int, bytes]:
    """A final task whose model (``MODEL`` and a random tail) is listed at ``PRICE``."""
    data = MODEL + os.urandom(8)
    task = drive_task(world, scores=[[1, 2]], n_participants=2, final_model=data)
    return task, list_on_market(world, task, price=PRICE), data


def signed_in(api: TestClient, account: Any) -> MarketplaceClient:
    client = MarketplaceClient("http://testserver", http=api)
    client.sign_in(account)
    return client


def status_of(call: Any, *args: Any) -> tuple[int, Any]:
    with pytest.raises(MarketplaceApiError) as refused:
        call(*args)
    return refused.value.status, refused.value.detail


def test_only_the_sponsor_uploads_and_only_the_final_bytes(
    world: ChainWorld, api: TestClient
) -> None:
    task, model_id, data = listed(world)
    path = f"/models/{model_id}/content"
    headers = {"Content-Type": "application/octet-stream"}
    anonymous = TestClient(api.app).put(path, content=data, headers=headers)  # no session added
    assert anonymous.status_code == 401, anonymous.text

    stranger = signed_in(api, world.funded())
    status, detail = status_of(stranger.upload_content, "model", model_id, data)
    assert status == 403 and task.sponsor.address in detail

    sponsor = signed_in(api, task.sponsor)
    status, detail = status_of(sponsor.upload_content, "model", model_id, data + b"!")
    assert status == 422 and detail[0]["type"] == "hash_mismatch"
    wrong_type = api.put(path, content=data, headers={
        "Content-Type": "text/csv", "Authorization": f"Bearer {sponsor.token}"})  # fmt: skip
    assert wrong_type.status_code == 422
    assert wrong_type.json()["detail"][0]["loc"] == ["header", "content-type"]
    status, _ = status_of(sponsor.upload_content, "model", 10_000, data)
    assert status == 404

    as_sponsor = {**headers, "Authorization": f"Bearer {sponsor.token}"}
    first = api.put(path, content=data, headers=as_sponsor)
    assert first.status_code == 201, first.text
    again = api.put(path, content=data, headers=as_sponsor)
    assert again.status_code == 200 and again.json() == first.json()
    assert first.json()["content_hash"] == "0x" + content_hash(data).hex()
    assert api.get(f"/models/{model_id}").status_code in (200, 404)  # described or not: no 5xx


def test_only_a_licensed_buyer_gets_the_key(world: ChainWorld, api: TestClient) -> None:
    task, model_id, data = listed(world)
    buyer = world.funded()
    client = signed_in(api, buyer)
    for call in (client.content_grant, client.content_envelope):
        status, detail = status_of(call, "model", model_id)
        assert status == 403 and "no licence" in detail  # before paying, uploaded or not
        assert status_of(call, "model", 10_000)[0] == 404  # no such listing

    world.tokens(buyer, PRICE, world.deployment.market)
    world.market(buyer).buy(model_id, PRICE)
    status, detail = status_of(client.content_grant, "model", model_id)
    assert status == 404 and "not been uploaded" in detail  # licensed, nothing uploaded yet

    signed_in(api, task.sponsor).upload_content("model", model_id, data)
    grant = client.content_grant("model", model_id)
    envelope = client.content_envelope("model", model_id)
    ref = ArtifactRef("model", world.backend.chain_id, world.deployment.market, model_id)
    opened = open_grant(grant, envelope, bytes(buyer.key), expected=ref,
                        recipient=buyer.address, expected_hash=content_hash(data))  # fmt: skip
    assert opened == data
    answer = api.get(f"/models/{model_id}/content",
                     headers={"Authorization": f"Bearer {client.token}"})  # fmt: skip
    assert answer.headers["cache-control"] == "no-store"

    # the sponsor itself holds no licence: no key for it either
    status, detail = status_of(signed_in(api, task.sponsor).content_grant, "model", model_id)
    assert status == 403 and grant["wrapped_key"][2:] not in str(detail)


def test_every_key_grant_and_download_is_in_the_access_log_and_an_edit_shows(
    world: ChainWorld, database: Database, tmp_path: Path
) -> None:
    access_log = AccessLog(tmp_path / "access")
    services = Services.embedded(
        backend=world.backend, deployment=world.deployment, relayer=world.relayer,
        store=world.store, database=database, index_interval=None, access_log=access_log,
    )  # fmt: skip
    with IndexedClient(create_app(services=services)) as api:
        task, model_id, data = listed(world)
        buyer = world.funded()
        client = signed_in(api, buyer)
        status_of(client.content_grant, "model", model_id)  # refused: nothing handed, no entry
        assert list(access_log.entries()) == []
        world.tokens(buyer, PRICE, world.deployment.market)
        world.market(buyer).buy(model_id, PRICE)
        signed_in(api, task.sponsor).upload_content("model", model_id, data)
        client.content_grant("model", model_id)
        client.content_envelope("model", model_id)
    entries = list(access_log.entries())
    assert [(e.actor, e.action) for e in entries] == [
        (buyer.address, "key"),
        (buyer.address, "get"),
    ]
    ref = ArtifactRef("model", world.backend.chain_id, world.deployment.market, model_id)
    assert {e.purpose for e in entries} == {ref.purpose} and entries[0].cid == entries[1].cid
    assert access_log.verify(alert=False).ok
    segment = next((tmp_path / "access").glob("*.jsonl"))
    segment.write_text(segment.read_text().replace(buyer.address, world.funded().address, 1))
    assert not access_log.verify(alert=False).ok  # whose read it was cannot be rewritten
