"""Paillier cryptosystem for vertical federated learning (hetero logistic regression).

The guest (label holder) encrypts per-row residuals ``[[d_i]]`` with the
coordinator's public key, the host computes ``sum_i x_ij * [[d_i]]`` for each
of its features and the coordinator, who holds the private key, decrypts.
This module provides every piece of that pipeline:

* :func:`generate_keypair`, :class:`PaillierPublicKey`, :class:`PaillierPrivateKey`
  (CRT decryption, CRT encryption for the key holder);
* :class:`FixedPointEncoder`: signed fixed-point encoding with scale ``2**-k``
  (negatives as ``n - |x|``) and explicit overflow checks;
* :class:`Encryptor`: the fast path for a party holding only the public key --
  short-exponent randomizers ``h**s`` from a fixed-base window table, plus an
  offline pool of precomputed randomizers so that online encryption costs
  about one half-size modular multiplication;
* :class:`CipherVector`: vectors of ciphertexts with homomorphic addition,
  scalar multiplication and :meth:`CipherVector.dot`, a bucket
  multi-exponentiation over small signed exponents (the training hot path),
  plus validated serialization;
* :class:`Packer` / :class:`PackedCipherVector`: several fixed-point values per
  plaintext (``slot_bits`` wide, offset so negatives work), packed before
  encryption or homomorphically before decryption.

Ciphertexts are ``gmpy2.mpz`` values (int-compatible).  All randomness comes
from :mod:`secrets` / :func:`os.urandom`.  Design, security level and the
assumptions behind the short-exponent randomizers are in ``docs/paillier.md``.
"""

from __future__ import annotations

import logging
import math
import os
import secrets
import struct
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal, overload

import gmpy2
import numpy as np
import numpy.typing as npt
from tqdm import tqdm

from fl_node.vertical import _paillier_wire as wire
from fl_node.vertical._paillier_errors import (
    PaillierError,
    PaillierKeyMismatchError,
    PaillierOverflowError,
    PaillierSerializationError,
)
from fl_node.vertical._paillier_math import (
    INT64_EXPONENT_LIMIT,
    FixedBaseTable,
    Mpz,
    crt_combine,
    multi_exp_columns,
    multi_exp_naive,
    random_prime,
)

__all__ = [
    "DEFAULT_FRAC_BITS",
    "DEFAULT_KEY_BITS",
    "DEFAULT_SCALAR_FRAC_BITS",
    "DEFAULT_WINDOW_BITS",
    "CipherVector",
    "EncryptedNumber",
    "EncryptionMode",
    "Encryptor",
    "FixedPointEncoder",
    "PackedCipherVector",
    "Packer",
    "PaillierEncodingError",
    "PaillierError",
    "PaillierKeyMismatchError",
    "PaillierOverflowError",
    "PaillierPrivateKey",
    "PaillierPublicKey",
    "PaillierSerializationError",
    "default_short_exponent_bits",
    "generate_keypair",
    "security_bits",
]

logger = logging.getLogger(__name__)

#: Default modulus size: 2048 bits, ~112-bit security (NIST SP 800-57 Pt. 1).
DEFAULT_KEY_BITS = 2048
#: Default fractional bits of encrypted values (resolution 2**-32).
DEFAULT_FRAC_BITS = 32
#: Default fractional bits of float plaintext scalars in ``mul``/``dot``.
#: Scalars are exponents, so fewer bits make the hot path cheaper.
DEFAULT_SCALAR_FRAC_BITS = 16
#: Default window of the fixed-base table (8 bits: 32 rows x 255 residues
#: for 256-bit exponents, about 4 MiB at n = 2048 bits).
DEFAULT_WINDOW_BITS = 8
#: Floor for the short randomizer exponent, whatever the key size.
_MIN_SHORT_EXPONENT_BITS = 256

#: NIST SP 800-57 Part 1 Rev. 5, Table 2: modulus bits -> comparable strength.
_NIST_STRENGTH = ((15360, 256), (7680, 192), (3072, 128), (2048, 112), (1024, 80))

EncryptionMode = Literal["fixed_base", "textbook", "crt"]

_MPZ_TYPE = type(gmpy2.mpz(0))


class PaillierEncodingError(PaillierError, ValueError):
    """A value cannot be encoded (NaN, unsupported type or shape)."""


def security_bits(n_bits: int) -> int:
    """Return the symmetric-equivalent strength of an ``n_bits`` factoring modulus.

    Values follow NIST SP 800-57 Part 1 Rev. 5, Table 2 (1024 -> 80,
    2048 -> 112, 3072 -> 128, 7680 -> 192, 15360 -> 256); sizes between two
    rows get the lower row.  Moduli below 1024 bits get 0: they are for tests.

    Parameters
    ----------
    n_bits : int
        Bit length of the modulus ``n``.

    Returns
    -------
    int
        Security level in bits.
    """
    for size, strength in _NIST_STRENGTH:
        if n_bits >= size:
            return strength
    return 0


def default_short_exponent_bits(n_bits: int) -> int:
    """Return the default randomizer exponent length for an ``n_bits`` modulus.

    ``max(256, 2 * security_bits(n_bits))``: generic discrete-log attacks on
    an exponent of ``l`` bits (baby-step giant-step, Pollard's kangaroo) cost
    about ``2**(l/2)`` group operations, so ``l >= 2 * security`` keeps them
    at the key's security level; 256 bits adds margin at 2048 bits.
    """
    return max(_MIN_SHORT_EXPONENT_BITS, 2 * security_bits(n_bits))


def _bits_of(value: int) -> int:
    """Return the bit length of ``|value|`` for Python ints and numpy ints."""
    return abs(int(value)).bit_length()


def _check_frac_bits(frac_bits: int) -> int:
    if isinstance(frac_bits, bool) or not isinstance(frac_bits, int | np.integer):
        raise TypeError(f"frac_bits must be an int, got {type(frac_bits).__name__}")
    if frac_bits < 0:
        raise ValueError(f"frac_bits must be >= 0, got {frac_bits}")
    return int(frac_bits)


def _fixed_point_array(values: npt.ArrayLike, frac_bits: int) -> npt.NDArray[Any]:
    """Return ``round(values * 2**frac_bits)`` with the input's shape.

    Integers are shifted exactly; floats are scaled with ``ldexp`` (exact) and
    rounded half-to-even.  The result is ``int64`` when every entry is below
    ``2**62`` in magnitude, otherwise an object array of Python ints.

    Raises
    ------
    PaillierOverflowError
        For infinities or values whose scaled form is not finite.
    PaillierEncodingError
        For NaN or non-numeric input.
    """
    arr = np.asarray(values)
    kind = arr.dtype.kind
    if kind == "b":
        arr, kind = arr.astype(np.int64), "i"
    if kind in "iu":
        if arr.size == 0:
            return arr.astype(np.int64)
        top = max(abs(int(arr.max())), abs(int(arr.min())))
        if (top << frac_bits) < INT64_EXPONENT_LIMIT:
            return arr.astype(np.int64) << np.int64(frac_bits)
        return np.array([int(v) << frac_bits for v in arr.ravel().tolist()], dtype=object).reshape(
            arr.shape
        )
    if kind == "f":
        as64 = arr.astype(np.float64)
        if np.isnan(as64).any():
            raise PaillierEncodingError("cannot encode NaN")
        if not np.isfinite(as64).all():
            raise PaillierOverflowError("cannot encode an infinite value")
        with np.errstate(over="ignore"):
            scaled = np.rint(np.ldexp(as64, frac_bits))
        if not np.isfinite(scaled).all():
            raise PaillierOverflowError(f"value too large for {frac_bits} fractional bits")
        if scaled.size == 0 or float(np.abs(scaled).max()) < float(INT64_EXPONENT_LIMIT):
            return scaled.astype(np.int64)
        return np.array([int(v) for v in scaled.ravel().tolist()], dtype=object).reshape(arr.shape)
    if kind == "O":
        out: list[int] = []
        for v in arr.ravel().tolist():
            if isinstance(v, bool) or not isinstance(v, int | float):
                raise PaillierEncodingError(f"cannot encode {type(v).__name__}")
            if isinstance(v, int):
                out.append(v << frac_bits)
            elif math.isnan(v):
                raise PaillierEncodingError("cannot encode NaN")
            elif math.isinf(v):
                raise PaillierOverflowError("cannot encode an infinite value")
            else:
                out.append(round(math.ldexp(v, frac_bits)))
        return np.array(out, dtype=object).reshape(arr.shape)
    raise PaillierEncodingError(f"cannot encode values of dtype {arr.dtype}")


def _max_abs(encoded: npt.NDArray[Any]) -> int:
    if encoded.size == 0:
        return 0
    if encoded.dtype == object:
        return max(abs(int(v)) for v in encoded.ravel().tolist())
    return max(abs(int(encoded.max())), abs(int(encoded.min())))


def _default_scalar_frac_bits(values: npt.ArrayLike, frac_bits: int | None) -> int:
    if frac_bits is not None:
        return _check_frac_bits(frac_bits)
    arr = np.asarray(values)
    if arr.dtype.kind in "biu":
        return 0
    if arr.dtype == object and all(isinstance(v, int) for v in arr.ravel().tolist()):
        return 0
    return DEFAULT_SCALAR_FRAC_BITS


def _bound_bits_from_declared(bound: float, frac_bits: int) -> tuple[int, int]:
    """Return ``(encoded_bound, bound_bits)`` for a declared ``|x| <= bound``."""
    if not math.isfinite(bound) or bound < 0:
        raise ValueError(f"bound must be a finite non-negative number, got {bound}")
    encoded = (
        math.ceil(math.ldexp(bound, frac_bits))
        if isinstance(bound, float)
        else (int(bound) << frac_bits)
    )
    return encoded, encoded.bit_length()


# --------------------------------------------------------------------------- keys


@dataclass(frozen=True, repr=False)
class PaillierPublicKey:
    """Paillier public key with ``g = n + 1``.

    Parameters
    ----------
    n : int
        The modulus ``p * q``.
    nsquare : int
        ``n**2``.
    g : int
        The generator, always ``n + 1``.
    max_int : int
        Largest encodable magnitude, ``n // 3 - 1`` (as in python-paillier):
        plaintexts in ``(max_int, n - max_int)`` are an overflow dead zone.

    Notes
    -----
    Build keys with :meth:`from_n` (or :func:`generate_keypair`); the
    constructor checks that the four fields are consistent.  Fields hold
    ``gmpy2.mpz`` values, which behave like ``int``.
    """

    n: int
    nsquare: int
    g: int
    max_int: int

    def __post_init__(self) -> None:
        n = gmpy2.mpz(self.n)
        if n < 15 or n % 2 == 0:
            raise ValueError("n must be an odd modulus of at least 4 bits")
        expected = (n, n * n, n + 1, n // 3 - 1)
        given = (self.n, self.nsquare, self.g, self.max_int)
        if any(gmpy2.mpz(a) != b for a, b in zip(given, expected, strict=True)):
            raise ValueError("inconsistent public key: need nsquare=n*n, g=n+1, max_int=n//3-1")
        for name, value in zip(("n", "nsquare", "g", "max_int"), expected, strict=True):
            object.__setattr__(self, name, value)

    @classmethod
    def from_n(cls, n: int) -> PaillierPublicKey:
        """Return the public key for modulus ``n``."""
        n = gmpy2.mpz(n)
        return cls(n=n, nsquare=n * n, g=n + 1, max_int=n // 3 - 1)

    def __repr__(self) -> str:
        return f"PaillierPublicKey(n_bits={self.n_bits}, fingerprint={self.fingerprint.hex()})"

    @property
    def n_bits(self) -> int:
        """Bit length of ``n``."""
        return int(self.n.bit_length())

    @property
    def security_bits(self) -> int:
        """NIST SP 800-57 strength of this modulus (112 for 2048 bits)."""
        return security_bits(self.n_bits)

    @cached_property
    def fingerprint(self) -> bytes:
        """16-byte BLAKE2b digest of ``n``, used to tag serialized data."""
        return wire.fingerprint(self.n)

    @cached_property
    def ciphertext_bytes(self) -> int:
        """Fixed width of one serialized ciphertext (bytes of ``n**2``)."""
        return (int(self.nsquare.bit_length()) + 7) // 8

    # -- plaintext helpers -------------------------------------------------

    def to_plaintext(self, value: int) -> Mpz:
        """Map a signed integer with ``|value| <= max_int`` to ``[0, n)``.

        Raises
        ------
        PaillierOverflowError
            If ``|value| > max_int``.
        """
        if abs(value) > self.max_int:
            raise PaillierOverflowError(
                f"integer of {_bits_of(value)} bits exceeds max_int "
                f"({self.max_int.bit_length()} bits)"
            )
        return gmpy2.mpz(value) % self.n

    def to_signed(self, plaintext: int) -> int:
        """Map a decrypted plaintext in ``[0, n)`` back to a signed integer.

        Raises
        ------
        PaillierOverflowError
            If the plaintext lies in the dead zone ``(max_int, n - max_int)``,
            the sign that a computation overflowed.
        """
        if plaintext <= self.max_int:
            return int(plaintext)
        if plaintext >= self.n - self.max_int:
            return int(plaintext - self.n)
        raise PaillierOverflowError("decrypted value lies in the overflow dead zone")

    def random_unit(self) -> Mpz:
        """Return a uniformly random ``r`` in ``Z_n^*``."""
        while True:
            r = gmpy2.mpz(secrets.randbelow(int(self.n) - 1) + 1)
            if gmpy2.gcd(r, self.n) == 1:
                return r

    def _combine(self, value: int, rn: Mpz, rn_mod_n: Mpz) -> Mpz:
        """Return ``(1 + value*n) * rn mod n**2`` for a signed ``value``.

        Uses ``(1 + v n) rn = rn + n * (v * rn mod n)  (mod n**2)``: one
        half-size multiplication instead of a full ``n**2`` product.
        """
        return (rn + self.n * ((value * rn_mod_n) % self.n)) % self.nsquare

    # -- encryption --------------------------------------------------------

    def raw_encrypt(self, m: int, r: int | None = None) -> int:
        """Textbook encryption ``(1 + m n) * r**n mod n**2`` of ``0 <= m < n``.

        Parameters
        ----------
        m : int
            Plaintext in ``[0, n)``.
        r : int, optional
            Randomness in ``Z_n^*``; drawn with :mod:`secrets` when omitted.

        Returns
        -------
        int
            The ciphertext; identical to python-paillier's ``raw_encrypt``
            for the same ``m`` and ``r``.
        """
        if not 0 <= m < self.n:
            raise PaillierOverflowError("raw plaintext must lie in [0, n)")
        if r is None:
            r_mpz = self.random_unit()
        else:
            r_mpz = gmpy2.mpz(r)
            if not 0 < r_mpz < self.n or gmpy2.gcd(r_mpz, self.n) != 1:
                raise ValueError("r must be a unit modulo n")
        rn = gmpy2.powmod(r_mpz, self.n, self.nsquare)
        return int((1 + gmpy2.mpz(m) * self.n) * rn % self.nsquare)

    def encrypt(
        self,
        value: float,
        encoder: FixedPointEncoder | None = None,
        *,
        r: int | None = None,
    ) -> EncryptedNumber:
        """Encode ``value`` with ``encoder`` and encrypt it (textbook randomness).

        Parameters
        ----------
        value : float or int
            The number to encrypt; negative values are fine.
        encoder : FixedPointEncoder, optional
            Fixed-point encoder; ``FixedPointEncoder(self)`` when omitted.
        r : int, optional
            Explicit randomness in ``Z_n^*`` (tests, interop).

        Returns
        -------
        EncryptedNumber
        """
        enc = encoder if encoder is not None else FixedPointEncoder(self)
        if enc.public_key != self:
            raise PaillierKeyMismatchError("encoder belongs to a different key")
        signed = enc.encode_signed(value)[0]
        c = self.raw_encrypt(int(self.to_plaintext(signed)), r)
        return EncryptedNumber(self, c, enc.frac_bits, _bits_of(signed))

    # -- serialization -----------------------------------------------------

    def to_bytes(self) -> bytes:
        """Serialize the public key (framed, length-prefixed, digested)."""
        return wire.frame(wire.KIND_PUBLIC_KEY, self.fingerprint, wire.encode_int(int(self.n)))

    @classmethod
    def from_bytes(cls, data: bytes) -> PaillierPublicKey:
        """Load a public key written by :meth:`to_bytes`.

        Raises
        ------
        PaillierSerializationError
            If the bytes are truncated, corrupted or not a public key.
        """
        key_fp, body = wire.unframe(data, wire.KIND_PUBLIC_KEY)
        reader = wire.BodyReader(body)
        n = reader.read_int()
        reader.finish()
        try:
            key = cls.from_n(n)
        except ValueError as exc:
            raise PaillierSerializationError(f"invalid modulus: {exc}") from exc
        if key.fingerprint != key_fp:
            raise PaillierSerializationError("public key fingerprint does not match its modulus")
        return key


class PaillierPrivateKey:
    """Paillier private key (``p``, ``q``) with CRT decryption and encryption.

    Parameters
    ----------
    public_key : PaillierPublicKey
        The matching public key.
    p, q : int
        The distinct prime factors of ``public_key.n`` (stored with ``p < q``).

    Raises
    ------
    PaillierKeyMismatchError
        If ``p * q != n``.
    ValueError
        If ``p == q``.
    """

    def __init__(self, public_key: PaillierPublicKey, p: int, q: int) -> None:
        p_mpz, q_mpz = gmpy2.mpz(p), gmpy2.mpz(q)
        if p_mpz * q_mpz != public_key.n:
            raise PaillierKeyMismatchError("p * q does not equal the public key's n")
        if p_mpz == q_mpz:
            raise ValueError("p and q must be distinct")
        if q_mpz < p_mpz:
            p_mpz, q_mpz = q_mpz, p_mpz
        self.public_key = public_key
        self.p: int = p_mpz
        self.q: int = q_mpz
        self._psquare = p_mpz * p_mpz
        self._qsquare = q_mpz * q_mpz
        self._p_inv_mod_q = gmpy2.invert(p_mpz, q_mpz)
        self._psquare_inv_mod_qsquare = gmpy2.invert(self._psquare, self._qsquare)
        self._hp = self._h(p_mpz, self._psquare)
        self._hq = self._h(q_mpz, self._qsquare)
        # r**n mod p**2 only depends on n mod phi(p**2) = p (p - 1).
        self._n_mod_phi_psquare = public_key.n % (p_mpz * (p_mpz - 1))
        self._n_mod_phi_qsquare = public_key.n % (q_mpz * (q_mpz - 1))

    def _h(self, prime: Mpz, prime_square: Mpz) -> Mpz:
        g_pow = gmpy2.powmod(self.public_key.g, prime - 1, prime_square)
        return gmpy2.invert((g_pow - 1) // prime, prime)

    def __repr__(self) -> str:
        return f"PaillierPrivateKey(for {self.public_key!r})"

    def _check_key(self, public_key: PaillierPublicKey) -> None:
        if public_key.n != self.public_key.n:
            raise PaillierKeyMismatchError("ciphertext was made under a different public key")

    # -- decryption --------------------------------------------------------

    def _check_ciphertext(self, c: Mpz) -> Mpz:
        c = gmpy2.mpz(c)
        if not 0 < c < self.public_key.nsquare:
            raise PaillierError("ciphertext must lie in [1, n^2)")
        return c

    def _decrypt_mod_p(self, c: Mpz) -> Mpz:
        p, psq = self.p, self._psquare
        return (gmpy2.powmod(c % psq, p - 1, psq) - 1) // p * self._hp % p

    def _decrypt_mod_q(self, c: Mpz) -> Mpz:
        q, qsq = self.q, self._qsquare
        return (gmpy2.powmod(c % qsq, q - 1, qsq) - 1) // q * self._hq % q

    def raw_decrypt(self, c: int) -> int:
        """Decrypt a raw ciphertext to its plaintext in ``[0, n)`` using the CRT.

        Two half-size exponentiations (exponents ``p - 1`` and ``q - 1``
        modulo ``p**2`` and ``q**2``) instead of one modulo ``n**2``.
        """
        c_mpz = self._check_ciphertext(c)
        m_p = self._decrypt_mod_p(c_mpz)
        m_q = self._decrypt_mod_q(c_mpz)
        return int(crt_combine(m_p, m_q, self.p, self.q, self._p_inv_mod_q))

    def _decrypt_signed(self, c: Mpz, half: bool) -> int:
        if half:
            # |v| < p / 2 is guaranteed by the caller: m mod p determines v.
            m_p = int(self._decrypt_mod_p(c))
            p = int(self.p)
            return m_p if m_p <= p // 2 else m_p - p
        return self.public_key.to_signed(self.raw_decrypt(c))

    def _use_half(self, bound_bits: int | None, trust_bound: bool) -> bool:
        return trust_bound and bound_bits is not None and bound_bits <= self.p.bit_length() - 2

    def decrypt(self, number: EncryptedNumber) -> float:
        """Decrypt and decode an :class:`EncryptedNumber` to a float."""
        self._check_key(number.public_key)
        signed = self.public_key.to_signed(self.raw_decrypt(number.ciphertext))
        return _decode_one(signed, number.frac_bits)

    def decrypt_vector_ints(
        self, vector: CipherVector, *, trust_bound: bool = False, progress: bool = False
    ) -> list[int]:
        """Decrypt a :class:`CipherVector` to signed fixed-point integers.

        Parameters
        ----------
        vector : CipherVector
            Ciphertexts under this key.
        trust_bound : bool
            When the vector's ``bound_bits`` is known and below half the
            modulus size, decrypt modulo ``p`` only (one exponentiation
            instead of two).  This skips the dead-zone overflow check, so
            only use it when the bound comes from a party you trust.
        progress : bool
            Show a tqdm progress bar.

        Returns
        -------
        list of int
            Values scaled by ``2**vector.frac_bits``.
        """
        self._check_key(vector.public_key)
        half = self._use_half(vector.bound_bits, trust_bound)
        cts = vector.raw_ciphertexts
        it = tqdm(cts, desc="decrypt", disable=not progress, leave=False)
        return [self._decrypt_signed(self._check_ciphertext(c), half) for c in it]

    def decrypt_vector(
        self, vector: CipherVector, *, trust_bound: bool = False, progress: bool = False
    ) -> npt.NDArray[np.float64]:
        """Decrypt and decode a :class:`CipherVector` to a float64 array.

        See :meth:`decrypt_vector_ints` for ``trust_bound``.
        """
        ints = self.decrypt_vector_ints(vector, trust_bound=trust_bound, progress=progress)
        return _decode_many(ints, vector.frac_bits)

    def decrypt_packed_ints(
        self, packed: PackedCipherVector, *, progress: bool = False
    ) -> list[int]:
        """Decrypt a :class:`PackedCipherVector` to signed fixed-point integers.

        Raises
        ------
        PaillierOverflowError
            If a decrypted plaintext does not fit its slots (a slot overflowed
            or a value was below ``-offset``).
        """
        self._check_key(packed.public_key)
        plain = [
            self.raw_decrypt(c)
            for c in tqdm(packed.raw_ciphertexts, desc="decrypt", disable=not progress, leave=False)
        ]
        return packed.layout.unpack(plain, packed.n_values, packed.offset)

    def decrypt_packed(
        self, packed: PackedCipherVector, *, progress: bool = False
    ) -> npt.NDArray[np.float64]:
        """Decrypt and decode a :class:`PackedCipherVector` to a float64 array."""
        return _decode_many(self.decrypt_packed_ints(packed, progress=progress), packed.frac_bits)

    # -- CRT encryption (key holder only) ----------------------------------

    def crt_randomizer(self) -> Mpz:
        """Return a uniformly random ``n``-th residue ``r**n mod n**2`` via the CRT.

        ``r**n mod p**2`` is uniform over the order-``(p - 1)`` subgroup of
        ``Z_{p^2}^*``, which is exactly ``{y**p mod p**2 : y in Z_p^*}``, so one
        exponentiation with a ``|p|``-bit exponent modulo ``p**2`` per prime
        gives the same distribution as textbook ``r**n mod n**2``.
        """
        p, q = self.p, self.q
        y_p = gmpy2.mpz(secrets.randbelow(int(p) - 1) + 1)
        y_q = gmpy2.mpz(secrets.randbelow(int(q) - 1) + 1)
        r_p = gmpy2.powmod(y_p, p, self._psquare)
        r_q = gmpy2.powmod(y_q, q, self._qsquare)
        return crt_combine(r_p, r_q, self._psquare, self._qsquare, self._psquare_inv_mod_qsquare)

    def raw_encrypt_crt(self, m: int, r: int | None = None) -> int:
        """Encrypt ``0 <= m < n`` with CRT-accelerated randomness (key holder only).

        With an explicit ``r`` the result equals
        ``public_key.raw_encrypt(m, r)``.
        """
        pk = self.public_key
        if not 0 <= m < pk.n:
            raise PaillierOverflowError("raw plaintext must lie in [0, n)")
        if r is None:
            rn = self.crt_randomizer()
        else:
            r_mpz = gmpy2.mpz(r)
            if not 0 < r_mpz < pk.n or gmpy2.gcd(r_mpz, pk.n) != 1:
                raise ValueError("r must be a unit modulo n")
            r_p = gmpy2.powmod(r_mpz % self._psquare, self._n_mod_phi_psquare, self._psquare)
            r_q = gmpy2.powmod(r_mpz % self._qsquare, self._n_mod_phi_qsquare, self._qsquare)
            rn = crt_combine(r_p, r_q, self._psquare, self._qsquare, self._psquare_inv_mod_qsquare)
        return int(pk._combine(gmpy2.mpz(m), rn, rn % pk.n))


def generate_keypair(
    n_bits: int = DEFAULT_KEY_BITS,
) -> tuple[PaillierPublicKey, PaillierPrivateKey]:
    """Generate a Paillier key pair with an ``n`` of exactly ``n_bits`` bits.

    ``p`` and ``q`` are independent random primes of ``n_bits / 2`` bits
    (two top bits set, found with :func:`gmpy2.next_prime` from a random odd
    start drawn with :mod:`secrets`, then 32 extra Miller-Rabin rounds), with
    ``p != q``, ``|p - q| >= 2**(n_bits/2 - 100)`` (FIPS 186-5 style guard
    against Fermat factoring) and ``gcd(n, (p-1)(q-1)) = 1``.

    Parameters
    ----------
    n_bits : int
        Even modulus size, at least 128.  Use 2048 (112-bit security) or more
        in production; smaller keys are for tests.

    Returns
    -------
    tuple of (PaillierPublicKey, PaillierPrivateKey)
    """
    if isinstance(n_bits, bool) or not isinstance(n_bits, int):
        raise TypeError("n_bits must be an int")
    if n_bits < 128 or n_bits % 2:
        raise ValueError(f"n_bits must be an even number >= 128, got {n_bits}")
    if n_bits < DEFAULT_KEY_BITS:
        logger.warning("generating a %d-bit Paillier key: below 112-bit security", n_bits)
    half = n_bits // 2
    min_gap_bits = half - 100 if half > 200 else half // 2
    start = time.perf_counter()
    while True:
        p = random_prime(half)
        q = random_prime(half)
        if p == q or abs(p - q).bit_length() <= min_gap_bits:
            continue
        n = p * q
        if n.bit_length() != n_bits or gmpy2.gcd(n, (p - 1) * (q - 1)) != 1:
            continue
        break
    public_key = PaillierPublicKey.from_n(n)
    private_key = PaillierPrivateKey(public_key, p, q)
    logger.debug("generated %d-bit Paillier key in %.2fs", n_bits, time.perf_counter() - start)
    return public_key, private_key


# --------------------------------------------------------------------------- encoding


def _decode_one(signed: int, frac_bits: int) -> float:
    try:
        return signed / (1 << frac_bits) if frac_bits else float(signed)
    except OverflowError as exc:
        raise PaillierOverflowError("decoded value does not fit a float") from exc


def _decode_many(ints: Sequence[int], frac_bits: int) -> npt.NDArray[np.float64]:
    return np.array([_decode_one(v, frac_bits) for v in ints], dtype=np.float64)


class FixedPointEncoder:
    """Signed fixed-point encoding ``x -> round(x * 2**frac_bits) mod n``.

    Negative values map to ``n - |x|`` (so ``E(x) + E(-x) = E(0)``); the
    resolution is ``scale = 2**-frac_bits`` and the rounding error at most
    ``scale / 2``.  Encoded magnitudes above ``public_key.max_int`` raise
    :class:`PaillierOverflowError`, as do infinities; NaN raises
    :class:`PaillierEncodingError`.  Python ints and integer arrays are
    encoded exactly.

    Parameters
    ----------
    public_key : PaillierPublicKey
        Key whose plaintext space the encoding targets.
    frac_bits : int
        Number of fractional bits ``k`` (default 32).
    """

    def __init__(self, public_key: PaillierPublicKey, frac_bits: int = DEFAULT_FRAC_BITS) -> None:
        self.public_key = public_key
        self.frac_bits = _check_frac_bits(frac_bits)

    def __repr__(self) -> str:
        return f"FixedPointEncoder(frac_bits={self.frac_bits}, {self.public_key!r})"

    @property
    def scale(self) -> float:
        """Value of one unit of the encoding, ``2**-frac_bits``."""
        return math.ldexp(1.0, -self.frac_bits)

    def encode_signed(self, values: npt.ArrayLike) -> list[int]:
        """Return the signed fixed-point integers of ``values`` (flattened).

        Raises
        ------
        PaillierOverflowError
            If any encoded magnitude exceeds ``max_int``.
        """
        encoded = _fixed_point_array(values, self.frac_bits)
        ints = [int(v) for v in encoded.ravel().tolist()]
        if ints and max(abs(v) for v in ints) > self.public_key.max_int:
            raise PaillierOverflowError(
                f"value exceeds the plaintext space at {self.frac_bits} fractional bits"
            )
        return ints

    @overload
    def encode(self, values: float) -> int: ...

    @overload
    def encode(self, values: npt.NDArray[Any] | Sequence[float]) -> list[int]: ...

    def encode(self, values: npt.ArrayLike) -> int | list[int]:
        """Encode a scalar to an int, or an array (flattened) to a list, in ``[0, n)``."""
        n = self.public_key.n
        ints = [int(v % n) for v in self.encode_signed(values)]
        return ints[0] if np.ndim(values) == 0 else ints

    def decode_signed(self, plaintext: int) -> int:
        """Map a plaintext in ``[0, n)`` to its signed fixed-point integer."""
        return self.public_key.to_signed(plaintext)

    @overload
    def decode(self, plaintexts: int) -> float: ...

    @overload
    def decode(self, plaintexts: Sequence[int] | npt.NDArray[Any]) -> npt.NDArray[np.float64]: ...

    def decode(self, plaintexts: int | Sequence[int] | npt.NDArray[Any]) -> Any:
        """Decode plaintexts in ``[0, n)`` to float(s).

        Raises
        ------
        PaillierOverflowError
            If a plaintext lies in the dead zone ``(max_int, n - max_int)``.
        """
        if isinstance(plaintexts, int):
            return _decode_one(self.decode_signed(plaintexts), self.frac_bits)
        arr = np.asarray(plaintexts, dtype=object)
        if arr.ndim == 0:
            return _decode_one(self.decode_signed(int(arr.item())), self.frac_bits)
        ints = [self.decode_signed(int(v)) for v in arr.ravel().tolist()]
        return _decode_many(ints, self.frac_bits)


# --------------------------------------------------------------------------- ciphertexts


def _check_bound(public_key: PaillierPublicKey, bound_bits: int | None, what: str) -> None:
    """Raise if values below ``2**bound_bits`` in magnitude may exceed ``max_int``."""
    if bound_bits is not None and (1 << bound_bits) - 1 > public_key.max_int:
        raise PaillierOverflowError(
            f"{what}: |values| < 2**{bound_bits} may exceed the plaintext space "
            f"(max_int has {public_key.max_int.bit_length()} bits)"
        )


@dataclass(frozen=True, repr=False)
class EncryptedNumber:
    """A single ciphertext with its fixed-point scale.

    Parameters
    ----------
    public_key : PaillierPublicKey
        Key it is encrypted under.
    ciphertext : int
        The raw ciphertext in ``[1, n**2)``.
    frac_bits : int
        The plaintext is ``value * 2**frac_bits``.
    bound_bits : int, optional
        ``|value * 2**frac_bits| < 2**bound_bits`` when known.
    """

    public_key: PaillierPublicKey
    ciphertext: int
    frac_bits: int
    bound_bits: int | None = None

    #: Make numpy defer ``ndarray <op> EncryptedNumber`` to our reflected operators.
    __array_ufunc__ = None

    def __repr__(self) -> str:
        return f"EncryptedNumber(frac_bits={self.frac_bits}, bound_bits={self.bound_bits})"

    def to_vector(self) -> CipherVector:
        """Return a length-1 :class:`CipherVector`."""
        return CipherVector(self.public_key, [self.ciphertext], self.frac_bits, self.bound_bits)

    def __add__(self, other: EncryptedNumber | float) -> EncryptedNumber:
        rhs = other.to_vector() if isinstance(other, EncryptedNumber) else other
        return self.to_vector().add(rhs)[0]

    def __radd__(self, other: float) -> EncryptedNumber:
        return self.__add__(other)

    def __sub__(self, other: EncryptedNumber | float) -> EncryptedNumber:
        rhs = other.to_vector() if isinstance(other, EncryptedNumber) else other
        return (self.to_vector() - rhs)[0]

    def __rsub__(self, other: float) -> EncryptedNumber:
        return (-self).__add__(other)

    def __mul__(self, other: float) -> EncryptedNumber:
        return self.to_vector().mul(other)[0]

    def __rmul__(self, other: float) -> EncryptedNumber:
        return self.__mul__(other)

    def __neg__(self) -> EncryptedNumber:
        return (-self.to_vector())[0]


class CipherVector:
    """A vector of Paillier ciphertexts sharing one fixed-point scale.

    Plaintext ``i`` is ``round(value_i * 2**frac_bits) mod n``.  ``bound_bits``
    (when known) promises ``|value_i * 2**frac_bits| < 2**bound_bits``; every
    operation propagates it and raises :class:`PaillierOverflowError` *before*
    computing when the result could leave the plaintext space.  ``None`` means
    unknown: no early check (decryption still detects the dead zone).  The bound
    travels with serialized vectors, so derive it from public parameters when
    the magnitude of the data is itself sensitive.

    Parameters
    ----------
    public_key : PaillierPublicKey
        Key of every ciphertext.
    ciphertexts : iterable of int
        Raw ciphertexts (converted to ``gmpy2.mpz``).
    frac_bits : int
        Fractional bits of the encoding.
    bound_bits : int, optional
        Magnitude bound of the encoded plaintexts, see above.
    """

    __slots__ = ("_cts", "bound_bits", "frac_bits", "public_key")
    #: Make numpy defer ``ndarray <op> CipherVector`` to our reflected operators.
    __array_ufunc__ = None

    def __init__(
        self,
        public_key: PaillierPublicKey,
        ciphertexts: Iterable[int],
        frac_bits: int,
        bound_bits: int | None = None,
    ) -> None:
        self.public_key = public_key
        self.frac_bits = _check_frac_bits(frac_bits)
        if bound_bits is not None and bound_bits < 0:
            raise ValueError("bound_bits must be non-negative")
        _check_bound(public_key, bound_bits, "cipher vector")
        self.bound_bits = bound_bits
        self._cts: list[Mpz] = [c if type(c) is _MPZ_TYPE else gmpy2.mpz(c) for c in ciphertexts]

    # -- container protocol --------------------------------------------------

    def __len__(self) -> int:
        return len(self._cts)

    def __repr__(self) -> str:
        return (
            f"CipherVector(len={len(self)}, frac_bits={self.frac_bits}, "
            f"bound_bits={self.bound_bits}, {self.public_key!r})"
        )

    @overload
    def __getitem__(self, index: int) -> EncryptedNumber: ...

    @overload
    def __getitem__(self, index: slice) -> CipherVector: ...

    def __getitem__(self, index: int | slice) -> EncryptedNumber | CipherVector:
        if isinstance(index, slice):
            return self._like(self._cts[index], self.frac_bits, self.bound_bits)
        return EncryptedNumber(self.public_key, self._cts[index], self.frac_bits, self.bound_bits)

    def __iter__(self) -> Iterator[EncryptedNumber]:
        for c in self._cts:
            yield EncryptedNumber(self.public_key, c, self.frac_bits, self.bound_bits)

    @property
    def ciphertexts(self) -> list[int]:
        """Copy of the raw ciphertexts (``gmpy2.mpz``, int-compatible)."""
        return list(self._cts)

    @property
    def raw_ciphertexts(self) -> Sequence[int]:
        """The internal ciphertext list (read-only by convention, no copy)."""
        return self._cts

    @property
    def scale(self) -> float:
        """Value of one plaintext unit, ``2**-frac_bits``."""
        return math.ldexp(1.0, -self.frac_bits)

    def _like(self, cts: Iterable[Mpz], frac_bits: int, bound_bits: int | None) -> CipherVector:
        return CipherVector(self.public_key, cts, frac_bits, bound_bits)

    def _check_same_key(self, other: PaillierPublicKey) -> None:
        if other.n != self.public_key.n:
            raise PaillierKeyMismatchError("cipher vectors are under different public keys")

    @classmethod
    def concatenate(cls, vectors: Sequence[CipherVector]) -> CipherVector:
        """Concatenate vectors under one key (scales aligned to the finest)."""
        if not vectors:
            raise ValueError("nothing to concatenate")
        first = vectors[0]
        for v in vectors[1:]:
            first._check_same_key(v.public_key)
        frac = max(v.frac_bits for v in vectors)
        parts = [v.rescale(frac) for v in vectors]
        bounds = [v.bound_bits for v in parts]
        bound = None if any(b is None for b in bounds) else max(b for b in bounds if b is not None)
        return cls(first.public_key, [c for v in parts for c in v._cts], frac, bound)

    # -- homomorphic operations ---------------------------------------------

    def rescale(self, frac_bits: int) -> CipherVector:
        """Return the same values at a finer scale (``frac_bits >= self.frac_bits``).

        Multiplies every plaintext by ``2**(frac_bits - self.frac_bits)``.
        """
        shift = _check_frac_bits(frac_bits) - self.frac_bits
        if shift < 0:
            raise ValueError("cannot reduce frac_bits homomorphically")
        if shift == 0:
            return self
        bound = None if self.bound_bits is None else self.bound_bits + shift
        _check_bound(self.public_key, bound, "rescale")
        nsq, e = self.public_key.nsquare, 1 << shift
        return self._like([gmpy2.powmod(c, e, nsq) for c in self._cts], frac_bits, bound)

    def add(self, other: CipherVector | EncryptedNumber | npt.ArrayLike) -> CipherVector:
        """Return ``self + other`` for a cipher vector, ciphertext or plaintext(s).

        Cipher operands of length 1 broadcast.  Scales are aligned to the
        larger ``frac_bits``; plaintexts are encoded at ``self.frac_bits``.
        """
        if isinstance(other, EncryptedNumber):
            other = other.to_vector()
        if isinstance(other, CipherVector):
            return self._add_cipher(other)
        return self._add_plain(other)

    def _add_cipher(self, other: CipherVector) -> CipherVector:
        self._check_same_key(other.public_key)
        if len(other) != len(self) and len(other) != 1 and len(self) != 1:
            raise ValueError(f"length mismatch: {len(self)} vs {len(other)}")
        frac = max(self.frac_bits, other.frac_bits)
        a, b = self.rescale(frac), other.rescale(frac)
        bound = (
            None
            if a.bound_bits is None or b.bound_bits is None
            else max(a.bound_bits, b.bound_bits) + 1
        )
        _check_bound(self.public_key, bound, "addition")
        nsq = self.public_key.nsquare
        xs, ys = a._cts, b._cts
        if len(xs) == 1 and len(ys) != 1:
            xs = xs * len(ys)
        elif len(ys) == 1 and len(xs) != 1:
            ys = ys * len(xs)
        return self._like([x * y % nsq for x, y in zip(xs, ys, strict=True)], frac, bound)

    def _plain_operand(self, values: npt.ArrayLike, frac_bits: int) -> list[int]:
        encoded = _fixed_point_array(values, frac_bits)
        if encoded.ndim == 0:
            return [int(encoded.item())] * len(self)
        if encoded.shape != (len(self),):
            raise ValueError(
                f"plaintext of shape {encoded.shape} does not match length {len(self)}"
            )
        return [int(v) for v in encoded.tolist()]

    def _add_plain(self, values: npt.ArrayLike) -> CipherVector:
        return self.add_encoded(self._plain_operand(values, self.frac_bits))

    def add_encoded(self, values: Sequence[int], bound_bits: int | None = None) -> CipherVector:
        """Add signed integers already at this vector's scale (e.g. random masks).

        Parameters
        ----------
        values : sequence of int
            One signed integer per element, in units of ``2**-frac_bits``.
        bound_bits : int, optional
            Public bound ``|values| < 2**bound_bits``; taken from the data
            when omitted.
        """
        if len(values) != len(self):
            raise ValueError(f"{len(values)} values for a vector of length {len(self)}")
        top = max((_bits_of(v) for v in values), default=0)
        if bound_bits is None:
            bound_bits = top
        elif top > bound_bits:
            raise PaillierOverflowError("values exceed the declared bound_bits")
        bound = None if self.bound_bits is None else max(self.bound_bits, bound_bits) + 1
        _check_bound(self.public_key, bound, "addition")
        pk = self.public_key
        n, nsq = pk.n, pk.nsquare
        # c * (1 + v n) = c + n * (v * c mod n)  (mod n^2)
        out = [
            (c + n * ((int(v) * c) % n)) % nsq if v else c
            for c, v in zip(self._cts, values, strict=True)
        ]
        return self._like(out, self.frac_bits, bound)

    def __add__(self, other: CipherVector | EncryptedNumber | npt.ArrayLike) -> CipherVector:
        return self.add(other)

    def __radd__(self, other: npt.ArrayLike) -> CipherVector:
        return self.add(other)

    def __neg__(self) -> CipherVector:
        nsq = self.public_key.nsquare
        return self._like(
            [gmpy2.invert(c, nsq) for c in self._cts], self.frac_bits, self.bound_bits
        )

    def __sub__(self, other: CipherVector | EncryptedNumber | npt.ArrayLike) -> CipherVector:
        if isinstance(other, EncryptedNumber):
            other = other.to_vector()
        if isinstance(other, CipherVector):
            return self._add_cipher(-other)
        negated = _fixed_point_array(other, self.frac_bits)
        return self.add_encoded(self._plain_operand(-negated, 0))

    def __rsub__(self, other: npt.ArrayLike) -> CipherVector:
        return (-self).add(other)

    def mul(self, scalars: npt.ArrayLike, *, frac_bits: int | None = None) -> CipherVector:
        """Return the element-wise product with plaintext scalar(s).

        Parameters
        ----------
        scalars : float, int or array of shape (len(self),)
            Plaintext multipliers (negative allowed; they become small negative
            exponents, never ``n - |x|``).
        frac_bits : int, optional
            Fixed-point bits for the scalars: 0 for integer input, else
            :data:`DEFAULT_SCALAR_FRAC_BITS`.  The result has
            ``self.frac_bits + frac_bits`` fractional bits.
        """
        k = _default_scalar_frac_bits(scalars, frac_bits)
        exps = self._plain_operand(scalars, k)
        top = max((_bits_of(e) for e in exps), default=0)
        bound = None if self.bound_bits is None else self.bound_bits + top
        _check_bound(self.public_key, bound, "multiplication")
        nsq = self.public_key.nsquare
        out = [
            c if e == 1 else gmpy2.powmod(c, e, nsq) for c, e in zip(self._cts, exps, strict=True)
        ]
        return self._like(out, self.frac_bits + k, bound)

    def __mul__(self, other: npt.ArrayLike) -> CipherVector:
        return self.mul(other)

    def __rmul__(self, other: npt.ArrayLike) -> CipherVector:
        return self.mul(other)

    def sum(self) -> EncryptedNumber:
        """Return the encrypted sum of all elements."""
        nsq = self.public_key.nsquare
        acc = gmpy2.mpz(1)
        for c in self._cts:
            acc = acc * c % nsq
        bound = None if self.bound_bits is None else self.bound_bits + len(self).bit_length()
        _check_bound(self.public_key, bound, "sum")
        return EncryptedNumber(self.public_key, acc, self.frac_bits, bound)

    def dot(
        self,
        plain_matrix: npt.ArrayLike,
        *,
        frac_bits: int | None = None,
        x_bound: float | None = None,
        progress: bool = False,
    ) -> CipherVector:
        """Return ``[[sum_i x_ij * d_i]]`` for every column ``j`` of ``plain_matrix``.

        The vertical-LR hot path.  ``x_ij`` are encoded to small signed
        integers (``frac_bits`` fractional bits) and every output is a bucket
        multi-exponentiation ``prod_i [[d_i]] ** x_ij``: about
        ``ceil(bits / w)`` modular multiplications per non-zero ``x_ij`` with a
        window ``w ~ log2(N)``, negatives handled by one inversion per output.

        Parameters
        ----------
        plain_matrix : array of shape (N,) or (N, F)
            Plaintext matrix with ``N == len(self)`` rows.
        frac_bits : int, optional
            Fixed-point bits of ``x``: 0 for integer input, else
            :data:`DEFAULT_SCALAR_FRAC_BITS` (rounding error ``<= 2**-(k+1)``
            per entry).
        x_bound : float, optional
            Public bound ``|x_ij| <= x_bound``.  The result's ``bound_bits``
            then depends only on public values; otherwise it is derived from
            the largest column L1 norm of the data (its bit length is
            revealed to whoever receives the result).
        progress : bool
            Show a tqdm progress bar over the columns.

        Returns
        -------
        CipherVector
            ``F`` ciphertexts (1 for a 1-D input) with
            ``self.frac_bits + frac_bits`` fractional bits.
        """
        x = np.asarray(plain_matrix)
        if x.ndim == 1:
            x = x.reshape(-1, 1)
        if x.ndim != 2 or x.shape[0] != len(self):
            raise ValueError(f"matrix of shape {np.shape(plain_matrix)} needs {len(self)} rows")
        k = _default_scalar_frac_bits(x, frac_bits)
        exps = _fixed_point_array(x, k)
        n_rows = x.shape[0]
        if x_bound is not None:
            encoded_bound, _ = _bound_bits_from_declared(x_bound, k)
            if _max_abs(exps) > encoded_bound:
                raise PaillierOverflowError("plain matrix exceeds the declared x_bound")
            weight_bits = (n_rows * encoded_bound).bit_length()
        elif exps.size == 0:
            weight_bits = 0
        elif exps.dtype == object:
            weight_bits = max(
                _bits_of(sum(abs(int(v)) for v in exps[:, j])) for j in range(exps.shape[1])
            )
        else:
            col_l1 = [sum(abs(int(v)) for v in col) for col in np.abs(exps).T.tolist()]
            weight_bits = max(col_l1).bit_length() if col_l1 else 0
        bound = None if self.bound_bits is None else self.bound_bits + weight_bits
        _check_bound(self.public_key, bound, "dot product")
        nsq = self.public_key.nsquare
        if exps.dtype == object:
            out = [
                multi_exp_naive(self._cts, [int(v) for v in exps[:, j]], nsq)
                for j in range(exps.shape[1])
            ]
        else:
            out = multi_exp_columns(self._cts, exps, nsq, progress=progress)
        return self._like(out, self.frac_bits + k, bound)

    def rerandomize(self, encryptor: Encryptor) -> CipherVector:
        """Multiply every ciphertext by a fresh encryption of zero.

        Results of :meth:`dot`/:meth:`mul` are deterministic functions of the
        inputs; rerandomize before sending them to a party that could relate
        them to the inputs' randomness.
        """
        self._check_same_key(encryptor.public_key)
        nsq = self.public_key.nsquare
        rs = encryptor.take_randomizers(len(self))
        return self._like(
            [c * rn % nsq for c, (rn, _) in zip(self._cts, rs, strict=True)],
            self.frac_bits,
            self.bound_bits,
        )

    # -- serialization -------------------------------------------------------

    _BODY = struct.Struct(">IIiI")  # frac_bits, count, bound_bits (-1: unknown), width

    @property
    def nbytes(self) -> int:
        """Exact size in bytes of :meth:`to_bytes` (for communication statistics)."""
        return wire.FRAME_OVERHEAD + self._BODY.size + len(self) * self.public_key.ciphertext_bytes

    def to_bytes(self) -> bytes:
        """Serialize as a framed, length-prefixed, digested byte string."""
        width = self.public_key.ciphertext_bytes
        bound = -1 if self.bound_bits is None else self.bound_bits
        body = self._BODY.pack(self.frac_bits, len(self), bound, width)
        body += wire.encode_ciphertexts(self._cts, width)
        return wire.frame(wire.KIND_CIPHER_VECTOR, self.public_key.fingerprint, body)

    @classmethod
    def from_bytes(cls, data: bytes, public_key: PaillierPublicKey) -> CipherVector:
        """Load a vector written by :meth:`to_bytes` under ``public_key``.

        Raises
        ------
        PaillierSerializationError
            Truncated/corrupted bytes, bad header fields, ciphertexts outside
            ``[1, n**2)``.
        PaillierKeyMismatchError
            If the data was written under another key.
        """
        key_fp, body = wire.unframe(data, wire.KIND_CIPHER_VECTOR)
        if key_fp != public_key.fingerprint:
            raise PaillierKeyMismatchError("serialized vector belongs to a different public key")
        reader = wire.BodyReader(body)
        frac_bits, count, bound, width = reader.unpack(cls._BODY)
        if width != public_key.ciphertext_bytes:
            raise PaillierSerializationError(
                f"ciphertext width {width} does not match the key ({public_key.ciphertext_bytes})"
            )
        if bound < -1:
            raise PaillierSerializationError(f"invalid bound_bits {bound}")
        cts = reader.read_ciphertexts(count, width, public_key.nsquare)
        reader.finish()
        try:
            return cls(public_key, cts, frac_bits, None if bound == -1 else bound)
        except PaillierOverflowError as exc:
            raise PaillierSerializationError(f"invalid header: {exc}") from exc


# --------------------------------------------------------------------------- encryptor


class Encryptor:
    """Batch encryption for a party that holds (at least) the public key.

    Modes
    -----
    ``"fixed_base"`` (default)
        Randomizer ``h**s mod n**2`` with ``h = r0**n`` for a random secret
        ``r0`` chosen here (``h`` never leaves this object) and a fresh
        uniform ``s`` of ``short_exponent_bits`` bits per ciphertext, computed
        from a fixed-base window table (~``bits / window_bits``
        multiplications).  Rests on the short-exponent assumption described
        in ``docs/paillier.md``.
    ``"textbook"``
        ``r**n mod n**2`` with uniform ``r``: one full exponentiation.
    ``"crt"``
        Key holder only (``private_key`` required): the textbook
        distribution computed with the CRT.

    In every mode :meth:`precompute` fills an offline pool of randomizers;
    online encryption then costs one half-size modular multiplication.

    Parameters
    ----------
    public_key : PaillierPublicKey
        Encryption key.
    mode : {"fixed_base", "textbook", "crt"}
        Randomizer generation, see above.
    private_key : PaillierPrivateKey, optional
        Needed for ``mode="crt"``.
    short_exponent_bits : int, optional
        Length of ``s``; default :func:`default_short_exponent_bits`
        (256 at 2048 bits).  Must be at least twice the key's security level.
    window_bits : int
        Window of the fixed-base table (memory ``~ bits/w * 2**w`` residues).
    frac_bits : int
        Default fractional bits for :meth:`encrypt_vector`.
    """

    def __init__(
        self,
        public_key: PaillierPublicKey,
        *,
        mode: EncryptionMode = "fixed_base",
        private_key: PaillierPrivateKey | None = None,
        short_exponent_bits: int | None = None,
        window_bits: int = DEFAULT_WINDOW_BITS,
        frac_bits: int = DEFAULT_FRAC_BITS,
    ) -> None:
        if mode not in ("fixed_base", "textbook", "crt"):
            raise ValueError(f"unknown mode {mode!r}")
        if private_key is not None and private_key.public_key.n != public_key.n:
            raise PaillierKeyMismatchError("private key does not match the public key")
        if mode == "crt" and private_key is None:
            raise ValueError('mode="crt" needs the private key')
        self.public_key = public_key
        self.mode: EncryptionMode = mode
        self.encoder = FixedPointEncoder(public_key, frac_bits)
        self._private_key = private_key
        self._pool: list[tuple[Mpz, Mpz]] = []
        self._table: FixedBaseTable | None = None
        minimum = 2 * security_bits(public_key.n_bits)
        bits = (
            default_short_exponent_bits(public_key.n_bits)
            if short_exponent_bits is None
            else int(short_exponent_bits)
        )
        if bits < minimum or bits < 1:
            raise ValueError(
                f"short_exponent_bits={bits} is below 2 x the {security_bits(public_key.n_bits)}"
                f"-bit security level of a {public_key.n_bits}-bit key"
            )
        self.short_exponent_bits = bits
        self.window_bits = window_bits
        if mode == "fixed_base":
            start = time.perf_counter()
            base = gmpy2.powmod(public_key.random_unit(), public_key.n, public_key.nsquare)
            self._table = FixedBaseTable(base, public_key.nsquare, bits, window_bits)
            logger.debug(
                "fixed-base table: %d residues (%d-bit exponents, w=%d) in %.3fs",
                self._table.n_entries,
                bits,
                window_bits,
                time.perf_counter() - start,
            )

    def __repr__(self) -> str:
        return (
            f"Encryptor(mode={self.mode!r}, short_exponent_bits={self.short_exponent_bits}, "
            f"pool={len(self._pool)}, {self.public_key!r})"
        )

    # -- randomizers -----------------------------------------------------------

    def _compute_randomizers(self, count: int, progress: bool = False) -> list[Mpz]:
        pk = self.public_key
        bar = tqdm(
            total=count, desc=f"randomizers ({self.mode})", disable=not progress, leave=False
        )
        out: list[Mpz] = []
        try:
            if self._table is not None:
                table = self._table
                bits = self.short_exponent_bits
                if self.window_bits == 8 and bits % 8 == 0:
                    width = bits // 8
                    buf = os.urandom(width * count)
                    for i in range(count):
                        out.append(table.pow_bytes(buf[i * width : (i + 1) * width]))
                        bar.update(1)
                else:
                    for _ in range(count):
                        out.append(table.pow(secrets.randbits(bits)))
                        bar.update(1)
            elif self._private_key is not None and self.mode == "crt":
                for _ in range(count):
                    out.append(self._private_key.crt_randomizer())
                    bar.update(1)
            else:
                n, nsq = pk.n, pk.nsquare
                for _ in range(count):
                    out.append(gmpy2.powmod(pk.random_unit(), n, nsq))
                    bar.update(1)
        finally:
            bar.close()
        return out

    def precompute(self, count: int, *, progress: bool = False) -> None:
        """Fill the offline pool with ``count`` more randomizers.

        Each pooled randomizer is used exactly once (popped), so online
        encryption of ``k`` values consumes ``k`` entries; when the pool runs
        dry encryption falls back to computing randomizers online.
        """
        if count < 0:
            raise ValueError("count must be non-negative")
        n = self.public_key.n
        self._pool.extend((rn, rn % n) for rn in self._compute_randomizers(count, progress))

    @property
    def pool_size(self) -> int:
        """Number of unused precomputed randomizers."""
        return len(self._pool)

    def clear_pool(self) -> None:
        """Drop all precomputed randomizers."""
        self._pool.clear()

    def take_randomizers(self, count: int, *, progress: bool = False) -> list[tuple[Mpz, Mpz]]:
        """Return ``count`` fresh ``(r**n mod n**2, r**n mod n)`` pairs, pool first.

        Each pair is handed out once; callers must not reuse it.
        """
        if count < 0:
            raise ValueError("count must be non-negative")
        from_pool = min(count, len(self._pool))
        taken = self._pool[len(self._pool) - from_pool :]
        del self._pool[len(self._pool) - from_pool :]
        missing = count - from_pool
        if missing:
            n = self.public_key.n
            taken.extend((rn, rn % n) for rn in self._compute_randomizers(missing, progress))
        return taken

    # -- encryption --------------------------------------------------------------

    def raw_encrypt(self, m: int) -> int:
        """Encrypt a raw plaintext ``0 <= m < n`` with this encryptor's randomness."""
        pk = self.public_key
        if not 0 <= m < pk.n:
            raise PaillierOverflowError("raw plaintext must lie in [0, n)")
        ((rn, rn_mod_n),) = self.take_randomizers(1)
        return int(pk._combine(gmpy2.mpz(m), rn, rn_mod_n))

    def encrypt(self, value: float, *, frac_bits: int | None = None) -> EncryptedNumber:
        """Encrypt one number (see :meth:`encrypt_vector`)."""
        return self.encrypt_vector([value], frac_bits=frac_bits)[0]

    def encrypt_vector(
        self,
        values: npt.ArrayLike,
        *,
        frac_bits: int | None = None,
        bound: float | None = None,
        progress: bool = False,
    ) -> CipherVector:
        """Encode and encrypt a 1-D array of numbers.

        Parameters
        ----------
        values : array-like of shape (N,)
            Floats or ints, negative allowed.
        frac_bits : int, optional
            Fixed-point bits (default: the encryptor's, 32).
        bound : float, optional
            Public bound ``|values| <= bound``; checked, and used for
            ``bound_bits``.  When omitted the bit length of the largest encoded
            magnitude is used (and travels with the ciphertexts).
        progress : bool
            Show a tqdm progress bar.

        Returns
        -------
        CipherVector
        """
        k = self.encoder.frac_bits if frac_bits is None else _check_frac_bits(frac_bits)
        arr = np.asarray(values)
        if arr.ndim != 1:
            raise PaillierEncodingError(f"expected a 1-D array, got shape {arr.shape}")
        ints = FixedPointEncoder(self.public_key, k).encode_signed(arr)
        top = max((abs(v) for v in ints), default=0)
        if bound is not None:
            encoded_bound, bound_bits = _bound_bits_from_declared(bound, k)
            if top > encoded_bound:
                raise PaillierOverflowError("values exceed the declared bound")
        else:
            bound_bits = top.bit_length()
        return self.encrypt_encoded(ints, k, bound_bits, progress=progress)

    def encrypt_encoded(
        self,
        values: Sequence[int],
        frac_bits: int,
        bound_bits: int | None = None,
        *,
        progress: bool = False,
    ) -> CipherVector:
        """Encrypt signed integers that are already fixed-point encoded.

        Parameters
        ----------
        values : sequence of int
            Signed integers with ``|v| <= max_int``.
        frac_bits : int
            Their fractional bits.
        bound_bits : int, optional
            ``|v| < 2**bound_bits``; checked when given.
        progress : bool
            Show a tqdm progress bar.
        """
        pk = self.public_key
        top = max((_bits_of(v) for v in values), default=0)
        if bound_bits is not None and top > bound_bits:
            raise PaillierOverflowError("values exceed bound_bits")
        if any(abs(v) > pk.max_int for v in values):
            raise PaillierOverflowError("value exceeds the plaintext space")
        rs = self.take_randomizers(len(values), progress=progress)
        combine = pk._combine
        cts = [combine(v, rn, rn_mod_n) for v, (rn, rn_mod_n) in zip(values, rs, strict=True)]
        return CipherVector(pk, cts, frac_bits, bound_bits)


# --------------------------------------------------------------------------- packing


class Packer:
    """Pack several signed fixed-point values into one Paillier plaintext.

    A packed plaintext is ``sum_k (v_k + offset) * 2**(k * slot_bits)`` with
    ``slots = (n_bits - 1) // slot_bits`` slots, so it stays below
    ``2**(n_bits - 1) < n``.  For values with ``|v| < 2**b`` the offset is
    ``2**b`` and every slot content lies in ``(0, 2**(b + 1))``; a slot must
    therefore be at least ``b + 1`` bits wide.  Packing is exact only while
    every slot content stays in ``[0, 2**slot_bits)``: the bound bookkeeping
    of :class:`CipherVector` is what guarantees this (see docs).

    Parameters
    ----------
    public_key : PaillierPublicKey
        Key of the packed ciphertexts.
    slot_bits : int
        Width of one slot in bits (2 .. n_bits - 1).
    """

    def __init__(self, public_key: PaillierPublicKey, slot_bits: int) -> None:
        if not 2 <= slot_bits <= public_key.n_bits - 1:
            raise ValueError(f"slot_bits must be in [2, {public_key.n_bits - 1}], got {slot_bits}")
        self.public_key = public_key
        self.slot_bits = int(slot_bits)
        self.slots = (public_key.n_bits - 1) // self.slot_bits

    @classmethod
    def for_bound_bits(
        cls, public_key: PaillierPublicKey, bound_bits: int, headroom_bits: int = 0
    ) -> Packer:
        """Return the densest packer for values with ``|v| < 2**bound_bits``.

        ``headroom_bits`` extra bits per slot allow adding up to
        ``2**headroom_bits`` packed vectors together.
        """
        return cls(public_key, bound_bits + 1 + headroom_bits)

    def __repr__(self) -> str:
        return f"Packer(slot_bits={self.slot_bits}, slots={self.slots}, {self.public_key!r})"

    def n_ciphertexts(self, n_values: int) -> int:
        """Number of packed ciphertexts needed for ``n_values`` values."""
        return -(-n_values // self.slots)

    def _check_fits(self, bound_bits: int | None) -> int:
        if bound_bits is None:
            raise PaillierOverflowError(
                "packing needs a known bound: pass bound= when encrypting or declare it"
            )
        if bound_bits + 1 > self.slot_bits:
            raise PaillierOverflowError(
                f"values with |v| < 2**{bound_bits} need {bound_bits + 1}-bit slots, "
                f"have {self.slot_bits}"
            )
        return 1 << bound_bits

    def _offset_constant(self, offset: int, count: int) -> int:
        return sum(offset << (k * self.slot_bits) for k in range(count))

    def pack_plain(self, values: Sequence[int], bound_bits: int) -> list[int]:
        """Return packed plaintexts for signed integers with ``|v| < 2**bound_bits``."""
        offset = self._check_fits(bound_bits)
        if any(abs(v) >= offset for v in values):
            raise PaillierOverflowError("value exceeds bound_bits")
        out: list[int] = []
        w = self.slot_bits
        for start in range(0, len(values), self.slots):
            acc = 0
            for k, v in enumerate(values[start : start + self.slots]):
                acc |= (int(v) + offset) << (k * w)
            out.append(acc)
        return out

    def unpack(self, plaintexts: Sequence[int], n_values: int, offset: int) -> list[int]:
        """Split decrypted packed plaintexts back into ``n_values`` signed integers.

        Raises
        ------
        PaillierOverflowError
            If a plaintext has bits above its top slot.
        """
        if len(plaintexts) != self.n_ciphertexts(n_values):
            raise ValueError(f"{len(plaintexts)} plaintexts cannot hold {n_values} values")
        w, mask = self.slot_bits, (1 << self.slot_bits) - 1
        out: list[int] = []
        for g, m in enumerate(plaintexts):
            count = min(self.slots, n_values - g * self.slots)
            m_int = int(m)
            if m_int >> (count * w):
                raise PaillierOverflowError("packed plaintext overflows its slots")
            out.extend(((m_int >> (k * w)) & mask) - offset for k in range(count))
        return out

    def pack(self, vector: CipherVector, *, progress: bool = False) -> PackedCipherVector:
        """Homomorphically pack a cipher vector: ``sum_k [[v_k + offset]] * 2**(k*slot)``.

        Horner's rule costs ``slot_bits`` squarings per packed value, about one
        full-size exponentiation per packed ciphertext; the key holder then
        decrypts ``slots`` values with one decryption.
        """
        if vector.public_key.n != self.public_key.n:
            raise PaillierKeyMismatchError("vector and packer use different keys")
        offset = self._check_fits(vector.bound_bits)
        pk = self.public_key
        n, nsq, w = pk.n, pk.nsquare, self.slot_bits
        cts = vector.raw_ciphertexts
        packed: list[Mpz] = []
        starts = range(0, len(cts), self.slots)
        for start in tqdm(starts, desc="pack", disable=not progress, leave=False):
            group = cts[start : start + self.slots]
            acc = group[-1]
            for c in reversed(group[:-1]):
                for _ in range(w):
                    acc = acc * acc % nsq
                acc = acc * c % nsq
            const = self._offset_constant(offset, len(group))
            packed.append((acc + n * ((const * acc) % n)) % nsq)
        content_bits = offset.bit_length()  # contents lie in (0, 2 * offset)
        return PackedCipherVector(
            pk, packed, len(cts), self.slot_bits, vector.frac_bits, offset, content_bits
        )

    def encrypt_packed(
        self,
        encryptor: Encryptor,
        values: npt.ArrayLike,
        *,
        frac_bits: int | None = None,
        bound: float | None = None,
    ) -> PackedCipherVector:
        """Encode, pack and encrypt values (one encryption per ``slots`` values).

        ``bound`` is a public ``|values| <= bound``; when omitted the data's
        own bit length is used.
        """
        if encryptor.public_key.n != self.public_key.n:
            raise PaillierKeyMismatchError("encryptor and packer use different keys")
        k = encryptor.encoder.frac_bits if frac_bits is None else _check_frac_bits(frac_bits)
        arr = np.asarray(values)
        if arr.ndim != 1:
            raise PaillierEncodingError(f"expected a 1-D array, got shape {arr.shape}")
        ints = FixedPointEncoder(self.public_key, k).encode_signed(arr)
        top = max((abs(v) for v in ints), default=0)
        if bound is not None:
            encoded_bound, bound_bits = _bound_bits_from_declared(bound, k)
            if top > encoded_bound:
                raise PaillierOverflowError("values exceed the declared bound")
        else:
            bound_bits = top.bit_length()
        plain = self.pack_plain(ints, bound_bits)
        cts = [encryptor.raw_encrypt(m) for m in plain]
        return PackedCipherVector(
            self.public_key, cts, len(ints), self.slot_bits, k, 1 << bound_bits, bound_bits + 1
        )


class PackedCipherVector:
    """Ciphertexts each holding up to ``layout.slots`` fixed-point values.

    Slot ``k`` of ciphertext ``g`` holds ``v + offset`` for value
    ``g * slots + k``; ``content_bits`` bounds every slot content
    (``< 2**content_bits <= 2**slot_bits``).  Adding two packed vectors of the
    same layout adds slot-wise (offsets add up too) and is refused with
    :class:`PaillierOverflowError` when the contents could spill into the
    next slot.

    Parameters
    ----------
    public_key : PaillierPublicKey
        Key of the ciphertexts.
    ciphertexts : iterable of int
        Packed ciphertexts.
    n_values : int
        Number of packed values.
    slot_bits : int
        Slot width.
    frac_bits : int
        Fractional bits of the values.
    offset : int
        Offset added to every slot (subtracted when unpacking).
    content_bits : int
        Bound on slot contents.
    """

    __slots__ = ("_cts", "content_bits", "frac_bits", "layout", "n_values", "offset", "public_key")

    def __init__(
        self,
        public_key: PaillierPublicKey,
        ciphertexts: Iterable[int],
        n_values: int,
        slot_bits: int,
        frac_bits: int,
        offset: int,
        content_bits: int,
    ) -> None:
        self.public_key = public_key
        self.layout = Packer(public_key, slot_bits)
        self._cts: list[Mpz] = [c if type(c) is _MPZ_TYPE else gmpy2.mpz(c) for c in ciphertexts]
        if n_values < 0 or len(self._cts) != self.layout.n_ciphertexts(n_values):
            raise ValueError(f"{len(self._cts)} ciphertexts cannot hold {n_values} packed values")
        if not 0 <= content_bits <= slot_bits:
            raise PaillierOverflowError(
                f"slot contents of {content_bits} bits overflow {slot_bits}-bit slots"
            )
        if not 0 <= offset < (1 << content_bits) or offset >= (1 << slot_bits):
            raise ValueError("offset must lie below the slot content bound")
        self.n_values = int(n_values)
        self.frac_bits = _check_frac_bits(frac_bits)
        self.offset = int(offset)
        self.content_bits = int(content_bits)

    def __repr__(self) -> str:
        return (
            f"PackedCipherVector(n_values={self.n_values}, ciphertexts={len(self._cts)}, "
            f"slot_bits={self.slot_bits}, frac_bits={self.frac_bits})"
        )

    @property
    def slot_bits(self) -> int:
        """Width of one slot."""
        return self.layout.slot_bits

    @property
    def n_ciphertexts(self) -> int:
        """Number of packed ciphertexts."""
        return len(self._cts)

    @property
    def raw_ciphertexts(self) -> Sequence[int]:
        """The internal ciphertext list (no copy)."""
        return self._cts

    def __add__(self, other: PackedCipherVector) -> PackedCipherVector:
        if not isinstance(other, PackedCipherVector):
            return NotImplemented
        if other.public_key.n != self.public_key.n:
            raise PaillierKeyMismatchError("packed vectors are under different keys")
        if (other.slot_bits, other.n_values, other.frac_bits) != (
            self.slot_bits,
            self.n_values,
            self.frac_bits,
        ):
            raise ValueError("packed vectors have different layouts")
        content_bits = max(self.content_bits, other.content_bits) + 1
        if content_bits > self.slot_bits:
            raise PaillierOverflowError("sum could overflow a packing slot: use wider slots")
        nsq = self.public_key.nsquare
        cts = [a * b % nsq for a, b in zip(self._cts, other._cts, strict=True)]
        return PackedCipherVector(
            self.public_key,
            cts,
            self.n_values,
            self.slot_bits,
            self.frac_bits,
            self.offset + other.offset,
            content_bits,
        )

    _BODY = struct.Struct(">IIIIII")  # frac, n_values, slot_bits, content_bits, count, width

    @property
    def nbytes(self) -> int:
        """Exact size in bytes of :meth:`to_bytes`."""
        return (
            wire.FRAME_OVERHEAD
            + self._BODY.size
            + len(wire.encode_int(self.offset))
            + len(self._cts) * self.public_key.ciphertext_bytes
        )

    def to_bytes(self) -> bytes:
        """Serialize as a framed, length-prefixed, digested byte string."""
        width = self.public_key.ciphertext_bytes
        body = self._BODY.pack(
            self.frac_bits, self.n_values, self.slot_bits, self.content_bits, len(self._cts), width
        )
        body += wire.encode_int(self.offset) + wire.encode_ciphertexts(self._cts, width)
        return wire.frame(wire.KIND_PACKED_VECTOR, self.public_key.fingerprint, body)

    @classmethod
    def from_bytes(cls, data: bytes, public_key: PaillierPublicKey) -> PackedCipherVector:
        """Load a packed vector written by :meth:`to_bytes` under ``public_key``.

        Raises
        ------
        PaillierSerializationError
            Truncated/corrupted bytes or inconsistent header fields.
        PaillierKeyMismatchError
            If the data was written under another key.
        """
        key_fp, body = wire.unframe(data, wire.KIND_PACKED_VECTOR)
        if key_fp != public_key.fingerprint:
            raise PaillierKeyMismatchError("serialized vector belongs to a different public key")
        reader = wire.BodyReader(body)
        frac_bits, n_values, slot_bits, content_bits, count, width = reader.unpack(cls._BODY)
        if width != public_key.ciphertext_bytes:
            raise PaillierSerializationError(
                f"ciphertext width {width} does not match the key ({public_key.ciphertext_bytes})"
            )
        offset = reader.read_int()
        cts = reader.read_ciphertexts(count, width, public_key.nsquare)
        reader.finish()
        try:
            return cls(public_key, cts, n_values, slot_bits, frac_bits, offset, content_bits)
        except (ValueError, OverflowError) as exc:
            raise PaillierSerializationError(f"invalid packed header: {exc}") from exc
