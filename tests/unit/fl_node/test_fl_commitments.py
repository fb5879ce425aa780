"""Signed commitments off-chain: the mailbox, its screening, the batch document, the ledger.

The round's commitments are the batch leaves superseded by direct ones. No chain needed: the
EIP-712 domain names a FedTask address that does not have to exist.
"""

from __future__ import annotations

import pytest

from chain.commitments import FedTaskDomain, SignedCommitment, UpdateCommitment, sign_commitment
from chain.fed_task import UpdateCommittedEvent
from chain.keys import new_account
from fl_node.commitments import BATCH_KIND, BatchDocument, round_commitments, screen_envelopes
from fl_node.errors import BatchDocumentError
from fl_node.mailbox import CommitmentEnvelope, InMemoryMailbox
from kernel.types import Address, Cid, Hash32, Round, TaskId
from storage import compute_cid, content_hash

DOMAIN = FedTaskDomain(31337, Address("0x" + "12" * 20))
ALICE, BOB, CAROL, MALLORY = (new_account() for _ in range(4))
MEMBERS = [ALICE.address, BOB.address, CAROL.address]


def envelope(account, payload: bytes, *, round_: int = 1, samples: int = 10, task: int = 1):
    commitment = UpdateCommitment(TaskId(task), Round(round_), content_hash(payload), samples)
    return CommitmentEnvelope(sign_commitment(account, DOMAIN, commitment), compute_cid(payload))


def test_the_mailbox_stamps_and_sorts_envelopes_by_round():
    clock = iter([100, 101, 102])
    mailbox = InMemoryMailbox(clock=lambda: next(clock))
    first = mailbox.send(envelope(ALICE, b"a"))
    mailbox.send(envelope(BOB, b"b", round_=2))
    mailbox.send(envelope(CAROL, b"c"))
    assert first.received_at == 100
    assert [e.signed.participant for e in mailbox.collect(1, 1)] == [ALICE.address, CAROL.address]
    assert [e.received_at for e in mailbox.collect(1, 2)] == [101]
    assert mailbox.collect(2, 1) == []


def test_screening_keeps_one_genuine_commitment_per_participant_of_the_round():
    genuine = envelope(ALICE, b"alice")
    forged_signed = envelope(MALLORY, b"forged").signed
    forged = CommitmentEnvelope(
        SignedCommitment(BOB.address, forged_signed.commitment, forged_signed.signature),
        compute_cid(b"forged"),
    )
    screened = screen_envelopes(
        [
            forged,  # in Bob's name, signed by Mallory
            genuine,
            envelope(ALICE, b"alice again"),  # a second one of Alice
            envelope(MALLORY, b"outsider"),  # not a participant
            envelope(CAROL, b"late", round_=2),  # another round
            envelope(CAROL, b"other task", task=2),
            envelope(BOB, b"bob"),
        ],
        DOMAIN,
        1,
        1,
        MEMBERS,
    )
    assert [e.signed.participant for e in screened.kept] == [ALICE.address, BOB.address]
    assert [reason for _, reason in screened.refused] == [
        f"signed by {MALLORY.address}, not by {BOB.address}",
        "a later commitment of the same participant",
        "not a participant of the task",
        "another task or round",
        "another task or round",
    ]


def test_a_commitment_under_another_domain_does_not_recover_its_participant():
    elsewhere = FedTaskDomain(1, DOMAIN.verifying_contract)
    commitment = UpdateCommitment(TaskId(1), Round(1), content_hash(b"x"), 5)
    signed = sign_commitment(ALICE, elsewhere, commitment)  # signed for another chain
    screened = screen_envelopes(
        [CommitmentEnvelope(signed, compute_cid(b"x"))], DOMAIN, 1, 1, MEMBERS
    )
    assert screened.kept == [] and "not by" in screened.refused[0][1]


def test_the_batch_document_round_trips_with_every_cid_and_refuses_tampering():
    envelopes = [envelope(ALICE, b"a"), envelope(BOB, b"b")]
    document = BatchDocument.of(envelopes)
    doc = document.to_dict()
    assert doc["kind"] == BATCH_KIND
    assert [c["cid"] for c in doc["commitments"]] == [compute_cid(b"a"), compute_cid(b"b")]
    again = BatchDocument.from_dict(doc)
    assert again.batch.root == document.batch.root and again.cids == document.cids
    doc["commitments"][1]["samples"] = 11  # a leaf changed: its root no longer matches
    with pytest.raises(BatchDocumentError, match="root"):
        BatchDocument.from_dict(doc)
    with pytest.raises(BatchDocumentError, match="kind"):
        BatchDocument.from_dict({**document.to_dict(), "kind": "other"})
    bad_cid = document.to_dict()
    bad_cid["commitments"][0]["cid"] = "not-a-cid"
    with pytest.raises(BatchDocumentError):
        BatchDocument.from_dict(bad_cid)


def _direct(account, payload: bytes, samples: int = 7) -> UpdateCommittedEvent:
    return UpdateCommittedEvent(
        task_id=TaskId(1),
        round=Round(1),
        participant=Address(account.address),
        update_hash=Hash32(content_hash(payload)),
        samples=samples,
        update_cid=Cid(compute_cid(payload)),
        meta=None,  # type: ignore[arg-type]
    )


def test_a_direct_commitment_supersedes_its_participants_leaf_and_order_is_join_order():
    batch = BatchDocument.of([envelope(BOB, b"b"), envelope(ALICE, b"a")])
    found = round_commitments(MEMBERS, batch, [_direct(BOB, b"bob again"), _direct(CAROL, b"c")])
    assert [c.participant for c in found] == MEMBERS
    assert [c.source for c in found] == ["batch", "direct", "direct"]
    assert found[0].signature is not None and found[1].signature is None
    assert found[1].update_hash == "0x" + content_hash(b"bob again").hex()
    assert found[1].cid == compute_cid(b"bob again")
    assert round_commitments(MEMBERS, None, []) == ()
