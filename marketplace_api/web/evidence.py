"""What the task page shows of each round's evidence: metrics, verdicts, contributions.

A round's evidence document (``fedmarket/round-evidence``, written by the coordinator and
anchored on-chain by its CID) holds the round's validation and test metrics, one verdict per
participant (accepted, or rejected with a reason) and each participant's measured contribution.
The page reads those parts only, each validated with bounds: a coordinator writes the document,
so nothing in it is trusted to be well-formed. The index confirms separately that its rewards
rebuild the on-chain root (``evidence_status``), and the audit recomputes the rest.

Documents are content-addressed, so a summary is cached by CID for as long as the process runs.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from kernel.errors import FedmarketError
from storage import ContentNotFoundError, ContentStore, StoreUnavailableError
from storage.base import json_too_deep

log = logging.getLogger(__name__)

MAX_EVIDENCE_BYTES = 16 * 1024 * 1024
MAX_PARTICIPANTS = 10_000
_Address = Annotated[str, StringConstraints(pattern=r"^0x[0-9a-fA-F]{40}$")]
_Short = Annotated[str, StringConstraints(max_length=500)]


class _Lenient(BaseModel):
    # NaN and infinities are not JSON (canonical_json never writes them) and a NaN contribution
    # leaves the leaderboard's order undefined: such a document is not readable evidence.
    model_config = ConfigDict(extra="ignore", frozen=True, allow_inf_nan=False)


class _Metrics(_Lenient):
    accuracy: float | None = None
    f1: float | None = None
    macro_f1: float | None = None
    auc: float | None = None
    log_loss: float | None = None
    rmse: float | None = None


class _RoundMetrics(_Lenient):
    validation: _Metrics = Field(default_factory=_Metrics)
    test: _Metrics = Field(default_factory=_Metrics)


class _Verdict(_Lenient):
    participant: _Address
    accepted: bool
    reason: _Short | None = None
    detail: _Short = ""
    train_loss: float | None = None
    samples: int = Field(default=0, ge=0)


class _Contribution(_Lenient):
    method: _Short = ""
    scores: list[float] = Field(default_factory=list, max_length=MAX_PARTICIPANTS)


class _Shares(_Lenient):
    contributions: list[float] = Field(default_factory=list, max_length=MAX_PARTICIPANTS)
    bps: list[int] = Field(default_factory=list, max_length=MAX_PARTICIPANTS)


class _Evidence(_Lenient):
    round: int = Field(ge=1)
    participants: list[_Address] = Field(max_length=MAX_PARTICIPANTS)
    updates: list[_Verdict] = Field(default_factory=list, max_length=MAX_PARTICIPANTS)
    contribution: _Contribution = Field(default_factory=_Contribution)
    metrics: _RoundMetrics = Field(default_factory=_RoundMetrics)
    shares: _Shares | None = None


@dataclass(frozen=True)
class Entry:
    """One participant in one round."""

    participant: str
    accepted: bool
    reason: str | None
    detail: str
    train_loss: float | None
    samples: int
    contribution: float | None


@dataclass(frozen=True)
class RoundSummary:
    """The parts of a round's evidence a page shows."""

    round: int
    validation_loss: float | None
    test_loss: float | None
    accuracy: float | None
    f1: float | None
    auc: float | None
    method: str
    entries: tuple[Entry, ...]
    cumulative: tuple[float, ...] | None
    shares_bps: tuple[int, ...] | None

    @property
    def rejected(self) -> tuple[Entry, ...]:
        """Updates submitted and refused (not those never submitted)."""
        return tuple(e for e in self.entries if not e.accepted and e.reason != "not_submitted")


def _summary(doc: _Evidence) -> RoundSummary:
    scores = doc.contribution.scores
    entries = tuple(
        Entry(
            participant=v.participant,
            accepted=v.accepted,
            reason=v.reason,
            detail=v.detail,
            train_loss=v.train_loss,
            samples=v.samples,
            contribution=scores[i] if i < len(scores) else None,
        )
        for i, v in enumerate(doc.updates)
    )
    test, validation = doc.metrics.test, doc.metrics.validation
    return RoundSummary(
        round=doc.round,
        validation_loss=validation.log_loss if validation.rmse is None else validation.rmse,
        test_loss=test.log_loss if test.rmse is None else test.rmse,
        accuracy=test.accuracy,
        f1=test.f1 if test.macro_f1 is None else test.macro_f1,
        auc=test.auc,
        method=doc.contribution.method,
        entries=entries,
        cumulative=tuple(doc.shares.contributions) if doc.shares else None,
        shares_bps=tuple(doc.shares.bps) if doc.shares else None,
    )


_CACHE_SIZE = 4096
_cache: dict[str, RoundSummary | None] = {}


def _read(store: ContentStore, cid: str) -> RoundSummary | None:
    """The summary, ``None`` for a document that will never be readable evidence."""
    data = store.get(cid, max_bytes=MAX_EVIDENCE_BYTES)
    if json_too_deep(data):
        return None
    try:
        return _summary(_Evidence.model_validate(json.loads(data)))
    except (ValidationError, ValueError, TypeError, RecursionError) as exc:
        log.info("round_summary: %s is not readable round evidence: %s", cid, type(exc).__name__)
        return None


def round_summary(store: ContentStore, cid: str | None) -> RoundSummary | None:
    """The summary of the evidence under ``cid``; ``None`` when absent or unreadable.

    A document is immutable under its CID, so what it says is remembered; a store that cannot
    be reached (or does not have it yet) is not, and the next page asks again.
    """
    if not cid:
        return None
    if cid in _cache:
        return _cache[cid]
    try:
        summary = _read(store, cid)
    except (ContentNotFoundError, StoreUnavailableError) as exc:
        log.info("round_summary: %s unavailable: %s", cid, type(exc).__name__)
        return None
    except FedmarketError as exc:  # not a CID, corrupted, too large: it will not get better
        log.info("round_summary: %s unreadable: %s", cid, type(exc).__name__)
        summary = None
    if len(_cache) >= _CACHE_SIZE:
        _cache.pop(next(iter(_cache)))
    _cache[cid] = summary
    return summary


__all__ = ["Entry", "RoundSummary", "round_summary"]
