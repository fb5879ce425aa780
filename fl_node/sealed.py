"""Sealed updates: a participant's update encrypted at rest, its key wrapped to the key holders.

A task whose spec lists ``sealed_updates`` (the secp256k1 public keys of the coordinator and of
the audit committee) stores no plaintext update: each participant seals its update under a fresh
AES-256-GCM content key (:func:`storage.sealing.seal`) and wraps that key to every listed holder
(:func:`storage.sealing.wrap_key`, ECIES to the holder's Ethereum key). The chain commits to both
sides: ``update_hash`` is keccak-256 of the **plaintext** update and the CID names the **sealed**
object, so anyone checks the stored bytes against the CID without a key, and a key holder opens
them and checks the plaintext against the hash.

Sealed update, version 1 (integers big-endian)::

    offset  size  field
    0       4     magic b"FMSU"
    4       1     version = 1
    5       4     header length h
    9       h     header: canonical JSON {"wraps": {holder: wrapped key}}
    9 + h   ...   the envelope of the plaintext update (storage.sealing, version 1)

``wraps`` maps each holder's compressed public key (``0x``-hex, lower case) to its wrapped content
key (``0x``-hex). The object names nothing else in the clear: the task, round and author it belongs
to are bound in instead, as the envelope's purpose ``PURPOSE_PREFIX || "<task>:<round>:<author>:"
|| the first 9 + h bytes`` (so the holders are authenticated too) and as each wrapped key's
context ``fedmarket:update-key:v1:<task>:<round>:<author>``: a reader gives them from the
commitment, and an object committed by another author than its sealer (a copy) does not open.
Pure functions only: nothing is stored or sent here.
"""

from __future__ import annotations

import json
import logging
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from fl_node.errors import UpdateRejectedError
from storage.errors import InvalidKeyError, SealedDataError
from storage.sealed_store import holder_id
from storage.sealing import new_content_key, open_sealed, public_key_of, seal, unwrap_key, wrap_key

log = logging.getLogger(__name__)

SEALED_UPDATE_MAGIC: Final = b"FMSU"
SEALED_UPDATE_VERSION: Final = 1
_PREFIX = struct.Struct(">4sBI")
MAX_HEADER_BYTES: Final = 1 << 20
"""Largest header read (a few hundred holders fit many times over)."""

PURPOSE_PREFIX: Final = b"fedmarket:sealed-update:v1:"
"""Start of the envelope's associated data (the object's prefix and header follow)."""

UNREADABLE: Final = "unreadable"
"""Verdict reason: a sealed update the coordinator's key cannot open (no wrap for it, a wrap or
envelope that fails authentication, a header that does not parse)."""

UNSEALED: Final = "unsealed"
"""Verdict reason: a plaintext update in a task that seals its updates."""


@dataclass(frozen=True)
class KeyWrap:
    """A content key wrapped to one holder.

    Attributes
    ----------
    holder : str
        The holder's compressed secp256k1 public key, ``0x``-hex, lower case.
    wrapped : bytes
        The wrapped content key (98 bytes, :func:`storage.sealing.wrap_key`).
    """

    holder: str
    wrapped: bytes


@dataclass(frozen=True)
class SealedUpdate:
    """A parsed sealed update (its envelope still closed).

    Attributes
    ----------
    wraps : tuple of KeyWrap
        The content key wrapped to each holder, sorted by holder.
    envelope : bytes
        The AES-GCM envelope of the plaintext update.
    prefix : bytes
        The object's bytes before the envelope (magic, version, header), authenticated by it.
    """

    wraps: tuple[KeyWrap, ...]
    envelope: bytes
    prefix: bytes

    def holders(self) -> tuple[str, ...]:
        """The holders the content key is wrapped to."""
        return tuple(w.holder for w in self.wraps)


def key_context(task_id: int, round_: int, participant: str) -> bytes:
    """The associated data a wrapped content key of this update is bound to."""
    return f"fedmarket:update-key:v1:{task_id}:{round_}:{participant.lower()}".encode()


def _purpose(task_id: int, round_: int, participant: str, prefix: bytes) -> bytes:
    """The envelope's associated data: where the update belongs, then the object's prefix."""
    return PURPOSE_PREFIX + f"{task_id}:{round_}:{participant.lower()}:".encode() + prefix


def seal_update(
    blob: bytes,
    *,
    task_id: int,
    round_: int,
    participant: str,
    holders: Sequence[bytes | str],
) -> bytes:
    """Seal an update for its holders under a fresh content key.

    Parameters
    ----------
    blob : bytes
        The plaintext update (:func:`fl_node.serialization.encode_update`).
    task_id, round_ : int
        Where it belongs (bound to the envelope and to every wrapped key).
    participant : str
        Its author's address.
    holders : sequence of bytes or str
        The public keys that may open it (the coordinator's and the audit committee's); may be
        empty (then nobody can, and the coordinator rejects it as ``unreadable``).

    Raises
    ------
    InvalidKeyError
        A holder is not a secp256k1 public key.
    """
    key = new_content_key()
    context = key_context(task_id, round_, participant)
    names = [holder_id(h) for h in holders]
    wraps = {h: "0x" + wrap_key(key, bytes.fromhex(h[2:]), context=context).hex() for h in names}
    header = json.dumps({"wraps": wraps}, sort_keys=True, separators=(",", ":")).encode()
    prefix = _PREFIX.pack(SEALED_UPDATE_MAGIC, SEALED_UPDATE_VERSION, len(header)) + header
    return prefix + seal(blob, key, purpose=_purpose(task_id, round_, participant, prefix))


def is_sealed_update(data: bytes) -> bool:
    """Whether ``data`` starts like a sealed update (its magic), whatever follows.

    Parameters
    ----------
    data : bytes
        Bytes fetched from the store.
    """
    return data[:4] == SEALED_UPDATE_MAGIC


def _header(raw: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise UpdateRejectedError(UNREADABLE, "the sealed update's header is not JSON") from None
    if not isinstance(doc, dict) or set(doc) != {"wraps"} or not isinstance(doc["wraps"], dict):
        raise UpdateRejectedError(UNREADABLE, "the sealed update's header is not {wraps: {...}}")
    return doc


def _wraps(raw: dict[str, Any]) -> tuple[KeyWrap, ...]:
    out = []
    for holder, value in sorted(raw.items()):
        try:
            out.append(KeyWrap(holder_id(holder), bytes.fromhex(str(value).removeprefix("0x"))))
        except (InvalidKeyError, ValueError):
            raise UpdateRejectedError(UNREADABLE, "a wrapped key is not hex to a key") from None
    return tuple(out)


def read_sealed_update(data: bytes) -> SealedUpdate:
    """Parse a sealed update's header, without any key.

    Parameters
    ----------
    data : bytes
        The sealed object.

    Raises
    ------
    UpdateRejectedError
        ``unreadable``: not a version-1 sealed update, or a header that does not parse.
    """
    if len(data) < _PREFIX.size:
        raise UpdateRejectedError(UNREADABLE, "too short for a sealed update")
    magic, version, length = _PREFIX.unpack_from(data)
    if magic != SEALED_UPDATE_MAGIC or version != SEALED_UPDATE_VERSION:
        raise UpdateRejectedError(
            UNREADABLE, f"not a version-1 sealed update ({magic!r} v{version})"
        )
    end = _PREFIX.size + length
    if length > MAX_HEADER_BYTES or end > len(data):
        raise UpdateRejectedError(UNREADABLE, "the sealed update's header runs past its end")
    doc = _header(data[_PREFIX.size : end])
    return SealedUpdate(wraps=_wraps(doc["wraps"]), envelope=data[end:], prefix=data[:end])


def open_sealed_update(
    data: bytes, private_key: bytes, *, task_id: int, round_: int, participant: str
) -> bytes:
    """Open a sealed update with a holder's private key and return the plaintext update.

    Parameters
    ----------
    data : bytes
        The sealed object (check its CID first: that needs no key).
    private_key : bytes
        A holder's 32-byte secp256k1 private key (an Ethereum account's key).
    task_id, round_ : int
        Where it was committed.
    participant : str
        Who committed it (its author: an object sealed by another does not open).

    Raises
    ------
    UpdateRejectedError
        ``unreadable``: the object does not parse, its key is not wrapped to this holder, or the
        wrapped key or the envelope fails authentication (tampered, or sealed for another task,
        round or author).
    InvalidKeyError
        ``private_key`` is not a secp256k1 private key.
    """
    sealed = read_sealed_update(data)
    mine = holder_id(public_key_of(private_key))
    wrap = next((w for w in sealed.wraps if w.holder == mine), None)
    if wrap is None:
        detail = f"its key is wrapped to {len(sealed.wraps)} holders, not to {mine}"
        raise UpdateRejectedError(UNREADABLE, detail)
    context = key_context(task_id, round_, participant)
    purpose = _purpose(task_id, round_, participant, sealed.prefix)
    try:
        key = unwrap_key(wrap.wrapped, private_key, context=context)
        return open_sealed(sealed.envelope, key, purpose=purpose)
    except SealedDataError as exc:
        raise UpdateRejectedError(UNREADABLE, str(exc)) from None


__all__ = [
    "MAX_HEADER_BYTES",
    "PURPOSE_PREFIX",
    "SEALED_UPDATE_MAGIC",
    "SEALED_UPDATE_VERSION",
    "UNREADABLE",
    "UNSEALED",
    "KeyWrap",
    "SealedUpdate",
    "holder_id",
    "is_sealed_update",
    "key_context",
    "open_sealed_update",
    "read_sealed_update",
    "seal_update",
]
