"""PostgreSQL servers the project starts itself: a consortium's, and throw-away ones.

The server binaries (PostgreSQL 15 on the project's machines) refuse to run as root: when this
process is root, ``initdb`` and the server run as the ``postgres`` system user, and the folder
holding the data directory is handed over to it. The server is a direct child (``postgres -D``,
not ``pg_ctl``'s daemon), managed like every service: a session of its own, SIGTERM when its
parent dies, SIGINT (PostgreSQL's fast shutdown) to stop. It listens on TCP only: no Unix
socket, hence no socket folder to own and no limit on the data path's length.

    with running_postgres() as server:    # a throw-away server, trust authentication
        engine = create_engine(server.url)
"""

from __future__ import annotations

import glob
import logging
import os
import pwd
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from fedmarket.consortium.errors import ConsortiumConfigError, ServiceStartError
from fedmarket.consortium.health import HealthCheck, wait_healthy
from fedmarket.consortium.process import ManagedProcess, ProcessSpec

log = logging.getLogger(__name__)

SERVER_USER = "postgres"
"""The system user the server runs as when this process is root."""


def server_binary(name: str) -> str | None:
    """Path of a server binary (``initdb``, ``postgres``): the newest install, else ``PATH``.

    Parameters
    ----------
    name : str
        The binary.
    """
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


def postgres_available() -> bool:
    """Whether the server binaries are installed."""
    return server_binary("initdb") is not None and server_binary("postgres") is not None


def _binary(name: str) -> str:
    found = server_binary(name)
    if found is None:
        raise ServiceStartError(f"postgres: {name} is not installed (PostgreSQL server binaries)")
    return found


def server_user() -> str | None:
    """``postgres`` when this process is root (the server refuses root), else ``None``."""
    return SERVER_USER if os.geteuid() == 0 else None


def hand_over(path: Path) -> None:
    """Give ``path`` to the server's user (when root) and make it private (0700 for a folder).

    Parameters
    ----------
    path : Path
        A folder or file the server reads or writes.
    """
    user = server_user()
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(path, entry.pw_uid, entry.pw_gid)
    path.chmod(0o700 if path.is_dir() else 0o600)


def check_reachable(folder: Path) -> None:
    """Raise unless the server's user may enter every folder above ``folder``.

    Parameters
    ----------
    folder : Path
        The folder handed over to the server (its data directory's parent).

    Raises
    ------
    ConsortiumConfigError
        Naming the first folder the ``postgres`` user cannot enter.
    """
    user = server_user()
    if user is None:
        return
    entry = pwd.getpwnam(user)
    for parent in folder.resolve().parents:
        info = parent.stat()
        if info.st_uid == entry.pw_uid:
            bit = stat.S_IXUSR
        elif info.st_gid == entry.pw_gid:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not info.st_mode & bit:
            raise ConsortiumConfigError(
                f"postgres: the {user} user cannot enter {parent} (the server runs as {user}); "
                f"choose a folder elsewhere or allow it: chmod o+x {parent}"
            )


def new_password(path: Path) -> str:
    """The password kept in ``path``, made (random, 0600, the server's user's) the first time.

    Parameters
    ----------
    path : Path
        The password file.
    """
    if not path.exists():
        path.write_text(secrets.token_urlsafe(24) + "\n", encoding="utf-8")
        hand_over(path)
    return path.read_text(encoding="utf-8").strip()


def init_cluster(
    data: Path, *, user: str, password_file: Path | None = None, durable: bool = True
) -> None:
    """Run ``initdb`` unless ``data`` already holds a cluster.

    Parameters
    ----------
    data : Path
        The data directory (its parent must be the server user's: :func:`hand_over`).
    user : str
        The cluster's superuser.
    password_file : Path or None, default None
        ``None``: trust authentication. Otherwise the superuser's password (first line), local
        connections trusted and every TCP connection by SCRAM password, from any address the
        server listens on.
    durable : bool, default True
        ``False`` skips the disk flushes (a throw-away cluster).
    """
    data = data.resolve()  # initdb runs in the data directory's parent
    password_file = password_file.resolve() if password_file is not None else None
    if (data / "PG_VERSION").exists():
        return
    argv = [_binary("initdb"), "-D", str(data), "-U", user, "-E", "UTF8"]
    if password_file is None:
        argv.append("--auth=trust")
    else:
        argv += ["--auth-local=trust", "--auth-host=scram-sha-256", "--pwfile", str(password_file)]
    argv += [] if durable else ["--no-sync"]
    done = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        check=False,
        cwd=data.parent,
        user=server_user(),
        timeout=120,
    )
    if done.returncode != 0:
        detail = done.stderr[-500:]
        raise ServiceStartError(f"postgres: initdb failed ({done.returncode}): {detail}")
    if password_file is not None:
        with (data / "pg_hba.conf").open("a", encoding="utf-8") as hba:
            hba.write("host all all all scram-sha-256\n")
    log.info("init_cluster: %s", data)


def server_spec(
    data: Path,
    *,
    host: str,
    port: int,
    log_file: Path,
    settings: Mapping[str, str] | None = None,
    stop_timeout: float = 10.0,
) -> ProcessSpec:
    """How to run the server on ``data`` (made by :func:`init_cluster`).

    Parameters
    ----------
    data : Path
        The data directory.
    host : str
        Address to listen on (TCP only).
    port : int
        Port.
    log_file : Path
        Where its output goes.
    settings : Mapping of str to str or None, default None
        More ``-c name=value`` settings (``fsync=off`` for a throw-away server).
    stop_timeout : float, default 10.0
        Seconds it gets to stop after SIGINT.
    """
    data = data.resolve()  # the server runs in its data directory
    argv = [_binary("postgres"), "-D", str(data), "-p", str(port)]
    argv += ["-c", f"listen_addresses={host}", "-c", "unix_socket_directories="]
    for name, value in (settings or {}).items():
        argv += ["-c", f"{name}={value}"]
    return ProcessSpec(
        name="postgres",
        argv=tuple(argv),
        log=log_file,
        cwd=data,
        user=server_user(),
        stop_signal=signal.SIGINT,
        stop_timeout=stop_timeout,
    )


def database_url(
    *, user: str, host: str, port: int, database: str, password: str | None = None
) -> str:
    """The SQLAlchemy URL (psycopg 3) of a database.

    Parameters
    ----------
    user, host, port, database : str, str, int, str
        Where it is.
    password : str or None, default None
        Left out when ``None`` (what is printed never holds it).
    """
    secret = f":{quote(password, safe='')}" if password else ""
    where = f"[{host}]" if ":" in host else host
    return f"postgresql+psycopg://{quote(user, safe='')}{secret}@{where}:{port}/{database}"


def _connect_probe(host: str, port: int, user: str, password: str | None) -> None:
    import psycopg

    with psycopg.connect(
        host=host, port=port, user=user, password=password, dbname="postgres", connect_timeout=3
    ) as conn:
        conn.execute("SELECT 1")


def postgres_check(host: str, port: int, user: str, password: str | None = None) -> HealthCheck:
    """The server accepts a connection and answers ``SELECT 1``.

    Parameters
    ----------
    host, port, user : str, int, str
        Where and who.
    password : str or None, default None
        The user's password (``None``: trust authentication).
    """
    return HealthCheck(
        f"SELECT 1 on {host}:{port}", lambda: _connect_probe(host, port, user, password)
    )


def ensure_database(
    host: str, port: int, user: str, database: str, password: str | None = None
) -> None:
    """Create ``database`` unless it exists.

    Parameters
    ----------
    host, port, user, database : str, int, str, str
        Where, who, and the database.
    password : str or None, default None
        The user's password.
    """
    import psycopg
    from psycopg import sql

    with psycopg.connect(
        host=host, port=port, user=user, password=password, dbname="postgres", autocommit=True
    ) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
        if found.fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
            log.info("ensure_database: created %s", database)


@dataclass(frozen=True)
class PostgresServer:
    """A running throw-away server.

    Attributes
    ----------
    url : str
        SQLAlchemy URL of the database created on it.
    data_dir : Path
        Its data directory.
    process : ManagedProcess
        The server (the postmaster; its backends are its children).
    """

    url: str
    data_dir: Path
    process: ManagedProcess

    def pid(self) -> int:
        """The postmaster's process id."""
        pid = self.process.pid
        if pid is None:
            raise ServiceStartError("postgres: the server is not running")
        return pid


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_postgres(
    database: str = "fedmarket", *, settings: Mapping[str, str] | None = None, timeout: float = 60
) -> Iterator[PostgresServer]:
    """Start a throw-away server on 127.0.0.1, create ``database``; yield it; stop and delete it.

    Parameters
    ----------
    database : str, default "fedmarket"
        The database created on it (user ``fedmarket``, trust authentication).
    settings : Mapping of str to str or None, default None
        More server settings (``fsync`` is off: the data is thrown away).
    timeout : float, default 60
        Seconds the server may take to accept connections.
    """
    root = Path(tempfile.mkdtemp(prefix="fedmarket-pg-"))
    process: ManagedProcess | None = None
    try:
        hand_over(root)
        init_cluster(root / "data", user="fedmarket", durable=False)
        port = _free_port()
        spec = server_spec(
            root / "data", host="127.0.0.1", port=port, log_file=root / "log",
            settings={"fsync": "off", **(settings or {})}, stop_timeout=30,
        )  # fmt: skip
        process = ManagedProcess(spec).start()
        check = postgres_check("127.0.0.1", port, "fedmarket")
        wait_healthy(check, timeout=timeout, process=process)
        ensure_database("127.0.0.1", port, "fedmarket", database)
        url = database_url(user="fedmarket", host="127.0.0.1", port=port, database=database)
        yield PostgresServer(url, root / "data", process)
    finally:
        if process is not None:
            process.stop()
        shutil.rmtree(root, ignore_errors=True)


__all__ = [
    "SERVER_USER",
    "PostgresServer",
    "check_reachable",
    "database_url",
    "ensure_database",
    "hand_over",
    "init_cluster",
    "new_password",
    "postgres_available",
    "postgres_check",
    "running_postgres",
    "server_binary",
    "server_spec",
    "server_user",
]
