"""Pluggable Paillier back ends for the hetero-LR protocol: ours and python-paillier (phe).

The protocol code (:mod:`fl_node.vertical.hetero_lr`) only talks to a :class:`CipherSuite`,
so ``phe_seconds_per_epoch`` measures the *same* protocol, message for message, with phe
doing the cryptography:

==================  ===========================================  =================================
operation           :class:`OursSuite`                           :class:`PheSuite`
==================  ===========================================  =================================
encrypt             fixed-base short-exponent randomisers,       ``PaillierPublicKey.encrypt``
                    offline pool filled in idle time             (one ``r**n`` per value)
``[[a]] + [[b]]``   ``CipherVector.__add__``                     ``EncryptedNumber.__add__``
``X^T [[d]]``       ``CipherVector.dot`` (bucket multi-exp,      ``sum(c_i * float(x_ij))``
                    16 fractional bits, public ``x_bound``)
mask                ``add_encoded`` of uniform ``(b+40)``-bit    ``+ EncodedNumber(r, exponent)``
                    integers at the vector's scale               with a uniform 256-bit ``r``
to the arbiter      packed (``Packer``, ~18 values per           one ciphertext per value
                    ciphertext)
decrypt             ``decrypt_packed_ints`` (CRT)                ``decrypt_encoded`` (CRT)
==================  ===========================================  =================================

Masked values travel as exact integers with a scale ``base ** exponent`` (``2**-frac_bits``
for ours, phe's ``16**exponent``), so unmasking is exact integer arithmetic.
"""

from __future__ import annotations

import hashlib
import logging
import math
import secrets
import struct
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from fl_node.vertical.crypto.paillier import (
    CipherVector,
    Encryptor,
    PackedCipherVector,
    Packer,
    PaillierError,
    PaillierPrivateKey,
    PaillierPublicKey,
    generate_keypair,
)

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

#: Statistical hiding of the masks (bits): masked value vs mask alone <= 2**-40.
MASK_SECURITY_BITS = 40
_PHE_MASK_BITS = 256
_PHE_BASE = 16
_PHE_HEADER = struct.Struct(">4s16sII")  # magic, key fingerprint, count, width
_PHE_MAGIC = b"FPHE"


class CipherSuiteError(ValueError):
    """A ciphertext message is invalid for this suite (key, count, range, bound)."""


@dataclass
class MaskState:
    """The masks a party added before sending values to the arbiter (kept locally).

    Attributes
    ----------
    masks : list of int
        One integer mask per masked value, at that value's scale.
    """

    masks: list[int]


@dataclass(frozen=True)
class Decrypted:
    """What the arbiter decrypts: exact integers ``values[i] * base**exponents[i]``.

    Attributes
    ----------
    values : list of int
        Signed integers.
    exponents : list of int
        Scale exponent per value.
    base : int
        2 (ours) or 16 (phe).
    """

    values: list[int]
    exponents: list[int]
    base: int

    def as_float(self, i: int) -> float:
        """Decode value ``i`` to a float.

        Parameters
        ----------
        i : int
            Index.
        """
        shift = self.exponents[i] * (1 if self.base == 2 else 4)
        return math.ldexp(float(self.values[i]), shift)


def unmask(
    values: Sequence[int], exponents: Sequence[int], base: int, state: MaskState
) -> FloatArray:
    """Remove the masks from the arbiter's reply and decode to floats.

    Parameters
    ----------
    values, exponents : sequence of int
        The arbiter's masked integers and their scale exponents.
    base : int
        Scale base (2 or 16).
    state : MaskState
        The masks this party added.

    Returns
    -------
    ndarray of float64
        The unmasked values.
    """
    if len(values) != len(state.masks) or len(exponents) != len(values):
        raise CipherSuiteError(f"{len(values)} masked values for {len(state.masks)} masks")
    bits_per = 1 if base == 2 else 4
    return np.array(
        [
            math.ldexp(float(v - r), e * bits_per)
            for v, r, e in zip(values, state.masks, exponents, strict=True)
        ],
        dtype=np.float64,
    )


class CipherSuite(ABC):
    """The operations the protocol needs, for one key (public, or with the private part).

    Vectors are opaque objects of the suite (``Any`` to the protocol).
    """

    name: str = "abstract"

    # ------------------------------------------------------------------ keys

    @property
    @abstractmethod
    def key_bits(self) -> int:
        """Modulus size in bits."""

    @property
    @abstractmethod
    def fingerprint(self) -> bytes:
        """16-byte fingerprint of the public key."""

    @abstractmethod
    def public_key_bytes(self) -> bytes:
        """Serialize the public key."""

    # ------------------------------------------------------------------ encryption

    @abstractmethod
    def encrypt(self, values: FloatArray, *, bound: float) -> Any:
        """Encrypt a 1-D array whose magnitudes are at most the public ``bound``.

        Parameters
        ----------
        values : ndarray of float64
            Plaintexts.
        bound : float
            Public bound ``|values| <= bound`` (values are checked).
        """

    def precompute(self, count: int) -> bool:
        """Precompute ``count`` encryption randomisers; return whether anything was done.

        Parameters
        ----------
        count : int
            How many.
        """
        return False

    def prepare(self) -> None:  # noqa: B027 - optional hook
        """Build per-key encryption tables now (session set-up, not the first batch)."""

    @property
    def pool_size(self) -> int:
        """Number of precomputed randomisers available."""
        return 0

    # ------------------------------------------------------------------ vectors

    @abstractmethod
    def dumps(self, vector: Any) -> bytes:
        """Serialize a vector."""

    @abstractmethod
    def loads(self, data: bytes, *, count: int, bound: float | None = None) -> Any:
        """Parse and validate a vector of ``count`` ciphertexts under this key.

        Parameters
        ----------
        data : bytes
            Serialized vector.
        count : int
            Expected length.
        bound : float or None
            Largest magnitude the sender may declare (ours: checked against the vector's
            ``bound_bits``).
        """

    @abstractmethod
    def concat(self, vectors: Sequence[Any]) -> Any:
        """Concatenate vectors."""

    @abstractmethod
    def add(self, a: Any, b: Any) -> Any:
        """Element-wise ``[[a]] + [[b]]``."""

    @abstractmethod
    def add_plain(self, a: Any, values: FloatArray) -> Any:
        """Element-wise ``[[a]] + values``."""

    @abstractmethod
    def dot(self, vector: Any, matrix: FloatArray, *, x_bound: float) -> Any:
        """Return ``[[sum_i matrix[i, j] * a_i]]`` for every column ``j``.

        Parameters
        ----------
        vector : suite vector
            ``N`` ciphertexts.
        matrix : ndarray of shape (N, F)
            Plaintext matrix with ``|entries| <= x_bound``.
        x_bound : float
            Public bound on the entries.
        """

    @abstractmethod
    def mask(self, vector: Any) -> tuple[Any, MaskState]:
        """Add fresh uniform masks to every element; return the masked vector and masks."""

    @abstractmethod
    def for_arbiter(self, vector: Any) -> bytes:
        """Serialize a vector for decryption by the arbiter (ours: packed)."""

    # ------------------------------------------------------------------ key holder

    @abstractmethod
    def decrypt_for_party(self, data: bytes, count: int) -> Decrypted:
        """Arbiter: parse :meth:`for_arbiter` output and decrypt ``count`` values.

        Parameters
        ----------
        data : bytes
            What a party sent.
        count : int
            Expected number of values.
        """


# --------------------------------------------------------------------------- ours


class OursSuite(CipherSuite):
    """:mod:`fl_node.vertical.crypto.paillier` with fixed-base encryption, bucket dot and packing.

    Parameters
    ----------
    public_key : PaillierPublicKey
        The session key.
    private_key : PaillierPrivateKey or None
        The arbiter's private key.
    frac_bits : int
        Fractional bits of encrypted values.
    window_bits : int
        Window of the fixed-base randomiser table: 8 (~4 MiB, 31 multiplications per
        encryption) to 12 (~46 MiB at 2048 bits, 21 multiplications, ~0.5 s to build).
    """

    name = "ours"

    def __init__(
        self,
        public_key: PaillierPublicKey,
        private_key: PaillierPrivateKey | None = None,
        *,
        frac_bits: int = 32,
        window_bits: int = 8,
    ) -> None:
        self.public_key = public_key
        self.private_key = private_key
        self.frac_bits = frac_bits
        self.window_bits = window_bits
        self._encryptor: Encryptor | None = None

    @classmethod
    def generate(cls, key_bits: int) -> OursSuite:
        """Generate a key pair (arbiter).

        Parameters
        ----------
        key_bits : int
            Modulus size.
        """
        pk, sk = generate_keypair(key_bits)
        return cls(pk, sk)

    @classmethod
    def from_public_bytes(cls, data: bytes, *, window_bits: int = 8) -> OursSuite:
        """Load the arbiter's public key.

        Parameters
        ----------
        data : bytes
            :meth:`public_key_bytes` output.
        window_bits : int
            Fixed-base table window for this party's encryptions.
        """
        try:
            return cls(PaillierPublicKey.from_bytes(data), window_bits=window_bits)
        except PaillierError as exc:
            raise CipherSuiteError(f"invalid public key: {exc}") from exc

    @property
    def key_bits(self) -> int:
        """Modulus size in bits."""
        return self.public_key.n_bits

    @property
    def fingerprint(self) -> bytes:
        """16-byte fingerprint of the public key."""
        return self.public_key.fingerprint

    def public_key_bytes(self) -> bytes:
        """Serialize the public key."""
        return self.public_key.to_bytes()

    @property
    def encryptor(self) -> Encryptor:
        """The encryptor of this party (fixed-base table built on first use)."""
        if self._encryptor is None:
            self._encryptor = Encryptor(
                self.public_key, frac_bits=self.frac_bits, window_bits=self.window_bits
            )
        return self._encryptor

    def prepare(self) -> None:
        """Build the fixed-base table."""
        _ = self.encryptor

    def encrypt(self, values: FloatArray, *, bound: float) -> CipherVector:
        """Encrypt with pooled / fixed-base randomisers and a public bound.

        Parameters
        ----------
        values : ndarray of float64
            Plaintexts.
        bound : float
            Public magnitude bound.
        """
        return self.encryptor.encrypt_vector(values, bound=bound)

    def precompute(self, count: int) -> bool:
        """Fill the randomiser pool with ``count`` more entries.

        Parameters
        ----------
        count : int
            How many.
        """
        if count <= 0:
            return False
        self.encryptor.precompute(count)
        return True

    @property
    def pool_size(self) -> int:
        """Unused pooled randomisers."""
        return 0 if self._encryptor is None else self._encryptor.pool_size

    def dumps(self, vector: Any) -> bytes:
        """Serialize a :class:`CipherVector`."""
        assert isinstance(vector, CipherVector)
        return vector.to_bytes()

    def loads(self, data: bytes, *, count: int, bound: float | None = None) -> CipherVector:
        """Parse a vector; check its key, length and declared bound.

        Parameters
        ----------
        data : bytes
            Serialized vector.
        count : int
            Expected length.
        bound : float or None
            Largest public bound the sender may declare.
        """
        try:
            vector = CipherVector.from_bytes(data, self.public_key)
        except PaillierError as exc:
            raise CipherSuiteError(f"invalid cipher vector: {exc}") from exc
        if len(vector) != count:
            raise CipherSuiteError(f"expected {count} ciphertexts, got {len(vector)}")
        if vector.frac_bits != self.frac_bits:
            raise CipherSuiteError(f"expected {self.frac_bits} fractional bits")
        if bound is not None:
            limit = math.ceil(math.ldexp(bound, self.frac_bits)).bit_length()
            if vector.bound_bits is None or vector.bound_bits > limit:
                raise CipherSuiteError(
                    f"declared bound {vector.bound_bits} bits exceeds the public {limit}"
                )
        return vector

    def concat(self, vectors: Sequence[Any]) -> CipherVector:
        """Concatenate cipher vectors."""
        return CipherVector.concatenate(list(vectors))

    def add(self, a: Any, b: Any) -> CipherVector:
        """Element-wise sum."""
        assert isinstance(a, CipherVector) and isinstance(b, CipherVector)
        return a + b

    def add_plain(self, a: Any, values: FloatArray) -> CipherVector:
        """Add plaintexts (encoded at the vector's scale)."""
        assert isinstance(a, CipherVector)
        return a.add(values)

    def dot(self, vector: Any, matrix: FloatArray, *, x_bound: float) -> CipherVector:
        """Bucket multi-exponentiation ``X^T [[a]]``.

        Parameters
        ----------
        vector : CipherVector
            ``N`` ciphertexts.
        matrix : ndarray of shape (N, F)
            Plaintext matrix.
        x_bound : float
            Public bound on its entries.
        """
        assert isinstance(vector, CipherVector)
        return vector.dot(matrix, x_bound=x_bound)

    def mask(self, vector: Any) -> tuple[CipherVector, MaskState]:
        """Add uniform masks of ``bound_bits + 40`` bits.

        Parameters
        ----------
        vector : CipherVector
            Values with a known bound.
        """
        assert isinstance(vector, CipherVector)
        if vector.bound_bits is None:
            raise CipherSuiteError("masking needs a known bound")
        bits = vector.bound_bits + MASK_SECURITY_BITS
        masks = [secrets.randbits(bits) for _ in range(len(vector))]
        return vector.add_encoded(masks, bound_bits=bits), MaskState(masks)

    def for_arbiter(self, vector: Any) -> bytes:
        """Pack (homomorphically) and serialize.

        Parameters
        ----------
        vector : CipherVector
            Values with a known bound.
        """
        assert isinstance(vector, CipherVector)
        if len(vector) == 0:
            return b""
        if vector.bound_bits is None:
            raise CipherSuiteError("packing needs a known bound")
        return Packer.for_bound_bits(self.public_key, vector.bound_bits).pack(vector).to_bytes()

    def decrypt_for_party(self, data: bytes, count: int) -> Decrypted:
        """Decrypt a packed vector (arbiter).

        Parameters
        ----------
        data : bytes
            Packed vector.
        count : int
            Expected number of values.
        """
        if self.private_key is None:
            raise CipherSuiteError("only the key holder decrypts")
        if count == 0:
            if data:
                raise CipherSuiteError("unexpected ciphertexts")
            return Decrypted([], [], 2)
        try:
            packed = PackedCipherVector.from_bytes(data, self.public_key)
            if packed.n_values != count:
                raise CipherSuiteError(f"expected {count} packed values, got {packed.n_values}")
            ints = self.private_key.decrypt_packed_ints(packed)
        except PaillierError as exc:
            raise CipherSuiteError(f"cannot decrypt: {exc}") from exc
        return Decrypted(ints, [-packed.frac_bits] * count, 2)


# --------------------------------------------------------------------------- phe


def _phe_fingerprint(n: int) -> bytes:
    return hashlib.blake2b(n.to_bytes((n.bit_length() + 7) // 8, "big"), digest_size=16).digest()


class PheVector:
    """A list of phe ``EncryptedNumber`` (the phe suite's vector type).

    Parameters
    ----------
    items : list
        ``phe.EncryptedNumber`` objects.
    """

    __slots__ = ("items",)

    def __init__(self, items: list[Any]) -> None:
        self.items = items

    def __len__(self) -> int:
        return len(self.items)


class PheSuite(CipherSuite):
    """The same operations with python-paillier (``phe``), as FATE-era code would use it.

    Parameters
    ----------
    public_key : phe.PaillierPublicKey
        The session key.
    private_key : phe.PaillierPrivateKey or None
        The arbiter's private key.
    """

    name = "phe"

    def __init__(self, public_key: Any, private_key: Any | None = None) -> None:
        self.public_key = public_key
        self.private_key = private_key
        self._width = (int(public_key.nsquare).bit_length() + 7) // 8

    @classmethod
    def generate(cls, key_bits: int) -> PheSuite:
        """Generate a phe key pair (arbiter).

        Parameters
        ----------
        key_bits : int
            Modulus size.
        """
        import phe

        pk, sk = phe.generate_paillier_keypair(n_length=key_bits)
        return cls(pk, sk)

    @classmethod
    def from_public_bytes(cls, data: bytes, *, window_bits: int = 8) -> PheSuite:
        """Load the arbiter's public key (``n`` big-endian).

        Parameters
        ----------
        data : bytes
            :meth:`public_key_bytes` output.
        window_bits : int
            Unused (phe has no fixed-base table).
        """
        import phe

        n = int.from_bytes(data, "big")
        if n.bit_length() < 256 or n % 2 == 0 or data[:1] == b"\x00":
            raise CipherSuiteError("invalid phe public key")
        return cls(phe.PaillierPublicKey(n))

    @property
    def key_bits(self) -> int:
        """Modulus size in bits."""
        return int(self.public_key.n).bit_length()

    @property
    def fingerprint(self) -> bytes:
        """16-byte BLAKE2b of ``n``."""
        return _phe_fingerprint(int(self.public_key.n))

    def public_key_bytes(self) -> bytes:
        """``n`` big-endian."""
        n = int(self.public_key.n)
        return n.to_bytes((n.bit_length() + 7) // 8, "big")

    def encrypt(self, values: FloatArray, *, bound: float) -> PheVector:
        """``phe.PaillierPublicKey.encrypt`` per value.

        Parameters
        ----------
        values : ndarray of float64
            Plaintexts.
        bound : float
            Public magnitude bound (checked).
        """
        arr = np.asarray(values, dtype=np.float64)
        if arr.size and float(np.abs(arr).max()) > bound:
            raise CipherSuiteError("values exceed the declared bound")
        return PheVector([self.public_key.encrypt(float(v)) for v in arr.tolist()])

    def dumps(self, vector: Any) -> bytes:
        """Fixed-width ciphertexts and 32-bit exponents (no re-obfuscation here)."""
        assert isinstance(vector, PheVector)
        head = _PHE_HEADER.pack(_PHE_MAGIC, self.fingerprint, len(vector), self._width)
        cts = b"".join(
            int(c.ciphertext(be_secure=False)).to_bytes(self._width, "big") for c in vector.items
        )
        exps = np.array([c.exponent for c in vector.items], dtype=">i4").tobytes()
        return head + cts + exps

    def loads(self, data: bytes, *, count: int, bound: float | None = None) -> PheVector:
        """Parse; check the fingerprint, the length and ``0 < c < n**2``.

        Parameters
        ----------
        data : bytes
            Serialized vector.
        count : int
            Expected length.
        bound : float or None
            Unused (phe carries no bound).
        """
        import phe

        if len(data) < _PHE_HEADER.size:
            raise CipherSuiteError("truncated phe vector")
        magic, fp, n_items, width = _PHE_HEADER.unpack_from(data)
        if magic != _PHE_MAGIC or fp != self.fingerprint or width != self._width:
            raise CipherSuiteError("phe vector under another key or malformed")
        if n_items != count or len(data) != _PHE_HEADER.size + n_items * (width + 4):
            raise CipherSuiteError(f"expected {count} phe ciphertexts")
        body = memoryview(data)[_PHE_HEADER.size :]
        nsq = int(self.public_key.nsquare)
        exps = np.frombuffer(bytes(body[n_items * width :]), dtype=">i4").tolist()
        items = []
        for i in range(n_items):
            c = int.from_bytes(body[i * width : (i + 1) * width], "big")
            if not 0 < c < nsq or abs(exps[i]) > 4096:
                raise CipherSuiteError("phe ciphertext out of range")
            items.append(phe.EncryptedNumber(self.public_key, c, exps[i]))
        return PheVector(items)

    def concat(self, vectors: Sequence[Any]) -> PheVector:
        """Concatenate."""
        return PheVector([c for v in vectors for c in v.items])

    def add(self, a: Any, b: Any) -> PheVector:
        """Element-wise sum (phe aligns exponents)."""
        return PheVector([x + y for x, y in zip(a.items, b.items, strict=True)])

    def add_plain(self, a: Any, values: FloatArray) -> PheVector:
        """Element-wise ``+ float``."""
        return PheVector(
            [x + float(v) for x, v in zip(a.items, np.asarray(values).tolist(), strict=True)]
        )

    def dot(self, vector: Any, matrix: FloatArray, *, x_bound: float) -> PheVector:
        """``sum_i c_i * float(x_ij)`` per column (phe's ct * float and ct + ct).

        Parameters
        ----------
        vector : PheVector
            ``N`` ciphertexts.
        matrix : ndarray of shape (N, F)
            Plaintext matrix.
        x_bound : float
            Public bound (unused by phe).
        """
        items = vector.items
        x = np.asarray(matrix, dtype=np.float64)
        out = []
        for j in range(x.shape[1]):
            col = x[:, j].tolist()
            acc = items[0] * col[0]
            for c, v in zip(items[1:], col[1:], strict=True):
                acc = acc + c * v
            out.append(acc)
        return PheVector(out)

    def mask(self, vector: Any) -> tuple[PheVector, MaskState]:
        """Add a uniform 256-bit integer at each ciphertext's own exponent."""
        import phe

        masks = [secrets.randbits(_PHE_MASK_BITS) for _ in range(len(vector))]
        out = [
            c + phe.EncodedNumber(self.public_key, r, c.exponent)
            for c, r in zip(vector.items, masks, strict=True)
        ]
        return PheVector(out), MaskState(masks)

    def for_arbiter(self, vector: Any) -> bytes:
        """Phe has no packing: one ciphertext per value."""
        return self.dumps(vector)

    def decrypt_for_party(self, data: bytes, count: int) -> Decrypted:
        """``decrypt_encoded`` per value (arbiter).

        Parameters
        ----------
        data : bytes
            Serialized vector.
        count : int
            Expected number of values.
        """
        if self.private_key is None:
            raise CipherSuiteError("only the key holder decrypts")
        vector = self.loads(data, count=count)
        n = int(self.public_key.n)
        max_int = int(self.public_key.max_int)
        values: list[int] = []
        exps: list[int] = []
        for c in vector.items:
            encoded = self.private_key.decrypt_encoded(c)
            raw = int(encoded.encoding)
            if raw <= max_int:
                values.append(raw)
            elif raw >= n - max_int:
                values.append(raw - n)
            else:
                raise CipherSuiteError("phe plaintext overflow")
            exps.append(int(encoded.exponent))
        return Decrypted(values, exps, _PHE_BASE)


def suite_class(name: str) -> type[OursSuite] | type[PheSuite]:
    """Return the suite class for ``"ours"`` or ``"phe"``.

    Parameters
    ----------
    name : str
        Cipher name.
    """
    if name == "ours":
        return OursSuite
    if name == "phe":
        return PheSuite
    raise ValueError(f"unknown cipher {name!r}")
