"""The round evidence: the one record the coordinator publishes per round and the audit reads.

:class:`RoundEvidence` is a tree of frozen dataclasses. The coordinator builds one per round and
stores :meth:`RoundEvidence.to_dict` as canonical JSON in the content store; the chain records
the CID (``RoundFinalized.evidenceCid``). The audit reads it back with
:meth:`RoundEvidence.from_dict`, which checks the document against the schema and raises
:class:`~fl_node.errors.EvidenceError` naming the first field at fault.

``evidence.schema.json`` beside this module (:data:`SCHEMA_PATH`) describes the same shape as a
JSON Schema (draft 2020-12) for auditors who do not run Python; a test checks that every evidence
file the test world produces validates against it and that this module and the schema agree on
what they reject. The reader is stricter in one respect: an integer field must hold a JSON
integer (``2``, not ``2.0``, which JSON Schema counts as an integer too).

Versioning: the ``kind`` string names the document and :data:`EVIDENCE_VERSION` is its schema
version. Version 1 documents carry no ``version`` key: the first evidence files were published
before the field existed and their CIDs are on-chain, so adding the key would change every CID.
A later version writes ``"version": N``; a reader refuses versions it does not know.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Set
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from fl_node.errors import EvidenceError
from fl_node.evaluation import BinaryMetrics
from kernel.types import Address

EVIDENCE_KIND = "fedmarket/round-evidence"
"""The ``kind`` of every round-evidence document."""

EVIDENCE_VERSION = 1
"""The schema version this module writes (implied when a document has no ``version`` key)."""

SUPPORTED_VERSIONS = (1,)
"""Schema versions :meth:`RoundEvidence.from_dict` can read."""

SCHEMA_PATH = Path(__file__).with_name("evidence.schema.json")
"""The JSON Schema of the document (draft 2020-12)."""

NOT_SUBMITTED = "not_submitted"
"""The verdict reason of a participant that anchored nothing in the round."""

REJECTION_REASONS = (
    NOT_SUBMITTED,
    "missing",
    "too_large",
    "hash_mismatch",
    "cid_mismatch",
    "malformed",
    "shape_mismatch",
    "non_finite",
    "wrong_task",
    "wrong_round",
    "wrong_participant",
    "wrong_base",
    "samples_mismatch",
)
"""Every reason a verdict may give (see :class:`~fl_node.errors.UpdateRejectedError`)."""

_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_HASH = re.compile(r"0x[0-9a-f]{64}")
_COALITION = re.compile(r"([0-9]+(,[0-9]+)*)?")
_METRICS = tuple(f.name for f in fields(BinaryMetrics))
_T = TypeVar("_T")


# ---- reading helpers: each checks one JSON value and names it when it is wrong ----------------
def _keys(cls: type) -> set[str]:
    """The JSON keys of a record: its dataclass fields."""
    return {f.name for f in fields(cls)}


def _mapping(value: Any, where: str) -> dict[Any, Any]:
    if not isinstance(value, dict):
        raise EvidenceError(where, f"must be an object, not {type(value).__name__}")
    return value


def _object(
    value: Any, where: str, required: Set[str], optional: Set[str] = frozenset()
) -> dict[str, Any]:
    """``value`` when it is an object with exactly the ``required`` keys (plus ``optional``)."""
    doc = _mapping(value, where)
    missing = sorted(required - doc.keys())
    if missing:
        raise EvidenceError(f"{where}.{missing[0]}", "is missing")
    extra = sorted(str(k) for k in doc.keys() - required - optional)
    if extra:
        raise EvidenceError(f"{where}.{extra[0]}", "is not a field of the schema")
    return doc


def _int(value: Any, where: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise EvidenceError(where, f"must be an integer, not {type(value).__name__}")
    if value < minimum:
        raise EvidenceError(where, f"must be >= {minimum}")
    return value


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise EvidenceError(where, f"must be a number, not {type(value).__name__}")
    if not math.isfinite(value):
        raise EvidenceError(where, "must be finite")
    return value


def _str(value: Any, where: str, pattern: re.Pattern[str] | None = None) -> str:
    if not isinstance(value, str):
        raise EvidenceError(where, f"must be a string, not {type(value).__name__}")
    if pattern is not None and not pattern.fullmatch(value):
        raise EvidenceError(where, f"must match {pattern.pattern}")
    return value


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise EvidenceError(where, f"must be a boolean, not {type(value).__name__}")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise EvidenceError(where, f"must be an array, not {type(value).__name__}")
    return value


def _address(value: Any, where: str) -> Address:
    return Address(_str(value, where, _ADDRESS))


def _hash(value: Any, where: str) -> str:
    return _str(value, where, _HASH)


def _optional(value: Any, where: str, read: Callable[[Any, str], _T]) -> _T | None:
    return None if value is None else read(value, where)


# ---- the document -----------------------------------------------------------------------------
@dataclass(frozen=True)
class ModelRef:
    """A model in the content store: its CID and its 0x-hex keccak-256."""

    cid: str
    hash: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"cid": self.cid, "hash": self.hash}

    @classmethod
    def from_dict(cls, value: Any, where: str) -> ModelRef:
        """Read and check the JSON form at ``where``."""
        doc = _object(value, where, {"cid", "hash"})
        return cls(cid=_str(doc["cid"], f"{where}.cid"), hash=_hash(doc["hash"], f"{where}.hash"))


@dataclass(frozen=True)
class UpdateVerdict:
    """The coordinator's decision on one participant's update in one round."""

    participant: Address
    accepted: bool
    reason: str | None  # None when accepted; "not_submitted" when nothing was anchored
    detail: str = ""
    cid: str | None = None
    update_hash: str | None = None
    samples: int = 0
    train_loss: float | None = None
    bytes: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "participant": self.participant,
            "accepted": self.accepted,
            "reason": self.reason,
            "detail": self.detail,
            "cid": self.cid,
            "update_hash": self.update_hash,
            "samples": self.samples,
            "train_loss": self.train_loss,
            "bytes": self.bytes,
        }

    @classmethod
    def from_dict(cls, value: Any, where: str) -> UpdateVerdict:
        """Read and check the JSON form at ``where``."""
        doc = _object(value, where, _keys(cls))
        reason = _optional(doc["reason"], f"{where}.reason", _str)
        if reason is not None and reason not in REJECTION_REASONS:
            raise EvidenceError(f"{where}.reason", f"{reason!r} is not a known reason")
        return cls(
            participant=_address(doc["participant"], f"{where}.participant"),
            accepted=_bool(doc["accepted"], f"{where}.accepted"),
            reason=reason,
            detail=_str(doc["detail"], f"{where}.detail"),
            cid=_optional(doc["cid"], f"{where}.cid", _str),
            update_hash=_optional(doc["update_hash"], f"{where}.update_hash", _hash),
            samples=_int(doc["samples"], f"{where}.samples"),
            train_loss=_optional(doc["train_loss"], f"{where}.train_loss", _number),
            bytes=_int(doc["bytes"], f"{where}.bytes"),
        )


@dataclass(frozen=True)
class AggregationRecord:
    """How the accepted updates were combined: the strategy and each update's weight."""

    strategy: str
    server_lr: float
    weights: Mapping[Address, int]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "strategy": self.strategy,
            "server_lr": self.server_lr,
            "weights": dict(self.weights),
        }

    @classmethod
    def from_dict(cls, value: Any, where: str) -> AggregationRecord:
        """Read and check the JSON form at ``where``."""
        doc = _object(value, where, {"strategy", "server_lr", "weights"})
        weights = _mapping(doc["weights"], f"{where}.weights")
        return cls(
            strategy=_str(doc["strategy"], f"{where}.strategy"),
            server_lr=_number(doc["server_lr"], f"{where}.server_lr"),
            weights={
                _address(k, f"{where}.weights key"): _int(v, f"{where}.weights.{k}")
                for k, v in weights.items()
            },
        )


@dataclass(frozen=True)
class ContributionRecord:
    """How contributions were measured: the method, every coalition's utility, the scores."""

    method: str
    utility: str
    validation_rows: int
    validation_data_hash: str
    utilities: Mapping[str, float]
    scores: tuple[float, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "method": self.method,
            "utility": self.utility,
            "validation_rows": self.validation_rows,
            "validation_data_hash": self.validation_data_hash,
            "utilities": dict(self.utilities),
            "scores": list(self.scores),
        }

    @classmethod
    def from_dict(cls, value: Any, where: str) -> ContributionRecord:
        """Read and check the JSON form at ``where``."""
        doc = _object(value, where, _keys(cls))
        utilities = _mapping(doc["utilities"], f"{where}.utilities")
        return cls(
            method=_str(doc["method"], f"{where}.method"),
            utility=_str(doc["utility"], f"{where}.utility"),
            validation_rows=_int(doc["validation_rows"], f"{where}.validation_rows"),
            validation_data_hash=_hash(
                doc["validation_data_hash"], f"{where}.validation_data_hash"
            ),
            utilities={
                _str(k, f"{where}.utilities key", _COALITION): _number(v, f"{where}.utilities.{k}")
                for k, v in utilities.items()
            },
            scores=tuple(
                _number(s, f"{where}.scores[{i}]")
                for i, s in enumerate(_list(doc["scores"], f"{where}.scores"))
            ),
        )


@dataclass(frozen=True)
class RewardSplit:
    """The round's budget, the fixed-point scores sent on-chain and the amounts they pay."""

    budget: int
    scores: tuple[int, ...]
    amounts: tuple[int, ...]
    split: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "budget": self.budget,
            "scores": list(self.scores),
            "amounts": list(self.amounts),
            "split": self.split,
        }

    @classmethod
    def from_dict(cls, value: Any, where: str) -> RewardSplit:
        """Read and check the JSON form at ``where``."""
        doc = _object(value, where, _keys(cls))

        def ints(key: str) -> tuple[int, ...]:
            items = _list(doc[key], f"{where}.{key}")
            return tuple(_int(v, f"{where}.{key}[{i}]") for i, v in enumerate(items))

        return cls(
            budget=_int(doc["budget"], f"{where}.budget"),
            scores=ints("scores"),
            amounts=ints("amounts"),
            split=_str(doc["split"], f"{where}.split"),
        )


def _metrics_from_dict(value: Any, where: str) -> BinaryMetrics:
    doc = _object(value, where, set(_METRICS))
    numbers = {k: _number(doc[k], f"{where}.{k}") for k in _METRICS}
    rows = numbers.pop("rows")
    if not float(rows).is_integer() or rows < 0:
        raise EvidenceError(f"{where}.rows", "must be a whole number of rows")
    return BinaryMetrics(**numbers, rows=int(rows))


@dataclass(frozen=True)
class RoundMetrics:
    """The new global model's metrics on the validation and the held-out test set."""

    validation: BinaryMetrics
    test: BinaryMetrics

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (every metric a float, ``rows`` included)."""
        return {"validation": self.validation.to_dict(), "test": self.test.to_dict()}

    @classmethod
    def from_dict(cls, value: Any, where: str) -> RoundMetrics:
        """Read and check the JSON form at ``where``."""
        doc = _object(value, where, {"validation", "test"})
        return cls(
            validation=_metrics_from_dict(doc["validation"], f"{where}.validation"),
            test=_metrics_from_dict(doc["test"], f"{where}.test"),
        )


@dataclass(frozen=True)
class RoundEvidence:
    """Everything the coordinator decided in one round, with every input's CID.

    Parameters
    ----------
    task_id : int
        The task.
    round : int
        The round (from 1).
    coordinator : str
        The coordinator's address.
    base_model : ModelRef
        The global model the round started from.
    participants : tuple of str
        The task's participants in join order.
    updates : tuple of UpdateVerdict
        One verdict per participant, in join order.
    aggregation : AggregationRecord
        Strategy and weights of the accepted updates.
    contribution : ContributionRecord
        Method, utilities and per-participant contributions.
    rewards : RewardSplit
        Budget, on-chain scores and amounts.
    new_model : ModelRef
        The aggregated global model.
    metrics : RoundMetrics
        The new model's validation and test metrics.
    version : int, default EVIDENCE_VERSION
        Schema version (written only when it is not 1).
    """

    kind: ClassVar[str] = EVIDENCE_KIND

    task_id: int
    round: int
    coordinator: Address
    base_model: ModelRef
    participants: tuple[Address, ...]
    updates: tuple[UpdateVerdict, ...]
    aggregation: AggregationRecord
    contribution: ContributionRecord
    rewards: RewardSplit
    new_model: ModelRef
    metrics: RoundMetrics
    version: int = field(default=EVIDENCE_VERSION)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; its canonical JSON is what the store holds."""
        doc: dict[str, Any] = {
            "kind": self.kind,
            "task_id": self.task_id,
            "round": self.round,
            "coordinator": self.coordinator,
            "base_model": self.base_model.to_dict(),
            "participants": list(self.participants),
            "updates": [v.to_dict() for v in self.updates],
            "aggregation": self.aggregation.to_dict(),
            "contribution": self.contribution.to_dict(),
            "rewards": self.rewards.to_dict(),
            "new_model": self.new_model.to_dict(),
            "metrics": self.metrics.to_dict(),
        }
        if self.version != 1:  # version 1 is implied by its absence (see the module docstring)
            doc["version"] = self.version
        return doc

    @classmethod
    def from_dict(cls, value: Any) -> RoundEvidence:
        """Read a parsed evidence document, checking it against the schema.

        Parameters
        ----------
        value : Any
            The document as :func:`json.loads` returns it.

        Raises
        ------
        EvidenceError
            When the document does not follow the schema; the message names the field.
        """
        doc = _object(value, "evidence", _keys(cls) - {"version"} | {"kind"}, {"version"})
        version = _int(doc.get("version", 1), "evidence.version", minimum=1)
        if version not in SUPPORTED_VERSIONS:
            raise EvidenceError("evidence.version", f"{version} is not a version this reader knows")
        if doc["kind"] != EVIDENCE_KIND:
            raise EvidenceError("evidence.kind", f"must be {EVIDENCE_KIND!r}")
        participants = _list(doc["participants"], "evidence.participants")
        updates = _list(doc["updates"], "evidence.updates")
        return cls(
            task_id=_int(doc["task_id"], "evidence.task_id"),
            round=_int(doc["round"], "evidence.round", minimum=1),
            coordinator=_address(doc["coordinator"], "evidence.coordinator"),
            base_model=ModelRef.from_dict(doc["base_model"], "evidence.base_model"),
            participants=tuple(
                _address(p, f"evidence.participants[{i}]") for i, p in enumerate(participants)
            ),
            updates=tuple(
                UpdateVerdict.from_dict(u, f"evidence.updates[{i}]") for i, u in enumerate(updates)
            ),
            aggregation=AggregationRecord.from_dict(doc["aggregation"], "evidence.aggregation"),
            contribution=ContributionRecord.from_dict(doc["contribution"], "evidence.contribution"),
            rewards=RewardSplit.from_dict(doc["rewards"], "evidence.rewards"),
            new_model=ModelRef.from_dict(doc["new_model"], "evidence.new_model"),
            metrics=RoundMetrics.from_dict(doc["metrics"], "evidence.metrics"),
            version=version,
        )


__all__ = [
    "EVIDENCE_KIND",
    "EVIDENCE_VERSION",
    "NOT_SUBMITTED",
    "REJECTION_REASONS",
    "SCHEMA_PATH",
    "SUPPORTED_VERSIONS",
    "AggregationRecord",
    "ContributionRecord",
    "ModelRef",
    "RewardSplit",
    "RoundEvidence",
    "RoundMetrics",
    "UpdateVerdict",
]
