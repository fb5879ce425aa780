"""One test class for every content store, run over the local folder and a real IPFS daemon.

Then what only the daemon can show: the CIDs it computes itself equal the local computation (one
block, several blocks, two DAG levels), and a daemon that is down is reported as unavailable,
after the retries, quickly.
"""

from __future__ import annotations

import os
import time

import httpx
import pytest

from kernel.errors import ServiceUnavailableError
from storage import (
    ContentIntegrityError,
    ContentNotFoundError,
    ContentStore,
    ContentTooLargeError,
    InvalidCidError,
    IpfsStore,
    LocalCidStore,
    StoreUnavailableError,
    compute_cid,
)
from storage._cid import CHUNK_SIZE, MAX_LINKS
from tests.integration.storage.conftest import TEST_RETRY, Backend, ipfs_store
from tests.support.ipfs import IpfsDaemon, IpfsDaemonError, jsipfs_available
from tests.support.services import unavailable

MIB = 1 << 20


class TestContentStore:
    """Behaviour every :class:`ContentStore` must have, whatever holds the bytes."""

    def test_put_returns_the_ipfs_cid_and_get_round_trips(self, store: ContentStore) -> None:
        data = os.urandom(1000)
        cid = store.put(data)
        assert cid == compute_cid(data)
        assert cid.startswith("bafkrei")
        assert store.has(cid)
        assert store.get(cid) == data

    def test_put_is_idempotent(self, store: ContentStore) -> None:
        data = b"same " + os.urandom(8)
        assert store.put(data) == store.put(data)

    def test_an_object_over_a_mebibyte_spans_several_blocks(self, store: ContentStore) -> None:
        data = os.urandom(MIB + MIB // 2)
        cid = store.put(data)
        assert cid == compute_cid(data)
        assert cid.startswith("bafybei")  # a dag-pb root over raw leaves
        assert store.get(cid) == data

    def test_json_round_trip_is_canonical(self, store: ContentStore) -> None:
        nonce = os.urandom(4).hex()
        cid = store.put_json({"b": 1, "a": [1, 2], "n": nonce})
        assert store.get_json(cid) == {"a": [1, 2], "b": 1, "n": nonce}
        assert cid == compute_cid(f'{{"a":[1,2],"b":1,"n":"{nonce}"}}'.encode())

    def test_a_missing_object_is_not_found(self, store: ContentStore) -> None:
        cid = compute_cid(b"never stored " + os.urandom(8))
        assert not store.has(cid)
        with pytest.raises(ContentNotFoundError):
            store.get(cid)
        with pytest.raises(ContentNotFoundError):
            store.get_json(cid)

    @pytest.mark.parametrize(
        "bad", ["../../etc/passwd", "", "QmWATWQ7fVPP2EFGu71UkfnqhYXDYH566qy47CnJDgvs8u", "bafy"]
    )
    def test_an_invalid_cid_is_rejected_before_the_store_is_asked(
        self, store: ContentStore, bad: str
    ) -> None:
        for call in (store.get, store.get_json, store.pin, store.unpin):
            with pytest.raises(InvalidCidError):
                call(bad)

    @pytest.mark.parametrize("size", [1000, 700_000])
    def test_corrupted_bytes_are_detected(self, backend: Backend, size: int) -> None:
        data = os.urandom(size)
        cid = backend.store.put(data)
        backend.tamper(data)
        with pytest.raises(ContentIntegrityError):
            backend.store.get(cid)
        # an unverified read hands back what is stored, for callers that check a hash first
        poisoned = backend.store.get(cid, verify=False)
        assert len(poisoned) == size and poisoned != data

    def test_size_limit(self, store: ContentStore) -> None:
        data = os.urandom(2048)
        cid = store.put(data)
        with pytest.raises(ContentTooLargeError):
            store.get(cid, max_bytes=1024)
        with pytest.raises(ContentIntegrityError):  # the family callers already catch
            store.get(cid, max_bytes=2047)
        assert store.get(cid, max_bytes=2048) == data
        big = store.put(os.urandom(MIB + 1))
        with pytest.raises(ContentTooLargeError):
            store.get(big, max_bytes=MIB)

    def test_pin_unpin_pinned(self, store: ContentStore) -> None:
        a = store.put(b"pinned a " + os.urandom(8))
        b = store.put(os.urandom(MIB))  # several blocks: pinned recursively
        before = store.pinned()
        assert a not in before and b not in before  # put alone does not pin
        assert store.pin(a) == a
        assert store.pin(a) == a  # twice is a no-op
        store.pin(b)
        assert store.pinned() == before | {a, b}
        assert store.unpin(a) is True
        assert store.unpin(a) is False
        assert store.pinned() == before | {b}
        assert store.get(a)  # unpinned objects stay until a garbage collection
        store.unpin(b)
        assert store.pinned() == before

    def test_pinning_a_missing_object_fails(self, store: ContentStore) -> None:
        missing = compute_cid(b"never stored " + os.urandom(8))
        with pytest.raises(ContentNotFoundError):
            store.pin(missing)
        assert missing not in store.pinned()
        assert store.unpin(missing) is False


def test_pins_outlive_the_store_object(backend: Backend) -> None:
    cid = backend.store.pin(backend.store.put(b"kept " + os.urandom(8)))
    if isinstance(backend.store, LocalCidStore):
        again: ContentStore = LocalCidStore(backend.store.root)
    else:
        assert isinstance(backend.store, IpfsStore)
        again = ipfs_store(backend.store.client.api_url)
    try:
        assert cid in again.pinned()
        again.unpin(cid)
        assert cid not in backend.store.pinned()
    finally:
        if isinstance(again, IpfsStore):
            again.close()


def _daemon_add(api_url: str, data: bytes) -> str:
    """``ipfs add --cid-version=1 --raw-leaves`` over plain HTTP, not the project's client."""
    response = httpx.post(
        f"{api_url}/api/v0/add",
        params={"cid-version": "1", "raw-leaves": "true", "cid-base": "base32", "pin": "false"},
        files={"file": ("blob", data)},
        timeout=120,
    )
    response.raise_for_status()
    return str(response.json()["Hash"])


@pytest.mark.slow
@pytest.mark.parametrize(
    "size",
    [
        0,
        11,
        CHUNK_SIZE,  # the largest single raw block
        CHUNK_SIZE + 1,  # the smallest DAG
        MIB + MIB // 2,  # several leaves under one node
        MAX_LINKS * CHUNK_SIZE,  # one full node of 174 leaves
        MAX_LINKS * CHUNK_SIZE + 1,  # the smallest two-level DAG
    ],
)
def test_the_daemon_and_the_local_computation_name_bytes_alike(
    ipfs_daemon: IpfsDaemon, size: int
) -> None:
    data = os.urandom(size)
    assert _daemon_add(ipfs_daemon.api_url, data) == compute_cid(data)


@pytest.mark.slow
def test_a_daemon_that_is_not_there_is_unavailable_quickly() -> None:
    with IpfsStore("http://127.0.0.1:9", retry=TEST_RETRY) as store:  # discard port: refused
        started = time.monotonic()
        with pytest.raises(StoreUnavailableError) as err:
            store.get(compute_cid(b"anything"))
        elapsed = time.monotonic() - started
    assert isinstance(err.value, ServiceUnavailableError)
    assert f"{TEST_RETRY.attempts} tries" in str(err.value)
    assert TEST_RETRY.least_total_delay() <= elapsed < TEST_RETRY.total_delay() + 2


@pytest.mark.slow
def test_a_daemon_that_goes_down_is_unavailable() -> None:
    if not jsipfs_available():
        unavailable("js-ipfs is not installed (scripts/setup --all)")
    try:
        daemon = IpfsDaemon.start()
    except IpfsDaemonError as exc:
        unavailable(str(exc))
    with daemon, ipfs_store(daemon.api_url) as store:
        cid = store.put(b"before the fall")
        daemon.stop()
        for call in (lambda: store.get(cid), lambda: store.put(b"after"), store.pinned):
            with pytest.raises(StoreUnavailableError):
                call()
