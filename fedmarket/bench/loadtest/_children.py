"""The bench's child processes: started with their logs in files, watched, and always stopped.

:class:`Children` starts ``python -m fedmarket ...`` processes, each with its stdout (the command's
JSON answer) and its stderr (its ``--verbose`` log) in files of the work folder, never pipes, so
that fifty chatty processes never block on a full buffer. Each child asks Linux to be sent
SIGTERM if the bench dies outright (:func:`chain.devnode.die_with_parent`); leaving the ``with``
block (normally, on an error or on Ctrl-C) terminates every child still running, then kills
those that have not exited within a few seconds.

:meth:`Children.sample` reads each living child's memory from ``/proc``: ``VmHWM`` (its peak
resident set so far, kept as the child's peak), ``VmRSS`` and, from ``smaps_rollup``, ``Pss``
(resident memory with each shared page divided among the processes that map it: the sum over the
children is what they really occupy together, where the sum of RSS counts the shared libraries
once per process). Call it every second or two while the children run.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from chain.devnode import die_with_parent

log = logging.getLogger(__name__)

_TICKS = os.sysconf("SC_CLK_TCK")
STOP_GRACE_S = 10.0
"""Seconds a terminated child has to exit before it is killed."""


@dataclass
class Child:
    """One started process and what was read of it."""

    role: str
    proc: subprocess.Popen[bytes]
    out_path: Path
    log_path: Path
    started_at: float
    """Wall-clock time (``time.time()``) of the start."""
    peak_rss_kb: int = 0
    cpu_s: float = 0.0
    """User and system CPU seconds, as last read while it ran."""

    @property
    def pid(self) -> int:
        """The process id."""
        return self.proc.pid

    def output(self) -> str:
        """What the process printed on stdout."""
        return self.out_path.read_text(encoding="utf-8", errors="replace")

    def log_tail(self, size: int = 2000) -> str:
        """The last ``size`` characters of its log."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-size:]


@dataclass(frozen=True)
class MemoryFigures:
    """Memory of a group of children, in MiB.

    Parameters
    ----------
    sum_peak_rss_mb : float
        The sum over the children of each one's peak resident set (``VmHWM``).
    largest_peak_rss_mb : float
        The largest single peak.
    largest_role : str
        Whose peak it is.
    peak_total_rss_mb : float
        The largest sum of the children's resident sets at one sample.
    peak_total_pss_mb : float
        The largest sum of their proportional set sizes at one sample (shared pages counted once).
    """

    sum_peak_rss_mb: float
    largest_peak_rss_mb: float
    largest_role: str
    peak_total_rss_mb: float
    peak_total_pss_mb: float


def _status_kb(pid: int) -> dict[str, int]:
    """``VmHWM`` and ``VmRSS`` of ``pid`` in kB (empty once it is gone)."""
    found: dict[str, int] = {}
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return found
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name in ("VmHWM", "VmRSS"):
            found[name] = int(value.split()[0])
    return found


def _pss_kb(pid: int) -> int:
    """``Pss`` of ``pid`` in kB (0 when unreadable)."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    return 0


def _cpu_s(pid: int) -> float | None:
    """User and system CPU seconds of ``pid`` (``None`` once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / _TICKS


@dataclass
class Children:
    """Child processes of the bench (a context manager that stops them all on exit).

    Parameters
    ----------
    folder : Path
        Where each child's output and log files go.
    """

    folder: Path
    children: list[Child] = field(default_factory=list)
    _peak_total_rss_kb: int = 0
    _peak_total_pss_kb: int = 0

    def spawn(self, role: str, args: Sequence[str], env: Mapping[str, str] | None = None) -> Child:
        """Start ``python -m fedmarket --verbose ARGS`` as ``role`` (a file-safe name).

        Parameters
        ----------
        role : str
            Names the child and its files (``role.out``, ``role.log``).
        args : sequence of str
            The command's arguments.
        env : mapping or None, default None
            Variables added to the bench's environment (a key, never in ``args``).
        """
        self.folder.mkdir(parents=True, exist_ok=True)
        out_path, log_path = self.folder / f"{role}.out", self.folder / f"{role}.log"
        full_env = {**os.environ, **(env or {})}
        with out_path.open("wb") as out, log_path.open("wb") as err:
            proc = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                [sys.executable, "-m", "fedmarket", "--verbose", *args],
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
                env=full_env,
                preexec_fn=die_with_parent,  # noqa: PLW1509 - one prctl call, no locks taken
            )
        child = Child(role, proc, out_path, log_path, time.time())
        self.children.append(child)
        log.debug("spawn: %s as pid %s", role, proc.pid)
        return child

    def running(self) -> list[Child]:
        """The children that have not exited."""
        return [c for c in self.children if c.proc.poll() is None]

    def sample(self, *, pss: bool = True) -> None:
        """Read every living child's memory and CPU time (see the module docstring)."""
        total_rss = total_pss = 0
        for child in self.running():
            status = _status_kb(child.pid)
            child.peak_rss_kb = max(child.peak_rss_kb, status.get("VmHWM", 0))
            total_rss += status.get("VmRSS", 0)
            total_pss += _pss_kb(child.pid) if pss else 0
            cpu = _cpu_s(child.pid)
            child.cpu_s = cpu if cpu is not None else child.cpu_s
        self._peak_total_rss_kb = max(self._peak_total_rss_kb, total_rss)
        self._peak_total_pss_kb = max(self._peak_total_pss_kb, total_pss)

    def memory(self, children: Sequence[Child] | None = None) -> MemoryFigures:
        """The memory figures of ``children`` (all when ``None``), from the samples so far."""
        group = list(self.children if children is None else children)
        largest = max(group, key=lambda c: c.peak_rss_kb, default=None)
        return MemoryFigures(
            sum_peak_rss_mb=sum(c.peak_rss_kb for c in group) / 1024,
            largest_peak_rss_mb=(largest.peak_rss_kb / 1024) if largest else 0.0,
            largest_role=largest.role if largest else "",
            peak_total_rss_mb=self._peak_total_rss_kb / 1024,
            peak_total_pss_mb=self._peak_total_pss_kb / 1024,
        )

    def stop(self, children: Sequence[Child] | None = None) -> None:
        """Terminate ``children`` (all when ``None``) still running; kill the stubborn ones."""
        group = list(self.children if children is None else children)
        for child in group:
            if child.proc.poll() is None:
                child.proc.terminate()
        deadline = time.monotonic() + STOP_GRACE_S
        for child in group:
            try:
                child.proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("stop: %s (pid %s) ignored SIGTERM: killed", child.role, child.pid)
                child.proc.kill()
                child.proc.wait()

    def __enter__(self) -> Children:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


__all__ = ["Child", "Children", "MemoryFigures"]
