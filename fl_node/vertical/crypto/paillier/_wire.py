"""Framing for serialized Paillier objects (private).

Every frame is::

    magic "FMPL" | version u8 | kind u8 | key fingerprint (16 bytes)
    | body length u64 | body | BLAKE2b-128 digest of everything before it

The digest detects truncation and accidental corruption; it is *not* a MAC
(anyone can recompute it), so authenticity must come from the channel.
Bodies are built from fixed-width big-endian fields and length-prefixed
integers, and every length is checked against the bytes actually present.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence

import gmpy2

from fl_node.vertical.crypto.paillier._errors import (
    PaillierInputError,
    PaillierSerializationError,
)
from fl_node.vertical.crypto.paillier._math import Mpz

MAGIC = b"FMPL"
VERSION = 1
KIND_PUBLIC_KEY = 1
KIND_CIPHER_VECTOR = 2
KIND_PACKED_VECTOR = 3
KIND_NAMES = {
    KIND_PUBLIC_KEY: "public key",
    KIND_CIPHER_VECTOR: "cipher vector",
    KIND_PACKED_VECTOR: "packed cipher vector",
}
DIGEST_SIZE = 16
FINGERPRINT_SIZE = 16
_PREFIX = struct.Struct(">4sBB16sQ")
#: Bytes added around a body: prefix + digest.
FRAME_OVERHEAD = _PREFIX.size + DIGEST_SIZE
_U32 = struct.Struct(">I")


def fingerprint(n: int) -> bytes:
    """Return the 16-byte BLAKE2b fingerprint identifying the modulus ``n``."""
    width = (int(n).bit_length() + 7) // 8
    return hashlib.blake2b(int(n).to_bytes(width, "big"), digest_size=FINGERPRINT_SIZE).digest()


def frame(kind: int, key_fingerprint: bytes, body: bytes) -> bytes:
    """Wrap ``body`` into a versioned, length-prefixed, digested frame."""
    head = _PREFIX.pack(MAGIC, VERSION, kind, key_fingerprint, len(body))
    digest = hashlib.blake2b(head + body, digest_size=DIGEST_SIZE).digest()
    return head + body + digest


def unframe(data: bytes, kind: int) -> tuple[bytes, memoryview]:
    """Validate a frame and return ``(key_fingerprint, body)``.

    Raises
    ------
    PaillierSerializationError
        On a short buffer, wrong magic/version/kind, length mismatch or a bad
        digest.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise PaillierSerializationError(f"expected bytes, got {type(data).__name__}")
    view = memoryview(data).cast("B")
    if len(view) < FRAME_OVERHEAD:
        raise PaillierSerializationError(
            f"truncated Paillier frame: {len(view)} bytes, need at least {FRAME_OVERHEAD}"
        )
    magic, version, got_kind, key_fp, body_len = _PREFIX.unpack_from(view, 0)
    if magic != MAGIC:
        raise PaillierSerializationError(f"bad magic {bytes(magic)!r}, expected {MAGIC!r}")
    if version != VERSION:
        raise PaillierSerializationError(f"unsupported frame version {version}")
    if got_kind != kind:
        raise PaillierSerializationError(
            f"frame holds a {KIND_NAMES.get(got_kind, f'kind {got_kind}')}, "
            f"expected a {KIND_NAMES[kind]}"
        )
    expected = FRAME_OVERHEAD + body_len
    if len(view) != expected:
        raise PaillierSerializationError(
            f"frame length mismatch: header announces {expected} bytes, got {len(view)}"
        )
    end = _PREFIX.size + body_len
    digest = hashlib.blake2b(view[:end], digest_size=DIGEST_SIZE).digest()
    if digest != bytes(view[end:]):
        raise PaillierSerializationError("frame digest mismatch: data corrupted or altered")
    return bytes(key_fp), view[_PREFIX.size : end]


class BodyReader:
    """Sequential reader over a frame body that raises on any overrun."""

    def __init__(self, body: memoryview) -> None:
        self._body = body
        self._pos = 0

    def unpack(self, fmt: struct.Struct) -> tuple[int, ...]:
        """Read one fixed-width struct."""
        if self._pos + fmt.size > len(self._body):
            raise PaillierSerializationError("frame body truncated")
        values = fmt.unpack_from(self._body, self._pos)
        self._pos += fmt.size
        return tuple(int(v) for v in values)

    def read_int(self) -> int:
        """Read a u32-length-prefixed unsigned big-endian integer."""
        (length,) = self.unpack(_U32)
        return int.from_bytes(self.read_bytes(length), "big")

    def read_bytes(self, length: int) -> bytes:
        """Read ``length`` raw bytes."""
        if length < 0 or self._pos + length > len(self._body):
            raise PaillierSerializationError("frame body truncated")
        chunk = bytes(self._body[self._pos : self._pos + length])
        self._pos += length
        return chunk

    def read_ciphertexts(self, count: int, width: int, nsquare: Mpz) -> list[Mpz]:
        """Read ``count`` fixed-width ciphertexts, each checked to lie in ``[1, nsquare)``."""
        size = count * width
        if self._pos + size > len(self._body):
            raise PaillierSerializationError(
                f"frame body truncated: {count} ciphertexts of {width} bytes announced"
            )
        body = self._body
        out: list[Mpz] = []
        start = self._pos
        for i in range(count):
            offset = start + i * width
            c = gmpy2.mpz(int.from_bytes(body[offset : offset + width], "big"))
            if not 0 < c < nsquare:
                raise PaillierSerializationError(f"ciphertext {i} is outside [1, n^2)")
            out.append(c)
        self._pos += size
        return out

    def finish(self) -> None:
        """Check that the whole body was consumed."""
        if self._pos != len(self._body):
            raise PaillierSerializationError(
                f"{len(self._body) - self._pos} unexpected trailing bytes in frame body"
            )


def encode_int(value: int) -> bytes:
    """Return a u32-length-prefixed unsigned big-endian integer."""
    if value < 0:
        raise PaillierInputError("only non-negative integers are serialized")
    raw = int(value).to_bytes((int(value).bit_length() + 7) // 8, "big")
    return _U32.pack(len(raw)) + raw


def encode_ciphertexts(ciphertexts: Sequence[Mpz], width: int) -> bytes:
    """Concatenate ciphertexts as fixed-width big-endian integers."""
    return b"".join(int(c).to_bytes(width, "big") for c in ciphertexts)
