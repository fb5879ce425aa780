"""The coordinator of a ``secagg`` task on the chain: group sums, commitments, evidence.

:class:`SecAggCoordinator` is a :class:`~fl_node.coordinator.Coordinator` (staking, opening,
batching, rewards, finalisation and settlement are the plain ones) whose round differs where
SecAgg needs it:

1. When the round opens it splits the sampled participants into the round's public groups and
   serves each group's ``ADVERTISE`` and ``SHARE`` stages over the :class:`MessageBoard`; the
   members then commit, before the commit deadline, to keccak-256 of their masked input with
   its CID (:mod:`fl_node.secagg_task.participant`).
2. From the reveal start it reads the round's commitments (batch and direct), fetches each
   member's masked input by its committed CID and keeps only bytes whose keccak-256 is the
   commitment: a member whose bytes are missing or differ is dropped from its group (the
   protocol recovers its pairwise masks). The survivors then unmask and each group's sum is
   decoded (:func:`~fl_node.secagg_task.encoding.decode_group`).
3. At finalisation each completed group's mean update enters the strategy as one update; the
   task's estimator scores the groups; each group's score is split equally among its survivors
   (:func:`~fl_node.secagg_task.contributions.member_contributions`); the rewards follow the
   spec's policy as in a plain task. The evidence carries, per group, its transcript (CID and
   hash), the decoded sum's sample count and hash, its score and its survivors
   (:class:`~fl_node.evidence.SecAggRecord`), which ``fedmarket audit`` replays.

A plain :class:`~fl_node.coordinator.Coordinator` cannot be reused as is: it decodes every
revealed update, which under SecAgg is a uniform masked word vector.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from torch import Tensor

from fl_node.commitments import commitments_of_round
from fl_node.coordinator import (
    Coordinator,
    MeasuredRound,
    Phase,
    RoundHook,
    RoundReport,
    coalition_utility,
)
from fl_node.errors import TaskStateError
from fl_node.evidence import (
    NOT_SUBMITTED,
    CommitmentRecord,
    GroupRecord,
    ModelRef,
    SecAggRecord,
    UpdateVerdict,
)
from fl_node.models import trainable_state
from fl_node.payout import contribution_seed, round_improvement
from fl_node.secagg import SecAggError, SecAggParams, Stage
from fl_node.secagg_task.board import MessageBoard, Posted
from fl_node.secagg_task.contributions import member_contributions
from fl_node.secagg_task.encoding import sum_digest
from fl_node.secagg_task.errors import GroupingError, GroupSumError
from fl_node.secagg_task.groups import group_seed, partition
from fl_node.secagg_task.round import GroupServer, GroupSum, RoundPlace, SecureRound
from fl_node.secagg_task.runner import unflatten
from fl_node.secagg_task.transcript import GroupTranscript, group_config, masked_commitment
from fl_node.strategies import ClientUpdate
from incentives.contribution import coalition_key
from kernel.types import Address
from storage import StoreError, canonical_json, content_hash

log = logging.getLogger(__name__)

SECAGG_DROPPED = "secagg_dropped"
"""The verdict reason of a member whose masked input is in no completed group's sum."""


@dataclass
class LiveGroup:
    """One group of the open round, on the coordinator's side."""

    place: RoundPlace
    members: tuple[str, ...]
    server: GroupServer
    failure: str = ""


@dataclass
class LiveRound:
    """The open round's groups, its grouping seed and the values per member."""

    seed: bytes
    length: int
    groups: list[LiveGroup]


class SecAggCoordinator(Coordinator):
    """Runs the rounds of a ``secagg`` task through FedTask (see the module docstring).

    Parameters
    ----------
    board : MessageBoard
        The SecAgg channel shared with the participants.
    **coordinator : Any
        :class:`~fl_node.coordinator.Coordinator`'s parameters.
    """

    def __init__(self, *, board: MessageBoard, **coordinator: Any) -> None:
        super().__init__(**coordinator)
        self.board = board
        self.live: dict[int, LiveRound] = {}
        self.secure: dict[int, SecureRound] = {}
        """Each finalised round's group sums and transcripts, as the evidence records them."""

    def _params(self) -> SecAggParams:
        spec = self._require()[1]
        if spec.secagg is None:
            raise GroupingError(f"SecAggCoordinator: task {self.task_id} is not a secagg task")
        return spec.secagg

    # ---- the round's stages -------------------------------------------------------------------
    def _drive_round(self, round_: int, hook: RoundHook) -> RoundReport:
        """Keys and shares, commitments, reveal and masked inputs, unmasking, finalisation."""
        task_id = self._require()[0]
        rinfo = self.fed_task.round(task_id, round_)
        self.start_groups(round_)
        hook(round_, Phase.OPENED)  # members train and advertise their keys
        self.serve(round_, Stage.ADVERTISE)
        hook(round_, Phase.OPENED)  # members share
        self.serve(round_, Stage.SHARE)
        hook(round_, Phase.OPENED)  # members mask and commit
        if self.mailbox is not None:
            self.wait_until(rinfo.commit_deadline - self._batch_margin())
            if self.fed_task.backend.chain_time() < rinfo.commit_deadline:
                self.post_batch(round_)
        self.wait_until(rinfo.commit_deadline)
        hook(round_, Phase.INCLUSION)
        self.wait_until(rinfo.reveal_start)
        hook(round_, Phase.REVEAL)  # members reveal their masked inputs
        self.collect_masked(round_)
        hook(round_, Phase.REVEAL)  # members unmask
        self.serve(round_, Stage.UNMASK)
        self.wait_until(rinfo.reveal_deadline)
        return self.finalize_round()

    def start_groups(self, round_: int) -> LiveRound:
        """Partition the round's sampled participants and set up each group's server."""
        task_id, spec, _, _, model = self._require()
        assert self.model_hash is not None
        participants = list(self.fed_task.participants(task_id))
        sampled = [str(a) for a in spec.sampled(participants, round_, self.model_hash)]
        seed = group_seed(spec.sample_seed, self.model_hash, round_)
        length = sum(t.numel() for t in trainable_state(model).values()) + 1
        groups = []
        for i, members in enumerate(partition(sampled, self._params().group_size, seed)):
            place = RoundPlace(task_id, round_, i)
            size = len(members)
            config = group_config(task_id, round_, i, size, length, self._params(), seed)
            server = GroupServer(place, config, roster=members)
            groups.append(LiveGroup(place, members, server))
        self.live[round_] = LiveRound(seed, length, groups)
        return self.live[round_]

    def serve(self, round_: int, stage: Stage) -> None:
        """Answer every live group's ``stage`` from the board (a group that fails stops)."""
        for group in self.live[round_].groups:
            self._take(group, stage, None)

    def _take(self, group: LiveGroup, stage: Stage, received: Sequence[Posted] | None) -> None:
        if group.failure:
            return
        try:
            if received is None:
                group.server.act(self.board, stage, self._params())
            else:
                group.server.take(stage, received, self.board, self._params())
        except (SecAggError, GroupSumError) as exc:
            group.failure = f"{stage}: {exc}"
            log.warning("serve: group %d failed at %s: %s", group.place.group, stage, exc)

    def collect_masked(self, round_: int) -> None:
        """Give each group the revealed masked inputs that match their on-chain commitments."""
        task_id = self._require()[0]
        participants = list(self.fed_task.participants(task_id))
        _, commitments = commitments_of_round(
            self.fed_task, self.store, task_id, round_, participants
        )
        by_participant = {c.participant.lower(): c for c in commitments}
        for group in self.live[round_].groups:
            self._take(group, Stage.MASK, self.verified_masked(group, by_participant))

    def verified_masked(
        self, group: LiveGroup, commitments: Mapping[str, CommitmentRecord]
    ) -> list[Posted]:
        """The group's masked inputs whose revealed bytes hash to the member's commitment."""
        kept = []
        for index, member in enumerate(group.members):
            commitment = commitments.get(member.lower())
            if commitment is None:
                continue
            try:
                blob = self.store.get(commitment.cid)
            except StoreError as exc:
                log.warning("collect_masked: %s revealed nothing readable: %s", member, exc)
                continue
            if "0x" + bytes(content_hash(blob)).hex() != commitment.update_hash:
                log.warning("collect_masked: %s revealed bytes it did not commit to", member)
                continue
            kept.append(Posted(index, blob))
        return kept

    # ---- finalisation -------------------------------------------------------------------------
    def _finalize_round(self) -> RoundReport:
        task_id, _, _, _, model = self._require()
        started = time.monotonic()
        info = self.fed_task.task(task_id)
        if not info.round_open or int(info.last_round) not in self.live:
            raise TaskStateError(f"finalize_round: task {task_id} has no open SecAgg round")
        round_ = int(info.last_round)
        participants = list(self.fed_task.participants(task_id))
        committed = commitments_of_round(self.fed_task, self.store, task_id, round_, participants)
        secure = self.group_sums(round_)
        params = trainable_state(model)
        shapes = {n: t.shape for n, t in params.items()}
        updates = [
            ClientUpdate(unflatten(g.decoded.mean, shapes), g.decoded.samples)
            for g in secure.completed
            if g.decoded is not None
        ]
        measured, scores = self._measure_groups(params, updates, secure, participants, round_)
        verdicts = self.verdicts(participants, committed[1], secure)
        next_model, next_state = self._aggregate(params, list(enumerate(updates)), None)
        state_record = self._store_state(next_state)
        metrics = self._evaluate(next_model)
        work = self._round_work(round_, participants, committed, verdicts, measured, metrics)
        base_model = self._model_ref()
        model_bytes = self._set_model(next_model, round_=round_)
        evidence = self._evidence(work, base_model, state_record)
        evidence = replace(
            evidence,
            aggregation=replace(evidence.aggregation, weights={}),
            secagg=self._record(secure, scores, self.live[round_].seed),
        )
        evidence_cid = self.store.put_json(evidence.to_dict())
        self.server_state = next_state
        gas = self._finalize_on_chain(work, evidence_cid, info.total_rounds)
        report = self._report(work, model_bytes, evidence_cid, gas, started)
        self.reports.append(report)
        self.secure[round_] = secure
        del self.live[round_]
        log.info(
            "finalize_round: task %s round %d: %d groups completed of %d, pays %d",
            *(task_id, round_, len(updates), len(secure.groups), report.budget),
        )
        return report

    def group_sums(self, round_: int) -> SecureRound:
        """What the round's groups gave: sums, survivors, transcripts (by member commitments)."""
        live = self.live[round_]
        return SecureRound(tuple(self._group_sum(g, live) for g in live.groups), live.length)

    def _group_sum(self, group: LiveGroup, live: LiveRound) -> GroupSum:
        server = group.server
        sent = {m.sender: m.payload for m in server.messages if m.stage is Stage.MASK}
        commitments = tuple(
            masked_commitment(sent[i]) if i in sent else "" for i in range(len(group.members))
        )
        place = group.place
        transcript = GroupTranscript(
            *(place.task, place.round, place.group, group.members, live.length),
            *(self._params(), live.seed, tuple(server.messages), commitments),
        )
        if group.failure or server.sum is None:
            failure = group.failure or "the group did not unmask"
            return GroupSum(place.group, group.members, (), None, transcript, failure)
        survivors = tuple(group.members[i] for i in server.survivors)
        return GroupSum(place.group, group.members, survivors, server.sum, transcript)

    def _measure_groups(
        self,
        params: Mapping[str, Tensor],
        updates: list[ClientUpdate],
        secure: SecureRound,
        participants: list[Address],
        round_: int,
    ) -> tuple[MeasuredRound, list[float]]:
        """The estimator over the completed groups; each member's share; the group scores."""
        _, spec, strategy, estimator, _ = self._require()
        seed = contribution_seed(self.model_hash or b"", round_)
        if not updates:
            nothing = [0.0] * len(participants)
            return MeasuredRound(nothing, {}, seed, dict(estimator.params()), 0.0), []
        utility = coalition_utility(
            spec.model, strategy, params, updates, self._state(), self.validation
        )
        result = estimator.estimate(len(updates), utility, seed=seed)
        utilities = dict(result.utilities)
        for coalition in (frozenset(), frozenset(range(len(updates)))):
            utilities.setdefault(coalition_key(coalition), utility(coalition))
        improvement = round_improvement(utilities, len(updates))
        scores = list(result.scores)
        split = self.split(scores, secure, participants)
        return MeasuredRound(split, utilities, seed, dict(result.params), improvement), scores

    def split(
        self, scores: list[float], secure: SecureRound, participants: Sequence[str]
    ) -> list[float]:
        """Each participant's share of its group's score (0 outside completed groups)."""
        return member_contributions(scores, secure.groups, participants)

    def verdicts(
        self,
        participants: Sequence[Address],
        commitments: Sequence[CommitmentRecord],
        secure: SecureRound,
    ) -> list[UpdateVerdict]:
        """Accepted: the survivors of completed groups; the others committed nothing or dropped."""
        by_participant = {c.participant.lower(): c for c in commitments}
        inside = {a.lower() for g in secure.completed for a in g.survivors}
        verdicts = []
        for participant in participants:
            c = by_participant.get(participant.lower())
            if c is None:
                verdicts.append(UpdateVerdict(participant, False, NOT_SUBMITTED))
                continue
            accepted = participant.lower() in inside
            reason, detail = (None, "") if accepted else (SECAGG_DROPPED, "not in a group sum")
            verdicts.append(
                UpdateVerdict(
                    participant, accepted, reason, detail, c.cid, c.update_hash, samples=0
                )
            )
        return verdicts

    def _record(self, secure: SecureRound, scores: list[float], seed: bytes) -> SecAggRecord:
        """The evidence's SecAgg part: every group with its stored transcript."""
        by_group = dict(zip([g.group for g in secure.completed], scores, strict=True))
        groups = []
        for g in secure.groups:
            blob = canonical_json(g.transcript.to_dict())
            ref = ModelRef(cid=self.store.put(blob), hash="0x" + bytes(content_hash(blob)).hex())
            groups.append(
                GroupRecord(
                    group=g.group,
                    members=tuple(Address(m) for m in g.members),
                    survivors=tuple(Address(m) for m in g.survivors),
                    transcript=ref,
                    samples=g.decoded.samples if g.decoded is not None else 0,
                    sum_hash=sum_digest(g.decoded) if g.decoded is not None else None,
                    score=by_group.get(g.group),
                    failure=g.failure,
                )
            )
        return SecAggRecord(seed="0x" + seed.hex(), groups=tuple(groups))


__all__ = ["SECAGG_DROPPED", "LiveGroup", "LiveRound", "SecAggCoordinator"]
