"""Managed child processes: each in a session of its own, dying with its parent, stopped cleanly.

A :class:`ManagedProcess` runs one service's command with its output appended to a log file.
The child starts a new session (so a terminal's Ctrl-C reaches the supervisor only, which then
stops the children in order), asks Linux to send it SIGTERM when its parent dies
(:func:`chain.devnode.die_with_parent`, PR_SET_PDEATHSIG), and may run as another system user
(PostgreSQL refuses root). :meth:`ManagedProcess.stop` sends the service's stop signal, waits
its grace period, then SIGKILLs the whole process group; the leader is only reaped after that, so
the group's id cannot be reused by another process in between.

    process = ManagedProcess(ProcessSpec("ipfs", ("jsipfs", "daemon"), log=Path("ipfs.log")))
    process.start()
    ...
    process.stop()
"""

from __future__ import annotations

import logging
import os
import pwd
import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from chain.devnode import die_with_parent
from fedmarket.consortium.errors import ServiceStartError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProcessSpec:
    """How to run one service's process.

    Attributes
    ----------
    name : str
        The service's name (``chain``, ``ipfs``...), used in messages.
    argv : tuple of str
        The command; no shell.
    log : Path
        File that the child's stdout and stderr are appended to.
    env : Mapping of str to str, default {}
        Variables set on top of this process's environment (secrets go here, never in argv).
    cwd : Path or None, default None
        Working directory; ``None`` for this process's.
    user : str or None, default None
        System user to run as when this process is root (``postgres``); ignored otherwise.
    stop_signal : int, default SIGTERM
        What asks the service to stop cleanly (PostgreSQL: SIGINT, its fast shutdown).
    stop_timeout : float, default 10.0
        Seconds the service gets to stop before its process group is killed.
    """

    name: str
    argv: tuple[str, ...]
    log: Path
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    user: str | None = None
    stop_signal: int = signal.SIGTERM
    stop_timeout: float = 10.0


def _child_setup(parent: int) -> Callable[[], None]:
    """What the child runs before exec: die with ``parent``, or now if it is already gone."""

    def setup() -> None:
        die_with_parent()
        if os.getppid() != parent:  # the parent died before the request took effect
            os._exit(1)

    return setup


def _user_options(user: str | None) -> dict[str, Any]:
    """``Popen`` options that switch to ``user`` (root only), supplementary groups dropped."""
    if user is None or os.geteuid() != 0:
        return {}
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise ServiceStartError(f"start: no system user {user!r}") from None
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


class ManagedProcess:
    """One service's child process.

    Parameters
    ----------
    spec : ProcessSpec
        What to run and how to stop it.
    """

    def __init__(self, spec: ProcessSpec) -> None:
        self.spec = spec
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._code: int | None = None

    def start(self) -> ManagedProcess:
        """Start the process (its own session, SIGTERM when this process dies).

        Raises
        ------
        ServiceStartError
            When the command cannot be executed (missing binary, unknown user).
        """
        spec = self.spec
        spec.log.parent.mkdir(parents=True, exist_ok=True)
        self._log = spec.log.open("ab")
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
        self._log.write(f"--- {stamp} start: {' '.join(spec.argv)}\n".encode())
        self._log.flush()
        try:
            self._proc = subprocess.Popen(
                list(spec.argv),
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **spec.env},
                cwd=spec.cwd,
                start_new_session=True,
                preexec_fn=_child_setup(os.getpid()),
                **_user_options(spec.user),
            )
        except OSError as exc:
            self._close_log()
            what = f"start: {spec.name}: cannot run {spec.argv[0]}"
            raise ServiceStartError(f"{what}: {exc}") from exc
        log.info("start: %s as pid %s", spec.name, self._proc.pid)
        return self

    @property
    def pid(self) -> int | None:
        """The process id (also its process group's), or ``None`` before :meth:`start`."""
        return self._proc.pid if self._proc is not None else None

    @property
    def returncode(self) -> int | None:
        """The exit status once the process has exited (negative: killed by that signal)."""
        if self._code is None:
            self.exited()
        return self._code

    def exited(self) -> bool:
        """Whether the process has exited; it is left unreaped (its group id stays reserved)."""
        if self._proc is None:
            return True
        if self._code is not None or self._proc.returncode is not None:
            return True
        try:
            info = os.waitid(os.P_PID, self._proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:  # reaped elsewhere
            self._code = self._proc.poll()
            return True
        if info is None:
            return False
        exited = info.si_code == os.CLD_EXITED
        self._code = info.si_status if exited else -info.si_status
        return True

    def _wait_exit(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self.exited():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        return True

    def _kill_group(self) -> None:
        if self._proc is None:
            return
        try:
            os.killpg(self._proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def stop(self) -> int | None:
        """Stop the service: its stop signal, then SIGKILL to its group after the grace period.

        Whatever else is left in the process group is killed too. Returns the exit status.
        """
        if self._proc is None:
            return None
        spec = self.spec
        if not self.exited():
            name = signal.Signals(spec.stop_signal).name
            log.info("stop: %s (pid %s) with %s", spec.name, self._proc.pid, name)
            try:
                os.kill(self._proc.pid, spec.stop_signal)
            except ProcessLookupError:
                pass
            if not self._wait_exit(spec.stop_timeout):
                grace = spec.stop_timeout
                log.warning("stop: %s still running after %ss: killed", spec.name, grace)
                self._kill_group()
                self._wait_exit(30.0)
        self._kill_group()  # what it started and left behind; the leader is still unreaped
        code = self._proc.wait()
        self._code = self._code if self._code is not None else code
        self._close_log()
        self._proc = None
        return self._code

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, lines: int = 3) -> str:
        """The last ``lines`` non-empty lines of the log, joined by `` | ``."""
        try:
            with self.spec.log.open("rb") as handle:
                handle.seek(max(0, handle.seek(0, os.SEEK_END) - 8192))
                text = handle.read().decode("utf-8", errors="replace")
        except OSError:
            return "(no log)"
        found = [line.strip() for line in text.splitlines() if line.strip()]
        return " | ".join(found[-lines:]) or "(empty log)"


__all__ = ["ManagedProcess", "ProcessSpec"]
