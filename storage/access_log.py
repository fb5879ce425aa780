"""An append-only, hash-chained log of who read or wrote which artifact, and why.

Each access is one JSON line: ``seq``, ``time`` (Unix seconds), ``actor``, ``action``, ``cid``,
``purpose``, ``prev`` (the previous entry's hash) and ``hash``, the sha-256 of the canonical
JSON (:func:`storage.base.canonical_json`) of every other field. The log is a folder of monthly
segments, ``YYYY-MM.jsonl`` (UTC); when an entry falls in a new month the open segment is closed
by a ``checkpoint`` entry, itself chained. :class:`LoggedStore` wraps any
:class:`~storage.base.ContentStore` so that every ``get`` and ``put`` is logged with its actor
and purpose before the bytes are handed over.

What :meth:`AccessLog.verify` detects
    Any edit, deletion, insertion or reordering of entries, and a forged or missing segment
    boundary: each is a broken link (``seq``, ``prev`` or ``hash``). Deleting (truncating) the
    newest entries leaves a shorter chain that is valid on its own: it is detected only against
    an anchored head (``verify(anchored=...)``), which is why the head is anchored on-chain
    periodically (``fl_node.compliance``; this package does not import the chain). Entries after
    the last anchored head can be truncated undetected.

Retention
    Segments closed more than ``retention_days`` ago (183 days, six months, by default) may be
    removed by :meth:`AccessLog.prune`. The chain stays verifiable from the oldest kept segment:
    ``base.json`` keeps the sequence number and hash of the last pruned entry (that segment's
    checkpoint), and the first kept entry must link to it. Anchored heads older than the base
    can no longer be checked.

One process writes a log at a time (appends are serialised by a lock within the process).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kernel.alerts import raise_alert
from kernel.types import Cid
from storage.base import DEFAULT_MAX_BYTES, ContentStore, WrappingStore, canonical_json
from storage.errors import AccessLogEntryError, AccessLogTamperedError

log = logging.getLogger(__name__)

GENESIS = "0" * 64
"""``prev`` of the very first entry."""
DEFAULT_RETENTION_DAYS = 183.0
"""Six months: how long closed segments are kept by default."""
CHECKPOINT = "checkpoint"
"""The action of the entry that closes a segment."""
LOG_ACTOR = "access-log"
"""The actor of checkpoint entries."""
BASE_FILE = "base.json"
_SEGMENT = re.compile(r"^\d{4}-\d{2}\.jsonl$")
_FIELDS = ("seq", "time", "actor", "action", "cid", "purpose", "prev", "hash")


def entry_hash(body: dict[str, Any]) -> str:
    """Hex sha-256 of the canonical JSON of an entry's fields other than ``hash``.

    Parameters
    ----------
    body : dict
        ``seq``, ``time``, ``actor``, ``action``, ``cid``, ``purpose`` and ``prev``.
    """
    return hashlib.sha256(canonical_json(body)).hexdigest()


@dataclass(frozen=True)
class AccessEntry:
    """One logged access.

    Attributes
    ----------
    seq : int
        Position in the whole log, from 0.
    time : float
        When (Unix seconds).
    actor : str
        Who (an address, a service name).
    action : str
        What: ``get``, ``put``, ``checkpoint``...
    cid : str
        Which artifact (empty for checkpoints).
    purpose : str
        Why.
    prev : str
        Hex hash of the previous entry (:data:`GENESIS` for the first).
    hash : str
        Hex sha-256 over the other fields (:func:`entry_hash`).
    """

    seq: int
    time: float
    actor: str
    action: str
    cid: str
    purpose: str
    prev: str
    hash: str

    def body(self) -> dict[str, Any]:
        """Every field but ``hash``: what the hash covers."""
        data = asdict(self)
        del data["hash"]
        return data

    def to_line(self) -> str:
        """The entry as one canonical JSON line (no newline)."""
        return canonical_json(asdict(self)).decode("utf-8")

    @classmethod
    def from_line(cls, line: str) -> AccessEntry:
        """Parse one line of a segment.

        Raises
        ------
        AccessLogEntryError
            The line is not an entry (not JSON, fields missing, extra or of the wrong type).
        """
        try:
            data = json.loads(line)
        except ValueError:
            raise AccessLogEntryError("not JSON") from None
        if not isinstance(data, dict) or tuple(sorted(data)) != tuple(sorted(_FIELDS)):
            raise AccessLogEntryError("not an access-log entry (fields differ)")
        texts = ("actor", "action", "cid", "purpose", "prev", "hash")
        if type(data["seq"]) is not int or not isinstance(data["time"], int | float):
            raise AccessLogEntryError("seq or time has the wrong type")
        if not all(isinstance(data[k], str) for k in texts):
            raise AccessLogEntryError("a text field has the wrong type")
        return cls(**data)


@dataclass(frozen=True)
class LogHead:
    """The newest entry's position and hash: what is anchored on-chain.

    Attributes
    ----------
    seq : int
        Its sequence number.
    hash : str
        Its hex hash.
    """

    seq: int
    hash: str

    @property
    def root(self) -> bytes:
        """The 32 bytes to anchor."""
        return bytes.fromhex(self.hash)


@dataclass(frozen=True)
class LogProblem:
    """One place where the chain is broken.

    Attributes
    ----------
    segment : str
        The segment file (or ``base.json``).
    line : int
        The line, from 1 (0 when the problem is not one line).
    reason : str
        What is wrong.
    """

    segment: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.segment}:{self.line}: {self.reason}"


@dataclass(frozen=True)
class LogVerification:
    """What :meth:`AccessLog.verify` found.

    Attributes
    ----------
    entries : int
        Entries read in the kept segments.
    head : LogHead or None
        The newest entry as stored (None for an empty log).
    problems : tuple of LogProblem
        Every broken link; empty when the log verifies.
    segments : tuple of str
        The segments read, oldest first.
    base_seq : int
        The first kept entry's expected sequence number (after pruning, > 0).
    anchored_checked : bool
        Whether an anchored head was given and lay within the kept entries.
    note : str
        What this verification cannot see (the unanchored tail's truncation).
    """

    entries: int
    head: LogHead | None
    problems: tuple[LogProblem, ...]
    segments: tuple[str, ...]
    base_seq: int = 0
    anchored_checked: bool = False
    note: str = ""

    @property
    def ok(self) -> bool:
        """Whether no link is broken."""
        return not self.problems

    def check(self) -> None:
        """Raise :class:`AccessLogTamperedError` naming the first problem unless :attr:`ok`."""
        if self.problems:
            more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
            raise AccessLogTamperedError(f"access log: {self.problems[0]}{more}")


@dataclass
class _Walk:
    """The verifier's running state."""

    seq: int
    prev: str
    entries: int = 0
    head: LogHead | None = None
    found: dict[int, str] = field(default_factory=dict)
    problems: list[LogProblem] = field(default_factory=list)


def _month(t: float) -> str:
    return datetime.fromtimestamp(t, tz=UTC).strftime("%Y-%m")


class AccessLog:
    """An append-only, hash-chained access log kept in a folder of monthly segments.

    Parameters
    ----------
    root : str or Path
        The folder (created if missing).
    retention_days : float, default DEFAULT_RETENTION_DAYS
        How long closed segments are kept (:meth:`prune`).
    clock : callable, default time.time
        The time source (Unix seconds); tests pass a fake one.
    durable : bool, default True
        ``fsync`` each appended line.
    """

    def __init__(
        self,
        root: str | Path,
        *,
        retention_days: float = DEFAULT_RETENTION_DAYS,
        clock: Callable[[], float] = time.time,
        durable: bool = True,
    ) -> None:
        if retention_days <= 0:
            raise AccessLogEntryError(f"retention_days must be positive, not {retention_days}")
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.retention_days = retention_days
        self._clock = clock
        self._durable = durable
        self._lock = threading.Lock()
        self._last: AccessEntry | None = None
        self._loaded = False

    def segments(self) -> list[Path]:
        """The segment files, oldest first."""
        return sorted(p for p in self.root.iterdir() if _SEGMENT.match(p.name))

    def base(self) -> LogHead | None:
        """The last pruned entry (what the first kept entry links to), or None."""
        path = self.root / BASE_FILE
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return LogHead(seq=int(data["seq"]), hash=str(data["hash"]))
        except (ValueError, TypeError, KeyError):
            raise AccessLogTamperedError(f"access log: {BASE_FILE} is malformed") from None

    def _tail(self) -> AccessEntry | None:
        """The newest entry as stored (read once, then tracked in memory)."""
        if not self._loaded:
            segments = self.segments()
            lines = segments[-1].read_text(encoding="utf-8").splitlines() if segments else []
            self._last = AccessEntry.from_line(lines[-1]) if lines else None
            self._loaded = True
        return self._last

    def head(self) -> LogHead | None:
        """The newest entry's position and hash (None when the log is empty)."""
        with self._lock:
            last = self._tail()
        return None if last is None else LogHead(last.seq, last.hash)

    def append(self, actor: str, action: str, cid: str, purpose: str) -> AccessEntry:
        """Log one access; close the open segment first when a new month has begun.

        Parameters
        ----------
        actor : str
            Who.
        action : str
            What (``get``, ``put``...; ``checkpoint`` is reserved).
        cid : str
            Which artifact.
        purpose : str
            Why.

        Raises
        ------
        AccessLogEntryError
            ``actor`` or ``action`` is empty, or ``action`` is ``checkpoint``.
        """
        if not actor or not action or action == CHECKPOINT:
            raise AccessLogEntryError(f"append: actor and action needed ({actor!r}, {action!r})")
        with self._lock:
            now = self._clock()
            last = self._tail()
            segments = self.segments()
            if last is not None and segments and segments[-1].stem != _month(now):
                closing = f"close {segments[-1].stem}"
                last = self._write(segments[-1], last, LOG_ACTOR, CHECKPOINT, "", closing, now)
            return self._write(self.root / f"{_month(now)}.jsonl", last, actor, action, cid,
                               purpose, now)  # fmt: skip

    def _write(
        self, path: Path, last: AccessEntry | None, *fields: Any
    ) -> AccessEntry:  # fields: actor, action, cid, purpose, time
        actor, action, cid, purpose, now = fields
        if last is None:
            base = self.base()
            seq, prev = (0, GENESIS) if base is None else (base.seq + 1, base.hash)
        else:
            seq, prev = last.seq + 1, last.hash
        body = {"seq": seq, "time": now, "actor": actor, "action": action, "cid": cid,
                "purpose": purpose, "prev": prev}  # fmt: skip
        entry = AccessEntry(**body, hash=entry_hash(body))
        with path.open("a", encoding="utf-8") as fh:
            fh.write(entry.to_line() + "\n")
            fh.flush()
            if self._durable:
                os.fsync(fh.fileno())
        self._last = entry
        return entry

    def entries(self) -> Iterator[AccessEntry]:
        """Every kept entry, oldest first, as stored (unverified; see :meth:`verify`)."""
        for path in self.segments():
            for line in path.read_text(encoding="utf-8").splitlines():
                yield AccessEntry.from_line(line)

    def verify(self, anchored: LogHead | None = None, *, alert: bool = True) -> LogVerification:
        """Walk the chain from the base and report every broken link.

        Parameters
        ----------
        anchored : LogHead or None, default None
            A head anchored earlier (checked on-chain by the caller): the entry at its
            ``seq`` must exist and carry its hash, which detects truncation up to it.
        alert : bool, default True
            Fire a ``tampered_log`` breach alert (:mod:`kernel.alerts`) when a link is broken.
        """
        try:
            base, broken = self.base(), ""
        except AccessLogTamperedError as exc:
            base, broken = None, str(exc)
        walk = _Walk(seq=0, prev=GENESIS) if base is None else _Walk(base.seq + 1, base.hash)
        if broken:
            walk.problems.append(LogProblem(BASE_FILE, 0, broken))
        base_seq = walk.seq
        segments = self.segments()
        for index, path in enumerate(segments):
            _walk_segment(path, walk, closed=index < len(segments) - 1)
        checked = _check_anchored(anchored, walk, base_seq)
        note = "entries after the anchored head can be truncated undetected"
        if anchored is None:
            note = "no anchored head given: truncation of the newest entries is not detectable"
        report = LogVerification(
            entries=walk.entries, head=walk.head, problems=tuple(walk.problems),
            segments=tuple(p.name for p in segments), base_seq=base_seq,
            anchored_checked=checked, note=note,
        )  # fmt: skip
        if not report.ok:
            log.error("verify: access log %s: %d problem(s)", self.root, len(report.problems))
            if alert:
                shown = "; ".join(str(p) for p in report.problems[:3])
                raise_alert("tampered_log", f"access log {self.root}: {shown}", source=__name__)
        return report

    def prunable(self, now: float | None = None) -> list[Path]:
        """The oldest closed segments whose checkpoint is older than the retention period.

        Parameters
        ----------
        now : float or None, default None
            The time to judge by (the clock when None).
        """
        cutoff = (self._clock() if now is None else now) - self.retention_days * 86_400
        found: list[Path] = []
        for path in self.segments()[:-1]:  # the newest segment is open
            lines = path.read_text(encoding="utf-8").splitlines()
            closing = AccessEntry.from_line(lines[-1]) if lines else None
            if closing is None or closing.action != CHECKPOINT or closing.time >= cutoff:
                break
            found.append(path)
        return found

    def prune(self, now: float | None = None) -> tuple[str, ...]:
        """Remove the segments past retention; record what the first kept entry links to.

        ``base.json`` is written (atomically) before any segment is removed, so a crash in
        between leaves a log that verifies once the removal is repeated.

        Parameters
        ----------
        now : float or None, default None
            The time to judge by (the clock when None).

        Returns
        -------
        tuple of str
            The segments removed.
        """
        with self._lock:
            old = self.prunable(now)
            if not old:
                return ()
            last = AccessEntry.from_line(old[-1].read_text(encoding="utf-8").splitlines()[-1])
            tmp = self.root / (BASE_FILE + ".tmp")
            tmp.write_text(json.dumps({"seq": last.seq, "hash": last.hash}) + "\n", "utf-8")
            os.replace(tmp, self.root / BASE_FILE)
            for path in old:
                path.unlink()
            log.info("prune: removed %d segment(s) up to seq %d", len(old), last.seq)
            return tuple(p.name for p in old)


def _walk_segment(path: Path, walk: _Walk, *, closed: bool) -> None:
    """Check every line of one segment against the running state; resynchronise after faults."""
    lines = path.read_text(encoding="utf-8").splitlines()
    if not lines:
        walk.problems.append(LogProblem(path.name, 0, "empty segment"))
    for number, line in enumerate(lines, start=1):
        try:
            entry = AccessEntry.from_line(line)
        except AccessLogEntryError as exc:
            walk.problems.append(LogProblem(path.name, number, str(exc)))
            continue
        for reason in _link_faults(entry, walk, last_line=number == len(lines), closed=closed):
            walk.problems.append(LogProblem(path.name, number, reason))
        walk.seq, walk.prev = entry.seq + 1, entry.hash  # resynchronise on what is stored
        walk.entries += 1
        walk.head = LogHead(entry.seq, entry.hash)
        walk.found[entry.seq] = entry.hash


def _link_faults(entry: AccessEntry, walk: _Walk, *, last_line: bool, closed: bool) -> list[str]:
    faults = []
    if entry.seq != walk.seq:
        faults.append(f"seq {entry.seq} where {walk.seq} was expected")
    if entry.prev != walk.prev:
        faults.append(f"seq {entry.seq}: prev does not link to the entry before it")
    if entry_hash(entry.body()) != entry.hash:
        faults.append(f"seq {entry.seq}: content does not match its hash")
    if entry.action == CHECKPOINT and not (last_line and closed):
        faults.append(f"seq {entry.seq}: a checkpoint inside a segment")
    if last_line and closed and entry.action != CHECKPOINT:
        faults.append(f"seq {entry.seq}: a closed segment ends without its checkpoint")
    return faults


def _check_anchored(anchored: LogHead | None, walk: _Walk, base_seq: int) -> bool:
    """Compare the anchored head with the stored entry at its seq; whether it could be."""
    if anchored is None or anchored.seq < base_seq:
        return False
    stored = walk.found.get(anchored.seq)
    if stored is None:
        walk.problems.append(
            LogProblem("(anchor)", 0, f"anchored seq {anchored.seq} is missing: truncated")
        )
    elif stored != anchored.hash:
        walk.problems.append(
            LogProblem("(anchor)", 0, f"seq {anchored.seq} differs from its anchored hash")
        )
    return True


class LoggedStore(WrappingStore):
    """A content store whose every ``get`` and ``put`` is logged before it returns.

    A read is logged after the bytes are found and before they are handed over; if the log
    cannot be written, the read fails (no unlogged access).

    Parameters
    ----------
    inner : ContentStore
        The store that holds the bytes.
    access_log : AccessLog
        Where accesses are recorded.
    actor : str
        Who is reading and writing through this wrapper.
    purpose : str
        Why (e.g. ``"task 3 round 2 training"``).
    """

    def __init__(self, inner: ContentStore, access_log: AccessLog, *, actor: str, purpose: str):
        if not actor:
            raise AccessLogEntryError("LoggedStore: an actor is needed")
        self.inner = inner
        self.access_log = access_log
        self.actor = actor
        self.purpose = purpose
        self.name = f"logged-{inner.name}"

    def as_actor(self, actor: str, purpose: str) -> LoggedStore:
        """The same store and log for another actor or purpose.

        Parameters
        ----------
        actor : str
            Who.
        purpose : str
            Why.
        """
        return LoggedStore(self.inner, self.access_log, actor=actor, purpose=purpose)

    def put(self, data: bytes) -> Cid:
        """Store ``data`` in the inner store, log the write, return its CID."""
        cid = self.inner.put(data)
        self.access_log.append(self.actor, "put", cid, self.purpose)
        return cid

    def _read(self, cid: Cid, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
        data = self.inner._read(cid, max_bytes)
        self.access_log.append(self.actor, "get", cid, self.purpose)
        return data


__all__ = [
    "CHECKPOINT",
    "DEFAULT_RETENTION_DAYS",
    "GENESIS",
    "AccessEntry",
    "AccessLog",
    "LogHead",
    "LogProblem",
    "LogVerification",
    "LoggedStore",
    "entry_hash",
]
