"""Named points where a fault-injection test may kill the process: crash consistency, tested.

A long-running party (the coordinator, a participant) calls :func:`failpoint` at the moments
where a crash is the most awkward: after anchoring a round's opening, between storing a round's
evidence and finalising it on-chain, after finalising, before taking its stake back. Nothing
happens unless the environment variable :data:`FAILPOINTS_ENV` names the point: the fault suite
(``tests/faults``, ``scripts/faults``) sets it for one process, which then kills itself with
SIGKILL there (no cleanup, no flush: a power cut), and restarts it without the variable to show
that it resumes from the chain and the store.

``FEDMARKET_FAILPOINTS=coordinator.after_evidence`` kills at the first time the point is
reached; ``coordinator.after_evidence@2`` at the second (several names: comma-separated).
``participant.before_commit=stop`` freezes the process there instead (SIGSTOP): the test sends
SIGCONT when it wants the process to go on, late.
"""

from __future__ import annotations

import logging
import os
import signal
from collections import Counter

log = logging.getLogger(__name__)

FAILPOINTS_ENV = "FEDMARKET_FAILPOINTS"
"""Comma-separated ``name`` or ``name@n`` entries: where this process kills itself."""

_hits: Counter[str] = Counter()


def _armed(name: str) -> tuple[int, str] | None:
    """The hit on which ``name`` fires and its action (kill or stop), or ``None``."""
    for entry in os.environ.get(FAILPOINTS_ENV, "").split(","):
        point, _, action = entry.strip().partition("=")
        point, _, nth = point.partition("@")
        if point == name:
            hit = int(nth) if nth.isdigit() and int(nth) > 0 else 1
            return hit, "stop" if action == "stop" else "kill"
    return None


def failpoint(name: str) -> None:
    """Kill (SIGKILL) or freeze (SIGSTOP) this process here when :data:`FAILPOINTS_ENV` arms it.

    Parameters
    ----------
    name : str
        The point, ``<role>.<moment>`` (e.g. ``coordinator.after_evidence``).
    """
    armed = _armed(name)
    if armed is None:
        return
    nth, action = armed
    _hits[name] += 1
    if _hits[name] != nth:
        return
    log.critical("failpoint %s (hit %d): %s", name, nth, action)
    if action == "stop":
        os.kill(os.getpid(), signal.SIGSTOP)
        return
    logging.shutdown()
    os.kill(os.getpid(), signal.SIGKILL)
