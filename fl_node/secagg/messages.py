"""The wire messages of secure aggregation: typed frozen records that serialise to bytes.

Every message starts with ``tag (u8) | version (u8) | round (u32) | party (u32)``, integers
little-endian; ``party`` is the sender, or the recipient for what the server sends
(:data:`SERVER` when it goes to everyone). Sizes in the benchmark are the lengths of these bytes.

Client to server: :class:`AdvertiseKeys`, :class:`ShareKeys`, :class:`MaskedInput`,
:class:`UnmaskShares`. Server to clients: :class:`KeyList` (broadcast), :class:`Relay` (the
envelopes addressed to one client), :class:`UnmaskRequest` (broadcast to the survivors).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

from fl_node.secagg.crypto import KEY_BYTES
from fl_node.secagg.errors import SecAggProtocolError
from fl_node.secagg.shamir import SHARE_BYTES

VERSION = 1
SERVER = 0xFFFFFFFF
"""The ``party`` of a broadcast from the server."""
_HEADER = struct.Struct("<BBII")


def context(task: bytes, round_: int) -> bytes:
    """The bytes that bind keys and envelopes to one task and one round."""
    return struct.pack("<HI", len(task), round_) + task


def binding(task: bytes, round_: int, sender: int, recipient: int) -> bytes:
    """An envelope's associated data: task, round, sender and recipient."""
    return context(task, round_) + struct.pack("<II", sender, recipient)


class _Reader:
    """Reads fields off a message's bytes; any shortfall or leftover is a protocol error."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._at = 0

    def take(self, n: int) -> bytes:
        if self._at + n > len(self._data):
            raise SecAggProtocolError("decode: the message is truncated")
        chunk = self._data[self._at : self._at + n]
        self._at += n
        return chunk

    def u32(self) -> int:
        value: int = struct.unpack("<I", self.take(4))[0]
        return value

    def ids(self) -> tuple[int, ...]:
        n = self.u32()
        return tuple(struct.unpack(f"<{n}I", self.take(4 * n)))

    def done(self) -> None:
        if self._at != len(self._data):
            raise SecAggProtocolError("decode: the message has trailing bytes")


def _ids(values: Sequence[int]) -> bytes:
    return struct.pack(f"<I{len(values)}I", len(values), *values)


@dataclass(frozen=True)
class AdvertiseKeys:
    """Stage 0, client to server: the client's two X25519 public keys (c: envelopes, s: masks)."""

    round: int
    sender: int
    c_public: bytes
    s_public: bytes

    TAG = 1

    def to_bytes(self) -> bytes:
        """The wire form."""
        return (
            _HEADER.pack(self.TAG, VERSION, self.round, self.sender) + self.c_public + self.s_public
        )

    @classmethod
    def read(cls, round_: int, party: int, r: _Reader) -> AdvertiseKeys:
        """The message from its body (the header already read)."""
        return cls(round_, party, r.take(KEY_BYTES), r.take(KEY_BYTES))


@dataclass(frozen=True)
class KeyList:
    """Stage 1, server to every client: the advertised keys, ``(id, c_public, s_public)``."""

    round: int
    keys: tuple[AdvertiseKeys, ...]

    TAG = 2

    def to_bytes(self) -> bytes:
        """The wire form."""
        body = b"".join(struct.pack("<I", k.sender) + k.c_public + k.s_public for k in self.keys)
        head = _HEADER.pack(self.TAG, VERSION, self.round, SERVER)
        return head + struct.pack("<I", len(self.keys)) + body

    @classmethod
    def read(cls, round_: int, party: int, r: _Reader) -> KeyList:
        """The message from its body (the header already read)."""
        keys = [
            AdvertiseKeys(round_, r.u32(), r.take(KEY_BYTES), r.take(KEY_BYTES))
            for _ in range(r.u32())
        ]
        return cls(round_, tuple(keys))


@dataclass(frozen=True)
class Envelope:
    """Shares of the sender's ``b`` and ``s_sk`` for one recipient, sealed under their c-key.

    Attributes
    ----------
    sender, recipient : int
        The pair (in clear, for the server's routing; also bound into the AES-GCM tag).
    sealed : bytes
        ``nonce | AES-GCM(sender | recipient | b share | s_sk share)``.
    """

    sender: int
    recipient: int
    sealed: bytes

    def to_bytes(self) -> bytes:
        """The wire form (inside :class:`ShareKeys` and :class:`Relay`)."""
        return struct.pack("<III", self.sender, self.recipient, len(self.sealed)) + self.sealed

    @classmethod
    def read(cls, r: _Reader) -> Envelope:
        """One envelope off the reader."""
        sender, recipient, n = r.u32(), r.u32(), r.u32()
        return cls(sender, recipient, r.take(n))


@dataclass(frozen=True)
class ShareKeys:
    """Stage 1, client to server: one envelope per neighbour, for the server to relay."""

    round: int
    sender: int
    envelopes: tuple[Envelope, ...]

    TAG = 3

    def to_bytes(self) -> bytes:
        """The wire form."""
        head = _HEADER.pack(self.TAG, VERSION, self.round, self.sender)
        body = b"".join(e.to_bytes() for e in self.envelopes)
        return head + struct.pack("<I", len(self.envelopes)) + body

    @classmethod
    def read(cls, round_: int, party: int, r: _Reader) -> ShareKeys:
        """The message from its body (the header already read)."""
        return cls(round_, party, tuple(Envelope.read(r) for _ in range(r.u32())))


@dataclass(frozen=True)
class Relay:
    """Stage 2, server to one client: the envelopes its neighbours addressed to it."""

    round: int
    recipient: int
    envelopes: tuple[Envelope, ...]

    TAG = 4

    def to_bytes(self) -> bytes:
        """The wire form."""
        head = _HEADER.pack(self.TAG, VERSION, self.round, self.recipient)
        body = b"".join(e.to_bytes() for e in self.envelopes)
        return head + struct.pack("<I", len(self.envelopes)) + body

    @classmethod
    def read(cls, round_: int, party: int, r: _Reader) -> Relay:
        """The message from its body (the header already read)."""
        return cls(round_, party, tuple(Envelope.read(r) for _ in range(r.u32())))


@dataclass(frozen=True)
class MaskedInput:
    """Stage 2, client to server: the masked quantised update, little-endian ``uint32`` words."""

    round: int
    sender: int
    words: bytes

    TAG = 5

    def to_bytes(self) -> bytes:
        """The wire form."""
        head = _HEADER.pack(self.TAG, VERSION, self.round, self.sender)
        return head + struct.pack("<I", len(self.words) // 4) + self.words

    def array(self) -> NDArray[np.uint32]:
        """The words as an array."""
        return np.frombuffer(self.words, dtype="<u4").astype(np.uint32)

    @classmethod
    def read(cls, round_: int, party: int, r: _Reader) -> MaskedInput:
        """The message from its body (the header already read)."""
        return cls(round_, party, r.take(4 * r.u32()))


@dataclass(frozen=True)
class UnmaskRequest:
    """Stage 3, server to the survivors: who sent a masked input, and who dropped after sharing."""

    round: int
    survivors: tuple[int, ...]
    dropped: tuple[int, ...]

    TAG = 6

    def to_bytes(self) -> bytes:
        """The wire form."""
        head = _HEADER.pack(self.TAG, VERSION, self.round, SERVER)
        return head + _ids(self.survivors) + _ids(self.dropped)

    @classmethod
    def read(cls, round_: int, party: int, r: _Reader) -> UnmaskRequest:
        """The message from its body (the header already read)."""
        return cls(round_, r.ids(), r.ids())


@dataclass(frozen=True)
class RevealedShare:
    """The share a client holds of ``owner``'s secret (its point is the revealer's id + 1)."""

    owner: int
    value: bytes


@dataclass(frozen=True)
class UnmaskShares:
    """Stage 3, client to server: b-shares of survivors, s_sk-shares of dropped clients."""

    round: int
    sender: int
    self_mask: tuple[RevealedShare, ...]
    secret_key: tuple[RevealedShare, ...]

    TAG = 7

    def to_bytes(self) -> bytes:
        """The wire form."""
        head = _HEADER.pack(self.TAG, VERSION, self.round, self.sender)
        parts = [head]
        for group in (self.self_mask, self.secret_key):
            parts.append(struct.pack("<I", len(group)))
            parts += [struct.pack("<I", s.owner) + s.value for s in group]
        return b"".join(parts)

    @classmethod
    def read(cls, round_: int, party: int, r: _Reader) -> UnmaskShares:
        """The message from its body (the header already read)."""
        groups = [
            tuple(RevealedShare(r.u32(), r.take(SHARE_BYTES)) for _ in range(r.u32()))
            for _ in range(2)
        ]
        return cls(round_, party, groups[0], groups[1])


Message = AdvertiseKeys | KeyList | ShareKeys | Relay | MaskedInput | UnmaskRequest | UnmaskShares
_KINDS: dict[int, type[Message]] = {
    k.TAG: k
    for k in (AdvertiseKeys, KeyList, ShareKeys, Relay, MaskedInput, UnmaskRequest, UnmaskShares)
}
M = TypeVar("M", AdvertiseKeys, KeyList, ShareKeys, Relay, MaskedInput, UnmaskRequest, UnmaskShares)


def decode(data: bytes, kind: type[M]) -> M:
    """The message of type ``kind`` that ``data`` holds.

    Raises
    ------
    SecAggProtocolError
        The bytes are of another kind or version, truncated, or longer than the message.
    """
    r = _Reader(data)
    tag, version, round_, party = _HEADER.unpack(r.take(_HEADER.size))
    if version != VERSION or _KINDS.get(tag) is not kind:
        raise SecAggProtocolError(f"decode: expected {kind.__name__}, got tag {tag} v{version}")
    message = kind.read(round_, party, r)
    r.done()
    return message


__all__ = [
    "SERVER",
    "VERSION",
    "AdvertiseKeys",
    "Envelope",
    "KeyList",
    "MaskedInput",
    "Message",
    "Relay",
    "RevealedShare",
    "ShareKeys",
    "UnmaskRequest",
    "UnmaskShares",
    "binding",
    "context",
    "decode",
]
