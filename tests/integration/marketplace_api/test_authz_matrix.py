"""The authorisation matrix: every write x {no session, expired session, wrong owner, right owner}.

Each request is otherwise valid (signed by the right owner where the chain needs a signature),
so the session alone decides: 401 without one or with an expired one, 403 for another account's,
success for the owner's. A refused write changes nothing: the chain's state and the relayer's
nonce are checked after the refusals. Over SQLite and PostgreSQL and the in-process chain.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from sqlalchemy import update

from chain import (
    AccessMode,
    ListingActiveRequest,
    ListingUpdateRequest,
    sign_listing,
    sign_listing_active,
    sign_listing_update,
)
from marketplace_api import MarketplaceClient
from marketplace_api.auth.tables import SignInSession
from marketplace_api.core.db import Database
from marketplace_api.listing import metadata_document
from marketplace_api.schemas import DatasetBase
from tests.integration.marketplace_api.conftest import IndexedClient
from tests.integration.marketplace_api.market_world import (
    TOKEN,
    ChainWorld,
    dataset_metadata,
    drive_task,
    list_on_market,
)
from tests.integration.marketplace_api.test_market_tasks_models import listing_body

pytestmark = pytest.mark.slow


@dataclass
class Write:
    """One write, ready to send: who may make it, and what it answers when they do."""

    method: str
    path: str
    owner: LocalAccount
    json: dict[str, Any] | None = None
    content: bytes | None = None
    content_type: str = "application/json"
    ok: int = 200


def deadline(world: ChainWorld) -> int:
    return int(max(time.time(), world.backend.latest_timestamp())) + 3600


def listed_dataset(api: IndexedClient, world: ChainWorld, **mode: Any) -> tuple[LocalAccount, int]:
    owner = world.funded()
    client = MarketplaceClient("http://testserver", http=api)
    listing = client.list_dataset(owner, dataset_metadata(owner.address), **mode)
    return owner, int(listing["id"])


def post_dataset(api: IndexedClient, world: ChainWorld) -> Write:
    owner = world.funded()
    base = DatasetBase.model_validate(
        {**dataset_metadata(owner.address), "owner": owner.address, "downloadable": False}
    )
    registry = world.registry()
    request = metadata_document(base).request(
        owner.address, nonce=registry.nonce(owner.address), deadline=deadline(world)
    )
    signature = sign_listing(owner, world.backend.chain_id, registry.address, request)
    body = {
        **base.document_fields(),
        "access_mode": "federated_only",
        "price_wei": "0",
        "nonce": request.nonce,
        "deadline": request.deadline,
        "signature": "0x" + signature.hex(),
    }
    return Write("POST", "/datasets", owner, json=body, ok=202)


def patch_dataset(api: IndexedClient, world: ChainWorld) -> Write:
    owner, dataset_id = listed_dataset(api, world)
    registry = world.registry()
    request = ListingUpdateRequest(
        owner=owner.address,
        dataset_id=dataset_id,
        access_mode=AccessMode.DOWNLOADABLE,
        price=2 * TOKEN,
        nonce=registry.nonce(owner.address),
        deadline=deadline(world),
    )
    signature = sign_listing_update(owner, world.backend.chain_id, registry.address, request)
    body = {
        "access_mode": "downloadable",
        "price_wei": str(2 * TOKEN),
        "deadline": request.deadline,
        "signature": "0x" + signature.hex(),
    }
    return Write("PATCH", f"/datasets/{dataset_id}", owner, json=body, ok=202)


def delete_dataset(api: IndexedClient, world: ChainWorld) -> Write:
    owner, dataset_id = listed_dataset(api, world)
    registry = world.registry()
    request = ListingActiveRequest(
        owner=owner.address,
        dataset_id=dataset_id,
        active=False,
        nonce=registry.nonce(owner.address),
        deadline=deadline(world),
    )
    signature = sign_listing_active(owner, world.backend.chain_id, registry.address, request)
    body = {"deadline": request.deadline, "signature": "0x" + signature.hex()}
    return Write("DELETE", f"/datasets/{dataset_id}", owner, json=body, ok=202)


def post_model(api: IndexedClient, world: ChainWorld) -> Write:
    task = drive_task(world, scores=[[1, 2]], n_participants=2)
    list_on_market(world, task, price=TOKEN)
    return Write("POST", "/models", task.sponsor, json=listing_body(task.sponsor, task), ok=201)


def put_model_content(api: IndexedClient, world: ChainWorld) -> Write:
    data = b"final weights " * 100 + os.urandom(8)
    task = drive_task(world, scores=[[1, 2]], n_participants=2, final_model=data)
    model_id = list_on_market(world, task, price=TOKEN)
    return Write(
        "PUT",
        f"/models/{model_id}/content",
        task.sponsor,
        content=data,
        content_type="application/octet-stream",
        ok=201,
    )


def put_dataset_content(api: IndexedClient, world: ChainWorld) -> Write:
    owner = world.funded()
    meta = dataset_metadata(owner.address, downloadable=True)
    client = MarketplaceClient("http://testserver", http=api)
    listing = client.list_dataset(owner, meta, access_mode="downloadable", price_wei=TOKEN)
    rows = [f"{10 + i % 7}.5,{12 + i % 5}.25,{1 + i % 9},site-{i % 3},{i % 2}" for i in range(120)]
    table = "\n".join(["radius,texture,visits,site,label", *rows]) + "\n"
    return Write(
        "PUT",
        f"/datasets/{listing['id']}/content",
        owner,
        content=table.encode(),
        content_type="text/csv",
        ok=201,
    )


def post_task(api: IndexedClient, world: ChainWorld) -> Write:
    task = drive_task(world, scores=[[1, 1]], n_participants=2)
    body = {"task_id": task.task_id, "title": "Heart disease", "tags": ["medical"]}
    return Write("POST", "/tasks", task.sponsor, json=body, ok=201)


def patch_task(api: IndexedClient, world: ChainWorld) -> Write:
    task = drive_task(world, scores=[[1, 1]], n_participants=2)
    first = {"task_id": task.task_id, "title": "Heart disease"}
    created = api.post("/tasks", json=first, headers=api.sign_in_as(task.sponsor))
    assert created.status_code == 201, created.text
    body = {"description": "Four hospitals, one model.", "tags": ["medical", "tabular"]}
    return Write("PATCH", f"/tasks/{task.task_id}", task.sponsor, json=body, ok=200)


WRITES: dict[str, Callable[[IndexedClient, ChainWorld], Write]] = {
    "POST /datasets": post_dataset,
    "PATCH /datasets/{id}": patch_dataset,
    "DELETE /datasets/{id}": delete_dataset,
    "POST /models": post_model,
    "PUT /models/{id}/content": put_model_content,
    "PUT /datasets/{id}/content": put_dataset_content,
    "POST /tasks": post_task,
    "PATCH /tasks/{id}": patch_task,
}


def fresh_token(api: IndexedClient, account: LocalAccount) -> str:
    client = MarketplaceClient("http://testserver", http=api)
    client.sign_in(account)
    assert client.token is not None
    return client.token


def expire(database: Database, token: str) -> None:
    """Age a session past its end, as the clock would."""
    digest = hashlib.sha256(token.encode("utf-8")).hexdigest()
    with database.session() as session:
        session.execute(
            update(SignInSession)
            .where(SignInSession.token_hash == digest)
            .values(expires_at=int(time.time()) - 1)
        )
        session.commit()


def send(api: IndexedClient, write: Write, token: str | None) -> Any:
    headers = {"Content-Type": write.content_type}
    # an explicit (even empty) Authorization header stops the test client signing in for us
    headers["Authorization"] = f"Bearer {token}" if token is not None else ""
    if write.json is not None:
        return api.request(write.method, write.path, json=write.json, headers=headers)
    return api.request(write.method, write.path, content=write.content, headers=headers)


@pytest.mark.parametrize("endpoint", list(WRITES))
def test_every_write_needs_the_owners_live_session(
    endpoint: str, api: IndexedClient, world: ChainWorld, database: Database
) -> None:
    write = WRITES[endpoint](api, world)
    relayer_nonce = world.backend.w3.eth.get_transaction_count(world.relayer.address)

    none = send(api, write, None)
    assert none.status_code == 401, (endpoint, none.text)
    assert none.headers.get("www-authenticate", "").lower().startswith("bearer")

    stale = fresh_token(api, write.owner)
    expire(database, stale)
    expired = send(api, write, stale)
    assert expired.status_code == 401, (endpoint, expired.text)
    assert "expired" in expired.text or "unknown" in expired.text

    intruder = world.funded()
    wrong = send(api, write, fresh_token(api, intruder))
    assert wrong.status_code == 403, (endpoint, wrong.text)
    assert write.owner.address in wrong.text or "sponsor" in wrong.text

    # nothing the refusals touched was relayed
    assert world.backend.w3.eth.get_transaction_count(world.relayer.address) == relayer_nonce

    right = send(api, write, fresh_token(api, write.owner))
    assert right.status_code == write.ok, (endpoint, right.text)


def test_a_signed_out_session_is_refused(api: IndexedClient, world: ChainWorld) -> None:
    write = post_dataset(api, world)
    token = fresh_token(api, write.owner)
    out = api.request("DELETE", "/auth/session", headers={"Authorization": f"Bearer {token}"})
    assert out.status_code == 204
    assert send(api, write, token).status_code == 401
