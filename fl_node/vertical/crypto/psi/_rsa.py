"""Batch kernels of the RSA blind-signature PSI (gmpy2 arithmetic, picklable for a pool).

``FDH(x) = SHAKE-256(DST || len(n) || n || encode_id(x))`` expanded to ``|n| + 16`` bytes and
reduced mod n (statistical distance ``2**-128`` from uniform), a full-domain hash bound to
the host's modulus. Signing uses the CRT with ``gmpy2.powmod_sec`` (GMP's side-channel
silent ``mpz_powm_sec``) and checks ``s**e == y`` before anything leaves the host, the
standard guard against CRT fault attacks. The guest checks every unblinded signature too.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import gmpy2

from ._common import PsiCryptoError, PsiId, PsiProtocolError, PsiUsageError, Rng, encode_ids

logger = logging.getLogger(__name__)

_DST_FDH = b"fedmarket/psi/v1/rsa/FDH/shake256:"
_DST_SIG = b"fedmarket/psi/v1/rsa/signature-digest/sha256:"
FDH_EXTRA_BYTES = 16
BLINDING_EXTRA_BYTES = 16
PUBLIC_EXPONENT = 65537


@dataclass(frozen=True)
class RsaPrivateKey:
    """CRT form of the host's RSA key (kept by the host and its worker processes)."""

    n: int
    e: int
    p: int
    q: int
    dp: int
    dq: int
    qinv: int

    @property
    def size(self) -> int:
        """Modulus length in bytes."""
        return (self.n.bit_length() + 7) // 8


def generate_key(bits: int, rng: Rng, seeded: bool) -> RsaPrivateKey:
    """Generate an RSA key with ``e = 65537``.

    Parameters
    ----------
    bits : int
        Modulus size (>= 1024).
    rng : Rng
        Randomness for the seeded (test) path.
    seeded : bool
        ``False`` uses ``cryptography``'s generator (production); ``True`` derives the primes
        from ``rng`` so tests are reproducible.

    Returns
    -------
    RsaPrivateKey
        The key.
    """
    if bits < 1024 or bits % 2:
        raise PsiUsageError("RSA modulus size must be an even number of bits >= 1024")
    e = PUBLIC_EXPONENT
    if not seeded:
        from cryptography.hazmat.primitives.asymmetric import rsa as crypto_rsa

        numbers = crypto_rsa.generate_private_key(
            public_exponent=e, key_size=bits
        ).private_numbers()
        p, q = numbers.p, numbers.q
    else:
        half = bits // 2
        while True:
            p, q = _seeded_prime(rng, half), _seeded_prime(rng, half)
            if p != q and (p * q).bit_length() == bits:
                break
    if p < q:
        p, q = q, p
    n = p * q
    d = int(gmpy2.invert(e, (p - 1) * (q - 1)))
    return RsaPrivateKey(n, e, p, q, d % (p - 1), d % (q - 1), int(gmpy2.invert(q, p)))


def _seeded_prime(rng: Rng, bits: int) -> int:
    while True:
        candidate = int.from_bytes(rng.token_bytes(bits // 8), "big") | (3 << (bits - 2)) | 1
        prime = int(gmpy2.next_prime(candidate))
        if prime.bit_length() == bits and gmpy2.gcd(PUBLIC_EXPONENT, prime - 1) == 1:
            return prime


def fdh(ids: Sequence[PsiId], n: int) -> list[Any]:
    """Full-domain hash of each id into ``Z_n`` (as gmpy2 integers)."""
    size = (n.bit_length() + 7) // 8
    base = hashlib.shake_256(_DST_FDH + size.to_bytes(2, "big") + n.to_bytes(size, "big"))
    out_len = size + FDH_EXTRA_BYTES
    modulus = gmpy2.mpz(n)
    result = []
    for enc in encode_ids(ids):
        h = base.copy()
        h.update(enc)
        result.append(gmpy2.mpz(int.from_bytes(h.digest(out_len), "big")) % modulus)
    return result


def blinding_factors(randomness: bytes, n: int) -> list[Any]:
    """Decode the per-element blinding factors ``r_i`` (uniform mod n, ``2**-128`` bias)."""
    step = (n.bit_length() + 7) // 8 + BLINDING_EXTRA_BYTES
    modulus = gmpy2.mpz(n)
    return [
        gmpy2.mpz(int.from_bytes(randomness[i : i + step], "big")) % modulus
        for i in range(0, len(randomness), step)
    ]


def _sign(y: Any, key: tuple[Any, ...], constant_time: bool) -> Any:
    n, e, p, q, dp, dq, qinv = key
    powmod = gmpy2.powmod_sec if constant_time else gmpy2.powmod
    m1 = powmod(y % p, dp, p)
    m2 = powmod(y % q, dq, q)
    s = m2 + ((qinv * (m1 - m2)) % p) * q
    if gmpy2.powmod(s, e, n) != y:
        raise PsiCryptoError("RSA-CRT signature failed its self-check (fault); nothing was sent")
    return s


def _mpz_key(key: RsaPrivateKey) -> tuple[Any, ...]:
    return tuple(gmpy2.mpz(v) for v in (key.n, key.e, key.p, key.q, key.dp, key.dq, key.qinv))


def _digest(s: Any, size: int, width: int) -> bytes:
    return hashlib.sha256(_DST_SIG + int(s).to_bytes(size, "big")).digest()[:width]


def task_blind(ids: Sequence[PsiId], randomness: bytes, n: int, e: int) -> bytes:
    """``FDH(x) * r**e mod n`` per id, modulus-sized big-endian rows."""
    size = (n.bit_length() + 7) // 8
    modulus, exponent = gmpy2.mpz(n), gmpy2.mpz(e)
    out = []
    for h, r in zip(fdh(ids, n), blinding_factors(randomness, n), strict=True):
        if gmpy2.gcd(r, modulus) != 1:
            raise PsiCryptoError("blinding factor not invertible (probability ~2**-1000)")
        out.append(int(h * gmpy2.powmod(r, exponent, modulus) % modulus).to_bytes(size, "big"))
    return b"".join(out)


def task_sign(values: bytes, key: RsaPrivateKey, constant_time: bool, offset: int) -> bytes:
    """Sign each blinded value (``y**d mod n`` via CRT), same order."""
    size = key.size
    mkey = _mpz_key(key)
    modulus = mkey[0]
    out = []
    for i in range(0, len(values), size):
        y = gmpy2.mpz(int.from_bytes(values[i : i + size], "big"))
        if not 0 < y < modulus:
            raise PsiProtocolError(f"blinded value #{offset + i // size} is not in [1, n)")
        out.append(int(_sign(y, mkey, constant_time)).to_bytes(size, "big"))
    return b"".join(out)


def task_sign_own(
    ids: Sequence[PsiId], key: RsaPrivateKey, constant_time: bool, width: int
) -> bytes:
    """Truncated digests of the host's own FDH signatures."""
    mkey = _mpz_key(key)
    size = key.size
    return b"".join(_digest(_sign(h, mkey, constant_time), size, width) for h in fdh(ids, key.n))


def task_unblind(
    signatures: bytes,
    randomness: bytes,
    ids: Sequence[PsiId],
    n: int,
    e: int,
    width: int,
    offset: int,
) -> bytes:
    """Unblind (``s * r**-1``), verify (``s**e == FDH(x)``) and digest each signature."""
    size = (n.bit_length() + 7) // 8
    modulus, exponent = gmpy2.mpz(n), gmpy2.mpz(e)
    hashes = fdh(ids, n)
    factors = blinding_factors(randomness, n)
    out = []
    for i, (h, r) in enumerate(zip(hashes, factors, strict=True)):
        blind_sig = gmpy2.mpz(int.from_bytes(signatures[i * size : (i + 1) * size], "big"))
        if not 0 < blind_sig < modulus:
            raise PsiProtocolError(f"signature #{offset + i} is not in [1, n)")
        s = blind_sig * gmpy2.invert(r, modulus) % modulus
        if gmpy2.powmod(s, exponent, modulus) != h:
            raise PsiProtocolError(f"signature #{offset + i} does not verify")
        out.append(_digest(s, size, width))
    return b"".join(out)
