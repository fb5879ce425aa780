"""Fixed-point gradients and hessians, and FATE's "GH packing" of a row's ``(g, h)``.

For the logistic loss ``g = p - y`` lies in ``[-1, 1]`` and ``h = p (1 - p)`` in ``[0, 1/4]``.
Both are quantised to integers at ``2**-P`` (``P = precision_bits``): ``gi = round(g 2**P)``,
``hi = round(h 2**P)``; the twin and the protocol use the same integers, so their histograms
(sums of them) are equal, and every split they pick is the same.

One Paillier plaintext carries a row as three slots, lowest first::

    1  |  hi  |  gi + 2**P         (count | hessian | offset gradient)

The offset makes the gradient slot non-negative, so sums never borrow across slots. A sum of
``c <= max_rows`` packed rows holds ``c`` in the count slot (used to remove ``c * 2**P`` from
the gradient slot), at most ``c 2**(P-2)`` in the hessian slot and at most ``c 2**(P+1)`` in
the gradient slot; the slot widths are those bounds' bit lengths, and :meth:`GHPacking.check_key`
refuses a key whose plaintext cannot hold the three. The receiving guest checks every
decrypted sum against the same bounds (:meth:`GHPacking.unpack`). Several sums can then be
compressed into one plaintext (``slot_bits`` each) before decryption.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fl_node.vertical.protocol.boost._errors import BoostConfigError, BoostPeerError
from fl_node.vertical.protocol.boost.config import FloatArray, IntArray


@dataclass(frozen=True)
class GHPacking:
    """Slot layout of packed ``(g, h)`` sums over at most ``max_rows`` rows.

    Attributes
    ----------
    precision_bits : int
        Fractional bits ``P`` of ``g`` and ``h``.
    max_rows : int
        Rows a sum may hold (the training rows).
    """

    precision_bits: int
    max_rows: int

    def __post_init__(self) -> None:
        if self.max_rows < 1 or not 8 <= self.precision_bits <= 40:
            raise BoostConfigError("GHPacking: need max_rows >= 1 and 8 <= precision_bits <= 40")

    @property
    def g_offset(self) -> int:
        """Offset added to every row's gradient integer (``2**P``, since ``|g| <= 1``)."""
        return 1 << self.precision_bits

    @property
    def count_bits(self) -> int:
        """Width of the count slot."""
        return self.max_rows.bit_length()

    @property
    def h_bits(self) -> int:
        """Width of the hessian slot (``max_rows * 2**(P-2)``)."""
        return (self.max_rows << (self.precision_bits - 2)).bit_length()

    @property
    def g_bits(self) -> int:
        """Width of the gradient slot (``max_rows * 2**(P+1)``, the overflow bound)."""
        return (self.max_rows << (self.precision_bits + 1)).bit_length()

    @property
    def slot_bits(self) -> int:
        """Bits of one packed sum."""
        return self.count_bits + self.h_bits + self.g_bits

    def per_plaintext(self, key_bits: int) -> int:
        """Packed sums that one plaintext of a ``key_bits`` key holds (at least 1).

        Parameters
        ----------
        key_bits : int
            Modulus size.
        """
        self.check_key(key_bits)
        return (key_bits - 2) // self.slot_bits

    def check_key(self, key_bits: int) -> None:
        """Refuse a key whose plaintexts (``< 2**(key_bits - 2)``) cannot hold one sum.

        Parameters
        ----------
        key_bits : int
            Modulus size.
        """
        if self.slot_bits > key_bits - 2:
            raise BoostConfigError(
                f"a packed (g, h) sum needs {self.slot_bits} bits, the key holds {key_bits - 2}"
            )

    def quantise(self, g: FloatArray, h: FloatArray) -> tuple[IntArray, IntArray]:
        """Fixed-point ``(gi, hi)`` of logistic gradients and hessians.

        Parameters
        ----------
        g, h : ndarray of float64
            ``|g| <= 1`` and ``0 <= h <= 1/4`` (checked).
        """
        g = np.asarray(g, dtype=np.float64)
        h = np.asarray(h, dtype=np.float64)
        ok = g.shape == h.shape and g.ndim == 1 and g.size <= self.max_rows
        if not ok or not (np.abs(g) <= 1.0).all() or not ((h >= 0.0) & (h <= 0.25)).all():
            raise BoostConfigError("gradients must satisfy |g| <= 1, 0 <= h <= 1/4")
        scale = float(1 << self.precision_bits)
        return np.rint(g * scale).astype(np.int64), np.rint(h * scale).astype(np.int64)

    def pack_rows(self, gi: IntArray, hi: IntArray) -> list[int]:
        """One packed plaintext per row: ``(gi + 2**P) << (h+c) | hi << c | 1``.

        Parameters
        ----------
        gi, hi : ndarray of int64
            Quantised gradients and hessians.
        """
        g_shift = self.count_bits + self.h_bits
        c_shift = self.count_bits
        offset = self.g_offset
        return [
            ((g + offset) << g_shift) | (h << c_shift) | 1
            for g, h in zip(gi.tolist(), hi.tolist(), strict=True)
        ]

    def unpack(self, plaintext: int) -> tuple[int, int, int]:
        """Split a decrypted sum into ``(G, H, count)``, checking every slot's bound.

        Parameters
        ----------
        plaintext : int
            Decrypted packed sum.

        Raises
        ------
        BoostPeerError
            A slot outside the bounds a sum of at most ``max_rows`` rows can reach.
        """
        c_mask = (1 << self.count_bits) - 1
        h_mask = (1 << self.h_bits) - 1
        count = plaintext & c_mask
        h_sum = (plaintext >> self.count_bits) & h_mask
        g_slot = plaintext >> (self.count_bits + self.h_bits)
        p = self.precision_bits
        if (
            count > self.max_rows
            or h_sum > count << (p - 2)
            or g_slot > count << (p + 1)
            or g_slot >> self.g_bits
        ):
            raise BoostPeerError("a decrypted histogram sum is outside its packing bounds")
        return g_slot - count * self.g_offset, h_sum, count

    def compress_plain(self, sums: list[int], per: int) -> list[int]:
        """Reference for the host's homomorphic compression: ``sum_j s_j << (j slot_bits)``.

        Parameters
        ----------
        sums : list of int
            Packed sums (each below ``2**slot_bits``).
        per : int
            Sums per plaintext.
        """
        out = []
        for start in range(0, len(sums), per):
            acc = 0
            for j, s in enumerate(sums[start : start + per]):
                acc |= s << (j * self.slot_bits)
            out.append(acc)
        return out

    def split_compressed(self, plaintexts: list[int], n_sums: int, per: int) -> list[int]:
        """Undo :meth:`compress_plain` on decrypted plaintexts.

        Parameters
        ----------
        plaintexts : list of int
            Decrypted compressed plaintexts.
        n_sums : int
            Sums they hold.
        per : int
            Sums per plaintext.

        Raises
        ------
        BoostPeerError
            When the count of plaintexts does not match, or bits lie above the last slot.
        """
        if len(plaintexts) != -(-n_sums // per):
            raise BoostPeerError(f"{len(plaintexts)} plaintexts cannot hold {n_sums} sums")
        mask = (1 << self.slot_bits) - 1
        out: list[int] = []
        for i, m in enumerate(plaintexts):
            k = min(per, n_sums - i * per)
            if m >> (k * self.slot_bits):
                raise BoostPeerError("a compressed plaintext overflows its slots")
            out.extend((m >> (j * self.slot_bits)) & mask for j in range(k))
        return out
