"""Mutual-TLS channels: authentication, framing limits, validation and byte accounting."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from fl_node.vertical.transport import (
    HEADER,
    ChannelClosedError,
    ChannelProtocolError,
    CommStats,
    Listener,
    PartyCredentials,
    PeerAuthenticationError,
    TlsChannel,
    connect,
    make_credentials,
    wait_any,
)

TYPES = {1: "ping", 2: "data"}
Pair = tuple[TlsChannel, TlsChannel, CommStats, CommStats]


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


@pytest.fixture
def pair(
    creds: dict[str, PartyCredentials],
) -> Iterator[Pair]:
    """An authenticated guest (listener) <-> host (client) pair."""
    g_stats, h_stats = CommStats(), CommStats()
    listener = Listener(creds["guest"], stats=g_stats, type_names=TYPES, max_frame=4096, timeout=10)
    thread, out = in_thread(lambda: listener.accept({"host"}, timeout=10))
    client = connect(
        creds["host"], "guest", listener.address, stats=h_stats, type_names=TYPES, timeout=10
    )
    thread.join(10)
    listener.close()
    server = out["value"]
    yield server, client, g_stats, h_stats
    server.close()
    client.close()


def test_credentials_name_the_roles(creds: dict[str, PartyCredentials]) -> None:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    for role, c in creds.items():
        cert = x509.load_pem_x509_certificate(c.cert_pem)
        assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == role
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert role in san.get_values_for_type(x509.DNSName)
        assert c.ca_pem == creds["guest"].ca_pem
    assert "PRIVATE" not in repr(creds["guest"])


def test_round_trip_and_accounting(pair: Pair) -> None:
    server, client, g_stats, h_stats = pair
    assert (server.peer_role, client.peer_role) == ("host", "guest")
    client.phase = "train"
    size = client.send(2, b"x" * 1000)
    assert size == HEADER.size + 1000
    server.phase = "train"
    assert server.recv(expect=(2,)) == (2, b"x" * 1000)
    server.send(1, b"", phase="psi")
    assert client.recv() == (1, b"")
    assert h_stats.sent[("host", "guest", "data", "train")] == [size, 1]
    assert g_stats.received[("host", "guest", "data", "train")] == [size, 1]
    # the accept frame the listener sent during connection set-up is counted too
    assert g_stats.sent[("guest", "host", "accept", "connect")][1] == 1
    assert g_stats.total(phase="psi") == (HEADER.size, 1)


def test_large_frame_crosses_many_tls_records(creds: dict[str, PartyCredentials]) -> None:
    stats = CommStats()
    listener = Listener(creds["arbiter"], stats=stats, type_names=TYPES, timeout=10)
    thread, out = in_thread(lambda: listener.accept({"guest"}, timeout=10))
    client = connect(
        creds["guest"], "arbiter", listener.address, stats=CommStats(), type_names=TYPES
    )
    thread.join(10)
    listener.close()
    server = out["value"]
    payload = bytes(range(256)) * 8000  # ~2 MB
    sender, got = in_thread(lambda: client.send(2, payload))
    assert server.recv(expect=(2,)) == (2, payload)
    sender.join(10)
    server.close()
    client.close()


def test_oversized_frame_is_refused_before_reading(
    pair: Pair,
) -> None:
    server, client, _, _ = pair
    client.max_frame = 4096
    with pytest.raises(ChannelProtocolError, match="exceeds"):
        client.send(2, b"x" * 5000)  # the sender refuses its own oversized frames
    client.max_frame = 1 << 20
    client.send(2, b"x" * 5000)
    with pytest.raises(ChannelProtocolError, match="exceeds"):
        server.recv()


def test_unknown_and_unexpected_types_are_refused(
    pair: Pair,
) -> None:
    server, client, _, _ = pair
    client.send(1, b"ping")
    with pytest.raises(ChannelProtocolError, match="expected"):
        server.recv(expect=(2,))
    with pytest.raises(ChannelProtocolError, match="unknown frame type"):
        client.send(99, b"")
    client.type_names[99] = "rogue"
    client.send(99, b"")
    server._buf.clear()  # drop the refused frame; the next one has an unknown type
    with pytest.raises(ChannelProtocolError, match="unknown frame type"):
        server.recv()


def test_peer_close_is_reported(pair: Pair) -> None:
    server, client, _, _ = pair
    client.close()
    with pytest.raises(ChannelClosedError):
        server.recv()


def test_wait_any_and_idle_work(creds: dict[str, PartyCredentials], pair: Pair) -> None:
    server, client, _, _ = pair
    calls = []

    def idle() -> bool:
        calls.append(1)
        if len(calls) == 3:
            client.send(1, b"now")
        return len(calls) < 5

    assert wait_any([server], idle=idle, timeout=10) is server
    assert server.recv() == (1, b"now")
    assert len(calls) >= 3


def _raw_client(address: tuple[str, int], ctx: ssl.SSLContext, hostname: str) -> bytes:
    """Connect with a custom TLS context and try to read the accept frame."""
    raw = socket.create_connection(address, timeout=10)
    with ctx.wrap_socket(raw, server_hostname=hostname) as tls:
        return tls.recv(64)


def test_client_without_certificate_is_refused(creds: dict[str, PartyCredentials]) -> None:
    listener = Listener(creds["guest"], stats=CommStats(), type_names=TYPES)
    thread, out = in_thread(lambda: listener.accept({"host"}, timeout=10))
    ctx = ssl.create_default_context(cadata=creds["guest"].ca_pem.decode())  # no client cert
    with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
        data = _raw_client(listener.address, ctx, "guest")
        if not data:
            raise ConnectionError("closed without an accept frame")
    thread.join(10)
    listener.close()
    assert isinstance(out.get("error"), PeerAuthenticationError)


def test_certificate_from_another_ca_is_refused(creds: dict[str, PartyCredentials]) -> None:
    rogue = make_credentials(["host"])["host"]  # right role name, wrong CA
    listener = Listener(creds["guest"], stats=CommStats(), type_names=TYPES)
    thread, out = in_thread(lambda: listener.accept({"host"}, timeout=10))
    with pytest.raises(PeerAuthenticationError):
        connect(
            rogue,
            "guest",
            listener.address,
            stats=CommStats(),
            type_names=TYPES,
            connect_timeout=10,
        )
    thread.join(10)
    listener.close()
    assert isinstance(out.get("error"), PeerAuthenticationError)


def test_valid_certificate_for_an_unexpected_role_is_refused(
    creds: dict[str, PartyCredentials],
) -> None:
    listener = Listener(creds["guest"], stats=CommStats(), type_names=TYPES)
    thread, out = in_thread(lambda: listener.accept({"host"}, timeout=10))
    with pytest.raises(PeerAuthenticationError):
        connect(
            creds["arbiter"],
            "guest",
            listener.address,
            stats=CommStats(),
            type_names=TYPES,
            connect_timeout=10,
        )
    thread.join(10)
    listener.close()
    assert isinstance(out.get("error"), PeerAuthenticationError)
    assert "refused peer 'arbiter'" in str(out["error"])


def test_listener_impersonating_another_role_is_refused(creds: dict[str, PartyCredentials]) -> None:
    listener = Listener(creds["guest"], stats=CommStats(), type_names=TYPES)
    thread, _ = in_thread(lambda: listener.accept({"host"}, timeout=5))
    with pytest.raises(PeerAuthenticationError, match="cannot authenticate arbiter"):
        connect(
            creds["host"],
            "arbiter",
            listener.address,
            stats=CommStats(),
            type_names=TYPES,
            connect_timeout=5,
        )
    thread.join(10)
    listener.close()


def test_comm_stats_merge_and_state() -> None:
    a, b = CommStats(), CommStats()
    a.record("guest", "host", "data", "train", 100, outgoing=True)
    b.record("host", "guest", "data", "train", 50, outgoing=True)
    b.record("guest", "host", "data", "train", 100, outgoing=False)
    merged = CommStats().merge(a).merge(b)
    assert merged.total() == (150, 2)
    assert merged.total(sender="host") == (50, 1)
    assert CommStats.from_state(merged.to_state()).sent == merged.sent
    view = merged.to_dict()
    assert view["by_party"]["guest"]["train"] == {"bytes": 100, "messages": 1}
    assert view["by_phase"]["train"]["bytes"] == 150
