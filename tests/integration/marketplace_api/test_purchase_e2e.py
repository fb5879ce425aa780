"""A model bought end to end: anvil, a js-ipfs daemon, PostgreSQL and the API as a real server.

The API is built from its settings exactly as ``fedmarket serve`` builds it (IPFS store backend,
PostgreSQL, a master key of its own) and served by uvicorn. A three-participant task runs on
anvil to completion with a 1.5 MiB final model; its sponsor lists the model on the ModelMarket,
describes it through the API and, signed in, uploads the bytes, which the service seals and pins
in the daemon. A buyer signs in (EIP-4361), is refused before paying, pays on-chain, fetches the
wrapped key and the envelope, and decrypts locally to the exact bytes whose hash FedTask holds. A
signed-in non-buyer gets 403 with no key material; an anonymous caller gets 401. The
contributors' pull balances rise by exactly their shares of the sale, the API shows them, and a
contributor's claim moves exactly that into its token balance. A second buyer then runs
``fedmarket buy`` against the same server and gets the same bytes.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from chain import RpcBackend
from chain.market import contributor_entitlement, sale_split
from marketplace_api import (
    MarketplaceApiError,
    MarketplaceClient,
    Settings,
    create_app,
    serve_in_thread,
)
from marketplace_api.content import open_grant
from marketplace_api.content.vault import ArtifactRef
from storage import IpfsStore, compute_cid, content_hash
from storage.sealing import unwrap_key
from tests.integration.app.app_cli import fedmarket
from tests.integration.marketplace_api.market_world import (
    TOKEN,
    ChainWorld,
    DrivenTask,
    drive_task,
    fresh_postgres_database,
    list_on_market,
    make_world,
)
from tests.support.ipfs import IpfsDaemon, IpfsDaemonError, jsipfs_available
from tests.support.services import unavailable

pytestmark = [pytest.mark.slow, pytest.mark.rpc]

PRICE = 25 * TOKEN + 12_345  # not a multiple of 10,000 wei: the rounding residue is exercised
SPONSOR_BPS = 1_500
MODEL_BYTES = 1536 * 1024  # above one 1 MiB block: a multi-block envelope in IPFS


@pytest.fixture(scope="module")
def ipfs_daemon() -> Iterator[IpfsDaemon]:
    """A js-ipfs daemon of this module's own."""
    if not jsipfs_available():
        unavailable("js-ipfs is not installed (scripts/setup --all)")
    try:
        daemon = IpfsDaemon.start()
    except IpfsDaemonError as exc:
        unavailable(str(exc))
    try:
        yield daemon
    finally:
        daemon.stop()


@pytest.fixture
def world(anvil_url: str, ipfs_daemon: IpfsDaemon, tmp_path: Path) -> Iterator[ChainWorld]:
    """The contracts on anvil; every document (specs, models, cards) stored in the daemon."""
    world = make_world(RpcBackend(anvil_url), tmp_path / "unused")
    with IpfsStore(ipfs_daemon.api_url) as store:
        world.store = store
        yield world


@pytest.fixture
def api_url(
    world: ChainWorld, ipfs_daemon: IpfsDaemon, anvil_url: str, postgres_url: str, tmp_path: Path
) -> Iterator[str]:
    """The API built from its settings (``fedmarket serve``'s path) and served by uvicorn."""
    relayer = world.funded()
    deployment_file = world.deployment.save(tmp_path / "deployment.json")
    with fresh_postgres_database(postgres_url, "purchase") as database_url:
        settings = Settings(
            relayer_key="0x" + bytes(relayer.key).hex(),
            chain_url=anvil_url,
            deployment_file=deployment_file,
            database_url=database_url,
            store_backend="ipfs",
            ipfs_api_url=ipfs_daemon.api_url,
            content_master_key=os.urandom(32).hex(),
            max_content_bytes=8 * 1024 * 1024,
        )
        app = create_app(settings)
        with serve_in_thread(app) as server:
            yield server.url
        app.state.services.close()


def sold_task(world: ChainWorld, model: bytes) -> DrivenTask:
    """A final three-participant task whose last model is ``model``, its model listed."""
    task = drive_task(world, scores=[[1, 2, 3], [3, 2, 2]], n_participants=3, final_model=model)
    assert world.fed_task().task(task.task_id).model_hash == content_hash(model)
    return task


def indexed(api: MarketplaceClient, address: str, block: int) -> dict[str, Any]:
    """``GET /participants/{address}`` once the index holds ``block``."""
    for _ in range(200):
        view = api.participant(address)
        if view["indexed_block"] is not None and view["indexed_block"] >= block:
            return view
        time.sleep(0.1)
    raise AssertionError(f"the index did not reach block {block}")


def pinned(daemon: IpfsDaemon) -> set[str]:
    """What the daemon pins recursively, asked over its own RPC API."""
    answer = httpx.post(
        f"{daemon.api_url}/api/v0/pin/ls",
        params={"type": "recursive", "cid-base": "base32"},
        timeout=10,
    )
    answer.raise_for_status()
    return set(answer.json()["Keys"])


def test_a_model_is_bought_paid_for_and_decrypted_end_to_end(
    world: ChainWorld, api_url: str, ipfs_daemon: IpfsDaemon, anvil_url: str, tmp_path: Path
) -> None:
    model = os.urandom(MODEL_BYTES)
    task = sold_task(world, model)
    model_id = list_on_market(world, task, price=PRICE, sponsor_bps=SPONSOR_BPS)
    assert task.card_cid is not None
    chain_hash = world.fed_task().task(task.task_id).model_hash
    ref = ArtifactRef("model", world.backend.chain_id, world.deployment.market, model_id)

    # the sponsor describes the listing and, signed in, uploads the bytes: sealed, stored, pinned
    with MarketplaceClient(api_url, timeout=60) as seller:
        seller.list_model(task.sponsor, task_id=task.task_id, name="e2e model",
                          card_cid=task.card_cid, price_wei=PRICE)  # fmt: skip
        seller.sign_in(task.sponsor)
        uploaded = seller.upload_content("model", model_id, model)
    assert uploaded["content_hash"] == "0x" + bytes(chain_hash).hex()
    assert uploaded["size"] == MODEL_BYTES and uploaded["envelope_bytes"] > MODEL_BYTES
    assert uploaded["cid"] in pinned(ipfs_daemon)
    assert model not in world.store.get(uploaded["cid"], max_bytes=2 * MODEL_BYTES)  # sealed

    buyer, outsider = world.funded(), world.funded()
    market = world.market()
    contributors = [p.address for p in task.participants]
    shares = world.fed_task().shares(task.task_id)
    assert sorted(shares) != [0, 0, 10_000] and sum(shares) == 10_000
    before = {a: market.claimable_proceeds(model_id, a) for a in contributors}
    sponsor_before = market.withdrawable(task.sponsor.address)

    with MarketplaceClient(api_url, timeout=60) as api:
        api.sign_in(buyer)
        with pytest.raises(MarketplaceApiError) as unpaid:  # signed in, but no licence yet
            api.content_grant("model", model_id)
        assert unpaid.value.status == 403

        # pay on-chain: mint, approve exactly the price, buy at most at the price
        world.deployment.token_client(world.backend, world.deployer).mint(buyer.address, PRICE)
        world.token(buyer).approve(world.deployment.market, PRICE)
        bought, receipt = world.market(buyer).buy(model_id, PRICE)
        assert (bought.buyer, bought.paid) == (buyer.address, PRICE)
        assert world.token().balance_of(buyer.address) == 0

        grant = api.content_grant("model", model_id)
        envelope = api.content_envelope("model", model_id)
    assert grant["cid"] == uploaded["cid"] == compute_cid(envelope)
    from_ipfs = httpx.post(f"{ipfs_daemon.api_url}/api/v0/cat", params={"arg": grant["cid"]},
                           timeout=30)  # fmt: skip
    assert from_ipfs.status_code == 200 and from_ipfs.content == envelope  # the daemon's own copy
    assert grant["licence"] == {"block": receipt.block_number, "price_paid_wei": str(PRICE)}
    plaintext = open_grant(grant, from_ipfs.content, bytes(buyer.key), expected=ref,
                           recipient=buyer.address, expected_hash=chain_hash)  # fmt: skip
    assert plaintext == model and content_hash(plaintext) == chain_hash
    content_key = unwrap_key(bytes.fromhex(grant["wrapped_key"][2:]), bytes(buyer.key),
                             context=ref.key_context(buyer.address))  # fmt: skip

    # a signed-in non-buyer: 403, and nothing of the key in what it gets
    with MarketplaceClient(api_url) as other:
        other.sign_in(outsider)
        token = other.token
    for path in (f"/models/{model_id}/content", f"/models/{model_id}/content/envelope"):
        refused = httpx.get(f"{api_url}{path}", headers={"Authorization": f"Bearer {token}"})
        assert refused.status_code == 403, refused.text
        body = refused.content
        assert b"wrapped_key" not in body and grant["wrapped_key"][2:].encode() not in body
        assert content_key.hex().encode() not in body and content_key not in body
        assert envelope[:64] not in body
        anonymous = httpx.get(f"{api_url}{path}")
        assert (
            anonymous.status_code == 401
            and "bearer" in anonymous.headers["www-authenticate"].lower()
        )
        assert b"wrapped_key" not in anonymous.content

    # the contributors' pull balances rose by exactly their shares of the sale
    fee_bps = market.fee_config().fee_bps
    split = sale_split(PRICE, fee_bps, SPONSOR_BPS)
    assert (bought.fee, bought.sponsor_amount, bought.contributors_amount) == (
        split.fee, split.sponsor_amount, split.contributors_amount,
    )  # fmt: skip
    rises = {a: market.claimable_proceeds(model_id, a) - before[a] for a in contributors}
    assert rises == {
        a: contributor_entitlement(split.contributors_amount, s)
        for a, s in zip(contributors, shares, strict=True)
    }
    assert sum(rises.values()) == split.contributors_amount  # to the wei
    assert market.withdrawable(task.sponsor.address) - sponsor_before == split.sponsor_amount

    with MarketplaceClient(api_url) as api:
        detail = api.model(model_id)
        assert detail["content"]["cid"] == uploaded["cid"]
        assert {p["address"]: int(p["claimable_wei"]) for p in detail["proceeds"]} == rises
        claimant = task.participants[max(range(3), key=lambda i: shares[i])]
        view = indexed(api, claimant.address, receipt.block_number)
        assert int(view["earnings"]["proceeds"]["claimable_wei"]) == rises[claimant.address]
        [licence] = indexed(api, buyer.address, receipt.block_number)["licences"]
        assert (licence["kind"], licence["item_id"], licence["paid_wei"]) == (
            "model", model_id, str(PRICE),
        )  # fmt: skip

        # a contributor claims: its token balance rises by exactly its share
        held = world.token().balance_of(claimant.address)
        paid, claim = world.market(claimant).claim_proceeds(model_id)
        assert paid == rises[claimant.address] > 0
        assert world.token().balance_of(claimant.address) - held == paid
        assert market.claimable_proceeds(model_id, claimant.address) == 0
        after = indexed(api, claimant.address, claim.block_number)["earnings"]["proceeds"]
        assert (int(after["claimed_wei"]), int(after["claimable_wei"])) == (paid, 0)

    # a second buyer uses the command line over the same real parts: the same bytes, paid once more
    second = world.funded()
    world.deployment.token_client(world.backend, world.deployer).mint(second.address, PRICE)
    before = {a: market.claimable_proceeds(model_id, a) for a in contributors}
    target = tmp_path / "bought.bin"
    ran = fedmarket(
        "buy", str(model_id), "--rpc", anvil_url, "--deployment", str(tmp_path / "deployment.json"),
        "--api", api_url, "--max-price", str(PRICE), "--out", str(target),
        env={"FEDMARKET_BUYER_KEY": "0x" + bytes(second.key).hex()},
    )  # fmt: skip
    assert ran.code == 0, ran.stderr
    assert target.read_bytes() == model and world.token().balance_of(second.address) == 0
    assert {a: market.claimable_proceeds(model_id, a) - before[a] for a in contributors} == {
        a: contributor_entitlement(split.contributors_amount, s)
        for a, s in zip(contributors, shares, strict=True)
    }
