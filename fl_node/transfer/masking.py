"""Pairwise additive masking in Z_2^64: key agreement, mask stream, fixed-point encoding.

The two parties agree a mask key without the coordinator learning it: each draws an X25519
key pair, they swap public keys (relayed by the coordinator, who sees only public keys), and
each derives ``HKDF-SHA256(shared secret, info=context)``. The mask of step ``t`` is the
ChaCha20 keystream of that key with nonce ``t``, read as unsigned 64-bit integers. A gradient
is encoded in fixed point (``round(x * 2^FRACTION_BITS)`` in two's complement, Z_2^64); the
target sends ``encode(g_t) + mask``, the source ``encode(g_s) - mask``, so the sum the
coordinator forms is ``encode(g_t) + encode(g_s)`` exactly, and each single message is
uniformly distributed in Z_2^64 whatever the gradient (a one-time pad per step).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from fl_node.secagg.crypto import KeyPair as AgreementKeys
from fl_node.secagg.crypto import keystream
from fl_node.transfer.errors import TransferIntegrityError, TransferProtocolError

Words = NDArray[np.uint64]

FRACTION_BITS = 32
"""Fixed-point fraction bits: a resolution of 2^-32 (2.3e-10)."""
LIMIT = float(2 ** (62 - FRACTION_BITS))
"""Largest magnitude a party may encode: the sum of two such values still fits in int64."""
MASK_CONTEXT = b"fedmarket-ftl-mask-v1"


class KeyPair:
    """One party's X25519 key pair for the mask agreement (the private key never leaves).

    The agreement is secure aggregation's (:class:`fl_node.secagg.crypto.KeyPair`) under the
    purpose :data:`MASK_CONTEXT`.
    """

    def __init__(self) -> None:
        self._pair = AgreementKeys()

    @property
    def public(self) -> bytes:
        """The 32-byte raw public key to send."""
        return self._pair.public

    def mask_key(self, peer_public: bytes, context: bytes = b"") -> bytes:
        """The 32-byte mask key shared with the owner of ``peer_public``.

        Parameters
        ----------
        peer_public : bytes
            The other party's raw public key.
        context : bytes, default b""
            Binds the key to a task (e.g. the task id and the PSI commitment).
        """
        if len(peer_public) != 32:
            raise TransferProtocolError(
                f"mask_key: a public key has 32 bytes, not {len(peer_public)}"
            )
        return self._pair.agree(peer_public, MASK_CONTEXT, context)


def mask(key: bytes, step: int, n: int) -> Words:
    """``n`` words of the ChaCha20 keystream of ``key`` with nonce ``step``: step ``step``'s mask.

    The streams of two steps never overlap (:func:`fl_node.secagg.crypto.keystream`).
    """
    return np.frombuffer(keystream(key, 8 * n, nonce=step), dtype=np.uint64).copy()


def encode(values: NDArray[np.float64]) -> Words:
    """Fixed-point words of ``values`` (flattened): ``round(x * 2^32)`` mod 2^64.

    Raises
    ------
    TransferIntegrityError
        A value is not finite or not below :data:`LIMIT` in magnitude.
    """
    flat = np.asarray(values, dtype=np.float64).ravel()
    if not np.all(np.isfinite(flat)) or np.any(np.abs(flat) >= LIMIT):
        raise TransferIntegrityError(
            "encode: a value is not finite or exceeds the fixed-point range"
        )
    return np.rint(flat * 2.0**FRACTION_BITS).astype(np.int64).view(np.uint64)


def decode(words: Words) -> NDArray[np.float64]:
    """The real values of fixed-point words (two's complement)."""
    return words.view(np.int64).astype(np.float64) / 2.0**FRACTION_BITS


@dataclass(frozen=True)
class Masker:
    """Masks one party's encoded vectors: ``+ mask`` for sign +1, ``- mask`` for sign -1.

    Attributes
    ----------
    key : bytes
        The pairwise mask key (:meth:`KeyPair.mask_key`).
    sign : {1, -1}
        +1 for the target, -1 for the source: the two masks cancel in the sum.
    """

    key: bytes
    sign: int

    def apply(self, words: Words, step: int) -> Words:
        """``words +/- mask(step)`` in Z_2^64."""
        pad = mask(self.key, step, len(words))
        with np.errstate(over="ignore"):
            return words + pad if self.sign > 0 else words - pad


def unmasked_sum(*masked: Words) -> Words:
    """The sum in Z_2^64 of the parties' masked vectors (the masks cancel)."""
    total = np.zeros_like(masked[0])
    with np.errstate(over="ignore"):
        for words in masked:
            total = total + words
    return total


__all__ = [
    "FRACTION_BITS",
    "LIMIT",
    "KeyPair",
    "Masker",
    "decode",
    "encode",
    "mask",
    "unmasked_sum",
]
