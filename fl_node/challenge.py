"""The challenge evidence: what a participant puts before the court when an audit fails a round.

When :func:`fl_node.audit.audit_task` finds a round that does not hold, it computes from the
round's published evidence what the round should have paid (the corrected rewards leaves and
their root) and, on the last round, the corrected shares, and writes them with the failed checks
into a :class:`ChallengeEvidence`. Stored in the content store, its CID, the corrected root and the
packed shares are exactly what ``ChallengeCourt.challenge`` takes; validators re-run the audit and
compare; after an upheld verdict the participants claim against the corrected root with the
leaves listed here (:mod:`fl_node.claims`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chain.commitments import encode_shares
from fl_node.errors import ChallengeDocumentError, EvidenceError
from fl_node.evidence import RewardLeaf
from kernel.errors import InvalidInputError

CHALLENGE_KIND = "fedmarket/challenge-evidence"
"""The ``kind`` of a challenge-evidence document."""

CHALLENGE_VERSION = 1
"""The version this module writes and reads."""

CORRECTION_RULE = (
    "scores as the evidence publishes them (fixed-point contributions of the updates it "
    "accepted); an update it rejected that the audit finds valid is credited the mean published "
    "score of the accepted updates (the evidence cannot tell its contribution); amounts are the "
    "proportional split of the round's on-chain budget (floor of prefix sums), leaves the "
    "positive amounts in join order"
)
"""How the corrected leaves are computed from the published evidence."""


@dataclass(frozen=True)
class FailedCheck:
    """A check of the audit that failed, as the challenge reports it."""

    name: str
    detail: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"name": self.name, "detail": self.detail}


@dataclass(frozen=True)
class ChallengeEvidence:
    """A failed round and what it should have paid.

    Attributes
    ----------
    task_id : int
        The task.
    round : int
        The disputed round.
    evidence_cid : str
        The round's evidence, as the coordinator published it.
    posted_root : str
        The rewards root the chain holds, 0x-hex.
    corrected_root : str
        The root of :attr:`corrected_leaves`, 0x-hex (what the challenge asks the court for).
    corrected_leaves : tuple of RewardLeaf
        What each participant should be paid, in join order.
    corrected_shares : tuple of int or None
        The last round's corrected shares in basis points, in join order; ``None`` otherwise.
    failures : tuple of FailedCheck
        The audit's failed checks of the round.
    rule : str, default CORRECTION_RULE
        How the corrections were computed.
    """

    task_id: int
    round: int
    evidence_cid: str
    posted_root: str
    corrected_root: str
    corrected_leaves: tuple[RewardLeaf, ...]
    corrected_shares: tuple[int, ...] | None
    failures: tuple[FailedCheck, ...]
    rule: str = CORRECTION_RULE

    @property
    def root_bytes(self) -> bytes:
        """The corrected root as 32 bytes (``challenge``'s ``correctedRoot``)."""
        return bytes.fromhex(self.corrected_root.removeprefix("0x"))

    @property
    def shares_bytes(self) -> bytes:
        """The corrected shares packed for ``challenge`` (empty when there are none)."""
        return encode_shares(self.corrected_shares) if self.corrected_shares else b""

    def to_dict(self) -> dict[str, Any]:
        """The JSON document stored in the content store."""
        return {
            "kind": CHALLENGE_KIND,
            "version": CHALLENGE_VERSION,
            "task_id": self.task_id,
            "round": self.round,
            "evidence_cid": self.evidence_cid,
            "posted_root": self.posted_root,
            "corrected_root": self.corrected_root,
            "corrected_leaves": [leaf.to_dict() for leaf in self.corrected_leaves],
            "corrected_shares": (
                None if self.corrected_shares is None else list(self.corrected_shares)
            ),
            "failures": [f.to_dict() for f in self.failures],
            "rule": self.rule,
        }

    @classmethod
    def from_dict(cls, doc: Any) -> ChallengeEvidence:
        """Read a challenge-evidence document.

        Parameters
        ----------
        doc : Any
            The parsed JSON.

        Raises
        ------
        ChallengeDocumentError
            The document is not a challenge evidence of a known version, or is malformed.
        """
        try:
            if doc["kind"] != CHALLENGE_KIND or doc["version"] != CHALLENGE_VERSION:
                raise InvalidInputError("not a version 1 challenge evidence")
            shares = doc["corrected_shares"]
            return cls(
                task_id=int(doc["task_id"]),
                round=int(doc["round"]),
                evidence_cid=str(doc["evidence_cid"]),
                posted_root=str(doc["posted_root"]),
                corrected_root=str(doc["corrected_root"]),
                corrected_leaves=tuple(
                    RewardLeaf.from_dict(v, f"corrected_leaves[{i}]")
                    for i, v in enumerate(doc["corrected_leaves"])
                ),
                corrected_shares=None if shares is None else tuple(int(b) for b in shares),
                failures=tuple(
                    FailedCheck(str(f["name"]), str(f["detail"])) for f in doc["failures"]
                ),
                rule=str(doc["rule"]),
            )
        except (KeyError, TypeError, ValueError, EvidenceError) as exc:
            raise ChallengeDocumentError(f"challenge evidence: {exc}") from None


__all__ = [
    "CHALLENGE_KIND",
    "CHALLENGE_VERSION",
    "CORRECTION_RULE",
    "ChallengeEvidence",
    "FailedCheck",
]
