"""The audit's checks: each looks at one round's inputs and says (ok, detail)."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from chain.commitments import recover_commitment_signer
from chain.errors import ChainError
from fl_node.audit._defence import check_defence
from fl_node.audit._records import RoundInputs, TaskRecord
from fl_node.audit._scores import estimator_problems, recompute_scores
from fl_node.commitments import hex32, screen_envelopes
from fl_node.evidence import BatchRef, ContributionRecord, ModelRef
from fl_node.models import trainable_state
from fl_node.payout import (
    RoundTerms,
    contribution_seed,
    reward_split,
    round_improvement,
    round_rewards,
)
from fl_node.strategies import ClientUpdate, ServerState
from fl_node.validation import flagged_in
from kernel.errors import InvalidInputError
from storage import content_hash

AGGREGATION_TOLERANCE = 1e-6
"""Largest difference allowed between a recomputed and a published parameter."""


def _contribution_consistent(record: ContributionRecord, n: int, scores: list[float]) -> bool:
    """Whether rerunning the record's estimator on its utilities gives ``scores``."""
    expected = recompute_scores(record, n)
    if expected is None or len(expected) != len(scores):
        return False
    return all(
        math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
        for a, b in zip(expected, scores, strict=True)
    )


def _privacy_as_spent(r: RoundInputs) -> bool:
    """The evidence's privacy record is what the spec's accountant gives for the rounds done.

    A task without DP records none; one with DP records exactly the spec's mechanism (mode,
    noise, clip, rate, steps, accountant, delta) and its epsilon after this round.
    """
    spent = r.task.spec.privacy_spent(int(r.final.round))
    got = r.evidence.privacy
    if spent is None or got is None:
        return spent is None and got is None
    mechanism = (spent.mode, spent.delta, spent.noise_multiplier, spent.clip_norm)
    counted = (spent.sample_rate, spent.steps, spent.accountant)
    return (
        (got.mode, got.delta, got.noise_multiplier, got.clip_norm) == mechanism
        and (got.sample_rate, got.steps, got.accountant) == counted
        and math.isclose(got.epsilon, spent.epsilon, rel_tol=1e-9)
    )


def check_evidence(r: RoundInputs) -> tuple[bool, str]:
    """The evidence agrees with the chain and the spec.

    It describes this task, round, models and participants as finalised on-chain, and the
    privacy spent as the spec's accountant counts it.
    """
    ev, final = r.evidence, r.final
    expected = {
        "task_id": ev.task_id == r.task.task_id,
        "round": ev.round == final.round,
        "base_model": ev.base_model
        == ModelRef(cid=r.opening.model_cid, hash=hex32(r.opening.model_hash)),
        "new_model": ev.new_model == ModelRef(cid=final.model_cid, hash=hex32(final.model_hash)),
        "participants": list(ev.participants) == r.task.participants,
        "updates": [v.participant for v in ev.updates] == r.task.participants,
        "accepted": sum(v.accepted for v in ev.updates) == final.accepted,
        "flagged": [f.lower() for f in ev.flagged] == [f.lower() for f in final.flagged],
        "privacy": _privacy_as_spent(r),
    }
    wrong = [name for name, ok in expected.items() if not ok]
    detail = f"evidence {final.evidence_cid}"
    return not wrong, detail + (f": {', '.join(wrong)} differ from the chain" if wrong else "")


def _batch_problems(r: RoundInputs) -> list[str]:
    """What is wrong with the round's batch: its document, signatures, members, its record."""
    problems = [r.batch_problem] if r.batch_problem else []
    event = r.task.batches.get(int(r.final.round))
    members = {p.lower() for p in r.task.participants}
    if r.batch is not None:
        for signed in r.batch.batch.commitments:
            try:
                signer = recover_commitment_signer(r.task.domain, signed)
            except (ChainError, InvalidInputError, ValueError):
                signer = None
            if signer is None or signer.lower() != signed.participant.lower():
                problems.append(f"the leaf of {signed.participant} is not signed by it")
            if signed.participant.lower() not in members:
                problems.append(f"the leaf of {signed.participant} is not a participant's")
    expected = None
    if event is not None:
        expected = BatchRef(root=hex32(event.root), cid=event.batch_cid, count=int(event.count))
    if r.evidence.commitments.batch != expected:
        problems.append("the evidence names another batch than the chain")
    return problems


def _left_out(r: RoundInputs) -> list[str]:
    """Genuine signed commitments the mailbox received in time that the batch left out."""
    mailbox, round_ = r.task.mailbox, int(r.final.round)
    if mailbox is None:
        return []
    event = r.task.batches.get(round_)
    if event is not None:
        posted_at = r.task.block_time(event.meta.block)
    else:
        posted_at = int(r.opening.commit_deadline)
    envelopes = [e for e in mailbox.collect(r.task.task_id, round_) if e.received_at < posted_at]
    screened = screen_envelopes(
        envelopes, r.task.domain, r.task.task_id, round_, r.task.participants
    )
    anchored = set()
    if r.batch is not None:
        anchored = {c.participant.lower() for c in r.batch.batch.commitments}
    return [
        f"the signed commitment of {e.signed.participant} was left out of the batch"
        for e in screened.kept
        if e.signed.participant.lower() not in anchored
    ]


def check_commitments(r: RoundInputs) -> tuple[bool, str]:
    """The batch is what the chain anchors, every leaf signed by its participant, none left out.

    The evidence's commitments are the batch's leaves superseded by the direct commitments.
    """
    problems = _batch_problems(r) + _left_out(r)
    if r.evidence.commitments.entries != r.commitments:
        problems.append("the evidence's commitments differ from the chain's and the batch's")
    detail = "; ".join(problems) or f"{len(r.commitments)} commitments verified"
    return not problems, detail


def check_updates(r: RoundInputs) -> tuple[bool, str]:
    """Every verdict is the one the coordinator's own checks give on the revealed bytes."""
    problems: list[str] = []
    for published, (recomputed, _) in zip(r.evidence.updates, r.replayed, strict=False):
        same = (published.accepted, published.reason) == (recomputed.accepted, recomputed.reason)
        ids = (published.cid, published.update_hash, published.samples)
        if not same:
            problems.append(
                f"{published.participant}: published {published.reason or 'accepted'}, "
                f"recomputed {recomputed.reason or 'accepted'}"
            )
        elif ids != (recomputed.cid, recomputed.update_hash, recomputed.samples):
            problems.append(f"{published.participant}: the verdict names another commitment")
    if len(r.evidence.updates) != len(r.replayed):
        problems.append("the evidence lists a different number of verdicts")
    accepted = sum(v.accepted for v, _ in r.replayed)
    return not problems, "; ".join(problems) or f"{accepted} accepted updates verified"


def accepted_updates(r: RoundInputs) -> list[ClientUpdate]:
    """The replayed updates of the participants the evidence accepts (those that replay).

    In a secagg task: each replayed completed group's mean update, in group order (the
    coalitions and the aggregate are over groups).
    """
    if r.secagg is not None:
        return list(r.secagg.updates)
    return [
        update
        for published, (_, update) in zip(r.evidence.updates, r.replayed, strict=False)
        if published.accepted and update is not None
    ]


def _aggregate(r: RoundInputs, state: ServerState) -> tuple[dict[str, torch.Tensor], ServerState]:
    """The round's aggregate as recomputed: through the task's defence when it has one."""
    if r.defended is not None:
        return r.defended.aggregate(r.task.strategy, r.params, state)
    result = r.task.strategy.aggregate_with_state(r.params, accepted_updates(r), state)
    return result.params, result.state


def check_aggregation(r: RoundInputs) -> tuple[bool, str]:
    """Re-running the strategy on the accepted updates gives the published model.

    A stateful strategy (FedOpt) starts from the server state the evidence names, read from the
    store and checked against its hash, and must end at the state the evidence names after.
    """
    state = r.state_before
    if state is None:
        return False, r.state_problem
    if r.task.spec.defence and r.defended is None:
        return False, r.defence_problem or "the defence could not be rerun"
    expected, after = _aggregate(r, state)
    actual = trainable_state(r.new.module)
    diff = max((float((expected[k] - actual[k]).abs().max()) for k in expected), default=0.0)
    buffers_same = all(
        torch.equal(a, b)
        for a, b in zip(r.base.module.buffers(), r.new.module.buffers(), strict=True)
    )
    record = r.evidence.aggregation.state
    state_same = record is None or hex32(content_hash(after.to_bytes())) == record.after.hash
    detail = f"max |recomputed - published| = {diff:.2e}"
    if not state_same:
        detail += "; the recomputed server state differs from the published one"
    return diff <= AGGREGATION_TOLERANCE and buffers_same and state_same, detail


def check_contribution(r: RoundInputs) -> tuple[bool, str]:
    """The recorded scores follow from the recorded utilities by the method the spec names."""
    contribution = r.evidence.contribution
    scores = list(contribution.scores)
    accepted_idx = [i for i, v in enumerate(r.evidence.updates) if v.accepted]
    problems = estimator_problems(contribution, r.task.spec)
    seed = contribution_seed(r.evidence.base_model.hash, int(r.final.round))
    if contribution.seed != seed:
        problems.append(f"seed {contribution.seed} is not keccak(base model, round)'s {seed}")
    if len(scores) != len(r.task.participants):
        problems.append(f"{len(scores)} scores for {len(r.task.participants)} participants")
    elif any(s != 0.0 for i, s in enumerate(scores) if i not in accepted_idx):
        problems.append("a rejected update scores")
    elif not _contribution_consistent(
        contribution, len(accepted_idx), [scores[i] for i in accepted_idx]
    ):
        problems.append("the scores do not follow from the published utilities")
    return not problems, "; ".join([contribution.method, *problems])


def round_cap(task: TaskRecord, round_: int, block: int) -> int:
    """The round's cap when it was finalised, recomputed from the task's events.

    ``(pool + slashed into the pool before + 0 - budgets of the earlier rounds)`` over the rounds
    left. (An upheld dispute with a zero root also returns a round's unclaimed budget to the pool;
    the events do not say how much was unclaimed then, so such tasks are not recomputed exactly.)

    Parameters
    ----------
    task : TaskRecord
        The task.
    round_ : int
        The round.
    block : int
        The block it was finalised in.
    """
    slashed = sum(int(s.amount) for s in task.slashes if s.meta.block < block)
    spent = sum(int(f.budget) for r, f in task.finals.items() if r < round_)
    unallocated = int(task.info.pool) + slashed - spent
    return unallocated // (int(task.info.total_rounds) - round_ + 1)


def check_rewards(r: RoundInputs) -> tuple[bool, str]:
    """Policy, improvement, cap, budget, scores, amounts, leaves and root follow and match.

    The policy is the spec's (not what the evidence says), the cap the chain's, and the
    improvement ``v(all accepted) - v(none)`` of the published utilities (which the contribution
    check ties to the scores and, with the validation set, to the models).
    """
    ev, final, round_ = r.evidence, r.final, int(r.final.round)
    accepted = [v.accepted for v in ev.updates]
    terms = RoundTerms(
        policy=r.task.spec.rewards,
        cap=round_cap(r.task, round_, final.meta.block),
        quorum=int(r.task.info.quorum),
        pool=int(r.task.info.pool),
        rounds=int(r.task.info.total_rounds),
    )
    improvement = round_improvement(ev.contribution.utilities, _coalition_size(r, accepted))
    allocation = round_rewards(terms, ev.contribution.scores, accepted, improvement)
    expected = reward_split(
        r.task.task_id, round_, r.task.participants, terms, allocation, improvement
    )
    problems = {
        "policy": ev.rewards.policy == expected.policy,
        "improvement": _same_number(ev.rewards.improvement, expected.improvement),
        "cap": ev.rewards.cap == terms.cap,
        "budget": ev.rewards.budget == expected.budget == int(final.budget) <= terms.cap,
        "scores": ev.rewards.scores == expected.scores,
        "amounts": ev.rewards.amounts == expected.amounts,
        "leaves": ev.rewards.leaves == expected.leaves,
        "root": ev.rewards.root == expected.root == hex32(final.rewards_root),
        "flagged": tuple(ev.flagged) == flagged_in(list(ev.updates)),
    }
    wrong = [name for name, ok in problems.items() if not ok]
    detail = f"cap {terms.cap}, budget {int(final.budget)}, improvement {improvement:.6g}"
    return not wrong, detail + (f": {', '.join(wrong)} do not follow" if wrong else "")


def _coalition_size(r: RoundInputs, accepted: list[bool]) -> int:
    """How many updates the full coalition holds: accepted ones, or a secagg round's groups."""
    return len(r.secagg.updates) if r.secagg is not None else sum(accepted)


def _same_number(recorded: float | None, expected: float | None) -> bool:
    """Both absent, or the same float bit for bit."""
    return (
        recorded == expected
        if recorded is None or expected is None
        else (recorded.hex() == float(expected).hex())
    )


RoundCheck = Callable[[RoundInputs], tuple[bool, str]]

ROUND_CHECKS: tuple[tuple[str, RoundCheck], ...] = (
    ("evidence", check_evidence),
    ("commitments", check_commitments),
    ("updates", check_updates),
    ("defence", check_defence),
    ("aggregation", check_aggregation),
    ("contribution", check_contribution),
    ("rewards", check_rewards),
)
"""The checks run on every round whose models and evidence could be read, in order."""


__all__ = [
    "AGGREGATION_TOLERANCE",
    "ROUND_CHECKS",
    "RoundCheck",
    "accepted_updates",
    "round_cap",
]
