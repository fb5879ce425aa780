"""A throw-away PostgreSQL server for the benchmark (real server binaries, trust auth, 127.0.0.1).

PostgreSQL refuses to run as root: when the benchmark runs as root the server runs as the
``postgres`` system user (``runuser``), its data directory owned by that user. Settings are the
server's defaults but ``fsync`` (the data is thrown away) and ``max_connections`` (room for every
worker's pool).
"""

from __future__ import annotations

import glob
import logging
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from kernel.errors import ServiceUnavailableError

log = logging.getLogger(__name__)


def _bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_and_create(port: int, user: str, database: str, timeout: float = 30.0) -> None:
    import psycopg

    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(
                host="127.0.0.1", port=port, user=user, dbname="postgres", autocommit=True
            ) as conn:
                conn.execute(f'CREATE DATABASE "{database}"')
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@dataclass(frozen=True)
class PostgresServer:
    """A running server.

    Parameters
    ----------
    url : str
        SQLAlchemy URL of the database created on it.
    data_dir : Path
        Its data directory (``postmaster.pid`` names the server's process).
    """

    url: str
    data_dir: Path

    def pid(self) -> int:
        """The postmaster's process id (its backends are its children)."""
        return int((self.data_dir / "postmaster.pid").read_text().split()[0])


@contextmanager
def running_postgres(database: str = "fedmarket_bench") -> Iterator[PostgresServer]:
    """Start a server and create ``database``; yield it; stop and delete it.

    Parameters
    ----------
    database : str, default "fedmarket_bench"
        The database created on the server.

    Raises
    ------
    ServiceUnavailableError
        When the PostgreSQL server binaries are not installed.
    """
    initdb, pg_ctl = _bin("initdb"), _bin("pg_ctl")
    if initdb is None or pg_ctl is None:
        raise ServiceUnavailableError("running_postgres: PostgreSQL binaries are not installed")
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    root = Path(tempfile.mkdtemp(prefix="fedmarket-bench-pg-"))
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    if prefix:
        pg = pwd.getpwnam("postgres")
        for path in (root, sock):
            os.chown(path, pg.pw_uid, pg.pw_gid)
    port, user = _free_port(), "fedmarket"

    def run(*cmd: str) -> None:
        subprocess.run([*prefix, *cmd], check=True, capture_output=True, text=True)

    try:
        run(initdb, "-D", str(data), "-U", user, "--auth=trust", "--no-sync", "-E", "UTF8")
        opts = (
            f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        )
        run(pg_ctl, "-D", str(data), "-w", "-l", str(root / "log"), "-o", opts, "start")
        _wait_and_create(port, user, database)
        log.info("running_postgres: server on 127.0.0.1:%s", port)
        yield PostgresServer(f"postgresql+psycopg://{user}@127.0.0.1:{port}/{database}", data)
    finally:
        subprocess.run(
            [*prefix, pg_ctl, "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
            check=False,
        )
        shutil.rmtree(root, ignore_errors=True)


__all__ = ["PostgresServer", "running_postgres"]
