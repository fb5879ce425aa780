"""The issue's attacks on the marketplace API, each a regression test.

Deep nesting against a live server process; overflowing and inconsistent statistics; NUL and
control characters refused (on SQLite and PostgreSQL) before anything is relayed on-chain.
"""

from __future__ import annotations

import json
import os
import sys
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient

from chain import DatasetRegistryClient, sign_listing
from kernel.runtime import RECURSION_LIMIT
from marketplace_api.auth.messages import sign_challenge
from marketplace_api.core.db import Database
from marketplace_api.listing import metadata_document
from marketplace_api.schemas import DatasetBase
from tests.integration.marketplace_api.conftest import make_app
from tests.integration.marketplace_api.live_server import live_server
from tests.integration.marketplace_api.market_world import ChainWorld, dataset_metadata

DEEP = b"[" * 200_000
"""About 200 KB of nested ``[``: the request that segfaulted the server."""


@pytest.mark.slow
def test_deep_nesting_leaves_a_live_server_answering(tmp_path: Path) -> None:
    with live_server(tmp_path) as (url, process):
        for path in ("/datasets", "/models", "/auth/verify"):
            for content_type in ("application/json", None):
                headers = {"content-type": content_type} if content_type else {}
                answer = httpx.post(f"{url}{path}", content=DEEP, headers=headers, timeout=30)
                assert 400 <= answer.status_code < 500, (path, answer.status_code)
        closed = b"[" * 100_000 + b"]" * 100_000
        answer = httpx.post(f"{url}/datasets", content=closed, timeout=30)
        assert answer.status_code == 422
        assert answer.json()["detail"][0]["loc"] == ["body"]
        assert process.poll() is None, "the server died"
        assert httpx.get(f"{url}/health", timeout=10).json()["status"] == "ok"


def test_creating_the_app_pins_the_recursion_limit(world: ChainWorld, database: Database) -> None:
    sys.setrecursionlimit(100_000)  # as importing py_ecc (through web3) does
    make_app(world, database)
    assert sys.getrecursionlimit() == RECURSION_LIMIT


# ---- helpers -------------------------------------------------------------------------------------
def bearer(api: TestClient, account: LocalAccount) -> dict[str, str]:
    """The header of a session signed in as ``account`` (every write needs one)."""
    challenge = api.get("/auth/nonce").json()
    answer = api.post("/auth/verify", json=sign_challenge(account, challenge, now=time.time()))
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['token']}"}


def signed_body(api: TestClient, account: LocalAccount, meta: dict[str, Any]) -> dict[str, Any]:
    """A POST /datasets body for ``meta`` signed by its owner, as the client builds it."""
    params = api.get("/datasets/signing-params", params={"owner": account.address}).json()
    doc = metadata_document(DatasetBase.model_validate(meta))
    request = doc.request(account.address, nonce=params["nonce"], deadline=params["deadline"])
    signature = sign_listing(account, params["chain_id"], params["registry"], request)
    return {**meta, "deadline": params["deadline"], "signature": "0x" + signature.hex()}


@dataclass(frozen=True)
class ChainMark:
    """What relaying anything would change: the relayer's nonce and the registry's count."""

    relayer_nonce: int
    datasets: int


def chain_mark(world: ChainWorld) -> ChainMark:
    registry = DatasetRegistryClient(world.backend, world.deployment.registry)
    nonce = int(world.backend.w3.eth.get_transaction_count(world.relayer.address))
    return ChainMark(nonce, registry.dataset_count())


def fields_at_fault(answer: Any) -> list[tuple[Any, ...]]:
    return [tuple(e["loc"]) for e in answer.json()["detail"]]


STATS = {"count": 120, "std": [3.5, 4.3, 1.25], "min": [6.98, 9.71, 1], "max": [28.1, 39.28, 9]}


# ---- overflowing and inconsistent statistics -----------------------------------------------------
@pytest.mark.parametrize(
    ("statistics", "field"),
    [
        (b'{"count": Infinity, "mean": [1, 2, 3]}', ("count",)),
        (b'{"count": 1e400, "mean": [1, 2, 3]}', ("count",)),
        (b'{"count": 120, "mean": [' + b"9" * 400 + b", 2, 3]}", ("mean", 0)),
        (b'{"count": 120, "mean": [1, 2, 1e400]}', ("mean", 2)),
        (b'{"count": 120, "mean": [1, NaN, 3]}', ("mean", 1)),
    ],
)
def test_overflowing_statistics_are_422_never_500(
    api: TestClient, world: ChainWorld, statistics: bytes, field: tuple[Any, ...]
) -> None:
    owner = world.funded()
    meta = dataset_metadata(owner.address)
    text = json.dumps({**signed_body(api, owner, meta), "statistics": "@"}).encode()
    body = text.replace(b'"@"', statistics)
    before = chain_mark(world)
    for headers in ({}, bearer(api, owner)):
        answer = api.post(
            "/datasets", content=body, headers={**headers, "content-type": "application/json"}
        )
        assert answer.status_code == 422, answer.text
        assert fields_at_fault(answer) == [("body", "statistics", *field)]
    assert chain_mark(world) == before


@pytest.mark.parametrize(
    ("statistics", "loc"),
    [
        ({**STATS, "mean": [1e16, 19.3, 3]}, ("body", "statistics", "mean", 0)),
        ({**STATS, "count": 2**63}, ("body", "statistics", "count")),
        ({**STATS, "mean": [14.1, 19.3, 3], "min": [30, 9.71, 1]}, ("body", "statistics")),
        ({**STATS, "mean": [40.0, 19.3, 3]}, ("body", "statistics")),
        ({**STATS, "mean": [14.1, 19.3, 3], "std": [-1, 4.3, 1.25]},
         ("body", "statistics", "std", 0)),
        ({**STATS, "mean": [14.1, 19.3, 3], "std": [50, 4.3, 1.25]}, ("body", "statistics")),
        ({**STATS, "mean": [14.1, 19.3, 3], "count": 121}, ("body", "statistics")),
        ({**STATS, "mean": [14.1, 19.3], "std": [3.5, 4.3]}, ("body", "statistics")),
        ({**STATS, "mean": [14.1, 19.3, 3], "missing": [0, 0, 121]}, ("body", "statistics")),
        ({**STATS, "mean": [14.1, 19.3, 3], "columns": ["texture", "radius", "visits"]},
         ("body", "statistics")),
    ],
)  # fmt: skip
def test_inconsistent_statistics_are_refused_before_relaying(
    api: TestClient, world: ChainWorld, statistics: dict[str, Any], loc: tuple[Any, ...]
) -> None:
    owner = world.funded()
    meta = dataset_metadata(owner.address)
    body = {**signed_body(api, owner, meta), "statistics": statistics}
    before = chain_mark(world)
    answer = api.post("/datasets", json=body, headers=bearer(api, owner))
    assert answer.status_code == 422, answer.text
    assert loc in fields_at_fault(answer)
    assert chain_mark(world) == before


def test_min_above_max_names_the_column(api: TestClient, world: ChainWorld) -> None:
    owner = world.funded()
    statistics = {**STATS, "mean": [14.1, 19.3, 3], "min": [6.98, 40.0, 1]}
    body = {**signed_body(api, owner, dataset_metadata(owner.address)), "statistics": statistics}
    answer = api.post("/datasets", json=body, headers=bearer(api, owner))
    assert answer.status_code == 422
    assert "column 1: min 40.0 exceeds max 39.28" in answer.json()["detail"][0]["msg"]


def test_a_listing_without_statistics_is_listed(api: TestClient, world: ChainWorld) -> None:
    owner = world.funded()
    body = signed_body(api, owner, dataset_metadata(owner.address, statistics=None))
    answer = api.post("/datasets", json=body, headers=bearer(api, owner))
    assert answer.status_code == 202, answer.text
    listed = api.get(answer.json()["location"]).json()
    assert listed["statistics"] is None
    assert listed["quality_checks"]["passed"] is None


def test_the_api_computes_the_sponsor_contracts_quality_checks(
    api: TestClient, world: ChainWorld
) -> None:
    owner = world.funded()
    meta = dataset_metadata(owner.address)
    meta["schema"][0] = {"name": "radius", "dtype": "float", "min": 0, "max": 25}
    meta["schema"][2] = {"name": "visits", "dtype": "int", "min": 0}
    meta["statistics"] = {
        **STATS,
        "mean": [14.1, 19.3, 3],
        "missing": [0, 7, 6],  # texture 5.8 % missing, visits exactly 5 %
        "columns": ["radius", "texture", "visits"],
    }
    answer = api.post("/datasets", json=signed_body(api, owner, meta), headers=bearer(api, owner))
    assert answer.status_code == 202, answer.text
    listed = api.get(answer.json()["location"]).json()
    checks = listed["quality_checks"]
    assert checks["missing_limit"] == 0.05
    assert checks["missing_rates"] == {"radius": 0.0, "texture": 7 / 120, "visits": 0.05}
    assert checks["over_missing_limit"] == ["texture"]
    assert checks["out_of_range"] == ["radius"]  # max 28.1 > 25
    assert checks["passed"] is False
    assert listed["schema"][0] == {"name": "radius", "dtype": "float", "min": 0.0, "max": 25.0}
    assert listed["statistics"]["missing"] == [0, 7, 6]


def test_the_signed_document_keeps_its_bytes_when_optional_fields_are_absent() -> None:
    """Documents signed before ranges, missing counts and column names existed hash the same."""
    meta = dataset_metadata("0x70997970C51812dc3A010C7d01b50e0d17dc79C8", name="clinic")
    data = metadata_document(DatasetBase.model_validate(meta)).data
    assert b'"missing":' not in data and b'"columns"' not in data and b'"min":[' in data
    assert b'{"dtype":"float","name":"radius"}' in data


# ---- text: control characters refused, names normalised ------------------------------------------
@pytest.mark.parametrize(
    ("change", "loc"),
    [
        ({"name": "clinic\u0000 A"}, ("body", "name")),
        ({"description": "bell \u0007"}, ("body", "description")),
        ({"license": "CC\u0085BY"}, ("body", "license")),
        ({"name": "lone \ud800 surrogate"}, ("body", "name")),
    ],
)
def test_control_characters_are_refused_before_anything_is_relayed(
    api: TestClient, world: ChainWorld, change: dict[str, str], loc: tuple[Any, ...]
) -> None:
    owner = world.funded()
    meta = dataset_metadata(owner.address)
    body = {**signed_body(api, owner, meta), **change}
    headers = bearer(api, owner)
    before = chain_mark(world)
    answer = api.post(
        "/datasets",
        content=json.dumps(body).encode(),  # ensure_ascii: the surrogate travels as \ud800
        headers={**headers, "content-type": "application/json"},
    )
    assert answer.status_code == 422, answer.text
    assert loc in fields_at_fault(answer)
    assert chain_mark(world) == before


def test_a_nul_in_a_column_name_is_refused(api: TestClient, world: ChainWorld) -> None:
    owner = world.funded()
    body = signed_body(api, owner, dataset_metadata(owner.address))
    body["schema"] = [
        *body["schema"][:3],
        {"name": "si\u0000te", "dtype": "category"},
        body["schema"][4],
    ]
    before = chain_mark(world)
    answer = api.post("/datasets", json=body, headers=bearer(api, owner))
    assert answer.status_code == 422
    assert ("body", "schema", 3, "name") in fields_at_fault(answer)
    assert chain_mark(world) == before


def test_a_nul_in_a_model_listing_is_refused(api: TestClient, world: ChainWorld) -> None:
    lister = world.funded()
    body = {
        "task_id": 1,
        "name": "model\u0000",
        "description": "tab\tand newline\n are fine, escape \u001b is not",
        "card_cid": "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku",
        "signer": lister.address,
        "signature": "0x" + "11" * 65,
    }
    before = chain_mark(world)
    answer = api.post("/models", json=body, headers=bearer(api, lister))
    assert answer.status_code == 422, answer.text
    assert {("body", "name"), ("body", "description")} <= set(fields_at_fault(answer))
    assert chain_mark(world) == before


def test_names_are_normalised_before_signing_and_listing(
    api: TestClient, world: ChainWorld
) -> None:
    owner = world.funded()
    raw = f"  Clinic\t\tA\u0301  {os.urandom(3).hex()}   diagnoses "
    meta = dataset_metadata(owner.address, name=raw)
    answer = api.post("/datasets", json=signed_body(api, owner, meta), headers=bearer(api, owner))
    assert answer.status_code == 202, answer.text
    listed = api.get(answer.json()["location"]).json()
    assert listed["name"] == unicodedata.normalize("NFC", " ".join(raw.split()))
    assert listed["name"].startswith("Clinic \u00c1 ")
    too_long = dataset_metadata(owner.address, name="x" * 201)
    answer = api.post(
        "/datasets", json={**signed_body(api, owner, meta), **too_long}, headers=bearer(api, owner)
    )
    assert answer.status_code == 422 and ("body", "name") in fields_at_fault(answer)


@pytest.mark.parametrize("message", ["\u0000", "example.org wants you to sign in\u0000\n" * 3])
def test_a_nul_in_a_sign_in_message_is_refused(api: TestClient, message: str) -> None:
    answer = api.post("/auth/verify", json={"message": message, "signature": "0x" + "11" * 65})
    assert 400 <= answer.status_code < 500, answer.text
