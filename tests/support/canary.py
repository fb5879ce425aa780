"""Canary rows: plant distinctive values in a participant's data, then look for them in every byte.

A canary cell holds a value no computation produces by chance (``1234.56789`` plus a random
offset with all its digits); a canary id is ``CANARY-<hex>``. :func:`plant_rows` adds such rows
to a feature matrix and keeps their values; a few of the participant's real rows are kept too
(*raw records*). :func:`scan` searches captured bytes for each of them:

- a canary value as little-endian float64 and float32 (at every byte offset), and as decimal text
  at any precision of at least five significant digits that rounds to it (``repr``, ``%.6g``,
  ``%.4f``, numpy's ``str`` of a float32 ...): every number in the bytes is parsed and compared;
- a raw record as its float32 and float64 row bytes, and as the text of its values (whole row and
  its first four) joined by ``,``, ``, ``, space or tab, each value in ``repr``, ``%.6g`` or
  ``%.4f``;
- a canary id as UTF-8 and as its SHA-256 (raw and hex);
- any further byte patterns a mode adds (:attr:`Canaries.extra`: fixed-point words, ...).

The capture helpers turn each channel into :class:`Blob` objects: the files of a content store,
the calldata, topics and data of every transaction and log on an in-process chain, any records
(mailbox envelopes, messages) flattened to their leaves, and log records.
"""

from __future__ import annotations

import dataclasses
import decimal
import hashlib
import logging
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from chain import ChainBackend

CANARY_BASE = 1234.56789
"""Where canary values start; each adds a random offset below :data:`CANARY_SPREAD`."""

CANARY_SPREAD = 100.0
"""Width of the range canary values are drawn from."""

MIN_DIGITS = 5
"""Significant digits a number in text needs before it counts as a canary (``1234.6`` does)."""

_NUMBER = re.compile(rb"-?[0-9]+\.[0-9]+(?:[eE][-+]?[0-9]+)?")
_RECORD_FORMATS = (repr, "%.6g".__mod__, "%.4f".__mod__)
_SEPARATORS = (",", ", ", " ", "\t")


@dataclass(frozen=True)
class Needle:
    """A byte pattern to look for, and what it stands for."""

    what: str
    pattern: bytes


@dataclass(frozen=True)
class Canaries:
    """What a participant must never let out.

    Attributes
    ----------
    values : ndarray of float64
        Every canary cell's value exactly as the participant holds it.
    records : tuple of tuple of float
        A few of the participant's real rows, as it holds them.
    ids : tuple of str
        Canary row ids (vertical and transfer learning).
    extra : tuple of Needle
        Further exact patterns (a mode's own encodings of the canaries).
    """

    values: npt.NDArray[np.float64]
    records: tuple[tuple[float, ...], ...] = ()
    ids: tuple[str, ...] = ()
    extra: tuple[Needle, ...] = ()

    def __add__(self, other: Canaries) -> Canaries:
        return Canaries(
            np.concatenate([self.values, other.values]),
            self.records + other.records,
            self.ids + other.ids,
            self.extra + other.extra,
        )


@dataclass(frozen=True)
class Blob:
    """Bytes that left a participant: the channel, where in it, and the bytes."""

    channel: str
    where: str
    data: bytes


@dataclass(frozen=True)
class Hit:
    """A canary or raw record found in a blob."""

    what: str
    channel: str
    where: str
    offset: int


def canary_values(rng: np.random.Generator, shape: tuple[int, ...]) -> npt.NDArray[np.float64]:
    """Distinct canary values of ``shape`` (float64, ``CANARY_BASE`` plus a random offset)."""
    return CANARY_BASE + rng.uniform(0.0, CANARY_SPREAD, size=shape)


def plant_rows(
    x: npt.NDArray[Any], rng: np.random.Generator, rows: int = 2, keep: int = 2
) -> tuple[npt.NDArray[Any], Canaries]:
    """Return ``x`` with ``rows`` canary rows appended, and the canaries to look for.

    The canary rows are cast to ``x``'s dtype, and :attr:`Canaries.values` are the cast values
    (what the participant holds); ``keep`` real rows (spread over ``x``) are the raw records.
    """
    planted = canary_values(rng, (rows, *x.shape[1:])).astype(x.dtype)
    real = x[np.linspace(0, len(x) - 1, keep).astype(int)] if keep else x[:0]
    canaries = Canaries(
        values=planted.astype(np.float64).ravel(),
        records=tuple(tuple(float(v) for v in row.ravel()) for row in real),
    )
    return np.concatenate([x, planted]), canaries


def canary_id(rng: np.random.Generator) -> str:
    """A canary row id: ``CANARY-`` and 16 random hex digits."""
    return "CANARY-" + bytes(rng.integers(0, 256, 8, dtype=np.uint8)).hex()


def needles(canaries: Canaries) -> list[Needle]:
    """The exact patterns of the raw records, the ids and the extras (values are matched apart)."""
    out: list[Needle] = list(canaries.extra)
    for i, record in enumerate(canaries.records):
        row = np.asarray(record, dtype=np.float64)
        out += [
            Needle(f"record {i} as float64", row.astype("<f8").tobytes()),
            Needle(f"record {i} as float32", row.astype("<f4").tobytes()),
        ]
        for values in {record, record[:4]}:
            for fmt in _RECORD_FORMATS:
                for sep in _SEPARATORS:
                    text = sep.join(fmt(v) for v in values)
                    out.append(Needle(f"record {i} as text {text[:40]!r}", text.encode()))
    for canary in canaries.ids:
        digest = hashlib.sha256(canary.encode()).digest()
        out += [
            Needle(f"id {canary}", canary.encode()),
            Needle(f"id {canary} sha256", digest),
            Needle(f"id {canary} sha256 hex", digest.hex().encode()),
        ]
    return out


def scan(blobs: Iterable[Blob], canaries: Canaries) -> list[Hit]:
    """Every canary value, raw record and id found in ``blobs`` (empty when none leaked)."""
    exact = needles(canaries)
    values = np.unique(canaries.values)
    hits: list[Hit] = []
    for blob in blobs:
        hits += _binary_hits(blob, values)
        hits += _text_hits(blob, values)
        for needle in exact:
            at = blob.data.find(needle.pattern)
            if at >= 0:
                hits.append(Hit(needle.what, blob.channel, blob.where, at))
    return hits


def _binary_hits(blob: Blob, values: npt.NDArray[np.float64]) -> list[Hit]:
    """Canary values as little-endian float64 or float32 at any byte offset of ``blob``."""
    hits = []
    raw = blob.data
    for dtype, width in (("<f8", 8), ("<f4", 4)):
        wanted = values.astype(dtype).view(f"<u{width}")
        for start in range(min(width, len(raw))):
            usable = (len(raw) - start) // width * width
            words = np.frombuffer(raw, dtype=f"<u{width}", count=usable // width, offset=start)
            for index in np.flatnonzero(np.isin(words, wanted)):
                value = float(words[index : index + 1].view(dtype)[0])
                at = start + int(index) * width
                hits.append(Hit(f"canary {value!r} as {dtype}", blob.channel, blob.where, at))
    return hits


def _text_hits(blob: Blob, values: npt.NDArray[np.float64]) -> list[Hit]:
    """Decimal numbers in ``blob`` that round a canary value at their own precision."""
    hits = []
    for match in _NUMBER.finditer(blob.data):
        token = match.group().decode()
        number = decimal.Decimal(token)
        exponent = number.as_tuple().exponent
        assert isinstance(exponent, int)
        if len(number.as_tuple().digits) < MIN_DIGITS:
            continue
        half_step = 0.5 * 10.0**exponent * (1 + 1e-9)
        at = int(np.searchsorted(values, float(number)))
        near = values[max(0, at - 1) : at + 1]  # the canaries just below and above
        if near.size and float(np.abs(near - float(number)).min()) <= half_step:
            hits.append(Hit(f"canary as text {token}", blob.channel, blob.where, match.start()))
    return hits


def store_blobs(root: Path, channel: str = "store") -> list[Blob]:
    """Every file under a content store's folder."""
    return [
        Blob(channel, str(path.relative_to(root)), path.read_bytes())
        for path in sorted(root.rglob("*"))
        if path.is_file()
    ]


def chain_blobs(backend: ChainBackend, first: int = 0) -> list[Blob]:
    """Calldata of every transaction and topics and data of every log, block by block.

    ``first`` skips the blocks before it (a shared dev node's earlier tests).
    """
    eth = backend.w3.eth
    head, _ = backend.head()
    out = []
    for number in range(first, head + 1):
        block = eth.get_block(number, full_transactions=True)
        transactions: list[Any] = list(block["transactions"])  # full: dicts, not hashes
        for tx in transactions:
            where = f"block {number} tx {bytes(tx['hash']).hex()}"
            calldata = tx["input"] if "input" in tx else tx["data"]  # eth-tester says "data"
            out.append(Blob("chain calldata", where, bytes(calldata)))
            for i, entry in enumerate(eth.get_transaction_receipt(tx["hash"])["logs"]):
                topics = b"".join(bytes(t) for t in entry["topics"])
                out.append(Blob("chain log", f"{where} log {i}", topics + bytes(entry["data"])))
    return out


def record_blobs(channel: str, records: Iterable[object]) -> list[Blob]:
    """Records (dataclasses, tuples, dicts, arrays) flattened to the bytes of their leaves."""
    return [
        Blob(channel, f"{type(r).__name__} {i}", b"|".join(_leaves(r)))
        for i, r in enumerate(records)
    ]


def _leaves(value: object) -> Iterator[bytes]:
    """Bytes of every leaf: bytes as they are, text in UTF-8, numbers as text, arrays raw."""
    if isinstance(value, bytes | bytearray | memoryview):
        yield bytes(value)
    elif isinstance(value, str):
        yield value.encode()
    elif isinstance(value, np.ndarray):
        yield value.tobytes()
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for item in dataclasses.fields(value):
            yield from _leaves(getattr(value, item.name))
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(key)
            yield from _leaves(item)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from _leaves(item)
    else:
        yield repr(value).encode()


def log_blobs(records: Sequence[logging.LogRecord]) -> list[Blob]:
    """Each log record's formatted message, its raw arguments and any traceback text."""
    out = []
    for record in records:
        parts = [record.getMessage(), repr(record.args), record.exc_text or ""]
        where = f"{record.name}:{record.lineno}"
        out.append(Blob("log", where, "\n".join(parts).encode()))
    return out


def describe(hits: Sequence[Hit], limit: int = 10) -> str:
    """One line per hit (at most ``limit``), for an assertion message."""
    lines = [f"{h.what} in {h.channel} ({h.where}) at byte {h.offset}" for h in hits[:limit]]
    return "\n".join(lines + ([f"... and {len(hits) - limit} more"] if len(hits) > limit else []))


__all__ = [
    "CANARY_BASE",
    "Blob",
    "Canaries",
    "Hit",
    "Needle",
    "canary_id",
    "canary_values",
    "chain_blobs",
    "describe",
    "log_blobs",
    "needles",
    "plant_rows",
    "record_blobs",
    "scan",
    "store_blobs",
]
