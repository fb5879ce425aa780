"""Fixed point in ``Z_2^32``: clip to ``[-clip, clip]``, quantise to ``[0, levels]``.

A value ``x`` becomes ``q = round((min(max(x, -c), c) + c) / (2c) * L)`` with
``L = floor((2^32 - 1) / max_clients)``, so the sum of ``n <= max_clients`` words is below
``2^32`` and never wraps: the masked sum, once the masks cancel, *is* the integer sum. Decoding a
sum of ``n`` words gives ``S * 2c / L - n c``; each client's rounding moves it by at most half a
step, ``c / L``, so the decoded sum is within ``n c / L`` of the sum of the clipped values.
A masked word is a ``uint32``: the masked input has the size of a float32 update.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from fl_node.secagg.errors import SecAggInputError

MODULUS = 2**32


@dataclass(frozen=True)
class FixedPoint:
    """The quantiser every client of a round shares.

    Attributes
    ----------
    clip : float
        Values are clipped to ``[-clip, clip]`` (> 0).
    max_clients : int
        The most words ever summed (>= 1): fixes :attr:`levels` so the sum never wraps.
    """

    clip: float
    max_clients: int

    def __post_init__(self) -> None:
        if not (np.isfinite(self.clip) and self.clip > 0) or self.max_clients < 1:
            raise SecAggInputError("FixedPoint: clip must be > 0 and max_clients >= 1")

    @property
    def levels(self) -> int:
        """``L``: the largest word one client sends."""
        return (MODULUS - 1) // self.max_clients

    def bound(self, count: int) -> float:
        """The largest error of the decoded sum of ``count`` clients: ``count * clip / L``."""
        return count * self.clip / self.levels

    def encode(self, values: ArrayLike) -> NDArray[np.uint32]:
        """The words of ``values`` (flattened, clipped)."""
        flat = np.asarray(values, dtype=np.float64).ravel()
        if not np.all(np.isfinite(flat)):
            raise SecAggInputError("encode: a value is not finite")
        unit = (np.clip(flat, -self.clip, self.clip) + self.clip) / (2 * self.clip)
        return np.rint(unit * self.levels).astype(np.uint32)

    def decode_sum(self, words: NDArray[np.uint32], count: int) -> NDArray[np.float64]:
        """The real sum of ``count`` clients' values from the sum of their words."""
        if not 0 <= count <= self.max_clients:
            raise SecAggInputError(f"decode_sum: {count} clients, at most {self.max_clients}")
        step = 2 * self.clip / self.levels
        return words.astype(np.float64) * step - count * self.clip


__all__ = ["MODULUS", "FixedPoint"]
