"""Sealed artifacts and wrapped keys, checked against independent paths.

The envelope is opened with the ``cryptography`` library's AES-GCM following the documented
layout byte by byte; the wrapped key is opened (and made) with a textbook secp256k1 in pure
Python, ``cryptography``'s own ECDH on SECP256K1 and an HMAC-only HKDF (itself checked on RFC 5869's
first test case), so a mistake in the library's layout, ECDH or KDF cannot hide behind itself.
"""

from __future__ import annotations

import hashlib
import hmac
import os

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eth_account import Account
from eth_account.messages import encode_defunct
from hypothesis import given, settings
from hypothesis import strategies as st

from kernel.errors import IntegrityError, InvalidInputError
from storage.errors import InvalidKeyError, SealedDataError, SignerMismatchError
from storage.sealing import (
    ENVELOPE_OVERHEAD,
    KEY_BYTES,
    WRAPPED_KEY_BYTES,
    address_of,
    new_content_key,
    open_sealed,
    public_key_of,
    recover_public_key,
    seal,
    seal_artifact,
    unwrap_key,
    wrap_key,
)

# --- textbook secp256k1 and HKDF: the obvious things ---------------------------------------------

P = 2**256 - 2**32 - 977
N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
G = (
    0x79BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798,
    0x483ADA7726A3C4655DA4FBFC0E1108A8FD17B448A68554199C47D08FFB10D4B8,
)
Point = tuple[int, int] | None


def ec_add(a: Point, b: Point) -> Point:
    if a is None:
        return b
    if b is None:
        return a
    if a[0] == b[0] and (a[1] + b[1]) % P == 0:
        return None
    if a == b:
        slope = 3 * a[0] * a[0] * pow(2 * a[1], -1, P)
    else:
        slope = (b[1] - a[1]) * pow(b[0] - a[0], -1, P)
    x = (slope * slope - a[0] - b[0]) % P
    return x, (slope * (a[0] - x) - a[1]) % P


def ec_mul(k: int, point: Point) -> Point:
    result: Point = None
    while k:
        if k & 1:
            result = ec_add(result, point)
        point = ec_add(point, point)
        k >>= 1
    return result


def compress(point: Point) -> bytes:
    assert point is not None
    return bytes([2 + (point[1] & 1)]) + point[0].to_bytes(32, "big")


def decompress(raw: bytes) -> Point:
    x = int.from_bytes(raw[1:], "big")
    y = pow((x**3 + 7) % P, (P + 1) // 4, P)
    return x, y if (y & 1) == (raw[0] & 1) else P - y


def hkdf_sha256(ikm: bytes, salt: bytes, info: bytes, length: int) -> bytes:
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    out, block = b"", b""
    for counter in range(1, -(-length // 32) + 1):
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        out += block
    return out[:length]


def test_the_reference_hkdf_gives_rfc5869_test_case_1():
    okm = hkdf_sha256(
        bytes.fromhex("0b" * 22),
        bytes.fromhex("000102030405060708090a0b0c"),
        bytes.fromhex("f0f1f2f3f4f5f6f7f8f9"),
        42,
    )
    assert okm.hex() == (
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
    )


def test_the_reference_curve_gives_the_libraries_public_keys():
    key = new_content_key()  # any 32 random bytes below N make a private key
    d = int.from_bytes(key, "big")
    assert compress(ec_mul(d, G)) == public_key_of(key)
    assert decompress(public_key_of(key)) == ec_mul(d, G)


def reference_shared_secret(d: int, peer: bytes) -> bytes:
    """libsecp256k1's ECDH secret: SHA-256 of the compressed shared point.

    The x-coordinate comes from ``cryptography``'s ECDH; the parity of y, which ECDH does not
    give, from the textbook multiplication (which must agree on x).
    """
    mine = ec.derive_private_key(d, ec.SECP256K1())
    theirs = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256K1(), peer)
    x = mine.exchange(ec.ECDH(), theirs)
    shared = ec_mul(d, decompress(peer))
    assert shared is not None and shared[0].to_bytes(32, "big") == x
    return hashlib.sha256(compress(shared)).digest()


# --- sealed envelopes ----------------------------------------------------------------------------


@given(plaintext=st.binary(max_size=2048), purpose=st.binary(max_size=64))
@settings(max_examples=50, deadline=None)
def test_seal_round_trip(plaintext: bytes, purpose: bytes):
    key = new_content_key()
    envelope = seal(plaintext, key, purpose=purpose)
    assert len(envelope) == len(plaintext) + ENVELOPE_OVERHEAD
    assert open_sealed(envelope, key, purpose=purpose) == plaintext


def test_a_large_artifact_and_a_text_purpose():
    sealed = seal_artifact(os.urandom(1 << 20), purpose="fedmarket:model:bafy...")
    assert len(sealed.key) == KEY_BYTES
    assert "key=" not in repr(sealed) and repr(sealed.key) not in repr(sealed)  # never logged
    assert len(open_sealed(sealed.envelope, sealed.key, purpose=b"fedmarket:model:bafy...")) == (
        1 << 20
    )


def test_every_seal_uses_a_fresh_nonce():
    key = new_content_key()
    one, two = (seal(b"same bytes", key, purpose="p") for _ in range(2))
    assert one[5:17] != two[5:17] and one != two


def test_the_envelope_layout_as_documented_opens_with_plain_aes_gcm():
    key, purpose, plaintext = new_content_key(), b"listing:42", b"weights"
    envelope = seal(plaintext, key, purpose=purpose)
    assert envelope[:4] == b"FMSA" and envelope[4] == 1
    assert int.from_bytes(envelope[17:25], "big") == len(plaintext)
    nonce, header = envelope[5:17], envelope[:25]
    assert AESGCM(key).decrypt(nonce, envelope[25:], header + purpose) == plaintext


def test_an_envelope_built_by_hand_opens():
    key, nonce, purpose = bytes(range(32)), bytes(12), b"model:bafkrei"
    plaintext = b"hand-made vector"
    header = b"FMSA\x01" + nonce + len(plaintext).to_bytes(8, "big")
    envelope = header + AESGCM(key).encrypt(nonce, plaintext, header + purpose)
    assert open_sealed(envelope, key, purpose=purpose) == plaintext


REGIONS = {
    "magic": range(0, 4),
    "version": range(4, 5),
    "nonce": range(5, 17),
    "length": range(17, 25),
    "ciphertext": range(25, 35),
    "tag": range(35, 51),
}


@pytest.mark.parametrize("region", REGIONS)
def test_a_changed_byte_anywhere_is_refused(region: str):
    key = new_content_key()
    envelope = seal(b"0123456789", key, purpose="p")
    assert len(envelope) == 51
    for offset in REGIONS[region]:
        for flip in (0x01, 0x80):
            tampered = bytearray(envelope)
            tampered[offset] ^= flip
            with pytest.raises(SealedDataError) as err:
                open_sealed(bytes(tampered), key, purpose="p")
            assert isinstance(err.value, IntegrityError)


@pytest.mark.parametrize(
    "change", [lambda e: e[:-1], lambda e: e + b"\x00", lambda e: e[:24], lambda e: b""]
)
def test_a_truncated_or_extended_envelope_is_refused(change):
    key = new_content_key()
    with pytest.raises(SealedDataError):
        open_sealed(change(seal(b"payload", key, purpose="p")), key, purpose="p")


def test_the_wrong_key_or_purpose_is_refused():
    key = new_content_key()
    envelope = seal(b"payload", key, purpose="model:A")
    with pytest.raises(SealedDataError, match="authentication failed"):
        open_sealed(envelope, new_content_key(), purpose="model:A")
    with pytest.raises(SealedDataError, match="authentication failed"):
        open_sealed(envelope, key, purpose="model:B")


@pytest.mark.parametrize("length", [0, 16, 31, 33])
def test_a_key_of_the_wrong_length_is_invalid_input(length: int):
    with pytest.raises(InvalidKeyError) as err:
        seal(b"x", bytes(length), purpose="p")
    assert isinstance(err.value, InvalidInputError)
    with pytest.raises(InvalidKeyError):
        open_sealed(bytes(64), bytes(length), purpose="p")


# --- keys wrapped to an Ethereum account ---------------------------------------------------------


def sign_in(account, message: str = "fedmarket.example wants you to sign in\nNonce: 42") -> bytes:
    return bytes(Account.sign_message(encode_defunct(text=message), account.key).signature)


def test_a_buyer_unwraps_the_key_wrapped_to_its_sign_in_signature():
    buyer = Account.create()
    message = "fedmarket.example wants you to sign in\nNonce: 42"
    public = recover_public_key(message, sign_in(buyer, message), expected_address=buyer.address)
    assert public == public_key_of(buyer.key) and address_of(public) == buyer.address
    key = new_content_key()
    wrapped = wrap_key(key, public, context=f"listing:7:{buyer.address}")
    assert len(wrapped) == WRAPPED_KEY_BYTES == 98
    assert unwrap_key(wrapped, buyer.key, context=f"listing:7:{buyer.address}") == key


def test_the_wrapped_key_opens_on_the_independent_path():
    buyer = Account.create()
    d = int.from_bytes(buyer.key, "big")
    key, context = new_content_key(), b"listing:7"
    wrapped = wrap_key(key, public_key_of(buyer.key), context=context)
    ephemeral, nonce, body = wrapped[5:38], wrapped[38:50], wrapped[50:]
    assert wrapped[:5] == b"FMWK\x01"
    recipient = compress(ec_mul(d, G))
    z = reference_shared_secret(d, ephemeral)
    kek = hkdf_sha256(z, ephemeral + recipient, b"fedmarket key-wrap v1" + context, 32)
    assert AESGCM(kek).decrypt(nonce, body, wrapped[:50] + context) == key


def test_a_key_wrapped_on_the_independent_path_unwraps():
    buyer = Account.create()
    recipient = public_key_of(buyer.key)
    e = int.from_bytes(os.urandom(32), "big") % (N - 1) + 1
    ephemeral = compress(ec_mul(e, G))
    z = reference_shared_secret(e, recipient)
    # both sides of the exchange agree, as ECDH must
    assert z == reference_shared_secret(int.from_bytes(buyer.key, "big"), ephemeral)
    key, context, nonce = new_content_key(), b"listing:8", os.urandom(12)
    kek = hkdf_sha256(z, ephemeral + recipient, b"fedmarket key-wrap v1" + context, 32)
    header = b"FMWK\x01" + ephemeral + nonce
    wrapped = header + AESGCM(kek).encrypt(nonce, key, header + context)
    assert unwrap_key(wrapped, buyer.key, context=context) == key


def test_every_public_key_encoding_is_accepted():
    buyer = Account.create()
    compressed = public_key_of(buyer.key)
    point = decompress(compressed)
    assert point is not None
    raw = point[0].to_bytes(32, "big") + point[1].to_bytes(32, "big")
    for encoding in (compressed, b"\x04" + raw, raw):
        key = new_content_key()
        assert unwrap_key(wrap_key(key, encoding, context="c"), buyer.key, context="c") == key
        assert address_of(encoding) == buyer.address


def test_another_recipient_or_context_is_refused():
    buyer, other = Account.create(), Account.create()
    wrapped = wrap_key(new_content_key(), public_key_of(buyer.key), context="listing:1")
    with pytest.raises(SealedDataError, match="authentication failed"):
        unwrap_key(wrapped, other.key, context="listing:1")
    with pytest.raises(SealedDataError, match="authentication failed"):
        unwrap_key(wrapped, buyer.key, context="listing:2")


WRAP_REGIONS = {
    "magic": range(0, 4),
    "version": range(4, 5),
    "ephemeral key": range(5, 38),
    "nonce": range(38, 50),
    "encrypted key": range(50, 82),
    "tag": range(82, 98),
}


@pytest.mark.parametrize("region", WRAP_REGIONS)
def test_a_changed_byte_of_a_wrapped_key_is_refused(region: str):
    buyer = Account.create()
    wrapped = wrap_key(new_content_key(), public_key_of(buyer.key), context="c")
    for offset in WRAP_REGIONS[region]:
        tampered = bytearray(wrapped)
        tampered[offset] ^= 0x01
        with pytest.raises(SealedDataError):
            unwrap_key(bytes(tampered), buyer.key, context="c")
    for short in (wrapped[:-1], wrapped + b"\x00", b""):
        with pytest.raises(SealedDataError):
            unwrap_key(short, buyer.key, context="c")


@pytest.mark.parametrize(
    "public", [b"", bytes(33), b"\x02" + bytes(32), b"\x04" + bytes(64), os.urandom(20)]
)
def test_a_malformed_public_key_is_invalid_input(public: bytes):
    with pytest.raises(InvalidKeyError):
        wrap_key(new_content_key(), public, context="c")


@pytest.mark.parametrize("private", [b"", bytes(31), bytes(32), N.to_bytes(32, "big")])
def test_a_malformed_private_key_is_invalid_input(private: bytes):
    with pytest.raises(InvalidKeyError):
        unwrap_key(bytes(WRAPPED_KEY_BYTES), private, context="c")


def test_recovery_checks_the_claimed_signer():
    buyer, other = Account.create(), Account.create()
    signature = sign_in(buyer, "hello")
    assert recover_public_key("hello", signature) == public_key_of(buyer.key)
    assert recover_public_key(b"hello", signature) == public_key_of(buyer.key)
    lowered = recover_public_key("hello", signature, expected_address=buyer.address.lower())
    assert lowered == public_key_of(buyer.key)
    with pytest.raises(SignerMismatchError) as err:
        recover_public_key("hello", signature, expected_address=other.address)
    assert isinstance(err.value, IntegrityError)
    # another message recovers another key (and so another address)
    with pytest.raises(SignerMismatchError):
        recover_public_key("hello!", signature, expected_address=buyer.address)
    with pytest.raises(InvalidKeyError):
        recover_public_key("hello", signature, expected_address="0x1234")


def test_recovery_accepts_v_as_0_or_1():
    buyer = Account.create()
    signature = sign_in(buyer, "hi")
    low_v = signature[:64] + bytes([signature[64] - 27])
    assert recover_public_key("hi", low_v) == public_key_of(buyer.key)


@pytest.mark.parametrize(
    "signature",
    [b"", bytes(64), bytes(65), bytes(64) + b"\x05", b"\xff" * 64 + b"\x1b"],
)
def test_a_malformed_signature_is_invalid_input(signature: bytes):
    with pytest.raises(InvalidKeyError):
        recover_public_key("hi", signature)
