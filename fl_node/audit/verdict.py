"""A validator's vote on a challenge, from its own audit of the disputed round.

A validator of ChallengeCourt does not take the challenger's word: it audits the task itself
(:func:`fl_node.audit.audit_task`) and votes its confidence that the challenge is right:

- against the coordinator's verdict (no accused): full confidence when its own audit fails the
  round and recomputes the same corrected root (and shares) as the challenger; half when the
  round fails but the correction differs (the challenge is right that the round is wrong, the
  court can only apply the challenger's correction); none when the round passes;
- against a participant: full confidence when the round holds (every check passes) and its
  evidence flags the accused (a flag follows from a rejection that proves malice:
  :data:`fl_node.validation.FLAG_REASONS`), none otherwise.
"""

from __future__ import annotations

from chain.court import ChallengeInfo
from fl_node.audit.report import AuditReport

FULL = 10_000
"""A vote of full confidence that the challenge is right, in basis points."""


def _accused_was_malicious(report: AuditReport, info: ChallengeInfo) -> bool:
    """Whether the audit holds the round's flag of the accused (flags follow the verdicts)."""
    audit = report.round(int(info.round))
    if audit is None or info.accused is None or not (audit.ok and audit.complete):
        return False
    return str(info.accused).lower() in {a.lower() for a in audit.flagged}


def uphold_bps(report: AuditReport, info: ChallengeInfo) -> int:
    """How confident a validator whose audit is ``report`` is that the challenge is right.

    Parameters
    ----------
    report : AuditReport
        The validator's own audit of the challenged task.
    info : ChallengeInfo
        The challenge (round, accused, corrected root and shares).

    Returns
    -------
    int
        Basis points from 0 (the challenge is wrong) to 10,000 (it is right).
    """
    if info.accused is not None:
        return FULL if _accused_was_malicious(report, info) else 0
    audit = report.round(int(info.round))
    if audit is None or audit.ok or audit.challenge is None:
        return 0
    same_root = audit.challenge.root_bytes == bytes(info.corrected_root)
    same_shares = audit.challenge.shares_bytes == bytes(info.corrected_shares)
    return FULL if same_root and same_shares else FULL // 2


__all__ = ["FULL", "uphold_bps"]
