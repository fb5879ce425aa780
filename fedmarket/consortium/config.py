"""What a consortium is made of: its services, ports, folder layout, endpoints.

The folder (``fedmarket up --dir``, default ``./consortium``) holds every service's state and
log; a second ``up`` on it reuses them::

    up.lock                 held by the running ``fedmarket up`` (a second one is refused)
    deployment.json         the contracts, deployed on the first ``up``
    chain/state.json        anvil's state (blocks, logs, balances), written every second
    chain/chain.log
    ipfs/repo/              the js-ipfs repository
    ipfs/ipfs.log
    postgres/data/          the PostgreSQL cluster (the postgres user's when run as root)
    postgres/password       the database user's password (0600)
    postgres/postgres.log
    api/relayer.key         the API's relayer key, made and funded on a dev chain (0600)
    api/access-log/         the API's access log of content key grants and downloads
    api/api.log
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from fedmarket.consortium.errors import ConsortiumBusyError, ConsortiumConfigError

SERVICES = ("chain", "ipfs", "postgres", "api")
"""Every service, in the order they start (each may need the ones before it)."""

DB_USER = "fedmarket"
"""The database's user (its cluster's superuser)."""

DB_NAME = "fedmarket"
"""The marketplace's database."""


@dataclass(frozen=True)
class Ports:
    """Port of each service.

    Attributes
    ----------
    chain : int, default 8545
        JSON-RPC of the chain node.
    ipfs : int, default 5001
        RPC API of the IPFS daemon.
    postgres : int, default 5432
        PostgreSQL.
    api : int, default 8000
        The marketplace API.
    """

    chain: int = 8545
    ipfs: int = 5001
    postgres: int = 5432
    api: int = 8000


@dataclass(frozen=True)
class ConsortiumConfig:
    """Options of ``fedmarket up``.

    Attributes
    ----------
    root : Path
        The consortium's folder.
    host : str, default "127.0.0.1"
        Address every service listens on (a service host's own address in a network).
    ports : Ports, default Ports()
        Port of each service.
    only : tuple of str, default SERVICES
        The services to run here; the others are reached at ``host`` and their ports, or at
        ``rpc_url`` / ``ipfs_url`` (the database: ``FEDMARKET_API_DATABASE_URL``).
    startup_timeout : float, default 120.0
        Seconds each service may take to become healthy.
    stop_timeout : float, default 10.0
        Seconds each service gets to stop before it is killed.
    rpc_url : str or None, default None
        The chain of a consortium whose chain runs elsewhere.
    ipfs_url : str or None, default None
        The IPFS API of a consortium whose daemon runs elsewhere.
    deployment_file : Path or None, default None
        The deployment to use instead of ``root / "deployment.json"``.
    """

    root: Path
    host: str = "127.0.0.1"
    ports: Ports = field(default_factory=Ports)
    only: tuple[str, ...] = SERVICES
    startup_timeout: float = 120.0
    stop_timeout: float = 10.0
    rpc_url: str | None = None
    ipfs_url: str | None = None
    deployment_file: Path | None = None

    def __post_init__(self) -> None:
        unknown = sorted(set(self.only) - set(SERVICES))
        if unknown or not self.only:
            raise ConsortiumConfigError(
                f"only: unknown service(s) {', '.join(unknown) or '(none given)'}; "
                f"choose among {', '.join(SERVICES)}"
            )
        chosen = [getattr(self.ports, name) for name in self.selected]
        if any(not 0 < port < 65536 for port in chosen) or len(set(chosen)) != len(chosen):
            raise ConsortiumConfigError(
                f"ports: each service needs its own port in 1-65535, not {chosen}"
            )
        if self.startup_timeout <= 0 or self.stop_timeout <= 0:
            raise ConsortiumConfigError("timeouts must be positive")

    @property
    def selected(self) -> tuple[str, ...]:
        """The services run here, in start order."""
        return tuple(name for name in SERVICES if name in self.only)

    def url(self, service: str) -> str:
        """Where ``service`` answers (ours, or the one given for a service run elsewhere).

        Parameters
        ----------
        service : {"chain", "ipfs", "api"}
            The service.
        """
        given = {"chain": self.rpc_url, "ipfs": self.ipfs_url}.get(service)
        if given and service not in self.only:
            return given.rstrip("/")
        where = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{where}:{getattr(self.ports, service)}"


@dataclass(frozen=True)
class Layout:
    """The paths inside a consortium's folder (see the module's docstring).

    Attributes
    ----------
    root : Path
        The folder.
    """

    root: Path

    def folder(self, service: str) -> Path:
        """The folder of ``service``'s state.

        Parameters
        ----------
        service : str
            The service.
        """
        return self.root / service

    def log(self, service: str) -> Path:
        """The log file of ``service``.

        Parameters
        ----------
        service : str
            The service.
        """
        return self.root / service / f"{service}.log"

    @property
    def deployment(self) -> Path:
        """The deployment file."""
        return self.root / "deployment.json"


@dataclass(frozen=True)
class Endpoints:
    """What ``fedmarket up`` prints once healthy: one JSON line.

    Attributes
    ----------
    dir : str
        The consortium's folder.
    services : list of str
        The services run here.
    rpc, ipfs_api, api : str or None
        URLs of the chain's JSON-RPC, the IPFS RPC API and the marketplace API.
    database_url : str or None
        SQLAlchemy URL of the database, without its password.
    database_password_file : str or None
        Where the password is (a database run here).
    deployment : str or None
        The deployment file.
    pids : dict of str to int
        Process id of each service.
    logs : dict of str to str
        Log file of each service.
    """

    dir: str
    services: list[str]
    rpc: str | None
    ipfs_api: str | None
    database_url: str | None
    database_password_file: str | None
    api: str | None
    deployment: str | None
    pids: dict[str, int]
    logs: dict[str, str]


@contextmanager
def hold(root: Path) -> Iterator[None]:
    """Hold the folder's ``up.lock`` while the block runs (released if the process dies).

    Parameters
    ----------
    root : Path
        The consortium's folder (made when missing).

    Raises
    ------
    ConsortiumBusyError
        When another process holds it.
    """
    root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root / "up.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.pread(fd, 32, 0).decode(errors="replace").strip() or "another process"
            raise ConsortiumBusyError(f"{root} is in use by fedmarket up (pid {owner})") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)


__all__ = [
    "DB_NAME",
    "DB_USER",
    "SERVICES",
    "ConsortiumConfig",
    "Endpoints",
    "Layout",
    "Ports",
    "hold",
]
