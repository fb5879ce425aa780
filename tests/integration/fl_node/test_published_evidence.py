"""Every evidence file a task publishes follows the JSON Schema and round-trips through the record.

The tasks cover both strategies and both contribution methods, batched and direct commitments,
with an accepted, a rejected (altered after the reveal) and a missing update, so each kind of
verdict and of commitment is written at least once.
"""

from __future__ import annotations

import json

import jsonschema
import pytest

from fl_node.audit import audit_task
from fl_node.coordinator import Phase
from fl_node.evidence import SCHEMA_PATH, RoundEvidence
from storage import canonical_json
from tests.integration.fl_node.flow import start

pytestmark = pytest.mark.slow


def run_task(tmp_path, strategy: str, contribution: str, batched: bool):
    flow = start(
        tmp_path,
        rounds=2,
        batched=batched,
        spec_changes={"strategy": strategy, "contribution": contribution},
    )

    def between(round_: int, phase: Phase) -> None:
        for node in flow.nodes[:3] if round_ == 1 else flow.nodes:  # the last misses round 1
            node.step(flow.task_id)
        if (round_, phase) == (1, Phase.REVEAL):  # and the second one's bytes are altered
            path = flow.world.store.path_of(flow.nodes[1].history[-1].cid)
            path.write_bytes(path.read_bytes()[:-4] + b"\xff\xff\xff\xff")

    reports = flow.coordinator.run(between=between, settle=False)
    return flow, reports


@pytest.mark.parametrize(
    ("strategy", "contribution", "batched"),
    [("fedavg", "leave-one-out", True), ("fedsgd", "shapley-exact", False)],
)
def test_published_evidence_follows_the_schema_and_round_trips(
    tmp_path, strategy, contribution, batched
):
    flow, reports = run_task(tmp_path, strategy, contribution, batched)
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA_PATH.read_text("utf-8")))
    reasons, sources = set(), set()
    for report in reports:
        raw = flow.world.store.get(report.evidence_cid)
        doc = json.loads(raw)
        assert list(validator.iter_errors(doc)) == [], report.round
        evidence = RoundEvidence.from_dict(doc)
        assert canonical_json(evidence.to_dict()) == raw
        assert evidence.updates == tuple(report.verdicts)
        assert evidence.commitments.entries == report.commitments
        assert evidence.aggregation.strategy == strategy
        reasons |= {v.reason for v in evidence.updates}
        sources |= {c.source for c in evidence.commitments.entries}
    assert reasons == {None, "hash_mismatch", "not_submitted"}
    assert sources == {"batch" if batched else "direct"}
    assert reports[0].shares is None and sum(reports[1].shares.bps) == 10_000
    report = audit_task(flow.ft, flow.world.store, flow.task_id, mailbox=flow.world.mailbox)
    assert report.ok, report.failures
