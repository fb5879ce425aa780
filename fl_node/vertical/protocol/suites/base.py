"""What the hetero-LR protocol needs from a Paillier back end: :class:`CipherSuite`.

Masked values travel as exact integers with a scale ``base ** exponent`` (``2**-frac_bits``
for ours, phe's ``16**exponent``), so unmasking (:func:`unmask`) is exact integer arithmetic.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from fl_node.vertical.crypto.paillier import RandomizerName
from fl_node.vertical.protocol._errors import CipherSuiteError

FloatArray = npt.NDArray[np.float64]

#: Statistical hiding of the masks (bits): masked value vs mask alone <= 2**-40.
MASK_SECURITY_BITS = 40


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

    Attributes
    ----------
    name : str
        ``"ours"`` or ``"phe"``.
    randomizer : {"short-exponent", "textbook"}
        The randomisers this suite's encryptions use (phe: always textbook).
    """

    name: str = "abstract"
    randomizer: RandomizerName = "textbook"

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
    def loads(
        self, data: bytes, *, count: int, bound: float | None = None, product: bool = False
    ) -> Any:
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
        product : bool, default False
            The vector is a :meth:`dot` result (ours: at the scale of a ciphertext times an
            encoded plaintext, not an encryption's).
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
