"""``/datasets`` over an in-process chain, on SQLite and PostgreSQL (each test rolled back).

``POST`` relays and answers 202 with the dataset id; the listing shows in ``GET`` once indexed
(the ``api`` client has the index catch up before each ``GET``).
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient

from chain import sign_listing
from chain.registry import AccessMode
from marketplace_api.listing import metadata_document
from marketplace_api.schemas import DatasetBase
from storage import canonical_json, compute_cid, content_hash
from tests.integration.marketplace_api.market_world import ChainWorld, dataset_metadata

pytestmark = pytest.mark.slow


def signed_body(
    api: TestClient,
    account: LocalAccount,
    meta: dict[str, Any],
    *,
    signer: LocalAccount | None = None,
    deadline: int | None = None,
    nonce_offset: int = 0,
    access_mode: str = "federated_only",
    price: int = 0,
    send_nonce: bool = False,
) -> dict[str, Any]:
    """A POST /datasets body for ``meta``, signed by ``signer`` (default: the owner)."""
    params = api.get("/datasets/signing-params", params={"owner": account.address}).json()
    base = DatasetBase.model_validate(meta)
    doc = metadata_document(base)
    chosen = params["deadline"] if deadline is None else deadline
    nonce = params["nonce"] + nonce_offset
    request = doc.request(
        base.owner, nonce=nonce, deadline=chosen, access_mode=access_mode, price=price
    )
    signature = sign_listing(signer or account, params["chain_id"], params["registry"], request)
    body = {
        **meta,
        "access_mode": access_mode,
        "price_wei": str(price),
        "deadline": chosen,
        "signature": "0x" + signature.hex(),
    }
    return {**body, "nonce": nonce} if send_nonce else body


def relayed(api: TestClient, body: dict[str, Any]) -> dict[str, Any]:
    """POST a listing, check the 202, and return the listing as indexed."""
    response = api.post("/datasets", json=body)
    assert response.status_code == 202, response.text
    answer = response.json()
    assert response.headers["location"] == answer["location"] == f"/datasets/{answer['id']}"
    listed = api.get(answer["location"])
    assert listed.status_code == 200, listed.text
    got: dict[str, Any] = listed.json()
    assert (got["id"], got["tx_hash"], got["block"]) == (
        answer["id"],
        answer["tx_hash"],
        answer["block"],
    )
    return got


def relayer_balance(world: ChainWorld) -> int:
    return int(world.backend.w3.eth.get_balance(world.relayer.address))


def locs(response: Any) -> list[list[Any]]:
    return [e["loc"] for e in response.json()["detail"]]


def test_signed_listing_is_recorded_on_chain_for_the_owner(
    api: TestClient, world: ChainWorld
) -> None:
    owner = world.funded()
    meta = dataset_metadata(owner.address)
    listed = relayed(api, signed_body(api, owner, meta))

    expected = canonical_json(DatasetBase.model_validate(meta).document_fields())
    assert listed["metadata_cid"] == compute_cid(expected)
    assert listed["metadata_hash"] == "0x" + content_hash(expected).hex()
    assert world.store.get(listed["metadata_cid"]) == expected

    on_chain = world.registry().listing(listed["id"])
    assert on_chain.owner == owner.address
    assert on_chain.metadata_cid == listed["metadata_cid"]
    assert "0x" + bytes(on_chain.metadata_hash).hex() == listed["metadata_hash"]
    assert on_chain.active
    assert (on_chain.access_mode, on_chain.price) == (AccessMode.FEDERATED_ONLY, 0)
    assert world.registry().nonce(owner.address) == 1
    assert (listed["access_mode"], listed["price_wei"]) == ("federated_only", "0")

    assert listed["owner"] == owner.address
    assert listed["name"] == meta["name"]
    assert listed["schema"] == meta["schema"]
    assert listed["statistics"]["mean"] == [14.1, 19.3, 3.0]
    assert listed["tags"] == ["medical", "tabular"]
    assert listed["tx_hash"].startswith("0x") and len(listed["tx_hash"]) == 66
    assert listed["block"] >= 1
    assert listed["created_at"].endswith(("Z", "+00:00"))
    assert (listed["active"], listed["sales"], listed["document_status"]) == (True, 0, "ok")
    assert listed["document_error"] is None
    assert api.get("/datasets", params={"owner": owner.address}).json()["items"] == [listed]


def test_listing_signed_by_another_key_is_refused(api: TestClient, world: ChainWorld) -> None:
    owner, intruder = world.funded(), world.funded()
    meta = dataset_metadata(owner.address)
    response = api.post("/datasets", json=signed_body(api, owner, meta, signer=intruder))
    assert response.status_code == 422
    assert locs(response) == [["body", "signature"]]
    doc = metadata_document(DatasetBase.model_validate(meta))
    assert world.registry().dataset_id_of(owner.address, bytes(doc.hash)) == 0
    assert api.get("/datasets", params={"owner": owner.address}).json()["total"] == 0


def test_signature_over_other_metadata_or_nonce_is_refused(
    api: TestClient, world: ChainWorld
) -> None:
    owner = world.funded()
    meta = dataset_metadata(owner.address)
    tampered = {**signed_body(api, owner, meta), "row_count": 999_999}
    assert locs(api.post("/datasets", json=tampered)) == [["body", "signature"]]
    replayed = signed_body(api, owner, meta, nonce_offset=1)
    assert locs(api.post("/datasets", json=replayed)) == [["body", "signature"]]
    garbage = {**signed_body(api, owner, meta), "signature": "0x" + "00" * 65}
    response = api.post("/datasets", json=garbage)
    assert locs(response) == [["body", "signature"]]
    assert "not a valid" in response.json()["detail"][0]["msg"]


def test_expired_deadline_is_refused(api: TestClient, world: ChainWorld) -> None:
    owner = world.funded()
    meta = dataset_metadata(owner.address)
    body = signed_body(api, owner, meta, deadline=int(time.time()) - 3600)
    response = api.post("/datasets", json=body)
    assert response.status_code == 422
    assert locs(response) == [["body", "deadline"]]


def test_wrong_signature_and_expired_deadline_are_reported_together(
    api: TestClient, world: ChainWorld
) -> None:
    owner, intruder = world.funded(), world.funded()
    body = signed_body(api, owner, dataset_metadata(owner.address), signer=intruder, deadline=1)
    response = api.post("/datasets", json=body)
    assert response.status_code == 422
    assert sorted(locs(response)) == [["body", "deadline"], ["body", "signature"]]


def test_duplicate_listing_conflicts(api: TestClient, world: ChainWorld) -> None:
    owner = world.funded()
    meta = dataset_metadata(owner.address)
    body = signed_body(api, owner, meta)
    first = relayed(api, body)
    spent = relayer_balance(world)
    for retry in (body, signed_body(api, owner, meta)):  # the same request, and a fresh one
        again = api.post("/datasets", json=retry)
        assert again.status_code == 409
        assert again.json()["detail"] == (
            f"{owner.address} already listed this metadata as dataset {first['id']}"
        )
    assert relayer_balance(world) == spent  # refused before relaying
    assert api.get(f"/datasets/{first['id']}").json() == first


def test_downloadable_listing_records_mode_and_price(api: TestClient, world: ChainWorld) -> None:
    owner = world.funded()
    price = 3 * 10**18 + 7
    meta = dataset_metadata(owner.address, downloadable=True)
    body = signed_body(api, owner, meta, access_mode="downloadable", price=price)
    listed = relayed(api, body)
    assert (listed["access_mode"], listed["price_wei"]) == ("downloadable", str(price))
    on_chain = world.registry().listing(listed["id"])
    assert (on_chain.access_mode, on_chain.price) == (AccessMode.DOWNLOADABLE, price)


@pytest.mark.parametrize(
    ("signed", "sent"),
    [
        ({"access_mode": "downloadable", "price": 10}, {"price_wei": "11"}),
        ({"access_mode": "downloadable", "price": 10}, {"price_wei": "0"}),
        ({"access_mode": "federated_only", "price": 0}, {"access_mode": "downloadable"}),
        ({"access_mode": "downloadable", "price": 0}, {"access_mode": "federated_only"}),
    ],
)
def test_listing_signed_for_another_price_or_mode_is_refused(
    api: TestClient, world: ChainWorld, signed: dict[str, Any], sent: dict[str, Any]
) -> None:
    """A relayer (or anyone in between) cannot change what the owner agreed to sell."""
    owner = world.funded()
    meta = dataset_metadata(owner.address, downloadable=signed["access_mode"] == "downloadable")
    body = {**signed_body(api, owner, meta, **signed), **sent}
    body["downloadable"] = body["access_mode"] == "downloadable"
    before = relayer_balance(world)
    response = api.post("/datasets", json=body)
    assert response.status_code == 422, response.text
    assert locs(response) == [["body", "signature"]]
    message = response.json()["detail"][0]["msg"]
    assert f"access mode {body['access_mode']}, price {body['price_wei']} wei" in message
    assert relayer_balance(world) == before  # refused before any gas was spent
    assert world.registry().nonce(owner.address) == 0


def test_federated_only_listing_has_no_price(api: TestClient, world: ChainWorld) -> None:
    owner = world.funded()
    meta = dataset_metadata(owner.address)
    body = signed_body(api, owner, meta, access_mode="federated_only", price=5)
    response = api.post("/datasets", json=body)
    assert response.status_code == 422
    assert locs(response) == [["body", "price_wei"]]


def test_document_must_agree_with_the_access_mode(api: TestClient, world: ChainWorld) -> None:
    owner = world.funded()
    meta = dataset_metadata(owner.address, downloadable=False)
    body = signed_body(api, owner, meta, access_mode="downloadable", price=5)
    response = api.post("/datasets", json=body)
    assert response.status_code == 422
    assert locs(response) == [["body", "downloadable"]]


def test_a_squatters_copy_does_not_block_the_owner(api: TestClient, world: ChainWorld) -> None:
    """A squatter lists the owner's pending hash and CID first, under its own name."""
    owner, squatter = world.funded(), world.funded()
    meta = dataset_metadata(owner.address)
    body = signed_body(api, owner, meta)
    doc = metadata_document(DatasetBase.model_validate(meta))
    squatted, _ = world.registry(squatter).list_dataset(bytes(doc.hash), str(doc.cid))
    assert world.registry().dataset_id_of(squatter.address, bytes(doc.hash)) == squatted

    listed = relayed(api, body)
    assert listed["id"] != squatted and listed["owner"] == owner.address
    assert world.registry().dataset_id_of(owner.address, bytes(doc.hash)) == listed["id"]
    assert world.registry().listing(listed["id"]).owner == owner.address
    assert [
        d["id"] for d in api.get("/datasets", params={"owner": owner.address}).json()["items"]
    ] == [listed["id"]]
    # the squatter's copy went straight to the chain: indexed under the squatter, its document
    # (another owner's) not shown as the squatter's
    copy = api.get(f"/datasets/{squatted}").json()
    assert (copy["owner"], copy["document_status"], copy["name"]) == (
        squatter.address,
        "invalid",
        None,
    )
    assert f"names the owner {owner.address}" in copy["document_error"]
    assert api.get("/datasets", params={"owner": squatter.address}).json()["total"] == 1


def test_a_cancelled_nonce_is_refused_before_relaying(api: TestClient, world: ChainWorld) -> None:
    """The owner signs, then cancels the signature on-chain (useNonce): nobody can relay it."""
    owner = world.funded()
    meta = dataset_metadata(owner.address)
    with_nonce = signed_body(api, owner, meta, send_nonce=True)
    without_nonce = {k: v for k, v in with_nonce.items() if k != "nonce"}
    cancelled, _ = world.registry(owner).use_nonce()
    assert cancelled == with_nonce["nonce"] == 0
    before = relayer_balance(world)

    response = api.post("/datasets", json=with_nonce)
    assert response.status_code == 422
    assert locs(response) == [["body", "nonce"]]
    assert "nonce 0 was used or cancelled" in response.json()["detail"][0]["msg"]
    assert "current registry nonce is 1" in response.json()["detail"][0]["msg"]
    # without the nonce the API checks against the current one: the signature does not match
    response = api.post("/datasets", json=without_nonce)
    assert response.status_code == 422
    assert locs(response) == [["body", "signature"]]
    assert "nonce 1" in response.json()["detail"][0]["msg"]

    assert relayer_balance(world) == before  # no gas spent on either
    doc = metadata_document(DatasetBase.model_validate(meta))
    assert world.registry().dataset_id_of(owner.address, bytes(doc.hash)) == 0
    # a new signature over the current nonce lists it
    relayed(api, signed_body(api, owner, meta, send_nonce=True))


def test_a_nonce_not_reached_is_refused(api: TestClient, world: ChainWorld) -> None:
    owner = world.funded()
    body = signed_body(api, owner, dataset_metadata(owner.address), nonce_offset=1, send_nonce=True)
    response = api.post("/datasets", json=body)
    assert locs(response) == [["body", "nonce"]]
    assert "is not reached yet" in response.json()["detail"][0]["msg"]


def test_raw_rows_and_unknown_fields_are_refused(api: TestClient, world: ChainWorld) -> None:
    owner = world.funded()
    body = signed_body(api, owner, dataset_metadata(owner.address))
    response = api.post("/datasets", json={**body, "rows": [[14.2, 20.1, 3, "a", True]]})
    assert response.status_code == 422
    assert response.json()["detail"] == [
        {
            "loc": ["body", "rows"],
            "msg": "Extra inputs are not permitted",
            "type": "extra_forbidden",
        }
    ]
    response = api.post("/datasets", json={**body, "metadata_hash": "0x" + "11" * 32})
    assert locs(response) == [["body", "metadata_hash"]]
    nested = dict(body, schema=[{"name": "x", "dtype": "float", "values": [1.0, 2.0]}])
    assert locs(api.post("/datasets", json=nested)) == [["body", "schema", 0, "values"]]


@pytest.mark.parametrize(
    "owner",
    [
        "0x1234",
        "not an address",
        "0x" + "g" * 40,
        # a valid address with its checksum broken (one letter's case flipped)
        "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266".replace("F", "f", 1),
    ],
)
def test_bad_owner_address_is_refused(api: TestClient, owner: str) -> None:
    body = {**dataset_metadata(owner), "deadline": 2**40, "signature": "0x" + "11" * 65}
    response = api.post("/datasets", json=body)
    assert response.status_code == 422
    assert locs(response) == [["body", "owner"]]


def test_lower_case_owner_is_checksummed_before_hashing(api: TestClient, world: ChainWorld) -> None:
    owner = world.funded()
    body = signed_body(api, owner, dataset_metadata(owner.address))
    listed = relayed(api, {**body, "owner": owner.address.lower()})
    assert listed["owner"] == owner.address


@pytest.mark.parametrize(
    ("override", "loc"),
    [
        (
            {"statistics": {"count": 120, "mean": [1.0], "std": [1.0], "min": [0], "max": [2]}},
            ["body", "statistics"],
        ),
        (
            {
                "statistics": {
                    "count": 120,
                    "mean": [1, 2, 3],
                    "std": [1, -1, 1],
                    "min": [0, 0, 0],
                    "max": [2, 2, 2],
                }
            },
            ["body", "statistics"],
        ),
        ({"quality": {"missing_rate": 1.5}}, ["body", "quality"]),
        ({"quality": {"accuracy": float("nan")}}, ["body", "quality", "accuracy"]),
        ({"tags": [f"t{i}" for i in range(21)]}, ["body", "tags"]),
        ({"tags": ["Has Spaces"]}, ["body", "tags", 0]),
        ({"name": ""}, ["body", "name"]),
        ({"description": "x" * 5001}, ["body", "description"]),
        ({"row_count": 0}, ["body", "row_count"]),
        ({"schema": [{"name": "a", "dtype": "complex"}]}, ["body", "schema", 0, "dtype"]),
        (
            {"schema": [{"name": "a", "dtype": "int"}, {"name": "a", "dtype": "int"}]},
            ["body", "schema"],
        ),
        ({"signature": "0x1234"}, ["body", "signature"]),
        ({"deadline": -1}, ["body", "deadline"]),
        ({"access_mode": "rent"}, ["body", "access_mode"]),
        ({"access_mode": 1}, ["body", "access_mode"]),
        ({"access_mode": "downloadable", "price_wei": "-1"}, ["body", "price_wei"]),
        ({"access_mode": "downloadable", "price_wei": "007"}, ["body", "price_wei"]),
        ({"access_mode": "downloadable", "price_wei": str(2**256)}, ["body", "price_wei"]),
        ({"access_mode": "downloadable", "price_wei": 5}, ["body", "price_wei"]),
        ({"price_wei": "1"}, ["body", "price_wei"]),
        ({"nonce": -1}, ["body", "nonce"]),
        ({"nonce": "one"}, ["body", "nonce"]),
        ({"nonce": 2**256}, ["body", "nonce"]),
    ],
)
def test_invalid_metadata_names_the_field(
    api: TestClient, override: dict[str, Any], loc: list[Any]
) -> None:
    meta = dataset_metadata("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266")
    body = {**meta, "deadline": 2**40, "signature": "0x" + "11" * 65, **override}
    if "quality" in override and override["quality"].get("accuracy") != override["quality"].get(
        "accuracy"
    ):  # NaN is not JSON: send it as the non-standard literal a sloppy client would
        response = api.post(
            "/datasets",
            content=canonical_json({**body, "quality": {}}).replace(
                b'"quality":{}', b'"quality":{"accuracy":NaN}'
            ),
            headers={"content-type": "application/json"},
        )
    else:
        response = api.post("/datasets", json=body)
    assert response.status_code == 422, response.text
    assert any(at[: len(loc)] == loc for at in locs(response)), locs(response)


def test_read_filters_and_pages(solo_api: TestClient, solo_world: ChainWorld) -> None:
    api, world = solo_api, solo_world  # everything listed on this chain is this test's
    alice, bob = world.funded(), world.funded()
    ids = []
    for owner, tags in ((alice, ["medical"]), (bob, ["medical", "credit"]), (alice, ["credit"])):
        paid = owner is bob
        meta = dataset_metadata(owner.address, tags=tags, downloadable=paid)
        mode = "downloadable" if paid else "federated_only"
        body = signed_body(api, owner, meta, access_mode=mode, price=10**20 if paid else 0)
        ids.append(relayed(api, body)["id"])

    everything = api.get("/datasets").json()
    assert [d["id"] for d in everything["items"]] == ids
    assert (everything["total"], everything["limit"], everything["offset"]) == (3, 50, 0)

    by_alice = api.get("/datasets", params={"owner": alice.address}).json()
    assert [d["id"] for d in by_alice["items"]] == [ids[0], ids[2]]
    lower = api.get("/datasets", params={"owner": alice.address.lower()}).json()
    assert lower == by_alice
    credit = api.get("/datasets", params={"tag": "credit"}).json()
    assert [d["id"] for d in credit["items"]] == ids[1:]
    both = api.get("/datasets", params={"tag": "credit", "owner": alice.address}).json()
    assert [d["id"] for d in both["items"]] == [ids[2]]
    sold = api.get("/datasets", params={"access_mode": "downloadable"}).json()
    assert [(d["id"], d["price_wei"]) for d in sold["items"]] == [(ids[1], str(10**20))]
    free = api.get("/datasets", params={"access_mode": "federated_only", "tag": "credit"}).json()
    assert [d["id"] for d in free["items"]] == [ids[2]]

    page = api.get("/datasets", params={"limit": 2, "offset": 1}).json()
    assert [d["id"] for d in page["items"]] == ids[1:]
    assert page["total"] == 3
    assert api.get("/datasets", params={"offset": 3}).json()["items"] == []

    assert locs(api.get("/datasets", params={"limit": 0})) == [["query", "limit"]]
    assert locs(api.get("/datasets", params={"limit": 101})) == [["query", "limit"]]
    assert locs(api.get("/datasets", params={"offset": -1})) == [["query", "offset"]]
    assert locs(api.get("/datasets", params={"owner": "0x12"})) == [["query", "owner"]]
    assert locs(api.get("/datasets", params={"access_mode": "rent"})) == [["query", "access_mode"]]


def test_unknown_dataset_is_404(api: TestClient) -> None:
    response = api.get("/datasets/999999")
    assert response.status_code == 404
    assert response.json() == {"detail": "dataset 999999 is not listed"}
    assert locs(api.get("/datasets/0")) == [["path", "dataset_id"]]
    assert locs(api.get("/datasets/abc")) == [["path", "dataset_id"]]


def test_signing_params_follow_the_chain(api: TestClient, world: ChainWorld) -> None:
    owner = world.funded()
    params = api.get("/datasets/signing-params", params={"owner": owner.address.lower()})
    assert params.status_code == 200
    got = params.json()
    assert got["owner"] == owner.address
    assert got["chain_id"] == world.backend.chain_id
    assert got["registry"] == world.deployment.registry
    assert got["domain"] == {
        "name": "FedMarket DatasetRegistry",
        "version": "2",
        "chain_id": world.backend.chain_id,
        "verifying_contract": world.deployment.registry,
    }
    assert [f["name"] for f in got["types"]["ListDataset"]] == [
        "owner",
        "metadataHash",
        "metadataCid",
        "accessMode",
        "price",
        "nonce",
        "deadline",
    ]
    assert got["access_modes"] == {"federated_only": 0, "downloadable": 1}
    assert got["nonce"] == 0
    assert got["deadline"] > time.time() + 600
    api.post("/datasets", json=signed_body(api, owner, dataset_metadata(owner.address)))
    again = api.get("/datasets/signing-params", params={"owner": owner.address}).json()
    assert again["nonce"] == 1
    missing = api.get("/datasets/signing-params")
    assert locs(missing) == [["query", "owner"]]


def test_oversized_bodies_are_refused(api: TestClient) -> None:
    big = b'{"name": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    declared = api.post("/datasets", content=big, headers={"content-type": "application/json"})
    assert declared.status_code == 413

    def chunks() -> Any:
        for _ in range(40):
            yield b"x" * 65536

    streamed = api.post("/datasets", content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413
    assert "larger than" in streamed.json()["detail"]


def test_health_reports_chain_database_and_contracts(api: TestClient, world: ChainWorld) -> None:
    health = api.get("/health")
    assert health.status_code == 200
    body = health.json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert body["chain"]["backend"] == "in-process"
    assert body["chain"]["chain_id"] == world.backend.chain_id
    assert body["chain"]["block"] >= 1
    d = world.deployment
    assert body["contracts"] == {
        "token": d.token,
        "registry": d.registry,
        "fed_task": d.fed_task,
        "court": d.court,
        "market": d.market,
    }
