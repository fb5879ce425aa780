"""Relayer economics over a real chain, on SQLite and PostgreSQL: the relayer flood regression.

Before: anonymous fresh keys made the relayer pay for about 15 listings a second (177,550 gas
each), a 1 ETH relayer was empty in about six minutes, and honest listers queued behind the
flood. Here the relay guard holds a flood of fresh keys from one client to the per-IP limit,
an honest owner elsewhere still lists, the chain and the index agree afterwards, each owner's gas
budget and the relayer's balance floor are enforced, and every ``Retry-After`` is exact (the
guard runs on a fake clock; the API sits behind a trusted proxy that names the client in
``X-Forwarded-For``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account.signers.local import LocalAccount
from sqlalchemy import select

from chain import InProcessBackend, RpcBackend, new_account, sign_listing
from marketplace_api import Services, create_app, crud, serve_in_thread
from marketplace_api.auth import sign_challenge
from marketplace_api.core.db import Database
from marketplace_api.listing import metadata_document
from marketplace_api.relay import (
    LISTING_GAS_ESTIMATE,
    GasBudgetPolicy,
    GasCharge,
    RateLimit,
    RelayPolicy,
    parse_networks,
)
from marketplace_api.relay.policy import ADDRESS_LIMIT, IP_LIMIT, SIGN_IN_LIMIT
from marketplace_api.schemas import DatasetBase
from tests.integration.marketplace_api.conftest import IndexedClient
from tests.integration.marketplace_api.market_world import (
    DB_KINDS,
    ChainWorld,
    dataset_metadata,
    empty_database,
    make_world,
)

pytestmark = pytest.mark.slow

PROXY_PEER = ("10.0.0.1", 40_000)
"""The API is behind a proxy at this address, trusted to name the client."""
PROXIES = parse_networks(["10.0.0.0/8"])
ATTACKER = {"X-Forwarded-For": "198.51.100.66"}
HONEST = {"X-Forwarded-For": "203.0.113.5"}
WIDE = RateLimit(IP_LIMIT, 1000.0, 1000)
"""A limit no test reaches (for tests about another limit)."""
WIDE_SIGN_IN = replace(WIDE, name=SIGN_IN_LIMIT)


class Clock:
    """The guard's clock, moved by hand."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@contextmanager
def guarded_api(
    world: ChainWorld, database: Database, policy: RelayPolicy, clock: Clock
) -> Iterator[tuple[IndexedClient, Services]]:
    """A test client behind the trusted proxy, over services enforcing ``policy`` on ``clock``."""
    services = Services.embedded(
        backend=world.backend,
        deployment=world.deployment,
        relayer=world.relayer,
        store=world.store,
        database=database,
        index_interval=None,
        relay_policy=replace(policy, trusted_proxies=PROXIES),
    )
    services.relay.clock = clock
    with IndexedClient(create_app(services=services), client=PROXY_PEER) as api:
        yield api, services


def signed_listing(world: ChainWorld, account: LocalAccount) -> dict[str, Any]:
    """A POST /datasets body: fresh metadata signed by ``account`` for its current nonce."""
    meta = dataset_metadata(account.address)
    doc = metadata_document(DatasetBase.model_validate(meta))
    registry = world.registry()
    deadline = world.backend.latest_timestamp() + 3600
    request = doc.request(account.address, nonce=registry.nonce(account.address), deadline=deadline)
    signature = sign_listing(account, world.backend.chain_id, registry.address, request)
    return {
        **meta,
        "access_mode": "federated_only",
        "price_wei": "0",
        "deadline": deadline,
        "signature": "0x" + signature.hex(),
    }


def signed_in(
    api: IndexedClient, account: LocalAccount, headers: dict[str, str] | None = None
) -> dict[str, str]:
    """Sign ``account`` in from the client ``headers`` name; the headers of its requests."""
    headers = headers or {}
    challenge = api.post("/auth/nonce", headers=headers)
    assert challenge.status_code == 201, challenge.text
    message = sign_challenge(account, challenge.json(), now=time.time())
    answer = api.post("/auth/verify", json=message, headers=headers)
    assert answer.status_code == 200, answer.text
    return {**headers, "Authorization": f"Bearer {answer.json()['token']}"}


def list_as(
    api: IndexedClient,
    world: ChainWorld,
    account: LocalAccount,
    headers: dict[str, str] | None = None,
) -> Any:
    """``account`` signs in and posts a fresh listing of its own."""
    return api.post(
        "/datasets", json=signed_listing(world, account), headers=signed_in(api, account, headers)
    )


def receipt_gas(world: ChainWorld, tx_hash: str) -> int:
    return int(world.backend.w3.eth.get_transaction_receipt(tx_hash)["gasUsed"])


def ledger(database: Database) -> list[GasCharge]:
    with database.session() as session:
        return list(session.scalars(select(GasCharge).order_by(GasCharge.id)))


def balance(world: ChainWorld) -> int:
    return int(world.backend.w3.eth.get_balance(world.relayer.address))


def test_a_flood_of_fresh_keys_is_held_to_the_per_ip_limit_while_an_honest_owner_lists(
    solo_world: ChainWorld, database: Database
) -> None:
    world = solo_world
    clock = Clock(1_000_000.0)
    policy = RelayPolicy(
        ip=RateLimit.per_minute(IP_LIMIT, 6, 4), sign_in_ip=WIDE_SIGN_IN, balance_floor_wei=10**15
    )
    gas_before, balance_before = world.relayer.gas_used, balance(world)
    with guarded_api(world, database, policy, clock) as (api, services):
        flood = []
        for i in range(12):
            flood.append(list_as(api, world, new_account(), ATTACKER))
            if i == 6:  # mid-flood, from another client, a fresh key of an honest owner
                honest = list_as(api, world, new_account(), HONEST)
                assert honest.status_code == 202, honest.text
        assert [r.status_code for r in flood] == [202] * 4 + [429] * 8
        for refused in flood[4:]:
            assert refused.headers["retry-after"] == "10"  # 6 a minute: a token every 10 s
            assert f"rate limit '{IP_LIMIT}'" in refused.json()["detail"]
            assert "198.51.100.66" in refused.json()["detail"]

        accepted = [r.json() for r in flood[:4]] + [honest.json()]
        gas = [receipt_gas(world, a["tx_hash"]) for a in accepted]
        spent = world.relayer.gas_used - gas_before
        assert spent == sum(gas) <= len(accepted) * LISTING_GAS_ESTIMATE
        assert balance_before - balance(world) > 0
        assert sorted(c.gas for c in ledger(database)) == sorted(gas)
        assert all(c.tx_hash for c in ledger(database))

        clock.now += 9  # a token is back after 10 s, not before
        early = list_as(api, world, new_account(), ATTACKER)
        assert (early.status_code, early.headers["retry-after"]) == (429, "1")
        clock.now += 1
        late = list_as(api, world, new_account(), ATTACKER)
        assert late.status_code == 202, late.text

        assert services.catch_up()
        with database.session() as session:
            _, indexed = crud.list_datasets(session, services.scope, active=None)
        assert indexed == world.registry().dataset_count() == 6


@pytest.mark.rpc
def test_the_flood_on_a_json_rpc_node_costs_the_relayer_only_what_was_let_through(
    anvil_url: str, database: Database, tmp_path: Path
) -> None:
    world = make_world(RpcBackend(anvil_url), tmp_path / "store")
    policy = RelayPolicy(
        ip=RateLimit.per_minute(IP_LIMIT, 6, 3), sign_in_ip=WIDE_SIGN_IN, balance_floor_wei=10**15
    )
    before = balance(world)
    with guarded_api(world, database, policy, Clock(7_000_000.0)) as (api, services):
        flood = [list_as(api, world, new_account(), ATTACKER) for _ in range(8)]
        honest = list_as(api, world, new_account(), HONEST)
        assert [r.status_code for r in flood] == [202] * 3 + [429] * 5
        assert honest.status_code == 202, honest.text
        w3 = world.backend.w3
        receipts = [
            w3.eth.get_transaction_receipt(r.json()["tx_hash"]) for r in [*flood[:3], honest]
        ]
        paid = sum(int(r["gasUsed"]) * int(r["effectiveGasPrice"]) for r in receipts)
        assert before - balance(world) == paid  # the relayer paid for these four, nothing else
        assert sum(c.gas for c in ledger(database)) == sum(int(r["gasUsed"]) for r in receipts)
        assert services.catch_up()
        with database.session() as session:
            _, indexed = crud.list_datasets(session, services.scope, active=None)
        assert indexed == world.registry().dataset_count() == 4
    world.backend.close()


def test_an_owner_gas_budget_is_charged_with_the_receipts_and_refuses_with_its_window(
    world: ChainWorld, database: Database
) -> None:
    clock = Clock(2_000_000.0)
    policy = RelayPolicy(ip=WIDE, address=replace(WIDE, name=ADDRESS_LIMIT))
    owner = new_account()
    with guarded_api(world, database, policy, clock) as (api, _):
        session = signed_in(api, owner, HONEST)
        first = api.post("/datasets", json=signed_listing(world, owner), headers=session)
        assert first.status_code == 202, first.text
        clock.now += 100
        second = api.post("/datasets", json=signed_listing(world, owner), headers=session)
        assert second.status_code == 202, second.text
        gas = [receipt_gas(world, r.json()["tx_hash"]) for r in (first, second)]
        assert [(c.owner, c.gas, c.charged_at) for c in ledger(database)] == [
            (owner.address, gas[0], 2_000_000),
            (owner.address, gas[1], 2_000_100),
        ]
        assert sum(gas) + LISTING_GAS_ESTIMATE > policy.budget.fresh_gas

        clock.now += 100
        third = signed_listing(world, owner)
        count = world.registry().dataset_count()
        refused = api.post("/datasets", json=third, headers=session)
        assert refused.status_code == 429, refused.text
        # the first charge leaves the day's window at 2_000_000 + 86_400; now is 2_000_200
        assert refused.headers["retry-after"] == str(86_400 - 200)
        detail = refused.json()["detail"]
        assert "gas budget per owner (fresh)" in detail and str(sum(gas)) in detail
        assert world.registry().dataset_count() == count  # nothing relayed
        assert len(ledger(database)) == 2  # the refused reservation is gone

        clock.now = 2_000_000 + 86_399
        assert api.post("/datasets", json=third, headers=session).headers["retry-after"] == "1"
        clock.now += 1
        assert api.post("/datasets", json=third, headers=session).status_code == 202


def test_an_owner_with_listings_on_record_gets_the_larger_budget(
    world: ChainWorld, database: Database
) -> None:
    clock = Clock(float(world.backend.latest_timestamp()))
    budget = GasBudgetPolicy(established_age=3_600)
    policy = RelayPolicy(ip=WIDE, address=replace(WIDE, name=ADDRESS_LIMIT), budget=budget)
    owner = new_account()
    with guarded_api(world, database, policy, clock) as (api, services):
        session = signed_in(api, owner)
        for _ in range(2):
            listed = api.post("/datasets", json=signed_listing(world, owner), headers=session)
            assert listed.status_code == 202, listed.text
        body = signed_listing(world, owner)
        fresh = api.post("/datasets", json=body, headers=session)
        assert fresh.status_code == 429 and "(fresh)" in fresh.json()["detail"]
        assert services.catch_up()
        clock.now = world.backend.latest_timestamp() + 3_600  # the listings are an hour old
        assert api.post("/datasets", json=body, headers=session).status_code == 202


def test_the_per_address_limit_counts_the_signed_in_owner(
    world: ChainWorld, database: Database
) -> None:
    clock = Clock(3_000_000.0)
    policy = RelayPolicy(ip=WIDE, address=RateLimit.per_minute(ADDRESS_LIMIT, 1, 1))
    owner, other = new_account(), new_account()
    with guarded_api(world, database, policy, clock) as (api, _):
        session = signed_in(api, owner)
        assert (
            api.post("/datasets", json=signed_listing(world, owner), headers=session).status_code
            == 202
        )
        # someone else cannot spend the owner's tokens by naming the owner
        forged = signed_listing(world, other)
        forged["owner"] = owner.address
        assert api.post("/datasets", json=forged, headers=signed_in(api, other)).status_code == 403
        refused = api.post("/datasets", json=signed_listing(world, owner), headers=session)
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == "60"
        assert f"rate limit '{ADDRESS_LIMIT}'" in refused.json()["detail"]
        assert owner.address in refused.json()["detail"]
        assert list_as(api, world, other).status_code == 202


def test_a_low_relayer_balance_relays_nothing_and_owners_list_directly(
    world: ChainWorld, database: Database
) -> None:
    floor = balance(world) + 1
    policy = RelayPolicy(balance_floor_wei=floor, low_balance_retry_after=300)
    with guarded_api(world, database, policy, Clock(4_000_000.0)) as (api, _):
        owner = world.funded()
        txs, count = world.relayer.tx_count, world.registry().dataset_count()
        refused = list_as(api, world, owner, HONEST)
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "300"
        detail = refused.json()["detail"]
        assert f"relayer balance low: {floor - 1} wei, floor {floor}" in detail
        assert "DatasetRegistry.listDataset" in detail
        assert (world.relayer.tx_count, world.registry().dataset_count()) == (txs, count)
        assert ledger(database) == []

        health = api.get("/health")
        assert health.status_code == 200  # reads still work: only relaying stopped
        report = health.json()
        assert report["status"] == "degraded"
        assert report["relayer"] == {
            "address": world.relayer.address,
            "balance_wei": str(floor - 1),
            "floor_wei": str(floor),
            "low": True,
        }

        meta = dataset_metadata(owner.address)
        doc = metadata_document(DatasetBase.model_validate(meta))
        assert world.store.put(doc.data) == doc.cid
        dataset_id, _ = world.registry(owner).list_dataset(bytes(doc.hash), str(doc.cid))
        listed = api.get(f"/datasets/{dataset_id}")
        assert listed.status_code == 200, listed.text
        assert (listed.json()["owner"], listed.json()["document_status"]) == (owner.address, "ok")


def test_health_is_ok_while_the_balance_is_above_the_floor(
    world: ChainWorld, database: Database
) -> None:
    policy = RelayPolicy(balance_floor_wei=10**15)
    with guarded_api(world, database, policy, Clock(5_000_000.0)) as (api, _):
        report = api.get("/health").json()
        assert report["status"] == "ok"
        assert report["relayer"]["low"] is False
        assert int(report["relayer"]["balance_wei"]) == balance(world)


def test_sign_in_nonces_are_limited_per_client_whatever_it_forwards(
    world: ChainWorld, database: Database
) -> None:
    clock = Clock(6_000_000.0)
    policy = RelayPolicy(sign_in_ip=RateLimit.per_minute(SIGN_IN_LIMIT, 6, 3))
    with guarded_api(world, database, policy, clock) as (api, _):
        codes = [api.post("/auth/nonce", headers=ATTACKER).status_code for _ in range(2)]
        codes.append(api.get("/auth/nonce", headers=ATTACKER).status_code)
        refused = api.post("/auth/nonce", headers=ATTACKER)
        assert codes + [refused.status_code] == [201, 201, 200, 429]
        assert refused.headers["retry-after"] == "10"
        assert f"rate limit '{SIGN_IN_LIMIT}'" in refused.json()["detail"]
        assert api.post("/auth/nonce", headers=HONEST).status_code == 201

    # without a trusted proxy, a forged X-Forwarded-For does not make a new client
    services = Services.embedded(
        backend=world.backend,
        deployment=world.deployment,
        relayer=world.relayer,
        store=world.store,
        database=database,
        index_interval=None,
        relay_policy=policy,
    )
    services.relay.clock = clock
    with IndexedClient(create_app(services=services), client=("203.0.113.9", 1)) as direct:
        answers = [
            direct.post("/auth/nonce", headers={"X-Forwarded-For": f"192.0.2.{i}"}).status_code
            for i in range(4)
        ]
    assert answers == [201, 201, 201, 429]


@pytest.mark.parametrize("kind", DB_KINDS)
def test_concurrent_relays_through_a_served_api_are_each_charged_and_never_a_5xx(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Eight owners at once, each listing twice, on a real database file or server.

    Every listing is charged in the shared ledger while others write it (on SQLite a write that
    follows a read must not fail as "database is locked" after the relayer paid).
    """
    world = make_world(InProcessBackend(), tmp_path / "store")
    policy = RelayPolicy(
        ip=WIDE, sign_in_ip=WIDE_SIGN_IN, address=replace(WIDE, name=ADDRESS_LIMIT)
    )
    owners = [new_account() for _ in range(8)]
    with empty_database(kind, request, tmp_path) as engine:
        services = Services.embedded(
            backend=world.backend,
            deployment=world.deployment,
            relayer=world.relayer,
            store=world.store,
            database=Database(engine),
            index_interval=0.2,
            relay_policy=policy,
        )
        with serve_in_thread(create_app(services=services)) as server:

            def lists_twice(owner: LocalAccount) -> list[int]:
                with httpx.Client(base_url=server.url, timeout=60) as http:
                    challenge = http.post("/auth/nonce").json()
                    message = sign_challenge(owner, challenge, now=time.time())
                    token = http.post("/auth/verify", json=message).json()["token"]
                    headers = {"Authorization": f"Bearer {token}"}
                    return [
                        http.post(
                            "/datasets", json=signed_listing(world, owner), headers=headers
                        ).status_code
                        for _ in range(2)
                    ]

            with ThreadPoolExecutor(len(owners)) as pool:
                codes = [c for answers in pool.map(lists_twice, owners) for c in answers]
            assert codes == [202] * 16
            assert services.catch_up(timeout=30)
            charges = ledger(services.database)
            assert len(charges) == 16 and all(c.tx_hash for c in charges)
            with services.database.session() as session:
                _, indexed = crud.list_datasets(session, services.scope, active=None)
            assert indexed == world.registry().dataset_count() == 16
        services.close()
