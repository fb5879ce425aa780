"""Shared pieces of the PSI protocols: errors, id encoding, randomness, digest widths, results.

Nothing here is protocol specific; :mod:`fl_node.vertical.crypto.psi.ecdh` and
:mod:`fl_node.vertical.crypto.psi.rsa` build on it.
"""

from __future__ import annotations

import hashlib
import logging
import math
import operator
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import SupportsIndex, TypeAlias, cast

import numpy as np
import numpy.typing as npt

from kernel.errors import (
    ConfigurationError,
    FedmarketError,
    IntegrityError,
    InvalidInputError,
    ProtocolError,
)

logger = logging.getLogger(__name__)

PsiId: TypeAlias = str | int | bytes
"""An identifier that can take part in a PSI run (``bool`` is rejected)."""

STATISTICAL_SECURITY_BITS = 40
"""Failure probability bound, as ``2**-STATISTICAL_SECURITY_BITS``, of the truncated compare."""

_MIN_DIGEST_WIDTH = 8
_MAX_DIGEST_WIDTH = 32
_COMMITMENT_DST = b"fedmarket/psi/v1/intersection-commitment"
_RNG_DST = b"fedmarket/psi/v1/test-rng"


class PsiError(FedmarketError):
    """Root of every error raised by the PSI package (never raised itself)."""


class PsiProtocolError(PsiError, ProtocolError):
    """A peer message is malformed or invalid (bad length, bad point, out-of-range value)."""


class PsiUsageError(PsiError, InvalidInputError):
    """An argument is invalid, or a protocol step was called before the one it needs."""


class PsiIdError(PsiUsageError, TypeError):
    """An id is not ``str``, ``int`` or ``bytes`` (``bool`` is rejected)."""


class PsiCryptoError(PsiError, IntegrityError):
    """A computation failed its own check (a fault or a negligible-probability event).

    Nothing computed from it was sent to the peer.
    """


class PsiDependencyError(PsiError, ConfigurationError):
    """The installed libraries lack what a protocol needs (coincurve >= 21 for ECDH-PSI)."""


def encode_id(value: object) -> bytes:
    """Return the canonical, type-tagged byte encoding of an id.

    ``str`` ids encode as ``b"s" + utf-8``, integers (anything with ``__index__`` except
    ``bool``) as ``b"i" + minimal two's-complement big-endian`` and ``bytes`` as
    ``b"b" + value``. The tag keeps ``1``, ``"1"`` and ``b"1"`` distinct. No Unicode
    normalisation is applied: normalise ids upstream if both sides may differ in form.

    Parameters
    ----------
    value : str | int | bytes
        The id.

    Returns
    -------
    bytes
        The encoding.

    Raises
    ------
    PsiIdError
        For ``bool`` or any unsupported type.
    """
    if isinstance(value, str):
        return b"s" + value.encode("utf-8", "surrogatepass")
    if isinstance(value, bytes | bytearray | memoryview):
        return b"b" + bytes(value)
    if isinstance(value, bool) or not hasattr(type(value), "__index__"):
        raise PsiIdError(f"PSI ids must be str, int or bytes, not {type(value).__name__}")
    number = operator.index(cast(SupportsIndex, value))
    length = number.bit_length() // 8 + 1
    return b"i" + number.to_bytes(length, "big", signed=True)


class IdTable:
    """The deduplicated ids of one party, in first-seen order.

    Deduplication uses Python equality on the normalised ids (``str``, ``int``, ``bytes``),
    which for these types is exactly equality of :func:`encode_id` encodings. Encoding and
    hashing happen later, chunk by chunk, in the worker processes.

    Parameters
    ----------
    ids : Iterable[PsiId]
        The party's ids; duplicates are dropped (set semantics).

    Raises
    ------
    PsiIdError
        If an id is not ``str``, ``int`` or ``bytes`` (``bool`` is rejected).
    """

    __slots__ = ("ids",)

    def __init__(self, ids: Iterable[PsiId]) -> None:
        values = ids if isinstance(ids, list) else list(ids)
        if not all(type(value) is str for value in values):
            values = [_plain(value) for value in values]
        self.ids: list[PsiId] = list(dict.fromkeys(values))

    def __len__(self) -> int:
        return len(self.ids)

    def take(self, order: npt.NDArray[np.intp]) -> list[PsiId]:
        """Return the ids in the given order."""
        ids = self.ids
        return [ids[i] for i in order.tolist()]


def encode_ids(ids: Sequence[PsiId]) -> list[bytes]:
    """Encode many ids with :func:`encode_id` (fast path for ``str``)."""
    return [
        b"s" + value.encode("utf-8", "surrogatepass") if type(value) is str else encode_id(value)
        for value in ids
    ]


def _plain(value: object) -> PsiId:
    if isinstance(value, str | bytes):
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    encode_id(value)  # raises TypeError for bool and unsupported types
    return operator.index(cast(SupportsIndex, value))


class Rng:
    """Randomness source: :mod:`secrets` normally, a SHAKE-256 stream when seeded (tests only).

    Parameters
    ----------
    seed : bytes or None
        ``None`` (production) draws from the OS CSPRNG. A seed makes every draw
        reproducible; it must never be used outside tests.
    label : str
        Separates the streams of parties that share a test seed.
    """

    def __init__(self, seed: bytes | None, label: str) -> None:
        self._key: bytes | None = None
        if seed is not None:
            tag = label.encode()
            self._key = hashlib.sha256(_RNG_DST + len(tag).to_bytes(2, "big") + tag + seed).digest()
            logger.warning("PSI party %r uses a fixed seed: for tests only", label)
        self._counter = 0

    def token_bytes(self, n: int) -> bytes:
        """Return ``n`` random bytes."""
        if n <= 0:
            return b""
        if self._key is None:
            return secrets.token_bytes(n)
        self._counter += 1
        return hashlib.shake_256(self._key + self._counter.to_bytes(8, "big")).digest(n)

    def scalar(self, modulus: int) -> int:
        """Return a uniform integer in ``[1, modulus - 1]`` (statistical distance ``2**-128``)."""
        width = (modulus.bit_length() + 7) // 8 + 16
        return 1 + int.from_bytes(self.token_bytes(width), "big") % (modulus - 1)

    def permutation(self, n: int) -> npt.NDArray[np.intp]:
        """Return a uniformly random permutation of ``range(n)`` keyed by 64-bit random tags."""
        tags = np.frombuffer(self.token_bytes(8 * n), dtype="<u8")
        return np.argsort(tags, kind="stable")


def digest_width(count_a: int, count_b: int) -> int:
    """Return the byte length of the truncated values compared in the final step.

    Every compared value is pseudorandom (a DDH / RSA output), so any two of the
    ``N = count_a + count_b`` values collide on ``w`` bytes with probability ``2**(-8w)``
    and, by the union bound over at most ``N**2 / 2`` pairs, a false match (or a lost
    match) happens with probability at most ``N**2 * 2**(-8w) / 2``. The width is the
    smallest ``w`` with ``8w >= STATISTICAL_SECURITY_BITS + 2*log2(N)``, clamped to
    ``[8, 32]``: 10 bytes for 100k x 100k, 11 bytes for 1M x 1M.

    Parameters
    ----------
    count_a, count_b : int
        The two set sizes.

    Returns
    -------
    int
        The width in bytes.
    """
    total = max(count_a + count_b, 2)
    bits = STATISTICAL_SECURITY_BITS + 2 * math.log2(total)
    return min(_MAX_DIGEST_WIDTH, max(_MIN_DIGEST_WIDTH, math.ceil(bits / 8)))


def rows(data: bytes, width: int) -> list[bytes]:
    """Split ``data`` into ``len(data) // width`` rows of ``width`` bytes."""
    return [data[i : i + width] for i in range(0, len(data), width)]


def match_positions(mine: bytes, peer: bytes, width: int) -> tuple[list[int], list[int]]:
    """Find which of my rows occur among the peer's rows.

    Sorts the peer's 8-byte row prefixes and binary-searches mine (numpy), then confirms full
    rows; falls back to a hash map when two peer rows share a prefix.

    Parameters
    ----------
    mine, peer : bytes
        Concatenated rows of ``width`` bytes (``width >= 8``).
    width : int
        Row width.

    Returns
    -------
    tuple[list[int], list[int]]
        Positions in ``mine`` that matched, and for each the matching position in ``peer``.
    """
    if not mine or not peer:
        return [], []
    mine_rows = np.frombuffer(mine, dtype=np.uint8).reshape(-1, width)
    peer_rows = np.frombuffer(peer, dtype=np.uint8).reshape(-1, width)
    mine_keys = np.ascontiguousarray(mine_rows[:, :8]).view(">u8").ravel()
    peer_keys = np.ascontiguousarray(peer_rows[:, :8]).view(">u8").ravel()
    order = np.argsort(peer_keys, kind="stable")
    sorted_keys = peer_keys[order]
    if width < 8 or bool(np.any(sorted_keys[1:] == sorted_keys[:-1])):
        return _match_positions_dict(mine, peer, width)
    slot = np.minimum(np.searchsorted(sorted_keys, mine_keys), len(sorted_keys) - 1)
    candidates = np.flatnonzero(sorted_keys[slot] == mine_keys)
    peer_pos = order[slot[candidates]]
    same = np.all(mine_rows[candidates] == peer_rows[peer_pos], axis=1)
    return candidates[same].tolist(), peer_pos[same].tolist()


def _match_positions_dict(mine: bytes, peer: bytes, width: int) -> tuple[list[int], list[int]]:
    index = {row: j for j, row in enumerate(rows(peer, width))}
    mine_pos: list[int] = []
    peer_pos: list[int] = []
    for i, row in enumerate(rows(mine, width)):
        j = index.get(row)
        if j is not None:
            mine_pos.append(i)
            peer_pos.append(j)
    return mine_pos, peer_pos


@dataclass(frozen=True)
class PsiResult:
    """Outcome of a local two-party PSI run.

    Attributes
    ----------
    method : str
        Protocol name, e.g. ``"ecdh-oprf-secp256k1"``.
    intersection : list[PsiId]
        The intersection as learned by the guest, in the guest's input order.
    seconds : float
        Wall-clock time of the whole run (worker start-up included).
    bytes_sent : dict[str, int]
        Serialized bytes sent by ``"guest"`` and by ``"host"``.
    messages : int
        Number of messages exchanged.
    host_intersection : list[PsiId] or None
        What the host learned (its own ids, in its input order), ``None`` if it was not told.
    phases : dict[str, float]
        Seconds per protocol phase.
    """

    method: str
    intersection: list[PsiId]
    seconds: float
    bytes_sent: dict[str, int]
    messages: int
    host_intersection: list[PsiId] | None = None
    phases: dict[str, float] = field(default_factory=dict)


def intersection_commitment(ids: Iterable[PsiId], salt: bytes) -> bytes:
    """Return a 32-byte SHA-256 commitment to an intersection, for recording on chain.

    The commitment covers the sorted canonical encodings (see :func:`encode_id`) of the
    distinct ids, so both parties get the same value whatever their order or duplicates:
    ``SHA256(DST || len(salt) || salt || count || (len(enc) || enc)*)`` with 2-, 8- and
    4-byte big-endian lengths. The salt (at least 16 bytes, kept off chain and shared by the
    parties) stops anyone from testing guessed ids against the published value.

    Parameters
    ----------
    ids : Iterable[PsiId]
        The intersection.
    salt : bytes
        Secret random salt, 16 to 65535 bytes.

    Returns
    -------
    bytes
        The 32-byte commitment.

    Raises
    ------
    PsiUsageError
        If the salt is shorter than 16 bytes or longer than 65535.
    """
    if not 16 <= len(salt) <= 0xFFFF:
        raise PsiUsageError("the commitment salt must be 16 to 65535 bytes")
    encodings = sorted(set(encode_ids(list(ids))))
    digest = hashlib.sha256(_COMMITMENT_DST)
    digest.update(len(salt).to_bytes(2, "big") + salt)
    digest.update(len(encodings).to_bytes(8, "big"))
    for enc in encodings:
        digest.update(len(enc).to_bytes(4, "big") + enc)
    return digest.digest()


def ids_at(table: IdTable, order: npt.NDArray[np.intp], positions: Sequence[int]) -> list[PsiId]:
    """Map positions in a shuffled message back to ids, in the party's input order."""
    items = sorted(int(order[p]) for p in positions)
    return [table.ids[i] for i in items]
