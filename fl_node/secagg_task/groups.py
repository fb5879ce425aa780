"""The public partition of a round's participants into SecAgg groups.

The order is ``sha256(seed || address)``, the seed the round's public randomness (the hash of
the model the round opened with, mixed with the task's seed), so nobody picks its group before
the round opens and anyone can recompute the groups. The sorted list is cut into
``floor(n / g)`` groups whose sizes differ by at most one: every group has at least ``g``
members.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from fl_node.secagg_task.errors import GroupingError


def group_seed(task_seed: int, model_hash: bytes, round_: int) -> bytes:
    """The round's public grouping seed (task seed, opening model hash, round)."""
    return hashlib.sha256(
        b"fedmarket-secagg-groups"
        + task_seed.to_bytes(32, "big")
        + bytes(model_hash)
        + round_.to_bytes(8, "big")
    ).digest()


def partition(members: Sequence[str], group_size: int, seed: bytes) -> tuple[tuple[str, ...], ...]:
    """Split ``members`` into groups of at least ``group_size``, in a seeded public order.

    Parameters
    ----------
    members : sequence of str
        The round's participants (addresses), distinct.
    group_size : int
        ``g``: the fewest members of a group.
    seed : bytes
        The public seed (:func:`group_seed`).

    Raises
    ------
    GroupingError
        Fewer than ``g`` members, or a member listed twice.
    """
    lowered = [m.lower() for m in members]
    if len(set(lowered)) != len(lowered):
        raise GroupingError("partition: a member is listed twice")
    if len(lowered) < group_size:
        raise GroupingError(f"partition: {len(lowered)} members, a group needs {group_size}")
    order = sorted(members, key=lambda m: hashlib.sha256(seed + m.lower().encode()).digest())
    count = len(order) // group_size
    base, extra = divmod(len(order), count)
    groups, start = [], 0
    for i in range(count):
        size = base + (1 if i < extra else 0)
        groups.append(tuple(order[start : start + size]))
        start += size
    return tuple(groups)


__all__ = ["group_seed", "partition"]
