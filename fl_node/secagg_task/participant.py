"""A participant of a ``secagg`` task on the chain: SecAgg stages on the board, commit and reveal.

:class:`SecAggParticipant` is a :class:`~fl_node.participant.ParticipantNode` whose round goes
as follows (each :meth:`~fl_node.participant.ParticipantNode.step` does what is due now):

1. Once the round is open it trains on the opened model, finds its group in the round's public
   partition (:func:`~fl_node.secagg_task.groups.partition` of the sampled participants, seeded
   by the task's seed, the opened model's on-chain hash and the round) and posts its ``ADVERTISE``
   message on the board; at the next steps it posts ``SHARE`` once the server's key list is there.
2. Once the server relayed its shares it computes its ``MASK`` message (the masked input) and
   commits, before the commit deadline, to keccak-256 of those bytes with their CID, through the
   mailbox's batch or ``commitUpdate``: the machinery of a plain participant, with the masked
   message in place of the update. The committed sample count is ``1``: the real count is
   inside the sum and never disclosed.
3. From the reveal start it publishes the masked bytes in the store (the plain reveal); once the
   coordinator posted the survivors it posts its ``UNMASK`` shares.

Rewards are claimed as in any task. :attr:`SecAggParticipant.drops` (round -> the last stage a
node completes) makes a node go silent mid-round, for tests and simulations.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from chain.fed_task import TaskInfo
from fl_node.models import trainable_state
from fl_node.participant import ParticipantNode, PendingUpdate, SubmittedUpdate
from fl_node.secagg import Stage, UnmaskRefusedError
from fl_node.secagg_task.board import SERVER, MessageBoard
from fl_node.secagg_task.errors import GroupingError, KeySubstitutionError
from fl_node.secagg_task.groups import group_seed, partition
from fl_node.secagg_task.noise import encode_member, member_dp, train_config
from fl_node.secagg_task.round import STAGES, GroupMember, RoundPlace
from fl_node.secagg_task.runner import flatten
from fl_node.secagg_task.transcript import group_config
from fl_node.training import train_local
from storage import compute_cid, content_hash

log = logging.getLogger(__name__)

COMMITTED_SAMPLES = 1
"""The sample count a SecAgg member commits (the contract wants one > 0; the real one is secret)."""


@dataclass
class _Membership:
    """A node's place in one round's SecAgg group and the stages it completed."""

    member: GroupMember
    done: list[Stage] = field(default_factory=list)
    masked: bytes = b""
    train_loss: float = 0.0
    bytes_down: int = 0

    @property
    def next_stage(self) -> Stage | None:
        """The first stage not done yet (``None`` once all are)."""
        return next((s for s in STAGES if s not in self.done), None)


class SecAggParticipant(ParticipantNode):
    """A participant whose update reaches the coordinator only inside its group's secure sum.

    Parameters
    ----------
    board : MessageBoard
        The SecAgg channel shared with the coordinator.
    **node : Any
        :class:`~fl_node.participant.ParticipantNode`'s parameters.
    """

    def __init__(self, *, board: MessageBoard, **node: Any) -> None:
        super().__init__(**node)
        self.board = board
        self.drops: dict[int, Stage] = {}
        """Round -> the last stage this node completes before going silent (tests)."""
        self._rounds: dict[tuple[int, int], _Membership] = {}

    def _serve_round(self, info: TaskInfo) -> SubmittedUpdate | None:
        """Advance the SecAgg stages; commit and reveal the masked input as a plain update."""
        task_id, round_ = int(info.task_id), int(info.last_round)
        state = self._state(task_id)
        membership = self._rounds.get((task_id, round_))
        if membership is None and round_ not in state.pending:
            rinfo = self.fed_task.round(task_id, round_)
            now = self.fed_task.backend.chain_time()
            if now >= rinfo.commit_deadline or not self._training_due(info, rinfo, now):
                return None
            membership = self._join_group(info)
            if membership is None:
                return None
            self._rounds[(task_id, round_)] = membership
        if membership is None:
            return super()._serve_round(info)
        self._advance(membership, round_)
        if membership.masked and round_ not in state.pending:
            state.prepared.setdefault(round_, self._masked_pending(info, membership))
        if round_ not in state.pending and round_ not in state.prepared:
            return None
        sent = super()._serve_round(info)
        pending = state.pending.get(round_)
        if pending is not None and pending.revealed:
            self._advance(membership, round_)
        return sent

    def _join_group(self, info: TaskInfo) -> _Membership | None:
        """Train on the round's model and take this node's place in its group (or none)."""
        task_id, round_ = int(info.task_id), int(info.last_round)
        spec = self.spec(task_id)
        if spec.secagg is None:
            raise GroupingError(f"task {task_id} does not aggregate under secagg")
        participants = list(self.fed_task.participants(task_id))
        sampled = spec.sampled(participants, round_, bytes(info.model_hash))
        seed = group_seed(spec.sample_seed, bytes(info.model_hash), round_)
        groups = partition([str(a) for a in sampled], spec.secagg.group_size, seed)
        mine = [(g, m.index(a)) for g, m in enumerate(groups) for a in m if self._is(a)]
        if not mine:
            return None
        group, index = mine[0]
        loaded, bytes_down = self._global_model(info, round_)
        config = train_config(spec, spec.make_strategy().configure_train(spec.train))
        names = list(trainable_state(loaded.module))
        result = train_local(loaded.module, self.data, config, round=round_, device=self.device)
        delta = flatten(result.delta, names)
        place = RoundPlace(task_id, round_, group)
        size = len(groups[group])
        secagg_config = group_config(
            task_id, round_, group, size, delta.size + 1, spec.secagg, seed
        )
        values = encode_member(
            *(delta, result.samples, spec.secagg),
            dp=member_dp(spec),
            threshold=secagg_config.threshold,
        )
        roster = tuple(groups[group])
        member = GroupMember(
            place, secagg_config, index, values, account=self.signer.account, roster=roster
        )
        return _Membership(member, train_loss=result.loss, bytes_down=bytes_down)

    def _is(self, address: str) -> bool:
        return address.lower() == self.address.lower()

    def _advance(self, membership: _Membership, round_: int) -> None:
        """Post every stage whose server answer is on the board (the masked input is kept)."""
        while (stage := membership.next_stage) is not None:
            last = self.drops.get(round_)
            if last is not None and last in membership.done:
                return
            if stage is Stage.UNMASK and not self._revealed(membership, round_):
                return
            if not membership.member.ready(self.board, stage):
                return
            try:
                message = membership.member.message(self.board, stage)
            except UnmaskRefusedError as exc:  # left out of the survivors: nothing to reveal
                log.warning("step: %s refuses to unmask in round %d: %s", self.address, round_, exc)
                membership.done.append(stage)
                return
            except KeySubstitutionError as exc:  # the relay swapped a key: share nothing
                log.error("step: %s leaves round %d: %s", self.address, round_, exc)
                membership.done.extend(s for s in STAGES if s not in membership.done)
                return
            if stage is Stage.MASK:
                membership.masked = message
            else:
                topic = membership.member.place.topic(stage, SERVER)
                self.board.post(topic, membership.member.index, message)
            membership.done.append(stage)

    def _revealed(self, membership: _Membership, round_: int) -> bool:
        pending = self._state(membership.member.place.task).pending.get(round_)
        return pending is not None and pending.revealed

    def _masked_pending(self, info: TaskInfo, membership: _Membership) -> PendingUpdate:
        """The masked input as the update this node commits and reveals."""
        blob = membership.masked
        update = SubmittedUpdate(
            *(int(info.task_id), int(info.last_round), compute_cid(blob), content_hash(blob)),
            *(COMMITTED_SAMPLES, membership.train_loss, len(blob), membership.bytes_down),
            *("batch", 0),
        )
        return PendingUpdate(update, blob)


__all__ = ["COMMITTED_SAMPLES", "SecAggParticipant"]
