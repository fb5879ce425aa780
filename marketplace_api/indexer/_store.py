"""The indexer's reads and writes of the index tables (the API reads through ``crud``).

Every function takes the session of the indexer's current transaction and flushes, never
commits. Projections are rebuilt per entity from the events stored for it
(:func:`rebuild`): after a batch of events is stored, and after a rollback removed some, the
entities they touched are replayed whole, so a projection is always the function of the events
in the table, whatever order and ranges they were indexed in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from marketplace_api.indexer._documents import (
    EVIDENCE,
    METADATA,
    DocumentRecord,
    listing_document,
    printable,
    unstorable_text,
)
from marketplace_api.indexer._listings import (
    DatasetProjection,
    LicenceRow,
    licences_of,
    reduce_dataset,
    reduce_model,
)
from marketplace_api.indexer._tasks import LoggedEvent, reduce_task
from marketplace_api.models import (
    CID_LEN,
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

MAX_STORED_TEXT = 4096
"""Longest chain-provided string kept verbatim in a column (longer ones are cut, marked)."""


@dataclass
class Touched:
    """The entities whose projections a set of events changes."""

    datasets: set[int] = field(default_factory=set)
    models: set[int] = field(default_factory=set)
    tasks: set[int] = field(default_factory=set)

    def add(self, contract: str, task_id: int | None, item_id: int | None) -> None:
        """Count the entity of one event."""
        if contract == "registry" and item_id is not None:
            self.datasets.add(item_id)
        elif contract == "market" and item_id is not None:
            self.models.add(item_id)
        elif contract in ("fed_task", "court") and task_id is not None:
            self.tasks.add(task_id)

    def __bool__(self) -> bool:
        return bool(self.datasets or self.models or self.tasks)


def storable(text: str, limit: int = MAX_STORED_TEXT) -> str:
    """``text`` as it is when a column can hold it, else escaped and cut (see ``printable``).

    Parameters
    ----------
    text : str
        A string read from the chain or a document.
    limit : int, default MAX_STORED_TEXT
        Longest string kept verbatim.
    """
    if len(text) <= limit and not unstorable_text(text):
        return text
    return printable(text, limit)


def document_key(cid: str) -> bool:
    """Whether ``cid`` can key a ``content_documents`` row: storable as is, at most 128 long.

    Anything else listed on-chain as a CID (NUL, control characters, invalid UTF-8 decoded with
    replacement, hundreds of characters) is no CID: it is never fetched nor looked up (a NUL in
    a query parameter fails the whole transaction on PostgreSQL), and its listing is invalid.
    """
    return len(cid) <= CID_LEN and storable(cid) == cid


def storable_args(value: Any) -> Any:
    """An event's arguments with every string made :func:`storable` (numbers and hex untouched)."""
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, dict):
        return {k: storable_args(v) for k, v in value.items()}
    if isinstance(value, list):
        return [storable_args(v) for v in value]
    return value


# ---- cursor and blocks -------------------------------------------------------------------------
def lock_cursor(session: Session, deployment_id: int) -> IndexCursor | None:
    """Take the deployment's cursor for this transaction, then read it.

    The first statement is a write to the cursor's row: SQLite takes its write lock here (waiting
    up to the busy timeout), PostgreSQL locks the row, so two indexers of one deployment (the
    API's and ``fedmarket index``) write one after the other, never over each other. The write
    adds one to the cursor's ``version``: the API's response cache sees the index changed.
    """
    session.execute(
        update(IndexCursor)
        .where(IndexCursor.deployment_id == deployment_id)
        .values(version=IndexCursor.version + 1)
    )
    return session.get(IndexCursor, deployment_id, populate_existing=True)


def create_cursor(
    session: Session, deployment_id: int, block: int, block_hash: str, timestamp: int
) -> None:
    """Create the deployment's cursor with one ``INSERT`` (``IntegrityError`` when it exists).

    The insert is the transaction's first statement, so SQLite takes its write lock at once
    (waiting up to the busy timeout); a read first would make a concurrent writer's commit fail
    this transaction with "database is locked", without waiting.
    """
    session.execute(
        insert(IndexCursor).values(
            deployment_id=deployment_id,
            block=block,
            block_hash=block_hash,
            block_timestamp=timestamp,
        )
    )


def set_cursor(
    session: Session, deployment_id: int, block: int, block_hash: str, timestamp: int
) -> None:
    """Record that every block up to ``block`` is indexed."""
    cursor = session.get(IndexCursor, deployment_id)
    if cursor is None:
        session.add(
            IndexCursor(
                deployment_id=deployment_id,
                block=block,
                block_hash=block_hash,
                block_timestamp=timestamp,
            )
        )
    else:
        cursor.block, cursor.block_hash, cursor.block_timestamp = block, block_hash, timestamp
    session.flush()


def add_blocks(session: Session, deployment_id: int, blocks: Mapping[int, tuple[str, int]]) -> None:
    """Record the hash and time of blocks that had events (those already recorded are kept)."""
    if not blocks:
        return
    known = set(
        session.scalars(
            select(IndexedBlock.number).where(
                IndexedBlock.deployment_id == deployment_id,
                IndexedBlock.number.in_(list(blocks)),
            )
        )
    )
    rows = [
        {"deployment_id": deployment_id, "number": n, "hash": h, "timestamp": ts}
        for n, (h, ts) in sorted(blocks.items())
        if n not in known
    ]
    if rows:
        session.execute(insert(IndexedBlock), rows)


def recorded_blocks(
    session: Session, deployment_id: int, below: int, limit: int
) -> list[tuple[int, str]]:
    """``(number, hash)`` of the recorded blocks at or below ``below``, newest first."""
    stmt = (
        select(IndexedBlock.number, IndexedBlock.hash)
        .where(IndexedBlock.deployment_id == deployment_id, IndexedBlock.number <= below)
        .order_by(IndexedBlock.number.desc())
        .limit(limit)
    )
    return [(int(n), str(h)) for n, h in session.execute(stmt)]


# ---- events ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class EventRow:
    """A decoded event with what the index copies out of it (a row of ``chain_events``)."""

    contract: str
    name: str
    block: int
    log_index: int
    tx_hash: str
    block_hash: str
    task_id: int | None
    item_id: int | None
    account: str | None
    args: dict[str, Any]
    extra: dict[str, Any] | None = None


def add_events(session: Session, deployment_id: int, events: Sequence[EventRow]) -> list[EventRow]:
    """Store the events not stored yet (by block and log index); return those added."""
    if not events:
        return []
    low, high = min(e.block for e in events), max(e.block for e in events)
    known = {
        (int(b), int(i))
        for b, i in session.execute(
            select(ChainEvent.block, ChainEvent.log_index).where(
                ChainEvent.deployment_id == deployment_id,
                ChainEvent.block.between(low, high),
            )
        )
    }
    fresh = [e for e in events if (e.block, e.log_index) not in known]
    if fresh:
        session.execute(
            insert(ChainEvent),
            [
                {
                    "deployment_id": deployment_id,
                    "block": e.block,
                    "log_index": e.log_index,
                    "tx_hash": e.tx_hash,
                    "block_hash": e.block_hash,
                    "contract": e.contract,
                    "name": e.name,
                    "task_id": e.task_id,
                    "item_id": e.item_id,
                    "account": e.account,
                    "args": storable_args(e.args),
                    "extra": e.extra,
                }
                for e in fresh
            ],
        )
    return fresh


def challenge_tasks(
    session: Session, deployment_id: int, challenge_ids: Iterable[int]
) -> dict[int, int]:
    """The task of each challenge already indexed (from its ``ChallengeOpened``)."""
    wanted = list(set(challenge_ids))
    if not wanted:
        return {}
    stmt = select(ChainEvent.item_id, ChainEvent.task_id).where(
        ChainEvent.deployment_id == deployment_id,
        ChainEvent.contract == "court",
        ChainEvent.name == "ChallengeOpened",
        ChainEvent.item_id.in_(wanted),
    )
    return {int(c): int(t) for c, t in session.execute(stmt) if c is not None and t is not None}


def _logged_rows(
    session: Session, deployment_id: int, *conditions: Any
) -> list[tuple[int | None, LoggedEvent]]:
    """``(item_id, event)`` of the events matching ``conditions``, in chain order."""
    stmt = (
        select(
            ChainEvent.item_id,
            ChainEvent.contract,
            ChainEvent.name,
            ChainEvent.block,
            ChainEvent.log_index,
            ChainEvent.tx_hash,
            IndexedBlock.timestamp,
            ChainEvent.args,
            ChainEvent.extra,
        )
        .join(
            IndexedBlock,
            (IndexedBlock.deployment_id == ChainEvent.deployment_id)
            & (IndexedBlock.number == ChainEvent.block),
        )
        .where(ChainEvent.deployment_id == deployment_id, *conditions)
        .order_by(ChainEvent.block, ChainEvent.log_index)
    )
    return [
        (
            None if item is None else int(item),
            LoggedEvent(
                contract=contract,
                name=name,
                block=int(block),
                log_index=int(log_index),
                tx_hash=tx_hash,
                timestamp=int(ts),
                args=args,
                extra=extra,
            ),
        )
        for item, contract, name, block, log_index, tx_hash, ts, args, extra in session.execute(
            stmt
        )
    ]


def _logged(session: Session, deployment_id: int, *conditions: Any) -> list[LoggedEvent]:
    return [e for _, e in _logged_rows(session, deployment_id, *conditions)]


def events_of_item(
    session: Session, deployment_id: int, contract: str, item_id: int
) -> list[LoggedEvent]:
    """One dataset's (``registry``) or model's (``market``) events, in chain order."""
    return _logged(
        session, deployment_id, ChainEvent.contract == contract, ChainEvent.item_id == item_id
    )


def events_of_items(
    session: Session, deployment_id: int, contract: str, item_ids: Sequence[int]
) -> dict[int, list[LoggedEvent]]:
    """The events of each of ``item_ids`` (one query), in chain order; ``[]`` for one with none."""
    found: dict[int, list[LoggedEvent]] = {i: [] for i in item_ids}
    conditions = (ChainEvent.contract == contract, ChainEvent.item_id.in_(list(item_ids)))
    for item, event in _logged_rows(session, deployment_id, *conditions):
        if item is not None:
            found[item].append(event)
    return found


def events_of_task(session: Session, deployment_id: int, task_id: int) -> list[LoggedEvent]:
    """One task's FedTask events and the court's events about it, in chain order."""
    return _logged(
        session,
        deployment_id,
        ChainEvent.task_id == task_id,
        ChainEvent.contract.in_(("fed_task", "court")),
    )


def rollback_after(session: Session, deployment_id: int, block: int) -> Touched:
    """Delete every event and block recorded after ``block``; return the entities they touched."""
    touched = Touched()
    stmt = select(ChainEvent.contract, ChainEvent.task_id, ChainEvent.item_id).where(
        ChainEvent.deployment_id == deployment_id, ChainEvent.block > block
    )
    for contract, task_id, item_id in session.execute(stmt):
        touched.add(contract, task_id, item_id)
    session.execute(
        delete(ChainEvent).where(
            ChainEvent.deployment_id == deployment_id, ChainEvent.block > block
        )
    )
    session.execute(
        delete(IndexedBlock).where(
            IndexedBlock.deployment_id == deployment_id, IndexedBlock.number > block
        )
    )
    return touched


# ---- documents ---------------------------------------------------------------------------------
def documents(session: Session, kind: str, cids: Iterable[str]) -> dict[str, DocumentRecord]:
    """The recorded documents of ``kind`` under ``cids``, by CID."""
    wanted = list({c for c in cids if document_key(c)})
    if not wanted:
        return {}
    stmt = select(ContentDocument).where(
        ContentDocument.kind == kind, ContentDocument.cid.in_(wanted)
    )
    return {
        d.cid: DocumentRecord(d.cid, d.kind, d.status, d.error, d.body)  # type: ignore[arg-type]
        for d in session.scalars(stmt)
    }


def save_documents(session: Session, records: Iterable[DocumentRecord]) -> None:
    """Record (or update) what documents said."""
    for r in records:
        found = session.get(ContentDocument, (r.cid, r.kind))
        if found is None:
            session.add(
                ContentDocument(cid=r.cid, kind=r.kind, status=r.status, error=r.error, body=r.body)
            )
        else:
            found.status, found.error, found.body = r.status, r.error, r.body
    session.flush()


def missing_documents(session: Session, limit: int) -> list[tuple[str, str]]:
    """``(cid, kind)`` of up to ``limit`` documents not found yet."""
    stmt = (
        select(ContentDocument.cid, ContentDocument.kind)
        .where(ContentDocument.status == "missing")
        .order_by(ContentDocument.cid, ContentDocument.kind)
        .limit(limit)
    )
    return [(str(c), str(k)) for c, k in session.execute(stmt)]


def referring_entities(session: Session, deployment_id: int, cid: str, kind: str) -> Touched:
    """The listings (metadata) or tasks (evidence) whose projection shows the document ``cid``."""
    touched = Touched()
    if kind == METADATA:
        stmt = select(DatasetListing.dataset_id).where(
            DatasetListing.deployment_id == deployment_id, DatasetListing.metadata_cid == cid
        )
        touched.datasets.update(int(d) for d in session.scalars(stmt))
    elif kind == EVIDENCE:
        finalized = select(ChainEvent.task_id, ChainEvent.args).where(
            ChainEvent.deployment_id == deployment_id,
            ChainEvent.contract == "fed_task",
            ChainEvent.name == "RoundFinalized",
        )
        touched.tasks.update(
            int(t) for t, a in session.execute(finalized) if a.get("evidenceCid") == cid
        )
    return touched


# ---- projections -------------------------------------------------------------------------------
def rebuild(session: Session, deployment_id: int, touched: Touched) -> None:
    """Replay the events of every touched entity into its projection (deleted when none left)."""
    rebuild_datasets(session, deployment_id, touched.datasets)
    for model_id in sorted(touched.models):
        rebuild_model(session, deployment_id, model_id)
    for task_id in sorted(touched.tasks):
        rebuild_task(session, deployment_id, task_id)
    session.flush()


def _utc(timestamp: int) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def _licence_row(deployment_id: int, r: LicenceRow) -> dict[str, Any]:
    return {
        "deployment_id": deployment_id,
        "kind": r.kind,
        "item_id": r.item_id,
        "buyer": r.buyer,
        "paid_wei": str(r.paid),
        "fee_wei": str(r.fee),
        "block": r.block,
        "tx_hash": r.tx_hash,
        "bought_at": r.bought_at,
    }


def _replace_licences(
    session: Session, deployment_id: int, kind: str, item_id: int, events: Sequence[LoggedEvent]
) -> None:
    session.execute(
        delete(Licence).where(
            Licence.deployment_id == deployment_id, Licence.kind == kind, Licence.item_id == item_id
        )
    )
    rows = [_licence_row(deployment_id, r) for r in licences_of(events)]
    if rows:
        session.execute(insert(Licence), rows)


REBUILD_CHUNK = 500
"""Listings rebuilt per query (the ``IN`` lists stay well below every database's limit)."""


def rebuild_dataset(session: Session, deployment_id: int, dataset_id: int) -> None:
    """Replay one listing's events into its row, its tags and its licences."""
    rebuild_datasets(session, deployment_id, [dataset_id])


def rebuild_datasets(session: Session, deployment_id: int, dataset_ids: Iterable[int]) -> None:
    """Replay listings' events into their rows, tags and licences, a few queries per chunk.

    The same as :func:`rebuild_dataset` for each, but a range that lists hundreds of datasets
    costs a handful of statements instead of five per listing.
    """
    ids = sorted(set(dataset_ids))
    for start in range(0, len(ids), REBUILD_CHUNK):
        _rebuild_dataset_chunk(session, deployment_id, ids[start : start + REBUILD_CHUNK])


def _rebuild_dataset_chunk(session: Session, deployment_id: int, ids: list[int]) -> None:
    events = events_of_items(session, deployment_id, "registry", ids)
    session.execute(
        delete(Licence).where(
            Licence.deployment_id == deployment_id,
            Licence.kind == "dataset",
            Licence.item_id.in_(ids),
        )
    )
    licences = [_licence_row(deployment_id, r) for i in ids for r in licences_of(events[i])]
    if licences:
        session.execute(insert(Licence), licences)
    listings = {i: reduce_dataset(events[i]) for i in ids}
    rows = {
        r.dataset_id: r
        for r in session.scalars(
            select(DatasetListing).where(
                DatasetListing.deployment_id == deployment_id, DatasetListing.dataset_id.in_(ids)
            )
        )
    }
    cids = [listing.metadata_cid for listing in listings.values() if listing is not None]
    records = documents(session, METADATA, cids)
    for i in ids:
        _apply_dataset(session, deployment_id, i, listings[i], rows.get(i), records)


def _apply_dataset(
    session: Session,
    deployment_id: int,
    dataset_id: int,
    listing: DatasetProjection | None,
    row: DatasetListing | None,
    records: Mapping[str, DocumentRecord],
) -> None:
    """Make ``row`` (the listing's row, if any) what ``listing`` says (deleted when ``None``)."""
    if listing is None:
        if row is not None:
            session.delete(row)
        return
    record = records.get(listing.metadata_cid)
    if record is None and not document_key(listing.metadata_cid):
        why = f"not a CID: {printable(listing.metadata_cid, 80)}"
        record = DocumentRecord(listing.metadata_cid, METADATA, "invalid", why)
    status, error, document = listing_document(record, listing.owner, listing.metadata_hash)
    if row is None:
        row = DatasetListing(deployment_id=deployment_id, dataset_id=dataset_id)
        session.add(row)
    row.owner, row.metadata_hash = listing.owner, listing.metadata_hash
    row.metadata_cid = storable(listing.metadata_cid)
    row.access_mode, row.price_wei = listing.access_mode, str(listing.price)
    row.active, row.sales = listing.active, listing.sales
    row.tx_hash, row.block, row.created_at = listing.tx_hash, listing.block, _utc(listing.listed_at)
    row.document_status, row.document_error, row.document = status, error, document
    row.name = document["name"] if document else None
    row.row_count = document["row_count"] if document else None
    tags = list(document["tags"]) if document else []
    if [t.tag for t in row.tags] != tags:
        row.tags = [DatasetTag(tag=t, position=i) for i, t in enumerate(tags)]


def rebuild_model(session: Session, deployment_id: int, model_id: int) -> None:
    """Replay one ModelMarket listing's events into its row and its licences."""
    events = events_of_item(session, deployment_id, "market", model_id)
    _replace_licences(session, deployment_id, "model", model_id, events)
    model = reduce_model(events)
    row = session.get(MarketModel, (deployment_id, model_id))
    if model is None:
        if row is not None:
            session.delete(row)
        return
    if row is None:
        row = MarketModel(deployment_id=deployment_id, model_id=model_id)
        session.add(row)
    row.task_id, row.lister, row.price_wei = model.task_id, model.lister, str(model.price)
    row.sponsor_bps, row.card_cid, row.card_hash = (
        model.sponsor_bps,
        storable(model.card_cid),
        model.card_hash,
    )
    row.active, row.proceeds_wei, row.claimed_wei = (
        model.active,
        str(model.proceeds),
        str(model.claimed),
    )
    row.sales, row.block, row.tx_hash, row.listed_at = (
        model.sales,
        model.block,
        model.tx_hash,
        model.listed_at,
    )


def rebuild_task(session: Session, deployment_id: int, task_id: int) -> None:
    """Replay one task's events into its row and its accounts."""
    events = events_of_task(session, deployment_id, task_id)
    cids = [str(e.args["evidenceCid"]) for e in events if e.name == "RoundFinalized"]
    projection = reduce_task(events, documents(session, EVIDENCE, cids))
    session.execute(
        delete(TaskAccount).where(
            TaskAccount.deployment_id == deployment_id, TaskAccount.task_id == task_id
        )
    )
    row = session.get(IndexedTask, (deployment_id, task_id))
    if projection is None:
        if row is not None:
            session.delete(row)
        return
    t = projection.snapshot
    if row is None:
        row = IndexedTask(deployment_id=deployment_id, task_id=task_id)
        session.add(row)
    row.sponsor, row.coordinator, row.status = t.sponsor, t.coordinator, t.status
    row.created_at, row.ended_at, row.total_rounds = t.created_at, t.ended_at, t.total_rounds
    row.current_round, row.participant_count = t.last_round, len(t.participants)
    row.pool_wei, row.spec_cid = str(t.pool), storable(t.spec_cid)
    row.block, row.tx_hash, row.updated_block = (
        projection.block,
        projection.tx_hash,
        projection.updated_block,
    )
    row.detail = t.model_dump(mode="json")
    rows = [
        {
            "deployment_id": deployment_id,
            "task_id": task_id,
            "account": a.account,
            "role": a.role,
            "join_index": a.join_index,
            "stake_wei": str(a.stake),
            "allocated_wei": None if a.allocated is None else str(a.allocated),
            "claimed_wei": str(a.claimed),
            "share_bps": a.share_bps,
        }
        for a in projection.accounts
    ]
    if rows:
        session.execute(insert(TaskAccount), rows)


__all__ = [
    "EventRow",
    "Touched",
    "add_blocks",
    "add_events",
    "challenge_tasks",
    "create_cursor",
    "document_key",
    "documents",
    "events_of_item",
    "events_of_items",
    "events_of_task",
    "lock_cursor",
    "missing_documents",
    "rebuild",
    "rebuild_dataset",
    "rebuild_datasets",
    "recorded_blocks",
    "referring_entities",
    "rollback_after",
    "save_documents",
    "set_cursor",
    "storable",
    "storable_args",
]
