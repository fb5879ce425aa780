"""Batch secp256k1 kernels for ECDH-PSI, on the libsecp256k1 that ``coincurve`` ships.

The kernels call the library through coincurve's cffi module directly: one C call per
element and step, into preallocated ``secp256k1_pubkey`` arrays, no Python object per point.
They are module-level functions over plain ``bytes`` so that a process pool can run them on
chunks (:mod:`fl_node.vertical.crypto.psi._parallel`).

Hash to the group
    ``H(id) = ellswift_decode(SHA-512(DST || encode_id(id)))``. ElligatorSwift decoding is
    SwiftEC (Chavez-Saab, Rodriguez-Henriquez, Tibouchi, Asiacrypt 2022), a map from
    ``F_p^2`` onto the curve that is indifferentiable from a random oracle when fed a random
    oracle output; SHA-512 gives the two 256-bit field elements (reduced mod p, bias 2**-224).
    Nobody knows the discrete log of ``H(id)``. It costs one C call and no retry loop.

Multiplication
    ``secp256k1_ec_pubkey_tweak_mul`` (GLV + wNAF, what ``coincurve.PublicKey.multiply`` uses).
    It is variable-time in the scalar's shape, which is fixed for the whole session; see
    docs/psi.md for why that is acceptable in the semi-honest model.

Fixed-base combs
    ``r*P`` for a fixed point ``P`` (``G``, or the OPRF key ``-B``) is the sum of 32 table
    entries, ``T[k][digit_k(r)]`` with 8-bit digits, added by one
    ``secp256k1_ec_pubkey_combine`` call: about 3x cheaper than a variable-base multiplication.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._common import PsiCryptoError, PsiDependencyError, PsiId, PsiProtocolError, encode_ids

try:
    from coincurve._libsecp256k1 import ffi, lib
    from coincurve.context import GLOBAL_CONTEXT
except ImportError as exc:  # pragma: no cover - dependency missing
    raise PsiDependencyError(
        "ECDH-PSI needs coincurve>=21 (libsecp256k1 with ElligatorSwift)"
    ) from exc

if not hasattr(lib, "secp256k1_ellswift_decode"):  # pragma: no cover - old coincurve
    raise PsiDependencyError("ECDH-PSI needs coincurve>=21 (libsecp256k1 with ElligatorSwift)")

logger = logging.getLogger(__name__)

ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
"""Order ``n`` of the secp256k1 group."""

POINT_LEN = 65
_X = slice(1, 33)
_UNCOMPRESSED = 2  # SECP256K1_EC_UNCOMPRESSED
_PUBKEY_BYTES = 64  # sizeof(secp256k1_pubkey)
_DST_H2C = b"fedmarket/psi/v1/secp256k1/H2C/ellswift-decode/sha512:"
_WINDOWS = 32
_DIGITS = 256

_CTX: Any = GLOBAL_CONTEXT.ctx


def _pubkeys(count: int) -> Any:
    return ffi.new("secp256k1_pubkey[]", max(count, 1))


def _address(cdata: Any) -> int:
    return int(ffi.cast("uintptr_t", cdata))


def _hash_into(ids: Sequence[PsiId]) -> Any:
    """Decode ``H(id)`` for each id into a fresh pubkey array."""
    out = _pubkeys(len(ids))
    decode = lib.secp256k1_ellswift_decode
    sha512 = hashlib.sha512
    ctx, dst = _CTX, _DST_H2C
    for i, enc in enumerate(encode_ids(ids)):
        decode(ctx, out + i, sha512(dst + enc).digest())  # never fails
    return out


def _parse_into(points: bytes, offset: int) -> Any:
    """Parse uncompressed points; reject any that is not on the curve."""
    count = len(points) // POINT_LEN
    out = _pubkeys(count)
    src = ffi.from_buffer("unsigned char[]", points)
    parse = lib.secp256k1_ec_pubkey_parse
    ctx = _CTX
    for i in range(count):
        if not parse(ctx, out + i, src + POINT_LEN * i, POINT_LEN):
            raise PsiProtocolError(f"peer point #{offset + i} is not a valid secp256k1 point")
    return out


def _multiply(arr: Any, count: int, scalar: bytes) -> None:
    tweak_mul = lib.secp256k1_ec_pubkey_tweak_mul
    ctx = _CTX
    for i in range(count):
        if not tweak_mul(ctx, arr + i, scalar):
            raise PsiCryptoError("scalar multiplication failed (invalid scalar)")


def _serialize(arr: Any, count: int) -> bytes:
    out = ffi.new("unsigned char[]", max(POINT_LEN * count, 1))
    length = ffi.new("size_t *")
    serialize = lib.secp256k1_ec_pubkey_serialize
    ctx = _CTX
    for i in range(count):
        length[0] = POINT_LEN
        serialize(ctx, out + POINT_LEN * i, length, arr + i, _UNCOMPRESSED)
    return bytes(ffi.buffer(out, POINT_LEN * count))


def _digests(points: bytes, width: int) -> bytes:
    """Leading ``width`` bytes of each point's x coordinate (the compared value)."""
    table = np.frombuffer(points, dtype=np.uint8).reshape(-1, POINT_LEN)
    return table[:, 1 : 1 + width].tobytes()


def _finish(arr: Any, count: int, width: int) -> bytes:
    points = _serialize(arr, count)
    return _digests(points, width) if width else points


class CombTable:
    """8-bit fixed-base comb for one point ``P``: ``T[k][d] = (d*256**k + c_k) * P``.

    The offsets ``c_k`` (1, ..., 1, -31) sum to zero mod n and keep every entry off the point
    at infinity, so ``sum_k T[k][digit_k(r)] = r*P`` for any 256-bit ``r``.

    Parameters
    ----------
    point : bytes
        ``P``, uncompressed.
    """

    def __init__(self, point: bytes) -> None:
        base = _parse_into(point, 0)
        self.entries: Any = _pubkeys(_WINDOWS * _DIGITS)
        self.address = _address(self.entries)
        pair = ffi.new("secp256k1_pubkey *[2]")
        step = ffi.new("secp256k1_pubkey *")
        combine, tweak_mul = lib.secp256k1_ec_pubkey_combine, lib.secp256k1_ec_pubkey_tweak_mul
        for k in range(_WINDOWS):
            offset = 1 if k < _WINDOWS - 1 else (1 - _WINDOWS) % ORDER
            row = self.entries + k * _DIGITS
            row[0] = base[0]
            step[0] = base[0]
            ok = tweak_mul(_CTX, row, offset.to_bytes(32, "big"))
            ok &= tweak_mul(_CTX, step, pow(_DIGITS, k, ORDER).to_bytes(32, "big"))
            pair[1] = step
            for d in range(1, _DIGITS):
                pair[0] = row + (d - 1)
                ok &= combine(_CTX, row + d, pair, 2)
            if not ok:  # pragma: no cover - impossible for a valid point
                raise PsiCryptoError("comb table construction failed")

    def add_multiples(self, arr: Any, count: int, randomness: bytes) -> Any:
        """Return a new array with ``arr[i] + r_i*P``, ``r_i`` the i-th 32-byte big-endian value.

        Parameters
        ----------
        arr : cdata ``secp256k1_pubkey[]``
            The points to offset.
        count : int
            Number of points.
        randomness : bytes
            ``32 * count`` bytes.

        Returns
        -------
        cdata ``secp256k1_pubkey[]``
            The sums.
        """
        digits = np.frombuffer(randomness, dtype=np.uint8).reshape(count, 32)[:, ::-1]
        pointers = np.empty((count, _WINDOWS + 1), dtype=np.uint64)
        pointers[:, 0] = _address(arr) + _PUBKEY_BYTES * np.arange(count, dtype=np.uint64)
        window_base = np.arange(_WINDOWS, dtype=np.uint64) * _DIGITS
        pointers[:, 1:] = self.address + _PUBKEY_BYTES * (window_base + digits)
        ins = ffi.cast("secp256k1_pubkey **", pointers.ctypes.data)
        out = _pubkeys(count)
        combine = lib.secp256k1_ec_pubkey_combine
        ctx, stride = _CTX, _WINDOWS + 1
        for i in range(count):
            if not combine(ctx, out + i, ins + stride * i, stride):
                raise PsiCryptoError("blinding hit the point at infinity (probability 2**-256)")
        del pointers  # kept alive until here on purpose
        return out


_G_TABLE: CombTable | None = None
_TABLES: dict[bytes, CombTable] = {}
_MAX_TABLES = 4


def generator() -> bytes:
    """Return the generator ``G``, uncompressed."""
    return base_multiple(1)


def base_multiple(scalar: int) -> bytes:
    """Return ``scalar * G``, uncompressed."""
    arr = _pubkeys(1)
    if not lib.secp256k1_ec_pubkey_create(_CTX, arr, scalar.to_bytes(32, "big")):
        raise PsiCryptoError("invalid scalar")
    return _serialize(arr, 1)


def _table_for(point: bytes) -> CombTable:
    global _G_TABLE
    if point == generator():
        if _G_TABLE is None:
            _G_TABLE = CombTable(point)
        return _G_TABLE
    table = _TABLES.pop(point, None)
    if table is None:
        table = CombTable(point)
        while len(_TABLES) >= _MAX_TABLES:  # 512 KiB each; keep the most recent keys
            del _TABLES[next(iter(_TABLES))]
    _TABLES[point] = table
    return table


def negate(point: bytes) -> bytes:
    """Return ``-P``, uncompressed."""
    arr = _parse_into(point, 0)
    lib.secp256k1_ec_pubkey_negate(_CTX, arr)
    return _serialize(arr, 1)


def is_valid_point(point: bytes) -> bool:
    """Return whether ``point`` is an uncompressed encoding of a secp256k1 point."""
    if len(point) != POINT_LEN or point[0] != 4:
        return False
    arr = _pubkeys(1)
    return bool(lib.secp256k1_ec_pubkey_parse(_CTX, arr, point, POINT_LEN))


def hash_to_curve(value: PsiId) -> bytes:
    """Return ``H(id)``, uncompressed (tests and audits)."""
    return _serialize(_hash_into([value]), 1)


# ----------------------------------------------------------------- chunk kernels (picklable)


def task_hash_mul(ids: Sequence[PsiId], scalar: bytes, width: int) -> bytes:
    """``scalar * H(id)`` per id: points (``width == 0``) or x-prefix digests of ``width``."""
    count = len(ids)
    arr = _hash_into(ids)
    _multiply(arr, count, scalar)
    return _finish(arr, count, width)


def task_mul(points: bytes, scalar: bytes, width: int, offset: int) -> bytes:
    """``scalar * P`` per peer point: points (``width == 0``) or x-prefix digests."""
    count = len(points) // POINT_LEN
    arr = _parse_into(points, offset)
    _multiply(arr, count, scalar)
    return _finish(arr, count, width)


def task_hash_blind(ids: Sequence[PsiId], randomness: bytes) -> bytes:
    """``H(id) + r*G`` per id (OPRF additive blinding), points."""
    count = len(ids)
    arr = _hash_into(ids)
    blinded = _table_for(generator()).add_multiples(arr, count, randomness)
    return _serialize(blinded, count)


def task_unblind(
    points: bytes, randomness: bytes, neg_key: bytes, width: int, offset: int
) -> bytes:
    """``Q - r*B`` per evaluated point (``neg_key = -B``), as x-prefix digests of ``width``."""
    count = len(points) // POINT_LEN
    arr = _parse_into(points, offset)
    unblinded = _table_for(neg_key).add_multiples(arr, count, randomness)
    return _finish(unblinded, count, width)


def task_floor(count: int) -> float:
    """Time ``count`` bare variable-base multiplications; return seconds per multiplication."""
    import secrets
    import time

    arr = _hash_into([secrets.token_hex(8) for _ in range(count)])
    scalar = (secrets.randbelow(ORDER - 1) + 1).to_bytes(32, "big")
    tweak_mul = lib.secp256k1_ec_pubkey_tweak_mul
    ctx = _CTX
    start = time.perf_counter()
    for i in range(count):
        tweak_mul(ctx, arr + i, scalar)
    return (time.perf_counter() - start) / max(count, 1)
