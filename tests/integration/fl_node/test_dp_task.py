"""A task with differential privacy, run in-process: epsilon is in the evidence the chain anchors.

The final round's ``RoundFinalized`` event names the evidence CID; the bytes read back from the
store under that CID (checked against it) hold the ``privacy`` record, equal to what the spec's
accountant says for the whole task. Every accepted update carries noise of the promised size.
A coordinator that records less epsilon than the spec's accountant counts fails the audit.
"""

from __future__ import annotations

import dataclasses
import json

import pytest

from fl_node.audit import audit_task
from fl_node.coordinator import Coordinator
from fl_node.dp import DPConfig, check_noise
from fl_node.evidence import RoundEvidence
from fl_node.models import build_model, trainable_state
from fl_node.serialization import decode_update
from storage import compute_cid
from tests.integration.fl_node.flow import start

pytestmark = pytest.mark.slow

DP = DPConfig("dp-fedavg", clip_norm=0.05, noise_multiplier=1.2, delta=1e-5, target_epsilon=None)


def test_epsilon_is_recorded_on_chain_with_the_final_model(tmp_path) -> None:
    flow = start(tmp_path, rounds=2, spec_changes={"dp": DP})
    reports = flow.run(settle=False)
    events = flow.ft.rounds_finalized(flow.task_id)
    assert [e.round for e in events] == [1, 2]
    spent = []
    for event in events:
        raw = flow.world.store.get(event.evidence_cid)
        assert compute_cid(raw) == event.evidence_cid
        evidence = RoundEvidence.from_dict(json.loads(raw))
        assert evidence.privacy is not None and evidence.privacy.mode == "dp-fedavg"
        spent.append(evidence.privacy.epsilon)
    final = flow.spec.privacy_spent()
    assert final is not None
    assert spent[1] == pytest.approx(final.epsilon, rel=1e-12) and spent[0] < spent[1]
    assert events[-1].model_cid == reports[-1].model_cid
    shapes = {k: tuple(v.shape) for k, v in trainable_state(build_model(flow.spec.model)).items()}
    accepted = [v for r in reports for v in r.verdicts if v.accepted]
    assert accepted
    for verdict in accepted:
        delta, _ = decode_update(flow.world.store.get(verdict.cid), shapes)
        assert check_noise(delta, DP).ok
    report_and_card_show_the_budget(flow, reports, final.epsilon)


def report_and_card_show_the_budget(flow, reports, epsilon: float) -> None:  # noqa: ANN001
    from fl_node.reporting import evaluation_report, model_card
    from marketplace_api.schemas import ModelCard

    final = reports[-1]
    card = model_card(
        flow.spec,
        reports,
        task_id=flow.task_id,
        model_cid=final.model_cid,
        model_hash=final.model_hash,
        artifacts={},
    )
    assert card["privacy"]["epsilon"] == epsilon and card["privacy"]["delta"] == DP.delta
    listed = ModelCard.model_validate(json.loads(json.dumps(card)))
    assert listed.metrics["dp_epsilon"] == epsilon  # the listing shows the card's metrics
    text = evaluation_report(flow.spec, reports, {}, task_id=flow.task_id, model_cid="bafy")
    assert "## Differential privacy" in text and f"{epsilon:.4g}" in text


class UnderReports(Coordinator):
    """Records half the epsilon spent: a listing would then promise more privacy than given."""

    def _evidence(self, work, base_model, state):  # noqa: ANN001, ANN202 - the node's own hook
        evidence = super()._evidence(work, base_model, state)
        assert evidence.privacy is not None
        low = dataclasses.replace(evidence.privacy, epsilon=evidence.privacy.epsilon / 2)
        return dataclasses.replace(evidence, privacy=low)


def test_the_audit_recounts_the_epsilon_each_round_records(tmp_path) -> None:
    honest = start(tmp_path / "honest", rounds=1, spec_changes={"dp": DP})
    honest.run(settle=False)
    passed = audit_task(honest.ft, honest.world.store, honest.task_id)
    assert passed.ok, passed.failure_line()
    liar = start(tmp_path / "liar", rounds=1, spec_changes={"dp": DP}, coordinator=UnderReports)
    liar.run(settle=False)
    caught = audit_task(liar.ft, liar.world.store, liar.task_id)
    [(round_, check)] = caught.failures
    assert (round_, check.name) == (1, "evidence") and "privacy" in check.detail
