"""kernel.tls: the configuration, the contexts (over a real local handshake) and the warnings."""

from __future__ import annotations

import logging
import socket
import ssl
import threading
from pathlib import Path

import pytest

from kernel.errors import ConfigurationError
from kernel.tls import (
    TlsConfig,
    is_loopback,
    is_unencrypted_remote,
    tls_failure,
    warn_if_unencrypted,
)
from tests.support.tls import CertificateFiles, issue_certificates


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> CertificateFiles:
    return issue_certificates(tmp_path_factory.mktemp("tls"))


def test_from_env_reads_the_three_variables() -> None:
    env = {"FEDMARKET_TLS_CA": "/a/ca.pem", "FEDMARKET_TLS_CERT": "c.pem", "FEDMARKET_TLS_KEY": "k"}
    assert TlsConfig.from_env(env) == TlsConfig(Path("/a/ca.pem"), Path("c.pem"), Path("k"))
    empty = TlsConfig.from_env({"FEDMARKET_TLS_CA": " "})
    assert empty == TlsConfig() and empty.is_empty and not empty.has_identity


def test_a_certificate_needs_its_key() -> None:
    with pytest.raises(ConfigurationError, match="FEDMARKET_TLS_KEY"):
        TlsConfig.from_env({"FEDMARKET_TLS_CERT": "c.pem"})
    with pytest.raises(ConfigurationError):
        TlsConfig(key_file=Path("k.pem"))


def test_bad_files_are_configuration_errors(certs: CertificateFiles, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="not a file"):
        TlsConfig(ca_file=tmp_path / "absent.pem").client_context()
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate")
    with pytest.raises(ConfigurationError, match="cannot load FEDMARKET_TLS_CA"):
        TlsConfig(ca_file=junk).client_context()
    with pytest.raises(ConfigurationError, match="cannot load FEDMARKET_TLS_CERT"):
        TlsConfig(cert_file=certs.server_cert, key_file=certs.client_key).server_context()
    with pytest.raises(ConfigurationError, match="needs a certificate"):
        TlsConfig(ca_file=certs.ca).server_context()


def _handshake(server: TlsConfig, client: TlsConfig) -> tuple[str | None, str | None]:
    """One TLS connection on 127.0.0.1; the failure each side saw (None: it succeeded)."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    seen: dict[str, str | None] = {"server": None}

    def serve() -> None:
        conn, _ = listener.accept()
        try:
            with server.server_context().wrap_socket(conn, server_side=True) as tls:
                tls.sendall(tls.recv(5))
        except (ssl.SSLError, OSError) as exc:
            seen["server"] = str(exc)
        listener.close()

    thread = threading.Thread(target=serve)
    thread.start()
    failure = None
    try:
        with (
            socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
            client.client_context().wrap_socket(raw, server_hostname="127.0.0.1") as tls,
        ):
            tls.sendall(b"hello")
            assert tls.recv(5) == b"hello"
    except (ssl.SSLError, OSError) as exc:
        failure = tls_failure(exc) or str(exc)
    thread.join(10)
    return failure, seen["server"]


def test_contexts_make_mutual_tls(certs: CertificateFiles) -> None:
    assert _handshake(certs.server_config, certs.client_config) == (None, None)
    assert _handshake(certs.mutual_server_config, certs.mutual_client_config) == (None, None)


def test_contexts_refuse_strangers(certs: CertificateFiles) -> None:
    client, _ = _handshake(certs.server_config, TlsConfig(ca_file=certs.other_ca))
    assert client is not None and "certificate was not accepted" in client
    client, _ = _handshake(certs.server_config, TlsConfig())  # the system trust store
    assert client is not None and "certificate was not accepted" in client
    client, server = _handshake(certs.mutual_server_config, certs.client_config)
    assert server is not None and "certificate" in server.lower()
    assert client is not None and "client certificate" in client


def test_tls_failure_ignores_other_errors() -> None:
    assert tls_failure(ConnectionRefusedError("refused")) is None
    inner = ssl.SSLCertVerificationError(1, "certificate verify failed")
    wrapped = OSError("wrapper", inner)
    assert tls_failure(wrapped) is not None


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("[::1]", True),
        ("localhost", True),
        ("api.localhost", True),
        ("0.0.0.0", False),
        ("10.0.0.5", False),
        ("example.org", False),
        ("", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_unencrypted_remote_urls_warn_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="kernel.tls")
    assert not is_unencrypted_remote("https://10.0.0.5:5001")
    assert not is_unencrypted_remote("http://127.0.0.1:5001")
    assert not warn_if_unencrypted("IPFS API", "http://localhost:5001")
    url = "http://198.51.100.4:5001"  # TEST-NET-2
    assert warn_if_unencrypted("test channel", url)
    assert warn_if_unencrypted("test channel", url)
    assert [r.getMessage().split(":")[0] for r in caplog.records] == ["test channel"]
    assert "UNENCRYPTED" in caplog.records[0].getMessage()
