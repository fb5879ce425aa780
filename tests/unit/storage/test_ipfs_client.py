"""The IPFS client against a scripted daemon (httpx.MockTransport): retries, errors, limits, trust.

The real daemon is in tests/integration/storage; here each answer is chosen to reach one branch:
5xx and transport failures retried with backoff, definitive answers not retried, a daemon that
names bytes wrongly, lies about sizes or sends other bytes.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from kernel.errors import ConfigurationError, ServiceUnavailableError
from storage import (
    ContentIntegrityError,
    ContentNotFoundError,
    ContentTooLargeError,
    StoreProtocolError,
    StoreUnavailableError,
    compute_cid,
)
from storage.ipfs import IpfsClient, IpfsStore, RetryPolicy

FAST = RetryPolicy(attempts=3, initial_delay=0.001, max_delay=0.002)
Handler = Callable[[httpx.Request], httpx.Response]


class Daemon:
    """A scripted daemon: one handler per RPC command, every request recorded."""

    def __init__(self, **handlers: Handler) -> None:
        self.handlers = {k.replace("_", "/"): v for k, v in handlers.items()}
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        command = request.url.path.removeprefix("/api/v0/")
        if command not in self.handlers:
            return httpx.Response(404, json={"Message": "Not Found", "Code": 3, "Type": "error"})
        return self.handlers[command](request)

    def calls(self, command: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path == f"/api/v0/{command}"]

    def store(self, **kwargs) -> IpfsStore:
        kwargs.setdefault("retry", FAST)
        return IpfsStore("http://daemon", transport=httpx.MockTransport(self), **kwargs)


def error(status: int, message: str) -> httpx.Response:
    return httpx.Response(status, json={"Message": message, "Code": 0, "Type": "error"})


def stat_of(data: bytes) -> Handler:
    return lambda r: httpx.Response(
        200, json={"Type": "file", "Size": len(data), "CumulativeSize": len(data), "Blocks": 0}
    )


def test_retry_policy_backs_off_exponentially_up_to_a_cap():
    policy = RetryPolicy(attempts=6, initial_delay=0.1, max_delay=0.5, multiplier=2, jitter=0)
    assert [policy.delay(i) for i in range(5)] == pytest.approx([0.1, 0.2, 0.4, 0.5, 0.5])
    assert policy.total_delay() == pytest.approx(1.7) == policy.least_total_delay()
    for bad in ({"attempts": 0}, {"initial_delay": -1}, {"multiplier": 0.5}, {"jitter": 1.5}):
        with pytest.raises(ConfigurationError):
            RetryPolicy(**bad)


def test_retry_policy_jitters_each_wait_within_its_ceiling():
    """Parties cut off together do not come back together: waits spread below the ceiling."""
    policy = RetryPolicy(attempts=6, initial_delay=0.1, max_delay=0.5, jitter=0.5)
    waits = [policy.delay(2) for _ in range(200)]
    assert all(0.2 <= w <= 0.4 for w in waits)
    assert max(waits) - min(waits) > 0.1  # spread, not one value
    assert policy.least_total_delay() == pytest.approx(0.85)


def test_5xx_is_retried_then_succeeds():
    answers = iter(
        [error(503, "busy"), httpx.Response(502), httpx.Response(200, json={"Version": "x"})]
    )
    daemon = Daemon(version=lambda r: next(answers))
    with daemon.store() as store:
        assert store.version() == "x"
    assert len(daemon.calls("version")) == 3


def test_a_daemon_that_keeps_failing_is_unavailable_after_the_tries():
    daemon = Daemon(version=lambda r: error(500, "leveldb: closed"))
    with daemon.store() as store, pytest.raises(StoreUnavailableError) as err:
        store.version()
    assert isinstance(err.value, ServiceUnavailableError)
    assert "3 tries" in str(err.value) and "leveldb: closed" in str(err.value)
    assert len(daemon.calls("version")) == 3


def test_transport_errors_are_retried_with_backoff():
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    daemon = Daemon(version=refuse)
    policy = RetryPolicy(attempts=4, initial_delay=0.02, max_delay=0.05)
    with daemon.store(retry=policy) as store:
        started = time.monotonic()
        with pytest.raises(StoreUnavailableError, match="ConnectError"):
            store.version()
        elapsed = time.monotonic() - started
    assert len(daemon.calls("version")) == 4
    assert policy.least_total_delay() <= elapsed < policy.total_delay() + 1.0


def test_not_found_is_definitive_and_not_retried():
    cid = compute_cid(b"absent")
    daemon = Daemon(files_stat=lambda r: error(500, "request timed out"))
    with daemon.store() as store, pytest.raises(ContentNotFoundError):
        store.get(cid)
    assert len(daemon.calls("files/stat")) == 1


def test_lookups_stay_local_and_bounded():
    cid = compute_cid(b"absent")
    daemon = Daemon(block_stat=lambda r: error(500, "block was not found locally (offline)"))
    with daemon.store(lookup_timeout=0.25) as store:
        assert store.has(cid) is False
    params = daemon.calls("block/stat")[0].url.params
    assert (params["arg"], params["offline"], params["timeout"]) == (cid, "true", "250ms")
    with daemon.store(local_only=False) as store:
        store.has(cid)
    assert "offline" not in daemon.calls("block/stat")[1].url.params


def test_a_4xx_answer_is_a_protocol_error():
    daemon = Daemon(version=lambda r: error(400, "Invalid request query input"))
    with daemon.store() as store, pytest.raises(StoreProtocolError, match="HTTP 400"):
        store.version()
    assert len(daemon.calls("version")) == 1
    with Daemon().store() as store, pytest.raises(StoreProtocolError, match="404"):
        store.version()


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'{"Version": 3}'])
def test_a_malformed_answer_is_a_protocol_error(body):
    daemon = Daemon(version=lambda r: httpx.Response(200, content=body))
    with daemon.store() as store, pytest.raises(StoreProtocolError):
        store.version()


def test_add_spells_out_the_importer_settings_and_checks_the_cid():
    data = os.urandom(300_000)
    expected = compute_cid(data)
    daemon = Daemon(add=lambda r: httpx.Response(200, json={"Name": "blob", "Hash": expected}))
    with daemon.store() as store:
        assert store.put(data) == expected
    params = daemon.calls("add")[0].url.params
    assert dict(params) == {
        "cid-version": "1",
        "raw-leaves": "true",
        "cid-base": "base32",
        "chunker": "size-262144",
        "hash": "sha2-256",
        "trickle": "false",
        "pin": "false",
    }
    with daemon.store(pin_on_put=True) as store:
        store.put(data)
    assert daemon.calls("add")[1].url.params["pin"] == "true"


def test_a_daemon_that_names_the_bytes_otherwise_is_caught():
    other = compute_cid(b"something else")
    daemon = Daemon(add=lambda r: httpx.Response(200, json={"Name": "blob", "Hash": other}))
    with daemon.store() as store, pytest.raises(ContentIntegrityError, match="computed locally"):
        store.put(b"payload")


def test_a_daemon_that_sends_other_bytes_is_caught():
    data = b"the real model"
    cid = compute_cid(data)
    daemon = Daemon(
        files_stat=stat_of(data), cat=lambda r: httpx.Response(200, content=b"a poisoned one")
    )
    with daemon.store() as store:
        with pytest.raises(ContentIntegrityError):
            store.get(cid)
        assert store.get(cid, verify=False) == b"a poisoned one"


def test_too_large_is_refused_from_the_stat_without_reading():
    daemon = Daemon(files_stat=stat_of(bytes(10_000)), cat=lambda r: pytest.fail("cat was called"))
    with daemon.store() as store, pytest.raises(ContentTooLargeError):
        store.get(compute_cid(bytes(10_000)), max_bytes=9_999)


def test_a_stat_that_lies_does_not_make_the_read_unbounded():
    sent: list[int] = []

    async def endless() -> AsyncIterator[bytes]:
        for _ in range(1_000):
            sent.append(1)
            yield bytes(1024)

    daemon = Daemon(
        files_stat=stat_of(b"tiny"), cat=lambda r: httpx.Response(200, content=endless())
    )
    with daemon.store() as store, pytest.raises(ContentTooLargeError, match="its stat said less"):
        store.get(compute_cid(b"tiny"), max_bytes=4096)
    assert daemon.calls("cat")[0].url.params["length"] == "4097"
    assert len(sent) < 10  # stopped one chunk past the limit, not after the whole stream


def test_pin_commands():
    cid = compute_cid(b"pinned")
    pins = {
        cid: {"Type": "recursive"},
        "QmWATWQ7fVPP2EFGu71UkfnqhYXDYH566qy47CnJDgvs8u": {"Type": "recursive"},  # CIDv0: left out
    }
    daemon = Daemon(
        pin_add=lambda r: httpx.Response(200, json={"Pins": [cid]}),
        pin_rm=lambda r: error(500, f"Failed to remove pin: {cid} is not pinned"),
        pin_ls=lambda r: httpx.Response(200, json={"Keys": pins}),
    )
    with daemon.store() as store:
        assert store.pin(cid) == cid
        assert store.unpin(cid) is False
        assert store.pinned() == {cid}
    assert daemon.calls("pin/add")[0].url.params["recursive"] == "true"
    assert len(daemon.calls("pin/rm")) == 1  # "not pinned" is an answer, not a failure


def test_the_store_works_from_inside_a_running_event_loop():
    daemon = Daemon(version=lambda r: httpx.Response(200, json={"Version": "0.18.1"}))

    async def main() -> str:
        with daemon.store() as store:
            return store.version()

    assert asyncio.run(main()) == "0.18.1"


def test_the_async_client_directly():
    data = b"async"
    cid = compute_cid(data)
    daemon = Daemon(
        add=lambda r: httpx.Response(200, content=json.dumps({"Hash": cid}).encode() + b"\n"),
        files_stat=stat_of(data),
        cat=lambda r: httpx.Response(200, content=data),
    )

    async def main() -> bytes:
        async with IpfsClient("http://daemon", transport=httpx.MockTransport(daemon)) as client:
            assert await client.add(data) == cid
            return await client.cat(cid, max_bytes=100)

    assert asyncio.run(main()) == data


def test_close_is_idempotent_and_timeouts_are_checked():
    store = Daemon().store()
    store.close()
    store.close()
    with pytest.raises(ConfigurationError):
        IpfsClient(timeout=0)
