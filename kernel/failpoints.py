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


def _armed(name: str) -> int | None:
    """The hit on which ``name`` kills the process, or ``None`` when it is not armed."""
    for entry in os.environ.get(FAILPOINTS_ENV, "").split(","):
        point, _, nth = entry.strip().partition("@")
        if point == name:
            return int(nth) if nth.isdigit() and int(nth) > 0 else 1
    return None


def failpoint(name: str) -> None:
    """Kill this process with SIGKILL here when :data:`FAILPOINTS_ENV` arms ``name``.

    Parameters
    ----------
    name : str
        The point, ``<role>.<moment>`` (e.g. ``coordinator.after_evidence``).
    """
    nth = _armed(name)
    if nth is None:
        return
    _hits[name] += 1
    if _hits[name] == nth:
        log.critical("failpoint %s (hit %d): killing the process", name, nth)
        logging.shutdown()
        os.kill(os.getpid(), signal.SIGKILL)
