"""The lean pages of the index against the pydantic models they stand for, and the cache."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from eth_utils.address import to_checksum_address

from marketplace_api.api.pages import json_bytes, listing_record
from marketplace_api.api.routes.datasets import DatasetListingPage, to_public
from marketplace_api.cache import ResponseCache
from marketplace_api.crud import Scope
from marketplace_api.models import DatasetListing
from marketplace_api.schemas import DatasetBase

OWNER = to_checksum_address("0x" + "ab" * 20)
SCOPE = Scope(
    deployment_id=1,
    chain_id=31337,
    registry=to_checksum_address("0x" + "1f" * 20),
    fed_task="0x" + "00" * 19 + "02",
    market="0x" + "00" * 19 + "03",
    court="0x" + "00" * 19 + "04",
)


def document(**overrides: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": "clinic: diagnoses",
        "description": "Fine-needle aspirate features.",
        "owner": OWNER,
        "schema": [
            {"name": "radius", "dtype": "float"},
            {"name": "visits", "dtype": "int"},
            {"name": "label", "dtype": "bool"},
        ],
        "row_count": 120,
        "statistics": {
            "count": 120,
            "mean": [14.1, 3],
            "std": [3.5, 1.25],
            "min": [6.98, 1],
            "max": [28.1, 9],
        },
        "quality": {"missing_rate": 0.0, "label_positive_rate": 0.37},
        "license": "CC-BY-4.0",
        "tags": ["medical", "tabular"],
        "downloadable": True,
    }
    meta.update(overrides)
    return DatasetBase.model_validate(meta).document_fields()


def row(dataset_id: int, **columns: Any) -> DatasetListing:
    values: dict[str, Any] = {
        "deployment_id": 1,
        "dataset_id": dataset_id,
        "owner": OWNER,
        "name": "clinic: diagnoses",
        "metadata_cid": "bafkreibench",
        "metadata_hash": "0x" + f"{dataset_id:064x}",
        "document": document(),
        "tx_hash": "0x" + "cd" * 32,
        "block": 7,
        "created_at": datetime(2026, 11, 30, 14, 0, 5, 123456, tzinfo=UTC),
        "access_mode": "downloadable",
        "price_wei": str(10**20),
        "active": True,
        "document_status": "ok",
        "document_error": None,
        "row_count": 120,
        "sales": 2,
    }
    values.update(columns)
    return DatasetListing(**values)


ROWS = [
    row(1),
    row(2, created_at=datetime(2026, 1, 2, 3, 4, 5)),  # SQLite hands back naive datetimes
    row(3, document=None, document_status="missing", document_error="not fetched", name=None),
    row(4, document=None, document_status="invalid", document_error="not JSON", active=False),
    row(5, access_mode="federated_only", price_wei="0", document=document(tags=[], quality={})),
    row(6, price_wei=str(2**256 - 1)),
]


@pytest.mark.parametrize("listing", ROWS, ids=lambda r: f"dataset-{r.dataset_id}")
def test_a_lean_listing_is_the_models_listing(listing: DatasetListing) -> None:
    lean = json.loads(json_bytes(listing_record(listing, SCOPE.chain_id, SCOPE.registry)))
    assert lean == to_public(listing, SCOPE).model_dump(mode="json", by_alias=True)


def test_a_lean_page_is_the_models_page() -> None:
    items = [listing_record(r, SCOPE.chain_id, SCOPE.registry) for r in ROWS]
    lean = json.loads(json_bytes({"items": items, "total": 60, "limit": 6, "offset": 12}))
    page = DatasetListingPage(
        items=[to_public(r, SCOPE) for r in ROWS], total=60, limit=6, offset=12
    )
    assert lean == page.model_dump(mode="json", by_alias=True)


def test_the_cache_serves_a_body_only_under_its_token() -> None:
    cache = ResponseCache(4)
    cache.put(("datasets", 0), (1, 10, "0xaa"), b"page")
    assert cache.get(("datasets", 0), (1, 10, "0xaa")) == b"page"
    assert cache.get(("datasets", 0), (2, 10, "0xaa")) is None  # the indexer wrote since
    assert cache.get(("datasets", 0), None) is None
    assert cache.get(("datasets", 50), (1, 10, "0xaa")) is None
    assert (cache.hits, cache.misses) == (1, 3)
    cache.put(("datasets", 0), (2, 10, "0xaa"), b"newer")
    assert cache.get(("datasets", 0), (2, 10, "0xaa")) == b"newer"
    assert len(cache) == 1


def test_the_cache_is_bounded_in_entries_and_bytes() -> None:
    cache = ResponseCache(3, max_bytes=800)
    for key in range(3):
        cache.put(key, 1, b"x" * 50)
    cache.get(0, 1)  # recently used: kept
    cache.put(3, 1, b"x" * 50)
    assert [k for k in range(4) if cache.get(k, 1) is not None] == [0, 2, 3]
    cache.put(4, 1, b"x" * 101)  # over an eighth of the bytes: not kept
    assert cache.get(4, 1) is None
    cache.put(5, 1, b"x" * 100)
    cache.put(6, 1, b"x" * 100)
    cache.put(7, 1, b"x" * 100)
    assert len(cache) == 3
    cache.clear()
    assert len(cache) == 0


def test_a_cache_of_no_entries_stores_nothing() -> None:
    cache = ResponseCache(0)
    assert not cache.enabled
    cache.put("k", 1, b"body")
    assert cache.get("k", 1) is None
