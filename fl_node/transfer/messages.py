"""The messages of the federated transfer protocol: typed records with a byte encoding.

Every message that leaves a party is one of these, serialised by :func:`to_bytes` and parsed
back by :func:`from_bytes` (a 24-byte header: magic ``FTL1``, which carries the version, kind,
sender, step, two array dimensions; then the payload). What each carries:

- :class:`PublicKey`, party -> coordinator -> other party: the 32-byte X25519 public key and
  the party's 65-byte signature of it by its on-chain key (:mod:`~fl_node.transfer.identity`);
- :class:`SharedShape`, party -> coordinator: number of shared users, row width (rank + 1);
- :class:`SharedFactors`, coordinator -> both parties: the shared users' factors and biases;
- :class:`MaskedGradient`, party -> coordinator: the masked fixed-point gradient of the shared
  rows and the party's objective term (uint64 words);
- :class:`Control`, target -> coordinator -> source: whether validation improved, whether to
  stop.

No message has a field for a rating, an item, an item factor or a user id.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from fl_node.transfer.errors import TransferProtocolError

MAGIC = b"FTL1"
HEADER = struct.Struct("<4sBBHIQI")
"""magic, kind, sender, reserved, step, dim0 (or flags), dim1."""
SENDERS = ("target", "source", "coordinator")


@dataclass(frozen=True)
class PublicKey:
    """A party's X25519 public key for the mask agreement, and its signature of it (or empty)."""

    sender: str
    key: bytes
    signature: bytes = b""


@dataclass(frozen=True)
class SharedShape:
    """The shape of the shared block a party holds: rows (PSI-shared users) and width."""

    sender: str
    rows: int
    width: int


@dataclass(frozen=True)
class SharedFactors:
    """The coordinator's shared user factors and biases after ``step`` steps, ``(rows, width)``."""

    step: int
    values: NDArray[np.float64]
    sender: str = "coordinator"


@dataclass(frozen=True)
class MaskedGradient:
    """A party's masked fixed-point words: the shared rows' gradient, then its objective term."""

    sender: str
    step: int
    words: NDArray[np.uint64]


@dataclass(frozen=True)
class Control:
    """The target's verdict after ``step``: validation improved (keep this state), stop now."""

    step: int
    improved: bool
    stop: bool
    sender: str = "target"


Message = PublicKey | SharedShape | SharedFactors | MaskedGradient | Control
KINDS: tuple[type, ...] = (PublicKey, SharedShape, SharedFactors, MaskedGradient, Control)


def to_bytes(message: Message) -> bytes:
    """The wire encoding of ``message``."""
    kind = KINDS.index(type(message))
    sender = SENDERS.index(message.sender)
    match message:
        case PublicKey(key=key, signature=signature):
            header = HEADER.pack(MAGIC, kind, sender, 0, 0, len(key), len(signature))
            return header + key + signature
        case SharedShape(rows=rows, width=width):
            return HEADER.pack(MAGIC, kind, sender, 0, 0, rows, width)
        case SharedFactors(step=step, values=values):
            rows, width = values.shape
            payload = np.ascontiguousarray(values, dtype="<f8").tobytes()
            return HEADER.pack(MAGIC, kind, sender, 0, step, rows, width) + payload
        case MaskedGradient(step=step, words=words):
            payload = np.ascontiguousarray(words, dtype="<u8").tobytes()
            return HEADER.pack(MAGIC, kind, sender, 0, step, len(words), 0) + payload
        case Control(step=step, improved=improved, stop=stop):
            flags = int(improved) | (int(stop) << 1)
            return HEADER.pack(MAGIC, kind, sender, 0, step, flags, 0)


def from_bytes(data: bytes) -> Message:
    """Parse one message; refuse a bad header or a payload of the wrong length."""
    if len(data) < HEADER.size:
        raise TransferProtocolError("from_bytes: shorter than a header")
    magic, kind, sender_i, _, step, dim0, dim1 = HEADER.unpack_from(data)
    if magic != MAGIC or kind >= len(KINDS) or sender_i >= len(SENDERS):
        raise TransferProtocolError("from_bytes: not a transfer-protocol message")
    sender, body = SENDERS[sender_i], data[HEADER.size :]
    expected = {0: dim0 + dim1, 1: 0, 2: 8 * dim0 * dim1, 3: 8 * dim0, 4: 0}[kind]
    if len(body) != expected:
        raise TransferProtocolError(
            f"from_bytes: payload of {len(body)} bytes, expected {expected}"
        )
    if kind == 0:
        return PublicKey(sender, bytes(body[:dim0]), bytes(body[dim0:]))
    if kind == 1:
        return SharedShape(sender, dim0, dim1)
    if kind == 2:
        values = np.frombuffer(body, dtype="<f8").reshape(dim0, dim1).astype(np.float64)
        return SharedFactors(step, values, sender)
    if kind == 3:
        return MaskedGradient(sender, step, np.frombuffer(body, dtype="<u8").astype(np.uint64))
    return Control(step, bool(dim0 & 1), bool(dim0 & 2), sender)


__all__ = [
    "Control",
    "MaskedGradient",
    "Message",
    "PublicKey",
    "SharedFactors",
    "SharedShape",
    "from_bytes",
    "to_bytes",
]
