"""The content-store interface that every backend implements.

A store names each object by its IPFS CID (CIDv1), so the same bytes get the same name in the
embedded store on local disk and in an IPFS node. On-chain anchors are keccak-256 of the exact bytes
stored (:func:`content_hash`), so anyone holding the bytes can check them against the chain.
"""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from itertools import accumulate
from typing import Any

from eth_utils.crypto import keccak

from kernel.alerts import raise_alert
from kernel.errors import InvalidInputError
from kernel.types import Cid, Hash32
from storage._cid import cid_of, parse_cid
from storage.errors import (
    ContentIntegrityError,
    ContentTooLargeError,
    InvalidCidError,
)

DEFAULT_MAX_BYTES = 256 * 1024 * 1024
"""Largest object a store hands back unless asked for more: a guard against memory bombs."""


MAX_JSON_DEPTH = 128
"""Deepest nesting of arrays and objects that :meth:`ContentStore.get_json` parses."""

_JSON_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+(?:"|\\?\Z)', re.DOTALL)
"""A JSON string, or an unterminated one running to the end: every quote starts a match, and the
possessive quantifiers never backtrack, so removing all strings is one linear pass."""
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")  # as signed bytes: +1 in, -1 out


def json_too_deep(data: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether arrays and objects nest more than ``limit`` deep in the JSON text ``data``.

    Counts brackets outside strings without parsing, in linear time and without a Python-level
    loop over the bytes; a text with at most ``limit`` opening brackets is not scanned at all.

    Parameters
    ----------
    data : bytes
        UTF-8 JSON text (need not be valid: malformed text is for the parser to refuse).
    limit : int, default MAX_JSON_DEPTH
        The deepest nesting allowed.
    """
    if data.count(b"[") + data.count(b"{") <= limit:
        return False
    steps = _JSON_STRING.sub(b"", data).translate(_STEPS, _NOT_BRACKETS)
    return bool(steps) and max(accumulate(memoryview(steps).cast("b"))) > limit


def compute_cid(data: bytes) -> Cid:
    """The CID of ``data`` as an IPFS node would compute it (raw leaves, CIDv1).

    Parameters
    ----------
    data : bytes
        The object's bytes.
    """
    return Cid(cid_of(data))


def validate_cid(text: str) -> Cid:
    """Return ``text`` as a :data:`Cid` after checking its structure.

    Parameters
    ----------
    text : str
        The string to check.

    Raises
    ------
    InvalidCidError
        When ``text`` is not a base32 CIDv1 with a sha2-256 multihash.
    """
    try:
        parse_cid(text)
    except ValueError as exc:
        raise InvalidCidError(str(exc)) from exc
    return Cid(text)


def content_hash(data: bytes) -> Hash32:
    """Keccak-256 of ``data``: the hash anchored on-chain for stored objects.

    Parameters
    ----------
    data : bytes
        The object's bytes.
    """
    return Hash32(keccak(data))


def canonical_json(obj: Any) -> bytes:
    """Deterministic JSON bytes: sorted keys, no spaces, UTF-8, no NaN.

    Two parties that serialise the same object get the same bytes, hence the same CID and hash.

    Parameters
    ----------
    obj : Any
        A JSON-serialisable value (dicts, lists, strings, numbers, booleans, ``None``).

    Raises
    ------
    InvalidInputError
        ``obj`` holds NaN or an infinity, or a value JSON cannot represent.
    """
    try:
        text = json.dumps(
            obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
    except (ValueError, TypeError) as exc:
        raise InvalidInputError(f"canonical_json: {exc}") from exc
    return text.encode("utf-8")


class ContentStore(ABC):
    """A content-addressed object store keyed by IPFS CIDs.

    Implemented by :class:`~storage.local.LocalCidStore` (the embedded default, a folder on
    local disk) and :class:`~storage.ipfs.IpfsStore` (an IPFS daemon through its RPC API). Both
    name the same bytes with the same CID.

    Pinning marks the objects that must be kept: :meth:`put` alone does not pin, and a store
    that collects garbage (an IPFS daemon with GC enabled) may drop unpinned objects. Code that
    publishes a task or a listing pins every CID it references.
    """

    name: str = "abstract"

    @abstractmethod
    def put(self, data: bytes) -> Cid:
        """Store ``data`` and return its CID. Storing the same bytes twice is a no-op.

        Parameters
        ----------
        data : bytes
            The object's bytes.
        """

    @abstractmethod
    def _read(self, cid: Cid, max_bytes: int) -> bytes:
        """Return the bytes stored under ``cid`` unchecked; raise ContentNotFoundError if absent.

        Raise ContentTooLargeError, before reading it whole, if it is larger than ``max_bytes``.
        """

    @abstractmethod
    def has(self, cid: Cid) -> bool:
        """Whether an object is stored under ``cid``.

        Parameters
        ----------
        cid : Cid
            A validated CID.
        """

    @abstractmethod
    def _pin(self, cid: Cid) -> None:
        """Pin ``cid``; raise ContentNotFoundError if it is not stored here."""

    @abstractmethod
    def _unpin(self, cid: Cid) -> bool:
        """Unpin ``cid``; return whether it was pinned."""

    @abstractmethod
    def pinned(self) -> frozenset[Cid]:
        """The CIDs pinned in this store."""

    def pin(self, cid: str) -> Cid:
        """Pin the object stored under ``cid`` so that it is kept; pinning twice is a no-op.

        Parameters
        ----------
        cid : str
            The object's CID. For an object of several blocks, every block is pinned.

        Raises
        ------
        InvalidCidError, ContentNotFoundError
        """
        valid = validate_cid(cid)
        self._pin(valid)
        return valid

    def unpin(self, cid: str) -> bool:
        """Unpin ``cid``; the object stays until a garbage collection removes it.

        Parameters
        ----------
        cid : str
            The object's CID.

        Returns
        -------
        bool
            Whether it was pinned (unpinning an unpinned CID is a no-op).

        Raises
        ------
        InvalidCidError
        """
        return self._unpin(validate_cid(cid))

    def get(self, cid: str, *, verify: bool = True, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
        """Return the bytes stored under ``cid``.

        Parameters
        ----------
        cid : str
            The object's CID.
        verify : bool, default True
            Recompute the CID of the bytes read and raise if it differs. Callers that check the
            bytes against an on-chain hash first may pass ``False`` and verify afterwards.
        max_bytes : int, default DEFAULT_MAX_BYTES
            Refuse objects larger than this.

        Raises
        ------
        InvalidCidError, ContentNotFoundError, ContentIntegrityError
            ``ContentTooLargeError`` (a ``ContentIntegrityError``) when the object is larger than
            ``max_bytes``; it is refused before being read whole.
        """
        valid = validate_cid(cid)
        data = self._read(valid, max_bytes)
        if len(data) > max_bytes:
            raise ContentTooLargeError(f"get: {cid} is larger than {max_bytes} bytes")
        if verify:
            self.verify(valid, data)
        return data

    @staticmethod
    def verify(cid: Cid, data: bytes) -> None:
        """Raise :class:`ContentIntegrityError` unless ``data`` hashes to ``cid``.

        Parameters
        ----------
        cid : Cid
            The CID the bytes were asked for by.
        data : bytes
            The bytes received.
        """
        actual = cid_of(data)
        if actual != cid:
            detail = f"verify: content of {cid} hashes to {actual}"
            raise_alert("integrity_failure", detail, source=__name__)
            raise ContentIntegrityError(detail)

    def put_json(self, obj: Any) -> Cid:
        """Store ``obj`` as canonical JSON (see :func:`canonical_json`).

        Parameters
        ----------
        obj : Any
            A JSON-serialisable value.
        """
        return self.put(canonical_json(obj))

    def get_json(self, cid: str, *, max_bytes: int = 16 * 1024 * 1024) -> Any:
        """Fetch, verify and parse a JSON object stored with :meth:`put_json`.

        Parameters
        ----------
        cid : str
            The object's CID.
        max_bytes : int, default 16 MiB
            Refuse objects larger than this.

        Raises
        ------
        InvalidCidError, ContentNotFoundError
        ContentIntegrityError
            The bytes do not hash to ``cid``, exceed ``max_bytes``, are not JSON, or nest deeper
            than :data:`MAX_JSON_DEPTH` (refused before parsing: a deep document could exhaust
            the C stack where another library raised Python's recursion limit, as py_ecc does).
        """
        data = self.get(cid, max_bytes=max_bytes)
        if json_too_deep(data):
            raise ContentIntegrityError(f"get_json: {cid} nests deeper than {MAX_JSON_DEPTH}")
        try:
            return json.loads(data)
        except ValueError as exc:
            raise ContentIntegrityError(f"get_json: {cid} is not JSON: {exc}") from exc


class WrappingStore(ContentStore):
    """A store that wraps another (logging, sealing): pins and presence are the inner store's.

    Subclasses set :attr:`inner` and implement :meth:`put` and :meth:`_read`.
    """

    inner: ContentStore

    def has(self, cid: Cid) -> bool:
        """Whether the inner store holds ``cid``."""
        return self.inner.has(cid)

    def _pin(self, cid: Cid) -> None:
        self.inner._pin(cid)

    def _unpin(self, cid: Cid) -> bool:
        return self.inner._unpin(cid)

    def pinned(self) -> frozenset[Cid]:
        """The inner store's pins."""
        return self.inner.pinned()
