"""Sealed objects: any stored object encrypted at rest, its content key wrapped to named holders.

:class:`SealedStore` wraps a content store: what a party puts through it is sealed for the
holders it was given (AES-256-GCM under a fresh content key per object, that key wrapped by ECIES
to each holder's secp256k1 public key, :mod:`storage.sealing`), and what it gets through it is
opened with the party's own private key. The CID names the **sealed** bytes, so anyone checks them
against a CID without a key; a hash anchored on-chain for the plaintext (a model's) is checked
after opening. A task that seals its artifacts runs its coordinator, participants and auditor on
such a store; a reader of the content store without a granted key sees only ciphertext of known
length.

Sealed object, version 1 (integers big-endian)::

    offset  size  field
    0       4     magic b"FMSO"
    4       1     version = 1
    5       4     header length h
    9       h     header: canonical JSON {"wraps": {holder: wrapped key}}
    9 + h   ...   the envelope of the plaintext (storage.sealing, version 1)

``holder`` is the compressed public key (``0x``-hex, lower case); each wrapped key is bound to
the context :data:`KEY_CONTEXT`, and the envelope's purpose is :data:`PURPOSE_PREFIX` followed by
the object's first ``9 + h`` bytes, so the list of holders cannot be changed without the envelope
failing to open.
"""

from __future__ import annotations

import json
import logging
import struct
from collections import OrderedDict
from collections.abc import Sequence
from typing import Final

from coincurve import PublicKey

from kernel.types import Cid
from storage.base import (
    DEFAULT_MAX_BYTES,
    ContentStore,
    WrappingStore,
    content_hash,
    validate_cid,
)
from storage.errors import (
    ContentTooLargeError,
    InvalidKeyError,
    SealedDataError,
    SealedObjectLockedError,
)
from storage.sealing import new_content_key, open_sealed, public_key_of, seal, unwrap_key, wrap_key

log = logging.getLogger(__name__)

SEALED_OBJECT_MAGIC: Final = b"FMSO"
SEALED_OBJECT_VERSION: Final = 1
_PREFIX = struct.Struct(">4sBI")
MAX_HEADER_BYTES: Final = 1 << 20
"""Largest header read (thousands of holders fit)."""

PURPOSE_PREFIX: Final = b"fedmarket:sealed-object:v1:"
KEY_CONTEXT: Final = b"fedmarket:object-key:v1"

_OPENED_KEPT: Final = 1024
"""How many opened objects a store remembers the plaintext hash of (for :meth:`verify`)."""


def holder_id(public_key: bytes | str) -> str:
    """A holder's name in a header: its compressed public key, ``0x``-hex, lower case.

    Parameters
    ----------
    public_key : bytes or str
        33, 64 or 65 bytes, or their hex (with or without ``0x``).

    Raises
    ------
    InvalidKeyError
        Not a point of secp256k1 (or not hex).
    """
    if isinstance(public_key, str):
        try:
            raw = bytes.fromhex(public_key.removeprefix("0x").removeprefix("0X"))
        except ValueError:
            raise InvalidKeyError(f"a public key in hex, not {public_key[:12]!r}...") from None
    else:
        raw = bytes(public_key)
    candidate = b"\x04" + raw if len(raw) == 64 else raw
    try:
        return "0x" + bytes(PublicKey(candidate).format(compressed=True)).hex()
    except (ValueError, TypeError) as exc:
        raise InvalidKeyError(f"not a secp256k1 public key ({len(raw)} bytes)") from exc


def seal_object(plaintext: bytes, holders: Sequence[bytes | str]) -> bytes:
    """Seal ``plaintext`` under a fresh content key wrapped to every holder.

    Parameters
    ----------
    plaintext : bytes
        The object.
    holders : sequence of bytes or str
        The secp256k1 public keys that may open it (at least one).

    Raises
    ------
    InvalidKeyError
        A holder is not a public key, or there is none.
    """
    names = sorted({holder_id(h) for h in holders})
    if not names:
        raise InvalidKeyError("seal_object: at least one holder is needed")
    key = new_content_key()
    wraps = {
        h: "0x" + wrap_key(key, bytes.fromhex(h[2:]), context=KEY_CONTEXT).hex() for h in names
    }
    header = json.dumps({"wraps": wraps}, sort_keys=True, separators=(",", ":")).encode()
    prefix = _PREFIX.pack(SEALED_OBJECT_MAGIC, SEALED_OBJECT_VERSION, len(header)) + header
    return prefix + seal(plaintext, key, purpose=PURPOSE_PREFIX + prefix)


def is_sealed_object(data: bytes) -> bool:
    """Whether ``data`` starts like a sealed object (its magic), whatever follows."""
    return data[:4] == SEALED_OBJECT_MAGIC


def sealed_holders(data: bytes) -> dict[str, bytes]:
    """The holders a sealed object's key is wrapped to, and each wrapped key (no key needed).

    Raises
    ------
    SealedDataError
        Not a version-1 sealed object, or a header that does not parse.
    """
    if len(data) < _PREFIX.size:
        raise SealedDataError("sealed object: too short")
    magic, version, length = _PREFIX.unpack_from(data)
    if magic != SEALED_OBJECT_MAGIC or version != SEALED_OBJECT_VERSION:
        raise SealedDataError(f"sealed object: not version 1 ({magic!r} v{version})")
    if length > MAX_HEADER_BYTES or _PREFIX.size + length > len(data):
        raise SealedDataError("sealed object: the header runs past its end")
    try:
        doc = json.loads(data[_PREFIX.size : _PREFIX.size + length])
        wraps = doc["wraps"]
        return {holder_id(h): bytes.fromhex(str(w).removeprefix("0x")) for h, w in wraps.items()}
    except (ValueError, TypeError, KeyError, AttributeError, InvalidKeyError):
        raise SealedDataError("sealed object: the header is not {wraps: {key: hex}}") from None


def open_object(data: bytes, private_key: bytes) -> bytes:
    """Open a sealed object with a holder's private key.

    Parameters
    ----------
    data : bytes
        The sealed object (check its CID first: that needs no key).
    private_key : bytes
        A holder's 32-byte secp256k1 private key.

    Raises
    ------
    SealedObjectLockedError
        The content key is not wrapped to this key (a refusal, exit 5 in the CLI).
    SealedDataError
        The object does not parse, or fails authentication (tampered).
    InvalidKeyError
        ``private_key`` is not a secp256k1 private key.
    """
    wraps = sealed_holders(data)
    mine = holder_id(public_key_of(private_key))
    if mine not in wraps:
        raise SealedObjectLockedError(
            f"sealed object: its key is wrapped to {len(wraps)} holders, not to {mine}"
        )
    (length,) = struct.unpack_from(">I", data, 5)
    end = _PREFIX.size + length
    key = unwrap_key(wraps[mine], private_key, context=KEY_CONTEXT)
    return open_sealed(data[end:], key, purpose=PURPOSE_PREFIX + data[:end])


class SealedStore(WrappingStore):
    """A content store that seals what it puts and opens the sealed objects it gets.

    Plain objects pass through both ways unchanged (a task's spec, a participant's own sealed
    update), so one store serves a party for every object it handles.

    Parameters
    ----------
    inner : ContentStore
        Where the bytes are (a logging wrapper goes inside this one, so it logs the CIDs read).
    holders : sequence of bytes or str, default ()
        The public keys every put is sealed for; empty: puts are stored as given.
    key : bytes or None, default None
        This party's secp256k1 private key, which opens what is wrapped to it; ``None``: a sealed
        object read raises :class:`SealedObjectLockedError`.

    Raises
    ------
    InvalidKeyError
        A holder or the key is malformed.
    """

    def __init__(
        self,
        inner: ContentStore,
        *,
        holders: Sequence[bytes | str] = (),
        key: bytes | None = None,
    ) -> None:
        self.inner = inner
        self.holders = tuple(sorted({holder_id(h) for h in holders}))
        self.key = key
        self.reader = holder_id(public_key_of(key)) if key is not None else None
        self.name = f"sealed-{inner.name}"
        self._opened: OrderedDict[Cid, bytes] = OrderedDict()

    def put(self, data: bytes) -> Cid:
        """Seal ``data`` for the holders (when there are any) and store it; its CID."""
        return self.inner.put(seal_object(data, self.holders) if self.holders else data)

    def get(self, cid: str, *, verify: bool = True, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
        """The object under ``cid``, opened when sealed (its sealed bytes always CID-checked).

        A plain object is checked against ``cid`` only when ``verify`` asks (as any store does).

        Raises
        ------
        SealedObjectLockedError
            A sealed object not wrapped to this store's key.
        SealedDataError
            A sealed object that fails authentication.
        InvalidCidError, ContentNotFoundError, ContentIntegrityError
            As :meth:`ContentStore.get`.
        """
        valid = validate_cid(cid)
        raw = self.inner.get(valid, verify=verify, max_bytes=max_bytes + MAX_HEADER_BYTES + 64)
        if not is_sealed_object(raw):  # the caller checks its CID when it asked not to here
            if len(raw) > max_bytes:
                raise ContentTooLargeError(f"get: {cid} is larger than {max_bytes} bytes")
            return raw
        if self.key is None:
            raise SealedObjectLockedError(f"get: {cid} is sealed and no key is at hand")
        if not verify:
            ContentStore.verify(valid, raw)  # what verify() later passes is the opened plaintext
        plain = open_object(raw, self.key)
        if len(plain) > max_bytes:
            raise ContentTooLargeError(f"get: {cid} opens to more than {max_bytes} bytes")
        self._opened[valid] = content_hash(plain)
        self._opened.move_to_end(valid)
        while len(self._opened) > _OPENED_KEPT:
            self._opened.popitem(last=False)
        return plain

    def verify(self, cid: Cid, data: bytes) -> None:  # type: ignore[override]
        """Pass what this store opened from ``cid``, or check ``data`` against ``cid``.

        The sealed bytes of an opened object were checked against its CID when they were read.
        """
        if self._opened.get(cid) == content_hash(data):
            return
        ContentStore.verify(cid, data)

    def _read(self, cid: Cid, max_bytes: int) -> bytes:
        """The stored (sealed) bytes, unopened."""
        return self.inner._read(cid, max_bytes)


__all__ = [
    "KEY_CONTEXT",
    "MAX_HEADER_BYTES",
    "PURPOSE_PREFIX",
    "SEALED_OBJECT_MAGIC",
    "SEALED_OBJECT_VERSION",
    "SealedObjectLockedError",
    "SealedStore",
    "holder_id",
    "is_sealed_object",
    "open_object",
    "seal_object",
    "sealed_holders",
]
