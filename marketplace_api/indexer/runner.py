"""Keeping the index up to date: a background thread that follows the chain, and catching up.

The API runs an :class:`IndexerThread` from its start-up to its shutdown: it polls the chain every
``poll_interval`` seconds (sooner when woken: a relayed listing wakes it), never dies of an error
(a chain node or a database that is down is retried after a pause), and now and then fetches
again the documents that were missing. ``fedmarket index --follow`` runs the same loop in the
foreground (:func:`follow`), after :func:`open_index` readied the database.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from sqlalchemy.exc import IntegrityError

from chain import ChainBackend, Deployment
from marketplace_api.core.db import Database
from marketplace_api.crud import DeploymentIdentity, ensure_deployment
from marketplace_api.indexer.indexer import Indexer, IndexerOptions, SyncReport, retry_transient
from storage import ContentStore

log = logging.getLogger(__name__)

MAX_BACKOFF_S = 30.0


def open_index(
    *,
    database: Database,
    backend: ChainBackend,
    deployment: Deployment,
    store: ContentStore,
    options: IndexerOptions | None = None,
) -> Indexer:
    """Ready ``database`` for indexing ``deployment`` and return its indexer.

    The schema is brought to head and the deployment registered (as the API's start-up does), so
    ``fedmarket index`` can run against a fresh database, before or beside the API.

    Parameters
    ----------
    database : Database
        The index.
    backend : ChainBackend
        The chain.
    deployment : Deployment
        The contracts (checked against the chain by the caller).
    store : ContentStore
        Where the metadata and evidence documents are read.
    options : IndexerOptions or None, default None
        Batch size, confirmations, poll interval.
    """
    database.migrate()
    block = backend.w3.eth.get_block(deployment.block)
    identity = DeploymentIdentity.of(deployment, bytes(block["hash"]))

    def register() -> int:
        with database.session() as session:
            scope = ensure_deployment(session, identity)
            session.commit()
        return scope.deployment_id

    try:
        deployment_id = register()
    except IntegrityError:  # the API registered it at the same moment
        deployment_id = register()
    return Indexer(
        database=database,
        backend=backend,
        deployment=deployment,
        deployment_id=deployment_id,
        store=store,
        options=options,
    )


def follow(
    indexer: Indexer,
    stop: threading.Event,
    wake: threading.Event | None = None,
    *,
    on_sync: Callable[[SyncReport], None] | None = None,
) -> None:
    """Index until ``stop`` is set: sync, wait ``poll_interval`` (or until woken), again.

    Errors are logged and retried after a growing pause (at most :data:`MAX_BACKOFF_S`).

    Parameters
    ----------
    indexer : Indexer
        The indexer.
    stop : threading.Event
        Set it to end the loop (within one poll interval).
    wake : threading.Event or None, default None
        Set it to sync at once.
    on_sync : callable or None, default None
        Called with each sync's report.
    """
    options = indexer.options
    pause = options.poll_interval
    last_refresh = time.monotonic()
    while not stop.is_set():
        try:
            report = retry_transient(lambda: indexer.sync(stop=stop))
            if on_sync is not None:
                on_sync(report)
            if time.monotonic() - last_refresh >= options.retry_missing_every:
                last_refresh = time.monotonic()
                indexer.refresh_missing()
            pause = options.poll_interval
        except Exception as exc:  # the loop must outlive any failure of the chain or database
            log.warning(
                "follow: indexing failed (%s: %s); again in %.1f s", type(exc).__name__, exc, pause
            )
            pause = min(max(pause * 2, options.poll_interval), MAX_BACKOFF_S)
        if wake is None:
            stop.wait(pause)
        else:
            wake.wait(pause)
            wake.clear()


class IndexerThread:
    """:func:`follow` in a daemon thread, started and stopped with the API.

    Parameters
    ----------
    indexer : Indexer
        The indexer to run.
    """

    def __init__(self, indexer: Indexer) -> None:
        self.indexer = indexer
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def alive(self) -> bool:
        """Whether the thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start following the chain (no-op when running)."""
        if self.alive:
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=follow,
            args=(self.indexer, self._stop, self._wake),
            name=f"indexer:{self.indexer.deployment.registry[:10]}",
            daemon=True,
        )
        self._thread.start()
        log.info("start: indexer thread following the chain")

    def wake(self) -> None:
        """Sync now instead of at the next poll."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread and wait for it (the range being written is finished first).

        Parameters
        ----------
        timeout : float, default 10.0
            Seconds to wait.
        """
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("stop: the indexer thread did not stop within %.0f s", timeout)
        self._thread = None


def catch_up(indexer: Indexer, thread: IndexerThread | None, timeout: float) -> bool:
    """Make sure the index holds every block mined so far (less the confirmations).

    With a running thread, wake it and wait for it (at most ``timeout`` seconds); without one,
    index here and now.

    Parameters
    ----------
    indexer : Indexer
        The indexer.
    thread : IndexerThread or None
        The background thread, if any.
    timeout : float
        Seconds to wait for the thread.

    Returns
    -------
    bool
        Whether the index caught up in time.
    """
    head = int(indexer.backend.w3.eth.block_number) - indexer.options.confirmations
    if thread is not None and thread.alive:
        thread.wake()
        return indexer.wait_for(head, timeout)
    retry_transient(lambda: indexer.sync(head))
    return True


__all__ = ["MAX_BACKOFF_S", "IndexerThread", "catch_up", "follow", "open_index"]
