"""Pages of the chain index built lean, and served from the response cache while it holds.

``GET /datasets`` used to build each listing as a pydantic model (every address checksummed
again, every document validated again) and FastAPI then validated the page once more against
its ``response_model``. The index already holds what the API shows: addresses checksummed by the
indexer (web3 decodes them so), metadata documents validated by
:class:`~marketplace_api.schemas.DatasetBase` when they were indexed. :func:`listing_record`
therefore copies the columns into the response's shape and :func:`json_bytes` writes it with
pydantic-core's serialiser; the unit tests check it against the models, field by field.

:func:`cached_json` answers from :class:`~marketplace_api.cache.ResponseCache` when the index's
token is the one the page was built under, and builds (and stores) it otherwise, all in one hop
to the thread pool: the routes that use it are ``async`` and take no session dependency (a sync
dependency costs a hop of its own, a generator dependency two).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from datetime import UTC, datetime
from typing import Any

from fastapi import Response
from pydantic_core import to_json
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from marketplace_api import crud
from marketplace_api.cache import ResponseCache
from marketplace_api.core.db import Database
from marketplace_api.crud import Scope
from marketplace_api.models import DatasetListing
from marketplace_api.statistics import quality_report

JSON = "application/json"

_DOCUMENT_FIELDS = (
    "name",
    "description",
    "schema",
    "row_count",
    "statistics",
    "quality",
    "license",
)
"""Fields of a listing's public form taken from its metadata document (``None`` when absent)."""


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def listing_record(row: DatasetListing, chain_id: int, registry: str) -> dict[str, Any]:
    """A listing in the shape of ``DatasetListingPublic`` (by alias), without re-validating it.

    Parameters
    ----------
    row : DatasetListing
        The indexed listing (its owner checksummed and its document validated at index time).
    chain_id : int
        The deployment's chain.
    registry : str
        The DatasetRegistry's checksummed address.
    """
    doc = row.document or {}
    record: dict[str, Any] = {
        "id": row.dataset_id,
        "chain_id": chain_id,
        "registry": registry,
        "owner": row.owner,
        "active": row.active,
        "access_mode": row.access_mode,
        "price_wei": str(int(row.price_wei)),
        "metadata_cid": row.metadata_cid,
        "metadata_hash": row.metadata_hash,
        "tx_hash": row.tx_hash,
        "block": row.block,
        "created_at": _utc(row.created_at),
        "sales": row.sales,
        "document_status": row.document_status,
        "document_error": row.document_error,
    }
    for name in _DOCUMENT_FIELDS:
        record[name] = doc.get(name)
    record["tags"] = list(doc.get("tags") or [])
    record["downloadable"] = doc.get("downloadable")
    record["quality_checks"] = quality_report(doc) if row.document_status == "ok" else None
    return record


def json_bytes(value: Any) -> bytes:
    """``value`` as compact JSON (datetimes ISO 8601 as pydantic writes them)."""
    return to_json(value)


def cached_body(
    database: Database,
    cache: ResponseCache,
    scope: Scope,
    key: Hashable,
    build: Callable[[Session], bytes],
) -> bytes:
    """The body of ``key``: from the cache while the index is unchanged, else built (blocking).

    The index's token is read first, outside any transaction (one round trip), then, on a miss
    only, the page's rows in a session.

    Parameters
    ----------
    database : Database
        The marketplace database.
    cache : ResponseCache
        The process's cache (disabled: every page is built).
    scope : Scope
        The deployment.
    key : Hashable
        The validated query.
    build : callable
        Builds the body from a session (its errors, e.g. a 404, pass through; nothing is stored).
    """
    if not cache.enabled:
        with database.session() as session:
            return build(session)
    with database.single_read() as connection:
        token = crud.index_token(connection, scope)
    body = cache.get(key, token)
    if body is None:
        with database.session() as session:
            body = build(session)
        cache.put(key, token, body)
    return body


async def cached_json(
    database: Database,
    cache: ResponseCache,
    scope: Scope,
    key: Hashable,
    build: Callable[[Session], bytes],
) -> Response:
    """:func:`cached_body` in the thread pool (one hop per request), as a JSON response."""
    body = await run_in_threadpool(cached_body, database, cache, scope, key, build)
    return Response(body, media_type=JSON)


__all__ = ["cached_body", "cached_json", "json_bytes", "listing_record"]
