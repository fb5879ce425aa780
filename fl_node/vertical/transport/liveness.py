"""The heartbeat thread: proof of life on every channel while a party computes.

A party runs one :class:`Heartbeat`: a daemon thread that calls each registered beat (a
:meth:`~fl_node.vertical.transport.TlsChannel.heartbeat`, the orchestrator's control pipe)
every ``interval`` seconds, the first time as soon as it is added. A beat must be thread-safe
and must not block for long; it reports nothing (the party's main thread finds out about a
broken channel itself). The interval is a quarter of the liveness timeout
(:func:`heartbeat_interval`), so three beats in a row may be late before a peer times out.

    with Heartbeat(heartbeat_interval(timeout)) as beat:
        for channel in channels.values():
            beat.add(channel.heartbeat)
        ...  # compute; the peers keep hearing from this party
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from types import TracebackType

from fl_node.vertical.transport._errors import TransportUsageError

log = logging.getLogger(__name__)

Beat = Callable[[], object]
"""One heartbeat on one channel (its result is ignored)."""


def heartbeat_interval(timeout: float) -> float:
    """Seconds between heartbeats for a liveness ``timeout``: a quarter of it.

    Parameters
    ----------
    timeout : float
        Seconds of silence after which a peer counts as stopped (> 0).
    """
    if not timeout > 0:
        raise TransportUsageError(f"the liveness timeout must be > 0, not {timeout}")
    return timeout / 4


class Heartbeat:
    """A daemon thread calling every registered beat each ``interval`` seconds.

    Parameters
    ----------
    interval : float
        Seconds between two rounds of beats (> 0).
    name : str, default "heartbeat"
        The thread's name.
    """

    def __init__(self, interval: float, *, name: str = "heartbeat") -> None:
        if not interval > 0:
            raise TransportUsageError(f"the heartbeat interval must be > 0, not {interval}")
        self.interval = float(interval)
        self.beats_done = 0
        self._beats: list[Beat] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def add(self, beat: Beat) -> None:
        """Register ``beat``; it is called at once, then every interval.

        Parameters
        ----------
        beat : callable
            Thread-safe, quick, never raising on purpose (errors are logged and ignored).
        """
        with self._lock:
            self._beats.append(beat)
        self._wake.set()

    def start(self) -> Heartbeat:
        """Start the thread; return ``self``."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread and wait for it (idempotent)."""
        self._stopped.set()
        self._wake.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()

    def __enter__(self) -> Heartbeat:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self) -> None:
        while not self._stopped.is_set():
            with self._lock:
                beats = list(self._beats)
            for beat in beats:
                try:
                    beat()
                except Exception as error:  # noqa: BLE001 - a beat must never end the thread
                    log.debug("heartbeat: %r failed: %s", beat, error)
            self.beats_done += 1
            self._wake.wait(self.interval)
            self._wake.clear()


__all__ = ["Beat", "Heartbeat", "heartbeat_interval"]
