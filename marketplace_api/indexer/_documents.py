"""Documents the index reads from the content store: listings' metadata and rounds' evidence.

A document is fetched by CID once (the bytes under a CID never change) and kept as a
:class:`DocumentRecord`: ``ok`` with the part the index uses, ``missing`` (not in the store yet,
or the store is down: fetched again later) or ``invalid`` (not a CID, too large, not JSON, not of
the expected shape, or holding text no database column can store) with the reason. Nothing a
document holds can stop the indexer: every failure becomes a status.

Strings the databases cannot store are found by :func:`unstorable_text` (NUL, the other control
characters, unpaired surrogates); the API refuses them before relaying a listing, and the indexer
marks a document that holds them (listed on-chain without the API) invalid.
"""

from __future__ import annotations

import json
import logging
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from eth_utils.address import to_checksum_address
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints, ValidationError

from chain.commitments import RewardTree
from kernel.errors import FedmarketError
from marketplace_api.schemas import DatasetBase
from storage import (
    ContentIntegrityError,
    ContentNotFoundError,
    ContentStore,
    StoreError,
    StoreUnavailableError,
    content_hash,
    validate_cid,
)
from storage.base import json_too_deep
from storage.sealed_store import is_sealed_object

log = logging.getLogger(__name__)

METADATA = "dataset-metadata"
"""The kind of a listing's metadata document."""
EVIDENCE = "round-evidence"
"""The kind of a round's evidence document (only its reward leaves are kept)."""

MAX_METADATA_BYTES = 1024 * 1024
MAX_EVIDENCE_BYTES = 16 * 1024 * 1024

DocumentStatus = Literal["ok", "missing", "invalid"]
EvidenceStatus = Literal["verified", "mismatch", "unavailable", "no_rewards", "not_finalized"]
_LINE_BREAKS = frozenset("\t\n\r")


def unstorable_text(
    value: Any, loc: tuple[str | int, ...] = ()
) -> list[tuple[tuple[str | int, ...], str]]:
    """Where ``value`` holds text a database cannot store faithfully, and why.

    NUL (PostgreSQL refuses it in text), the other C0 and C1 control characters but tab, line
    feed and carriage return, and unpaired surrogates (not encodable as UTF-8) are refused, in
    strings and in object keys, at any depth.

    Parameters
    ----------
    value : Any
        A JSON-like value (dicts, lists, strings, numbers).
    loc : tuple, default ()
        Where ``value`` is (prefixed to each fault's location).

    Returns
    -------
    list of (tuple, str)
        ``(location, message)`` per faulty string, in document order.
    """
    faults: list[tuple[tuple[str | int, ...], str]] = []
    if isinstance(value, str):
        why = _text_fault(value)
        if why is not None:
            faults.append((loc, why))
    elif isinstance(value, Mapping):
        for key, item in value.items():
            key_fault = _text_fault(str(key))
            if key_fault is not None:
                faults.append(((*loc, str(key)), f"the key {key_fault.removeprefix('the text ')}"))
            faults.extend(unstorable_text(item, (*loc, str(key))))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            faults.extend(unstorable_text(item, (*loc, index)))
    return faults


def _text_fault(text: str) -> str | None:
    for char in text:
        if char in _LINE_BREAKS:
            continue
        category = unicodedata.category(char)
        if char == "\x00":
            return "the text contains a NUL character (U+0000), which cannot be stored"
        if category == "Cc":
            return f"the text contains the control character U+{ord(char):04X}"
        if category == "Cs":
            return f"the text contains an unpaired surrogate U+{ord(char):04X}"
    return None


def printable(text: str, limit: int = 200) -> str:
    """``text`` made safe to store and show: unstorable characters escaped, at most ``limit`` long.

    Parameters
    ----------
    text : str
        Anything read from the chain.
    limit : int, default 200
        Longest result (longer text is cut and ends with an ellipsis).
    """
    safe = "".join(
        c
        if c not in _LINE_BREAKS and unicodedata.category(c) not in ("Cc", "Cs")
        else f"\\u{ord(c):04x}"
        for c in text[: limit + 1]
    )
    return safe if len(safe) <= limit else safe[: limit - 1] + "\u2026"


@dataclass(frozen=True)
class DocumentRecord:
    """What the document under a CID said, as one kind of document.

    Attributes
    ----------
    cid : str
        The CID.
    kind : str
        :data:`METADATA` or :data:`EVIDENCE`.
    status : {"ok", "missing", "invalid"}
        See the module docstring.
    error : str or None
        Why it is not ``ok``.
    body : dict or None
        The part kept, when ``ok``.
    """

    cid: str
    kind: str
    status: DocumentStatus
    error: str | None = None
    body: dict[str, Any] | None = None


def _read(store: ContentStore, cid: str, kind: str, max_bytes: int) -> bytes | DocumentRecord:
    """The bytes under ``cid``, or the record of why there are none."""
    try:
        return store.get(validate_cid(cid), max_bytes=max_bytes)
    except (ContentNotFoundError, StoreUnavailableError) as exc:
        return DocumentRecord(cid, kind, "missing", printable(str(exc)))
    except StoreError as exc:  # not a CID, corrupted, too large: it will not get better
        return DocumentRecord(cid, kind, "invalid", printable(str(exc)))


def _json(data: bytes) -> Any:
    if json_too_deep(data):
        raise ContentIntegrityError("the document nests too deeply")
    return json.loads(data)


def fetch_metadata(store: ContentStore, cid: str) -> DocumentRecord:
    """Read a listing's metadata document and check it as the API checks a listing.

    Parameters
    ----------
    store : ContentStore
        The content store.
    cid : str
        The CID listed on-chain (any string: a direct listing need not name a valid CID).
    """
    data = _read(store, cid, METADATA, MAX_METADATA_BYTES)
    if isinstance(data, DocumentRecord):
        return data
    try:
        raw = _json(data)
        faults = unstorable_text(raw)
        if faults:
            where = ".".join(str(p) for p in faults[0][0])
            return DocumentRecord(
                cid, METADATA, "invalid", f"{where or 'document'}: {faults[0][1]}"
            )
        document = DatasetBase.model_validate(raw).document_fields()
    except ValidationError as exc:
        first = exc.errors(include_input=False, include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "document"
        return DocumentRecord(cid, METADATA, "invalid", printable(f"{where}: {first['msg']}"))
    except (ValueError, TypeError, OverflowError, RecursionError, FedmarketError) as exc:
        return DocumentRecord(cid, METADATA, "invalid", printable(f"not a listing document: {exc}"))
    body = {"document": document, "keccak": "0x" + content_hash(data).hex()}
    return DocumentRecord(cid, METADATA, "ok", None, body)


def listing_document(
    record: DocumentRecord | None, owner: str, metadata_hash: str
) -> tuple[DocumentStatus, str | None, dict[str, Any] | None]:
    """``(status, error, document)`` of a listing whose CID holds ``record``.

    The document counts only when its bytes hash to the listing's on-chain metadata hash and it
    names the listing's owner (a squatter's copy of another owner's document is invalid).

    Parameters
    ----------
    record : DocumentRecord or None
        What the CID holds (``None``: not fetched yet, counted as missing).
    owner : str
        The listing's owner on-chain.
    metadata_hash : str
        The listing's on-chain metadata hash, ``0x`` hex.
    """
    if record is None:
        return "missing", "the metadata document was not fetched yet", None
    if record.status != "ok" or record.body is None:
        return record.status, record.error, None
    if record.body["keccak"] != metadata_hash.lower():
        return (
            "invalid",
            f"the document hashes to {record.body['keccak']}, not to the listed hash",
            None,
        )
    document: dict[str, Any] = record.body["document"]
    if document.get("owner") != owner:
        return "invalid", f"the document names the owner {document.get('owner')}, not {owner}", None
    return "ok", None, document


class EvidenceLeaf(BaseModel):
    """One leaf of a round's rewards tree as the evidence publishes it."""

    model_config = ConfigDict(extra="ignore")

    account: Annotated[str, StringConstraints(pattern=r"^0x[0-9a-fA-F]{40}$")]
    amount: StrictInt = Field(ge=1)


class EvidenceRewards(BaseModel):
    """The rewards part of a round's evidence: its leaves (the rest is not read here)."""

    model_config = ConfigDict(extra="ignore")

    leaves: list[EvidenceLeaf]


class EvidenceDocument(BaseModel):
    """What the API reads of a round-evidence document (``fedmarket/round-evidence``, v2).

    Only the round it is about and its reward leaves ``{account, amount}``: everything shown from
    it is confirmed by rebuilding the on-chain rewards root, so nothing else needs trusting.
    """

    model_config = ConfigDict(extra="ignore")

    kind: Literal["fedmarket/round-evidence"]
    task_id: StrictInt
    round: StrictInt
    rewards: EvidenceRewards


def evidence_body(evidence: EvidenceDocument) -> dict[str, Any]:
    """The part of a round's evidence the index keeps: its round and reward leaves."""
    return {
        "task_id": evidence.task_id,
        "round": evidence.round,
        "leaves": [[leaf.account, leaf.amount] for leaf in evidence.rewards.leaves],
    }


def fetch_evidence(store: ContentStore, cid: str) -> DocumentRecord:
    """Read a round's evidence document, keeping its round and reward leaves.

    Parameters
    ----------
    store : ContentStore
        The content store.
    cid : str
        ``RoundFinalized.evidenceCid``.
    """
    data = _read(store, cid, EVIDENCE, MAX_EVIDENCE_BYTES)
    if isinstance(data, DocumentRecord):
        return data
    if is_sealed_object(data):  # a task that seals its artifacts: only its key holders read it
        detail = "sealed: the task keeps its evidence encrypted for its key holders"
        return DocumentRecord(cid, EVIDENCE, "invalid", detail)
    try:
        evidence = EvidenceDocument.model_validate(_json(data))
    except (ValidationError, ValueError, TypeError, RecursionError, FedmarketError) as exc:
        log.info("fetch_evidence: %s is not readable round evidence: %s", cid, exc)
        return DocumentRecord(cid, EVIDENCE, "invalid", printable(f"not round evidence: {exc}"))
    return DocumentRecord(cid, EVIDENCE, "ok", None, evidence_body(evidence))


@dataclass(frozen=True)
class Allocation:
    """What a round's evidence says each participant was allocated, as checked against the chain.

    Attributes
    ----------
    status : EvidenceStatus
        Whether the evidence rebuilds the on-chain root and budget.
    amounts : dict of str to int or None
        Wei per account (checksummed) when ``status`` is ``verified`` or ``no_rewards``;
        ``None`` otherwise.
    """

    status: EvidenceStatus
    amounts: dict[str, int] | None


def check_allocation(
    task_id: int,
    round: int,
    body: Mapping[str, Any] | None,
    *,
    rewards_root: bytes,
    budget: int,
) -> Allocation:
    """A finalised round's allocations from its evidence, kept only when they match the chain.

    Parameters
    ----------
    task_id : int
        The task.
    round : int
        The round.
    body : mapping or None
        The evidence's :func:`evidence_body` (``None`` when unreadable).
    rewards_root : bytes
        The round's current on-chain rewards root.
    budget : int
        The round's current on-chain budget.
    """
    if budget == 0:
        return Allocation("no_rewards", {})
    if body is None or (body["task_id"], body["round"]) != (task_id, round):
        return Allocation("unavailable", None)
    amounts = {str(to_checksum_address(a)): int(w) for a, w in body["leaves"]}
    if len(amounts) != len(body["leaves"]):  # an account twice
        return Allocation("mismatch", None)
    try:
        tree = RewardTree.build(task_id, round, amounts)
    except (FedmarketError, ValueError):  # leaves no tree can hold
        return Allocation("mismatch", None)
    if bytes(tree.root) != bytes(rewards_root) or tree.budget != budget:
        return Allocation("mismatch", None)
    return Allocation("verified", amounts)


__all__ = [
    "EVIDENCE",
    "METADATA",
    "Allocation",
    "DocumentRecord",
    "EvidenceDocument",
    "EvidenceLeaf",
    "EvidenceRewards",
    "check_allocation",
    "evidence_body",
    "fetch_evidence",
    "fetch_metadata",
    "listing_document",
    "printable",
    "unstorable_text",
]
