"""Pairwise masks: the keys agree, the masks cancel exactly, fixed point round-trips."""

from __future__ import annotations

import numpy as np
import pytest

from fl_node.transfer import TransferIntegrityError, TransferProtocolError
from fl_node.transfer.masking import (
    FRACTION_BITS,
    LIMIT,
    KeyPair,
    Masker,
    decode,
    encode,
    mask,
    unmasked_sum,
)


def test_both_parties_derive_the_same_key_and_a_third_does_not() -> None:
    a, b, c = KeyPair(), KeyPair(), KeyPair()
    assert a.mask_key(b.public, b"task 1") == b.mask_key(a.public, b"task 1")
    assert a.mask_key(b.public, b"task 1") != a.mask_key(b.public, b"task 2")
    assert c.mask_key(a.public) != b.mask_key(a.public)
    with pytest.raises(TransferProtocolError):
        a.mask_key(b"short")


def test_masks_cancel_exactly_in_the_sum() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(0, 300, 5_000), rng.normal(0, 1, 5_000)
    a, b = KeyPair(), KeyPair()
    first = Masker(a.mask_key(b.public), 1).apply(encode(x), 7)
    second = Masker(b.mask_key(a.public), -1).apply(encode(y), 7)
    total = unmasked_sum(first, second)
    assert np.array_equal(total, encode(x) + encode(y))  # exact in Z_2^64
    np.testing.assert_allclose(decode(total), x + y, atol=2.0 ** -(FRACTION_BITS - 1))


def test_each_step_has_a_fresh_mask() -> None:
    key = bytes(range(32))
    assert not np.array_equal(mask(key, 1, 64), mask(key, 2, 64))
    # no word is reused: the step is the nonce, not an offset into one stream
    assert np.intersect1d(mask(key, 1, 4_096), mask(key, 2, 4_096)).size == 0
    assert np.array_equal(mask(key, 3, 64), mask(key, 3, 64))


def test_fixed_point_round_trip_and_range() -> None:
    values = np.array([0.0, 1.5, -1.5, 123456.789, -(2.0**-20)])
    np.testing.assert_allclose(decode(encode(values)), values, atol=2.0**-FRACTION_BITS)
    for bad in (np.array([LIMIT]), np.array([np.nan]), np.array([-np.inf])):
        with pytest.raises(TransferIntegrityError):
            encode(bad)
