"""The audit's replay of a round's robust aggregation rule (the task's ``defence``).

The rule runs again, with :func:`fl_node.robustness.apply_defence`, on the updates the audit's
own checks and screening accepted, with the inputs the evidence publishes: FLTrust's root update
(fetched by its reference and checked against its hash; re-trained and compared when the auditor
holds the validation set) and the trusted vote's ballots (each counted only when its voter's
EIP-712 signature checks). The recomputed ``robust_outlier`` verdicts then go through the
``updates`` check like every other reason, and ``defence`` compares every decision.
"""

from __future__ import annotations

import math
from dataclasses import replace

import torch

from fl_node.audit._records import RoundInputs, TaskRecord
from fl_node.errors import FlError
from fl_node.evidence import DefenceRecord, RoundEvidence
from fl_node.participant import fetch_verified
from fl_node.robustness import (
    apply_defence,
    ballot_problem,
    counted_ballots,
    root_data,
    root_update,
)
from fl_node.serialization import decode_update
from fl_node.strategies import ClientUpdate
from fl_node.strategies.robust import Defence
from fl_node.strategies.robust import RoundInputs as RuleInputs
from fl_node.validation import shapes_of
from storage import ContentStore

DEFENCE_TOLERANCE = 1e-6
"""Largest difference allowed between a recomputed and a published weight or score (relative)."""


def _root(
    task: TaskRecord,
    store: ContentStore,
    record: DefenceRecord | None,
    params: dict[str, torch.Tensor],
    round_: int,
) -> tuple[dict[str, torch.Tensor] | None, str]:
    """FLTrust's published root update, verified; or why it cannot be used."""
    if record is None or record.root_update is None:
        return None, "the evidence names no root update"
    ref = record.root_update
    try:
        blob = fetch_verified(store, ref.cid, bytes.fromhex(ref.hash[2:]), "root update")
        delta, _ = decode_update(blob, shapes_of(params))
    except (FlError, ValueError, LookupError) as exc:
        return None, f"cannot read the root update: {exc}"
    if task.validation is None:
        return delta, ""
    spec = task.spec
    config = task.strategy.configure_train(spec.train)
    again = root_update(spec.model, params, root_data(task.validation), config, round_)
    diff = max(float((again[k] - delta[k]).abs().max()) for k in delta)
    if diff > DEFENCE_TOLERANCE:
        return delta, f"the root update differs from one trained on the root data ({diff:.2e})"
    return delta, ""


def _inputs(
    task: TaskRecord,
    store: ContentStore,
    defence: Defence,
    evidence: RoundEvidence,
    screened: list[tuple[int, ClientUpdate]],
    params: dict[str, torch.Tensor],
) -> tuple[RuleInputs, str]:
    """The rule's inputs as the evidence publishes them, and any problem found with them."""
    record = evidence.aggregation.defence
    round_ = evidence.round
    root, problem = None, ""
    if defence.uses_root:
        root, problem = _root(task, store, record, params, round_)
    ballots = record.ballots if record is not None else ()
    check = {b.voter.lower(): ballot_problem(task.domain, task.task_id, round_, b) for b in ballots}
    verdicts = evidence.updates
    voters = [task.participants[i] for i, _ in screened]
    hashes = [str(verdicts[i].update_hash) if i < len(verdicts) else "" for i, _ in screened]
    return RuleInputs(root, counted_ballots(ballots, voters, hashes, check)), problem


def with_defence(r: RoundInputs, store: ContentStore) -> RoundInputs:
    """``r`` with its verdicts after the task's defence, the defended round, and any problem.

    The rule runs on the updates the audit's own checks and screening accepted, with the root
    update and the ballots the evidence publishes; a task without a defence is returned as is.

    Parameters
    ----------
    r : RoundInputs
        The round as :func:`~fl_node.audit._records.read_round` read it.
    store : ContentStore
        Where the root update lives.
    """
    defence = r.task.spec.make_defence()
    if defence is None:
        return r
    screened = [(i, u) for i, (v, u) in enumerate(r.replayed) if v.accepted and u is not None]
    inputs, problem = _inputs(r.task, store, defence, r.evidence, screened, r.params)
    if defence.uses_root and inputs.root_delta is None:
        return replace(r, defence_problem=problem)
    record = r.evidence.aggregation.defence
    extras = (record.root_update, record.ballots) if record is not None else (None, ())
    verdicts = [v for v, _ in r.replayed]
    defended = apply_defence(defence, verdicts, screened, inputs, extras)
    replayed = [(v, u) for v, (_, u) in zip(defended.verdicts, r.replayed, strict=True)]
    return replace(r, replayed=replayed, defended=defended, defence_problem=problem)


def _same(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=DEFENCE_TOLERANCE, abs_tol=1e-12)


def check_defence(r: RoundInputs) -> tuple[bool, str]:
    """The published decisions are what the task's defence gives on the round's inputs."""
    spec, published = r.task.spec, r.evidence.aggregation.defence
    if not spec.defence:
        ok = published is None
        return ok, "no defence" if ok else "the evidence names a defence the spec does not"
    if published is None or r.defended is None:
        return False, r.defence_problem or "the evidence records no defence"
    expected = r.defended.record
    problems = [r.defence_problem] if r.defence_problem else []
    if (published.name, dict(published.params)) != (expected.name, dict(expected.params)):
        problems.append(f"the rule {published.name} {dict(published.params)} is not the spec's")
    if len(published.decisions) != len(expected.decisions):
        problems.append("the decisions cover other updates than the accepted ones")
    for got, want in zip(published.decisions, expected.decisions, strict=False):
        same = (got.participant.lower(), got.reason, got.flagged) == (
            want.participant.lower(),
            want.reason,
            want.flagged,
        )
        if not (same and _same(got.weight, want.weight) and _same(got.score, want.score)):
            problems.append(f"{got.participant}: published {got}, recomputed {want}")
    flagged = sum(d.flagged for d in expected.decisions)
    detail = "; ".join(problems) or f"{expected.name}: {flagged} flagged, decisions recomputed"
    return not problems, detail


__all__ = ["DEFENCE_TOLERANCE", "check_defence", "with_defence"]
