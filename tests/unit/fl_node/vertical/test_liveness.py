"""Liveness on the TLS channels: heartbeats keep a busy peer alive, a silent one times out.

Each test builds a real mutual-TLS pair on 127.0.0.1 with a short liveness timeout; the
"peer" is a thread that either sends heartbeats while it computes or sleeps, or goes silent.
SIGSTOPped processes are in ``test_party_lifecycle.py`` and in the integration test of a real
run. The timeouts are a fraction of a second so the whole file runs in a few seconds.
"""

from __future__ import annotations

import os
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, cast

import pytest

from fl_node.vertical.transport import (
    HEADER,
    HEARTBEAT_TAG,
    ChannelProtocolError,
    CommStats,
    Heartbeat,
    Listener,
    PartyCredentials,
    PeerSilentError,
    TlsChannel,
    TransportUsageError,
    connect,
    heartbeat_interval,
    make_credentials,
    wait_any,
)
from fl_node.vertical.transport.framing import HEARTBEAT_FRAME, MAGIC, VERSION
from kernel.errors import OperationTimeoutError

TYPES = {1: "ping", 2: "data"}
TIMEOUT = 0.4
"""Liveness timeout of the channels under test (seconds)."""


@pytest.fixture(scope="module")
def creds() -> dict[str, PartyCredentials]:
    return make_credentials(["guest", "host", "arbiter"])


def in_thread(fn: Callable[[], Any]) -> tuple[threading.Thread, dict[str, Any]]:
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            out["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


def make_pair(
    creds: dict[str, PartyCredentials], server_role: str = "guest", client_role: str = "host"
) -> tuple[TlsChannel, TlsChannel]:
    """``server_role`` listens, ``client_role`` connects; both with the short timeout."""
    listener = Listener(creds[server_role], stats=CommStats(), type_names=TYPES, timeout=TIMEOUT)
    thread, out = in_thread(lambda: listener.accept({client_role}, timeout=10))
    client = connect(
        creds[client_role],
        server_role,
        listener.address,
        stats=CommStats(),
        type_names=TYPES,
        timeout=TIMEOUT,
    )
    thread.join(10)
    listener.close()
    return out["value"], client


@pytest.fixture
def pair(creds: dict[str, PartyCredentials]) -> Iterator[tuple[TlsChannel, TlsChannel]]:
    server, client = make_pair(creds)
    yield server, client
    server.close()
    client.close()


def test_a_silent_peer_is_named_within_the_timeout(pair: tuple[TlsChannel, TlsChannel]) -> None:
    server, _client = pair  # the client is connected but never sends, not even heartbeats
    started = time.monotonic()
    with pytest.raises(PeerSilentError, match=r"host stopped answering: no frame for 0\.4") as e:
        server.recv()
    elapsed = time.monotonic() - started
    assert TIMEOUT - 0.05 <= elapsed <= TIMEOUT + 0.5
    assert e.value.peer == "host" and e.value.silent_for >= TIMEOUT
    assert isinstance(e.value, OperationTimeoutError)  # exit code 8, a timeout for callers


def test_a_busy_peer_with_heartbeats_is_waited_for(pair: tuple[TlsChannel, TlsChannel]) -> None:
    server, client = pair

    def busy_peer() -> None:
        with Heartbeat(heartbeat_interval(TIMEOUT)) as beat:
            beat.add(client.heartbeat)
            deadline = time.monotonic() + 2.5 * TIMEOUT  # computes (holding the GIL in turns)
            total = 0
            while time.monotonic() < deadline:
                total += sum(i * i for i in range(2000))
            client.send(2, b"result")

    thread, out = in_thread(busy_peer)
    started = time.monotonic()
    assert server.recv(expect=(2,)) == (2, b"result")
    assert time.monotonic() - started >= 2.5 * TIMEOUT - 0.05  # waited past the timeout
    thread.join(5)
    assert "error" not in out
    assert server.heartbeats_received >= 3 and client.heartbeats_sent >= 3
    # heartbeats are not protocol messages: the statistics hold the one frame only
    assert server.stats.received == {("host", "guest", "data", "connect"): [HEADER.size + 6, 1]}
    assert client.stats.total() == (HEADER.size + 6, 1)


def test_a_sleeping_peer_that_sends_heartbeats_does_not_time_out(
    pair: tuple[TlsChannel, TlsChannel],
) -> None:
    server, client = pair
    with Heartbeat(heartbeat_interval(TIMEOUT)) as beat:
        beat.add(client.heartbeat)
        thread, out = in_thread(server.recv)
        time.sleep(3 * TIMEOUT)
        assert thread.is_alive()  # still waiting, no timeout
        client.send(1, b"late")
        thread.join(5)
    assert out == {"value": (1, b"late")}


def test_a_large_frame_to_a_peer_that_reads_late_is_not_a_timeout(
    pair: tuple[TlsChannel, TlsChannel],
) -> None:
    """The sender blocks on a full socket for longer than the timeout, the peer alive."""
    server, client = pair
    payload = os.urandom(8 << 20)  # far above the socket buffers
    with Heartbeat(heartbeat_interval(TIMEOUT)) as beat:
        beat.add(server.heartbeat)
        sender, sent = in_thread(lambda: client.send(2, payload))
        time.sleep(2.5 * TIMEOUT)  # the receiver computes; its heartbeats keep coming
        assert sender.is_alive()
        server.max_frame = len(payload)
        assert server.recv() == (2, payload)
    sender.join(5)
    assert sent == {"value": HEADER.size + len(payload)}


def test_a_large_frame_to_a_silent_peer_ends_in_a_timeout(
    pair: tuple[TlsChannel, TlsChannel],
) -> None:
    server, client = pair
    started = time.monotonic()
    with pytest.raises(PeerSilentError, match="guest stopped answering"):
        client.send(2, os.urandom(8 << 20))
    assert time.monotonic() - started <= TIMEOUT + 0.5
    with pytest.raises(Exception, match="unusable"):  # half a frame went out
        client.send(1, b"")
    assert server.silent_for() < 5


def test_heartbeats_never_land_inside_a_frame(pair: tuple[TlsChannel, TlsChannel]) -> None:
    server, client = pair
    server.max_frame = 1 << 22
    frames = [os.urandom(n) for n in (0, 1, 5000, 70_000, 3 << 20)] * 4

    def send_all() -> None:
        for frame in frames:
            client.send(2, frame)
            time.sleep(0.005)  # heartbeats go out between frames (never inside one)

    with Heartbeat(0.0005) as beat:  # a heartbeat every half millisecond
        beat.add(client.heartbeat)
        sender, out = in_thread(send_all)
        got = [server.recv(expect=(2,))[1] for _ in frames]
        sender.join(10)
    assert got == frames
    assert "error" not in out
    assert server.heartbeats_received >= 10


def test_wait_any_names_the_silent_peer_and_skips_heartbeats(
    creds: dict[str, PartyCredentials],
) -> None:
    a_server, host = make_pair(creds, "guest", "host")
    b_server, arbiter = make_pair(creds, "guest", "arbiter")
    try:
        with Heartbeat(heartbeat_interval(TIMEOUT)) as beat:
            beat.add(host.heartbeat)  # host alive, arbiter silent
            with pytest.raises(PeerSilentError, match="arbiter stopped answering") as e:
                wait_any([a_server, b_server])
            assert e.value.peer == "arbiter"
            beat.add(arbiter.heartbeat)
            time.sleep(2 * TIMEOUT)  # heartbeats only on both: nothing to hand out
            assert not a_server.poll() and not b_server.poll()
            arbiter.send(1, b"me")
            assert wait_any([a_server, b_server]) is b_server
            assert b_server.recv() == (1, b"me")
    finally:
        for channel in (a_server, host, b_server, arbiter):
            channel.close()


def test_a_heartbeat_with_a_payload_is_refused(pair: tuple[TlsChannel, TlsChannel]) -> None:
    """A malicious peer cannot smuggle data behind the heartbeat type."""
    server, client = pair
    client.type_names[HEARTBEAT_TAG] = "fake"
    client.send(HEARTBEAT_TAG, b"smuggled")
    with pytest.raises(ChannelProtocolError, match="unknown frame type 65535"):
        server.recv()


def test_the_heartbeat_type_is_reserved() -> None:
    with pytest.raises(TransportUsageError, match="reserved"):
        TlsChannel(
            cast(ssl.SSLSocket, None),
            local_role="guest",
            peer_role="host",
            stats=CommStats(),
            type_names={HEARTBEAT_TAG: "mine"},
        )
    assert HEARTBEAT_FRAME[:4] == MAGIC and HEARTBEAT_FRAME[4] == VERSION
    assert len(HEARTBEAT_FRAME) == HEADER.size
    with pytest.raises(TransportUsageError):
        heartbeat_interval(0)
    with pytest.raises(TransportUsageError):
        Heartbeat(-1.0)
