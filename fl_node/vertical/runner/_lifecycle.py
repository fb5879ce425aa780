"""Keeping the party processes alive, noticed and finally gone (private).

``ControlPipe``
    A party's end of its control pipe: whole messages under a lock, and a :meth:`beat` the
    party's heartbeat thread calls so that the orchestrator notices a stopped party.
``stop_processes``
    Escalating shutdown: SIGTERM (with SIGCONT, so that a stopped process receives it), a grace
    period, SIGKILL, then every descendant seen beforehand (the PSI pool's fork server) too.
``die_with_parent``
    Linux's PR_SET_PDEATHSIG in a party: killed when the orchestrator dies, even by SIGKILL.
``process_state``, ``descendants``, ``alive``
    What ``/proc`` says about a process (Linux; elsewhere they know nothing).
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
_PROC = Path("/proc")
_STATES = {"T": "stopped", "t": "stopped", "Z": "a zombie", "D": "blocked in the kernel"}


class ControlPipe:
    """A party's end of the control pipe, shared by its main and heartbeat threads.

    Parameters
    ----------
    conn : Connection
        The pipe to the orchestrator.
    """

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._lock = threading.Lock()
        self.beats = 0

    def send(self, message: tuple[str, Any]) -> None:
        """Send one ``(kind, payload)`` message whole.

        Parameters
        ----------
        message : tuple of (str, object)
            What to send.
        """
        with self._lock:
            self.conn.send(message)

    def recv(self) -> Any:
        """The next message from the orchestrator (blocking)."""
        return self.conn.recv()

    def beat(self) -> None:
        """Send a ``heartbeat`` unless a message is being sent or the pipe is full.

        A full pipe means the orchestrator is not reading: it finds the queued messages (this
        party's proof of life) when it does.
        """
        if not self._lock.acquire(blocking=False):
            return
        try:
            _, writable, _ = select.select([], [self.conn.fileno()], [], 0)
            if writable:
                self.conn.send(("heartbeat", None))
                self.beats += 1
        finally:
            self._lock.release()


def die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent dies (nothing elsewhere)."""
    if sys.platform != "linux":
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    parent = multiprocessing.parent_process()
    if parent is not None and os.getppid() != parent.pid:  # it died before the prctl
        os.kill(os.getpid(), signal.SIGKILL)


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of ``/proc/<pid>/stat`` after the command name, or ``None``."""
    try:
        text = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    return text.rpartition(")")[2].split()


def process_state(pid: int) -> str | None:
    """``"stopped"``, ``"a zombie"``... for a notable state, ``None`` otherwise or if gone.

    Parameters
    ----------
    pid : int
        The process.
    """
    fields = _stat_fields(pid)
    return _STATES.get(fields[0]) if fields else None


def alive(pid: int, started: str | None = None) -> bool:
    """Whether ``pid`` exists and has not exited (a zombie counts as gone).

    Parameters
    ----------
    pid : int
        The process.
    started : str or None, default None
        Its start time as :func:`descendants` read it: another process that reused the pid
        since then does not count.
    """
    fields = _stat_fields(pid)
    if fields is None or fields[0] in ("Z", "X"):
        return False
    return started is None or fields[19] == started


def descendants(pid: int) -> dict[int, str]:
    """Every process below ``pid`` (children, their children...) and its start time.

    Parameters
    ----------
    pid : int
        The ancestor.

    Returns
    -------
    dict of int to str
        ``pid -> start time`` (clock ticks after boot, from ``/proc/<pid>/stat``).
    """
    children: dict[int, list[tuple[int, str]]] = {}
    for entry in _PROC.glob("[0-9]*"):
        fields = _stat_fields(int(entry.name))
        if fields is not None:
            children.setdefault(int(fields[1]), []).append((int(entry.name), fields[19]))
    found: dict[int, str] = {}
    todo = [pid]
    while todo:
        for child, started in children.get(todo.pop(), []):
            found[child] = started
            todo.append(child)
    return found


def _join_all(procs: Iterable[BaseProcess], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    for proc in procs:
        proc.join(max(0.0, deadline - time.monotonic()))


def _signal_alive(
    procs: Mapping[str, BaseProcess], signals: tuple[int, ...], name: str, level: int
) -> None:
    for role, proc in procs.items():
        if proc.is_alive() and proc.pid is not None:
            log.log(level, "stop: the %s process is still running: %s", role, name)
            for number in signals:
                try:
                    os.kill(proc.pid, number)
                except ProcessLookupError:
                    break


def stop_processes(procs: Mapping[str, BaseProcess], *, wait: float, grace: float) -> None:
    """Stop ``procs``: wait for them, then SIGTERM, then SIGKILL; reap them and their children.

    Parameters
    ----------
    procs : mapping of str to Process
        ``role -> process`` (started).
    wait : float
        Seconds to let them exit on their own first (0 when they were not asked to).
    grace : float
        Seconds between SIGTERM and SIGKILL.
    """
    below: dict[int, str] = {}
    for proc in procs.values():
        if proc.pid is not None:
            below |= descendants(proc.pid)
    _join_all(procs.values(), wait)
    # SIGCONT after SIGTERM: a stopped process only acts on the SIGTERM once continued.
    _signal_alive(procs, (signal.SIGTERM, signal.SIGCONT), "SIGTERM", logging.INFO)
    _join_all(procs.values(), grace)
    _signal_alive(
        procs, (signal.SIGKILL,), "SIGKILL", logging.WARNING
    )  # even a stopped process dies
    _join_all(procs.values(), 30.0)
    _wait_gone(below, grace)  # children notice their parent is gone and exit
    for pid, started in below.items():
        if alive(pid, started):
            log.warning("stop: killing %d, left behind by a party", pid)
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    _wait_gone(below, 5.0)


def _wait_gone(pids: Mapping[int, str], seconds: float) -> None:
    """Wait until none of ``pids`` (``pid -> start time``) runs, at most ``seconds``."""
    deadline = time.monotonic() + seconds
    while any(alive(*item) for item in pids.items()) and time.monotonic() < deadline:
        time.sleep(0.02)


__all__ = [
    "ControlPipe",
    "alive",
    "descendants",
    "die_with_parent",
    "process_state",
    "stop_processes",
]
