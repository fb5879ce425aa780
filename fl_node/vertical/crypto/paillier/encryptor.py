"""Batch encryption for a party holding the public key: fixed-base randomizers and a pool.

Online encryption costs about one half-size modular multiplication once randomizers are
precomputed (offline, or in idle time between protocol messages).
"""

from __future__ import annotations

import logging
import os
import secrets
import time
from collections.abc import Sequence
from typing import Literal

import gmpy2
import numpy as np
import numpy.typing as npt
from tqdm import tqdm

from fl_node.vertical.crypto.paillier._errors import (
    PaillierEncodingError,
    PaillierInputError,
    PaillierKeyMismatchError,
    PaillierOverflowError,
)
from fl_node.vertical.crypto.paillier._fixed import (
    DEFAULT_FRAC_BITS,
    bits_of,
    bound_bits_from_declared,
    check_frac_bits,
)
from fl_node.vertical.crypto.paillier._math import FixedBaseTable, Mpz
from fl_node.vertical.crypto.paillier.encoding import FixedPointEncoder
from fl_node.vertical.crypto.paillier.keys import (
    PaillierPrivateKey,
    PaillierPublicKey,
    default_short_exponent_bits,
    security_bits,
)
from fl_node.vertical.crypto.paillier.vectors import CipherVector, EncryptedNumber

logger = logging.getLogger(__name__)

#: Default window of the fixed-base table (8 bits: 32 rows x 255 residues
#: for 256-bit exponents, about 4 MiB at n = 2048 bits).
DEFAULT_WINDOW_BITS = 8

EncryptionMode = Literal["fixed_base", "textbook", "crt"]

RandomizerName = Literal["short-exponent", "textbook"]
"""A protocol's randomiser setting, agreed by the parties (``docs/paillier.md``).

``"short-exponent"``: ``h**s`` with a fixed secret ``n``-th residue ``h`` and a fresh
256-bit ``s`` (DCR plus the short-exponent assumption). ``"textbook"``: a uniform ``r**n``
(DCR alone); a key holder computes the same distribution with the CRT."""

RANDOMIZERS: tuple[RandomizerName, ...] = ("short-exponent", "textbook")
"""Every :data:`RandomizerName`, in the order the benchmarks print them."""

DEFAULT_RANDOMIZER: RandomizerName = "short-exponent"
"""The protocols' default (why: "Which randomiser by default" in ``docs/paillier.md``)."""


def encryption_mode(randomizer: str, *, key_holder: bool = False) -> EncryptionMode:
    """Return the :class:`Encryptor` mode that implements a protocol's randomiser setting.

    Parameters
    ----------
    randomizer : {"short-exponent", "textbook"}
        The agreed setting.
    key_holder : bool, default False
        Whether the encrypting party holds the private key: ``"textbook"`` then maps to
        ``"crt"`` (the same distribution, about 3.5x faster).

    Raises
    ------
    PaillierInputError
        For any other name.
    """
    if randomizer == "short-exponent":
        return "fixed_base"
    if randomizer == "textbook":
        return "crt" if key_holder else "textbook"
    raise PaillierInputError(f"unknown randomizer {randomizer!r}; expected one of {RANDOMIZERS}")


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
            raise PaillierInputError(f"unknown mode {mode!r}")
        if private_key is not None and private_key.public_key.n != public_key.n:
            raise PaillierKeyMismatchError("private key does not match the public key")
        if mode == "crt" and private_key is None:
            raise PaillierInputError('mode="crt" needs the private key')
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
            raise PaillierInputError(
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

    @property
    def randomizer(self) -> RandomizerName:
        """The randomiser setting this encryptor implements (``"crt"`` is ``"textbook"``)."""
        return "short-exponent" if self.mode == "fixed_base" else "textbook"

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
            raise PaillierInputError("count must be non-negative")
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
            raise PaillierInputError("count must be non-negative")
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
        k = self.encoder.frac_bits if frac_bits is None else check_frac_bits(frac_bits)
        arr = np.asarray(values)
        if arr.ndim != 1:
            raise PaillierEncodingError(f"expected a 1-D array, got shape {arr.shape}")
        ints = FixedPointEncoder(self.public_key, k).encode_signed(arr)
        top = max((abs(v) for v in ints), default=0)
        if bound is not None:
            encoded_bound, bound_bits = bound_bits_from_declared(bound, k)
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
        top = max((bits_of(v) for v in values), default=0)
        if bound_bits is not None and top > bound_bits:
            raise PaillierOverflowError("values exceed bound_bits")
        if any(abs(v) > pk.max_int for v in values):
            raise PaillierOverflowError("value exceeds the plaintext space")
        rs = self.take_randomizers(len(values), progress=progress)
        combine = pk._combine
        cts = [combine(v, rn, rn_mod_n) for v, (rn, rn_mod_n) in zip(values, rs, strict=True)]
        return CipherVector(pk, cts, frac_bits, bound_bits)
