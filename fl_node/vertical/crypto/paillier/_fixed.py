"""Fixed-point helpers shared by the Paillier modules (private).

Values are encoded as ``round(x * 2**frac_bits)``; these functions scale arrays exactly,
check bounds and decode back to floats. They know nothing about ciphertexts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from fl_node.vertical.crypto.paillier._errors import (
    PaillierEncodingError,
    PaillierInputError,
    PaillierOverflowError,
    PaillierTypeError,
)
from fl_node.vertical.crypto.paillier._math import INT64_EXPONENT_LIMIT

if TYPE_CHECKING:
    from fl_node.vertical.crypto.paillier.keys import PaillierPublicKey

#: Default fractional bits of encrypted values (resolution 2**-32).
DEFAULT_FRAC_BITS = 32
#: Default fractional bits of float plaintext scalars in ``mul``/``dot``.
#: Scalars are exponents, so fewer bits make the hot path cheaper.
DEFAULT_SCALAR_FRAC_BITS = 16


def bits_of(value: int) -> int:
    """Return the bit length of ``|value|`` for Python ints and numpy ints."""
    return abs(int(value)).bit_length()


def check_frac_bits(frac_bits: int) -> int:
    if isinstance(frac_bits, bool) or not isinstance(frac_bits, int | np.integer):
        raise PaillierTypeError(f"frac_bits must be an int, got {type(frac_bits).__name__}")
    if frac_bits < 0:
        raise PaillierInputError(f"frac_bits must be >= 0, got {frac_bits}")
    return int(frac_bits)


def fixed_point_array(values: npt.ArrayLike, frac_bits: int) -> npt.NDArray[Any]:
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


def max_abs(encoded: npt.NDArray[Any]) -> int:
    if encoded.size == 0:
        return 0
    if encoded.dtype == object:
        return max(abs(int(v)) for v in encoded.ravel().tolist())
    return max(abs(int(encoded.max())), abs(int(encoded.min())))


def default_scalar_frac_bits(values: npt.ArrayLike, frac_bits: int | None) -> int:
    if frac_bits is not None:
        return check_frac_bits(frac_bits)
    arr = np.asarray(values)
    if arr.dtype.kind in "biu":
        return 0
    if arr.dtype == object and all(isinstance(v, int) for v in arr.ravel().tolist()):
        return 0
    return DEFAULT_SCALAR_FRAC_BITS


def bound_bits_from_declared(bound: float, frac_bits: int) -> tuple[int, int]:
    """Return ``(encoded_bound, bound_bits)`` for a declared ``|x| <= bound``."""
    if not math.isfinite(bound) or bound < 0:
        raise PaillierInputError(f"bound must be a finite non-negative number, got {bound}")
    encoded = (
        math.ceil(math.ldexp(bound, frac_bits))
        if isinstance(bound, float)
        else (int(bound) << frac_bits)
    )
    return encoded, encoded.bit_length()


def decode_one(signed: int, frac_bits: int) -> float:
    try:
        return signed / (1 << frac_bits) if frac_bits else float(signed)
    except OverflowError as exc:
        raise PaillierOverflowError("decoded value does not fit a float") from exc


def decode_many(ints: Sequence[int], frac_bits: int) -> npt.NDArray[np.float64]:
    return np.array([decode_one(v, frac_bits) for v in ints], dtype=np.float64)


def check_bound(public_key: PaillierPublicKey, bound_bits: int | None, what: str) -> None:
    """Raise if values below ``2**bound_bits`` in magnitude may exceed ``max_int``."""
    if bound_bits is not None and (1 << bound_bits) - 1 > public_key.max_int:
        raise PaillierOverflowError(
            f"{what}: |values| < 2**{bound_bits} may exceed the plaintext space "
            f"(max_int has {public_key.max_int.bit_length()} bits)"
        )
