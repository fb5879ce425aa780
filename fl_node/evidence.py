"""The round evidence: the one record the coordinator publishes per round and the audit reads.

:class:`RoundEvidence` is a tree of frozen dataclasses. The coordinator builds one per round and
stores :meth:`RoundEvidence.to_dict` as canonical JSON in the content store; the chain records
the CID (``RoundFinalized.evidenceCid``). The audit reads it back with
:meth:`RoundEvidence.from_dict`, which checks the document against the schema and raises
:class:`~fl_node.errors.EvidenceError` naming the first field at fault.

It holds everything an auditor needs to recompute the round (protocol v2): the round's commitments
(the batch's root, CID and count, and every commitment with its participant, update hash, sample
count, CID, source and signature), the verdict on every update, the aggregation, every coalition's
utility and the contributions, the round's cap and budget, the rewards (amounts, their Merkle
leaves and root), the participants flagged, and on the last round the contributors' shares. A
task with differential privacy adds ``privacy``: the ``(epsilon, delta)`` spent up to the round,
so the last round's evidence, whose CID and hash the chain holds, records the task's budget with
the final model. Documents of tasks without it carry no ``privacy`` key (their bytes unchanged).

``evidence.schema.json`` beside this module (:data:`SCHEMA_PATH`) describes the same shape as a
JSON Schema (draft 2020-12) for auditors who do not run Python; a test checks that every evidence
file the test world produces validates against it and that this module and the schema agree on
what they reject. The reader is stricter in one respect: an integer field must hold a JSON
integer (``2``, not ``2.0``, which JSON Schema counts as an integer too).

Versioning: the ``kind`` string names the document and :data:`EVIDENCE_VERSION` is its schema
version, always written. Version 1 documents (protocol v1, where the contract paid the scores
itself) carry no ``version`` key; this reader refuses them, as it refuses any version it does not
know.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Set
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from fl_node.errors import EvidenceError
from fl_node.evaluation import BinaryMetrics, Metrics, MulticlassMetrics, RegressionMetrics
from incentives.rewards import RewardPolicy
from kernel.errors import InvalidInputError
from kernel.types import Address

EVIDENCE_KIND = "fedmarket/round-evidence"
"""The ``kind`` of every round-evidence document."""

EVIDENCE_VERSION = 2
"""The schema version this module writes (protocol v2)."""

SUPPORTED_VERSIONS = (2,)
"""Schema versions :meth:`RoundEvidence.from_dict` can read."""

SCHEMA_PATH = Path(__file__).with_name("evidence.schema.json")
"""The JSON Schema of the document (draft 2020-12)."""

NOT_SUBMITTED = "not_submitted"
"""The verdict reason of a participant that committed nothing in the round."""

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
    "not_sampled",
    "empty_update",
    "replayed_update",
    "samples_changed",
    "samples_exceed_listing",
    "dp_noise_missing",
    "robust_outlier",
    "unreadable",
    "unsealed",
    "secagg_dropped",
)
"""Every reason a verdict may give (see :class:`~fl_node.errors.UpdateRejectedError`)."""

COMMITMENT_SOURCES = ("batch", "direct")
"""How a commitment reached the chain: a leaf of the coordinator's batch, or the participant's
own ``commitUpdate`` (which supersedes its leaf)."""

_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_HASH = re.compile(r"0x[0-9a-f]{64}")
_SIGNATURE = re.compile(r"0x[0-9a-f]{130}")
_COALITION = re.compile(r"([0-9]+(,[0-9]+)*)?")
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


def _policy(value: Any, where: str) -> dict[str, Any]:
    """A reward policy's JSON object, checked by :class:`~incentives.rewards.RewardPolicy`."""
    try:
        return RewardPolicy.from_dict(_mapping(value, where)).to_dict()
    except InvalidInputError as exc:
        raise EvidenceError(where, str(exc)) from None


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


def _items(value: Any, where: str, read: Callable[[Any, str], _T]) -> tuple[_T, ...]:
    """Every item of the array at ``where``, each read with ``read``."""
    return tuple(read(v, f"{where}[{i}]") for i, v in enumerate(_list(value, where)))


def _address(value: Any, where: str) -> Address:
    return Address(_str(value, where, _ADDRESS))


def _hash(value: Any, where: str) -> str:
    return _str(value, where, _HASH)


def _choice(value: Any, where: str, allowed: tuple[str, ...]) -> str:
    text = _str(value, where)
    if text not in allowed:
        raise EvidenceError(where, f"{text!r} is not one of {', '.join(allowed)}")
    return text


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
        """Read and check the JSON form at ``where``.

        Parameters
        ----------
        value : Any
            The parsed JSON value.
        where : str
            Its path in the document (for error messages).
        """
        doc = _object(value, where, {"cid", "hash"})
        return cls(cid=_str(doc["cid"], f"{where}.cid"), hash=_hash(doc["hash"], f"{where}.hash"))


@dataclass(frozen=True)
class BatchRef:
    """The round's commitment batch as posted: its Merkle root, document CID and leaf count."""

    root: str
    cid: str
    count: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"root": self.root, "cid": self.cid, "count": self.count}

    @classmethod
    def from_dict(cls, value: Any, where: str) -> BatchRef:
        """Read and check the JSON form at ``where``.

        Parameters
        ----------
        value : Any
            The parsed JSON value.
        where : str
            Its path in the document (for error messages).
        """
        doc = _object(value, where, _keys(cls))
        return cls(
            root=_hash(doc["root"], f"{where}.root"),
            cid=_str(doc["cid"], f"{where}.cid"),
            count=_int(doc["count"], f"{where}.count", minimum=1),
        )


@dataclass(frozen=True)
class CommitmentRecord:
    """One participant's commitment to its update of the round, as the chain holds it.

    ``signature`` is the participant's EIP-712 ``UpdateCommitment`` signature of a batched leaf
    (0x-hex, 65 bytes) and ``None`` for a direct commitment (its transaction is the proof).
    """

    participant: Address
    update_hash: str
    samples: int
    cid: str
    source: str
    signature: str | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "participant": self.participant,
            "update_hash": self.update_hash,
            "samples": self.samples,
            "cid": self.cid,
            "source": self.source,
            "signature": self.signature,
        }

    @classmethod
    def from_dict(cls, value: Any, where: str) -> CommitmentRecord:
        """Read and check the JSON form at ``where``.

        Parameters
        ----------
        value : Any
            The parsed JSON value.
        where : str
            Its path in the document (for error messages).
        """
        doc = _object(value, where, _keys(cls))
        return cls(
            participant=_address(doc["participant"], f"{where}.participant"),
            update_hash=_hash(doc["update_hash"], f"{where}.update_hash"),
            samples=_int(doc["samples"], f"{where}.samples", minimum=1),
            cid=_str(doc["cid"], f"{where}.cid"),
            source=_choice(doc["source"], f"{where}.source", COMMITMENT_SOURCES),
            signature=_optional(
                doc["signature"], f"{where}.signature", lambda v, w: _str(v, w, _SIGNATURE)
            ),
        )


@dataclass(frozen=True)
class CommitmentsRecord:
    """The round's commitments: the batch (``None`` when none was posted) and every commitment.

    ``entries`` holds one commitment per participant that committed, in join order: the batch's
    leaves, each superseded by its participant's direct commitment when there is one.
    """

    batch: BatchRef | None
    entries: tuple[CommitmentRecord, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "batch": None if self.batch is None else self.batch.to_dict(),
            "entries": [e.to_dict() for e in self.entries],
        }

    @classmethod
    def from_dict(cls, value: Any, where: str) -> CommitmentsRecord:
        """Read and check the JSON form at ``where``.

        Parameters
        ----------
        value : Any
            The parsed JSON value.
        where : str
            Its path in the document (for error messages).
        """
        doc = _object(value, where, _keys(cls))
        return cls(
            batch=_optional(doc["batch"], f"{where}.batch", BatchRef.from_dict),
            entries=_items(doc["entries"], f"{where}.entries", CommitmentRecord.from_dict),
        )


@dataclass(frozen=True)
class UpdateVerdict:
    """The coordinator's decision on one participant's update in one round."""

    participant: Address
    accepted: bool
    reason: str | None  # None when accepted; "not_submitted" when nothing was committed
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
        """Read and check the JSON form at ``where``.

        Parameters
        ----------
        value : Any
            The parsed JSON value.
        where : str
            Its path in the document (for error messages).
        """
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
class StateRecord:
    """A stateful strategy's server state (FedOpt's moments) before and after the round.

    Each is stored in the content store (:meth:`~fl_node.strategies.ServerState.to_bytes`);
    ``before`` must be the previous round's ``after`` (the initial state in round 1), so the
    audit can recompute every round on its own and check the chain of states.
    """

    before: ModelRef
    after: ModelRef

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"before": self.before.to_dict(), "after": self.after.to_dict()}

    @classmethod
    def from_dict(cls, value: Any, where: str) -> StateRecord:
        """Read and check the JSON form at ``where``."""
        doc = _object(value, where, {"before", "after"})
        return cls(
            before=ModelRef.from_dict(doc["before"], f"{where}.before"),
            after=ModelRef.from_dict(doc["after"], f"{where}.after"),
        )


@dataclass(frozen=True)
class DefenceDecision:
    """What the task's defence did with one screened update (see ``fl_node.strategies.robust``).

    ``weight`` is its weight in the robust aggregate relative to plain averaging (1 kept as sent,
    0 excluded); ``reason`` says why it was down-weighted, excluded or flagged (empty when kept);
    ``score`` is the rule's own number; ``flagged`` ones are rejected as ``robust_outlier``.
    """

    participant: Address
    weight: float
    reason: str
    score: float
    flagged: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "participant": self.participant,
            "weight": self.weight,
            "reason": self.reason,
            "score": self.score,
            "flagged": self.flagged,
        }

    @classmethod
    def from_dict(cls, value: Any, where: str) -> DefenceDecision:
        """Read and check the JSON form at ``where``."""
        doc = _object(value, where, _keys(cls))
        return cls(
            participant=_address(doc["participant"], f"{where}.participant"),
            weight=_number(doc["weight"], f"{where}.weight"),
            reason=_str(doc["reason"], f"{where}.reason"),
            score=_number(doc["score"], f"{where}.score"),
            flagged=_bool(doc["flagged"], f"{where}.flagged"),
        )


@dataclass(frozen=True)
class BallotRecord:
    """A participant's signed vote of a round: its score of each update, by the update's hash.

    The scores are measured on the voter's own local data; the signature is the voter's EIP-712
    signature of ``(task, round, keccak of the canonical scores)`` (``chain.commitments``).
    """

    voter: Address
    scores: Mapping[str, float]
    signature: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"voter": self.voter, "scores": dict(self.scores), "signature": self.signature}

    @classmethod
    def from_dict(cls, value: Any, where: str) -> BallotRecord:
        """Read and check the JSON form at ``where``."""
        doc = _object(value, where, _keys(cls))
        scores = _mapping(doc["scores"], f"{where}.scores")
        return cls(
            voter=_address(doc["voter"], f"{where}.voter"),
            scores={
                _hash(k, f"{where}.scores key"): _number(v, f"{where}.scores.{k}")
                for k, v in scores.items()
            },
            signature=_str(doc["signature"], f"{where}.signature", _SIGNATURE),
        )


@dataclass(frozen=True)
class DefenceRecord:
    """The task's robust aggregation rule in one round: its parameters and every decision.

    ``decisions`` covers the updates the screening accepted, in join order; ``root_update`` is
    FLTrust's update trained on the coordinator's root data; ``ballots`` are the trusted-vote's
    signed ballots. The audit reruns the rule on the same inputs and must find the same.
    """

    name: str
    params: Mapping[str, float]
    decisions: tuple[DefenceDecision, ...]
    root_update: ModelRef | None = None
    ballots: tuple[BallotRecord, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``root_update`` and ``ballots`` only when there are any)."""
        out: dict[str, Any] = {
            "name": self.name,
            "params": dict(self.params),
            "decisions": [d.to_dict() for d in self.decisions],
        }
        if self.root_update is not None:
            out["root_update"] = self.root_update.to_dict()
        if self.ballots:
            out["ballots"] = [b.to_dict() for b in self.ballots]
        return out

    @classmethod
    def from_dict(cls, value: Any, where: str) -> DefenceRecord:
        """Read and check the JSON form at ``where``."""
        doc = _object(value, where, {"name", "params", "decisions"}, {"root_update", "ballots"})
        params = _mapping(doc["params"], f"{where}.params")
        root = doc.get("root_update")
        return cls(
            name=_str(doc["name"], f"{where}.name"),
            params={str(k): _number(v, f"{where}.params.{k}") for k, v in params.items()},
            decisions=_items(doc["decisions"], f"{where}.decisions", DefenceDecision.from_dict),
            root_update=None if root is None else ModelRef.from_dict(root, f"{where}.root_update"),
            ballots=_items(doc.get("ballots", []), f"{where}.ballots", BallotRecord.from_dict),
        )


@dataclass(frozen=True)
class AggregationRecord:
    """How the accepted updates were combined.

    The strategy, its hyperparameters, each update's weight, and a stateful strategy's server
    state.
    """

    strategy: str
    server_lr: float
    weights: Mapping[Address, int]
    params: Mapping[str, float] = field(default_factory=dict)
    state: StateRecord | None = None
    defence: DefenceRecord | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``params``, ``state`` and ``defence`` only when there are any)."""
        out: dict[str, Any] = {
            "strategy": self.strategy,
            "server_lr": self.server_lr,
            "weights": dict(self.weights),
        }
        if self.params:
            out["params"] = dict(self.params)
        if self.state is not None:
            out["state"] = self.state.to_dict()
        if self.defence is not None:
            out["defence"] = self.defence.to_dict()
        return out

    @classmethod
    def from_dict(cls, value: Any, where: str) -> AggregationRecord:
        """Read and check the JSON form at ``where``.

        Parameters
        ----------
        value : Any
            The parsed JSON value.
        where : str
            Its path in the document (for error messages).
        """
        doc = _object(
            value, where, {"strategy", "server_lr", "weights"}, {"params", "state", "defence"}
        )
        weights = _mapping(doc["weights"], f"{where}.weights")
        params = _mapping(doc.get("params", {}), f"{where}.params")
        state = doc.get("state")
        return cls(
            strategy=_str(doc["strategy"], f"{where}.strategy"),
            server_lr=_number(doc["server_lr"], f"{where}.server_lr"),
            weights={
                _address(k, f"{where}.weights key"): _int(v, f"{where}.weights.{k}")
                for k, v in weights.items()
            },
            params={str(k): _number(v, f"{where}.params.{k}") for k, v in params.items()},
            state=None if state is None else StateRecord.from_dict(state, f"{where}.state"),
            defence=_optional(doc.get("defence"), f"{where}.defence", DefenceRecord.from_dict),
        )


@dataclass(frozen=True)
class ContributionRecord:
    """How contributions were measured: the method, every coalition's utility, the scores.

    ``seed`` and ``params`` are the estimator's seed of the round and its parameters: rerunning
    the method with them on ``utilities`` gives ``scores`` bit for bit (the audit does).
    """

    method: str
    utility: str
    validation_rows: int
    validation_data_hash: str
    utilities: Mapping[str, float]
    scores: tuple[float, ...]
    seed: int = 0
    params: Mapping[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``params`` only when there are any)."""
        out: dict[str, Any] = {
            "method": self.method,
            "utility": self.utility,
            "validation_rows": self.validation_rows,
            "validation_data_hash": self.validation_data_hash,
            "utilities": dict(self.utilities),
            "scores": list(self.scores),
            "seed": self.seed,
        }
        if self.params:
            out["params"] = dict(self.params)
        return out

    @classmethod
    def from_dict(cls, value: Any, where: str) -> ContributionRecord:
        """Read and check the JSON form at ``where``.

        Parameters
        ----------
        value : Any
            The parsed JSON value.
        where : str
            Its path in the document (for error messages).
        """
        doc = _object(value, where, _keys(cls) - {"seed", "params"}, {"seed", "params"})
        utilities = _mapping(doc["utilities"], f"{where}.utilities")
        params = _mapping(doc.get("params", {}), f"{where}.params")
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
            scores=_items(doc["scores"], f"{where}.scores", _number),
            seed=_int(doc.get("seed", 0), f"{where}.seed"),
            params={
                _str(k, f"{where}.params key"): _number(v, f"{where}.params.{k}")
                for k, v in params.items()
            },
        )


@dataclass(frozen=True)
class RewardLeaf:
    """One leaf of the round's rewards tree: ``(taskId, round, account, amount)``."""

    account: Address
    amount: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"account": self.account, "amount": self.amount}

    @classmethod
    def from_dict(cls, value: Any, where: str) -> RewardLeaf:
        """Read and check the JSON form at ``where``.

        Parameters
        ----------
        value : Any
            The parsed JSON value.
        where : str
            Its path in the document (for error messages).
        """
        doc = _object(value, where, _keys(cls))
        return cls(
            account=_address(doc["account"], f"{where}.account"),
            amount=_int(doc["amount"], f"{where}.amount", minimum=1),
        )


@dataclass(frozen=True)
class RewardSplit:
    """The round's cap and budget, the fixed-point scores, the amounts and their Merkle tree.

    Attributes
    ----------
    cap : int
        The round's on-chain budget cap when it was finalised (``roundCap``).
    budget : int
        What the round pays (at most ``cap``): the sum of ``amounts``.
    scores : tuple of int
        Fixed-point scores per participant in join order (1.0 = 10**18), 0 unless accepted.
    amounts : tuple of int
        Wei per participant in join order.
    split : str
        How amounts follow from scores.
    root : str
        The rewards root posted on-chain (zero when the budget is zero).
    leaves : tuple of RewardLeaf
        The positive amounts, in join order: the leaves under ``root``.
    improvement : float or None
        The round's measured gain ``v(all accepted) - v(none)`` the budget followed (NaN when
        it could not be measured; ``None`` in evidence written before reward policies).
    policy : mapping or None
        The spec's reward policy (:meth:`incentives.rewards.RewardPolicy.to_dict`) the round
        was paid under (``None`` before reward policies).
    """

    cap: int
    budget: int
    scores: tuple[int, ...]
    amounts: tuple[int, ...]
    split: str
    root: str
    leaves: tuple[RewardLeaf, ...]
    improvement: float | None = None
    policy: Mapping[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "cap": self.cap,
            "budget": self.budget,
            "scores": list(self.scores),
            "amounts": list(self.amounts),
            "split": self.split,
            "root": self.root,
            "leaves": [leaf.to_dict() for leaf in self.leaves],
            **({} if self.improvement is None else {"improvement": self.improvement}),
            **({} if self.policy is None else {"policy": dict(self.policy)}),
        }

    @classmethod
    def from_dict(cls, value: Any, where: str) -> RewardSplit:
        """Read and check the JSON form at ``where``.

        Parameters
        ----------
        value : Any
            The parsed JSON value.
        where : str
            Its path in the document (for error messages).
        """
        optional = {"improvement", "policy"}
        doc = _object(value, where, _keys(cls) - optional, optional)
        improvement = doc.get("improvement")
        return cls(
            improvement=None
            if improvement is None
            else _number(improvement, f"{where}.improvement"),
            policy=None if "policy" not in doc else _policy(doc["policy"], f"{where}.policy"),
            cap=_int(doc["cap"], f"{where}.cap"),
            budget=_int(doc["budget"], f"{where}.budget"),
            scores=_items(doc["scores"], f"{where}.scores", _int),
            amounts=_items(doc["amounts"], f"{where}.amounts", _int),
            split=_str(doc["split"], f"{where}.split"),
            root=_hash(doc["root"], f"{where}.root"),
            leaves=_items(doc["leaves"], f"{where}.leaves", RewardLeaf.from_dict),
        )


@dataclass(frozen=True)
class SharesRecord:
    """The last round's shares: cumulative contributions and the basis points they give."""

    contributions: tuple[float, ...]
    bps: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"contributions": list(self.contributions), "bps": list(self.bps)}

    @classmethod
    def from_dict(cls, value: Any, where: str) -> SharesRecord:
        """Read and check the JSON form at ``where``.

        Parameters
        ----------
        value : Any
            The parsed JSON value.
        where : str
            Its path in the document (for error messages).
        """
        doc = _object(value, where, _keys(cls))
        bps = _items(doc["bps"], f"{where}.bps", _int)
        for i, b in enumerate(bps):
            if b > 10_000:
                raise EvidenceError(f"{where}.bps[{i}]", "must be <= 10000")
        return cls(
            contributions=_items(doc["contributions"], f"{where}.contributions", _number),
            bps=bps,
        )


def _metrics_from_dict(value: Any, where: str) -> Metrics:
    """Binary, multi-class or regression metrics, told apart by ``macro_f1`` and ``rmse``."""
    keys = set(_mapping(value, where))
    record: type[Metrics] = BinaryMetrics
    if "macro_f1" in keys:
        record = MulticlassMetrics
    elif "rmse" in keys or "mae" in keys:
        record = RegressionMetrics
    names = tuple(f.name for f in fields(record))
    doc = _object(value, where, set(names))
    numbers = {k: _number(doc[k], f"{where}.{k}") for k in names}
    rows = numbers.pop("rows")
    if not float(rows).is_integer() or rows < 0:
        raise EvidenceError(f"{where}.rows", "must be a whole number of rows")
    return record(**numbers, rows=int(rows))


@dataclass(frozen=True)
class RoundMetrics:
    """The new global model's metrics on the validation and the held-out test set."""

    validation: Metrics
    test: Metrics

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (every metric a float, ``rows`` included)."""
        return {"validation": self.validation.to_dict(), "test": self.test.to_dict()}

    @classmethod
    def from_dict(cls, value: Any, where: str) -> RoundMetrics:
        """Read and check the JSON form at ``where``.

        Parameters
        ----------
        value : Any
            The parsed JSON value.
        where : str
            Its path in the document (for error messages).
        """
        doc = _object(value, where, {"validation", "test"})
        return cls(
            validation=_metrics_from_dict(doc["validation"], f"{where}.validation"),
            test=_metrics_from_dict(doc["test"], f"{where}.test"),
        )


PRIVACY_MODES = ("dp-fedavg", "dp-sgd", "dp-fedavg+secagg")
"""The differential-privacy modes (:data:`fl_node.dp.DP_MODES`, and
:data:`fl_node.dp.DISTRIBUTED_MODE`: dp-fedavg with the noise split in a secagg task)."""

PRIVACY_ACCOUNTANTS = ("rdp", "prv")
"""The accountants (:data:`fl_node.dp.ACCOUNTANTS`)."""


@dataclass(frozen=True)
class PrivacyRecord:
    """The differential privacy a task's participants have spent up to the round.

    ``epsilon`` is what a participant trained in every round so far spends at ``delta``
    (:meth:`fl_node.task.TaskSpec.privacy_spent`): ``steps`` steps of the Gaussian mechanism of
    ``noise_multiplier`` with Poisson rate ``sample_rate`` and L2 bound ``clip_norm``, counted by
    ``accountant``. ``mode`` says which unit it protects (dp-fedavg: a participant's whole
    dataset; dp-sgd: one row; see :mod:`fl_node.dp.config`); ``dp-fedavg+secagg`` protects a
    participant's whole dataset in the group sums the coordinator sees (the noise is split among
    a group's members; colluding members see less, :meth:`~fl_node.task.TaskSpec.collusion_spent`).
    """

    mode: str
    epsilon: float
    delta: float
    noise_multiplier: float
    clip_norm: float
    sample_rate: float
    steps: int
    accountant: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, value: Any, where: str) -> PrivacyRecord:
        """Read and check the JSON form at ``where``."""
        doc = _object(value, where, _keys(cls))
        numbers = ("epsilon", "delta", "noise_multiplier", "clip_norm", "sample_rate")
        read = {k: _number(doc[k], f"{where}.{k}") for k in numbers}
        if read["epsilon"] < 0 or not 0 < read["delta"] < 1 or not 0 < read["sample_rate"] <= 1:
            raise EvidenceError(where, "needs epsilon >= 0, 0 < delta < 1, 0 < sample_rate <= 1")
        return cls(
            mode=_choice(doc["mode"], f"{where}.mode", PRIVACY_MODES),
            steps=_int(doc["steps"], f"{where}.steps"),
            accountant=_choice(doc["accountant"], f"{where}.accountant", PRIVACY_ACCOUNTANTS),
            **read,
        )


@dataclass(frozen=True)
class GroupRecord:
    """One SecAgg group of a round (tasks with ``aggregation: "secagg"``).

    Attributes
    ----------
    group : int
        Its index in the round's public partition.
    members : tuple of str
        Its members (member id ``i`` is ``members[i]``).
    survivors : tuple of str
        The members whose masked input is in the sum (empty when the group failed).
    transcript : ModelRef
        CID and keccak-256 of the group's transcript (canonical JSON,
        :class:`~fl_node.secagg_task.GroupTranscript`): everything its server received.
    samples : int
        The decoded sum's sample count (0 when the group failed).
    sum_hash : str or None
        keccak-256 of the decoded weighted sum (float64, little-endian, then the sample count
        as 8 big-endian bytes); ``None`` when the group failed.
    score : float or None
        The group's contribution score (``None`` when the group failed); each survivor is
        credited ``score / len(survivors)``.
    failure : str
        Why the group failed (``""`` when it completed).
    """

    group: int
    members: tuple[Address, ...]
    survivors: tuple[Address, ...]
    transcript: ModelRef
    samples: int
    sum_hash: str | None
    score: float | None
    failure: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "group": self.group,
            "members": list(self.members),
            "survivors": list(self.survivors),
            "transcript": self.transcript.to_dict(),
            "samples": self.samples,
            "sum_hash": self.sum_hash,
            "score": self.score,
            "failure": self.failure,
        }

    @classmethod
    def from_dict(cls, value: Any, where: str) -> GroupRecord:
        """Read and check the JSON form at ``where``."""
        doc = _object(value, where, _keys(cls))
        return cls(
            group=_int(doc["group"], f"{where}.group"),
            members=_items(doc["members"], f"{where}.members", _address),
            survivors=_items(doc["survivors"], f"{where}.survivors", _address),
            transcript=ModelRef.from_dict(doc["transcript"], f"{where}.transcript"),
            samples=_int(doc["samples"], f"{where}.samples"),
            sum_hash=_optional(doc["sum_hash"], f"{where}.sum_hash", _hash),
            score=_optional(doc["score"], f"{where}.score", _number),
            failure=_str(doc["failure"], f"{where}.failure"),
        )


@dataclass(frozen=True)
class SecAggRecord:
    """How a secure-aggregation round reached its update: the grouping seed and every group.

    The contribution record's utilities index the *completed* groups in group order, and its
    scores are each participant's share of its group's score (0 outside a completed group's
    survivors); the aggregation record then lists no per-participant weight.
    """

    seed: str
    groups: tuple[GroupRecord, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"seed": self.seed, "groups": [g.to_dict() for g in self.groups]}

    @classmethod
    def from_dict(cls, value: Any, where: str) -> SecAggRecord:
        """Read and check the JSON form at ``where``."""
        doc = _object(value, where, {"seed", "groups"})
        return cls(
            seed=_hash(doc["seed"], f"{where}.seed"),
            groups=_items(doc["groups"], f"{where}.groups", GroupRecord.from_dict),
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
    commitments : CommitmentsRecord
        The batch and every commitment the chain holds for the round.
    updates : tuple of UpdateVerdict
        One verdict per participant, in join order.
    aggregation : AggregationRecord
        Strategy and weights of the accepted updates.
    contribution : ContributionRecord
        Method, utilities and per-participant contributions.
    rewards : RewardSplit
        Cap, budget, scores, amounts, rewards leaves and root.
    flagged : tuple of str
        Participants flagged malicious in this round (slashed after the window).
    new_model : ModelRef
        The aggregated global model.
    metrics : RoundMetrics
        The new model's validation and test metrics.
    shares : SharesRecord or None
        The contributors' shares (last round only).
    privacy : PrivacyRecord or None, default None
        The differential privacy spent up to this round (tasks with ``dp`` only; the key is
        absent otherwise).
    secagg : SecAggRecord or None, default None
        The round's SecAgg groups (tasks with ``aggregation: "secagg"`` only; the key is
        absent otherwise).
    version : int, default EVIDENCE_VERSION
        Schema version (always written).
    """

    kind: ClassVar[str] = EVIDENCE_KIND

    task_id: int
    round: int
    coordinator: Address
    base_model: ModelRef
    participants: tuple[Address, ...]
    commitments: CommitmentsRecord
    updates: tuple[UpdateVerdict, ...]
    aggregation: AggregationRecord
    contribution: ContributionRecord
    rewards: RewardSplit
    flagged: tuple[Address, ...]
    new_model: ModelRef
    metrics: RoundMetrics
    shares: SharesRecord | None = None
    version: int = field(default=EVIDENCE_VERSION)
    privacy: PrivacyRecord | None = None
    secagg: SecAggRecord | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; its canonical JSON is what the store holds."""
        return {
            "kind": self.kind,
            "version": self.version,
            "task_id": self.task_id,
            "round": self.round,
            "coordinator": self.coordinator,
            "base_model": self.base_model.to_dict(),
            "participants": list(self.participants),
            "commitments": self.commitments.to_dict(),
            "updates": [v.to_dict() for v in self.updates],
            "aggregation": self.aggregation.to_dict(),
            "contribution": self.contribution.to_dict(),
            "rewards": self.rewards.to_dict(),
            "flagged": list(self.flagged),
            "new_model": self.new_model.to_dict(),
            "metrics": self.metrics.to_dict(),
            "shares": None if self.shares is None else self.shares.to_dict(),
            **({"privacy": self.privacy.to_dict()} if self.privacy is not None else {}),
            **({"secagg": self.secagg.to_dict()} if self.secagg is not None else {}),
        }

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
        doc = _mapping(value, "evidence")
        version = _int(doc.get("version", 1), "evidence.version", minimum=1)
        if version not in SUPPORTED_VERSIONS:
            raise EvidenceError("evidence.version", f"{version} is not a version this reader knows")
        optional = {"privacy", "secagg"}
        doc = _object(doc, "evidence", _keys(cls) - optional | {"kind"}, optional)
        if doc["kind"] != EVIDENCE_KIND:
            raise EvidenceError("evidence.kind", f"must be {EVIDENCE_KIND!r}")
        return cls(
            task_id=_int(doc["task_id"], "evidence.task_id"),
            round=_int(doc["round"], "evidence.round", minimum=1),
            coordinator=_address(doc["coordinator"], "evidence.coordinator"),
            base_model=ModelRef.from_dict(doc["base_model"], "evidence.base_model"),
            participants=_items(doc["participants"], "evidence.participants", _address),
            commitments=CommitmentsRecord.from_dict(doc["commitments"], "evidence.commitments"),
            updates=_items(doc["updates"], "evidence.updates", UpdateVerdict.from_dict),
            aggregation=AggregationRecord.from_dict(doc["aggregation"], "evidence.aggregation"),
            contribution=ContributionRecord.from_dict(doc["contribution"], "evidence.contribution"),
            rewards=RewardSplit.from_dict(doc["rewards"], "evidence.rewards"),
            flagged=_items(doc["flagged"], "evidence.flagged", _address),
            new_model=ModelRef.from_dict(doc["new_model"], "evidence.new_model"),
            metrics=RoundMetrics.from_dict(doc["metrics"], "evidence.metrics"),
            shares=_optional(doc["shares"], "evidence.shares", SharesRecord.from_dict),
            version=version,
            privacy=_optional(doc.get("privacy"), "evidence.privacy", PrivacyRecord.from_dict),
            secagg=_optional(doc.get("secagg"), "evidence.secagg", SecAggRecord.from_dict),
        )


__all__ = [
    "COMMITMENT_SOURCES",
    "EVIDENCE_KIND",
    "EVIDENCE_VERSION",
    "NOT_SUBMITTED",
    "REJECTION_REASONS",
    "SCHEMA_PATH",
    "SUPPORTED_VERSIONS",
    "AggregationRecord",
    "BallotRecord",
    "BatchRef",
    "CommitmentRecord",
    "CommitmentsRecord",
    "ContributionRecord",
    "DefenceDecision",
    "DefenceRecord",
    "GroupRecord",
    "ModelRef",
    "PRIVACY_ACCOUNTANTS",
    "PRIVACY_MODES",
    "PrivacyRecord",
    "RewardLeaf",
    "RewardSplit",
    "RoundEvidence",
    "RoundMetrics",
    "SecAggRecord",
    "SharesRecord",
    "StateRecord",
    "UpdateVerdict",
]
