"""The audit recomputes a task from the chain and the store, and catches a dishonest coordinator."""

from __future__ import annotations

import pytest
import torch

import fl_node.coordinator as coordinator_module
from fedmarket.demo import (
    TOKEN,
    build_world,
    design_task,
    make_coordinator,
    make_participants,
    sponsor_task,
)
from fl_node.audit import audit_task
from fl_node.evidence import RoundEvidence
from fl_node.strategies import FedAvg

pytestmark = pytest.mark.slow

CHECKS = ["model_continuity", "evidence", "updates", "aggregation", "contribution", "rewards"]


def run_task(tmp_path, rounds=2, tamper_first=None):
    world = build_world(tmp_path / "store")
    world.token(world.deployer).mint(world.sponsor.address, 100 * TOKEN)
    spec = design_task(
        [h.stats() for h in world.split.hospitals], world.split.feature_names, rounds=rounds
    )
    task_id = sponsor_task(world, spec, pool=100 * TOKEN, max_participants=4)
    nodes = make_participants(world, task_id)
    coordinator = make_coordinator(world, task_id)

    def between(round_: int) -> None:
        for node in nodes:
            node.step(task_id)
        if round_ == 1 and tamper_first is not None:
            tamper_first(world, nodes)

    coordinator.run(between=between)
    return world, task_id, coordinator


def test_honest_task_passes_every_check(tmp_path):
    world, task_id, _ = run_task(tmp_path)
    report = audit_task(world.fed_task(), world.store, task_id)
    assert report.ok, report.failures
    assert [r.round for r in report.rounds] == [1, 2]
    assert [c.name for c in report.rounds[0].checks] == CHECKS


def test_rejected_update_is_reproducibly_rejected(tmp_path):
    def tamper(world, nodes):
        path = world.store.path_of(nodes[2].history[-1].cid)
        path.write_bytes(path.read_bytes()[:-4] + b"\xff\xff\xff\xff")

    world, task_id, _ = run_task(tmp_path, tamper_first=tamper)
    report = audit_task(world.fed_task(), world.store, task_id)
    assert report.ok, report.failures


def test_published_model_that_is_not_the_aggregate_is_caught(tmp_path, monkeypatch):
    class Skewed(FedAvg):
        def aggregate(self, params, updates):
            out = super().aggregate(params, updates)
            first = next(iter(out))
            out[first] = out[first] + 0.01  # a coordinator nudging the model its own way
            return out

    monkeypatch.setattr("fl_node.task.make_strategy", lambda name, lr: Skewed())
    world, task_id, _ = run_task(tmp_path, rounds=1)
    monkeypatch.undo()
    report = audit_task(world.fed_task(), world.store, task_id)
    failed = {c.name for _, c in report.failures}
    assert failed == {"aggregation"}


def test_rewards_that_do_not_follow_the_evidence_are_caught(tmp_path, monkeypatch):
    real = coordinator_module.allocate_round

    def favour_first(contributions, **kwargs):
        biased = [1.0] + [0.0] * (len(contributions) - 1)  # pay participant 0 whatever it did
        return real(biased, **kwargs)

    monkeypatch.setattr(coordinator_module, "allocate_round", favour_first)
    world, task_id, _ = run_task(tmp_path, rounds=1)
    monkeypatch.undo()
    report = audit_task(world.fed_task(), world.store, task_id)
    failed = {c.name for _, c in report.failures}
    assert failed == {"rewards"}


def test_altered_model_in_the_store_is_caught(tmp_path):
    world, task_id, coordinator = run_task(tmp_path, rounds=2)
    final_cid = world.fed_task().task(task_id).model_cid
    path = world.store.path_of(final_cid)
    data = bytearray(path.read_bytes())
    data[-4:] = torch.tensor([3.0]).numpy().tobytes()
    path.write_bytes(bytes(data))
    report = audit_task(world.fed_task(), world.store, task_id)
    assert not report.ok
    assert report.failures[0][0] == 2


def _drop_metrics(doc):
    del doc["metrics"]


def _samples_as_text(doc):
    doc["updates"][0]["samples"] = str(doc["updates"][0]["samples"])


def _future_version(doc):
    doc["version"] = 2


@pytest.mark.parametrize(
    ("breaks", "field"),
    [
        (_drop_metrics, "evidence.metrics is missing"),
        (_samples_as_text, "evidence.updates[0].samples must be an integer"),
        (_future_version, "evidence.version 2 is not a version this reader knows"),
    ],
    ids=["missing-field", "wrong-type", "unknown-version"],
)
def test_evidence_that_breaks_the_schema_fails_the_evidence_check(
    tmp_path, monkeypatch, breaks, field
):
    real = RoundEvidence.to_dict

    def published(self):
        doc = real(self)
        breaks(doc)  # a coordinator publishing evidence the schema does not allow
        return doc

    monkeypatch.setattr(RoundEvidence, "to_dict", published)
    world, task_id, _ = run_task(tmp_path, rounds=1)
    monkeypatch.undo()
    report = audit_task(world.fed_task(), world.store, task_id)
    [(round_, check)] = report.failures
    assert (round_, check.name) == (1, "evidence")
    assert field in check.detail
    assert "breaks schema v1" in check.detail
    assert [c.name for c in report.rounds[0].checks] == ["model_continuity", "evidence"]


def test_evidence_that_names_another_model_fails_the_evidence_check(tmp_path, monkeypatch):
    real = RoundEvidence.to_dict

    def published(self):
        doc = real(self)
        doc["new_model"]["hash"] = "0x" + "00" * 32
        return doc

    monkeypatch.setattr(RoundEvidence, "to_dict", published)
    world, task_id, _ = run_task(tmp_path, rounds=1)
    monkeypatch.undo()
    report = audit_task(world.fed_task(), world.store, task_id)
    failed = {c.name: c.detail for _, c in report.failures}
    assert list(failed) == ["evidence"]
    assert "new_model differ from the chain" in failed["evidence"]
