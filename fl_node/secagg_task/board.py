"""The channel of the SecAgg stages: a message board between a round's members and its server.

Every message of a group's round is posted under a :class:`Topic` (task, round, group, stage,
recipient) and read back by whoever it is addressed to. :class:`MessageBoard` is the interface;
:class:`MemoryBoard` keeps everything in memory for in-process runs, and a networked board (the
mailbox service, or the content store plus on-chain pointers) can implement the same two methods.
The board sees what the server sees: public keys, sealed envelopes, masked inputs, shares.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import defaultdict
from dataclasses import dataclass

from fl_node.secagg import Stage

SERVER = -1
"""The recipient id of messages to the group's server (members are ``0 .. g-1``)."""

EVERYONE = -2
"""The recipient id of a broadcast to every member of the group."""


@dataclass(frozen=True)
class Topic:
    """Where a message is posted: one stage of one group's round, for one recipient."""

    task: int
    round: int
    group: int
    stage: Stage
    recipient: int


@dataclass(frozen=True)
class Posted:
    """One message on the board: its sender (a member id or :data:`SERVER`) and its bytes."""

    sender: int
    payload: bytes


class MessageBoard(ABC):
    """Post and read the bytes of the SecAgg stages."""

    @abstractmethod
    def post(self, topic: Topic, sender: int, payload: bytes) -> None:
        """Post ``payload`` from ``sender`` under ``topic``."""

    @abstractmethod
    def read(self, topic: Topic) -> tuple[Posted, ...]:
        """Everything posted under ``topic``, in the order posted."""


class MemoryBoard(MessageBoard):
    """A board in memory (in-process runs and tests); it keeps every message it was given."""

    def __init__(self) -> None:
        self._posts: defaultdict[Topic, list[Posted]] = defaultdict(list)

    def post(self, topic: Topic, sender: int, payload: bytes) -> None:
        """Append ``payload`` under ``topic``."""
        self._posts[topic].append(Posted(sender, bytes(payload)))

    def read(self, topic: Topic) -> tuple[Posted, ...]:
        """The messages under ``topic`` (none: an empty tuple)."""
        return tuple(self._posts.get(topic, ()))

    def everything(self) -> tuple[tuple[Topic, Posted], ...]:
        """Every message posted, with its topic (what anyone watching the board saw)."""
        return tuple((t, p) for t, posts in self._posts.items() for p in posts)


__all__ = ["EVERYONE", "SERVER", "MemoryBoard", "MessageBoard", "Posted", "Topic"]
