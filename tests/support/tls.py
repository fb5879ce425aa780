"""TLS for the tests: certificate files from a throw-away CA, and a TLS-terminating proxy.

The certificates come from the vertical-FL tooling
(:func:`fl_node.vertical.transport.credentials.make_credentials`: EC P-256 leaves with
``IP:127.0.0.1`` among their names and both server and client usages), written to PEM files
because every client and server reads its certificates from files.

:class:`TlsProxy` puts TLS in front of a plain-http service on 127.0.0.1 (anvil, the js-ipfs
daemon), as a reverse proxy would in a deployment: a thread per connection does the handshake
(requiring a client certificate when its context says so) and then copies bytes both ways.

    files = issue_certificates(tmp_path)
    with TlsProxy(anvil_url, files.server_config.server_context()) as proxy:
        RpcBackend(proxy.url, tls=files.client_config)
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self
from urllib.parse import urlsplit

from fl_node.vertical.transport.credentials import PartyCredentials, make_credentials
from kernel.tls import TlsConfig

LOCALHOST = "127.0.0.1"


@dataclass(frozen=True)
class CertificateFiles:
    """PEM files of one throw-away CA: a server identity, a client identity, and a stranger's CA.

    Attributes
    ----------
    ca : Path
        The CA certificate that signed ``server_*`` and ``client_*``.
    server_cert, server_key : Path
        The server's identity (``CN=server``, ``IP:127.0.0.1``).
    client_cert, client_key : Path
        A client's identity (``CN=client``).
    other_ca : Path
        The certificate of another CA, which signed none of the above.
    """

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_ca: Path

    @property
    def server_config(self) -> TlsConfig:
        """The server's identity, requiring no client certificate."""
        return TlsConfig(cert_file=self.server_cert, key_file=self.server_key)

    @property
    def mutual_server_config(self) -> TlsConfig:
        """The server's identity, requiring client certificates signed by :attr:`ca`."""
        return TlsConfig(ca_file=self.ca, cert_file=self.server_cert, key_file=self.server_key)

    @property
    def client_config(self) -> TlsConfig:
        """A client trusting :attr:`ca` and presenting no certificate."""
        return TlsConfig(ca_file=self.ca)

    @property
    def mutual_client_config(self) -> TlsConfig:
        """A client trusting :attr:`ca` and presenting its certificate."""
        return TlsConfig(ca_file=self.ca, cert_file=self.client_cert, key_file=self.client_key)


def issue_certificates(folder: Path) -> CertificateFiles:
    """Mint a CA, a server and a client certificate (and a stranger CA) into ``folder``.

    Parameters
    ----------
    folder : Path
        Where the PEM files go (created if needed).
    """
    folder.mkdir(parents=True, exist_ok=True)
    creds = make_credentials(["server", "client"])
    stranger = make_credentials(["stranger"])["stranger"]

    def write(name: str, data: bytes) -> Path:
        path = folder / name
        path.write_bytes(data)
        path.chmod(0o600)
        return path

    def identity(party: PartyCredentials) -> tuple[Path, Path]:
        return write(f"{party.role}.pem", party.cert_pem), write(f"{party.role}.key", party.key_pem)

    server_cert, server_key = identity(creds["server"])
    client_cert, client_key = identity(creds["client"])
    return CertificateFiles(
        ca=write("ca.pem", creds["server"].ca_pem),
        server_cert=server_cert,
        server_key=server_key,
        client_cert=client_cert,
        client_key=client_key,
        other_ca=write("other-ca.pem", stranger.ca_pem),
    )


class TlsProxy:
    """A TLS front for a plain-http service on 127.0.0.1; a context manager.

    Parameters
    ----------
    upstream_url : str
        ``http://127.0.0.1:port`` of the service.
    context : ssl.SSLContext
        The server context (a CA loaded in it with ``CERT_REQUIRED`` makes it mutual TLS).

    Attributes
    ----------
    url : str
        ``https://127.0.0.1:port`` of the proxy.
    handshake_failures : list of str
        Why each refused handshake failed, as the proxy saw it.
    """

    def __init__(self, upstream_url: str, context: ssl.SSLContext) -> None:
        parts = urlsplit(upstream_url)
        self._upstream = (parts.hostname or LOCALHOST, parts.port or 80)
        self._context = context
        self._listener = socket.create_server((LOCALHOST, 0))
        self.url = f"https://{LOCALHOST}:{self._listener.getsockname()[1]}"
        self.handshake_failures: list[str] = []
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._acceptor = threading.Thread(target=self._accept, name="tls-proxy", daemon=True)
        self._acceptor.start()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop accepting and close every open connection."""
        self._stopped.set()
        self._listener.close()
        with self._lock:
            for sock in list(self._open):
                _close(sock)
            self._open.clear()
        self._acceptor.join(5)

    def _accept(self) -> None:
        self._listener.settimeout(0.1)  # a closed listener does not wake accept(): poll
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        client.settimeout(10)
        secure = self._context.wrap_socket(client, server_side=True, do_handshake_on_connect=False)
        try:
            secure.do_handshake()
        except (ssl.SSLError, OSError) as exc:
            self.handshake_failures.append(str(exc))
            _linger_close(socket.socket(fileno=secure.detach()))
            return
        secure.settimeout(None)
        upstream = socket.create_connection(self._upstream)
        with self._lock:
            self._open.update((secure, upstream))
        threading.Thread(target=_pump, args=(upstream, secure), daemon=True).start()
        _pump(secure, upstream)


def _pump(source: socket.socket, target: socket.socket) -> None:
    """Copy bytes from ``source`` to ``target`` until either side closes; then close both."""
    try:
        while data := source.recv(65536):
            target.sendall(data)
    except OSError:
        pass
    finally:
        _close(source)
        _close(target)


def _linger_close(sock: socket.socket) -> None:
    """Close after a refused handshake as servers do: without resetting the connection.

    Closing with the client's request unread sends a reset, and a reset makes the client's
    system drop the TLS alert it has not read yet: the client would see "connection reset"
    instead of why it was refused.
    """
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(1)
        while sock.recv(65536):
            pass
    _close(sock)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.close()
