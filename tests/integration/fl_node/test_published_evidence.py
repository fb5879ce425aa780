"""Every evidence file a task publishes follows the JSON Schema and round-trips through the record.

The tasks cover both strategies and both contribution methods, with an accepted, a rejected
(altered after anchoring) and a missing update, so each kind of verdict is written at least once.
"""

from __future__ import annotations

import json
from dataclasses import replace

import jsonschema
import pytest

from fedmarket.demo import (
    TOKEN,
    build_world,
    design_task,
    make_coordinator,
    make_participants,
    sponsor_task,
)
from fl_node.audit import audit_task
from fl_node.evidence import SCHEMA_PATH, RoundEvidence
from storage import canonical_json

pytestmark = pytest.mark.slow


def run_task(tmp_path, strategy: str, contribution: str):
    world = build_world(tmp_path / "store")
    world.token(world.deployer).mint(world.sponsor.address, 100 * TOKEN)
    base = design_task(
        [h.stats() for h in world.split.hospitals], world.split.feature_names, rounds=2
    )
    spec = replace(base, strategy=strategy, contribution=contribution)
    task_id = sponsor_task(world, spec, pool=100 * TOKEN, max_participants=4)
    nodes = make_participants(world, task_id)

    def between(round_: int) -> None:
        for node in nodes[:3] if round_ == 1 else nodes:  # the last one misses round 1
            node.step(task_id)
        if round_ == 1:  # and the second one's update is altered after it was anchored
            path = world.store.path_of(nodes[1].history[-1].cid)
            path.write_bytes(path.read_bytes()[:-4] + b"\xff\xff\xff\xff")

    coordinator = make_coordinator(world, task_id)
    reports = coordinator.run(between=between, round_timeout=0.2, poll_interval=0.05)
    return world, task_id, reports


@pytest.mark.parametrize(
    ("strategy", "contribution"),
    [("fedavg", "leave-one-out"), ("fedsgd", "shapley-exact")],
)
def test_published_evidence_follows_the_schema_and_round_trips(tmp_path, strategy, contribution):
    world, task_id, reports = run_task(tmp_path, strategy, contribution)
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA_PATH.read_text("utf-8")))
    reasons = set()
    for report in reports:
        raw = world.store.get(report.evidence_cid)
        doc = json.loads(raw)
        assert list(validator.iter_errors(doc)) == [], report.round
        evidence = RoundEvidence.from_dict(doc)
        assert canonical_json(evidence.to_dict()) == raw
        assert evidence.updates == tuple(report.verdicts)
        reasons |= {v.reason for v in evidence.updates}
    assert reasons == {None, "hash_mismatch", "not_submitted"}
    assert audit_task(world.fed_task(), world.store, task_id).ok
