"""Auditing a finished (or running) task from nothing but the chain and the content store.

Anyone holding the deployment address and read access to the store can recompute what happened,
round by round, and check it against what the chain recorded:

- ``model_continuity``: each round starts from the previous round's final model (round 1 from the
  spec's deterministic initial model), and every model's bytes match their on-chain hash;
- ``evidence``: the round's evidence file is intact and describes this task, round and base model;
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
from dataclasses import dataclass, field
from typing import Any

import torch

from chain import FedTaskClient, UpdateAnchor
from fl_node.errors import FlError, UpdateRejectedError
from fl_node.models import build_model, trainable_state
from fl_node.participant import fetch_verified
from fl_node.serialization import decode_model, decode_update, encode_model
from fl_node.strategies import ClientUpdate
from fl_node.task import TaskSpec
from incentives import scores_to_fixed, split_proportional
from incentives.contribution import coalition_key
from storage import ContentStore, content_hash, validate_cid

log = logging.getLogger(__name__)

AGGREGATION_TOLERANCE = 1e-6


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
    method: str, n: int, utilities: dict[str, float], scores: list[float]
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
            from incentives import ExactShapley

            expected = ExactShapley().estimate(n, lambda c: utilities[coalition_key(c)]).scores
        else:
            return False
    except KeyError:
        return False
    return all(
        math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
        for a, b in zip(expected, scores, strict=True)
    )


def audit_task(fed_task: FedTaskClient, store: ContentStore, task_id: int) -> AuditReport:
    """Audit every finalised round of ``task_id``.

    Raises
    ------
    FlError
        When the task's spec itself cannot be read and verified (nothing else can be checked).
    """
    info = fed_task.task(task_id)
    spec = TaskSpec.from_bytes(fetch_verified(store, info.spec_cid, info.spec_hash, "task spec"))
    strategy = spec.make_strategy()
    openings = {o.round: o for o in fed_task.round_openings(task_id)}
    finals = fed_task.finalized_rounds(task_id)
    rewards = fed_task.rewards(task_id)
    all_anchors: dict[int, dict[str, UpdateAnchor]] = {}
    for anchored in fed_task.update_anchors(task_id):  # one event scan for every round
        all_anchors.setdefault(int(anchored.round), {})[anchored.participant] = anchored
    participants = fed_task.participants(task_id)
    initial = encode_model(build_model(spec.model), spec.model, round=0, task_id=task_id)
    previous_hash = content_hash(initial)
    report = AuditReport(task_id=task_id, rounds=[])
    for final in finals:
        audit = RoundAudit(final.round)
        report.rounds.append(audit)
        opening = openings.get(final.round)
        if opening is None:
            audit.add("model_continuity", False, "no RoundOpened event")
            continue
        audit.add(
            "model_continuity",
            opening.model_hash == previous_hash,
            "starts from the previous round's model"
            if opening.model_hash == previous_hash
            else "the opened model is not the previous round's output",
        )
        previous_hash = final.model_hash
        try:
            base = decode_model(
                fetch_verified(store, opening.model_cid, opening.model_hash, "model")
            )
            new = decode_model(fetch_verified(store, final.model_cid, final.model_hash, "model"))
            evidence = store.get_json(final.evidence_cid)
        except (FlError, ValueError, LookupError) as exc:
            audit.add("evidence", False, f"cannot read the round's models or evidence: {exc}")
            continue
        audit.add(
            "evidence",
            evidence.get("task_id") == task_id
            and evidence.get("round") == final.round
            and evidence.get("base_model", {}).get("hash") == "0x" + opening.model_hash.hex()
            and evidence.get("new_model", {}).get("cid") == final.model_cid
            and evidence.get("participants") == list(participants),
            f"evidence {final.evidence_cid}",
        )
        anchors = all_anchors.get(int(final.round), {})
        params = trainable_state(base.module)
        shapes = {k: tuple(v.shape) for k, v in params.items()}
        accepted: list[ClientUpdate] = []
        problems: list[str] = []
        verdicts = evidence.get("updates", [])
        for participant, verdict in zip(participants, verdicts, strict=False):
            anchor = anchors.get(participant)
            if verdict.get("participant") != participant:
                problems.append(f"verdict order differs at {participant}")
                continue
            if anchor is None:
                if verdict.get("accepted") or verdict.get("reason") != "not_submitted":
                    problems.append(f"{participant}: no anchor but verdict {verdict.get('reason')}")
                continue
            if (
                verdict.get("cid") != anchor.cid
                or verdict.get("update_hash") != "0x" + anchor.update_hash.hex()
            ):
                problems.append(f"{participant}: evidence names another CID or hash than the chain")
                continue
            try:
                data = store.get(validate_cid(anchor.cid), verify=False)
                matches = content_hash(data) == anchor.update_hash
                delta = decode_update(data, shapes)[0] if matches else None
            except (LookupError, ValueError, UpdateRejectedError):
                matches, delta = False, None
            if verdict.get("accepted"):
                if delta is None:
                    problems.append(f"{participant}: accepted update does not verify")
                else:
                    accepted.append(ClientUpdate(delta=delta, samples=anchor.samples))
            elif (
                verdict.get("reason") in ("hash_mismatch", "missing", "malformed", "cid_mismatch")
                and delta is not None
            ):
                problems.append(f"{participant}: rejected as {verdict.get('reason')} but verifies")
        if len(verdicts) != len(participants):
            problems.append("evidence lists a different number of participants")
        audit.add(
            "updates",
            not problems,
            "; ".join(problems) or f"{len(accepted)} accepted updates verified",
        )

        expected = strategy.aggregate(params, accepted)
        actual = trainable_state(new.module)
        diff = (
            max(float((expected[k] - actual[k]).abs().max()) for k in expected) if expected else 0.0
        )
        buffers_same = all(
            torch.equal(a, b)
            for a, b in zip(base.module.buffers(), new.module.buffers(), strict=True)
        )
        audit.add(
            "aggregation",
            diff <= AGGREGATION_TOLERANCE and buffers_same,
            f"max |recomputed - published| = {diff:.2e}",
        )

        contribution = evidence.get("contribution", {})
        contributions = [float(c) for c in contribution.get("scores", [])]
        accepted_idx = [i for i, v in enumerate(verdicts) if v.get("accepted")]
        audit.add(
            "contribution",
            len(contributions) == len(participants)
            and _contribution_consistent(
                str(contribution.get("method")),
                len(accepted_idx),
                {str(k): float(v) for k, v in contribution.get("utilities", {}).items()},
                [contributions[i] for i in accepted_idx],
            ),
            str(contribution.get("method")),
        )
        onchain = [r for r in rewards if r.round == final.round]
        eligible = [bool(v.get("accepted")) for v in verdicts]
        want_scores = [
            s if ok else 0 for s, ok in zip(scores_to_fixed(contributions), eligible, strict=False)
        ]
        got_scores = [r.score for r in onchain]
        split = split_proportional(final.budget, got_scores)
        audit.add(
            "rewards",
            got_scores == want_scores
            and [r.amount for r in onchain] == split
            and final.paid == sum(split)
            and [r.participant for r in onchain] == list(participants),
            f"budget {final.budget}, paid {final.paid}",
        )
    if report.rounds and not report.ok:
        log.warning("audit_task: task %s has %d failed checks", task_id, len(report.failures))
    return report
