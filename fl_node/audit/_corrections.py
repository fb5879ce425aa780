"""What a failed round should have paid, computed from its published evidence: the challenge.

The court replaces a disputed round's root (never its budget) with the challenger's corrected root,
and on the last round its shares with the corrected shares. Corrections follow
:data:`fl_node.challenge.CORRECTION_RULE`: the contributions the evidence publishes (recomputed from
its utilities when the published scores do not follow from them, or from utilities the audit
re-measured when it holds the coordinator's validation set and the published ones are wrong);
zero for an update the audit finds invalid; for a valid update the evidence rejected, the mean
positive contribution of the accepted ones; then the reward rules of :mod:`fl_node.payout` within
the round's posted budget.
A round whose evidence cannot be read has nothing to pay from: its corrected root is zero, which
returns its unclaimed budget to the pool.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from fl_node.audit._records import RoundInputs, TaskRecord
from fl_node.audit._scores import recompute_scores
from fl_node.audit._utilities import remeasured_scores
from fl_node.audit.report import RoundAudit
from fl_node.challenge import ChallengeEvidence, FailedCheck
from fl_node.commitments import hex32
from fl_node.evidence import RewardLeaf
from fl_node.payout import RoundTerms, cumulative_contributions, reward_split
from fl_node.secagg import Stage
from incentives.rewards import allocate_rewards, scores_to_fixed
from incentives.shares import shares_bps


def _published(r: RoundInputs) -> list[float]:
    """The contributions the round's utilities give (re-measured ones when the published are wrong).

    Falls back to the evidence's scores where its utilities cannot be replayed.
    """
    n = len(r.task.participants)
    scores = list(r.evidence.contribution.scores)[:n]
    scores += [0.0] * (n - len(scores))
    accepted = [i for i, v in enumerate(r.evidence.updates[:n]) if v.accepted]
    recomputed = remeasured_scores(r)
    if recomputed is None:
        recomputed = recompute_scores(r.evidence.contribution, len(accepted))
    out = [0.0] * n
    for position, i in enumerate(accepted):
        out[i] = recomputed[position] if recomputed is not None else scores[i]
    return out


def _secagg_corrected(r: RoundInputs) -> tuple[list[float], list[bool]]:
    """A secagg round's contributions and acceptances as the replay of its groups gives them.

    The group scores are the re-measured ones (with the validation set) or the published
    utilities' (over the replayed completed groups), split equally among each group's replayed
    survivors; only those survivors are accepted, and a member whose committed and revealed
    masked input the coordinator left out of its group is credited the mean positive share.
    """
    assert r.secagg is not None
    completed = [g for g in r.secagg.groups if g.decoded is not None]
    scores = remeasured_scores(r) or recompute_scores(r.evidence.contribution, len(completed))
    by_member: dict[str, float] = {}
    for group, score in zip(completed, scores or [0.0] * len(completed), strict=True):
        for member in group.survivors:
            by_member[member.lower()] = score / len(group.survivors)
    positive = [v for v in by_member.values() if v > 0]
    for member in _left_out(r):  # credited the mean, as a wrongly rejected plain update is
        by_member[member] = sum(positive) / len(positive) if positive else 0.0
    participants = [p.lower() for p in r.task.participants]
    return [by_member.get(p, 0.0) for p in participants], [p in by_member for p in participants]


def _left_out(r: RoundInputs) -> list[str]:
    """Members that revealed the masked input they committed to, missing from their transcript."""
    assert r.secagg is not None
    out = []
    for group in r.secagg.groups:
        if group.transcript is None:
            continue
        masked = {m.sender for m in group.transcript.messages if m.stage is Stage.MASK}
        members = [m.lower() for m in group.transcript.members]
        out += [m for i, m in enumerate(members) if i not in masked and r.secagg.revealed.get(m)]
    return out


def corrected_contributions(r: RoundInputs | None, n: int) -> list[float]:
    """Each participant's contribution in a round as the audit corrects it.

    Parameters
    ----------
    r : RoundInputs or None
        The round's inputs (``None`` when its evidence could not be read: all zero).
    n : int
        The number of participants.
    """
    if r is None:
        return [0.0] * n
    if r.secagg is not None:
        return _secagg_corrected(r)[0]
    published = _published(r)
    claimed = [v.accepted for v in r.evidence.updates[:n]] + [False] * n
    valid = [v.accepted for v, _ in r.replayed]
    positive = [c for c, ok in zip(published, claimed, strict=False) if ok and c > 0]
    mean = sum(positive) / len(positive) if positive else 0.0
    return [
        0.0 if not ok else (c if was else mean)
        for c, was, ok in zip(published, claimed, valid, strict=False)
    ]


def corrected_shares(task: TaskRecord, inputs: Mapping[int, RoundInputs | None]) -> tuple[int, ...]:
    """The shares of the corrected contributions over every round.

    Parameters
    ----------
    task : TaskRecord
        The task.
    inputs : mapping of int to RoundInputs or None
        Every finalised round's inputs by round.
    """
    n = len(task.participants)
    per_round = [corrected_contributions(inputs[r], n) for r in sorted(inputs)]
    return tuple(shares_bps(cumulative_contributions(per_round)))


def _valid(r: RoundInputs) -> list[bool]:
    """Which participants' inputs the audit finds valid (a secagg round: its replayed survivors)."""
    if r.secagg is not None:
        return _secagg_corrected(r)[1]
    return [v.accepted for v, _ in r.replayed]


def challenge_of(
    task: TaskRecord,
    round_: int,
    audit: RoundAudit,
    inputs: Mapping[int, RoundInputs | None],
) -> ChallengeEvidence:
    """The challenge evidence of a failed round.

    Parameters
    ----------
    task : TaskRecord
        The task.
    round_ : int
        The failed round.
    audit : RoundAudit
        Its audit (the failed checks).
    inputs : mapping of int to RoundInputs or None
        Every finalised round's inputs by round.
    """
    final, n = task.finals[round_], len(task.participants)
    r = inputs.get(round_)
    leaves: tuple[RewardLeaf, ...] = ()
    if r is not None:
        valid = _valid(r)
        scores = scores_to_fixed(corrected_contributions(r, n))
        paid = int(final.budget) if sum(valid) >= int(task.info.quorum) else 0
        allocation = allocate_rewards(task.spec.rewards, paid, scores, valid)
        terms = RoundTerms(
            task.spec.rewards,
            int(final.budget),
            int(task.info.quorum),
            int(task.info.pool),
            int(task.info.total_rounds),
        )
        improvement = r.evidence.rewards.improvement
        split = reward_split(
            task.task_id,
            round_,
            task.participants,
            terms,
            allocation,
            math.nan if improvement is None else improvement,
        )
        leaves, root = split.leaves, split.root
    else:
        root = hex32(b"\x00" * 32)
    shares = None
    if round_ == int(task.info.total_rounds):
        fixed = corrected_shares(task, inputs)
        shares = fixed if list(fixed) != list(task.posted_shares or []) else None
    return ChallengeEvidence(
        task_id=task.task_id,
        round=round_,
        evidence_cid=final.evidence_cid,
        posted_root=hex32(final.rewards_root),
        corrected_root=root,
        corrected_leaves=tuple(leaves),
        corrected_shares=shares,
        failures=tuple(FailedCheck(c.name, c.detail) for c in audit.checks if not c.ok),
    )


__all__ = ["challenge_of", "corrected_contributions", "corrected_shares"]
