"""The primitives of secure aggregation: X25519 agreement, ChaCha20 masks, AES-GCM envelopes.

- Key agreement: ``HKDF-SHA256(X25519(sk_u, pk_v), info=purpose | context)``, the same 32 bytes
  for ``u`` and ``v``; ``context`` binds it to the task and the round.
- Masks: the ChaCha20 keystream of a 32-byte seed (nonce 0: every seed serves one round and one
  purpose) read as little-endian ``uint32`` words, so a mask is uniform in ``Z_2^32``.
- Envelopes: AES-256-GCM with a random 96-bit nonce; the associated data names the task, the
  round, the sender and the recipient, so an envelope moved to another pair or round fails.
"""

from __future__ import annotations

import os

import numpy as np
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)
from numpy.typing import NDArray

from fl_node.secagg.errors import SecAggProtocolError, ShareIntegrityError

KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
ENCRYPTION = b"fedmarket-secagg-enc-v1"
"""HKDF purpose of the c-key agreement (share envelopes)."""
MASKING = b"fedmarket-secagg-mask-v1"
"""HKDF purpose of the s-key agreement (pairwise masks)."""


class KeyPair:
    """An X25519 key pair; :meth:`secret` exports the private key for Shamir sharing."""

    def __init__(self, private: bytes | None = None) -> None:
        if private is None:
            self._private = X25519PrivateKey.generate()
        elif len(private) == KEY_BYTES:
            self._private = X25519PrivateKey.from_private_bytes(private)
        else:
            raise SecAggProtocolError(f"KeyPair: a private key has 32 bytes, not {len(private)}")

    @property
    def public(self) -> bytes:
        """The 32-byte raw public key."""
        return self._private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    def secret(self) -> bytes:
        """The 32-byte raw private key (shared only as Shamir shares)."""
        return self._private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())

    def agree(self, peer_public: bytes, purpose: bytes, context: bytes) -> bytes:
        """The 32-byte key shared with the owner of ``peer_public``.

        Parameters
        ----------
        peer_public : bytes
            The peer's raw public key.
        purpose : bytes
            :data:`ENCRYPTION` or :data:`MASKING`: the two uses never share a key.
        context : bytes
            The task and round (:func:`fl_node.secagg.messages.context`).
        """
        if len(peer_public) != KEY_BYTES:
            raise SecAggProtocolError(f"agree: a public key has 32 bytes, not {len(peer_public)}")
        shared = self._private.exchange(X25519PublicKey.from_public_bytes(peer_public))
        hkdf = HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=purpose + context)
        return hkdf.derive(shared)


def keystream(key: bytes, nbytes: int, nonce: int = 0) -> bytes:
    """``nbytes`` of the ChaCha20 keystream of ``key`` under the 96-bit ``nonce``.

    The 16 bytes ``cryptography`` takes are the 32-bit block counter (0) then the nonce, so the
    streams of two nonces never overlap (below 2^38 bytes each).
    """
    iv = bytes(4) + nonce.to_bytes(12, "little")
    return Cipher(algorithms.ChaCha20(key, iv), mode=None).encryptor().update(bytes(nbytes))


def mask_words(seed: bytes, n: int) -> NDArray[np.uint32]:
    """``n`` words of the ChaCha20 keystream of ``seed``: a uniform mask in ``Z_2^32``."""
    return np.frombuffer(keystream(seed, 4 * n), dtype="<u4").astype(np.uint32)


def random_seed() -> bytes:
    """32 bytes from the operating system's generator (a self-mask seed ``b_u``)."""
    return os.urandom(KEY_BYTES)


def seal(key: bytes, plaintext: bytes, binding: bytes) -> bytes:
    """``nonce | AES-GCM(key, plaintext, associated data = binding)``."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, binding)


def open_sealed(key: bytes, sealed: bytes, binding: bytes) -> bytes:
    """The plaintext of :func:`seal`'s output.

    Raises
    ------
    ShareIntegrityError
        The envelope was altered, or it was sealed for another key or binding.
    """
    try:
        return AESGCM(key).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], binding)
    except InvalidTag as exc:
        raise ShareIntegrityError("open: the envelope fails its AES-GCM check") from exc


__all__ = [
    "ENCRYPTION",
    "KEY_BYTES",
    "MASKING",
    "NONCE_BYTES",
    "TAG_BYTES",
    "KeyPair",
    "mask_words",
    "open_sealed",
    "random_seed",
    "seal",
]
