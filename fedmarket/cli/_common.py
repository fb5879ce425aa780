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
StoreOpt = Annotated[Path, typer.Option("--store", help="Folder of the shared content store.")]
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


def open_store(folder: Path, *, actor: str, purpose: str) -> ContentStore:
    """The local content store in ``folder``, logged when :data:`ACCESS_LOG_ENV` names a log.

    Parameters
    ----------
    folder : Path
        The store's folder (``--store``).
    actor : str
        Who reads and writes (an account address, or a role when there is no key).
    purpose : str
        Why (e.g. ``participant:task:3``), written with every access.
    """
    from storage import LocalCidStore

    store = LocalCidStore(folder)
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
