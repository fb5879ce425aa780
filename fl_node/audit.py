"""Auditing a finished (or running) task from nothing but the chain and the content store.

Anyone holding the deployment address and read access to the store can recompute what happened,
round by round, and check it against what the chain recorded:

- ``model_continuity``: each round starts from the previous round's final model (round 1 from the
  spec's deterministic initial model), and every model's bytes match their on-chain hash;
- ``evidence``: the round's evidence file is intact, follows the round-evidence schema
  (:mod:`fl_node.evidence`; a file that does not is a failed check naming the field) and
  describes this task, round, participants, base model and new model;
- ``updates``: every update the evidence accepts is anchored on-chain with the same CID and hash
  and its bytes match; every rejection is reproducible (the bytes really do not match, are
  missing, or are malformed);
- ``aggregation``: re-running the task's strategy on the accepted updates reproduces the new model;
- ``contribution``: the recorded scores follow from the recorded utilities (leave-one-out or exact
  Shapley arithmetic);
- ``rewards``: on-chain scores are the fixed-point contributions with rejected updates zeroed, and
  on-chain amounts are the exact split of the on-chain budget.

The coordinator's validation data stays private, so utilities are checked for consistency, not
re-measured.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from chain import FedTaskClient, RewardRecord, RoundOpening, RoundRecord, UpdateAnchor
from fl_node.errors import EvidenceError, FlError, UpdateRejectedError
from fl_node.evidence import EVIDENCE_VERSION, NOT_SUBMITTED, ModelRef, RoundEvidence
from fl_node.models import build_model, trainable_state
from fl_node.participant import fetch_verified
from fl_node.serialization import LoadedModel, decode_model, decode_update, encode_model
from fl_node.strategies import ClientUpdate, Strategy
from fl_node.task import TaskSpec
from incentives import ExactShapley, scores_to_fixed, split_proportional
from incentives.contribution import coalition_key
from kernel.types import Address
from storage import ContentStore, content_hash, validate_cid

log = logging.getLogger(__name__)

AGGREGATION_TOLERANCE = 1e-6
"""Largest difference allowed between a recomputed and a published parameter."""

_REPRODUCIBLE_REJECTIONS = ("hash_mismatch", "missing", "malformed", "cid_mismatch")
"""Rejections the audit can reproduce from the bytes alone (the update must not verify)."""


@dataclass(frozen=True)
class Check:
    """One audited property of one round."""

    name: str
    ok: bool
    detail: str = ""


@dataclass
class RoundAudit:
    """Every check of one round."""

    round: int
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every check passed."""
        return all(c.ok for c in self.checks)

    def add(self, name: str, ok: bool, detail: str = "") -> None:
        """Record a check."""
        self.checks.append(Check(name, bool(ok), detail))


@dataclass
class AuditReport:
    """The audit of a task."""

    task_id: int
    rounds: list[RoundAudit]

    @property
    def ok(self) -> bool:
        """Whether every round passed."""
        return all(r.ok for r in self.rounds)

    @property
    def failures(self) -> list[tuple[int, Check]]:
        """(round, check) of every failed check."""
        return [(r.round, c) for r in self.rounds for c in r.checks if not c.ok]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "task_id": self.task_id,
            "ok": self.ok,
            "rounds": [
                {"round": r.round, "ok": r.ok, "checks": [c.__dict__ for c in r.checks]}
                for r in self.rounds
            ],
        }


def _contribution_consistent(
    method: str, n: int, utilities: Mapping[str, float], scores: list[float]
) -> bool:
    if n == 0:
        return not scores
    full = frozenset(range(n))
    expected: list[float]
    try:
        if method == "leave-one-out":
            expected = [
                utilities[coalition_key(full)] - utilities[coalition_key(full - {i})]
                for i in range(n)
            ]
        elif method == "shapley-exact":
            expected = ExactShapley().estimate(n, lambda c: utilities[coalition_key(c)]).scores
        else:
            return False
    except KeyError:
        return False
    return all(
        math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
        for a, b in zip(expected, scores, strict=True)
    )


# ---- what the audit reads: the task once, then each round ---------------------------------------
@dataclass(frozen=True)
class _TaskRecord:
    """What the chain and the store say about the task as a whole, read once."""

    task_id: int
    strategy: Strategy
    initial_hash: bytes
    participants: list[Address]
    openings: dict[int, RoundOpening]
    anchors: dict[int, dict[Address, UpdateAnchor]]
    rewards: list[RewardRecord]


@dataclass(frozen=True)
class _RoundInputs:
    """One finalised round's models, evidence and replayed updates: what the checks look at."""

    task: _TaskRecord
    final: RoundRecord
    opening: RoundOpening
    base: LoadedModel
    new: LoadedModel
    evidence: RoundEvidence
    params: dict[str, torch.Tensor]
    accepted: list[ClientUpdate]
    update_problems: list[str]


def _read_task(fed_task: FedTaskClient, store: ContentStore, task_id: int) -> _TaskRecord:
    """The task's spec and every event the rounds are checked against (one scan each)."""
    info = fed_task.task(task_id)
    spec = TaskSpec.from_bytes(fetch_verified(store, info.spec_cid, info.spec_hash, "task spec"))
    anchors: dict[int, dict[Address, UpdateAnchor]] = {}
    for anchored in fed_task.update_anchors(task_id):  # one event scan for every round
        anchors.setdefault(int(anchored.round), {})[anchored.participant] = anchored
    initial = encode_model(build_model(spec.model), spec.model, round=0, task_id=task_id)
    return _TaskRecord(
        task_id=task_id,
        strategy=spec.make_strategy(),
        initial_hash=content_hash(initial),
        participants=list(fed_task.participants(task_id)),
        openings={int(o.round): o for o in fed_task.round_openings(task_id)},
        anchors=anchors,
        rewards=fed_task.rewards(task_id),
    )


def _read_round(
    task: _TaskRecord, store: ContentStore, final: RoundRecord, opening: RoundOpening
) -> _RoundInputs:
    """Fetch and verify the round's models, parse its evidence, replay its updates.

    Raises
    ------
    EvidenceError
        When the evidence does not follow the schema.
    FlError, ValueError or LookupError
        When a model or the evidence cannot be fetched or verified.
    """
    base = decode_model(fetch_verified(store, opening.model_cid, opening.model_hash, "model"))
    new = decode_model(fetch_verified(store, final.model_cid, final.model_hash, "model"))
    evidence = RoundEvidence.from_dict(store.get_json(final.evidence_cid))
    params = trainable_state(base.module)
    shapes = {k: tuple(v.shape) for k, v in params.items()}
    anchors = task.anchors.get(int(final.round), {})
    accepted, problems = _replay_updates(store, task.participants, evidence, anchors, shapes)
    return _RoundInputs(task, final, opening, base, new, evidence, params, accepted, problems)


def _replay_update(
    store: ContentStore, anchor: UpdateAnchor, shapes: Mapping[str, tuple[int, ...]]
) -> dict[str, torch.Tensor] | None:
    """The anchored update's deltas, or ``None`` when its bytes do not verify or parse."""
    try:
        data = store.get(validate_cid(anchor.cid), verify=False)
        if content_hash(data) != anchor.update_hash:
            return None
        return decode_update(data, shapes)[0]
    except (LookupError, ValueError, UpdateRejectedError):
        return None


def _replay_updates(
    store: ContentStore,
    participants: list[Address],
    evidence: RoundEvidence,
    anchors: Mapping[Address, UpdateAnchor],
    shapes: Mapping[str, tuple[int, ...]],
) -> tuple[list[ClientUpdate], list[str]]:
    """The updates the evidence accepts, re-verified, and every verdict that does not hold."""
    accepted: list[ClientUpdate] = []
    problems: list[str] = []
    for participant, verdict in zip(participants, evidence.updates, strict=False):
        anchor = anchors.get(participant)
        if verdict.participant != participant:
            problems.append(f"verdict order differs at {participant}")
        elif anchor is None:
            if verdict.accepted or verdict.reason != NOT_SUBMITTED:
                problems.append(f"{participant}: no anchor but verdict {verdict.reason}")
        elif verdict.cid != anchor.cid or verdict.update_hash != "0x" + anchor.update_hash.hex():
            problems.append(f"{participant}: evidence names another CID or hash than the chain")
        else:
            delta = _replay_update(store, anchor, shapes)
            if verdict.accepted and delta is None:
                problems.append(f"{participant}: accepted update does not verify")
            elif verdict.accepted and delta is not None:
                accepted.append(ClientUpdate(delta=delta, samples=anchor.samples))
            elif verdict.reason in _REPRODUCIBLE_REJECTIONS and delta is not None:
                problems.append(f"{participant}: rejected as {verdict.reason} but verifies")
    if len(evidence.updates) != len(participants):
        problems.append("evidence lists a different number of participants")
    return accepted, problems


# ---- the checks: each looks at one round's inputs and says (ok, detail) -----------------------
def _check_evidence(r: _RoundInputs) -> tuple[bool, str]:
    """The evidence describes this task, round, base model, new model and participants."""
    ev = r.evidence
    expected = {
        "task_id": ev.task_id == r.task.task_id,
        "round": ev.round == r.final.round,
        "base_model": ev.base_model
        == ModelRef(cid=r.opening.model_cid, hash="0x" + r.opening.model_hash.hex()),
        "new_model": ev.new_model
        == ModelRef(cid=r.final.model_cid, hash="0x" + r.final.model_hash.hex()),
        "participants": list(ev.participants) == r.task.participants,
    }
    wrong = [name for name, ok in expected.items() if not ok]
    detail = f"evidence {r.final.evidence_cid}"
    return not wrong, detail + (f": {', '.join(wrong)} differ from the chain" if wrong else "")


def _check_updates(r: _RoundInputs) -> tuple[bool, str]:
    """Every verdict holds against the chain's anchors and the stored bytes."""
    detail = "; ".join(r.update_problems) or f"{len(r.accepted)} accepted updates verified"
    return not r.update_problems, detail


def _check_aggregation(r: _RoundInputs) -> tuple[bool, str]:
    """Re-running the strategy on the accepted updates gives the published model."""
    expected = r.task.strategy.aggregate(r.params, r.accepted)
    actual = trainable_state(r.new.module)
    diff = max((float((expected[k] - actual[k]).abs().max()) for k in expected), default=0.0)
    buffers_same = all(
        torch.equal(a, b)
        for a, b in zip(r.base.module.buffers(), r.new.module.buffers(), strict=True)
    )
    return (
        diff <= AGGREGATION_TOLERANCE and buffers_same,
        f"max |recomputed - published| = {diff:.2e}",
    )


def _check_contribution(r: _RoundInputs) -> tuple[bool, str]:
    """The recorded scores follow from the recorded utilities by the recorded method."""
    contribution = r.evidence.contribution
    scores = list(contribution.scores)
    accepted_idx = [i for i, v in enumerate(r.evidence.updates) if v.accepted]
    ok = len(scores) == len(r.task.participants) and _contribution_consistent(
        contribution.method,
        len(accepted_idx),
        contribution.utilities,
        [scores[i] for i in accepted_idx],
    )
    return ok, contribution.method


def _check_rewards(r: _RoundInputs) -> tuple[bool, str]:
    """On-chain scores and amounts follow from the evidence's contributions.

    Scores are the fixed-point contributions with rejected updates zeroed; amounts are the exact
    split of the on-chain budget.
    """
    onchain = [x for x in r.task.rewards if x.round == r.final.round]
    eligible = [v.accepted for v in r.evidence.updates]
    fixed = scores_to_fixed(r.evidence.contribution.scores)
    want_scores = [s if ok else 0 for s, ok in zip(fixed, eligible, strict=False)]
    got_scores = [x.score for x in onchain]
    split = split_proportional(r.final.budget, got_scores)
    ok = (
        got_scores == want_scores
        and [x.amount for x in onchain] == split
        and r.final.paid == sum(split)
        and [x.participant for x in onchain] == r.task.participants
    )
    return ok, f"budget {r.final.budget}, paid {r.final.paid}"


RoundCheck = Callable[[_RoundInputs], tuple[bool, str]]

ROUND_CHECKS: tuple[tuple[str, RoundCheck], ...] = (
    ("evidence", _check_evidence),
    ("updates", _check_updates),
    ("aggregation", _check_aggregation),
    ("contribution", _check_contribution),
    ("rewards", _check_rewards),
)
"""The checks run on every round whose models and evidence could be read, in order."""


# ---- the audit ---------------------------------------------------------------------------------
def _audit_round(
    task: _TaskRecord, store: ContentStore, final: RoundRecord, previous_hash: bytes
) -> RoundAudit:
    """Every check of one finalised round (fewer when its inputs cannot be read)."""
    audit = RoundAudit(final.round)
    opening = task.openings.get(int(final.round))
    if opening is None:
        audit.add("model_continuity", False, "no RoundOpened event")
        return audit
    continuous = opening.model_hash == previous_hash
    audit.add(
        "model_continuity",
        continuous,
        "starts from the previous round's model"
        if continuous
        else "the opened model is not the previous round's output",
    )
    try:
        inputs = _read_round(task, store, final, opening)
    except EvidenceError as exc:
        detail = f"evidence {final.evidence_cid} breaks schema v{EVIDENCE_VERSION}: {exc}"
        audit.add("evidence", False, detail)
        return audit
    except (FlError, ValueError, LookupError) as exc:
        audit.add("evidence", False, f"cannot read the round's models or evidence: {exc}")
        return audit
    for name, check in ROUND_CHECKS:
        try:
            ok, detail = check(inputs)
        except (LookupError, ValueError, RuntimeError) as exc:  # inputs the check cannot use
            ok, detail = False, f"cannot be recomputed: {type(exc).__name__}: {exc}"
        audit.add(name, ok, detail)
    return audit


def audit_task(fed_task: FedTaskClient, store: ContentStore, task_id: int) -> AuditReport:
    """Audit every finalised round of ``task_id``.

    Parameters
    ----------
    fed_task : FedTaskClient
        The FedTask contract (read only).
    store : ContentStore
        Where the task's models, updates and evidence live.
    task_id : int
        The task.

    Raises
    ------
    FlError
        When the task's spec itself cannot be read and verified (nothing else can be checked).
    """
    task = _read_task(fed_task, store, task_id)
    report = AuditReport(task_id=task_id, rounds=[])
    previous_hash = task.initial_hash
    for final in fed_task.finalized_rounds(task_id):
        report.rounds.append(_audit_round(task, store, final, previous_hash))
        previous_hash = final.model_hash
    if report.rounds and not report.ok:
        log.warning("audit_task: task %s has %d failed checks", task_id, len(report.failures))
    return report
