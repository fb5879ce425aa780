"""Wire messages of the PSI protocols.

Every message is a frozen dataclass with ``to_bytes`` / ``from_bytes``. A serialized message
is a 16-byte header ``magic(6) | type(1) | kind(1) | width(2) | count(6)`` (big-endian)
followed by ``count`` rows of ``width`` bytes. ``from_bytes`` checks the header, the lengths
and the cheap structural properties of the rows; the party that consumes a set of curve
points still rejects, with :class:`~fl_node.vertical.crypto.psi.PsiProtocolError`, any point not on
the curve when it parses it.
"""

from __future__ import annotations

import enum
import logging
import struct
from dataclasses import dataclass
from typing import Protocol, Self, TypeVar

import numpy as np

from ._common import PsiProtocolError

logger = logging.getLogger(__name__)

_MAGIC = b"FMPSI1"
_HEADER = struct.Struct(">6sBBH6s")
HEADER_SIZE = _HEADER.size

EC_POINT_WIDTH = 65
"""Uncompressed SEC1 secp256k1 point: ``0x04 || x || y``."""

_MAX_COUNT = 2**32 - 1


class SetKind(enum.IntEnum):
    """What the rows of a :class:`BlindedSet` are."""

    EC_POINT = 1
    """Uncompressed secp256k1 points (65 bytes)."""
    DIGEST = 2
    """Truncated pseudorandom values compared in the last step (4 to 64 bytes)."""
    RSA_RESIDUE = 3
    """Residues modulo an RSA modulus, big-endian, modulus-sized (64 to 1024 bytes)."""


class _MsgType(enum.IntEnum):
    BLINDED_SET = 1
    INDICES = 2
    EC_PUBLIC_KEY = 3
    RSA_PUBLIC_KEY = 4


_WIDTH_RANGE = {
    SetKind.EC_POINT: (EC_POINT_WIDTH, EC_POINT_WIDTH),
    SetKind.DIGEST: (4, 64),
    SetKind.RSA_RESIDUE: (64, 1024),
}


def _header(msg_type: _MsgType, kind: int, width: int, count: int) -> bytes:
    return _HEADER.pack(_MAGIC, msg_type, kind, width, count.to_bytes(6, "big"))


def _parse_header(raw: bytes, msg_type: _MsgType) -> tuple[int, int, int, bytes]:
    if not isinstance(raw, bytes | bytearray | memoryview):
        raise PsiProtocolError("a PSI message must be bytes")
    raw = bytes(raw)
    if len(raw) < HEADER_SIZE:
        raise PsiProtocolError("PSI message shorter than its header")
    magic, got_type, kind, width, count_raw = _HEADER.unpack_from(raw)
    if magic != _MAGIC:
        raise PsiProtocolError("not a fedmarket PSI v1 message (bad magic)")
    if got_type != msg_type:
        raise PsiProtocolError(f"expected a {msg_type.name} message, got type {got_type}")
    count = int.from_bytes(count_raw, "big")
    body = raw[HEADER_SIZE:]
    if width == 0 or len(body) != width * count:
        raise PsiProtocolError(
            f"PSI message body is {len(body)} bytes, header says {count} x {width}"
        )
    return kind, width, count, body


@dataclass(frozen=True)
class BlindedSet:
    """A set of blinded / evaluated values, one fixed-width row per element.

    Attributes
    ----------
    kind : SetKind
        What the rows are.
    width : int
        Bytes per row.
    data : bytes
        The concatenated rows.
    """

    kind: SetKind
    width: int
    data: bytes

    def __post_init__(self) -> None:
        try:
            kind = SetKind(self.kind)
        except ValueError:
            raise PsiProtocolError(f"unknown set kind {self.kind!r}") from None
        object.__setattr__(self, "kind", kind)
        low, high = _WIDTH_RANGE[kind]
        if not low <= self.width <= high:
            raise PsiProtocolError(
                f"{kind.name} rows must be {low}..{high} bytes, not {self.width}"
            )
        if not isinstance(self.data, bytes):
            raise PsiProtocolError("BlindedSet.data must be bytes")
        if len(self.data) % self.width:
            raise PsiProtocolError("BlindedSet.data is not a whole number of rows")
        if self.count > _MAX_COUNT:
            raise PsiProtocolError("too many elements in one PSI message")
        if kind is SetKind.EC_POINT and self.data:
            prefixes = np.frombuffer(self.data, dtype=np.uint8)[:: self.width]
            bad = np.flatnonzero(prefixes != 4)
            if bad.size:
                raise PsiProtocolError(f"point #{int(bad[0])} is not an uncompressed SEC1 point")

    @property
    def count(self) -> int:
        """Number of elements."""
        return len(self.data) // self.width

    def __len__(self) -> int:
        return self.count

    def to_bytes(self) -> bytes:
        """Serialize (header + rows)."""
        return _header(_MsgType.BLINDED_SET, self.kind, self.width, self.count) + self.data

    @classmethod
    def from_bytes(cls, raw: bytes) -> Self:
        """Parse and validate a serialized set.

        Raises
        ------
        PsiProtocolError
            On a bad header, bad lengths or a row that cannot be what the kind says.
        """
        kind, width, _count, body = _parse_header(raw, _MsgType.BLINDED_SET)
        try:
            set_kind = SetKind(kind)
        except ValueError:
            raise PsiProtocolError(f"unknown set kind {kind}") from None
        return cls(set_kind, width, body)


@dataclass(frozen=True)
class IntersectionIndices:
    """The guest's answer to the host: positions, in the host's shuffled set, that matched.

    Attributes
    ----------
    positions : tuple[int, ...]
        Strictly increasing positions into the host's last :class:`BlindedSet` of digests.
    """

    positions: tuple[int, ...]

    def __post_init__(self) -> None:
        positions = tuple(int(p) for p in self.positions)
        object.__setattr__(self, "positions", positions)
        if any(not 0 <= p <= _MAX_COUNT for p in positions):
            raise PsiProtocolError("intersection position out of range")
        if any(b <= a for a, b in zip(positions, positions[1:], strict=False)):
            raise PsiProtocolError("intersection positions must be strictly increasing")

    def to_bytes(self) -> bytes:
        """Serialize (header + 4-byte big-endian positions)."""
        body = np.asarray(self.positions, dtype=">u4").tobytes()
        return _header(_MsgType.INDICES, 0, 4, len(self.positions)) + body

    @classmethod
    def from_bytes(cls, raw: bytes) -> Self:
        """Parse and validate.

        Raises
        ------
        PsiProtocolError
            On a bad header, bad lengths or unordered positions.
        """
        _kind, width, _count, body = _parse_header(raw, _MsgType.INDICES)
        if width != 4:
            raise PsiProtocolError("intersection positions must be 4 bytes wide")
        return cls(tuple(np.frombuffer(body, dtype=">u4").tolist()))


@dataclass(frozen=True)
class EcPublicKey:
    """An uncompressed secp256k1 point published by a party (the OPRF key ``B = b*G``).

    Attributes
    ----------
    point : bytes
        65-byte uncompressed SEC1 encoding.
    """

    point: bytes

    def __post_init__(self) -> None:
        from ._secp import is_valid_point  # local: keeps message parsing import-light

        if not isinstance(self.point, bytes) or not is_valid_point(self.point):
            raise PsiProtocolError("the public key is not an uncompressed secp256k1 point")

    def to_bytes(self) -> bytes:
        """Serialize."""
        return _header(_MsgType.EC_PUBLIC_KEY, 0, EC_POINT_WIDTH, 1) + self.point

    @classmethod
    def from_bytes(cls, raw: bytes) -> Self:
        """Parse and validate (the point must be on the curve).

        Raises
        ------
        PsiProtocolError
            On a bad header or an invalid point.
        """
        _kind, width, count, body = _parse_header(raw, _MsgType.EC_PUBLIC_KEY)
        if width != EC_POINT_WIDTH or count != 1:
            raise PsiProtocolError("an EC public key message holds one 65-byte point")
        return cls(body)


_RSA_E_WIDTH = 8


@dataclass(frozen=True)
class RsaPublicKey:
    """The host's RSA public key.

    Attributes
    ----------
    n : int
        Modulus, 1024 to 8192 bits, odd.
    e : int
        Public exponent, odd, ``3 <= e < 2**64``.
    """

    n: int
    e: int

    def __post_init__(self) -> None:
        if not isinstance(self.n, int) or not isinstance(self.e, int):
            raise PsiProtocolError("RSA key parts must be integers")
        if not 1024 <= self.n.bit_length() <= 8192 or self.n % 2 == 0:
            raise PsiProtocolError("RSA modulus must be odd and 1024..8192 bits")
        if not 3 <= self.e < 2**64 or self.e % 2 == 0:
            raise PsiProtocolError("RSA public exponent must be odd and in [3, 2**64)")

    @property
    def size(self) -> int:
        """Modulus length in bytes."""
        return (self.n.bit_length() + 7) // 8

    def to_bytes(self) -> bytes:
        """Serialize (header + 8-byte ``e`` + modulus-sized ``n``)."""
        body = self.e.to_bytes(_RSA_E_WIDTH, "big") + self.n.to_bytes(self.size, "big")
        return _header(_MsgType.RSA_PUBLIC_KEY, 0, len(body), 1) + body

    @classmethod
    def from_bytes(cls, raw: bytes) -> Self:
        """Parse and validate.

        Raises
        ------
        PsiProtocolError
            On a bad header or an unacceptable key.
        """
        _kind, width, count, body = _parse_header(raw, _MsgType.RSA_PUBLIC_KEY)
        if count != 1 or width <= _RSA_E_WIDTH:
            raise PsiProtocolError("an RSA public key message holds one key")
        e = int.from_bytes(body[:_RSA_E_WIDTH], "big")
        n_bytes = body[_RSA_E_WIDTH:]
        if n_bytes[0] == 0:
            raise PsiProtocolError("RSA modulus has a leading zero byte")
        return cls(int.from_bytes(n_bytes, "big"), e)


class _Wire(Protocol):
    def to_bytes(self) -> bytes: ...

    @classmethod
    def from_bytes(cls, raw: bytes) -> Self: ...


W = TypeVar("W", bound=_Wire)


class Loopback:
    """In-process stand-in for the network: serializes, counts, records and re-parses.

    The local drivers (:func:`~fl_node.vertical.crypto.psi.ecdh_psi`,
    :func:`~fl_node.vertical.crypto.psi.rsa_psi`) pass every message through it, so both
    sides only ever see what a peer across a network would see.

    Parameters
    ----------
    transcript : list of (sender, raw bytes) or None
        If given, every serialized message is appended to it.
    """

    def __init__(self, transcript: list[tuple[str, bytes]] | None = None) -> None:
        self.bytes_sent = {"guest": 0, "host": 0}
        self.messages = 0
        self._transcript = transcript

    def send(self, sender: str, message: W) -> W:
        """Deliver ``message`` from ``sender`` as the receiver would see it."""
        raw = message.to_bytes()
        self.bytes_sent[sender] += len(raw)
        self.messages += 1
        if self._transcript is not None:
            self._transcript.append((sender, raw))
        return type(message).from_bytes(raw)
