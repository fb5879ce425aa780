"""Fixtures of the storage tests: a js-ipfs daemon per session, and each store in turn.

The daemon is started by the tests themselves (see tests/support/ipfs.py). Where js-ipfs is not
installed or cannot start, its tests are skipped, unless ``FEDMARKET_REQUIRE_REAL=1`` (set by
``scripts/test`` and CI), which turns the skip into a failure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from storage import ContentStore, IpfsStore, LocalCidStore, RetryPolicy
from storage._cid import CHUNK_SIZE, build_dag
from tests.support.ipfs import IpfsDaemon, IpfsDaemonError, jsipfs_available
from tests.support.services import unavailable

TEST_RETRY = RetryPolicy(attempts=3, initial_delay=0.05, max_delay=0.2)
"""Bounded backoff: a daemon that is down is reported in well under a second."""

LOOKUP_TIMEOUT = 0.5
"""js-ipfs waits for a missing block until the request's timeout: keep "not found" quick."""


@pytest.fixture(scope="session")
def ipfs_daemon() -> Iterator[IpfsDaemon]:
    """A js-ipfs daemon started for this test session."""
    if not jsipfs_available():
        unavailable("js-ipfs is not installed (scripts/setup --all)")
    try:
        daemon = IpfsDaemon.start()
    except IpfsDaemonError as exc:
        unavailable(str(exc))
    try:
        yield daemon
    finally:
        daemon.stop()


def ipfs_store(api_url: str) -> IpfsStore:
    """An IpfsStore with the tests' short lookup timeout and bounded backoff."""
    return IpfsStore(api_url, retry=TEST_RETRY, lookup_timeout=LOOKUP_TIMEOUT)


def _flip_first_byte(path: Path) -> None:
    raw = bytearray(path.read_bytes())
    raw[0] ^= 0xFF
    path.write_bytes(bytes(raw))


@dataclass
class Backend:
    """A store under test and a way to damage what it holds behind its back.

    Attributes
    ----------
    store : ContentStore
        The store.
    tamper : Callable[[bytes], None]
        Flip one byte of the stored copy of the given (already stored) object: in the object's
        file for the local store, in a block file of the daemon's repository for IPFS.
    """

    store: ContentStore
    tamper: Callable[[bytes], None]


@pytest.fixture(params=["local", pytest.param("ipfs", marks=pytest.mark.slow)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """Each content store in turn; the same tests run over all of them."""
    if request.param == "local":
        local = LocalCidStore(tmp_path / "store")
        yield Backend(local, lambda data: _flip_first_byte(local.path_of(local.put(data))))
        return
    daemon: IpfsDaemon = request.getfixturevalue("ipfs_daemon")

    def tamper(data: bytes) -> None:
        # build_dag lists the first raw leaf first (a one-block object is its own leaf)
        leaf = list(build_dag(data)[1])[0] if len(data) > CHUNK_SIZE else None
        _flip_first_byte(daemon.block_path(leaf or store.put(data)))

    with ipfs_store(daemon.api_url) as store:
        yield Backend(store, tamper)


@pytest.fixture
def store(backend: Backend) -> ContentStore:
    """The store of the current backend."""
    return backend.store
