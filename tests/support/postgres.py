"""A throw-away PostgreSQL server for the tests (real server binaries, trust auth, 127.0.0.1).

PostgreSQL refuses to run as root, so when the tests run as root the server runs as the
``postgres`` system user (``runuser``), with its data directory owned by that user.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


def postgres_available() -> bool:
    """Whether the server binaries are installed."""
    return _bin("initdb") is not None and _bin("pg_ctl") is not None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_postgres(database: str = "fedmarket") -> Iterator[str]:
    """Start a server, create ``database``; yield its SQLAlchemy URL; stop and delete it."""
    initdb, pg_ctl = _bin("initdb"), _bin("pg_ctl")
    if initdb is None or pg_ctl is None:
        raise RuntimeError("PostgreSQL server binaries are not installed")
    as_root = os.geteuid() == 0
    prefix: list[str] = ["runuser", "-u", "postgres", "--"] if as_root else []
    root = Path(tempfile.mkdtemp(prefix="fedmarket-pg-"))
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    if as_root:
        pg = pwd.getpwnam("postgres")
        for path in (root, sock):
            os.chown(path, pg.pw_uid, pg.pw_gid)
    port = _free_port()
    user = "fedmarket"
    run = lambda *cmd: subprocess.run(  # noqa: E731
        [*prefix, *cmd], check=True, capture_output=True, text=True
    )
    try:
        run(initdb, "-D", str(data), "-U", user, "--auth=trust", "--no-sync", "-E", "UTF8")
        opts = f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off"
        run(pg_ctl, "-D", str(data), "-w", "-l", str(root / "log"), "-o", opts, "start")
        import psycopg

        deadline = time.monotonic() + 30
        while True:
            try:
                with psycopg.connect(
                    host="127.0.0.1", port=port, user=user, dbname="postgres", autocommit=True
                ) as conn:
                    conn.execute(f'CREATE DATABASE "{database}"')
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield f"postgresql+psycopg://{user}@127.0.0.1:{port}/{database}"
    finally:
        subprocess.run(
            [*prefix, pg_ctl, "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
            check=False,
        )
        shutil.rmtree(root, ignore_errors=True)
