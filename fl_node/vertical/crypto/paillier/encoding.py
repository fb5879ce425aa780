"""Signed fixed-point encoding of numbers into the Paillier plaintext space."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, overload

import numpy as np
import numpy.typing as npt

from fl_node.vertical.crypto.paillier._errors import PaillierOverflowError
from fl_node.vertical.crypto.paillier._fixed import (
    DEFAULT_FRAC_BITS,
    check_frac_bits,
    decode_many,
    decode_one,
    fixed_point_array,
)

if TYPE_CHECKING:
    from fl_node.vertical.crypto.paillier.keys import PaillierPublicKey


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
        self.frac_bits = check_frac_bits(frac_bits)

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
        encoded = fixed_point_array(values, self.frac_bits)
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
            return decode_one(self.decode_signed(plaintexts), self.frac_bits)
        arr = np.asarray(plaintexts, dtype=object)
        if arr.ndim == 0:
            return decode_one(self.decode_signed(int(arr.item())), self.frac_bits)
        ints = [self.decode_signed(int(v)) for v in arr.ravel().tolist()]
        return decode_many(ints, self.frac_bits)
