"""Helpers of the indexer tests: fresh databases, a busy chain, and the index dumped canonically.

:func:`dump_index` reads every table the indexer writes, in a canonical order, with the
surrogate keys a database assigns (``dataset_listings.pk``, which PostgreSQL's sequences do not
give back on a rollback) replaced by the on-chain ids they stand for, and without the cursor's
write counter: two indexes of one chain
are equal exactly when their dumps are. :func:`busy_chain` makes a chain with every kind of event
the index mirrors: listings made on-chain without the API (one whose document is missing, one
whose document is not a listing), an update, delistings and a relisting, dataset and model
purchases, and a FedTask task of two rounds with batches, direct commitments, claims and its
model listed on the ModelMarket.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from sqlalchemy import Table, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from chain.registry import AccessMode
from marketplace_api.core.db import create_db_engine
from marketplace_api.listing import metadata_document
from marketplace_api.models import (
    ChainEvent,
    ContentDocument,
    DatasetListing,
    DatasetTag,
    IndexCursor,
    IndexedBlock,
    IndexedTask,
    Licence,
    MarketModel,
    TaskAccount,
)
from marketplace_api.schemas import DatasetBase
from tests.integration.marketplace_api.market_world import (
    TOKEN,
    ChainWorld,
    DrivenTask,
    dataset_metadata,
    drive_task,
    fresh_postgres_database,
    list_on_market,
)

INDEX_TABLES: tuple[Table, ...] = tuple(
    m.__table__  # type: ignore[misc]
    for m in (
        IndexCursor,
        IndexedBlock,
        ChainEvent,
        ContentDocument,
        MarketModel,
        Licence,
        IndexedTask,
        TaskAccount,
    )
)
"""The index tables dumped as they are (no surrogate key)."""
UNCOMPARED = {"pk", "version"}
"""Columns no two indexes need agree on: ``dataset_listings.pk`` (a surrogate key) and
``index_cursors.version`` (counts write transactions, for the API's cache: more ranges, more)."""


@contextmanager
def fresh_database_url(kind: str, request: pytest.FixtureRequest, tmp: Path) -> Iterator[str]:
    """The URL of a new, empty database of ``kind`` (``sqlite`` or ``postgresql``)."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp / f'index-{os.urandom(3).hex()}.db'}"
        return
    with fresh_postgres_database(request.getfixturevalue("postgres_url"), "index") as url:
        yield url


def _plain(value: Any) -> Any:
    """A column value in a form equal across runs and drivers (JSON sorted, times as text)."""
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    if isinstance(value, datetime):
        return value.replace(tzinfo=None).isoformat()
    return value


def dump_index(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every index table's rows, sorted, surrogate keys replaced by on-chain ids."""
    dump: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for table in INDEX_TABLES:
            rows = conn.execute(select(*(c for c in table.columns if c.name not in UNCOMPARED)))
            dump[table.name] = sorted((tuple(_plain(v) for v in row) for row in rows), key=repr)
        listings = DatasetListing.__table__
        columns = [c for c in listings.columns if c.name not in UNCOMPARED]
        dump["dataset_listings"] = sorted(
            (tuple(_plain(v) for v in row) for row in conn.execute(select(*columns))), key=repr
        )
        tags = select(DatasetListing.deployment_id, DatasetListing.dataset_id, DatasetTag.tag)
        tags = tags.add_columns(DatasetTag.position).join(
            DatasetTag, DatasetTag.listing_pk == DatasetListing.pk
        )
        dump["dataset_tags"] = sorted((tuple(r) for r in conn.execute(tags)), key=repr)
    return dump


def index_dump(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """:func:`dump_index` of the database at ``url``."""
    engine = create_db_engine(url)
    try:
        return dump_index(engine)
    finally:
        engine.dispose()


def cursor_block(engine: Engine) -> int | None:
    """The block the index's cursor stands at (``None`` before the first sync or migration)."""
    try:
        with engine.connect() as conn:
            return conn.execute(select(IndexCursor.block)).scalar()
    except DBAPIError:  # no table yet: the indexer's process is still migrating
        return None


def list_directly(
    world: ChainWorld,
    owner: LocalAccount,
    *,
    downloadable: bool = False,
    price: int = 0,
    stored: bool = True,
    metadata: dict[str, Any] | None = None,
    **overrides: Any,
) -> int:
    """``owner`` lists a dataset on-chain without the API (its document stored unless not)."""
    meta = metadata or dataset_metadata(owner.address, downloadable=downloadable, **overrides)
    doc = metadata_document(DatasetBase.model_validate(meta))
    if stored:
        world.store.put(doc.data)
    mode = AccessMode.DOWNLOADABLE if downloadable else AccessMode.FEDERATED_ONLY
    dataset_id, _ = world.registry(owner).list_dataset(bytes(doc.hash), str(doc.cid), mode, price)
    return dataset_id


@dataclass
class BusyChain:
    """What :func:`busy_chain` did, for the tests' expectations."""

    listed: list[int] = field(default_factory=list)
    delisted: list[int] = field(default_factory=list)
    relisted: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    bought: list[int] = field(default_factory=list)
    task: DrivenTask | None = None
    model_id: int | None = None


def busy_chain(world: ChainWorld, *, owners: int = 4, per_owner: int = 3) -> BusyChain:
    """Make every kind of event the index mirrors (see the module docstring)."""
    done = BusyChain()
    accounts = [world.funded() for _ in range(owners)]
    for i, owner in enumerate(accounts):
        for j in range(per_owner):
            done.listed.append(list_directly(world, owner, tags=["medical", f"site-{i}-{j}"]))
    first, second, third = done.listed[0], done.listed[1], done.listed[per_owner]
    seller = accounts[0]
    world.registry(seller).update_listing(first, AccessMode.DOWNLOADABLE, 2 * TOKEN)
    done.updated.append(first)
    world.registry(seller).delist(second)
    world.registry(seller).relist(second)
    done.relisted.append(second)
    world.registry(accounts[1]).delist(third)
    done.delisted.append(third)
    for _ in range(2):
        buyer = world.funded()
        world.tokens(buyer, 2 * TOKEN, world.deployment.registry)
        world.registry(buyer).buy_dataset(first, 2 * TOKEN)
    done.bought.append(first)
    odd = world.funded()  # listed on-chain without the API: a missing document, then a non-listing
    done.listed.append(list_directly(world, odd, stored=False))
    junk = world.store.put_json({"not": "a listing"})
    dataset_id, _ = world.registry(odd).list_dataset(os.urandom(32), str(junk))
    done.listed.append(dataset_id)
    task = drive_task(world, scores=[[2, 1], [1, 1]], n_participants=2, claims=[(0, 1)])
    done.task = task
    done.model_id = list_on_market(world, task, price=3 * TOKEN)
    buyer = world.funded()
    world.tokens(buyer, 3 * TOKEN, world.deployment.market)
    world.market(buyer).buy(done.model_id, 3 * TOKEN)
    return done


__all__ = [
    "INDEX_TABLES",
    "BusyChain",
    "busy_chain",
    "cursor_block",
    "dump_index",
    "fresh_database_url",
    "index_dump",
    "list_directly",
]
