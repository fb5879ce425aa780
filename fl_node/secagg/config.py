"""The public settings of one secure aggregation round, shared by the server and every client."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from fl_node.secagg.errors import SecAggError, SecAggInputError
from fl_node.secagg.fixed_point import FixedPoint
from fl_node.secagg.graph import neighbours
from fl_node.secagg.messages import SERVER, context


class Stage(StrEnum):
    """The four stages of a round, named by what the client sends in each."""

    ADVERTISE = "advertise"
    SHARE = "share"
    MASK = "mask"
    UNMASK = "unmask"


@dataclass(frozen=True)
class SecAggConfig:
    """One round's settings (all public).

    Attributes
    ----------
    task : bytes
        The task's id: bound into every key and envelope.
    round : int
        The round number: bound likewise, so nothing carries over between rounds.
    clients : tuple of int
        The registered clients' ids, distinct, below ``2^32 - 1``.
    length : int
        Words per update (the model's parameter count).
    threshold : int
        ``t``: shares needed to recover a secret; also the fewest clients a stage may keep.
        At most ``degree + 1`` (each secret has one share per neighbour and one kept).
    degree : int
        ``k``: neighbours per client on the SecAgg+ graph (even; the complete graph when
        ``len(clients) <= degree + 1``).
    round_seed : bytes
        The public seed of the graph.
    fixed_point : FixedPoint
        The quantiser; its ``max_clients`` must cover every client.
    """

    task: bytes
    round: int
    clients: tuple[int, ...]
    length: int
    threshold: int
    degree: int
    round_seed: bytes
    fixed_point: FixedPoint
    graph: Mapping[int, frozenset[int]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        n = len(self.clients)
        if len(set(self.clients)) != n or any(not 0 <= c < SERVER for c in self.clients):
            raise SecAggInputError("SecAggConfig: client ids must be distinct and below 2^32-1")
        if self.length < 1 or self.fixed_point.max_clients < n or self.round < 0:
            raise SecAggInputError("SecAggConfig: bad length or round, or max_clients below n")
        object.__setattr__(self, "graph", neighbours(self.clients, self.degree, self.round_seed))
        holders = 1 + min(len(vs) for vs in self.graph.values()) if n else 0
        if not 1 <= self.threshold <= holders:
            raise SecAggInputError(f"SecAggConfig: threshold {self.threshold} of {holders} holders")

    @property
    def context(self) -> bytes:
        """The task-and-round binding of every derived key."""
        return context(self.task, self.round)


def sign(u: int, v: int) -> int:
    """``+1`` if ``u`` adds the pair mask it shares with ``v``, ``-1`` if it subtracts it."""
    return 1 if u < v else -1


def check(ok: bool, error: type[SecAggError], message: str) -> None:
    """Raise ``error(message)`` unless ``ok`` (``error`` is one of :mod:`.errors`)."""
    if not ok:
        raise error(message)


__all__ = ["SecAggConfig", "Stage", "check", "sign"]
