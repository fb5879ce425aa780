"""The secure aggregation settings a task states in its spec (``TaskSpec.secagg``).

They are public and part of the spec's bytes, so the spec hash anchored on-chain says whether a
task aggregates under SecAgg and with which group size, dropout tolerance and clip range.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from fl_node.secagg.errors import SecAggInputError
from fl_node.secagg.graph import default_degree
from fl_node.secagg.simulation import default_threshold

MIN_GROUP = 3
"""The smallest group: with two members, each learns the other's update from the group sum."""


@dataclass(frozen=True)
class SecAggParams:
    """How a task's rounds are aggregated under SecAgg.

    Attributes
    ----------
    group_size : int, default 4
        ``g``: the participants of a round are split into groups of at least ``g`` members
        (``>= 3``); SecAgg runs per group and the coordinator learns each group's sum only.
    dropout_tolerance : float, default 0.3
        The fraction of a group that may drop after sharing its keys (in ``[0, 0.5)``); sizes
        the SecAgg+ graph (:func:`~fl_node.secagg.graph.default_degree`).
    clip : float, default 1.0
        Each coordinate of an update is clipped to ``[-clip, clip]`` before the fixed-point
        encoding: the only per-update bound left when nobody sees an update.
    max_samples : int, default 10000
        The largest sample count a participant may claim; it weights its update by
        ``samples / max_samples`` inside the secure sum (so the weight stays in ``[0, 1]``).
    """

    group_size: int = 4
    dropout_tolerance: float = 0.3
    clip: float = 1.0
    max_samples: int = 10_000

    def __post_init__(self) -> None:
        if isinstance(self.group_size, bool) or self.group_size < MIN_GROUP:
            raise SecAggInputError(f"SecAggParams: group_size must be >= {MIN_GROUP}")
        if not 0.0 <= self.dropout_tolerance < 0.5:
            raise SecAggInputError("SecAggParams: dropout_tolerance must be in [0, 0.5)")
        if not (math.isfinite(self.clip) and self.clip > 0):
            raise SecAggInputError("SecAggParams: clip must be finite and > 0")
        if isinstance(self.max_samples, bool) or not 1 <= self.max_samples < 2**31:
            raise SecAggInputError("SecAggParams: max_samples must be in [1, 2^31)")

    def threshold(self, size: int) -> int:
        """The threshold of a group of ``size`` members: the fewest survivors of a completed sum.

        The majority of a secret's holders on the group's SecAgg+ graph, sized for
        ``dropout_tolerance`` (:func:`~fl_node.secagg_task.transcript.group_config` uses it).
        """
        return default_threshold(default_degree(size, self.dropout_tolerance), size)

    @property
    def min_threshold(self) -> int:
        """The smallest :meth:`threshold` of any group a partition makes (``g`` to ``2g - 1``)."""
        return min(self.threshold(n) for n in range(self.group_size, 2 * self.group_size))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (every field, so the spec bytes state them)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: Any) -> SecAggParams:
        """Parse :meth:`to_dict` output (raises :class:`SecAggInputError` when malformed)."""
        if not isinstance(raw, dict):
            raise SecAggInputError("SecAggParams: must be an object")
        unknown = sorted(set(raw) - set(cls.__dataclass_fields__))
        if unknown:
            raise SecAggInputError(f"SecAggParams: unknown field {unknown[0]!r}")
        try:
            return cls(
                group_size=int(raw["group_size"]),
                dropout_tolerance=float(raw["dropout_tolerance"]),
                clip=float(raw["clip"]),
                max_samples=int(raw["max_samples"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise SecAggInputError(f"SecAggParams: malformed: {exc}") from None


__all__ = ["MIN_GROUP", "SecAggParams"]
