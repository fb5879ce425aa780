"""The chain indexer over SQLite and PostgreSQL: complete, resumable, idempotent, reorg-safe.

It resumes after a crash, replays indexed ranges without changing anything, and rolls back to
the last common block when blocks it indexed are replaced.

One in-process chain with every kind of event (:func:`busy_chain`) per module; each test indexes
it into fresh databases and compares them canonically (:func:`dump_index`). The crash is a
failure raised inside a range's transaction, before its commit (``Indexer.crash_hook``); the
separate process killed with SIGKILL, and a real reorg, are in ``test_indexer_anvil.py``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from chain import InProcessBackend
from marketplace_api.core.db import Database
from marketplace_api.indexer import IndexBusyError, Indexer, IndexerOptions, open_index
from marketplace_api.listing import metadata_document
from marketplace_api.models import (
    ChainEvent,
    DatasetListing,
    IndexCursor,
    IndexedBlock,
    IndexedTask,
    Licence,
    MarketModel,
)
from marketplace_api.schemas import DatasetBase
from tests.integration.marketplace_api.index_support import (
    BusyChain,
    busy_chain,
    dump_index,
    fresh_database_url,
    list_directly,
)
from tests.integration.marketplace_api.market_world import (
    DB_KINDS,
    ChainWorld,
    dataset_metadata,
    make_world,
)

pytestmark = pytest.mark.slow
log = logging.getLogger(__name__)


class Crash(Exception):
    """Stands for the process dying inside a range's transaction."""


@pytest.fixture(scope="module")
def busy(tmp_path_factory: pytest.TempPathFactory) -> tuple[ChainWorld, BusyChain]:
    world = make_world(InProcessBackend(), tmp_path_factory.mktemp("store"))
    return world, busy_chain(world)


@pytest.fixture(params=DB_KINDS)
def fresh(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[list[Database]]:
    """Two fresh databases of one kind (the run under test and the reference run)."""
    with (
        fresh_database_url(request.param, request, tmp_path) as one,
        fresh_database_url(request.param, request, tmp_path) as two,
    ):
        databases = [Database.from_url(one), Database.from_url(two)]
        try:
            yield databases
        finally:
            for db in databases:
                db.dispose()


def indexer_of(world: ChainWorld, database: Database, batch_blocks: int = 2000) -> Indexer:
    return open_index(
        database=database,
        backend=world.backend,
        deployment=world.deployment,
        store=world.store,
        options=IndexerOptions(batch_blocks=batch_blocks),
    )


def test_the_index_holds_what_the_chain_holds(
    busy: tuple[ChainWorld, BusyChain],
    fresh: list[Database],
    record_property: Callable[[str, object], None],
) -> None:
    world, done = busy
    report = indexer_of(world, fresh[0]).sync()
    head = int(world.backend.w3.eth.block_number)
    assert report.end_block == head and report.rollbacks == 0
    registry = world.registry()
    with fresh[0].session() as s:
        listings = {r.dataset_id: r for r in s.scalars(select(DatasetListing))}
        assert sorted(listings) == list(range(1, registry.dataset_count() + 1)) == done.listed
        for dataset_id, row in listings.items():
            on_chain = registry.listing(dataset_id)
            assert (row.owner, row.active, int(row.price_wei)) == (
                on_chain.owner,
                on_chain.active,
                on_chain.price,
            )
        assert [d for d, r in listings.items() if not r.active] == done.delisted
        (updated,) = done.updated
        assert (listings[updated].access_mode, listings[updated].sales) == ("downloadable", 2)
        statuses = [listings[d].document_status for d in done.listed]
        assert statuses == ["ok"] * (len(done.listed) - 2) + ["missing", "invalid"]
        assert listings[done.listed[0]].tags[1].tag == "site-0-0"
        assert len(s.scalars(select(Licence).where(Licence.kind == "dataset")).all()) == 2
        model = s.get(MarketModel, (1, done.model_id))
        assert model is not None and (model.sales, model.active) == (1, True)
        assert done.task is not None
        task = s.get(IndexedTask, (1, done.task.task_id))
        assert task is not None and (task.status, task.current_round) == ("completed", 2)
        assert s.scalars(select(ChainEvent.block)).all()  # and every event is filed
        events = len(s.scalars(select(ChainEvent.log_index)).all())
    assert report.events == events
    record_property("events_per_second", round(report.events_per_second))
    rate = report.events_per_second
    log.info("indexed %d events in %.2f s: %.0f/s", events, report.seconds, rate)


@pytest.mark.parametrize("crash_at", [1, 4, 9])
def test_a_crash_mid_range_resumes_to_the_uninterrupted_index(
    busy: tuple[ChainWorld, BusyChain], fresh: list[Database], crash_at: int
) -> None:
    world, _ = busy
    indexer_of(world, fresh[1]).sync()  # the reference: one uninterrupted run, one range
    crashing = indexer_of(world, fresh[0], batch_blocks=7)
    calls = []

    def crash(events: int) -> None:
        calls.append(events)
        if len(calls) == crash_at:
            raise Crash

    crashing.crash_hook = crash
    with pytest.raises(Crash):
        crashing.sync()
    with fresh[0].session() as s:
        cursor = s.get(IndexCursor, 1)
        assert cursor is not None
        assert cursor.block < int(world.backend.w3.eth.block_number)
    restarted = indexer_of(world, fresh[0], batch_blocks=7)  # a new process: nothing in memory
    restarted.sync()
    assert dump_index(fresh[0].engine) == dump_index(fresh[1].engine)


def _set_cursor(database: Database, block: int, block_hash: str) -> None:
    with database.session() as s:
        s.execute(update(IndexCursor).values(block=block, block_hash=block_hash))
        s.commit()


def test_replaying_indexed_ranges_changes_nothing(
    busy: tuple[ChainWorld, BusyChain], fresh: list[Database]
) -> None:
    world, _ = busy
    indexer = indexer_of(world, fresh[0], batch_blocks=5)
    indexer.sync()
    before = dump_index(fresh[0].engine)
    head = int(world.backend.w3.eth.block_number)
    for back_to in (world.deployment.block - 1, head // 2, head - 1):
        block = world.backend.w3.eth.get_block(back_to)
        _set_cursor(fresh[0], back_to, "0x" + bytes(block["hash"]).hex())
        report = indexer.sync()
        assert (report.events, report.rollbacks, report.end_block) == (0, 0, head)
        assert dump_index(fresh[0].engine) == before


def test_replaced_blocks_are_rolled_back_to_the_last_common_one(
    busy: tuple[ChainWorld, BusyChain], fresh: list[Database]
) -> None:
    """Blocks recorded with hashes the chain no longer has are rolled back, then indexed again.

    The newest recorded block the chain still has is the last common one; the index equals a
    fresh run's afterwards.
    """
    world, _ = busy
    indexer_of(world, fresh[1]).sync()
    indexer = indexer_of(world, fresh[0])
    indexer.sync()
    with fresh[0].session() as s:
        recorded = s.scalars(select(IndexedBlock.number).order_by(IndexedBlock.number)).all()
        replaced = recorded[len(recorded) // 2 :]
        s.execute(
            update(IndexedBlock)
            .where(IndexedBlock.number.in_(replaced))
            .values(hash="0x" + "ee" * 32)
        )
        s.execute(update(IndexCursor).values(block_hash="0x" + "ee" * 32))
        s.commit()
    report = indexer.sync()
    assert report.rollbacks == 1 and report.events > 0
    assert report.start_block <= replaced[0]
    assert dump_index(fresh[0].engine) == dump_index(fresh[1].engine)


class _RawString:
    """A ``listDataset`` call whose CID is any bytes, UTF-8 or not (web3 refuses to encode them).

    The call is built with a placeholder string of the same length, whose bytes are then swapped
    for the raw ones in the calldata (a string and bytes encode alike).
    """

    fn_name = "listDataset"

    def __init__(self, registry: Any, metadata_hash: bytes, raw: bytes) -> None:
        self.placeholder = b"Z" * len(raw)
        self.raw = raw
        self.fn = registry.contract.functions.listDataset(
            metadata_hash, self.placeholder.decode(), 0, 0
        )

    def call(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn.call(*args, **kwargs)

    def build_transaction(self, params: dict[str, Any]) -> dict[str, Any]:
        tx = dict(self.fn.build_transaction(params))
        data = str(tx["data"])
        assert data.count(self.placeholder.hex()) == 1
        tx["data"] = data.replace(self.placeholder.hex(), self.raw.hex())
        return tx


def test_hostile_cids_listed_on_chain_cannot_stop_the_indexer(
    fresh: list[Database], tmp_path: Path
) -> None:
    """Anyone can list any string as a CID: NUL, control characters, 300 characters, not UTF-8."""
    world = make_world(InProcessBackend(), tmp_path / "store")
    owner = world.funded()
    registry = world.registry(owner)
    hostile = ["bafy\x00evil", "bafy\x07bell", "b" * 300]
    for i, cid in enumerate(hostile):
        registry.list_dataset(bytes([i + 1]) * 32, cid)
    registry.signer.transact(_RawString(registry, b"\x09" * 32, b"bafy\xff\xfe\xc0"))
    honest = list_directly(world, owner)
    report = indexer_of(world, fresh[0]).sync()
    assert report.end_block == int(world.backend.w3.eth.block_number)
    with fresh[0].session() as s:
        rows = {r.dataset_id: r for r in s.scalars(select(DatasetListing))}
    assert sorted(rows) == [1, 2, 3, 4, honest]
    assert [rows[i].document_status for i in (1, 2, 3, 4)] == ["invalid"] * 4
    assert rows[honest].document_status == "ok"
    assert "\x00" not in rows[1].metadata_cid and rows[4].metadata_cid == "bafy\ufffd\ufffd\ufffd"


def test_a_document_found_later_shows_and_converges_to_a_fresh_index(
    fresh: list[Database], tmp_path: Path
) -> None:
    world = make_world(InProcessBackend(), tmp_path / "store")
    owner = world.funded()
    meta = dataset_metadata(owner.address)
    late = list_directly(world, owner, stored=False, metadata=meta)
    indexer = indexer_of(world, fresh[0])
    indexer.sync()
    with fresh[0].session() as s:
        row = s.scalars(select(DatasetListing)).one()
        assert (row.dataset_id, row.document_status, row.name) == (late, "missing", None)
    assert indexer.refresh_missing() == 0  # still not in the store
    list_directly(world, world.funded())  # stores nothing of the first one's document
    world.store.put(metadata_document(DatasetBase.model_validate(meta)).data)
    assert indexer.refresh_missing() == 1
    indexer.sync()
    with fresh[0].session() as s:
        row = s.scalars(select(DatasetListing).where(DatasetListing.dataset_id == late)).one()
        assert (row.document_status, row.name) == ("ok", meta["name"])
    indexer_of(world, fresh[1]).sync()
    assert dump_index(fresh[0].engine) == dump_index(fresh[1].engine)


def test_two_indexers_of_one_database_take_turns(
    busy: tuple[ChainWorld, BusyChain], fresh: list[Database]
) -> None:
    """The API's thread and ``fedmarket index`` may run at once: they write one after the other."""
    world, _ = busy
    indexer_of(world, fresh[1]).sync()
    second = Database.from_url(fresh[0].engine.url.render_as_string(hide_password=False))
    indexers = [indexer_of(world, fresh[0], batch_blocks=2), indexer_of(world, second, 3)]
    head = int(world.backend.w3.eth.block_number)
    busy_errors: list[str] = []

    def run(indexer: Indexer) -> None:
        while indexer.indexed_block < head:
            try:
                indexer.sync()
            except IndexBusyError as exc:  # the other one wrote first: read again
                busy_errors.append(str(exc))

    try:
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(run, indexers))
    finally:
        second.dispose()
    assert dump_index(fresh[0].engine) == dump_index(fresh[1].engine)
