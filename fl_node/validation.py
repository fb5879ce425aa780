"""Checking one committed update: its bytes against its commitment, its content against the round.

The coordinator runs :func:`check_update` on every commitment of a round once the reveal deadline
passed; the audit runs the very same function to confirm every verdict. An update is rejected
(with the reason of :class:`~fl_node.errors.UpdateRejectedError`) when its bytes cannot be fetched
by the committed CID, differ from the committed hash, are not a valid update of the model, or
declare another task, round, author, base model or sample count than the commitment.

A task that seals its updates (:mod:`fl_node.sealed`) commits to the plaintext's hash and to the
sealed object's CID. Without any key, the bytes are checked against the CID, then the object must
be sealed (``unsealed``) with its key wrapped to every holder the spec lists (``unreadable``);
then it is opened with the reader's key (:attr:`RoundContext.update_key`; ``unreadable`` when a
wrap or the envelope fails authentication) and the plaintext checked against the hash. A reader
holding none of the wrapped keys gets the verdict :data:`SEALED_NO_KEY` (not a rejection: it
could not check). Known limit: a participant may wrap a valid key to the audit committee and a
bad one to the coordinator; the coordinator then rejects the update as ``unreadable`` and an
auditor, who cannot see the coordinator's unwrap fail, recomputes it as accepted.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import torch

from fl_node.errors import UpdateRejectedError
from fl_node.evidence import CommitmentRecord, UpdateVerdict
from fl_node.sealed import (
    UNREADABLE,
    UNSEALED,
    holder_id,
    is_sealed_update,
    open_sealed_update,
    read_sealed_update,
)
from fl_node.serialization import UpdateMeta, decode_update
from fl_node.strategies import ClientUpdate
from kernel.types import Address, Cid
from storage import (
    ContentIntegrityError,
    ContentNotFoundError,
    ContentStore,
    InvalidCidError,
    content_hash,
    validate_cid,
)
from storage.sealing import public_key_of

log = logging.getLogger(__name__)

MAX_UPDATE_BYTES = 64 * 1024 * 1024
"""Largest update the coordinator will download."""

FLAG_REASONS = ("wrong_participant", "samples_mismatch", "robust_outlier")
"""Rejections that prove malice, so the coordinator flags the author (slashed after the window):
bytes that name another author (a copied update) and a sample count other than the one the
author committed to (an inflated weight), and an update the task's robust aggregation rule finds
beyond its flag threshold from the round's robust reference (``robust_outlier``: the spec states
the threshold, and the evidence holds every input the audit needs to recompute it). Other
rejections may be accidents."""

SEALED_NO_KEY = "sealed_no_key"
"""The verdict of a reader without a key on a sealed update: not checked (never published)."""


@dataclass(frozen=True)
class RoundContext:
    """What an update of a round must agree with.

    Attributes
    ----------
    task_id : int
        The task.
    round : int
        The round.
    base_model_hash : str
        0x-hex keccak-256 of the model the round opened with.
    shapes : mapping of str to tuple of int
        The model's trainable tensors and their shapes.
    sampled : frozenset of str or None, default None
        Lower-case addresses the task's client sampling chose this round (``None``: everyone).
    holders : tuple of str, default ()
        The key holders of a task that seals its updates (its spec's ``sealed_updates``); empty
        for a task that does not.
    update_key : bytes or None, default None
        The reader's secp256k1 private key, to open sealed updates wrapped to it (never shown).
    """

    task_id: int
    round: int
    base_model_hash: str
    shapes: Mapping[str, tuple[int, ...]]
    sampled: frozenset[str] | None = None
    holders: tuple[str, ...] = ()
    update_key: bytes | None = field(default=None, repr=False)


def fetch_update(
    store: ContentStore, commitment: CommitmentRecord, context: RoundContext | None = None
) -> bytes:
    """The committed update's bytes, checked against the committed hash and their CID.

    Parameters
    ----------
    store : ContentStore
        Where updates are revealed.
    commitment : CommitmentRecord
        The commitment (CID and update hash).
    context : RoundContext or None, default None
        The round; when its ``holders`` say the task seals its updates, the stored object is
        checked against the CID and its wraps against the holders, opened with the context's
        ``update_key``, and the plaintext (returned) checked against the hash.

    Raises
    ------
    UpdateRejectedError
        ``missing``, ``too_large``, ``hash_mismatch`` or ``cid_mismatch``; for a sealed task also
        ``unsealed``, ``unreadable`` and, without a key, :data:`SEALED_NO_KEY`.
    """
    try:
        cid = validate_cid(commitment.cid)
        data = store.get(cid, verify=False, max_bytes=MAX_UPDATE_BYTES)
    except (ContentNotFoundError, InvalidCidError) as exc:
        raise UpdateRejectedError("missing", str(exc)) from None
    except ContentIntegrityError as exc:
        raise UpdateRejectedError("too_large", str(exc)) from None
    if context is not None and context.holders:
        return _open_update(store, cid, data, commitment, context)
    _check_hash(data, commitment)
    _check_cid(store, cid, data)
    return data


def _check_hash(plaintext: bytes, commitment: CommitmentRecord) -> None:
    if "0x" + content_hash(plaintext).hex() != commitment.update_hash:
        raise UpdateRejectedError(
            "hash_mismatch", "the revealed bytes do not hash to the committed update hash"
        )


def _check_cid(store: ContentStore, cid: Cid, data: bytes) -> None:
    try:
        store.verify(cid, data)
    except ContentIntegrityError as exc:
        raise UpdateRejectedError("cid_mismatch", str(exc)) from None


def _open_update(
    store: ContentStore,
    cid: Cid,
    data: bytes,
    commitment: CommitmentRecord,
    context: RoundContext,
) -> bytes:
    """A sealed update: its CID and its wraps (no key needed), then its plaintext and hash."""
    holders, key = context.holders, context.update_key
    _check_cid(store, cid, data)
    if not is_sealed_update(data):
        raise UpdateRejectedError(UNSEALED, "the task seals its updates; this one is plaintext")
    wrapped = read_sealed_update(data).holders()
    missing = [h for h in holders if h not in wrapped]
    if missing:
        detail = f"its key is not wrapped to {len(missing)} of the task's {len(holders)} holders"
        raise UpdateRejectedError(UNREADABLE, detail)
    if key is None or holder_id(public_key_of(key)) not in wrapped:
        detail = f"sealed to {len(wrapped)} holders; the reader holds none of their keys"
        raise UpdateRejectedError(SEALED_NO_KEY, detail)
    plaintext = open_sealed_update(
        data, key, task_id=context.task_id, round_=context.round, participant=commitment.participant
    )
    _check_hash(plaintext, commitment)
    return plaintext


def check_metadata(meta: UpdateMeta, commitment: CommitmentRecord, context: RoundContext) -> None:
    """Raise :class:`UpdateRejectedError` unless the update's metadata agrees with its commitment.

    Parameters
    ----------
    meta : UpdateMeta
        What the update declares.
    commitment : CommitmentRecord
        What its author committed to.
    context : RoundContext
        The round.
    """
    checks = (
        ("wrong_task", meta.task_id == context.task_id, f"update is for task {meta.task_id}"),
        ("wrong_round", meta.round == context.round, f"update is for round {meta.round}"),
        (
            "wrong_participant",
            meta.participant.lower() == commitment.participant.lower(),
            f"update names {meta.participant}",
        ),
        (
            "wrong_base",
            meta.base_model_hash == context.base_model_hash,
            "update starts from another global model",
        ),
        (
            "samples_mismatch",
            meta.samples == commitment.samples,
            f"update declares {meta.samples} samples, its commitment {commitment.samples}",
        ),
    )
    for reason, ok, detail in checks:
        if not ok:
            raise UpdateRejectedError(reason, detail)


def check_update(
    store: ContentStore, commitment: CommitmentRecord, context: RoundContext
) -> tuple[UpdateVerdict, ClientUpdate | None]:
    """Fetch and validate one committed update; never raises for a bad update.

    Parameters
    ----------
    store : ContentStore
        Where updates are revealed.
    commitment : CommitmentRecord
        The update's commitment.
    context : RoundContext
        The round it must agree with.

    Returns
    -------
    tuple of (UpdateVerdict, ClientUpdate or None)
        The verdict, and the update when it is accepted.
    """
    base = UpdateVerdict(
        participant=commitment.participant,
        accepted=False,
        reason=None,
        cid=commitment.cid,
        update_hash=commitment.update_hash,
        samples=commitment.samples,
    )
    if context.sampled is not None and commitment.participant.lower() not in context.sampled:
        detail = "the task's client sampling did not choose this participant this round"
        return replace(base, reason="not_sampled", detail=detail), None
    data = b""
    try:
        data = fetch_update(store, commitment, context)
        delta, meta = decode_update(data, context.shapes)
        check_metadata(meta, commitment, context)
    except UpdateRejectedError as exc:
        log.warning("check_update: rejected %s: %s", commitment.participant, exc)
        return replace(base, reason=exc.reason, detail=exc.detail, bytes=len(data)), None
    verdict = replace(base, accepted=True, train_loss=meta.train_loss, bytes=len(data))
    return verdict, ClientUpdate(delta=delta, samples=commitment.samples)


def shapes_of(params: Mapping[str, torch.Tensor]) -> dict[str, tuple[int, ...]]:
    """The shapes of a model's trainable tensors.

    Parameters
    ----------
    params : mapping of str to Tensor
        ``trainable_state(model)``.
    """
    return {k: tuple(v.shape) for k, v in params.items()}


def flagged_in(verdicts: list[UpdateVerdict]) -> tuple[Address, ...]:
    """The authors of updates rejected for a reason that proves malice (:data:`FLAG_REASONS`).

    Parameters
    ----------
    verdicts : list of UpdateVerdict
        The round's verdicts, in join order.
    """
    return tuple(v.participant for v in verdicts if v.reason in FLAG_REASONS)


__all__ = [
    "FLAG_REASONS",
    "MAX_UPDATE_BYTES",
    "SEALED_NO_KEY",
    "RoundContext",
    "check_metadata",
    "check_update",
    "fetch_update",
    "flagged_in",
    "shapes_of",
]
