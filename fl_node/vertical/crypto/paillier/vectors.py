"""Ciphertexts: one :class:`EncryptedNumber`, and :class:`CipherVector` with its homomorphic maths.

A vector shares one fixed-point scale and an optional magnitude bound that every operation
propagates, refusing *before* computing any result that could leave the plaintext space.
:meth:`CipherVector.dot` is the hetero-LR hot path (a bucket multi-exponentiation).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, overload

import gmpy2
import numpy as np
import numpy.typing as npt

from fl_node.vertical.crypto.paillier import _wire as wire
from fl_node.vertical.crypto.paillier._errors import (
    PaillierInputError,
    PaillierKeyMismatchError,
    PaillierOverflowError,
    PaillierSerializationError,
)
from fl_node.vertical.crypto.paillier._fixed import (
    bits_of,
    bound_bits_from_declared,
    check_bound,
    check_frac_bits,
    default_scalar_frac_bits,
    fixed_point_array,
    max_abs,
)
from fl_node.vertical.crypto.paillier._math import Mpz, multi_exp_columns, multi_exp_naive

if TYPE_CHECKING:
    from fl_node.vertical.crypto.paillier.encryptor import Encryptor
    from fl_node.vertical.crypto.paillier.keys import PaillierPublicKey

MPZ_TYPE = type(gmpy2.mpz(0))


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
        self.frac_bits = check_frac_bits(frac_bits)
        if bound_bits is not None and bound_bits < 0:
            raise PaillierInputError("bound_bits must be non-negative")
        check_bound(public_key, bound_bits, "cipher vector")
        self.bound_bits = bound_bits
        self._cts: list[Mpz] = [c if type(c) is MPZ_TYPE else gmpy2.mpz(c) for c in ciphertexts]

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
            raise PaillierInputError("nothing to concatenate")
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
        shift = check_frac_bits(frac_bits) - self.frac_bits
        if shift < 0:
            raise PaillierInputError("cannot reduce frac_bits homomorphically")
        if shift == 0:
            return self
        bound = None if self.bound_bits is None else self.bound_bits + shift
        check_bound(self.public_key, bound, "rescale")
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
            raise PaillierInputError(f"length mismatch: {len(self)} vs {len(other)}")
        frac = max(self.frac_bits, other.frac_bits)
        a, b = self.rescale(frac), other.rescale(frac)
        bound = (
            None
            if a.bound_bits is None or b.bound_bits is None
            else max(a.bound_bits, b.bound_bits) + 1
        )
        check_bound(self.public_key, bound, "addition")
        nsq = self.public_key.nsquare
        xs, ys = a._cts, b._cts
        if len(xs) == 1 and len(ys) != 1:
            xs = xs * len(ys)
        elif len(ys) == 1 and len(xs) != 1:
            ys = ys * len(xs)
        return self._like([x * y % nsq for x, y in zip(xs, ys, strict=True)], frac, bound)

    def _plain_operand(self, values: npt.ArrayLike, frac_bits: int) -> list[int]:
        encoded = fixed_point_array(values, frac_bits)
        if encoded.ndim == 0:
            return [int(encoded.item())] * len(self)
        if encoded.shape != (len(self),):
            raise PaillierInputError(
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
            raise PaillierInputError(f"{len(values)} values for a vector of length {len(self)}")
        top = max((bits_of(v) for v in values), default=0)
        if bound_bits is None:
            bound_bits = top
        elif top > bound_bits:
            raise PaillierOverflowError("values exceed the declared bound_bits")
        bound = None if self.bound_bits is None else max(self.bound_bits, bound_bits) + 1
        check_bound(self.public_key, bound, "addition")
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
        negated = fixed_point_array(other, self.frac_bits)
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
        k = default_scalar_frac_bits(scalars, frac_bits)
        exps = self._plain_operand(scalars, k)
        top = max((bits_of(e) for e in exps), default=0)
        bound = None if self.bound_bits is None else self.bound_bits + top
        check_bound(self.public_key, bound, "multiplication")
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
        check_bound(self.public_key, bound, "sum")
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
            raise PaillierInputError(
                f"matrix of shape {np.shape(plain_matrix)} needs {len(self)} rows"
            )
        k = default_scalar_frac_bits(x, frac_bits)
        exps = fixed_point_array(x, k)
        weight_bits = _dot_weight_bits(exps, x_bound, k)
        bound = None if self.bound_bits is None else self.bound_bits + weight_bits
        check_bound(self.public_key, bound, "dot product")
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


def _dot_weight_bits(exps: npt.NDArray[Any], x_bound: float | None, frac_bits: int) -> int:
    """Bits a dot product with the encoded matrix ``exps`` adds to the vector's bound.

    From the public ``x_bound`` when given (checked against the data), else from the largest
    column L1 norm of the data itself.
    """
    n_rows = int(exps.shape[0])
    if x_bound is not None:
        encoded_bound, _ = bound_bits_from_declared(x_bound, frac_bits)
        if max_abs(exps) > encoded_bound:
            raise PaillierOverflowError("plain matrix exceeds the declared x_bound")
        return (n_rows * encoded_bound).bit_length()
    if exps.size == 0:
        return 0
    if exps.dtype == object:
        return max(bits_of(sum(abs(int(v)) for v in exps[:, j])) for j in range(exps.shape[1]))
    col_l1 = [sum(abs(int(v)) for v in col) for col in np.abs(exps).T.tolist()]
    return max(col_l1).bit_length() if col_l1 else 0
