"""Tests for fl_node.vertical.crypto.paillier, with python-paillier (phe) as the reference."""

from __future__ import annotations

import math
import secrets
from typing import Any

import gmpy2
import numpy as np
import phe
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from fl_node.vertical.crypto.paillier import (
    DEFAULT_SCALAR_FRAC_BITS,
    CipherVector,
    Encryptor,
    FixedPointEncoder,
    PackedCipherVector,
    Packer,
    PaillierEncodingError,
    PaillierError,
    PaillierKeyMismatchError,
    PaillierOverflowError,
    PaillierPrivateKey,
    PaillierPublicKey,
    PaillierSerializationError,
    default_short_exponent_bits,
    generate_keypair,
    security_bits,
)
from fl_node.vertical.crypto.paillier import _wire as wire
from fl_node.vertical.crypto.paillier._math import (
    FixedBaseTable,
    choose_window,
    multi_exp_columns,
    multi_exp_naive,
)

SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FLOATS = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
SMALL_FLOATS = st.floats(min_value=-100.0, max_value=100.0, allow_nan=False)


@pytest.fixture(scope="module")
def keys512() -> tuple[PaillierPublicKey, PaillierPrivateKey]:
    return generate_keypair(512)


@pytest.fixture(scope="module")
def keys1024() -> tuple[PaillierPublicKey, PaillierPrivateKey]:
    return generate_keypair(1024)


@pytest.fixture(scope="module")
def other_keys() -> tuple[PaillierPublicKey, PaillierPrivateKey]:
    return generate_keypair(512)


@pytest.fixture(scope="module")
def encryptors(
    keys512: tuple[PaillierPublicKey, PaillierPrivateKey],
) -> dict[str, Encryptor]:
    pk, sk = keys512
    return {
        "fixed_base": Encryptor(pk),
        "fixed_base_w5": Encryptor(pk, window_bits=5, short_exponent_bits=260),
        "textbook": Encryptor(pk, mode="textbook"),
        "crt": Encryptor(pk, mode="crt", private_key=sk),
    }


def phe_keys(
    pk: PaillierPublicKey, sk: PaillierPrivateKey
) -> tuple[phe.PaillierPublicKey, phe.PaillierPrivateKey]:
    phe_pk = phe.PaillierPublicKey(int(pk.n))
    return phe_pk, phe.PaillierPrivateKey(phe_pk, int(sk.p), int(sk.q))


# --------------------------------------------------------------------------- keys


@pytest.mark.parametrize("bits", [256, 512, 1024])
def test_generate_keypair_properties(bits: int) -> None:
    pk, sk = generate_keypair(bits)
    assert pk.n.bit_length() == bits
    assert sk.p * sk.q == pk.n
    assert sk.p != sk.q
    assert sk.p.bit_length() == sk.q.bit_length() == bits // 2
    assert gmpy2.is_prime(sk.p, 50) and gmpy2.is_prime(sk.q, 50)
    assert abs(sk.q - sk.p).bit_length() > (bits // 2 - 100 if bits // 2 > 200 else bits // 4)
    assert pk.nsquare == pk.n * pk.n and pk.g == pk.n + 1 and pk.max_int == pk.n // 3 - 1


def test_generate_keypair_2048_end_to_end() -> None:
    pk, sk = generate_keypair(2048)
    assert pk.n_bits == 2048 and pk.security_bits == 112
    enc = Encryptor(pk)
    assert enc.short_exponent_bits == 256
    values = np.array([-1.5, 0.0, 2.25, 1e-6])
    cv = enc.encrypt_vector(values)
    assert np.allclose(sk.decrypt_vector(cv), values, atol=2**-32)
    _, phe_sk = phe_keys(pk, sk)
    assert phe_sk.raw_decrypt(int(cv.raw_ciphertexts[2])) == round(2.25 * 2**32)


def test_generate_keypair_rejects_bad_sizes() -> None:
    with pytest.raises(ValueError):
        generate_keypair(127)
    with pytest.raises(ValueError):
        generate_keypair(513)
    with pytest.raises(TypeError):
        generate_keypair(True)


def test_security_levels_follow_nist() -> None:
    assert [security_bits(b) for b in (1024, 2048, 3072, 7680, 15360)] == [80, 112, 128, 192, 256]
    assert default_short_exponent_bits(2048) == 256
    assert default_short_exponent_bits(7680) == 384


def test_public_key_consistency_and_serialization(
    keys512: tuple[PaillierPublicKey, PaillierPrivateKey],
) -> None:
    pk, _ = keys512
    with pytest.raises(ValueError):
        PaillierPublicKey(n=pk.n, nsquare=pk.nsquare, g=pk.n + 2, max_int=pk.max_int)
    restored = PaillierPublicKey.from_bytes(pk.to_bytes())
    assert restored == pk and restored.fingerprint == pk.fingerprint
    with pytest.raises(PaillierSerializationError):
        PaillierPublicKey.from_bytes(pk.to_bytes()[:-1])


def test_private_key_validation_and_repr(
    keys512: tuple[PaillierPublicKey, PaillierPrivateKey],
    other_keys: tuple[PaillierPublicKey, PaillierPrivateKey],
) -> None:
    pk, sk = keys512
    with pytest.raises(PaillierKeyMismatchError):
        PaillierPrivateKey(other_keys[0], sk.p, sk.q)
    assert str(int(sk.p)) not in repr(sk) and str(int(sk.q)) not in repr(sk)
    swapped = PaillierPrivateKey(pk, sk.q, sk.p)
    assert swapped.p < swapped.q
    assert swapped.raw_decrypt(pk.raw_encrypt(42)) == 42


# --------------------------------------------------------------------------- phe interop


def test_raw_encrypt_identical_to_phe_for_same_r(
    keys1024: tuple[PaillierPublicKey, PaillierPrivateKey],
) -> None:
    pk, sk = keys1024
    phe_pk, _ = phe_keys(pk, sk)
    for m in (0, 1, 12345, int(pk.max_int), int(pk.n - 5)):
        r = int(pk.random_unit())
        ours = pk.raw_encrypt(m, r)
        assert ours == phe_pk.raw_encrypt(m, r)
        assert ours == sk.raw_encrypt_crt(m, r)


@SETTINGS
@given(m=st.integers(min_value=0, max_value=2**1000))
def test_cross_decryption_with_phe(
    keys1024: tuple[PaillierPublicKey, PaillierPrivateKey],
    m: int,
) -> None:
    pk, sk = keys1024
    phe_pk, phe_sk = phe_keys(pk, sk)
    # ours -> phe
    assert phe_sk.raw_decrypt(int(pk.raw_encrypt(m))) == m
    assert phe_sk.raw_decrypt(int(Encryptor(pk, mode="textbook").raw_encrypt(m))) == m
    # phe -> ours
    assert sk.raw_decrypt(phe_pk.raw_encrypt(m)) == m


def test_fast_modes_decrypt_with_phe(
    keys1024: tuple[PaillierPublicKey, PaillierPrivateKey],
) -> None:
    pk, sk = keys1024
    phe_pk, phe_sk = phe_keys(pk, sk)
    for enc in (Encryptor(pk), Encryptor(pk, mode="crt", private_key=sk)):
        enc.precompute(3)
        for m in (0, 7, 2**500 + 3, int(pk.n - 1)):
            assert phe_sk.raw_decrypt(int(enc.raw_encrypt(m))) == m
    # Signed fixed-point values agree with phe's own float decoding path.
    cv = Encryptor(pk).encrypt_vector(np.array([-2.5, 3.75]), frac_bits=8)
    raws = [phe_sk.raw_decrypt(int(c)) for c in cv.raw_ciphertexts]
    assert raws == [int(pk.n) - 640, 960]
    phe_number = phe_pk.encrypt(-2.5)
    raw = sk.raw_decrypt(phe_number.ciphertext())
    assert raw == phe_sk.decrypt_encoded(phe_number).encoding
    assert pk.to_signed(raw) * float(phe.EncodedNumber.BASE) ** phe_number.exponent == -2.5


# --------------------------------------------------------------------------- encoding


@SETTINGS
@given(x=FLOATS, k=st.integers(min_value=0, max_value=60))
def test_encoder_roundtrip_floats(
    keys512: tuple[PaillierPublicKey, PaillierPrivateKey], x: float, k: int
) -> None:
    pk, _ = keys512
    encoder = FixedPointEncoder(pk, k)
    m = encoder.encode(x)
    assert 0 <= m < pk.n
    if x < 0 and round(x * 2**k) != 0:
        assert m > pk.n - pk.max_int
    assert abs(encoder.decode(m) - x) <= encoder.scale / 2 + abs(x) * 2**-52


@SETTINGS
@given(x=st.integers(min_value=-(2**100), max_value=2**100))
def test_encoder_integers_exact(
    keys512: tuple[PaillierPublicKey, PaillierPrivateKey], x: int
) -> None:
    pk, sk = keys512
    encoder = FixedPointEncoder(pk, 10)
    assert encoder.encode_signed(x) == [x << 10]
    assert encoder.decode_signed(encoder.encode(x)) == x << 10
    number = pk.encrypt(x, encoder)
    assert sk.decrypt_vector_ints(number.to_vector()) == [x << 10]


def test_encoder_overflow_and_invalid_values(
    keys512: tuple[PaillierPublicKey, PaillierPrivateKey],
) -> None:
    pk, _ = keys512
    encoder = FixedPointEncoder(pk, 32)
    with pytest.raises(PaillierOverflowError):
        encoder.encode(2**600)
    with pytest.raises(PaillierOverflowError):
        encoder.encode(1e300)  # 1e300 * 2**32 exceeds max_int of a 512-bit key
    with pytest.raises(PaillierOverflowError):
        encoder.encode(np.array([1.0, np.inf]))
    with pytest.raises(PaillierEncodingError):
        encoder.encode(float("nan"))
    with pytest.raises(OverflowError):  # PaillierOverflowError is an OverflowError
        encoder.decode(pk.n // 2)  # dead zone
    with pytest.raises(ValueError):
        FixedPointEncoder(pk, -1)
    arr = encoder.decode([encoder.encode(-1.0), encoder.encode(0.5)])
    assert arr.tolist() == [-1.0, 0.5]


# --------------------------------------------------------------------------- encryption


@SETTINGS
@given(values=st.lists(FLOATS, min_size=1, max_size=8))
def test_all_encryption_modes_decrypt_to_same_values(
    keys512: tuple[PaillierPublicKey, PaillierPrivateKey],
    encryptors: dict[str, Encryptor],
    values: list[float],
) -> None:
    _, sk = keys512
    expected = FixedPointEncoder(keys512[0], 32).encode_signed(values)
    for enc in encryptors.values():
        assert sk.decrypt_vector_ints(enc.encrypt_vector(values)) == expected
        decoded = sk.decrypt_vector(enc.encrypt_vector(values))
        assert np.allclose(decoded, values, rtol=1e-12, atol=2**-32)


def test_encryption_is_randomized(encryptors: dict[str, Encryptor]) -> None:
    for enc in encryptors.values():
        cts = enc.encrypt_vector(np.zeros(4)).ciphertexts
        assert len(set(cts)) == 4


def test_precomputed_pool_is_consumed_once(
    keys512: tuple[PaillierPublicKey, PaillierPrivateKey],
) -> None:
    pk, sk = keys512
    enc = Encryptor(pk)
    enc.precompute(5)
    assert enc.pool_size == 5
    pool_before = [rn for rn, _ in enc._pool]
    cv = enc.encrypt_vector(np.array([1.0, -2.0, 3.0]))
    assert enc.pool_size == 2
    # Online encryption with a pooled randomizer is (1 + m n) * rn.
    assert {
        c * gmpy2.invert((1 + m * pk.n) % pk.nsquare, pk.nsquare) % pk.nsquare
        for c, m in zip(
            cv.raw_ciphertexts, FixedPointEncoder(pk).encode([1.0, -2.0, 3.0]), strict=True
        )
    } <= set(pool_before)
    cv2 = enc.encrypt_vector(np.arange(4.0))  # 2 from the pool, 2 online
    assert enc.pool_size == 0
    assert sk.decrypt_vector(cv2).tolist() == [0.0, 1.0, 2.0, 3.0]
    assert sk.decrypt_vector(cv).tolist() == [1.0, -2.0, 3.0]


def test_fixed_base_table_matches_powmod() -> None:
    m = gmpy2.mpz(secrets.randbits(300) | 1)
    h = gmpy2.mpz(secrets.randbelow(int(m)))
    for w in (1, 3, 8):
        table = FixedBaseTable(h, m, 64, w)
        for s in (0, 1, 2**63, secrets.randbits(64), secrets.randbits(10)):
            assert table.pow(s) == gmpy2.powmod(h, s, m)
    table = FixedBaseTable(h, m, 64, 8)
    s = secrets.randbits(64)
    assert table.pow_bytes(s.to_bytes(8, "little")) == gmpy2.powmod(h, s, m)
    with pytest.raises(ValueError):
        table.pow(2**64)


def test_encryptor_parameter_checks(
    keys512: tuple[PaillierPublicKey, PaillierPrivateKey],
    other_keys: tuple[PaillierPublicKey, PaillierPrivateKey],
) -> None:
    pk, sk = keys512
    with pytest.raises(ValueError):
        Encryptor(pk, mode="crt")
    with pytest.raises(ValueError):
        Encryptor(pk, mode="nope")  # type: ignore[arg-type]
    with pytest.raises(PaillierKeyMismatchError):
        Encryptor(pk, mode="crt", private_key=other_keys[1])
    big_pk = PaillierPublicKey.from_n(gmpy2.mpz(2) ** 2048 + 1)  # only the size matters here
    with pytest.raises(ValueError, match="security"):
        Encryptor(big_pk, short_exponent_bits=200)


# --------------------------------------------------------------------------- homomorphic


@SETTINGS
@given(
    a=st.lists(SMALL_FLOATS, min_size=1, max_size=6),
    data=st.data(),
)
def test_homomorphic_add_sub_mul(
    keys512: tuple[PaillierPublicKey, PaillierPrivateKey],
    encryptors: dict[str, Encryptor],
    a: list[float],
    data: st.DataObject,
) -> None:
    _, sk = keys512
    n = len(a)
    b = data.draw(st.lists(SMALL_FLOATS, min_size=n, max_size=n))
    k = data.draw(st.lists(SMALL_FLOATS, min_size=n, max_size=n))
    ki = data.draw(st.integers(min_value=-1000, max_value=1000))
    xa, xb, xk = np.array(a), np.array(b), np.array(k)
    enc = encryptors["fixed_base"]
    ea, eb = enc.encrypt_vector(xa), encryptors["textbook"].encrypt_vector(xb, frac_bits=20)
    tol = 1e-6
    assert np.allclose(sk.decrypt_vector(ea + eb), xa + xb, atol=tol)
    assert np.allclose(sk.decrypt_vector(ea - eb), xa - xb, atol=tol)
    assert np.allclose(sk.decrypt_vector(ea + xb), xa + xb, atol=tol)
    assert np.allclose(sk.decrypt_vector(xb - ea), xb - xa, atol=tol)
    assert np.allclose(sk.decrypt_vector(-ea), -xa, atol=tol)
    scalar_tol = 2 ** -(DEFAULT_SCALAR_FRAC_BITS + 1) * np.abs(xa) + 1e-7 * (1 + np.abs(xk))
    assert np.all(np.abs(sk.decrypt_vector(ea * xk) - xa * xk) <= scalar_tol + 1e-6)
    assert sk.decrypt_vector_ints(ea * ki) == [
        v * ki for v in FixedPointEncoder(keys512[0]).encode_signed(xa)
    ]
    total = sk.decrypt(ea.sum())
    assert math.isclose(total, float(np.sum(xa)), abs_tol=1e-6)
    # EncryptedNumber arithmetic
    first = ea[0]
    assert math.isclose(sk.decrypt(first * 2 + 1.5 - first), a[0] + 1.5, abs_tol=1e-6)
    assert math.isclose(sk.decrypt(3 - first), 3 - a[0], abs_tol=1e-6)


def test_frac_bit_alignment_and_bounds(
    keys512: tuple[PaillierPublicKey, PaillierPrivateKey], encryptors: dict[str, Encryptor]
) -> None:
    pk, sk = keys512
    enc = encryptors["fixed_base"]
    a = enc.encrypt_vector([1.5, -2.0], frac_bits=4, bound=4.0)
    b = enc.encrypt_vector([0.25, 0.125], frac_bits=10, bound=1.0)
    s = a + b
    assert s.frac_bits == 10
    assert sk.decrypt_vector(s).tolist() == [1.75, -1.875]
    assert a.bound_bits == 7 and s.bound_bits is not None and s.bound_bits >= 11
    with pytest.raises(ValueError):
        a.rescale(2)


@SETTINGS
@given(
    rows=st.integers(min_value=1, max_value=40),
    cols=st.integers(min_value=1, max_value=4),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_dot_matches_numpy(
    keys512: tuple[PaillierPublicKey, PaillierPrivateKey],
    encryptors: dict[str, Encryptor],
    rows: int,
    cols: int,
    seed: int,
) -> None:
    _, sk = keys512
    rng = np.random.default_rng(seed)
    d = rng.uniform(-1, 1, rows)
    x = rng.normal(0, 3, size=(rows, cols))
    x[rng.random((rows, cols)) < 0.2] = 0.0
    if cols > 1:
        x[:, 0] = np.abs(x[:, 0])  # an all-non-negative column
    cv = encryptors["fixed_base"].encrypt_vector(d, bound=1.0)
    got = sk.decrypt_vector(cv.dot(x))
    # error: |d| * 2**-(k+1) per term from x's rounding + |x| * 2**-33 from d's
    tol = rows * (2 ** -(DEFAULT_SCALAR_FRAC_BITS + 1) + np.abs(x).max() * 2**-33) + 1e-12
    assert np.all(np.abs(got - d @ x) <= tol)
    # integer matrices are exact
    xi = rng.integers(-50, 50, size=(rows, cols))
    exact = cv.dot(xi)
    assert exact.frac_bits == cv.frac_bits
    enc_d = FixedPointEncoder(keys512[0]).encode_signed(d)
    assert sk.decrypt_vector_ints(exact) == [
        sum(e * int(v) for e, v in zip(enc_d, xi[:, j], strict=True)) for j in range(cols)
    ]
    # 1-D input gives one output
    assert np.allclose(sk.decrypt_vector(cv.dot(x[:, -1])), d @ x[:, -1], atol=tol)


@SETTINGS
@given(
    exps=hnp.arrays(
        np.int64,
        hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=12),
        elements=st.integers(min_value=-(2**20), max_value=2**20),
    )
)
def test_multi_exp_columns_exact(exps: np.ndarray) -> None:
    m = gmpy2.mpz(secrets.randbits(256) | (1 << 255) | 1)
    bases: list[Any] = []
    while len(bases) < exps.shape[0]:
        b = gmpy2.mpz(secrets.randbelow(int(m)))
        if gmpy2.gcd(b, m) == 1:
            bases.append(b)
    got = multi_exp_columns(bases, exps, m)
    for j in range(exps.shape[1]):
        assert got[j] == multi_exp_naive(bases, [int(e) for e in exps[:, j]], m)


def test_choose_window_grows_with_terms() -> None:
    assert choose_window(1, 20) <= choose_window(100, 20) <= choose_window(100_000, 20)
    assert choose_window(0, 0) == 1


def test_dot_with_huge_exponents_falls_back(
    keys512: tuple[PaillierPublicKey, PaillierPrivateKey], encryptors: dict[str, Encryptor]
) -> None:
    _, sk = keys512
    cv = encryptors["textbook"].encrypt_vector([1.0, -1.0], frac_bits=0)
    x = np.array([[2**70], [3]], dtype=object)
    assert sk.decrypt_vector_ints(cv.dot(x)) == [2**70 - 3]


def test_rerandomize_changes_ciphertexts_not_values(
    keys512: tuple[PaillierPublicKey, PaillierPrivateKey], encryptors: dict[str, Encryptor]
) -> None:
    _, sk = keys512
    cv = encryptors["fixed_base"].encrypt_vector([0.5, -0.25])
    fresh = cv.rerandomize(encryptors["fixed_base"])
    assert set(fresh.ciphertexts).isdisjoint(cv.ciphertexts)
    assert sk.decrypt_vector(fresh).tolist() == [0.5, -0.25]


# --------------------------------------------------------------------------- overflow


def test_bound_tracking_raises_before_overflow(
    keys512: tuple[PaillierPublicKey, PaillierPrivateKey], encryptors: dict[str, Encryptor]
) -> None:
    pk, _ = keys512
    enc = encryptors["fixed_base"]
    with pytest.raises(PaillierOverflowError):
        enc.encrypt_vector([2.0], bound=1.0)
    big = enc.encrypt_vector([2.0**400], frac_bits=0)
    with pytest.raises(PaillierOverflowError):
        big.mul(2**200)
    with pytest.raises(PaillierOverflowError):
        big.dot(np.array([[2**120]], dtype=object))
    with pytest.raises(PaillierOverflowError):
        enc.encrypt_vector([1.0]).dot(np.ones((1, 1)), x_bound=0.5)
    with pytest.raises(PaillierOverflowError):
        CipherVector(pk, big.raw_ciphertexts, 0, bound_bits=pk.n_bits)


def test_dead_zone_detected_on_decrypt(
    keys512: tuple[PaillierPublicKey, PaillierPrivateKey], encryptors: dict[str, Encryptor]
) -> None:
    pk, sk = keys512
    # Unknown bound: no early check, the dead zone catches the overflow.
    cv = CipherVector(pk, [pk.raw_encrypt(int(pk.max_int))], 0, bound_bits=None)
    with pytest.raises(PaillierOverflowError):
        sk.decrypt_vector(cv * 2)


# --------------------------------------------------------------------------- packing


@SETTINGS
@given(
    values=st.lists(st.floats(min_value=-1000, max_value=1000), min_size=1, max_size=30),
    frac_bits=st.integers(min_value=0, max_value=40),
)
def test_packed_and_unpacked_identical(
    keys512: tuple[PaillierPublicKey, PaillierPrivateKey],
    encryptors: dict[str, Encryptor],
    values: list[float],
    frac_bits: int,
) -> None:
    pk, sk = keys512
    enc = encryptors["fixed_base"]
    cv = enc.encrypt_vector(values, frac_bits=frac_bits, bound=1000.0)
    unpacked = sk.decrypt_vector_ints(cv)
    assert cv.bound_bits is not None
    packer = Packer.for_bound_bits(pk, cv.bound_bits)
    packed = packer.pack(cv)
    assert packed.n_ciphertexts == packer.n_ciphertexts(len(values)) < len(values) + 1
    assert sk.decrypt_packed_ints(packed) == unpacked
    assert np.array_equal(sk.decrypt_packed(packed), sk.decrypt_vector(cv))
    before = packer.encrypt_packed(enc, values, frac_bits=frac_bits, bound=1000.0)
    assert sk.decrypt_packed_ints(before) == unpacked


def test_packed_dot_results_and_addition(
    keys512: tuple[PaillierPublicKey, PaillierPrivateKey], encryptors: dict[str, Encryptor]
) -> None:
    pk, sk = keys512
    rng = np.random.default_rng(7)
    d, x = rng.uniform(-1, 1, 30), rng.normal(size=(30, 12))
    grads = encryptors["fixed_base"].encrypt_vector(d, bound=1.0).dot(x, x_bound=8.0)
    mask = [secrets.randbits(40) - 2**39 for _ in range(12)]
    masked = grads.add_encoded(mask, bound_bits=40)
    assert masked.bound_bits is not None
    packer = Packer.for_bound_bits(pk, masked.bound_bits, headroom_bits=1)
    packed = packer.pack(masked)
    assert packed.n_ciphertexts == math.ceil(12 / packer.slots)
    got = sk.decrypt_packed_ints(packed)
    assert got == sk.decrypt_vector_ints(masked)
    unmasked = [g - m for g, m in zip(got, mask, strict=True)]
    assert unmasked == sk.decrypt_vector_ints(grads)
    doubled = packed + packed
    assert sk.decrypt_packed_ints(doubled) == [2 * g for g in got]
    with pytest.raises(PaillierOverflowError):
        doubled + doubled  # no headroom left


def test_packing_refuses_unknown_or_too_large_bounds(
    keys512: tuple[PaillierPublicKey, PaillierPrivateKey], encryptors: dict[str, Encryptor]
) -> None:
    pk, sk = keys512
    cv = CipherVector(pk, encryptors["textbook"].encrypt_vector([1.0]).raw_ciphertexts, 32)
    with pytest.raises(PaillierOverflowError):
        Packer(pk, 64).pack(cv)
    small = Packer(pk, 8)
    with pytest.raises(PaillierOverflowError):
        small.pack(encryptors["textbook"].encrypt_vector([1.0], frac_bits=8))
    with pytest.raises(PaillierOverflowError):
        small.pack_plain([200], bound_bits=7)
    with pytest.raises(ValueError):
        Packer(pk, 1)
    # A slot overflow that escapes the top slot is detected at unpack time.
    with pytest.raises(PaillierOverflowError):
        small.unpack([1 << 8], 1, 0)


# --------------------------------------------------------------------------- serialization


def test_cipher_vector_serialization_roundtrip(
    keys512: tuple[PaillierPublicKey, PaillierPrivateKey], encryptors: dict[str, Encryptor]
) -> None:
    pk, sk = keys512
    cv = encryptors["fixed_base"].encrypt_vector([1.0, -2.5, 3.25], bound=4.0)
    data = cv.to_bytes()
    assert len(data) == cv.nbytes
    back = CipherVector.from_bytes(data, pk)
    assert back.ciphertexts == cv.ciphertexts
    assert (back.frac_bits, back.bound_bits) == (cv.frac_bits, cv.bound_bits)
    unknown = CipherVector(pk, cv.raw_ciphertexts, 5)
    assert CipherVector.from_bytes(unknown.to_bytes(), pk).bound_bits is None
    packed = Packer.for_bound_bits(pk, 40).pack(cv)
    pdata = packed.to_bytes()
    assert len(pdata) == packed.nbytes
    pback = PackedCipherVector.from_bytes(pdata, pk)
    assert sk.decrypt_packed(pback).tolist() == [1.0, -2.5, 3.25]


def test_serialization_rejects_bad_bytes(
    keys512: tuple[PaillierPublicKey, PaillierPrivateKey],
    other_keys: tuple[PaillierPublicKey, PaillierPrivateKey],
    encryptors: dict[str, Encryptor],
) -> None:
    pk, _ = keys512
    data = encryptors["fixed_base"].encrypt_vector([1.0, 2.0]).to_bytes()
    for bad in (b"", data[:10], data[:-1], data + b"\x00"):
        with pytest.raises(PaillierSerializationError):
            CipherVector.from_bytes(bad, pk)
    tampered = bytearray(data)
    tampered[60] ^= 0x01
    with pytest.raises(PaillierSerializationError, match="digest"):
        CipherVector.from_bytes(bytes(tampered), pk)
    wrong_magic = b"BAD!" + data[4:]
    with pytest.raises(PaillierSerializationError, match="magic"):
        CipherVector.from_bytes(wrong_magic, pk)
    with pytest.raises(PaillierSerializationError, match="expected a packed"):
        PackedCipherVector.from_bytes(data, pk)
    with pytest.raises(PaillierKeyMismatchError):
        CipherVector.from_bytes(data, other_keys[0])
    with pytest.raises(PaillierSerializationError):
        CipherVector.from_bytes("not bytes", pk)  # type: ignore[arg-type]
    # A well-framed body whose header lies about its contents is rejected too.
    body = CipherVector._BODY.pack(32, 5, -1, pk.ciphertext_bytes) + b"\x01" * pk.ciphertext_bytes
    forged = wire.frame(wire.KIND_CIPHER_VECTOR, pk.fingerprint, body)
    with pytest.raises(PaillierSerializationError, match="truncated"):
        CipherVector.from_bytes(forged, pk)
    zero_ct = CipherVector._BODY.pack(32, 1, -1, pk.ciphertext_bytes) + bytes(pk.ciphertext_bytes)
    with pytest.raises(PaillierSerializationError, match="outside"):
        CipherVector.from_bytes(wire.frame(wire.KIND_CIPHER_VECTOR, pk.fingerprint, zero_ct), pk)


# --------------------------------------------------------------------------- keys mixing


def test_key_mismatch_errors(
    keys512: tuple[PaillierPublicKey, PaillierPrivateKey],
    other_keys: tuple[PaillierPublicKey, PaillierPrivateKey],
    encryptors: dict[str, Encryptor],
) -> None:
    _, sk = keys512
    ours = encryptors["fixed_base"].encrypt_vector([1.0])
    theirs = Encryptor(other_keys[0]).encrypt_vector([1.0])
    with pytest.raises(PaillierKeyMismatchError):
        ours + theirs
    with pytest.raises(PaillierKeyMismatchError):
        sk.decrypt_vector(theirs)
    with pytest.raises(PaillierKeyMismatchError):
        ours.rerandomize(Encryptor(other_keys[0], mode="textbook"))
    assert issubclass(PaillierKeyMismatchError, PaillierError)
    assert issubclass(PaillierOverflowError, OverflowError)


def test_trusted_bound_half_decryption_matches_full(
    keys512: tuple[PaillierPublicKey, PaillierPrivateKey], encryptors: dict[str, Encryptor]
) -> None:
    _, sk = keys512
    cv = encryptors["fixed_base"].encrypt_vector(np.linspace(-5, 5, 11), bound=5.0)
    assert sk.decrypt_vector_ints(cv, trust_bound=True) == sk.decrypt_vector_ints(cv)
