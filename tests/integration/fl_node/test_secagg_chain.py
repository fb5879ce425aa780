"""A SecAgg task through FedTask on the in-process chain: it pays, and the audit replays it.

Six hospitals in two groups of three (one round, exact Shapley over groups): each member commits
to keccak-256 of its masked input through the mailbox's batch, reveals it at the reveal start,
and the SecAgg stages go through a :class:`~fl_node.secagg_task.MemoryBoard`. The honest round
completes, pays the survivors and passes the audit; a member that drops after sharing is not
paid while the round completes; a coordinator that misreports a group sum, drops an honest
member's masked input or pays a member of a failed group fails the audit. A coordinator that
swaps a member's advertised keys (to open what the others share with it) is refused by every
member of the group before anything is shared; keys posted under another member's index are
dropped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from fedmarket.demo import TOKEN, World, build_world, design_task, sponsor_task
from fl_node.audit import audit_task
from fl_node.coordinator import Phase
from fl_node.dp import DISTRIBUTED_MODE, DPConfig
from fl_node.evidence import SCHEMA_PATH, RoundEvidence
from fl_node.secagg import SecAggClient, SecAggParams, Stage
from fl_node.secagg.messages import AdvertiseKeys, KeyList, decode
from fl_node.secagg_task import MemoryBoard, group_seed, partition
from fl_node.secagg_task.board import EVERYONE, SERVER, Posted
from fl_node.secagg_task.coordinator import LiveGroup, SecAggCoordinator
from fl_node.secagg_task.encoding import DecodedSum
from fl_node.secagg_task.keysign import sign_advertise, split_key_list
from fl_node.secagg_task.participant import SecAggParticipant
from fl_node.secagg_task.round import RoundPlace, SecureRound
from tests.integration.fl_node.flow import hook

pytestmark = pytest.mark.slow

POOL = 300 * TOKEN
HOSPITALS = 6


@dataclass
class SecAggFlow:
    """A secagg task with its world, nodes, coordinator and the round's public groups."""

    world: World
    task_id: int
    nodes: list[SecAggParticipant]
    coordinator: SecAggCoordinator
    groups: tuple[tuple[str, ...], ...]

    def node(self, address: str) -> SecAggParticipant:
        """The node of ``address``."""
        return next(n for n in self.nodes if n.address.lower() == address.lower())

    def run(self) -> None:
        """Run the task's one round with every node stepped at each phase."""
        self.coordinator.run(between=hook(list(self.nodes), self.task_id), settle=False)

    def evidence(self) -> RoundEvidence:
        """Round 1's evidence."""
        final = self.world.fed_task().rounds_finalized(self.task_id)[0]
        return RoundEvidence.from_dict(self.world.store.get_json(final.evidence_cid))

    def audit(self, *, challenges: bool = False):  # noqa: ANN201 - an AuditReport
        """The audit from the chain, the store and the validation set."""
        return audit_task(
            self.world.fed_task(),
            self.world.store,
            self.task_id,
            mailbox=self.world.mailbox,
            challenges=challenges,
            validation=self.world.split.validation,
        )


def start(
    tmp_path: Path,
    coordinator: type[SecAggCoordinator] = SecAggCoordinator,
    dp: DPConfig | None = None,
) -> SecAggFlow:
    """Six hospitals joined to a one-round secagg task (with ``dp``), its coordinator attached."""
    world = build_world(tmp_path / "store", n_hospitals=HOSPITALS)
    world.mint(world.sponsor, POOL)
    spec = design_task(
        [h.stats() for h in world.split.hospitals], world.split.feature_names, rounds=1
    )
    spec = replace(
        spec,
        aggregation="secagg",
        secagg=SecAggParams(group_size=3, clip=0.5, max_samples=1000),
        contribution="shapley-exact",
        dp=dp,
    )
    task_id = sponsor_task(world, spec, pool=POOL, max_participants=HOSPITALS)
    board = MemoryBoard()
    nodes = [
        SecAggParticipant(
            board=board,
            signer=s,
            fed_task=world.fed_task(),
            store=world.store,
            data=d,
            mailbox=world.mailbox,
            court=world.court(),
        )
        for s, d in zip(world.hospitals, world.split.hospitals, strict=True)
    ]
    for node in nodes:
        node.join(task_id)
    coord = coordinator(
        board=board,
        signer=world.coordinator,
        fed_task=world.fed_task(),
        store=world.store,
        validation=world.split.validation,
        test=world.split.test,
        mailbox=world.mailbox,
        travel=True,
    )
    coord.attach(task_id)
    assert coord.model_hash is not None
    participants = [str(a) for a in world.fed_task().participants(task_id)]
    groups = partition(participants, 3, group_seed(spec.sample_seed, coord.model_hash, 1))
    return SecAggFlow(world, task_id, nodes, coord, groups)


def test_distributed_dp_through_fedtask_records_its_mode_and_passes_the_audit(
    tmp_path: Path,
) -> None:
    dp = DPConfig("dp-fedavg", clip_norm=0.05, noise_multiplier=1.0, delta=1e-5)
    flow = start(tmp_path, dp=dp)  # groups of 3, threshold 2: each member adds 0.05 / sqrt(2)
    flow.run()
    ev = flow.evidence()
    assert ev.privacy is not None and ev.privacy.mode == DISTRIBUTED_MODE
    spent = flow.coordinator.spec.privacy_spent(1) if flow.coordinator.spec else None
    assert spent is not None and ev.privacy.epsilon == spent.epsilon
    assert ev.secagg is not None
    for g in ev.secagg.groups:  # equal weights: every member counts max_samples inside the sum
        assert g.samples == len(g.survivors) * 1000
    report = flow.audit()
    assert report.ok, report.failures


def paid(flow: SecAggFlow) -> dict[str, int]:
    """Round 1's amount by participant (lower-case address)."""
    ev = flow.evidence()
    return {p.lower(): a for p, a in zip(ev.participants, ev.rewards.amounts, strict=True)}


def failed_checks(flow: SecAggFlow) -> set[str]:
    """The names of the audit's failed checks."""
    report = flow.audit()
    return {c.name for _, c in report.failures}


def test_an_honest_secagg_round_through_fedtask_pays_its_survivors_and_passes_the_audit(
    tmp_path: Path,
) -> None:
    flow = start(tmp_path)
    flow.run()
    ev = flow.evidence()
    assert ev.secagg is not None and len(ev.secagg.groups) == 2
    assert all(g.sum_hash is not None and len(g.survivors) == 3 for g in ev.secagg.groups)
    amounts = paid(flow)
    assert sum(amounts.values()) == ev.rewards.budget > 0
    for g in ev.secagg.groups:  # each group's score, split equally among its survivors
        assert g.score is not None
        shares = [ev.contribution.scores[list(ev.participants).index(m)] for m in g.members]
        assert np.allclose(shares, g.score / 3)
    # every member committed on-chain to keccak of its masked input, revealed under that CID
    assert {c.participant.lower() for c in ev.commitments.entries} == set(amounts)
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator(schema).validate(ev.to_dict())  # the published shape
    report = flow.audit()
    assert report.ok, report.failures
    assert {"secagg", "aggregation", "contribution", "rewards"} <= {
        c.name for c in report.rounds[0].checks
    }


def test_a_member_dropping_after_sharing_is_not_paid_and_the_round_completes(
    tmp_path: Path,
) -> None:
    flow = start(tmp_path)
    victim = flow.groups[0][0]
    flow.node(victim).drops[1] = Stage.SHARE
    flow.run()
    ev = flow.evidence()
    assert ev.secagg is not None
    group = ev.secagg.groups[0]
    assert group.sum_hash is not None and victim.lower() not in {s.lower() for s in group.survivors}
    assert len(group.survivors) == 2
    amounts = paid(flow)
    assert amounts[victim.lower()] == 0 and sum(amounts.values()) > 0
    assert flow.audit().ok


class _MisreportsASum(SecAggCoordinator):
    """Doubles group 0's weighted sum (its evidence and the new model follow the lie)."""

    def group_sums(self, round_: int) -> SecureRound:
        secure = super().group_sums(round_)
        first = secure.groups[0]
        assert first.decoded is not None
        lie = DecodedSum(first.decoded.weighted * 2, first.decoded.samples, first.decoded.bound)
        return replace(secure, groups=(replace(first, decoded=lie), *secure.groups[1:]))


def test_a_coordinator_misreporting_a_group_sum_fails_the_audit(tmp_path: Path) -> None:
    flow = start(tmp_path, _MisreportsASum)
    flow.run()
    assert {"secagg", "aggregation"} <= failed_checks(flow)


class _DropsAnHonestMember(SecAggCoordinator):
    """Leaves out the first member's matching masked input (it is then treated as dropped)."""

    def verified_masked(self, group: LiveGroup, commitments):  # noqa: ANN001, ANN201
        kept = super().verified_masked(group, commitments)
        return [p for p in kept if not (group.place.group == 0 and p.sender == 0)]


def test_a_coordinator_dropping_an_honest_masked_input_fails_the_audit(tmp_path: Path) -> None:
    flow = start(tmp_path, _DropsAnHonestMember)
    flow.run()
    victim = flow.groups[0][0]
    assert paid(flow)[victim.lower()] == 0  # the lie costs the victim its pay
    report = flow.audit(challenges=True)
    assert "secagg" in {c.name for _, c in report.failures}
    challenge = report.rounds[0].challenge
    assert challenge is not None  # the corrected root pays the victim (the mean positive share)
    assert victim.lower() in {leaf.account.lower() for leaf in challenge.corrected_leaves}


class _PaysAFailedGroup(SecAggCoordinator):
    """Credits and accepts the last member of a failed group as if its group had completed."""

    def split(self, scores, secure, participants):  # noqa: ANN001, ANN201
        split = super().split(scores, secure, participants)
        failed = next(g for g in secure.groups if g.decoded is None)
        index = [p.lower() for p in participants].index(failed.members[-1].lower())
        split[index] = max(scores)
        return split

    def verdicts(self, participants, commitments, secure):  # noqa: ANN001, ANN201
        verdicts = super().verdicts(participants, commitments, secure)
        failed = next(g for g in secure.groups if g.decoded is None)
        return [
            replace(v, accepted=True, reason=None, detail="")
            if v.participant.lower() == failed.members[-1].lower()
            else v
            for v in verdicts
        ]


def test_a_coordinator_paying_a_member_of_a_failed_group_fails_the_audit(
    tmp_path: Path,
) -> None:
    flow = start(tmp_path, _PaysAFailedGroup)
    for member in flow.groups[1][:2]:  # two of three commit, then go silent: no unmasking
        flow.node(member).drops[1] = Stage.MASK
    flow.run()
    ev = flow.evidence()
    assert ev.secagg is not None and ev.secagg.groups[1].sum_hash is None
    assert paid(flow)[flow.groups[1][-1].lower()] > 0  # the cheat went through on-chain
    assert {"secagg", "contribution"} <= failed_checks(flow)


class _SwapsAKey(SecAggCoordinator):
    """Hands group 0 its own keys in place of member 1's.

    With them it could open what member 0 shares with member 1 and strip their pairwise mask
    (the active attack that signed keys stop).
    """

    def serve(self, round_: int, stage: Stage) -> None:
        super().serve(round_, stage)
        if stage is not Stage.ADVERTISE:
            return
        assert isinstance(self.board, MemoryBoard)
        topic = self.live[round_].groups[0].place.topic(Stage.ADVERTISE, EVERYONE)
        [posted] = self.board._posts[topic]  # noqa: SLF001 - the attacker rewrites the board
        key_list, signatures = split_key_list(posted.payload)
        listed = decode(key_list, KeyList)
        config = self.live[round_].groups[0].server.config
        mine = SecAggClient(config, 1, np.zeros(config.length))
        forged = decode(mine.advertise(), AdvertiseKeys)
        keys = tuple(forged if k.sender == 1 else k for k in listed.keys)
        swapped = KeyList(listed.round, keys).to_bytes() + signatures
        self.board._posts[topic] = [Posted(SERVER, swapped)]  # noqa: SLF001


def test_a_coordinator_swapping_a_members_key_is_refused_and_learns_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    flow = start(tmp_path, _SwapsAKey)
    flow.run()
    place = RoundPlace(flow.task_id, 1, 0)
    shared = flow.coordinator.board.read(place.topic(Stage.SHARE, SERVER))
    assert shared == ()  # no member of the attacked group shared a key or a seed
    ev = flow.evidence()
    assert ev.secagg is not None
    attacked, other = ev.secagg.groups
    assert attacked.sum_hash is None and other.sum_hash is not None  # the other group completes
    committed = {c.participant.lower() for c in ev.commitments.entries}
    assert not committed & {m.lower() for m in flow.groups[0]}  # no masked input was even made
    assert "breach alert: unexpected_key_use" in caplog.text
    amounts = paid(flow)
    assert all(amounts[m.lower()] == 0 for m in flow.groups[0])
    assert flow.audit().ok  # what was finalised is consistent: the attack left nothing to pay


def test_an_advertisement_posted_under_another_members_index_is_dropped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A participant posting keys as someone else's index: the coordinator keeps the signed one."""
    flow = start(tmp_path)
    thief = flow.node(flow.groups[1][0])
    victim_place = RoundPlace(flow.task_id, 1, 0)

    def impostor(round_: int, phase: Phase) -> None:
        if (round_, phase) == (1, Phase.OPENED) and not flow.coordinator.board.read(
            victim_place.topic(Stage.ADVERTISE, EVERYONE)
        ):
            config = flow.coordinator.live[1].groups[0].server.config
            fake = SecAggClient(config, 2, np.zeros(config.length)).advertise()
            where = (flow.task_id, 1, 0)
            signed = sign_advertise(thief.signer.account, where, 2, fake)
            flow.coordinator.board.post(victim_place.topic(Stage.ADVERTISE, SERVER), 2, signed)

    flow.coordinator.run(between=hook(list(flow.nodes), flow.task_id, impostor), settle=False)
    assert "an advertisement for index 2 is not its own" in caplog.text  # the impostor's
    ev = flow.evidence()
    assert ev.secagg is not None and all(g.sum_hash is not None for g in ev.secagg.groups)
    assert all(len(g.survivors) == 3 for g in ev.secagg.groups)  # the real member 2 took part
    assert flow.audit().ok
