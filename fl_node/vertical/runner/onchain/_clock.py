"""Reaching a task's deadlines: travel past them where the run may, else wait (private)."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from fl_node.events import EventSink, log_sink
from fl_node.vertical.runner._errors import DeadlineMissedError
from fl_node.vertical.runner.events import DeadlineReached

if TYPE_CHECKING:
    from chain import ChainBackend

log = logging.getLogger(__name__)

WAIT_SLACK_SECONDS = 120.0
"""How much longer than the chain's own distance to a deadline a wait may take."""


class Deadlines:
    """The task's clock: moves a dev chain's clock when the run owns the chain, else waits.

    Parameters
    ----------
    backend : ChainBackend
        The chain.
    travel : bool
        Whether the run owns the chain (it travels only where the chain also allows it).
    emit : EventSink or None, default None
        Receives a :class:`~fl_node.vertical.runner.events.DeadlineReached` per deadline.
    """

    def __init__(
        self, backend: ChainBackend, *, travel: bool, emit: EventSink | None = None
    ) -> None:
        self.backend = backend
        self.travels = travel and backend.can_travel
        self.waited_seconds = 0.0
        self._emit = emit or log_sink

    @property
    def mode(self) -> str:
        """``"travel"`` or ``"wait"``."""
        return "travel" if self.travels else "wait"

    def reach(self, timestamp: int, what: str) -> None:
        """Return once the chain's time reaches ``timestamp``.

        Parameters
        ----------
        timestamp : int
            The deadline (seconds since the epoch).
        what : str
            The deadline's name, for the event and the log.

        Raises
        ------
        ChainTimeoutError
            The chain's clock did not get there in the time it should have taken.
        """
        started = time.monotonic()
        ahead = max(0, timestamp - self.backend.chain_time())
        log.info("reach: %s at %d (%d s ahead, %s)", what, timestamp, ahead, self.mode)
        self.backend.wait_until(
            timestamp, travel=self.travels, poll=0.5, timeout=ahead + WAIT_SLACK_SECONDS
        )
        waited = time.monotonic() - started
        self.waited_seconds += waited
        self._emit(DeadlineReached(what, timestamp, self.mode, waited))

    def check_before(self, deadline: int, step: str, period: str) -> None:
        """Refuse a step the contract would refuse because its deadline passed.

        Parameters
        ----------
        deadline : int
            The step's deadline (the step must be mined before it).
        step : str
            What the run is about to do.
        period : str
            The schedule period(s) that should have been longer.

        Raises
        ------
        DeadlineMissedError
            When the chain's time already reached ``deadline``.
        """
        now = self.backend.chain_time()
        if now >= deadline:
            raise DeadlineMissedError(
                f"{step}: the deadline {deadline} passed (chain time {now}); "
                f"lengthen the schedule's {period}"
            )


__all__ = ["Deadlines"]
