"""The round-evidence record (version 2): its JSON Schema, its round trip, and what both refuse.

The hand-written reader in :mod:`fl_node.evidence` and ``evidence.schema.json`` are two
descriptions of one shape, so every mutation below must be refused by both (and the document
they start from accepted by both).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import jsonschema
import pytest

from fl_node.errors import EvidenceError
from fl_node.evaluation import BinaryMetrics
from fl_node.evidence import (
    COMMITMENT_SOURCES,
    EVIDENCE_KIND,
    EVIDENCE_VERSION,
    REJECTION_REASONS,
    SCHEMA_PATH,
    AggregationRecord,
    BallotRecord,
    BatchRef,
    CommitmentRecord,
    CommitmentsRecord,
    ContributionRecord,
    DefenceDecision,
    DefenceRecord,
    ModelRef,
    RewardLeaf,
    RewardSplit,
    RoundEvidence,
    RoundMetrics,
    SharesRecord,
    UpdateVerdict,
)
from kernel.errors import ProtocolError, families_of
from kernel.types import Address
from storage import canonical_json

A, B, C = (Address(f"0x{d * 40}") for d in "abc")
HASH = "0x" + "12" * 32
SIGNATURE = "0x" + "ab" * 65
METRICS = BinaryMetrics(0.9, 0.8, 0.7, 0.75, 0.95, 0.6, 0.3, rows=57)


def sample(shares: bool = True) -> RoundEvidence:
    """Three participants: one batched and accepted, one direct and rejected, one silent."""
    return RoundEvidence(
        task_id=1,
        round=2,
        coordinator=Address("0x" + "D" * 40),
        base_model=ModelRef("bafkreibase", HASH),
        participants=(A, B, C),
        commitments=CommitmentsRecord(
            batch=BatchRef(HASH, "bafkreibatch", 2),
            entries=(
                CommitmentRecord(A, HASH, 88, "bafkreia", "batch", SIGNATURE),
                CommitmentRecord(B, HASH, 12, "bafkreib", "direct", None),
            ),
        ),
        updates=(
            UpdateVerdict(A, True, None, "", "bafkreia", HASH, 88, 0.46, 2660),
            UpdateVerdict(B, False, "hash_mismatch", "bytes differ", "bafkreib", HASH, 12, None, 9),
            UpdateVerdict(C, False, "not_submitted"),
        ),
        aggregation=AggregationRecord(
            "fedavg",
            1.0,
            {A: 88},
            defence=DefenceRecord(
                "trusted_vote",
                {"flag_at": 3.0},
                (DefenceDecision(A, 1.0, "", 0.25, False),),
                root_update=ModelRef("bafkreiroot", HASH),
                ballots=(BallotRecord(A, {HASH: 0.125}, SIGNATURE),),
            ),
        ),
        contribution=ContributionRecord(
            method="leave-one-out",
            utility="negative log loss",
            validation_rows=57,
            validation_data_hash=HASH,
            utilities={"0": -0.2, "": -0.7},
            scores=(0.5, 0.0, 0.0),
        ),
        rewards=RewardSplit(
            cap=2 * 10**20,
            budget=10**20,
            scores=(5 * 10**17, 0, 0),
            amounts=(10**20, 0, 0),
            split="floor split",
            root=HASH,
            leaves=(RewardLeaf(A, 10**20),),
        ),
        flagged=(B,),
        new_model=ModelRef("bafkreinew", HASH),
        metrics=RoundMetrics(validation=METRICS, test=METRICS),
        shares=SharesRecord((0.5, 0.0, 0.0), (10_000, 0, 0)) if shares else None,
    )


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("shares", [True, False], ids=["last-round", "other-round"])
def test_the_schema_accepts_what_the_record_writes(validator, shares):
    doc = json.loads(canonical_json(sample(shares).to_dict()))
    assert list(validator.iter_errors(doc)) == []


@pytest.mark.parametrize("shares", [True, False], ids=["last-round", "other-round"])
def test_the_record_round_trips_byte_for_byte(shares):
    data = canonical_json(sample(shares).to_dict())
    again = RoundEvidence.from_dict(json.loads(data))
    assert again == sample(shares)
    assert canonical_json(again.to_dict()) == data


def test_version_two_is_written_and_version_one_refused():
    doc = sample().to_dict()
    assert doc["kind"] == EVIDENCE_KIND
    assert doc["version"] == EVIDENCE_VERSION == 2
    assert RoundEvidence.from_dict(doc).version == 2
    v1 = {k: v for k, v in doc.items() if k != "version"}  # protocol v1 wrote no version
    with pytest.raises(EvidenceError, match="evidence.version 1 is not a version this reader"):
        RoundEvidence.from_dict(v1)


def test_the_schema_knows_every_rejection_reason_and_source():
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    enum = schema["$defs"]["verdict"]["properties"]["reason"]["enum"]
    assert enum == [None, *REJECTION_REASONS]
    sources = schema["$defs"]["commitment"]["properties"]["source"]["enum"]
    assert sources == list(COMMITMENT_SOURCES)


def test_evidence_errors_are_protocol_errors():
    assert families_of(EvidenceError) == (ProtocolError,)


Mutation = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Mutation:
    def mutate(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = doc
        for key in parents:
            node = node[int(key)] if key.isdigit() else node[key]
        node[int(last) if last.isdigit() else last] = value

    return mutate


def _delete(path: str) -> Mutation:
    def mutate(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = doc
        for key in parents:
            node = node[int(key)] if key.isdigit() else node[key]
        del node[last]

    return mutate


MUTATIONS: dict[str, tuple[Mutation, str]] = {
    "missing metrics": (_delete("metrics"), "evidence.metrics is missing"),
    "missing verdict field": (_delete("updates.1.reason"), "evidence.updates[1].reason"),
    "missing test metric": (_delete("metrics.test.auc"), "evidence.metrics.test.auc"),
    "extra field": (_set("surprise", 1), "evidence.surprise is not a field"),
    "round as a string": (_set("round", "2"), "evidence.round must be an integer"),
    "round zero": (_set("round", 0), "evidence.round must be >= 1"),
    "boolean task id": (_set("task_id", True), "evidence.task_id"),
    "samples as a string": (_set("updates.0.samples", "88"), "evidence.updates[0].samples"),
    "accepted as 1": (_set("updates.0.accepted", 1), "evidence.updates[0].accepted"),
    "unknown reason": (_set("updates.1.reason", "vibes"), "evidence.updates[1].reason"),
    "short hash": (_set("base_model.hash", "0x12"), "evidence.base_model.hash"),
    "upper-case hash": (_set("new_model.hash", "0x" + "AB" * 32), "evidence.new_model.hash"),
    "participant not an address": (_set("participants.0", "alice"), "evidence.participants[0]"),
    "negative amount": (_set("rewards.amounts.0", -1), "evidence.rewards.amounts[0]"),
    "fractional budget": (_set("rewards.budget", 1.5), "evidence.rewards.budget"),
    "score as a string": (_set("contribution.scores.0", "0.5"), "evidence.contribution.scores"),
    "bad coalition key": (_set("contribution.utilities", {"0;1": 0.1}), "utilities key"),
    "weights not an object": (_set("aggregation.weights", []), "evidence.aggregation.weights"),
    "fractional rows": (_set("metrics.test.rows", 1.5), "evidence.metrics.test.rows"),
    "other kind": (_set("kind", "fedmarket/model-card"), "evidence.kind"),
    "unknown version": (_set("version", 3), "evidence.version 3 is not a version"),
    "version one": (_delete("version"), "evidence.version 1 is not a version"),
    "version as a string": (_set("version", "2"), "evidence.version must be an integer"),
    "empty object": (lambda doc: doc.clear(), "evidence.version 1 is not a version"),
    # protocol v2: commitments, rewards tree, flags, shares
    "missing commitments": (_delete("commitments"), "evidence.commitments is missing"),
    "batch count zero": (_set("commitments.batch.count", 0), "evidence.commitments.batch.count"),
    "batch root short": (_set("commitments.batch.root", "0x12"), "evidence.commitments.batch.root"),
    "unknown source": (
        _set("commitments.entries.0.source", "gossip"),
        "evidence.commitments.entries[0].source",
    ),
    "zero committed samples": (
        _set("commitments.entries.1.samples", 0),
        "evidence.commitments.entries[1].samples",
    ),
    "short signature": (
        _set("commitments.entries.0.signature", "0xabcd"),
        "evidence.commitments.entries[0].signature",
    ),
    "commitment extra field": (
        _set("commitments.entries.0.sent_at", 5),
        "evidence.commitments.entries[0].sent_at is not a field",
    ),
    "missing cap": (_delete("rewards.cap"), "evidence.rewards.cap is missing"),
    "root not a hash": (_set("rewards.root", "0"), "evidence.rewards.root"),
    "zero leaf": (_set("rewards.leaves.0.amount", 0), "evidence.rewards.leaves[0].amount"),
    "leaf not an address": (_set("rewards.leaves.0.account", "b0b"), "rewards.leaves[0].account"),
    "flagged not a list": (_set("flagged", "0x" + "b" * 40), "evidence.flagged"),
    "missing shares": (_delete("shares"), "evidence.shares is missing"),
    # issue 12: the defence's record
    "defence weight as a string": (
        _set("aggregation.defence.decisions.0.weight", "1"),
        "evidence.aggregation.defence.decisions[0].weight",
    ),
    "defence flag as 1": (
        _set("aggregation.defence.decisions.0.flagged", 1),
        "evidence.aggregation.defence.decisions[0].flagged",
    ),
    "defence without decisions": (
        _delete("aggregation.defence.decisions"),
        "evidence.aggregation.defence.decisions is missing",
    ),
    "ballot score key not a hash": (
        _set("aggregation.defence.ballots.0.scores", {"alice": 0.1}),
        "evidence.aggregation.defence.ballots[0].scores key",
    ),
    "ballot short signature": (
        _set("aggregation.defence.ballots.0.signature", "0xab"),
        "evidence.aggregation.defence.ballots[0].signature",
    ),
    "root update not a ref": (
        _set("aggregation.defence.root_update", "bafkreiroot"),
        "evidence.aggregation.defence.root_update",
    ),
    "share above a whole": (_set("shares.bps.0", 10_001), "evidence.shares.bps[0]"),
    "share as a float": (_set("shares.bps.1", 0.5), "evidence.shares.bps[1]"),
    "shares without contributions": (
        _delete("shares.contributions"),
        "evidence.shares.contributions is missing",
    ),
}


@pytest.mark.parametrize("name", MUTATIONS)
def test_reader_and_schema_refuse_the_same_documents(name, validator):
    mutate, field = MUTATIONS[name]
    doc = copy.deepcopy(sample().to_dict())
    mutate(doc)
    assert list(validator.iter_errors(doc)), f"the schema accepts {name}"
    with pytest.raises(EvidenceError) as caught:
        RoundEvidence.from_dict(doc)
    assert field in str(caught.value)


@pytest.mark.parametrize("value", [None, [], "evidence", 3])
def test_a_document_that_is_not_an_object_is_refused(value, validator):
    assert list(validator.iter_errors(value))
    with pytest.raises(EvidenceError, match="evidence must be an object"):
        RoundEvidence.from_dict(value)
