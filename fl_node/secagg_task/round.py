"""One round of group-level secure aggregation, driven over a :class:`MessageBoard`.

The round's members are split into public groups (:func:`~fl_node.secagg_task.groups.partition`)
and each group runs SecAgg(+) on its own: a :class:`GroupMember` per participant, a
:class:`GroupServer` per group on the coordinator's side, every message through the board. The
coordinator learns, per group, the sum of its survivors' weighted updates and their total sample
count (:mod:`.encoding`) -- a sum over at least ``g - dropped`` members, never one update -- and
keeps each group's :class:`~fl_node.secagg_task.transcript.GroupTranscript` for the evidence.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from eth_account.signers.local import LocalAccount
from numpy.typing import NDArray

from fl_node.dp import DPConfig
from fl_node.secagg import (
    SecAggClient,
    SecAggConfig,
    SecAggParams,
    SecAggServer,
    Stage,
    TooFewSurvivorsError,
)
from fl_node.secagg_task.board import EVERYONE, SERVER, MessageBoard, Posted, Topic
from fl_node.secagg_task.encoding import DecodedSum, decode_group
from fl_node.secagg_task.errors import GroupingError, GroupSumError
from fl_node.secagg_task.groups import partition
from fl_node.secagg_task.keysign import (
    check_key_list,
    sign_advertise,
    signed_key_list,
    split_key_list,
    verified_advertisements,
)
from fl_node.secagg_task.noise import encode_member
from fl_node.secagg_task.transcript import (
    GroupTranscript,
    Message,
    group_config,
    masked_commitment,
)

log = logging.getLogger(__name__)

STAGES = (Stage.ADVERTISE, Stage.SHARE, Stage.MASK, Stage.UNMASK)


@dataclass(frozen=True)
class MemberInput:
    """A participant's plaintext contribution to the round (it never leaves the participant)."""

    delta: NDArray[np.float64]
    samples: int


@dataclass(frozen=True)
class RoundPlace:
    """Where a group's messages go: the task, the round, the group."""

    task: int
    round: int
    group: int

    def topic(self, stage: Stage, recipient: int) -> Topic:
        """The board topic of ``stage`` for ``recipient``."""
        return Topic(self.task, self.round, self.group, stage, recipient)


class GroupMember:
    """A participant's side of its group's round: one :meth:`act` per stage.

    With ``account`` and ``roster`` (a participant on the chain) it signs its keys and checks
    every key the coordinator lists against the roster before sharing (:mod:`.keysign`).
    """

    def __init__(
        self,
        place: RoundPlace,
        config: SecAggConfig,
        index: int,
        values: NDArray[np.float64],
        *,
        account: LocalAccount | None = None,
        roster: Sequence[str] = (),
    ) -> None:
        self.place, self.index = place, index
        self.account, self.roster = account, tuple(roster)
        self._client = SecAggClient(config, index, values)
        self.commitment = ""
        """The ``0x`` keccak-256 of this member's masked input, once sent."""

    def act(self, board: MessageBoard, stage: Stage) -> None:
        """Read the server's answer to the previous stage, post this stage's message."""
        board.post(self.place.topic(stage, SERVER), self.index, self.message(board, stage))

    def message(self, board: MessageBoard, stage: Stage) -> bytes:
        """The message of ``stage``, from the server's answer on ``board`` (not posted).

        A member whose masked input travels another way (the chain's commit and reveal, see
        :mod:`fl_node.secagg_task.participant`) takes its ``MASK`` message from here.
        """
        where = (self.place.task, self.place.round, self.place.group)
        if stage is Stage.ADVERTISE:
            plain = self._client.advertise()
            if self.account is None:
                return plain
            return sign_advertise(self.account, where, self.index, plain)
        if stage is Stage.SHARE:
            broadcast = self._one(board, Stage.ADVERTISE, EVERYONE)
            if self.roster:
                return self._client.share_keys(check_key_list(where, self.roster, broadcast))
            return self._client.share_keys(split_key_list(broadcast)[0])
        if stage is Stage.MASK:
            out = self._client.masked_input(self._one(board, Stage.SHARE, self.index))
            self.commitment = masked_commitment(out)
            return out
        return self._client.unmask(self._one(board, Stage.MASK, EVERYONE))

    def ready(self, board: MessageBoard, stage: Stage) -> bool:
        """Whether the server's answer that ``stage`` needs is on ``board``."""
        if stage is Stage.ADVERTISE:
            return True
        previous = STAGES[STAGES.index(stage) - 1]
        recipient = self.index if previous is Stage.SHARE else EVERYONE
        topic = self.place.topic(previous, recipient)
        return any(p.sender == SERVER for p in board.read(topic))

    def _one(self, board: MessageBoard, stage: Stage, recipient: int) -> bytes:
        posted = [p for p in board.read(self.place.topic(stage, recipient)) if p.sender == SERVER]
        if len(posted) != 1:
            raise GroupingError(f"member {self.index}: {len(posted)} server answers to {stage}")
        return posted[0].payload


class GroupServer:
    """The coordinator's side of one group's round.

    With a ``roster`` (a task on the chain) it takes only the advertisements signed by the
    roster's address for their index and broadcasts the signatures with the key list
    (:mod:`.keysign`); without one, plain advertisements (in-process runs, benchmarks).
    """

    def __init__(
        self, place: RoundPlace, config: SecAggConfig, *, roster: Sequence[str] = ()
    ) -> None:
        self.place, self.config, self.roster = place, config, tuple(roster)
        self.server = SecAggServer(config)
        self.messages: list[Message] = []
        self.sum: DecodedSum | None = None
        self.survivors: tuple[int, ...] = ()

    def act(self, board: MessageBoard, stage: Stage, params: SecAggParams) -> None:
        """Take the members' messages of ``stage`` and post the answer (or decode the sum)."""
        self.take(stage, board.read(self.place.topic(stage, SERVER)), board, params)

    def take(
        self, stage: Stage, received: Sequence[Posted], board: MessageBoard, params: SecAggParams
    ) -> None:
        """Take ``received`` as the members' messages of ``stage``; post the answer to ``board``.

        The chain's coordinator gives the ``MASK`` stage the masked inputs it fetched and
        checked against their on-chain commitments; every other stage comes from the board.
        """
        if stage is Stage.ADVERTISE:
            self._advertise(received, board)
            return
        self.messages += [Message(stage, p.sender, p.payload) for p in received]
        payloads = [p.payload for p in received]
        if stage is Stage.SHARE:
            for member, relay in self.server.receive_shares(payloads).items():
                board.post(self.place.topic(stage, member), SERVER, relay)
        elif stage is Stage.MASK:
            board.post(
                self.place.topic(stage, EVERYONE), SERVER, self.server.receive_masked(payloads)
            )
        else:
            aggregate = self.server.receive_unmask(payloads)
            self.survivors = aggregate.survivors
            self.sum = decode_group(aggregate.total, aggregate.count, aggregate.bound, params)

    def _advertise(self, received: Sequence[Posted], board: MessageBoard) -> None:
        """Keep the (signed, with a roster) advertisements; broadcast the key list."""
        topic = self.place.topic(Stage.ADVERTISE, EVERYONE)
        if not self.roster:
            self.messages += [Message(Stage.ADVERTISE, p.sender, p.payload) for p in received]
            board.post(topic, SERVER, self.server.receive_keys([p.payload for p in received]))
            return
        where = (self.place.task, self.place.round, self.place.group)
        posted = [(p.sender, p.payload) for p in received]
        kept = verified_advertisements(where, self.roster, posted)
        self.messages += [Message(Stage.ADVERTISE, i, a) for i, (a, _) in sorted(kept.items())]
        key_list = self.server.receive_keys([a for _, (a, _) in sorted(kept.items())])
        signatures = {i: s for i, (_, s) in kept.items()}
        board.post(topic, SERVER, signed_key_list(key_list, signatures))


@dataclass(frozen=True)
class GroupSum:
    """What the coordinator learnt of one group.

    Attributes
    ----------
    group : int
        The group's index in the round's partition.
    members : tuple of str
        Its members (addresses), by member id.
    survivors : tuple of str
        The members whose input is in the sum (empty when the group failed).
    decoded : DecodedSum or None
        The weighted sum and sample count; ``None`` when the group failed (too few survivors
        or an out-of-range sum): the group adds nothing and earns nothing.
    transcript : GroupTranscript
        Everything its server received.
    failure : str
        Why the group failed (``""`` when it did not).
    """

    group: int
    members: tuple[str, ...]
    survivors: tuple[str, ...]
    decoded: DecodedSum | None
    transcript: GroupTranscript
    failure: str = ""


@dataclass(frozen=True)
class SecureRound:
    """A round's group sums and the update they give."""

    groups: tuple[GroupSum, ...]
    length: int
    commitments: Mapping[str, str] = field(default_factory=dict)
    """Member address -> ``0x`` keccak-256 of its masked input (what it commits to)."""

    @property
    def completed(self) -> tuple[GroupSum, ...]:
        """The groups whose sum is in the update."""
        return tuple(g for g in self.groups if g.decoded is not None)

    @property
    def samples(self) -> int:
        """The samples of every survivor of every completed group."""
        return sum(g.decoded.samples for g in self.groups if g.decoded is not None)

    def mean_update(self) -> NDArray[np.float64]:
        """``sum weighted / sum samples`` over groups: FedAvg of the survivors' clipped updates."""
        total = np.zeros(self.length - 1)
        for g in self.completed:
            assert g.decoded is not None
            total += g.decoded.weighted
        return total / self.samples if self.samples else total


@dataclass
class _Group:
    """One group's live state during :func:`run_secure_round`."""

    place: RoundPlace
    members: tuple[str, ...]
    server: GroupServer
    active: dict[str, GroupMember]
    failure: str = ""


def run_secure_round(
    inputs: Mapping[str, MemberInput],
    params: SecAggParams,
    *,
    task: int,
    round_: int,
    seed: bytes,
    board: MessageBoard,
    dropouts: Mapping[str, Stage] | None = None,
    dp: DPConfig | None = None,
    generator: torch.Generator | None = None,
) -> SecureRound:
    """Run SecAgg per group over ``board``; return what the coordinator learns.

    Parameters
    ----------
    inputs : mapping of str to MemberInput
        Each participant's update and sample count (address -> input), all of one length.
    params : SecAggParams
        The task's group size, dropout tolerance, clip range and sample cap.
    task, round_ : int
        Bound into every key, envelope and message.
    seed : bytes
        The round's public grouping seed (:func:`~fl_node.secagg_task.groups.group_seed`).
    board : MessageBoard
        The channel between the members and the coordinator.
    dropouts : mapping of str to Stage, optional
        Member -> the last stage it completes before going silent (tests and simulations).
    dp : DPConfig or None, default None
        Distributed DP (:func:`~fl_node.secagg_task.noise.member_dp`): each member clips its
        update and adds its share of the noise for its group's threshold, weighing equally.
    generator : torch.Generator or None, default None
        The members' noise source under ``dp`` (``None``: a secret one each).

    Raises
    ------
    GroupingError
        Fewer participants than one group, or inputs of differing lengths.
    """
    sizes = {m.delta.size for m in inputs.values()}
    if len(sizes) != 1:
        raise GroupingError("run_secure_round: give inputs, all of one length")
    length = sizes.pop() + 1
    noise = _Noise(dp, generator)
    groups = [
        _start_group(RoundPlace(task, round_, i), members, inputs, length, params, seed, noise)
        for i, members in enumerate(partition(sorted(inputs), params.group_size, seed))
    ]
    for stage in STAGES:
        for group in groups:
            _run_stage(group, board, stage, params, dropouts or {})
    done = tuple(_finish(g, length, params, seed) for g in groups)
    commitments = {a: m.commitment for g in groups for a, m in g.active.items() if m.commitment}
    log.info("run_secure_round: round %d, %d groups, %d failed", round_, len(done),
             sum(1 for g in done if g.decoded is None))  # fmt: skip
    return SecureRound(done, length, commitments)


@dataclass(frozen=True)
class _Noise:
    """The round's distributed-DP settings and noise source (``dp`` ``None``: no noise)."""

    dp: DPConfig | None
    generator: torch.Generator | None


def _start_group(
    place: RoundPlace,
    members: tuple[str, ...],
    inputs: Mapping[str, MemberInput],
    length: int,
    params: SecAggParams,
    seed: bytes,
    noise: _Noise,
) -> _Group:
    config = group_config(place.task, place.round, place.group, len(members), length, params, seed)
    active = {}
    for i, a in enumerate(members):
        values = encode_member(
            inputs[a].delta,
            inputs[a].samples,
            params,
            dp=noise.dp,
            threshold=config.threshold,
            generator=noise.generator,
        )
        active[a] = GroupMember(place, config, i, values)
    return _Group(place, members, GroupServer(place, config), active)


def _run_stage(
    group: _Group,
    board: MessageBoard,
    stage: Stage,
    params: SecAggParams,
    dropouts: Mapping[str, Stage],
) -> None:
    if group.failure:
        return
    for address, member in list(group.active.items()):
        member.act(board, stage)
        if dropouts.get(address) is stage:
            del group.active[address]
    try:
        group.server.act(board, stage, params)
    except (TooFewSurvivorsError, GroupSumError) as exc:
        group.failure = str(exc)
        log.warning("run_secure_round: group %d failed at %s: %s", group.place.group, stage, exc)


def _finish(group: _Group, length: int, params: SecAggParams, seed: bytes) -> GroupSum:
    server = group.server
    commitments = tuple(
        group.active[a].commitment if a in group.active else _sent(server, i)
        for i, a in enumerate(group.members)
    )
    transcript = GroupTranscript(
        *(group.place.task, group.place.round, group.place.group, group.members, length),
        *(params, seed, tuple(server.messages), commitments),
    )
    if group.failure or server.sum is None:
        return GroupSum(group.place.group, group.members, (), None, transcript, group.failure)
    survivors = tuple(group.members[i] for i in server.survivors)
    return GroupSum(group.place.group, group.members, survivors, server.sum, transcript)


def _sent(server: GroupServer, member: int) -> str:
    """The commitment of a member that dropped: from its masked input, if the server got one."""
    sent = [m for m in server.messages if m.stage is Stage.MASK and m.sender == member]
    return masked_commitment(sent[0].payload) if sent else ""


__all__ = [
    "STAGES",
    "GroupMember",
    "GroupServer",
    "GroupSum",
    "MemberInput",
    "RoundPlace",
    "SecureRound",
    "run_secure_round",
]
