"""What a member puts into its group's secure sum, and what the group sum decodes to.

A member with ``n`` samples and update ``d`` (flattened) sends the ``len(d) + 1`` values
``[clip(d) * w, clip * w]`` with ``w = n / max_samples`` in ``[0, 1]``: the weighting happens
inside the sum, so the coordinator learns ``sum_i n_i clip(d_i)`` and ``sum_i n_i`` of the
group, never a member's sample count. Every value lies in ``[-clip, clip]``, the range of the
fixed-point encoding, and the group's FedAvg step is the first divided by the second.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from fl_node.secagg import SecAggParams
from fl_node.secagg_task.errors import GroupingError, GroupSumError
from storage import content_hash


@dataclass(frozen=True)
class DecodedSum:
    """A group sum, decoded.

    Attributes
    ----------
    weighted : ndarray of float64
        ``sum_i n_i clip(d_i)`` over the group's survivors.
    samples : int
        ``sum_i n_i`` over the same survivors.
    bound : float
        The largest error of any coordinate of ``weighted`` (fixed-point rounding).
    """

    weighted: NDArray[np.float64]
    samples: int
    bound: float

    @property
    def mean(self) -> NDArray[np.float64]:
        """The group's sample-weighted mean update (zero when it holds no sample)."""
        return self.weighted / self.samples if self.samples else np.zeros_like(self.weighted)


def member_values(delta: ArrayLike, samples: int, params: SecAggParams) -> NDArray[np.float64]:
    """The ``len(delta) + 1`` values a member with ``samples`` rows sends for ``delta``.

    Raises
    ------
    GroupingError
        ``samples`` outside ``[1, max_samples]`` or a non-finite delta.
    """
    flat = np.asarray(delta, dtype=np.float64).ravel()
    if isinstance(samples, bool) or not 1 <= samples <= params.max_samples:
        raise GroupingError(f"member_values: {samples} samples, at most {params.max_samples}")
    if not np.all(np.isfinite(flat)):
        raise GroupingError("member_values: the update is not finite")
    weight = samples / params.max_samples
    clipped = np.clip(flat, -params.clip, params.clip)
    return np.concatenate([clipped * weight, [params.clip * weight]])


def decode_group(
    total: NDArray[np.float64], count: int, bound: float, params: SecAggParams
) -> DecodedSum:
    """The weighted sum and sample count of ``count`` members from their decoded secure sum.

    Checks what can be checked of a sum of honest encodings (a member may send any word, and
    nobody sees it): the sample count is within ``[count, count * max_samples]`` and every
    coordinate within ``samples * clip``. A group failing it is rejected as a whole.

    Raises
    ------
    GroupSumError
        The sum is out of those ranges.
    """
    scale = float(params.max_samples)
    samples = round(float(total[-1]) / params.clip * scale)
    weighted = total[:-1] * scale
    slack = bound * scale
    if count and not count <= samples <= count * params.max_samples:
        raise GroupSumError(f"decode_group: {samples} samples for {count} members")
    if np.any(np.abs(weighted) > samples * params.clip + slack):
        raise GroupSumError("decode_group: a coordinate exceeds samples * clip")
    return DecodedSum(weighted, samples, slack)


def sum_digest(decoded: DecodedSum) -> str:
    """The ``0x`` keccak-256 of a decoded group sum (the evidence records it).

    The bytes are the weighted sum (float64, little-endian), then the sample count (8 bytes,
    big-endian); the audit's replay of the group's transcript must give the same.
    """
    blob = decoded.weighted.astype("<f8").tobytes() + decoded.samples.to_bytes(8, "big")
    return "0x" + bytes(content_hash(blob)).hex()


__all__ = ["DecodedSum", "decode_group", "member_values", "sum_digest"]
