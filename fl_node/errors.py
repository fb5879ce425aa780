"""Errors of the federated-learning layer."""

from __future__ import annotations

from kernel.errors import (
    FedmarketError,
    IntegrityError,
    InvalidInputError,
    NotFoundError,
    OperationTimeoutError,
    ProtocolError,
    RefusedError,
    ServiceUnavailableError,
)


class FlError(FedmarketError):
    """Root of the federated-learning errors (never raised itself: each error has a family)."""


class SpecError(FlError, InvalidInputError):
    """A task or model specification is malformed or does not match its on-chain hash."""


class ModelIntegrityError(FlError, IntegrityError):
    """A global model's bytes do not match the hash anchored on-chain, or cannot be parsed."""


class UpdateRejectedError(FlError, IntegrityError):
    """An update failed validation; ``reason`` is a short machine-readable code.

    Codes: ``missing`` (not revealed: not retrievable by its committed CID), ``hash_mismatch``
    (bytes differ from the committed update hash), ``cid_mismatch`` (bytes differ from their
    CID), ``malformed`` (not a valid safetensors update), ``wrong_task`` / ``wrong_round`` /
    ``wrong_participant`` / ``wrong_base`` (metadata disagrees with the commitment and the
    chain), ``samples_mismatch`` (another sample count than committed), ``shape_mismatch``,
    ``non_finite``, ``too_large``; in a task that seals its updates (:mod:`fl_node.sealed`)
    ``unreadable`` (the coordinator's key cannot open it) and ``unsealed`` (plaintext).
    """

    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}")


class DataError(FlError, InvalidInputError):
    """A dataset is unknown, malformed, or has the wrong shape."""


class DataIntegrityError(FlError, IntegrityError):
    """A dataset file does not match its pinned sha256: corrupted or tampered with."""


class DataUnavailableError(FlError, ServiceUnavailableError):
    """A dataset file is missing here and its pinned source cannot be reached."""


class AggregationError(FlError, InvalidInputError):
    """Updates cannot be combined: none given, weights that do not fit, or differing tensors."""


class MalformedArtifactError(FlError, IntegrityError):
    """Bytes are not a fedmarket safetensors artifact (header, dtypes, offsets or metadata)."""


class NotCoordinatorError(FlError, RefusedError):
    """The signer is not the coordinator the chain records for the task."""


class TaskStateError(FlError, RefusedError):
    """The task is not in the state a step needs (no task attached, no round open)."""


class RoundTimeoutError(FlError, OperationTimeoutError):
    """A task did not reach the awaited state before its deadline."""


class BatchDocumentError(FlError, IntegrityError):
    """A commitment batch's document is missing, malformed, or not the one anchored on-chain."""


class ChallengeDocumentError(FlError, ProtocolError):
    """A challenge-evidence document does not follow its shape (:mod:`fl_node.challenge`)."""


class NothingToChallengeError(FlError, InvalidInputError):
    """A challenge was asked for a round whose audit found nothing wrong."""


class DeletionRecordError(FlError, IntegrityError):
    """A deletion record's signature or anchor does not match its content (data forget)."""


class ForgetTargetError(FlError, InvalidInputError):
    """A path given to ``data forget`` is missing, of the wrong kind, or too broad to delete."""


class UnknownTaskError(FlError, NotFoundError):
    """A task id that FedTask never issued."""


class EvidenceError(FlError, ProtocolError):
    """A round-evidence document does not follow its schema (:mod:`fl_node.evidence`).

    Attributes
    ----------
    field : str
        Where the fault is, as a path into the document (``"evidence.updates[2].samples"``).
    problem : str
        What is wrong there.
    """

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field} {problem}")
