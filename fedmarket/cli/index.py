r"""``fedmarket index``: the chain indexer on its own, beside (or instead of) the API's thread.

Mirrors a deployment's events into the marketplace database (the same one ``fedmarket serve``
reads): ``--once`` catches up with the chain's head and exits; without it, it follows the chain
until SIGTERM or Ctrl-C. A stop lets the range being written commit first, so the index always
ends at a range's end; a process killed outright leaves the previous range's end, and the next
run resumes from there. The configuration is read from the same ``FEDMARKET_API_*`` variables as
the API's, each overridable by its flag::

    fedmarket index --rpc http://127.0.0.1:8545 --deployment dep.json \\
        --database sqlite:///fedmarket.db --store ./fedmarket-store --once
"""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer

from fedmarket.cli._checks import choice, float_range, int_range
from fedmarket.cli._common import connect_deployment, console, out
from fedmarket.cli.errors import EXIT_INTERRUPTED

if TYPE_CHECKING:
    from marketplace_api.indexer import IndexerOptions, SyncReport
    from storage import ContentStore

RpcEnvOpt = Annotated[
    str,
    typer.Option("--rpc", envvar="FEDMARKET_API_CHAIN_URL", help="JSON-RPC URL of the chain node."),
]
DeploymentEnvOpt = Annotated[
    Path,
    typer.Option(
        "--deployment",
        envvar="FEDMARKET_API_DEPLOYMENT_FILE",
        help="Deployment JSON written by `fedmarket chain deploy`.",
    ),
]
DatabaseOpt = Annotated[
    str,
    typer.Option(
        "--database",
        envvar="FEDMARKET_API_DATABASE_URL",
        help="SQLAlchemy URL of the marketplace database (migrated to head first).",
    ),
]
StoreDirOpt = Annotated[
    Path,
    typer.Option(
        "--store", envvar="FEDMARKET_API_STORE_DIR", help="Folder of the local content store."
    ),
]
StoreBackendOpt = Annotated[
    str,
    typer.Option(
        "--store-backend",
        envvar="FEDMARKET_API_STORE_BACKEND",
        help="Where documents are read: local (the --store folder) or ipfs (--ipfs-api).",
        callback=choice("--store-backend", lambda: ("local", "ipfs")),
    ),
]
IpfsOpt = Annotated[
    str,
    typer.Option(
        "--ipfs-api", envvar="FEDMARKET_API_IPFS_API_URL", help="RPC API of the IPFS daemon."
    ),
]


@dataclass
class _Totals:
    """What a run of the command indexed, over all its syncs."""

    start_block: int | None = None
    end_block: int | None = None
    events: int = 0
    ranges: int = 0
    rollbacks: int = 0
    seconds: float = 0.0

    def add(self, report: SyncReport) -> None:
        if self.start_block is None:
            self.start_block = report.start_block
        self.end_block = report.end_block
        self.events += report.events
        self.ranges += report.ranges
        self.rollbacks += report.rollbacks
        self.seconds += report.seconds

    def to_json(self, stopped: bool) -> str:
        rate = self.events / self.seconds if self.seconds > 0 else 0.0
        return json.dumps(
            {
                "start_block": self.start_block,
                "end_block": self.end_block,
                "events": self.events,
                "ranges": self.ranges,
                "rollbacks": self.rollbacks,
                "seconds": round(self.seconds, 3),
                "events_per_second": round(rate, 1),
                "stopped": stopped,
            }
        )


@contextmanager
def _stop_on_sigterm() -> Iterator[threading.Event]:
    """An event set by SIGTERM while the block runs (the previous handler restored after)."""
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGTERM, previous)


OnceOpt = Annotated[bool, typer.Option("--once", help="Catch up with the chain's head, then exit.")]
BatchBlocksOpt = Annotated[
    int,
    typer.Option(
        help="Blocks per range (one transaction each).",
        callback=int_range("--batch-blocks", 1, 100_000),
    ),
]
ConfirmationsOpt = Annotated[
    int,
    typer.Option(
        help="Blocks left unindexed below the head.",
        callback=int_range("--confirmations", 0, 10_000),
    ),
]
PollOpt = Annotated[
    float,
    typer.Option(
        help="Seconds between two looks at the chain when following it.",
        callback=float_range("--poll", 0.0, 3600.0, low_open=True),
    ),
]


def index(
    rpc: RpcEnvOpt,
    deployment: DeploymentEnvOpt,
    database: DatabaseOpt = "sqlite:///./fedmarket.db",
    store: StoreDirOpt = Path("./fedmarket-store"),
    store_backend: StoreBackendOpt = "local",
    ipfs_api: IpfsOpt = "http://127.0.0.1:5001",
    once: OnceOpt = False,
    batch_blocks: BatchBlocksOpt = 2000,
    confirmations: ConfirmationsOpt = 0,
    poll: PollOpt = 1.0,
) -> None:
    """Mirror the deployment's events into the database (--once: catch up and exit).

    Prints one JSON line on stdout at the end: blocks, events, ranges, rollbacks, events/s, and
    whether a stop (SIGTERM) cut it short. SIGTERM stops cleanly after the range being written;
    a --once run stopped before the head exits 130.
    """
    from marketplace_api.indexer import IndexerOptions

    options = IndexerOptions(
        batch_blocks=batch_blocks, confirmations=confirmations, poll_interval=poll
    )
    with _stop_on_sigterm() as stop:  # from the start: a SIGTERM while connecting is clean too
        totals, target = _run_index(
            rpc,
            deployment,
            database,
            _content_store(store_backend, store, ipfs_api),
            options,
            once=once,
            stop=stop,
        )
        stopped = stop.is_set()
    out.print(totals.to_json(stopped), highlight=False, soft_wrap=True)
    if target is not None and stopped and (totals.end_block or 0) < target:
        raise typer.Exit(EXIT_INTERRUPTED)


def _content_store(backend: str, folder: Path, ipfs_api: str) -> ContentStore:
    """The content store the index reads metadata documents from."""
    from storage import IpfsStore, LocalCidStore

    return IpfsStore(ipfs_api) if backend == "ipfs" else LocalCidStore(folder)


def _run_index(
    rpc: str,
    deployment: Path,
    database: str,
    content: ContentStore,
    options: IndexerOptions,
    *,
    once: bool,
    stop: threading.Event,
) -> tuple[_Totals, int | None]:
    """Index until the head (``once``) or until ``stop``; the totals and the head aimed at."""
    from marketplace_api.core.db import Database
    from marketplace_api.indexer import follow, open_index, retry_transient
    from storage import IpfsStore

    backend, dep = connect_deployment(rpc, deployment)
    db = Database.from_url(database)
    totals, target = _Totals(), None
    try:
        indexer = open_index(
            database=db, backend=backend, deployment=dep, store=content, options=options
        )
        if once:
            target = int(backend.w3.eth.block_number) - options.confirmations
            totals.add(retry_transient(lambda: indexer.sync(target, stop=stop)))
        else:
            console.print(f"indexing {dep.registry} on {rpc} (SIGTERM or Ctrl-C to stop)")
            follow(indexer, stop, on_sync=lambda r: _progress(totals, r))
    finally:
        db.dispose()
        backend.close()
        if isinstance(content, IpfsStore):
            content.close()
    return totals, target


def _progress(totals: _Totals, report: SyncReport) -> None:
    totals.add(report)
    if report.events or report.rollbacks:
        console.print(
            f"blocks {report.start_block}..{report.end_block}: {report.events} events, "
            f"{report.rollbacks} rollbacks, {report.events_per_second:.0f} events/s"
        )
