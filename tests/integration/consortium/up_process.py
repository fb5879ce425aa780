"""A ``fedmarket up`` process under test: its ready line, its stderr, its process tree.

Shared by the consortium's tests: free ports, whether a process is gone (``/proc``), the
processes below a pid, and a folder the ``postgres`` user can reach.
"""

from __future__ import annotations

import json
import queue
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from chain.devnode import find_tool
from chain.errors import ChainConnectionError
from fedmarket.consortium import jsipfs_available, postgres_available
from tests.support.services import unavailable

ROOT = Path(__file__).resolve().parents[3]
SERVICES = ("chain", "ipfs", "postgres", "api")
READY_TIMEOUT = 150.0
STOP_TIMEOUT = 60.0


def free_ports(count: int) -> list[int]:
    """Distinct ports free on 127.0.0.1 now."""
    socks = [socket.socket() for _ in range(count)]
    try:
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in socks]
    finally:
        for sock in socks:
            sock.close()


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def running(pid: int) -> bool:
    """Alive and not a zombie (an orphan's zombie may wait for an init that never reaps)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` now (children, grandchildren...)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s: {what}")
        time.sleep(0.1)


class Up:
    """A ``fedmarket up`` process: its ready line, its stderr, its process tree."""

    def __init__(
        self,
        folder: Path,
        ports: list[int],
        only: str = "",
        ignore_sigint: bool = False,
        extra: Sequence[str] = (),
        env: dict[str, str] | None = None,
    ) -> None:
        self.folder = folder
        self.only = only.split(",") if only else []
        self.ports = dict(zip(SERVICES, ports, strict=True))
        argv = [sys.executable, "-m", "fedmarket", "-v", "up", "--dir", str(folder)]
        for name, port in self.ports.items():
            argv += [f"--{name}-port", str(port)]
        argv += [*(["--only", only] if only else []), *extra]
        where = (ROOT / folder).resolve()  # a relative --dir is relative to ROOT, up's cwd
        self.stderr_path = where.parent / f"{folder.name}-up-{time.monotonic_ns()}.log"
        self._stderr = self.stderr_path.open("wb")
        ignore = (lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if ignore_sigint else None
        self.proc = subprocess.Popen(
            argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=self._stderr, preexec_fn=ignore, env=env
        )
        self._lines: queue.Queue[bytes] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def ready(self, timeout: float = READY_TIMEOUT) -> dict[str, Any]:
        """The JSON line printed once every service is healthy."""
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no ready line in {timeout}s: {self.stderr()[-3000:]}") from None
        return dict(json.loads(line))

    def wait(self, timeout: float = STOP_TIMEOUT) -> int:
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"up still running: {self.stderr()[-3000:]}") from None
        self._stderr.close()
        return code

    def stop(self) -> None:
        """For the fixtures' clean-up: SIGTERM, then SIGKILL."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._stderr.close()

    def assert_nothing_left(self, tree: set[int], timeout: float = 30.0) -> None:
        assert tree, "up had no child processes"
        wait_until(lambda: not [p for p in tree if running(p)], timeout, f"children of up {tree}")
        for name, port in self.ports.items():
            if not self.only or name in self.only:
                wait_until(lambda port=port: port_free(port), 10, f"{name}'s port {port} free")


def consortium_folder() -> Path:
    """A folder the ``postgres`` user can reach (pytest's tmp_path is root's alone)."""
    base = Path(tempfile.mkdtemp(prefix="fedmarket-up-test-"))
    base.chmod(0o755)
    return base


def require_services() -> None:
    """Skip (or fail, with FEDMARKET_REQUIRE_REAL=1) unless anvil, js-ipfs and PostgreSQL exist."""
    try:
        find_tool("anvil")
    except ChainConnectionError as exc:
        unavailable(str(exc))
    if not jsipfs_available():
        unavailable("js-ipfs is not installed (scripts/setup --all)")
    if not postgres_available():
        unavailable("PostgreSQL server binaries are not installed")
