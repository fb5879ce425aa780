"""``fedmarket up`` as a real process: healthy, every endpoint answering, stopped without leftovers.

One consortium folder of all four services is run twice on the same ports:

1. fresh: the endpoints answer (the deployment is on the chain, the IPFS daemon stores and
   returns an object, the database answers ``SELECT 1``, the API's ``/health`` is 200);
   SIGTERM -> exit 0, every process ``up`` started is gone (``/proc``), every port free;
2. again on the same folder: the deployment, the stored object and a database row are still
   there; SIGKILL of ``up`` itself -> its children go too (PR_SET_PDEATHSIG), ports free.

Then, on small consortia (``--only``) in folders of their own: started with SIGINT inherited
*ignored* (a background job), SIGINT -> exit 0; a service killed behind ``up``'s back stops
everything with exit 3 and a one-line error naming it and its log (the documented choice: no
restart); SIGHUP stops ``up`` like SIGTERM.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from chain import Deployment, connect
from chain.devnode import find_tool
from chain.errors import ChainConnectionError
from fedmarket.consortium import jsipfs_available, postgres_available
from storage import IpfsStore
from tests.support.services import unavailable

pytestmark = [pytest.mark.slow, pytest.mark.rpc, pytest.mark.postgres]

ROOT = Path(__file__).resolve().parents[3]
SERVICES = ("chain", "ipfs", "postgres", "api")
READY_TIMEOUT = 150.0
STOP_TIMEOUT = 60.0


@pytest.fixture(scope="module", autouse=True)
def _needs_every_service() -> None:
    try:
        find_tool("anvil")
    except ChainConnectionError as exc:
        unavailable(str(exc))
    if not jsipfs_available():
        unavailable("js-ipfs is not installed (scripts/setup --all)")
    if not postgres_available():
        unavailable("PostgreSQL server binaries are not installed")


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
        self, folder: Path, ports: list[int], only: str = "", ignore_sigint: bool = False
    ) -> None:
        self.folder = folder
        self.ports = dict(zip(SERVICES, ports, strict=True))
        argv = [sys.executable, "-m", "fedmarket", "-v", "up", "--dir", str(folder)]
        for name, port in self.ports.items():
            argv += [f"--{name}-port", str(port)]
        argv += ["--only", only] if only else []
        self.stderr_path = folder.parent / f"{folder.name}-up-{time.monotonic_ns()}.log"
        self._stderr = self.stderr_path.open("wb")
        ignore = (lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if ignore_sigint else None
        self.proc = subprocess.Popen(
            argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=self._stderr, preexec_fn=ignore
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
            wait_until(lambda port=port: port_free(port), 10, f"{name}'s port {port} free")


def consortium_folder() -> Path:
    """A folder the ``postgres`` user can reach (pytest's tmp_path is root's alone)."""
    base = Path(tempfile.mkdtemp(prefix="fedmarket-up-test-"))
    base.chmod(0o755)
    return base


@pytest.fixture(scope="module")
def base() -> Iterator[Path]:
    folder = consortium_folder()
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def ports() -> list[int]:
    return free_ports(4)


@pytest.fixture(scope="module")
def first(base: Path, ports: list[int]) -> Iterator[tuple[Up, dict[str, Any]]]:
    """The first run on a fresh folder, and its ready line."""
    up = Up(base / "consortium", ports)
    try:
        yield up, up.ready()
    finally:
        up.stop()


def password(ready: dict[str, Any]) -> str:
    return Path(ready["database_password_file"]).read_text().strip()


def connect_database(ready: dict[str, Any]) -> psycopg.Connection[Any]:
    url = ready["database_url"].replace("postgresql+psycopg://", "postgresql://")
    return psycopg.connect(url, password=password(ready), autocommit=True)


@pytest.fixture(scope="module")
def seeded(first: tuple[Up, dict[str, Any]]) -> dict[str, Any]:
    """What the first run stored: an object on IPFS, a row in the database, the deployment."""
    _, ready = first
    data = b"kept across restarts " * 100
    with IpfsStore(ready["ipfs_api"]) as store:
        cid = store.put(data)
    with connect_database(ready) as conn:
        conn.execute("CREATE TABLE consortium_marker (note text)")
        conn.execute("INSERT INTO consortium_marker VALUES ('first run')")
    return {"cid": cid, "data": data, "deployment": Path(ready["deployment"]).read_bytes()}


def test_up_reaches_healthy_and_every_endpoint_answers(
    first: tuple[Up, dict[str, Any]], seeded: dict[str, Any]
) -> None:
    up, ready = first
    assert ready["services"] == list(SERVICES)
    assert set(ready["pids"]) == set(SERVICES)
    assert "@" in ready["database_url"] and ":" + password(ready) not in ready["database_url"]
    deployment = Deployment.load(ready["deployment"])
    deployment.check(connect(ready["rpc"]))  # the five contracts have code on the chain
    with IpfsStore(ready["ipfs_api"]) as store:
        assert store.get(seeded["cid"]) == seeded["data"]
    with connect_database(ready) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    health = httpx.get(f"{ready['api']}/health", timeout=10)
    assert health.status_code == 200, health.text
    body = health.json()
    assert body["chain"]["chain_id"] == deployment.chain_id and body["database"] == "ok"
    assert body["contracts"]["fed_task"] == deployment.fed_task
    for name, log in ready["logs"].items():
        assert Path(log).is_file() and Path(log).parent == up.folder / name


def test_sigterm_stops_every_child_and_frees_every_port(first: tuple[Up, dict[str, Any]]) -> None:
    up, ready = first
    tree = descendants(up.proc.pid)
    assert set(ready["pids"].values()) <= tree
    up.proc.send_signal(signal.SIGTERM)
    assert up.wait() == 0, up.stderr()[-3000:]
    up.assert_nothing_left(tree)
    assert "consortium stopped" in up.stderr()


def test_a_second_up_reuses_the_state_and_sigkill_takes_its_children(
    base: Path, ports: list[int], first: tuple[Up, dict[str, Any]], seeded: dict[str, Any]
) -> None:
    first[0].stop()  # when run alone
    up = Up(base / "consortium", ports)
    try:
        ready = up.ready()
        assert Path(ready["deployment"]).read_bytes() == seeded["deployment"]
        Deployment.load(ready["deployment"]).check(connect(ready["rpc"]))
        with IpfsStore(ready["ipfs_api"]) as store:
            assert store.get(seeded["cid"]) == seeded["data"]
        with connect_database(ready) as conn:
            assert conn.execute("SELECT note FROM consortium_marker").fetchall() == [("first run",)]
        tree = descendants(up.proc.pid)
        up.proc.kill()
        up.wait()
        up.assert_nothing_left(tree)
    finally:
        up.stop()


def small_run(only: str, test: Callable[[Up, dict[str, Any]], None], **options: bool) -> None:
    """Run ``test`` on a consortium of ``only``, in a folder of its own."""
    folder = consortium_folder()
    up = Up(folder / "c", free_ports(4), only=only, **options)
    try:
        ready = up.ready()
        assert ready["services"] == only.split(",")
        test(up, ready)
    finally:
        up.stop()
        shutil.rmtree(folder, ignore_errors=True)


def test_up_started_with_sigint_ignored_stops_on_sigint() -> None:
    def interrupt(up: Up, ready: dict[str, Any]) -> None:
        tree = descendants(up.proc.pid)
        chain_ignores = int(_status(ready["pids"]["chain"], "SigIgn"), 16)
        assert not chain_ignores & (1 << (signal.SIGINT - 1)), "children start with SIGINT default"
        up.proc.send_signal(signal.SIGINT)
        assert up.wait() == 0, up.stderr()[-3000:]
        up.assert_nothing_left(tree)

    small_run("chain,postgres", interrupt, ignore_sigint=True)


def _status(pid: int, field: str) -> str:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return line.split()[1]
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def test_a_service_dying_on_its_own_stops_the_others_with_exit_3() -> None:
    def die(up: Up, ready: dict[str, Any]) -> None:
        tree = descendants(up.proc.pid)  # the postmaster's own children stay behind it: killed
        os.kill(ready["pids"]["postgres"], signal.SIGKILL)
        assert up.wait() == 3
        last = up.stderr().strip().splitlines()[-1]
        assert last.startswith("error: postgres exited on its own (status -9)"), last
        assert str(up.folder / "postgres" / "postgres.log") in last
        up.assert_nothing_left(tree)

    small_run("chain,postgres", die)


def test_sighup_stops_up_like_sigterm() -> None:
    def hang_up(up: Up, ready: dict[str, Any]) -> None:
        tree = descendants(up.proc.pid)
        up.proc.send_signal(signal.SIGHUP)
        assert up.wait() == 0, up.stderr()[-3000:]
        up.assert_nothing_left(tree)

    small_run("postgres", hang_up)
