"""What an audit finds: one :class:`Check` per property, grouped by round, with the challenge.

A check the auditor could not run (the sealed updates of a task, without a key granted to open
them) is recorded as not checked: it is no failure (no challenge follows from it), and the
round's audit is then not :attr:`~RoundAudit.complete`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fl_node.challenge import ChallengeEvidence
from fl_node.errors import FlError
from kernel.errors import IntegrityError


class AuditFailedError(FlError, IntegrityError):
    """An audit that had to pass found a failed check.

    What was published is not what the chain and the store recompute. Raised by callers that run
    their own audit, such as the demo; never by :func:`~fl_node.audit.audit_task` itself, whose
    report is a verdict.
    """


@dataclass(frozen=True)
class Check:
    """One audited property of one round.

    ``checked`` is ``False`` when the auditor could not check it (``ok`` is then ``False`` too,
    but it is not a failure).
    """

    name: str
    ok: bool
    detail: str = ""
    checked: bool = True


@dataclass
class RoundAudit:
    """Every check of one round and, when one failed, the challenge evidence.

    Attributes
    ----------
    round : int
        The round.
    checks : list of Check
        In the order run.
    challenge : ChallengeEvidence or None
        What a challenge of the round puts before the court (only when a check failed).
    challenge_cid : str or None
        Where :attr:`challenge` is stored in the content store.
    flagged : tuple of str
        The participants the round's evidence flags (empty when it could not be read).
    """

    round: int
    checks: list[Check] = field(default_factory=list)
    flagged: tuple[str, ...] = ()
    challenge: ChallengeEvidence | None = None
    challenge_cid: str | None = None

    @property
    def ok(self) -> bool:
        """Whether every check that could be run passed."""
        return all(c.ok for c in self.checks if c.checked)

    @property
    def complete(self) -> bool:
        """Whether every check could be run."""
        return all(c.checked for c in self.checks)

    def add(self, name: str, ok: bool, detail: str = "") -> None:
        """Record a check.

        Parameters
        ----------
        name : str
            The check.
        ok : bool
            Whether it passed.
        detail : str, default ""
            What it found.
        """
        self.checks.append(Check(name, bool(ok), detail))

    def add_unchecked(self, name: str, detail: str) -> None:
        """Record a check the auditor could not run (not a failure).

        Parameters
        ----------
        name : str
            The check.
        detail : str
            Why it could not be run.
        """
        self.checks.append(Check(name, False, detail, checked=False))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        challenge = None
        if self.challenge is not None:
            challenge = {
                "cid": self.challenge_cid,
                "corrected_root": self.challenge.corrected_root,
                "corrected_shares": (
                    None
                    if self.challenge.corrected_shares is None
                    else list(self.challenge.corrected_shares)
                ),
            }
        return {
            "round": self.round,
            "ok": self.ok,
            "complete": self.complete,
            "checks": [c.__dict__ for c in self.checks],
            "flagged": list(self.flagged),
            "challenge": challenge,
        }


@dataclass
class AuditReport:
    """The audit of a task."""

    task_id: int
    rounds: list[RoundAudit]

    @property
    def ok(self) -> bool:
        """Whether every round passed."""
        return all(r.ok for r in self.rounds)

    @property
    def complete(self) -> bool:
        """Whether every check of every round could be run."""
        return all(r.complete for r in self.rounds)

    @property
    def failures(self) -> list[tuple[int, Check]]:
        """(round, check) of every failed check."""
        return [(r.round, c) for r in self.rounds for c in r.checks if c.checked and not c.ok]

    @property
    def unchecked(self) -> list[tuple[int, Check]]:
        """(round, check) of every check that could not be run."""
        return [(r.round, c) for r in self.rounds for c in r.checks if not c.checked]

    def failure_line(self, limit: int = 3) -> str:
        """One readable line naming the failed checks (the first ``limit`` in full).

        Parameters
        ----------
        limit : int, default 3
            Failed checks described with their detail; the rest are counted.
        """
        failures = self.failures
        described = [f"round {r} {c.name} ({c.detail})" for r, c in failures[:limit]]
        more = f" and {len(failures) - limit} more" if len(failures) > limit else ""
        return (
            f"the audit of task {self.task_id} failed {len(failures)} checks: "
            + "; ".join(described)
            + more
        )

    def round(self, number: int) -> RoundAudit | None:
        """The audit of round ``number``, or ``None`` when it was not audited.

        Parameters
        ----------
        number : int
            The round.
        """
        return next((r for r in self.rounds if r.round == number), None)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "task_id": self.task_id,
            "ok": self.ok,
            "complete": self.complete,
            "rounds": [r.to_dict() for r in self.rounds],
        }


__all__ = ["AuditFailedError", "AuditReport", "Check", "RoundAudit"]
