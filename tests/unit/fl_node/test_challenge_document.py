"""The challenge-evidence document: its round trip, what the court takes from it, and refusals."""

from __future__ import annotations

import pytest

from chain.commitments import decode_shares
from fl_node.challenge import CHALLENGE_KIND, ChallengeEvidence, FailedCheck
from fl_node.errors import ChallengeDocumentError
from fl_node.evidence import RewardLeaf
from kernel.errors import ProtocolError, families_of
from kernel.types import Address

A = Address("0x" + "a" * 40)
ROOT = "0x" + "34" * 32


def sample(shares=(6_000, 4_000)) -> ChallengeEvidence:
    return ChallengeEvidence(
        task_id=3,
        round=2,
        evidence_cid="bafkreievidence",
        posted_root="0x" + "12" * 32,
        corrected_root=ROOT,
        corrected_leaves=(RewardLeaf(A, 10**18),),
        corrected_shares=shares,
        failures=(FailedCheck("updates", "published malformed, recomputed accepted"),),
    )


@pytest.mark.parametrize("shares", [(6_000, 4_000), None], ids=["last-round", "other-round"])
def test_the_document_round_trips_and_gives_the_court_its_arguments(shares):
    evidence = sample(shares)
    doc = evidence.to_dict()
    assert doc["kind"] == CHALLENGE_KIND and doc["version"] == 1
    assert ChallengeEvidence.from_dict(doc) == evidence
    assert evidence.root_bytes == bytes.fromhex("34" * 32)
    if shares:
        assert decode_shares(evidence.shares_bytes) == list(shares)
    else:
        assert evidence.shares_bytes == b""


@pytest.mark.parametrize(
    "breaks",
    [
        lambda d: d.update(kind="fedmarket/round-evidence"),
        lambda d: d.update(version=2),
        lambda d: d.pop("corrected_root"),
        lambda d: d["corrected_leaves"][0].update(amount=0),
        lambda d: d.update(failures=[{"name": "updates"}]),
    ],
    ids=["kind", "version", "missing-root", "zero-leaf", "failure-without-detail"],
)
def test_a_malformed_document_is_refused_as_a_protocol_error(breaks):
    doc = sample().to_dict()
    breaks(doc)
    with pytest.raises(ChallengeDocumentError, match="challenge evidence"):
        ChallengeEvidence.from_dict(doc)
    assert families_of(ChallengeDocumentError) == (ProtocolError,)
