"""The unmask transcript of one group, and its replay by anyone (the audit).

A group's transcript is everything its server received, as bytes, with the public inputs that
fix the round's settings. Replaying it through a fresh :class:`~fl_node.secagg.SecAggServer`
gives the same group sum: the masked inputs are uniform words, the pairwise masks cancel only
in the sum, and the revealed shares rebuild only the self-masks of survivors and the mask keys
of members that dropped after sharing. The replay learns the group sum and nothing about one
member's update. Each masked input's keccak-256 is the member's commitment.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fl_node.secagg import (
    Aggregate,
    FixedPoint,
    SecAggConfig,
    SecAggParams,
    SecAggServer,
    Stage,
    default_degree,
)
from fl_node.secagg_task.errors import GroupSumError
from storage import content_hash

TRANSCRIPT_VERSION = 1


def group_config(
    task: int, round_: int, group: int, size: int, length: int, params: SecAggParams, seed: bytes
) -> SecAggConfig:
    """The SecAgg settings of group ``group`` (``size`` members, ids ``0 .. size-1``).

    The degree is sized for the task's dropout tolerance, the threshold is the majority of a
    secret's holders, the graph seed follows from the round's grouping seed and the group.
    """
    degree = default_degree(size, params.dropout_tolerance)
    graph_seed = hashlib.sha256(b"fedmarket-secagg-graph" + seed + group.to_bytes(4, "big"))
    return SecAggConfig(
        task=task.to_bytes(32, "big"),
        round=round_,
        clients=tuple(range(size)),
        length=length,
        threshold=params.threshold(size),
        degree=degree,
        round_seed=graph_seed.digest(),
        fixed_point=FixedPoint(params.clip, size),
    )


@dataclass(frozen=True)
class Message:
    """One message the group's server received: stage, member id, the exact bytes."""

    stage: Stage
    sender: int
    payload: bytes


@dataclass(frozen=True)
class GroupTranscript:
    """What anyone needs to recompute a group's sum.

    Attributes
    ----------
    task, round, group : int
        Where the group sum belongs.
    members : tuple of str
        The group's addresses; member id ``i`` is ``members[i]``.
    length : int
        Values per member (the model's parameters plus the weight).
    params : SecAggParams
        The task's SecAgg settings.
    seed : bytes
        The round's grouping seed.
    messages : tuple of Message
        Everything the server received, in stage order.
    commitments : tuple of str
        ``0x`` keccak-256 of each member's masked input (``""`` for none), by member id.
    """

    task: int
    round: int
    group: int
    members: tuple[str, ...]
    length: int
    params: SecAggParams
    seed: bytes
    messages: tuple[Message, ...]
    commitments: tuple[str, ...]

    def config(self) -> SecAggConfig:
        """The group's SecAgg settings."""
        return group_config(
            *(self.task, self.round, self.group, len(self.members), self.length),
            *(self.params, self.seed),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (bytes as ``0x`` hex)."""
        return {
            "version": TRANSCRIPT_VERSION,
            "task": self.task,
            "round": self.round,
            "group": self.group,
            "members": list(self.members),
            "length": self.length,
            "params": self.params.to_dict(),
            "seed": "0x" + self.seed.hex(),
            "messages": [[str(m.stage), m.sender, "0x" + m.payload.hex()] for m in self.messages],
            "commitments": list(self.commitments),
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> GroupTranscript:
        """Parse :meth:`to_dict` output."""
        if raw.get("version") != TRANSCRIPT_VERSION:
            raise GroupSumError(f"GroupTranscript: version {raw.get('version')!r}")
        return cls(
            task=int(raw["task"]),
            round=int(raw["round"]),
            group=int(raw["group"]),
            members=tuple(str(m) for m in raw["members"]),
            length=int(raw["length"]),
            params=SecAggParams.from_dict(raw["params"]),
            seed=bytes.fromhex(str(raw["seed"])[2:]),
            messages=tuple(
                Message(Stage(s), int(u), bytes.fromhex(str(p)[2:])) for s, u, p in raw["messages"]
            ),
            commitments=tuple(str(c) for c in raw["commitments"]),
        )


def masked_commitment(masked_message: bytes) -> str:
    """The ``0x`` keccak-256 a member commits to: the bytes of its MaskedInput message."""
    return "0x" + bytes(content_hash(masked_message)).hex()


def replay(transcript: GroupTranscript) -> Aggregate:
    """Recompute the group's sum from its transcript (raises on any inconsistency).

    Every masked input must match its member's commitment; the stages are fed to a fresh
    server in order, which checks rounds, senders and the recovered keys as in the round.
    """
    server = SecAggServer(transcript.config())
    staged = {s: [m for m in transcript.messages if m.stage == s] for s in Stage}
    for m in staged[Stage.MASK]:
        if masked_commitment(m.payload) != transcript.commitments[m.sender]:
            raise GroupSumError(f"replay: member {m.sender}'s masked input differs from its commit")
    server.receive_keys(_payloads(staged[Stage.ADVERTISE]))
    server.receive_shares(_payloads(staged[Stage.SHARE]))
    server.receive_masked(_payloads(staged[Stage.MASK]))
    return server.receive_unmask(_payloads(staged[Stage.UNMASK]))


def _payloads(messages: Sequence[Message]) -> list[bytes]:
    return [m.payload for m in messages]


__all__ = [
    "TRANSCRIPT_VERSION",
    "GroupTranscript",
    "Message",
    "group_config",
    "masked_commitment",
    "replay",
]
