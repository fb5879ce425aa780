"""A round's commitments off-chain: the batch document, the mailbox checks, the round's ledger.

- :class:`BatchDocument`: what the coordinator stores under ``batchCid`` when it posts a batch:
  every leaf with its participant's signature and the CID the update will have (the chain's
  :meth:`~chain.commitments.CommitmentBatch.to_dict` document, each entry with its ``cid``);
- :func:`screen_envelopes`: which envelopes of a mailbox belong in the batch (a genuine
  signature by a participant of the task, for this round, the first of each participant);
- :func:`round_commitments`: the round's commitments as the chain holds them, the batch's leaves
  each superseded by its participant's direct ``commitUpdate``, one per participant in join order.
  The coordinator finalises against it, participants check their inclusion with it, and the audit
  recomputes it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chain.commitments import (
    CommitmentBatch,
    FedTaskDomain,
    recover_commitment_signer,
)
from chain.errors import ChainError
from chain.fed_task import CommitBatchPostedEvent, FedTaskClient, UpdateCommittedEvent
from fl_node.errors import BatchDocumentError
from fl_node.evidence import BatchRef, CommitmentRecord
from fl_node.mailbox import CommitmentEnvelope
from kernel.errors import IntegrityError, InvalidInputError
from kernel.types import Address, Cid
from storage import ContentStore, InvalidCidError, validate_cid

log = logging.getLogger(__name__)

BATCH_KIND = "fedmarket/commitment-batch"
"""The ``kind`` of a batch document."""


def hex32(value: bytes) -> str:
    """``0x``-hex of 32 bytes, as evidence documents write hashes.

    Parameters
    ----------
    value : bytes
        A digest.
    """
    return "0x" + bytes(value).hex()


@dataclass(frozen=True)
class BatchDocument:
    """The round's signed commitments and the CIDs their updates will have.

    Attributes
    ----------
    batch : CommitmentBatch
        The signed commitments and their Merkle tree (root and count are posted on-chain).
    cids : mapping of Address to Cid
        The CID of each participant's update.
    """

    batch: CommitmentBatch
    cids: Mapping[Address, Cid]

    @classmethod
    def of(cls, envelopes: Sequence[CommitmentEnvelope]) -> BatchDocument:
        """The batch of ``envelopes`` (already screened: see :func:`screen_envelopes`).

        Parameters
        ----------
        envelopes : sequence of CommitmentEnvelope
            At least one, one per participant, all of one round.
        """
        batch = CommitmentBatch.build([e.signed for e in envelopes])
        return cls(batch, {e.signed.participant: e.update_cid for e in envelopes})

    def to_dict(self) -> dict[str, Any]:
        """The JSON document stored under ``batchCid``: every leaf, its signature and its CID."""
        doc = self.batch.to_dict()
        doc["kind"] = BATCH_KIND
        for entry in doc["commitments"]:
            entry["cid"] = self.cids[entry["participant"]]
        return doc

    @classmethod
    def from_dict(cls, document: Any) -> BatchDocument:
        """Read a batch document back, checking that its root is the root of its leaves.

        Parameters
        ----------
        document : Any
            The parsed JSON.

        Raises
        ------
        BatchDocumentError
            The document is malformed, or its root is not the root of its leaves.
        """
        try:
            if document.get("kind") != BATCH_KIND:
                raise InvalidInputError(f"kind is not {BATCH_KIND!r}")
            batch = CommitmentBatch.from_dict(document)
            cids = {
                c.participant: validate_cid(str(entry["cid"]))
                for c, entry in zip(batch.commitments, document["commitments"], strict=True)
            }
        except (InvalidInputError, IntegrityError, KeyError, TypeError, AttributeError) as exc:
            raise BatchDocumentError(f"batch document: {exc}") from None
        return cls(batch, cids)

    def ref(self, cid: str) -> BatchRef:
        """The :class:`~fl_node.evidence.BatchRef` of this batch stored under ``cid``.

        Parameters
        ----------
        cid : str
            Where the document is stored.
        """
        return BatchRef(root=hex32(self.batch.root), cid=cid, count=self.batch.count)


@dataclass(frozen=True)
class Screened:
    """What :func:`screen_envelopes` kept and refused."""

    kept: list[CommitmentEnvelope]
    refused: list[tuple[CommitmentEnvelope, str]]


def _refusal(
    envelope: CommitmentEnvelope,
    domain: FedTaskDomain,
    round_: tuple[int, int],
    members: set[str],
) -> str | None:
    """Why ``envelope`` does not belong in the round's batch, or ``None`` when it does."""
    signed = envelope.signed
    if (envelope.task_id, envelope.round) != round_:
        return "another task or round"
    if signed.participant.lower() not in members:
        return "not a participant of the task"
    if not 0 < signed.commitment.samples < 2**64:
        return "sample count out of range"
    try:
        validate_cid(envelope.update_cid)
        signer = recover_commitment_signer(domain, signed)
    except (InvalidCidError, ChainError, InvalidInputError, ValueError) as exc:
        return f"malformed: {exc}"
    if signer.lower() != signed.participant.lower():
        return f"signed by {signer}, not by {signed.participant}"
    return None


def screen_envelopes(
    envelopes: Sequence[CommitmentEnvelope],
    domain: FedTaskDomain,
    task_id: int,
    round: int,
    participants: Sequence[str],
) -> Screened:
    """Keep the envelopes a batch may anchor: genuine, for this round, one per participant.

    Parameters
    ----------
    envelopes : sequence of CommitmentEnvelope
        What the mailbox holds for the round, oldest first.
    domain : FedTaskDomain
        The FedTask deployment (signatures are checked under it).
    task_id : int
        The task.
    round : int
        The round.
    participants : sequence of str
        The task's participants.

    Returns
    -------
    Screened
        The envelopes kept (the first genuine one of each participant) and those refused, each
        with the reason.
    """
    members = {p.lower() for p in participants}
    kept: list[CommitmentEnvelope] = []
    refused: list[tuple[CommitmentEnvelope, str]] = []
    seen: set[str] = set()
    for envelope in envelopes:
        reason = _refusal(envelope, domain, (task_id, round), members)
        who = envelope.signed.participant.lower()
        if reason is None and who in seen:
            reason = "a later commitment of the same participant"
        if reason is None:
            kept.append(envelope)
            seen.add(who)
        else:
            log.warning("screen_envelopes: refused %s: %s", envelope.signed.participant, reason)
            refused.append((envelope, reason))
    return Screened(kept, refused)


def round_commitments(
    participants: Sequence[Address],
    batch: BatchDocument | None,
    direct: Sequence[UpdateCommittedEvent],
) -> tuple[CommitmentRecord, ...]:
    """The round's commitments: batch leaves superseded by direct commitments, in join order.

    Parameters
    ----------
    participants : sequence of Address
        The task's participants in join order (leaves of anyone else are ignored here; the
        audit reports them).
    batch : BatchDocument or None
        The batch posted for the round, if any.
    direct : sequence of UpdateCommittedEvent
        The round's ``UpdateCommitted`` events.
    """
    found: dict[str, CommitmentRecord] = {}
    if batch is not None:
        for signed in batch.batch.commitments:
            found[signed.participant.lower()] = CommitmentRecord(
                participant=signed.participant,
                update_hash=hex32(signed.commitment.update_hash),
                samples=int(signed.commitment.samples),
                cid=batch.cids[signed.participant],
                source="batch",
                signature="0x" + bytes(signed.signature).hex(),
            )
    for event in direct:
        found[event.participant.lower()] = CommitmentRecord(
            participant=event.participant,
            update_hash=hex32(event.update_hash),
            samples=int(event.samples),
            cid=event.update_cid,
            source="direct",
            signature=None,
        )
    return tuple(found[p.lower()] for p in participants if p.lower() in found)


@dataclass(frozen=True)
class PostedBatch:
    """A batch as the chain announced it and as the store holds it.

    Attributes
    ----------
    event : CommitBatchPostedEvent
        The ``CommitBatchPosted`` event (root, count, CID, block).
    document : BatchDocument
        The document stored under its CID.
    """

    event: CommitBatchPostedEvent
    document: BatchDocument


def read_batch(
    fed_task: FedTaskClient, store: ContentStore, task_id: int, round: int
) -> PostedBatch | None:
    """The batch posted for a round, or ``None`` when the coordinator posted none.

    Parameters
    ----------
    fed_task : FedTaskClient
        The FedTask contract.
    store : ContentStore
        Where the batch document is stored.
    task_id : int
        The task.
    round : int
        The round.

    Raises
    ------
    BatchDocumentError
        The document is missing, malformed, or not the one whose root the chain holds.
    """
    events = fed_task.batches_posted(task_id, round)
    if not events:
        return None
    event = events[0]
    try:
        document = BatchDocument.from_dict(store.get_json(event.batch_cid))
    except (LookupError, ValueError) as exc:
        raise BatchDocumentError(f"batch of round {round}: {exc}") from None
    if document.batch.root != event.root or document.batch.count != event.count:
        raise BatchDocumentError(
            f"batch of round {round}: the document's root or count differs from the chain's"
        )
    return PostedBatch(event, document)


def commitments_of_round(
    fed_task: FedTaskClient,
    store: ContentStore,
    task_id: int,
    round: int,
    participants: Sequence[Address],
) -> tuple[PostedBatch | None, tuple[CommitmentRecord, ...]]:
    """The round's batch (if any) and its commitments, read from the chain and the store.

    Parameters
    ----------
    fed_task : FedTaskClient
        The FedTask contract.
    store : ContentStore
        Where the batch document is stored.
    task_id : int
        The task.
    round : int
        The round.
    participants : sequence of Address
        The task's participants in join order.

    Raises
    ------
    BatchDocumentError
        The batch's document cannot be read or does not match the chain.
    """
    posted = read_batch(fed_task, store, task_id, round)
    direct = fed_task.updates_committed(task_id, round)
    document = posted.document if posted else None
    return posted, round_commitments(participants, document, direct)


__all__ = [
    "BATCH_KIND",
    "BatchDocument",
    "PostedBatch",
    "Screened",
    "commitments_of_round",
    "hex32",
    "read_batch",
    "round_commitments",
    "screen_envelopes",
]
