"""FedProx, the FedOpt family and client sampling through the whole protocol, and their cheats.

A stateful strategy's server state is stored each round and the audit replays it; an unsampled
participant that trains anyway is refused and unpaid; a coordinator that accepts an unsampled
update, or publishes a server state the strategy did not produce, is caught by the audit.
"""

from __future__ import annotations

import pytest

from fl_node.audit import audit_task
from fl_node.coordinator import Coordinator
from fl_node.evidence import RoundEvidence
from fl_node.participant import ParticipantNode
from fl_node.strategies import ServerState
from tests.integration.fl_node.flow import start, swap

pytestmark = pytest.mark.slow


def audit(flow):
    return audit_task(flow.ft, flow.world.store, flow.task_id, mailbox=flow.world.mailbox)


def failed(report) -> set[str]:
    return {c.name for _, c in report.failures}


def evidence(flow, round_: int) -> RoundEvidence:
    cid = flow.coordinator.reports[round_ - 1].evidence_cid
    return RoundEvidence.from_dict(flow.world.store.get_json(cid))


@pytest.mark.parametrize(
    ("strategy", "params"),
    [("fedadam", {"tau": 0.01}), ("fedyogi", {}), ("fedadagrad", {}), ("fedprox", {"mu": 0.1})],
)
def test_each_strategy_runs_the_protocol_and_passes_the_audit(tmp_path, strategy, params):
    flow = start(tmp_path, rounds=3, spec_changes={"strategy": strategy, "strategy_params": params})
    reports = flow.run(settle=False)
    assert [r.accepted for r in reports] == [4, 4, 4]
    report = audit(flow)
    assert report.ok, report.failures
    record = evidence(flow, 2).aggregation
    assert record.strategy == strategy and dict(record.params) == params
    if strategy == "fedprox":
        assert record.state is None
        return
    assert (
        record.state is not None
        and record.state.before == evidence(flow, 1).aggregation.state.after
    )
    state = ServerState.from_bytes(flow.world.store.get(record.state.after.cid))
    assert state.strategy == strategy and state.tensors  # the moments are really stored
    assert "server_state" in {c.name for c in report.round(2).checks}


def test_with_sampling_only_the_chosen_train_and_the_audit_agrees(tmp_path):
    flow = start(tmp_path, rounds=3, spec_changes={"sample_fraction": 0.5, "sample_seed": 9})
    reports = flow.run(settle=False)
    for r in reports:
        submitted = [v for v in r.verdicts if v.reason != "not_submitted"]
        assert len(submitted) == 2 and all(v.accepted for v in submitted)
        assert sum(a > 0 for a in r.amounts) <= 2
    chosen = [tuple(sorted(v.participant for v in r.verdicts if v.accepted)) for r in reports]
    assert len(set(chosen)) > 1  # not the same pair every round
    assert audit(flow).ok


class Eager(ParticipantNode):
    """Trains and commits every round, sampled or not."""

    def _sampled(self, task_id, round_, base_model_hash):
        return True


def test_an_unsampled_participant_that_commits_anyway_is_refused_and_unpaid(tmp_path):
    flow = start(
        tmp_path,
        rounds=3,
        spec_changes={"sample_fraction": 0.25, "sample_seed": 9},
        nodes=swap(0, Eager),
    )
    reports = flow.run(settle=False)
    eager = flow.nodes[0].address
    refused = [
        (r.round, r.amounts[i])
        for r in reports
        for i, v in enumerate(r.verdicts)
        if v.participant == eager and v.reason == "not_sampled"
    ]
    assert refused, "the eager node was sampled in every round: change the seed"
    assert all(amount == 0 for _, amount in refused)
    assert audit(flow).ok  # the coordinator did its job


class Lax(Coordinator):
    """Accepts every update, sampled or not."""

    def _collect_updates(self, round_, participants, commitments, params):
        spec = self.spec
        self.spec = type(spec)(**{**spec.__dict__, "sample_fraction": 1.0})
        try:
            return super()._collect_updates(round_, participants, commitments, params)
        finally:
            self.spec = spec


def test_a_coordinator_that_accepts_an_unsampled_update_is_caught(tmp_path):
    flow = start(
        tmp_path,
        rounds=2,
        spec_changes={"sample_fraction": 0.25, "sample_seed": 9},
        nodes=swap(0, Eager),
        coordinator=Lax,
    )
    reports = flow.run(settle=False)
    assert any(r.accepted == 2 for r in reports)  # one sampled, and the unsampled one got in
    assert "updates" in failed(audit(flow))


class Forger(Coordinator):
    """Publishes a server state with its moments scaled: a coordinator steering later rounds."""

    def _store_state(self, after):
        forged = ServerState(after.strategy, {k: v * 2 for k, v in after.tensors.items()})
        return super()._store_state(forged)


def test_a_forged_server_state_is_caught(tmp_path):
    flow = start(tmp_path, rounds=2, spec_changes={"strategy": "fedadam"}, coordinator=Forger)
    flow.run(settle=False)
    assert "aggregation" in failed(audit(flow))
