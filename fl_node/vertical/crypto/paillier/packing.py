"""Several fixed-point values per Paillier plaintext: :class:`Packer`, :class:`PackedCipherVector`.

Packing before encryption, or homomorphically before decryption, cuts the number of
ciphertexts (and decryptions) by the number of slots.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import gmpy2
import numpy as np
import numpy.typing as npt
from tqdm import tqdm

from fl_node.vertical.crypto.paillier import _wire as wire
from fl_node.vertical.crypto.paillier._errors import (
    PaillierEncodingError,
    PaillierInputError,
    PaillierKeyMismatchError,
    PaillierOverflowError,
    PaillierSerializationError,
)
from fl_node.vertical.crypto.paillier._fixed import bound_bits_from_declared, check_frac_bits
from fl_node.vertical.crypto.paillier._math import Mpz
from fl_node.vertical.crypto.paillier.encoding import FixedPointEncoder
from fl_node.vertical.crypto.paillier.vectors import MPZ_TYPE

if TYPE_CHECKING:
    from fl_node.vertical.crypto.paillier.encryptor import Encryptor
    from fl_node.vertical.crypto.paillier.keys import PaillierPublicKey
    from fl_node.vertical.crypto.paillier.vectors import CipherVector


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
            raise PaillierInputError(
                f"slot_bits must be in [2, {public_key.n_bits - 1}], got {slot_bits}"
            )
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
            raise PaillierInputError(f"{len(plaintexts)} plaintexts cannot hold {n_values} values")
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
        k = encryptor.encoder.frac_bits if frac_bits is None else check_frac_bits(frac_bits)
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
        self._cts: list[Mpz] = [c if type(c) is MPZ_TYPE else gmpy2.mpz(c) for c in ciphertexts]
        if n_values < 0 or len(self._cts) != self.layout.n_ciphertexts(n_values):
            raise PaillierInputError(
                f"{len(self._cts)} ciphertexts cannot hold {n_values} packed values"
            )
        if not 0 <= content_bits <= slot_bits:
            raise PaillierOverflowError(
                f"slot contents of {content_bits} bits overflow {slot_bits}-bit slots"
            )
        if not 0 <= offset < (1 << content_bits) or offset >= (1 << slot_bits):
            raise PaillierInputError("offset must lie below the slot content bound")
        self.n_values = int(n_values)
        self.frac_bits = check_frac_bits(frac_bits)
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
            raise PaillierInputError("packed vectors have different layouts")
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
        except (PaillierInputError, PaillierOverflowError) as exc:
            raise PaillierSerializationError(f"invalid packed header: {exc}") from exc
