"""Paillier keys: generation, the public key (encryption) and the private key (CRT decryption).

The public key has ``g = n + 1``; the private key keeps ``p < q`` and decrypts with the CRT
(two half-size exponentiations), or modulo ``p`` alone when a trusted bound allows it. The
key holder can also encrypt with CRT-accelerated randomness.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import gmpy2
import numpy as np
import numpy.typing as npt
from tqdm import tqdm

from fl_node.vertical.crypto.paillier import _wire as wire
from fl_node.vertical.crypto.paillier._errors import (
    PaillierInputError,
    PaillierKeyMismatchError,
    PaillierOverflowError,
    PaillierSerializationError,
    PaillierTypeError,
)
from fl_node.vertical.crypto.paillier._fixed import bits_of, decode_many, decode_one
from fl_node.vertical.crypto.paillier._math import Mpz, crt_combine, random_prime
from fl_node.vertical.crypto.paillier.encoding import FixedPointEncoder
from fl_node.vertical.crypto.paillier.vectors import CipherVector, EncryptedNumber

if TYPE_CHECKING:
    from fl_node.vertical.crypto.paillier.packing import PackedCipherVector

logger = logging.getLogger(__name__)

#: Default modulus size: 2048 bits, ~112-bit security (NIST SP 800-57 Pt. 1).
DEFAULT_KEY_BITS = 2048
#: Floor for the short randomizer exponent, whatever the key size.
_MIN_SHORT_EXPONENT_BITS = 256

#: NIST SP 800-57 Part 1 Rev. 5, Table 2: modulus bits -> comparable strength.
_NIST_STRENGTH = ((15360, 256), (7680, 192), (3072, 128), (2048, 112), (1024, 80))


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
            raise PaillierInputError("n must be an odd modulus of at least 4 bits")
        expected = (n, n * n, n + 1, n // 3 - 1)
        given = (self.n, self.nsquare, self.g, self.max_int)
        if any(gmpy2.mpz(a) != b for a, b in zip(given, expected, strict=True)):
            raise PaillierInputError(
                "inconsistent public key: need nsquare=n*n, g=n+1, max_int=n//3-1"
            )
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
                f"integer of {bits_of(value)} bits exceeds max_int "
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
                raise PaillierInputError("r must be a unit modulo n")
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
        return EncryptedNumber(self, c, enc.frac_bits, bits_of(signed))

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
        except PaillierInputError as exc:
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
    PaillierInputError
        If ``p == q``.
    """

    def __init__(self, public_key: PaillierPublicKey, p: int, q: int) -> None:
        p_mpz, q_mpz = gmpy2.mpz(p), gmpy2.mpz(q)
        if p_mpz * q_mpz != public_key.n:
            raise PaillierKeyMismatchError("p * q does not equal the public key's n")
        if p_mpz == q_mpz:
            raise PaillierInputError("p and q must be distinct")
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
            raise PaillierInputError("ciphertext must lie in [1, n^2)")
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
        return decode_one(signed, number.frac_bits)

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
        return decode_many(ints, vector.frac_bits)

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
        return decode_many(self.decrypt_packed_ints(packed, progress=progress), packed.frac_bits)

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
                raise PaillierInputError("r must be a unit modulo n")
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
        raise PaillierTypeError("n_bits must be an int")
    if n_bits < 128 or n_bits % 2:
        raise PaillierInputError(f"n_bits must be an even number >= 128, got {n_bits}")
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
