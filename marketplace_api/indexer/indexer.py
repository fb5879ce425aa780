"""The indexer: mirrors the chain's events into the database, resuming, idempotent, reorg-safe.

:meth:`Indexer.sync` brings the index of one deployment up to the chain's head (less an optional
confirmation depth), one range of blocks at a time. For each range it reads, **without holding a
database transaction**, the range's last block, the logs of the registry, the market, FedTask and
the court, the hash and time of every block with events, a new task's immutable terms and the
documents the events name (metadata, evidence); then, in **one short transaction**, it takes the
deployment's cursor, stores the events not stored yet (unique per block and log index, so a range
indexed twice adds nothing), rebuilds the projections of the entities they touched and moves the
cursor. A process killed mid-range leaves the previous cursor and nothing of the range.

Before each range the cursor's block hash is compared with the chain's: when that block was
replaced (a reorg on a dev chain, ``evm_revert``), the newest recorded block the chain still has
is found, everything recorded after it is deleted, the touched projections are rebuilt from the
events that remain, and indexing resumes from there.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from chain import ChainBackend, ChainError, Deployment, FedTaskClient
from marketplace_api.core.db import Database
from marketplace_api.indexer import _store
from marketplace_api.indexer._decode import DecodedEvent, EventDecoder
from marketplace_api.indexer._documents import (
    EVIDENCE,
    METADATA,
    DocumentRecord,
    fetch_evidence,
    fetch_metadata,
)
from marketplace_api.indexer._store import EventRow, Touched
from marketplace_api.indexer.errors import ChainMovedError, IndexBusyError, UndecodableLogError
from marketplace_api.models import IndexCursor
from storage import ContentStore

log = logging.getLogger(__name__)

_ACCOUNT_ARGS = (
    "participant",
    "account",
    "buyer",
    "contributor",
    "owner",
    "lister",
    "challenger",
    "validator",
    "sponsor",
    "coordinator",
    "caller",
    "proposed",
    "feeRecipient",
)
"""The argument whose address an event is filed under (the first present)."""
_ITEM_ARGS = ("datasetId", "modelId", "challengeId")
_HEADER_BATCH = 200
"""Block headers asked for in one JSON-RPC batch."""
_MAX_REORG_SCAN = 4096
"""Recorded blocks compared with the chain's when looking for the last common block."""


@dataclass(frozen=True)
class IndexerOptions:
    """How the indexer reads the chain.

    Attributes
    ----------
    batch_blocks : int, default 2000
        Blocks per range (one ``eth_getLogs`` and one transaction each).
    confirmations : int, default 0
        Blocks left unindexed below the head (0 on a dev chain; more where reorgs are deep).
    poll_interval : float, default 1.0
        Seconds between two looks at the chain when following it.
    retry_missing_every : float, default 60.0
        Seconds between two attempts at documents not found in the store.
    """

    batch_blocks: int = 2000
    confirmations: int = 0
    poll_interval: float = 1.0
    retry_missing_every: float = 60.0


@dataclass
class SyncReport:
    """What one :meth:`Indexer.sync` did.

    Attributes
    ----------
    start_block, end_block : int
        The first block read (after a rollback: the first block read again) and the cursor at
        the end.
    events : int
        Events stored (events already stored are not counted).
    ranges : int
        Ranges of blocks indexed.
    rollbacks : int
        Reorgs rolled back.
    seconds : float
        Wall time.
    """

    start_block: int
    end_block: int
    events: int = 0
    ranges: int = 0
    rollbacks: int = 0
    seconds: float = 0.0

    @property
    def events_per_second(self) -> float:
        """Events stored per second of wall time."""
        return self.events / self.seconds if self.seconds > 0 else 0.0


@dataclass
class _Range:
    """What was read of one range of blocks, before it is written."""

    start: int
    end: int
    end_hash: str
    end_timestamp: int
    events: list[EventRow] = field(default_factory=list)
    blocks: dict[int, tuple[str, int]] = field(default_factory=dict)
    documents: list[DocumentRecord] = field(default_factory=list)


def _header_of(block: Any) -> tuple[int, str, int]:
    """``(number, hash, timestamp)`` of a block as web3 returns it."""
    return int(block["number"]), "0x" + bytes(block["hash"]).hex(), int(block["timestamp"])


def _entities(event: DecodedEvent) -> tuple[int | None, int | None, str | None]:
    """``(task_id, item_id, account)`` of an event, copied out of its arguments."""
    args = event.args
    task_id = int(args["taskId"]) if "taskId" in args else None
    item = next((args[k] for k in _ITEM_ARGS if k in args), None)
    account = next((args[k] for k in _ACCOUNT_ARGS if isinstance(args.get(k), str)), None)
    return task_id, None if item is None else int(item), account


class Indexer:
    """Indexes one deployment's events into one database.

    Thread-safe: one range is indexed at a time per indexer (a lock), and indexers of the same
    deployment in other processes take turns on the cursor's row.

    Parameters
    ----------
    database : Database
        The index.
    backend : ChainBackend
        The chain.
    deployment : Deployment
        The contracts.
    deployment_id : int
        The deployment's row (``Services.scope.deployment_id``).
    store : ContentStore
        Where listings' metadata and rounds' evidence are read.
    options : IndexerOptions or None, default None
        Batch size, confirmations, polling.
    """

    def __init__(
        self,
        *,
        database: Database,
        backend: ChainBackend,
        deployment: Deployment,
        deployment_id: int,
        store: ContentStore,
        options: IndexerOptions | None = None,
    ) -> None:
        self.database = database
        self.backend = backend
        self.deployment = deployment
        self.deployment_id = deployment_id
        self.store = store
        self.options = options or IndexerOptions()
        self.decoder = EventDecoder(deployment)
        self.fed_task: FedTaskClient = deployment.fed_task_client(backend)
        self._lock = threading.RLock()
        self._progress = threading.Condition()
        self._indexed_block = -1
        self.crash_hook: Callable[[int], None] | None = None
        """Test hook: called with the number of events written, before the commit."""

    # ---- public ---------------------------------------------------------------------------------
    @property
    def indexed_block(self) -> int:
        """The last block this process knows to be indexed (-1 before the first sync)."""
        return self._indexed_block

    def sync(
        self, to_block: int | None = None, *, stop: threading.Event | None = None
    ) -> SyncReport:
        """Index every block up to ``to_block`` (the head less the confirmations when ``None``).

        Parameters
        ----------
        to_block : int or None, default None
            Stop there (never beyond the head less the confirmations).
        stop : threading.Event or None, default None
            When set, return after the range being written (its transaction is committed
            first: a stopped sync leaves the index at a range's end, as a finished one does).

        Raises
        ------
        ChainMovedError
            When the chain kept changing under a range (retried by the caller's next sync).
        """
        started = time.monotonic()
        with self._lock:
            cursor = self._cursor()
            report = SyncReport(start_block=cursor[0] + 1, end_block=cursor[0])
            target = self._target(to_block)
            while True:
                cursor, rolled = self._unwind_reorg(cursor)
                report.rollbacks += rolled
                report.start_block = min(report.start_block, cursor[0] + 1)
                if cursor[0] >= target or (stop is not None and stop.is_set()):
                    break
                end = min(cursor[0] + self.options.batch_blocks, target)
                chunk = self._read_range(cursor, end)
                report.events += self._write_range(chunk, cursor)
                report.ranges += 1
                cursor = (chunk.end, chunk.end_hash, chunk.end_timestamp)
            report.end_block = cursor[0]
        self._advanced(cursor[0])
        report.seconds = time.monotonic() - started
        if report.events or report.rollbacks:
            log.info(
                "sync: blocks %d..%d, %d events, %d rollbacks, %.1f events/s",
                report.start_block,
                report.end_block,
                report.events,
                report.rollbacks,
                report.events_per_second,
            )
        return report

    def wait_for(self, block: int, timeout: float) -> bool:
        """Wait until ``block`` is indexed by another thread (``True``) or ``timeout`` passes.

        Parameters
        ----------
        block : int
            The block.
        timeout : float
            Seconds.
        """
        deadline = time.monotonic() + timeout
        with self._progress:
            while self._indexed_block < block:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._progress.wait(left)
        return True

    def refresh_missing(self, limit: int = 50) -> int:
        """Fetch again documents that were missing; rebuild what shows those found now.

        Parameters
        ----------
        limit : int, default 50
            Documents tried.

        Returns
        -------
        int
            Documents found this time.
        """
        with self._lock:
            with self.database.session() as session:
                missing = _store.missing_documents(session, limit)
            found = [self._fetch(cid, kind) for cid, kind in missing]
            found = [r for r in found if r.status != "missing"]
            if not found:
                return 0
            with self.database.session() as session:
                _store.lock_cursor(session, self.deployment_id)
                _store.save_documents(session, found)
                touched = Touched()
                for r in found:
                    more = _store.referring_entities(session, self.deployment_id, r.cid, r.kind)
                    touched.datasets |= more.datasets
                    touched.tasks |= more.tasks
                _store.rebuild(session, self.deployment_id, touched)
                session.commit()
            return len(found)

    # ---- cursor and reorgs -----------------------------------------------------------------------
    def _header(self, number: int) -> tuple[int, str, int] | None:
        """``(number, hash, timestamp)`` of a block; ``None`` when the chain has no such block."""
        try:
            block = self.backend.w3.eth.get_block(number)
        except Exception as exc:  # web3 raises BlockNotFound, eth-tester its own: both mean none
            if "not found" in str(exc).lower() or type(exc).__name__ == "BlockNotFound":
                return None
            raise
        return _header_of(block)

    def _headers(self, numbers: Sequence[int]) -> dict[int, tuple[int, str, int] | None]:
        """:meth:`_header` of each block, in JSON-RPC batches where the node takes them.

        One round trip per :data:`_HEADER_BATCH` blocks instead of one per block; a provider
        without batches (eth-tester), or a batch that fails (a block gone), is asked block by
        block, which tells a missing block from an error.
        """
        found: dict[int, tuple[int, str, int] | None] = {}
        w3 = self.backend.w3
        for start in range(0, len(numbers) if len(numbers) > 1 else 0, _HEADER_BATCH):
            chunk = numbers[start : start + _HEADER_BATCH]
            try:
                with w3.batch_requests() as batch:
                    for number in chunk:
                        batch.add(w3.eth.get_block(number))
                    replies = batch.execute()
            except Exception as exc:  # no batches here, or one reply failed: one by one below
                log.debug("sync: batch of %d headers failed (%s)", len(chunk), exc)
                continue
            for number, reply in zip(chunk, replies, strict=True):
                block: Any = reply
                if isinstance(block, Mapping) and int(block["number"]) == number:
                    found[number] = _header_of(block)
        for number in numbers:
            if number not in found:
                found[number] = self._header(number)
        return found

    def _target(self, to_block: int | None) -> int:
        head = int(self.backend.w3.eth.block_number) - self.options.confirmations
        return head if to_block is None else min(to_block, head)

    def _cursor(self) -> tuple[int, str, int]:
        """``(block, hash, timestamp)`` of the cursor, created at the deployment block's parent."""
        with self.database.session() as session:
            found = session.get(IndexCursor, self.deployment_id)
            if found is not None:
                return found.block, found.block_hash, found.block_timestamp
        start = self._header(max(self.deployment.block - 1, 0))
        if start is None:
            raise ChainMovedError("sync: the chain has no block before the deployment")
        try:  # the insert comes first: a read before it would not wait for SQLite's write lock
            with self.database.session() as session:
                _store.create_cursor(session, self.deployment_id, *start)
                session.commit()
        except IntegrityError:  # another indexer of the deployment created it meanwhile
            log.info("sync: the cursor of deployment %s was created meanwhile", self.deployment_id)
        return self._cursor()

    def _unwind_reorg(self, cursor: tuple[int, str, int]) -> tuple[tuple[int, str, int], int]:
        """Roll back to the last common block when the cursor's block was replaced."""
        header = self._header(cursor[0])
        if header is not None and header[1] == cursor[1]:
            return cursor, 0
        with self.database.session() as session:
            recorded = _store.recorded_blocks(
                session, self.deployment_id, cursor[0], _MAX_REORG_SCAN
            )
        ancestor: tuple[int, str, int] | None = None
        for number, stored_hash in recorded:
            found = self._header(number)
            if found is not None and found[1] == stored_hash:
                ancestor = found
                break
        if ancestor is None:  # nothing recorded survives: start again from the deployment
            ancestor = self._header(max(self.deployment.block - 1, 0))
            if ancestor is None:
                raise ChainMovedError("sync: the deployment's block is gone from the chain")
        self._rollback(ancestor)
        log.warning("sync: reorg: blocks after %d replaced; rolled back to it", ancestor[0])
        return ancestor, 1

    def _rollback(self, ancestor: tuple[int, str, int]) -> None:
        with self.database.session() as session:
            _store.lock_cursor(session, self.deployment_id)
            touched = _store.rollback_after(session, self.deployment_id, ancestor[0])
            _store.rebuild(session, self.deployment_id, touched)
            _store.set_cursor(session, self.deployment_id, *ancestor)
            session.commit()

    def _advanced(self, block: int) -> None:
        with self._progress:
            self._indexed_block = max(self._indexed_block, block)
            self._progress.notify_all()

    # ---- one range -------------------------------------------------------------------------------
    def _read_range(self, cursor: tuple[int, str, int], end: int) -> _Range:
        """Everything a range needs from the chain and the store (no database transaction held).

        The cursor's block is looked at again once the range is read: had it been replaced
        meanwhile, the range would sit on another chain than the blocks indexed before it.
        """
        start = cursor[0] + 1
        header = self._header(end)
        if header is None:
            raise ChainMovedError(f"sync: block {end} vanished while indexing")
        chunk = _Range(start=start, end=end, end_hash=header[1], end_timestamp=header[2])
        logs = self.backend.w3.eth.get_logs(
            {"fromBlock": start, "toBlock": end, "address": self.decoder.watched}  # type: ignore[typeddict-item]
        )
        decoded = [e for e in (self._decode(raw) for raw in logs) if e is not None]
        decoded.sort(key=lambda e: (e.block, e.log_index))
        chunk.blocks = self._blocks({e.block: e.block_hash for e in decoded})
        if end in chunk.blocks and chunk.blocks[end][0] != chunk.end_hash:
            raise ChainMovedError(f"sync: block {end} changed while indexing")
        chunk.events = [self._row(e) for e in decoded]
        chunk.documents = self._new_documents(chunk.events)
        below = self._header(cursor[0])
        if below is None or below[1] != cursor[1]:
            raise ChainMovedError(f"sync: block {cursor[0]} was replaced while indexing")
        return chunk

    def _decode(self, raw: Any) -> DecodedEvent | None:
        try:
            return self.decoder.decode(raw)
        except UndecodableLogError as exc:
            log.warning("sync: skipped a log of block %s: %s", raw.get("blockNumber"), exc)
            return None

    def _blocks(self, hashes: dict[int, str]) -> dict[int, tuple[str, int]]:
        """Hash and time of each block with events, checked against the logs' block hashes."""
        blocks: dict[int, tuple[str, int]] = {}
        headers = self._headers(sorted(hashes))
        for number, log_hash in sorted(hashes.items()):
            header = headers.get(number)
            if header is None or header[1] != log_hash:
                raise ChainMovedError(f"sync: block {number} changed while indexing")
            blocks[number] = (header[1], header[2])
        return blocks

    def _row(self, event: DecodedEvent) -> EventRow:
        task_id, item_id, account = _entities(event)
        extra = None
        if event.contract == "fed_task" and event.name == "TaskCreated" and task_id is not None:
            extra = self._task_terms(task_id)
        return EventRow(
            contract=event.contract,
            name=event.name,
            block=event.block,
            log_index=event.log_index,
            tx_hash=event.tx_hash,
            block_hash=event.block_hash,
            task_id=task_id,
            item_id=item_id,
            account=account,
            args=event.args,
            extra=extra,
        )

    def _task_terms(self, task_id: int) -> dict[str, Any]:
        """A task's immutable terms that ``TaskCreated`` does not carry (read once, at latest)."""
        try:
            info = self.fed_task.task(task_id)
            schedule = self.fed_task.schedule(task_id)
        except ChainError as exc:  # the task is gone: the chain was reorganised under us
            raise ChainMovedError(f"sync: task {task_id} cannot be read: {exc}") from None
        return {
            "quorum": info.quorum,
            "slash_bps": info.slash_bps,
            "permissioned": info.permissioned,
            "participant_stake": int(info.participant_stake),
            "coordinator_stake": int(info.coordinator_stake),
            "schedule": {k: int(v) for k, v in vars(schedule).items()},
        }

    def _new_documents(self, events: Sequence[EventRow]) -> list[DocumentRecord]:
        """The documents named by ``events`` that are not recorded yet, fetched from the store."""
        wanted: dict[str, set[str]] = {METADATA: set(), EVIDENCE: set()}
        for e in events:  # as stored (escaped where unstorable): the key the projections use
            if e.name == "DatasetListed":
                wanted[METADATA].add(_store.storable(str(e.args["metadataCid"])))
            elif e.name == "RoundFinalized":
                wanted[EVIDENCE].add(_store.storable(str(e.args["evidenceCid"])))
        fetched: list[DocumentRecord] = []
        with self.database.session() as session:
            known = {
                kind: set(_store.documents(session, kind, cids)) for kind, cids in wanted.items()
            }
        for kind, cids in wanted.items():
            fresh = sorted(cids - known[kind])
            fetched += [self._fetch(c, kind) for c in fresh if _store.document_key(c)]
        return fetched

    def _fetch(self, cid: str, kind: str) -> DocumentRecord:
        if kind == METADATA:
            return fetch_metadata(self.store, cid)
        return fetch_evidence(self.store, cid)

    def _write_range(self, chunk: _Range, cursor: tuple[int, str, int]) -> int:
        """Store one range in one transaction; return the events added."""
        with self.database.session() as session:
            current = _store.lock_cursor(session, self.deployment_id)
            if current is None or (current.block, current.block_hash) != cursor[:2]:
                raise IndexBusyError(
                    f"sync: the cursor moved to {current.block if current else None} meanwhile"
                )
            _store.add_blocks(session, self.deployment_id, chunk.blocks)
            self._court_tasks(session, chunk.events)
            added = _store.add_events(session, self.deployment_id, chunk.events)
            _store.save_documents(session, chunk.documents)
            touched = Touched()
            for e in chunk.events:
                touched.add(e.contract, e.task_id, e.item_id)
            _store.rebuild(session, self.deployment_id, touched)
            _store.set_cursor(
                session, self.deployment_id, chunk.end, chunk.end_hash, chunk.end_timestamp
            )
            if self.crash_hook is not None:
                self.crash_hook(len(added))
            session.commit()
        return len(added)

    def _court_tasks(self, session: Session, events: list[EventRow]) -> None:
        """File the court's events that name only a challenge under that challenge's task."""
        opened = {e.item_id: e.task_id for e in events if e.name == "ChallengeOpened"}
        wanted = [
            e.item_id
            for e in events
            if e.contract == "court" and e.task_id is None and e.item_id is not None
        ]
        known = _store.challenge_tasks(
            session, self.deployment_id, (c for c in wanted if c not in opened)
        )
        known.update({k: v for k, v in opened.items() if k is not None and v is not None})
        for i, e in enumerate(events):
            if e.contract == "court" and e.task_id is None and e.item_id in known:
                events[i] = replace(e, task_id=known[e.item_id])


def retry_transient(action: Callable[[], SyncReport], attempts: int = 3) -> SyncReport:
    """Run ``action`` again when the chain moved under it or another indexer wrote first.

    Parameters
    ----------
    action : callable
        Usually ``indexer.sync``.
    attempts : int, default 3
        Tries in all.
    """
    for attempt in range(1, attempts + 1):
        try:
            return action()
        except (ChainMovedError, IndexBusyError, DBAPIError) as exc:
            if attempt == attempts:
                raise
            log.info("sync: attempt %d failed (%s); again", attempt, exc)
            time.sleep(0.05 * attempt)
    raise ChainMovedError("sync: no attempt made")


__all__ = [
    "Indexer",
    "IndexerOptions",
    "SyncReport",
    "retry_transient",
]
