"""What every command module shares: the consoles, the common options, connecting to a chain.

Chain connections take their TLS certificates from ``FEDMARKET_TLS_*`` (:mod:`kernel.tls`).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from kernel.errors import ConfigurationError

if TYPE_CHECKING:
    from chain import ChainBackend, Deployment
    from storage import ContentStore

console = Console(stderr=True)
"""Progress and notes (stderr)."""
out = Console()
"""Results (stdout): tables and JSON a script can read."""

RpcOpt = Annotated[
    str,
    typer.Option(
        "--rpc",
        help="JSON-RPC URL of the chain node. https:// takes its CA and client certificate from "
        "FEDMARKET_TLS_CA, FEDMARKET_TLS_CERT, FEDMARKET_TLS_KEY; http:// to another machine is "
        "UNENCRYPTED (warned).",
    ),
]
DeploymentOpt = Annotated[
    Path, typer.Option("--deployment", help="Deployment JSON written by `fedmarket chain deploy`.")
]
KeyEnvOpt = Annotated[
    str,
    typer.Option("--key-env", help="Environment variable holding this party's hex private key."),
]
StoreOpt = Annotated[
    str,
    typer.Option(
        "--store",
        help="The shared content store: a folder, or an IPFS daemon's RPC API URL "
        "(http(s)://HOST:PORT; https takes FEDMARKET_TLS_*).",
    ),
]
TaskOpt = Annotated[int, typer.Option("--task", help="Task id.")]


def setup_logging(verbose: bool) -> None:
    """Log to stderr: INFO with ``--verbose``, else WARNING (breach alerts: only with it).

    A breach alert (:mod:`kernel.alerts`) is delivered through its hook either way; without
    ``--verbose`` its log line is left out so that a failed command prints one line.

    Parameters
    ----------
    verbose : bool
        The root ``--verbose`` flag.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    if not verbose:  # a failed command prints one line; the alert itself goes to the hook
        handler.addFilter(_QuietAlerts())
    # a no-op where the root logger has handlers already (an embedding program, the tests)
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, handlers=[handler])


class _QuietAlerts(logging.Filter):
    """Leaves out breach alerts' warning lines (:mod:`kernel.alerts`), keeps their errors."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.name != "kernel.alerts" or record.levelno >= logging.ERROR


def connect_deployment(rpc: str, deployment: Path) -> tuple[ChainBackend, Deployment]:
    """Connect to ``rpc`` and load the deployment file, checking that the two match.

    Parameters
    ----------
    rpc : str
        JSON-RPC URL.
    deployment : Path
        Deployment JSON.
    """
    from chain import Deployment, connect

    backend = connect(rpc)
    dep = Deployment.load(deployment)
    dep.check(backend)
    return backend, dep


ACCESS_LOG_ENV = "FEDMARKET_ACCESS_LOG"
"""A folder: when set, every read and write of the content store is written to that access log."""


STORE_RETRIES_ENV = "FEDMARKET_STORE_RETRY_S"
"""Seconds an IPFS request is retried (backoff and jitter) before the store is unavailable."""


def plain_store(location: str) -> ContentStore:
    """The store ``--store`` names: an IPFS daemon for an http(s) URL, else a local folder.

    An IPFS request that fails in transit is tried again with backoff and jitter for
    :data:`STORE_RETRIES_ENV` seconds (10 by default), then raises
    :class:`~storage.errors.StoreUnavailableError` (exit 3). What the daemon answers is checked
    against the CIDs computed here, so a daemon that comes back cannot corrupt anything.

    Parameters
    ----------
    location : str
        A folder, or the daemon's RPC API URL.
    """
    from storage import IpfsStore, LocalCidStore, RetryPolicy

    if not location.startswith(("http://", "https://")):
        return LocalCidStore(Path(location))
    seconds = _positive_env(STORE_RETRIES_ENV, 10.0)
    retry = RetryPolicy(attempts=max(2, int(seconds / 2.0) + 2), max_delay=2.0, jitter=0.5)
    return IpfsStore(location.rstrip("/"), retry=retry, pin_on_put=True)


def _positive_env(name: str, default: float) -> float:
    """A positive number of seconds from the environment variable ``name``."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise ConfigurationError(f"{name}: expected a positive number of seconds, got {raw!r}")
    return value


def open_store(location: str, *, actor: str, purpose: str) -> ContentStore:
    """The store ``--store`` names (:func:`plain_store`), logged when :data:`ACCESS_LOG_ENV` is set.

    Parameters
    ----------
    location : str
        A folder or an IPFS daemon's URL (``--store``).
    actor : str
        Who reads and writes (an account address, or a role when there is no key).
    purpose : str
        Why (e.g. ``participant:task:3``), written with every access.
    """
    store = plain_store(location)
    where = os.environ.get(ACCESS_LOG_ENV)
    if not where:
        return store
    from storage.access_log import AccessLog, LoggedStore

    return LoggedStore(store, AccessLog(where), actor=actor, purpose=purpose)


@contextmanager
def stop_signals() -> Iterator[threading.Event]:
    """An event that Ctrl-C (SIGINT) or SIGTERM sets while the block runs.

    Installed explicitly: a process started in the background inherits SIGINT ignored, and
    Python then never raises KeyboardInterrupt, so Ctrl-C (or a CI's interrupt) did nothing.
    The previous handlers come back after the block.
    """
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for number, old in previous.items():
            signal.signal(number, old)
