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
restart); SIGHUP stops ``up`` like SIGTERM (that one with a relative ``--dir``: PostgreSQL runs in
its data directory, so every path is made absolute first).
"""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from chain import Deployment, connect
from storage import IpfsStore
from tests.integration.consortium.up_process import (
    ROOT,
    SERVICES,
    Up,
    consortium_folder,
    descendants,
    free_ports,
    require_services,
)

pytestmark = [pytest.mark.slow, pytest.mark.rpc, pytest.mark.postgres]


@pytest.fixture(scope="module", autouse=True)
def _needs_every_service() -> None:
    require_services()


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


def small_run(
    only: str,
    test: Callable[[Up, dict[str, Any]], None],
    *,
    relative: bool = False,
    ignore_sigint: bool = False,
) -> None:
    """Run ``test`` on a consortium of ``only``, in a folder of its own (``--dir`` relative)."""
    folder = consortium_folder()
    where = Path(os.path.relpath(folder / "c", ROOT)) if relative else folder / "c"
    up = Up(where, free_ports(4), only=only, ignore_sigint=ignore_sigint)
    try:
        ready = up.ready()
        assert ready["services"] == only.split(",")
        assert ready["dir"] == str(folder / "c")
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


def test_sighup_stops_up_like_sigterm_and_a_relative_dir_works() -> None:
    def hang_up(up: Up, ready: dict[str, Any]) -> None:
        tree = descendants(up.proc.pid)
        up.proc.send_signal(signal.SIGHUP)
        assert up.wait() == 0, up.stderr()[-3000:]
        up.assert_nothing_left(tree)

    small_run("postgres", hang_up, relative=True)
