"""The audit's checks of a secure-aggregation round (tasks with ``aggregation: "secagg"``).

- ``secagg``: the groups are the round's public partition (seed from the task's seed, the opened
  model's hash and the round); each transcript belongs to its group and replays; every masked
  input in it is the bytes its member committed to on-chain; every member that committed and
  revealed matching bytes has its masked input in the transcript (a coordinator cannot drop an
  honest member); the recorded sum (sample count and hash), survivors and failure are the
  replay's; the accepted members are exactly the survivors of the completed groups.
- ``contribution``: the group scores follow from the recorded utilities (over the completed
  groups) by the spec's estimator, and each participant's score is its share of its group's
  score (0 outside the survivors of completed groups).

``aggregation``, ``utilities`` and ``rewards`` are the plain checks: over a secagg round they
aggregate and measure the replayed groups' mean updates (:func:`~fl_node.audit._checks.
accepted_updates`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from fl_node.audit._records import RoundInputs
from fl_node.audit._scores import estimator_problems, recompute_scores
from fl_node.audit._secagg import ReplayedGroup, SecAggReplay
from fl_node.commitments import hex32
from fl_node.models import trainable_state
from fl_node.payout import contribution_seed
from fl_node.secagg import Stage
from fl_node.secagg_task.encoding import sum_digest
from fl_node.secagg_task.groups import group_seed, partition


def _replayed(r: RoundInputs) -> SecAggReplay:
    if r.secagg is None:
        return SecAggReplay((), {}, (), "the round was not replayed as a secagg round")
    return r.secagg


def _partition_problems(r: RoundInputs, replay: SecAggReplay) -> list[str]:
    """Whether the evidence's groups and seed are the round's public partition."""
    spec, round_ = r.task.spec, int(r.final.round)
    if spec.secagg is None or r.evidence.secagg is None:
        return ["the task or its evidence is not secagg"]
    seed = group_seed(spec.sample_seed, bytes(r.opening.model_hash), round_)
    sampled = spec.sampled(r.task.participants, round_, bytes(r.opening.model_hash))
    expected = [
        [m.lower() for m in g]
        for g in partition([str(a) for a in sampled], spec.secagg.group_size, seed)
    ]
    published = [[m.lower() for m in g.record.members] for g in replay.groups]
    problems = []
    if r.evidence.secagg.seed != hex32(seed):
        problems.append("the grouping seed is not the round's")
    if published != expected:
        problems.append("the groups are not the round's public partition")
    return problems


def _transcript_problems(r: RoundInputs, g: ReplayedGroup, length: int) -> list[str]:
    """What is wrong with one group's transcript against the chain's commitments and reveals."""
    t, name = g.transcript, f"group {g.record.group}"
    if t is None:
        return [f"{name}: {g.problem}"]
    place = (t.task, t.round, t.group, [m.lower() for m in t.members], t.length, t.params)
    expected = (
        *(r.task.task_id, int(r.final.round), g.record.group),
        *([m.lower() for m in g.record.members], length, r.task.spec.secagg),
    )
    if place != expected or "0x" + t.seed.hex() != (r.evidence.secagg and r.evidence.secagg.seed):
        return [f"{name}: the transcript belongs to another group, round or setting"]
    chain = {c.participant.lower(): c.update_hash for c in r.commitments}
    masked = {m.sender for m in t.messages if m.stage is Stage.MASK}
    problems = []
    for i, member in enumerate(m.lower() for m in t.members):
        if t.commitments[i] and t.commitments[i] != chain.get(member):
            problems.append(f"{name}: {member}'s masked input is not what it committed to")
        if i not in masked and _replayed(r).revealed.get(member):
            problems.append(f"{name}: {member} revealed its committed masked input, left out")
    return problems


def _sum_problems(g: ReplayedGroup) -> list[str]:
    """Whether the recorded sum, survivors and failure are the replay's."""
    rec, name = g.record, f"group {g.record.group}"
    if g.transcript is None:
        return []
    if g.decoded is None:
        if rec.sum_hash is not None or rec.survivors:
            return [f"{name}: recorded as completed, its transcript does not replay: {g.failure}"]
        return []
    same = (
        rec.sum_hash == sum_digest(g.decoded)
        and rec.samples == g.decoded.samples
        and [s.lower() for s in rec.survivors] == [s.lower() for s in g.survivors]
    )
    return [] if same else [f"{name}: the recorded sum or survivors differ from the replay's"]


def check_secagg(r: RoundInputs) -> tuple[bool, str]:
    """Groups, transcripts, masked inputs against commitments, sums, survivors, acceptances."""
    replay = _replayed(r)
    if replay.problem:
        return False, replay.problem
    length = sum(t.numel() for t in trainable_state(r.base.module).values()) + 1
    problems = _partition_problems(r, replay)
    for g in replay.groups:
        problems += _transcript_problems(r, g, length) + _sum_problems(g)
    inside = {s.lower() for g in replay.groups if g.decoded is not None for s in g.survivors}
    accepted = {v.participant.lower() for v in r.evidence.updates if v.accepted}
    if accepted != inside:
        problems.append("the accepted members are not the survivors of the completed groups")
    done = sum(g.decoded is not None for g in replay.groups)
    detail = f"{done} of {len(replay.groups)} groups replayed to their recorded sums"
    return not problems, "; ".join(problems) or detail


def check_secagg_contribution(r: RoundInputs) -> tuple[bool, str]:
    """Group scores from the utilities; each survivor's score its share of its group's."""
    record, replay = r.evidence.contribution, _replayed(r)
    problems = estimator_problems(record, r.task.spec)
    seed = contribution_seed(r.evidence.base_model.hash, int(r.final.round))
    if record.seed != seed:
        problems.append(f"seed {record.seed} is not keccak(base model, round)'s {seed}")
    completed = [g for g in replay.groups if g.decoded is not None]
    scores = [g.record.score for g in completed]
    expected = recompute_scores(record, len(completed)) if completed else []
    if any(s is None for s in scores) or expected is None or not _close(expected, scores):
        problems.append("the group scores do not follow from the published utilities")
    if any(g.record.score is not None for g in replay.groups if g.decoded is None):
        problems.append("a failed group scores")
    split = {p.lower(): 0.0 for p in r.task.participants}
    for g, score in zip(completed, expected or [], strict=False):
        for member in g.survivors:
            split[member.lower()] = score / len(g.survivors)
    published = list(record.scores)
    if not _close([split[p.lower()] for p in r.task.participants], published):
        problems.append("the members' scores are not their groups' scores split among survivors")
    return not problems, "; ".join([record.method, *problems])


def _close(a: Sequence[float], b: Sequence[float | None]) -> bool:
    return len(a) == len(b) and all(
        y is not None and math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12)
        for x, y in zip(a, b, strict=True)
    )


__all__ = ["check_secagg", "check_secagg_contribution"]
