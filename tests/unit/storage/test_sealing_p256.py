"""The browser key wrap (ECIES over P-256), checked against the layout its docstring documents.

The format test opens a wrapped key by hand, byte offset by byte offset, with ``cryptography``'s
ECDH and an HMAC-only HKDF written here (RFC 5869), so a layout or KDF mistake in
:func:`storage.sealing.wrap_key_p256` cannot hide behind :func:`unwrap_key_p256`. The browser
side (download.js) is checked against the same function in tests/browser.
"""

from __future__ import annotations

import hashlib
import hmac
import os

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from kernel.errors import IntegrityError, InvalidInputError
from storage.errors import InvalidKeyError, SealedDataError
from storage.sealing import (
    P256_WRAPPED_KEY_BYTES,
    check_p256_public_key,
    new_content_key,
    p256_public_key_of,
    unwrap_key_p256,
    wrap_key,
    wrap_key_p256,
)

CONTEXT = "fedmarket:model:31337:0x5FbDB2315678afecb367f032d93F642f64180aa3:3:key-for:0xA:browser"


def p256_pair() -> tuple[bytes, bytes]:
    """A fresh P-256 private scalar (32 bytes) and its uncompressed public key (65 bytes)."""
    secret = ec.generate_private_key(ec.SECP256R1())
    scalar = secret.private_numbers().private_value.to_bytes(32, "big")
    public = secret.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    return scalar, public


def hkdf_sha256(ikm: bytes, salt: bytes, info: bytes, length: int = 32) -> bytes:
    """RFC 5869 with HMAC only."""
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    block, out, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        out += block
        counter += 1
    return out[:length]


def test_hkdf_matches_rfc_5869_case_1() -> None:
    okm = hkdf_sha256(
        bytes.fromhex("0b" * 22),
        bytes.fromhex("000102030405060708090a0b0c"),
        bytes.fromhex("f0f1f2f3f4f5f6f7f8f9"),
        42,
    )
    assert okm.hex() == (
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
    )


def test_round_trip_and_public_key_helper() -> None:
    scalar, public = p256_pair()
    assert p256_public_key_of(scalar) == public
    key = new_content_key()
    wrapped = wrap_key_p256(key, public, context=CONTEXT)
    assert len(wrapped) == P256_WRAPPED_KEY_BYTES == 130
    assert unwrap_key_p256(wrapped, scalar, context=CONTEXT) == key
    assert unwrap_key_p256(wrapped, scalar, context=CONTEXT.encode()) == key
    assert wrap_key_p256(key, public, context=CONTEXT) != wrapped  # fresh ephemeral and nonce


def test_the_format_is_the_documented_layout() -> None:
    scalar, public = p256_pair()
    key = new_content_key()
    wrapped = wrap_key_p256(key, public, context=CONTEXT)
    magic, version, ephemeral = wrapped[0:4], wrapped[4], wrapped[5:70]
    nonce, body = wrapped[70:82], wrapped[82:]
    assert (magic, version, ephemeral[0], len(body)) == (b"FMBK", 1, 4, 48)
    secret = ec.derive_private_key(int.from_bytes(scalar, "big"), ec.SECP256R1())
    point = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), ephemeral)
    shared_x = secret.exchange(ec.ECDH(), point)  # what WebCrypto's deriveBits(256) returns
    kek = hkdf_sha256(
        shared_x, ephemeral + public, b"fedmarket browser key-wrap v1" + CONTEXT.encode()
    )
    assert AESGCM(kek).decrypt(nonce, body, wrapped[:82] + CONTEXT.encode()) == key


@pytest.mark.parametrize("offset", [0, 4, 5, 40, 69, 70, 81, 82, 100, 129])
def test_a_changed_byte_is_refused(offset: int) -> None:
    scalar, public = p256_pair()
    wrapped = bytearray(wrap_key_p256(new_content_key(), public, context=CONTEXT))
    wrapped[offset] ^= 0x01
    with pytest.raises(SealedDataError):
        unwrap_key_p256(bytes(wrapped), scalar, context=CONTEXT)


def test_wrong_context_wrong_key_and_wrong_length_are_refused() -> None:
    scalar, public = p256_pair()
    other, _ = p256_pair()
    wrapped = wrap_key_p256(new_content_key(), public, context=CONTEXT)
    for private, context in ((scalar, CONTEXT + "x"), (scalar, ""), (other, CONTEXT)):
        with pytest.raises(SealedDataError) as refused:
            unwrap_key_p256(wrapped, private, context=context)
        assert isinstance(refused.value, IntegrityError)
    for damaged in (wrapped[:-1], wrapped + b"\0", b""):
        with pytest.raises(SealedDataError):
            unwrap_key_p256(damaged, scalar, context=CONTEXT)


def test_an_ecies_wrap_is_not_a_browser_wrap() -> None:
    scalar, _ = p256_pair()
    secp = bytes.fromhex("02" + "79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798")
    ecies = wrap_key(new_content_key(), secp, context=CONTEXT)
    with pytest.raises(SealedDataError):
        unwrap_key_p256(ecies + bytes(32), scalar, context=CONTEXT)


def test_bad_points_and_bad_keys_are_invalid_input() -> None:
    _, public = p256_pair()
    off_curve = public[:-1] + bytes([public[-1] ^ 0x01])
    compressed = bytes([2 + (public[-1] & 1)]) + public[1:33]
    bad_points = [off_curve, compressed, public[:-1], b"\x04" + bytes(64), b"", public[1:] + b"\0"]
    for point in bad_points:
        with pytest.raises(InvalidKeyError) as refused:
            wrap_key_p256(new_content_key(), point, context=CONTEXT)
        assert isinstance(refused.value, InvalidInputError)
        with pytest.raises(InvalidKeyError):
            check_p256_public_key(point)
    assert check_p256_public_key(public) == public
    with pytest.raises(InvalidKeyError):
        wrap_key_p256(os.urandom(31), public, context=CONTEXT)
    for scalar in (bytes(32), b"\xff" * 32, bytes(31)):
        with pytest.raises(InvalidKeyError):
            unwrap_key_p256(bytes(P256_WRAPPED_KEY_BYTES), scalar, context=CONTEXT)
