"""The evidence's ``privacy`` record: schema, round trip, absent for tasks without DP."""

from __future__ import annotations

import json
from dataclasses import replace

import jsonschema
import pytest

from fl_node.errors import EvidenceError
from fl_node.evidence import SCHEMA_PATH, PrivacyRecord, RoundEvidence
from storage import canonical_json
from tests.unit.fl_node.test_evidence import sample

RECORD = PrivacyRecord("dp-sgd", 2.9, 1e-5, 1.1, 1.0, 0.05, 400, "rdp")


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))


def test_privacy_round_trips_and_validates(validator: jsonschema.Draft202012Validator) -> None:
    evidence = replace(sample(), privacy=RECORD)
    data = canonical_json(evidence.to_dict())
    assert list(validator.iter_errors(json.loads(data))) == []
    again = RoundEvidence.from_dict(json.loads(data))
    assert again.privacy == RECORD and canonical_json(again.to_dict()) == data


def test_evidence_without_dp_has_no_privacy_key() -> None:
    assert "privacy" not in sample().to_dict()
    assert b"privacy" not in canonical_json(sample().to_dict())


@pytest.mark.parametrize(
    "change",
    [
        {"mode": "ldp"},
        {"epsilon": -1.0},
        {"delta": 0.0},
        {"steps": 1.5},
        {"accountant": "gdp"},
        {"sample_rate": 2.0},
        {"extra": 1},
    ],
)
def test_both_the_reader_and_the_schema_refuse_a_bad_record(
    validator: jsonschema.Draft202012Validator, change: dict[str, object]
) -> None:
    doc = json.loads(canonical_json(replace(sample(), privacy=RECORD).to_dict()))
    doc["privacy"] |= change
    assert list(validator.iter_errors(doc)) != []
    with pytest.raises(EvidenceError):
        RoundEvidence.from_dict(doc)
