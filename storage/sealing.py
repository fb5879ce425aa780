"""Sealed artifacts: AES-256-GCM under a fresh per-artifact key, and that key wrapped to a buyer.

An artifact (a model, a dataset) is stored encrypted; whoever pays gets its content key wrapped to
the public key of their Ethereum account, recovered from the signature they signed in with, and
unwraps it locally with their private key. Everything here is a pure function of its inputs (and
of fresh randomness for keys and nonces); nothing is stored or sent.

Sealed envelope, version 1 (integers big-endian)::

    offset  size    field
    0       4       magic b"FMSA"
    4       1       version = 1
    5       12      nonce (random, 96 bits)
    17      8       plaintext length n
    25      n + 16  AES-256-GCM ciphertext, then its 16-byte tag

The associated data is the 25-byte header followed by the caller's *purpose* (for example
``b"fedmarket:model:" + cid``), so an envelope opens only for the purpose it was sealed for.

Wrapped key, version 1: ECIES over secp256k1, 98 bytes::

    offset  size  field
    0       4     magic b"FMWK"
    4       1     version = 1
    5       33    ephemeral public key (SEC1 compressed)
    38      12    nonce (random, 96 bits)
    50      48    AES-256-GCM ciphertext of the 32-byte content key, then its tag

The key-encryption key is ``HKDF-SHA256(ikm=z, salt=E || R, info=b"fedmarket key-wrap v1" ||
context, length=32)``, where ``E`` and ``R`` are the compressed ephemeral and recipient public keys
and ``z`` is libsecp256k1's ECDH secret, ``SHA-256(compressed(e * R))``. The associated data is the
50-byte header followed by the caller's *context* (for example the listing id and the buyer's
address), so a wrapped key opens only in the context it was made for.

Browser-wrapped key, version 1: ECIES over P-256 (NIST secp256r1), 130 bytes, for a browser
that holds a WebCrypto ECDH key (a wallet cannot do ECDH with its account key)::

    offset  size  field
    0       4     magic b"FMBK"
    4       1     version = 1
    5       65    ephemeral public key E (SEC1 uncompressed, 0x04 || x || y)
    70      12    nonce (random, 96 bits)
    82      48    AES-256-GCM ciphertext of the 32-byte content key, then its tag

The key-encryption key is ``HKDF-SHA256(ikm=z, salt=E || R, info=b"fedmarket browser key-wrap
v1" || context, length=32)``, where ``R`` is the recipient's uncompressed public key (as
WebCrypto exports it, ``"raw"``) and ``z`` the x-coordinate of ``e * R`` (what WebCrypto's
``deriveBits`` returns for ECDH). The associated data is the 82-byte header followed by the
caller's *context*.
"""

from __future__ import annotations

import logging
import secrets
import struct
from dataclasses import dataclass, field
from typing import Final

from coincurve import PrivateKey, PublicKey
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from eth_account.messages import defunct_hash_message
from eth_keys.datatypes import PublicKey as EthPublicKey
from eth_keys.datatypes import Signature as EthSignature
from eth_keys.exceptions import BadSignature
from eth_utils.address import to_checksum_address
from eth_utils.exceptions import ValidationError

from kernel.alerts import raise_alert
from storage.errors import InvalidKeyError, SealedDataError, SignerMismatchError

log = logging.getLogger(__name__)

KEY_BYTES: Final = 32
"""Length of a content key (AES-256)."""

NONCE_BYTES: Final = 12
TAG_BYTES: Final = 16

ENVELOPE_MAGIC: Final = b"FMSA"
ENVELOPE_VERSION: Final = 1
_ENVELOPE_HEADER = struct.Struct(">4sB12sQ")
ENVELOPE_OVERHEAD: Final = _ENVELOPE_HEADER.size + TAG_BYTES
"""Bytes an envelope adds to its plaintext (41)."""

WRAP_MAGIC: Final = b"FMWK"
WRAP_VERSION: Final = 1
_WRAP_HEADER = struct.Struct(">4sB33s12s")
WRAPPED_KEY_BYTES: Final = _WRAP_HEADER.size + KEY_BYTES + TAG_BYTES
"""Length of a wrapped content key (98)."""

_WRAP_INFO: Final = b"fedmarket key-wrap v1"

P256_WRAP_MAGIC: Final = b"FMBK"
P256_WRAP_VERSION: Final = 1
P256_POINT_BYTES: Final = 65
_P256_WRAP_HEADER = struct.Struct(">4sB65s12s")
P256_WRAPPED_KEY_BYTES: Final = _P256_WRAP_HEADER.size + KEY_BYTES + TAG_BYTES
"""Length of a browser-wrapped content key (130)."""

_P256_WRAP_INFO: Final = b"fedmarket browser key-wrap v1"


@dataclass(frozen=True)
class SealedArtifact:
    """An artifact sealed under its own fresh key.

    Attributes
    ----------
    envelope : bytes
        What may be stored and published (see the module docstring for its layout).
    key : bytes
        The 32-byte content key; never stored beside the envelope, never logged.
    """

    envelope: bytes
    key: bytes = field(repr=False)


def _as_bytes(value: bytes | str) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


def _check_key(key: bytes) -> None:
    if len(key) != KEY_BYTES:
        raise InvalidKeyError(f"a content key is {KEY_BYTES} bytes, not {len(key)}")


def new_content_key() -> bytes:
    """A fresh random 32-byte content key (AES-256), from the operating system's CSPRNG."""
    return secrets.token_bytes(KEY_BYTES)


def seal(plaintext: bytes, key: bytes, *, purpose: bytes | str) -> bytes:
    """Encrypt ``plaintext`` into a version-1 envelope under ``key``, bound to ``purpose``.

    Parameters
    ----------
    plaintext : bytes
        The artifact's bytes.
    key : bytes
        A 32-byte content key (:func:`new_content_key`); use each key for one artifact.
    purpose : bytes or str
        Associated data the envelope is bound to (a model CID, a listing id); a ``str`` is
        encoded as UTF-8. The same purpose must be given to :func:`open_sealed`.

    Raises
    ------
    InvalidKeyError
        ``key`` is not 32 bytes.
    """
    _check_key(key)
    nonce = secrets.token_bytes(NONCE_BYTES)
    header = _ENVELOPE_HEADER.pack(ENVELOPE_MAGIC, ENVELOPE_VERSION, nonce, len(plaintext))
    body = AESGCM(key).encrypt(nonce, plaintext, header + _as_bytes(purpose))
    return header + body


def seal_artifact(plaintext: bytes, *, purpose: bytes | str) -> SealedArtifact:
    """Seal ``plaintext`` under a fresh content key and return the envelope with its key.

    Parameters
    ----------
    plaintext : bytes
        The artifact's bytes.
    purpose : bytes or str
        Associated data the envelope is bound to (see :func:`seal`).
    """
    key = new_content_key()
    return SealedArtifact(envelope=seal(plaintext, key, purpose=purpose), key=key)


def open_sealed(envelope: bytes, key: bytes, *, purpose: bytes | str) -> bytes:
    """Decrypt a version-1 envelope made by :func:`seal` and return the plaintext.

    Parameters
    ----------
    envelope : bytes
        The sealed bytes.
    key : bytes
        The 32-byte content key it was sealed under.
    purpose : bytes or str
        The associated data it was sealed with.

    Raises
    ------
    InvalidKeyError
        ``key`` is not 32 bytes.
    SealedDataError
        The envelope is malformed (magic, version, length) or fails authentication: a changed
        byte, the wrong key or the wrong purpose.
    """
    _check_key(key)
    if len(envelope) < ENVELOPE_OVERHEAD:
        raise SealedDataError(f"open_sealed: {len(envelope)} bytes is shorter than any envelope")
    header = envelope[: _ENVELOPE_HEADER.size]
    magic, version, nonce, length = _ENVELOPE_HEADER.unpack(header)
    if magic != ENVELOPE_MAGIC:
        raise SealedDataError("open_sealed: not a sealed envelope (bad magic)")
    if version != ENVELOPE_VERSION:
        raise SealedDataError(f"open_sealed: unsupported envelope version {version}")
    if len(envelope) != ENVELOPE_OVERHEAD + length:
        raise SealedDataError(
            f"open_sealed: envelope is {len(envelope)} bytes, its header says "
            f"{ENVELOPE_OVERHEAD + length}"
        )
    try:
        return AESGCM(key).decrypt(nonce, envelope[len(header) :], header + _as_bytes(purpose))
    except InvalidTag:
        detail = "open_sealed: authentication failed (tampered, wrong key or wrong purpose)"
        raise_alert("unexpected_key_use", detail, source=__name__)
        raise SealedDataError(detail) from None


def _public_key(public_key: bytes) -> PublicKey:
    """Parse a secp256k1 public key: 33 (compressed), 65 (0x04 ...) or 64 bytes (raw x || y)."""
    raw = bytes(public_key)
    if len(raw) == 64:
        raw = b"\x04" + raw
    try:
        return PublicKey(raw)
    except (ValueError, TypeError) as exc:
        raise InvalidKeyError(f"not a secp256k1 public key ({len(public_key)} bytes)") from exc


def _private_key(private_key: bytes) -> PrivateKey:
    if len(private_key) != KEY_BYTES:
        raise InvalidKeyError(f"a secp256k1 private key is 32 bytes, not {len(private_key)}")
    try:
        return PrivateKey(bytes(private_key))
    except (ValueError, TypeError) as exc:
        raise InvalidKeyError("not a valid secp256k1 private key") from exc


def _kek(shared: bytes, ephemeral: bytes, recipient: bytes, context: bytes) -> bytes:
    """The key-encryption key: HKDF-SHA256 over the ECDH secret, salted with both public keys."""
    hkdf = HKDF(
        algorithm=SHA256(), length=KEY_BYTES, salt=ephemeral + recipient, info=_WRAP_INFO + context
    )
    return hkdf.derive(shared)


def wrap_key(key: bytes, recipient_public_key: bytes, *, context: bytes | str) -> bytes:
    """Encrypt a content key to the holder of a secp256k1 (Ethereum) public key.

    Parameters
    ----------
    key : bytes
        The 32-byte content key.
    recipient_public_key : bytes
        The recipient's public key: 33 bytes (compressed), 65 (``0x04`` uncompressed) or 64
        (raw, as eth-keys gives it); e.g. from :func:`recover_public_key`.
    context : bytes or str
        Associated data the wrapped key is bound to (listing id, buyer address); the same context
        must be given to :func:`unwrap_key`.

    Raises
    ------
    InvalidKeyError
        ``key`` is not 32 bytes or the public key is not a point of secp256k1.
    """
    _check_key(key)
    recipient = _public_key(recipient_public_key).format(compressed=True)
    ephemeral = PrivateKey()
    ephemeral_pub = ephemeral.public_key.format(compressed=True)
    kek = _kek(ephemeral.ecdh(recipient), ephemeral_pub, recipient, _as_bytes(context))
    nonce = secrets.token_bytes(NONCE_BYTES)
    header = _WRAP_HEADER.pack(WRAP_MAGIC, WRAP_VERSION, ephemeral_pub, nonce)
    return header + AESGCM(kek).encrypt(nonce, key, header + _as_bytes(context))


def unwrap_key(wrapped: bytes, private_key: bytes, *, context: bytes | str) -> bytes:
    """Decrypt a content key wrapped by :func:`wrap_key`, with the recipient's private key.

    Parameters
    ----------
    wrapped : bytes
        The 98-byte wrapped key.
    private_key : bytes
        The recipient's 32-byte secp256k1 private key (an Ethereum account's key).
    context : bytes or str
        The associated data it was wrapped with.

    Raises
    ------
    InvalidKeyError
        ``private_key`` is not a valid secp256k1 private key.
    SealedDataError
        The wrapped key is malformed or fails authentication: a changed byte, another
        recipient's key or the wrong context.
    """
    secret = _private_key(private_key)
    if len(wrapped) != WRAPPED_KEY_BYTES:
        raise SealedDataError(f"unwrap_key: {len(wrapped)} bytes, a wrapped key is 98")
    header = wrapped[: _WRAP_HEADER.size]
    magic, version, ephemeral_pub, nonce = _WRAP_HEADER.unpack(header)
    if magic != WRAP_MAGIC:
        raise SealedDataError("unwrap_key: not a wrapped key (bad magic)")
    if version != WRAP_VERSION:
        raise SealedDataError(f"unwrap_key: unsupported wrapped-key version {version}")
    try:
        shared = secret.ecdh(ephemeral_pub)
    except (ValueError, TypeError):
        raise SealedDataError("unwrap_key: the ephemeral public key is not a curve point") from None
    recipient = secret.public_key.format(compressed=True)
    kek = _kek(shared, ephemeral_pub, recipient, _as_bytes(context))
    try:
        return AESGCM(kek).decrypt(nonce, wrapped[len(header) :], header + _as_bytes(context))
    except InvalidTag:
        detail = "unwrap_key: authentication failed (tampered, another recipient or wrong context)"
        raise_alert("unexpected_key_use", detail, source=__name__)
        raise SealedDataError(detail) from None


def _p256_point(public_key: bytes) -> ec.EllipticCurvePublicKey:
    """Parse a 65-byte uncompressed P-256 point, refusing anything not on the curve."""
    raw = bytes(public_key)
    if len(raw) != P256_POINT_BYTES or raw[0] != 4:
        raise InvalidKeyError(
            f"a P-256 public key is {P256_POINT_BYTES} bytes starting 0x04 (uncompressed), "
            f"not {len(raw)} bytes"
        )
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
    except ValueError as exc:
        raise InvalidKeyError("not a point of P-256") from exc


def _p256_raw(public_key: ec.EllipticCurvePublicKey) -> bytes:
    return public_key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)


def check_p256_public_key(public_key: bytes) -> bytes:
    """Check a P-256 public key as WebCrypto exports it (``"raw"``) and return its 65 bytes.

    Parameters
    ----------
    public_key : bytes
        ``0x04 || x || y``, 65 bytes.

    Raises
    ------
    InvalidKeyError
        Not 65 bytes starting ``0x04``, or not a point of P-256.
    """
    return _p256_raw(_p256_point(public_key))


def _p256_kek(shared: bytes, ephemeral: bytes, recipient: bytes, context: bytes) -> bytes:
    """The browser wrap's key-encryption key (see the module docstring)."""
    hkdf = HKDF(
        algorithm=SHA256(),
        length=KEY_BYTES,
        salt=ephemeral + recipient,
        info=_P256_WRAP_INFO + context,
    )
    return hkdf.derive(shared)


def wrap_key_p256(
    content_key: bytes, recipient_public_key: bytes, *, context: bytes | str
) -> bytes:
    """Encrypt a content key to the holder of a P-256 key (a browser's WebCrypto ECDH key).

    Parameters
    ----------
    content_key : bytes
        The 32-byte content key.
    recipient_public_key : bytes
        The recipient's 65-byte uncompressed P-256 point, as WebCrypto exports it (``"raw"``).
    context : bytes or str
        Associated data the wrapped key is bound to; the same context must be given to
        :func:`unwrap_key_p256` (or to the browser's unwrap).

    Raises
    ------
    InvalidKeyError
        ``content_key`` is not 32 bytes or the public key is not a point of P-256.
    """
    _check_key(content_key)
    recipient_key = _p256_point(recipient_public_key)
    recipient = _p256_raw(recipient_key)
    ephemeral = ec.generate_private_key(ec.SECP256R1())
    ephemeral_pub = _p256_raw(ephemeral.public_key())
    shared = ephemeral.exchange(ec.ECDH(), recipient_key)
    kek = _p256_kek(shared, ephemeral_pub, recipient, _as_bytes(context))
    nonce = secrets.token_bytes(NONCE_BYTES)
    header = _P256_WRAP_HEADER.pack(P256_WRAP_MAGIC, P256_WRAP_VERSION, ephemeral_pub, nonce)
    return header + AESGCM(kek).encrypt(nonce, content_key, header + _as_bytes(context))


def _p256_private_key(private_key: bytes) -> ec.EllipticCurvePrivateKey:
    if len(private_key) != KEY_BYTES:
        raise InvalidKeyError(f"a P-256 private key is 32 bytes, not {len(private_key)}")
    try:
        return ec.derive_private_key(int.from_bytes(private_key, "big"), ec.SECP256R1())
    except ValueError as exc:
        raise InvalidKeyError("not a valid P-256 private key") from exc


def unwrap_key_p256(wrapped: bytes, private_key: bytes, *, context: bytes | str) -> bytes:
    """Decrypt a content key wrapped by :func:`wrap_key_p256` (what the browser does, in Python).

    Parameters
    ----------
    wrapped : bytes
        The 130-byte browser-wrapped key.
    private_key : bytes
        The recipient's 32-byte P-256 private scalar (big-endian).
    context : bytes or str
        The associated data it was wrapped with.

    Raises
    ------
    InvalidKeyError
        ``private_key`` is not a valid P-256 private key.
    SealedDataError
        The wrapped key is malformed or fails authentication: a changed byte, another
        recipient's key or the wrong context.
    """
    secret = _p256_private_key(private_key)
    if len(wrapped) != P256_WRAPPED_KEY_BYTES:
        raise SealedDataError(
            f"unwrap_key_p256: {len(wrapped)} bytes, a browser-wrapped key is "
            f"{P256_WRAPPED_KEY_BYTES}"
        )
    header = wrapped[: _P256_WRAP_HEADER.size]
    magic, version, ephemeral_pub, nonce = _P256_WRAP_HEADER.unpack(header)
    if magic != P256_WRAP_MAGIC:
        raise SealedDataError("unwrap_key_p256: not a browser-wrapped key (bad magic)")
    if version != P256_WRAP_VERSION:
        raise SealedDataError(f"unwrap_key_p256: unsupported wrapped-key version {version}")
    try:
        ephemeral = _p256_point(ephemeral_pub)
    except InvalidKeyError:
        raise SealedDataError("unwrap_key_p256: the ephemeral key is not a P-256 point") from None
    shared = secret.exchange(ec.ECDH(), ephemeral)
    recipient = _p256_raw(secret.public_key())
    kek = _p256_kek(shared, ephemeral_pub, recipient, _as_bytes(context))
    try:
        return AESGCM(kek).decrypt(nonce, wrapped[len(header) :], header + _as_bytes(context))
    except InvalidTag:
        detail = (
            "unwrap_key_p256: authentication failed (tampered, another recipient or wrong context)"
        )
        raise_alert("unexpected_key_use", detail, source=__name__)
        raise SealedDataError(detail) from None


def p256_public_key_of(private_key: bytes) -> bytes:
    """The 65-byte uncompressed P-256 public key of a 32-byte private scalar (for tests, clients).

    Parameters
    ----------
    private_key : bytes
        A 32-byte P-256 private scalar (big-endian).

    Raises
    ------
    InvalidKeyError
        ``private_key`` is not a valid P-256 private key.
    """
    return _p256_raw(_p256_private_key(private_key).public_key())


def public_key_of(private_key: bytes) -> bytes:
    """The compressed (33-byte) public key of a secp256k1 private key.

    Parameters
    ----------
    private_key : bytes
        A 32-byte secp256k1 private key.

    Raises
    ------
    InvalidKeyError
        ``private_key`` is not a valid secp256k1 private key.
    """
    return bytes(_private_key(private_key).public_key.format(compressed=True))


def address_of(public_key: bytes) -> str:
    """The checksummed Ethereum address of a secp256k1 public key.

    Parameters
    ----------
    public_key : bytes
        33, 64 or 65 bytes (see :func:`wrap_key`).

    Raises
    ------
    InvalidKeyError
        ``public_key`` is not a point of secp256k1.
    """
    raw = _public_key(public_key).format(compressed=False)[1:]
    return str(EthPublicKey(raw).to_checksum_address())


def _signature(signature: bytes) -> EthSignature:
    """Parse a 65-byte ``r || s || v`` signature, ``v`` in {27, 28} (or {0, 1})."""
    if len(signature) != 65:
        raise InvalidKeyError(f"a signature is 65 bytes (r, s, v), not {len(signature)}")
    v = signature[64]
    if v in (27, 28):
        v -= 27
    if v not in (0, 1):
        raise InvalidKeyError(f"signature recovery id v={signature[64]} is not 27, 28, 0 or 1")
    try:
        return EthSignature(signature_bytes=bytes(signature[:64]) + bytes([v]))
    except (BadSignature, ValidationError) as exc:
        raise InvalidKeyError(f"malformed signature: {exc}") from exc


def _checksum(address: str) -> str:
    try:
        return str(to_checksum_address(address))
    except ValueError as exc:
        raise InvalidKeyError(f"not an Ethereum address: {address!r}") from exc


def recover_public_key(
    message: bytes | str, signature: bytes, *, expected_address: str | None = None
) -> bytes:
    """The public key that signed ``message`` under EIP-191 (``personal_sign``), compressed.

    This is how the service learns a buyer's public key from the sign-in message (for example a
    SIWE message) the buyer signed with their Ethereum account.

    Parameters
    ----------
    message : bytes or str
        The message as signed: a ``str`` is encoded as UTF-8, ``bytes`` are taken as they are.
    signature : bytes
        The 65-byte signature (``r || s || v``).
    expected_address : str or None, default None
        When given, the address the signature must come from (any case).

    Raises
    ------
    InvalidKeyError
        The signature is malformed or recovers no public key.
    SignerMismatchError
        The signature recovers to another address than ``expected_address``.
    """
    if isinstance(message, str):
        digest = defunct_hash_message(text=message)
    else:
        digest = defunct_hash_message(primitive=bytes(message))
    try:
        public = _signature(signature).recover_public_key_from_msg_hash(bytes(digest))
    except (BadSignature, ValidationError) as exc:
        raise InvalidKeyError(f"recover_public_key: {exc}") from exc
    address = str(public.to_checksum_address())
    if expected_address is not None and address != _checksum(expected_address):
        raise SignerMismatchError(
            f"recover_public_key: signed by {address}, not by {expected_address}"
        )
    log.debug("recover_public_key: signer %s", address)
    return bytes(public.to_compressed_bytes())


__all__ = [
    "ENVELOPE_OVERHEAD",
    "KEY_BYTES",
    "P256_WRAPPED_KEY_BYTES",
    "WRAPPED_KEY_BYTES",
    "SealedArtifact",
    "address_of",
    "check_p256_public_key",
    "new_content_key",
    "open_sealed",
    "p256_public_key_of",
    "public_key_of",
    "recover_public_key",
    "seal",
    "seal_artifact",
    "unwrap_key",
    "unwrap_key_p256",
    "wrap_key",
    "wrap_key_p256",
]
