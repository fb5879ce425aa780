"""TLS settings shared by every channel: chain RPC, the IPFS daemon, the marketplace API.

A :class:`TlsConfig` names three PEM files, read from the environment by
:meth:`TlsConfig.from_env` (or given on the command line):

==========================  ================================================================
``FEDMARKET_TLS_CA``        CA certificate(s) that sign the peers' certificates: clients check
                            servers against it (instead of the system's trust store), and a
                            server given one requires a client certificate signed by it.
``FEDMARKET_TLS_CERT``      This party's certificate chain (a client's certificate, or the
                            server's for ``fedmarket serve``).
``FEDMARKET_TLS_KEY``       The private key of ``FEDMARKET_TLS_CERT`` (unencrypted PEM).
==========================  ================================================================

:meth:`TlsConfig.client_context` and :meth:`TlsConfig.server_context` turn it into an
:class:`ssl.SSLContext` (TLS 1.2 at least). The development default is plain ``http://`` on
loopback, which needs none of this; :func:`warn_if_unencrypted` logs one warning per channel when
plain http leaves the machine, and :func:`tls_failure` finds the TLS reason inside the exception
an HTTP library raises, so that callers can name it in their own error.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import ssl
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from kernel.errors import ConfigurationError

log = logging.getLogger(__name__)

ENV_CA = "FEDMARKET_TLS_CA"
"""Environment variable naming the CA certificate file."""
ENV_CERT = "FEDMARKET_TLS_CERT"
"""Environment variable naming this party's certificate file."""
ENV_KEY = "FEDMARKET_TLS_KEY"
"""Environment variable naming this party's private key file."""

_NOT_A_FAILURE = (ssl.SSLWantReadError, ssl.SSLWantWriteError)
"""Flow control of non-blocking TLS, seen in the context of other errors: never a reason."""

_warned: set[tuple[str, str]] = set()
_warned_lock = threading.Lock()


@dataclass(frozen=True)
class TlsConfig:
    """Which certificates a party uses on its TLS channels (all optional).

    Parameters
    ----------
    ca_file : Path or None, default None
        CA certificate(s), PEM. Clients: trust these instead of the system's store. Servers:
        require client certificates signed by them (mutual TLS).
    cert_file : Path or None, default None
        This party's certificate chain, PEM; given with ``key_file`` or not at all.
    key_file : Path or None, default None
        The private key of ``cert_file``, PEM.

    Raises
    ------
    ConfigurationError
        When only one of ``cert_file`` and ``key_file`` is given.
    """

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None

    def __post_init__(self) -> None:
        if (self.cert_file is None) != (self.key_file is None):
            raise ConfigurationError(
                f"TLS: a certificate needs its key and a key its certificate "
                f"({ENV_CERT}={self.cert_file}, {ENV_KEY}={self.key_file})"
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> TlsConfig:
        """Read ``FEDMARKET_TLS_CA``, ``FEDMARKET_TLS_CERT`` and ``FEDMARKET_TLS_KEY``.

        Unset or empty variables are ``None``.

        Parameters
        ----------
        environ : mapping or None, default None
            Where to read them (``os.environ`` when ``None``).
        """
        env = os.environ if environ is None else environ

        def path(name: str) -> Path | None:
            value = env.get(name, "").strip()
            return Path(value).expanduser() if value else None

        return cls(ca_file=path(ENV_CA), cert_file=path(ENV_CERT), key_file=path(ENV_KEY))

    @property
    def has_identity(self) -> bool:
        """Whether a certificate and key are configured for this party."""
        return self.cert_file is not None

    @property
    def is_empty(self) -> bool:
        """Whether nothing is configured (the development default)."""
        return self.ca_file is None and self.cert_file is None

    def client_context(self) -> ssl.SSLContext:
        """A client context: verifies the server (host name included) and presents our identity.

        The server is checked against ``ca_file`` when given, else the system's trust store;
        the certificate and key are presented when given.

        Raises
        ------
        ConfigurationError
            When a file is missing or not valid PEM.
        """
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        if self.ca_file is not None:
            _load(ENV_CA, self.ca_file, lambda: ctx.load_verify_locations(cafile=self.ca_file))
        self._load_identity(ctx)
        return ctx

    def server_context(self) -> ssl.SSLContext:
        """A server context: presents our certificate; requires a client's when a CA is given.

        Raises
        ------
        ConfigurationError
            When no certificate is configured, or a file is missing or not valid PEM.
        """
        if not self.has_identity:
            raise ConfigurationError(f"TLS: a server needs a certificate ({ENV_CERT}, {ENV_KEY})")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        self._load_identity(ctx)
        if self.ca_file is not None:
            _load(ENV_CA, self.ca_file, lambda: ctx.load_verify_locations(cafile=self.ca_file))
            ctx.verify_mode = ssl.CERT_REQUIRED
        return ctx

    def _load_identity(self, ctx: ssl.SSLContext) -> None:
        if self.cert_file is not None and self.key_file is not None:
            cert, key = self.cert_file, self.key_file
            _load(ENV_CERT, cert, lambda: ctx.load_cert_chain(certfile=cert, keyfile=key))


def _load(name: str, path: Path, load: Callable[[], object]) -> None:
    """Run ``load`` (a loader of ``path``), turning its failures into ConfigurationError."""
    if not path.is_file():
        raise ConfigurationError(f"TLS: {name}={path} is not a file")
    try:
        load()
    except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
        raise ConfigurationError(f"TLS: cannot load {name}={path}: {exc}") from exc


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address) stays on this machine.

    Parameters
    ----------
    host : str
        A host name or IP address (brackets of IPv6 URLs allowed).
    """
    name = host.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def is_unencrypted_remote(url: str) -> bool:
    """Whether ``url`` is plain ``http://`` (or ``ws://``) to a host off this machine.

    Parameters
    ----------
    url : str
        A service URL.
    """
    parts = urlsplit(url)
    return parts.scheme in ("http", "ws") and not is_loopback(parts.hostname or "")


def warn_if_unencrypted(channel: str, url: str) -> bool:
    """Log one warning (per channel and URL, per process) when ``url`` is unencrypted and remote.

    Parameters
    ----------
    channel : str
        What the URL is for, e.g. ``"chain RPC"``, ``"IPFS API"``.
    url : str
        The URL in use.

    Returns
    -------
    bool
        Whether ``url`` is unencrypted and remote (warned now or before).
    """
    if not is_unencrypted_remote(url):
        return False
    key = (channel, url)
    with _warned_lock:
        first = key not in _warned
        _warned.add(key)
    if first:
        log.warning(
            "%s: %s is plain http to another machine: the channel is UNENCRYPTED; use https:// "
            "(certificates from %s, %s, %s; see docs/privacy.md, Channels)",
            channel,
            url,
            ENV_CA,
            ENV_CERT,
            ENV_KEY,
        )
    return True


def tls_failure(exc: BaseException) -> str | None:
    """The TLS reason behind ``exc`` (an HTTP library's error), or ``None`` if TLS is not it.

    Looks through causes, contexts, arguments and ``reason`` attributes (where requests and
    urllib3 keep the error they wrap) for an :class:`ssl.SSLError`.

    Parameters
    ----------
    exc : BaseException
        The error raised by the request.
    """
    seen: set[int] = set()
    todo: list[object] = [exc]
    while todo:
        item = todo.pop()
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, ssl.SSLError) and not isinstance(item, _NOT_A_FAILURE):
            return _describe_ssl(item)
        todo.extend((item.__cause__, item.__context__, getattr(item, "reason", None)))
        todo.extend(item.args)
    return None


def _describe_ssl(error: ssl.SSLError) -> str:
    # errors made by hand (not by OpenSSL) lack reason and verify_message
    reason_code = getattr(error, "reason", None)
    if isinstance(error, ssl.SSLCertVerificationError):
        detail = getattr(error, "verify_message", None) or reason_code or error.strerror
        return f"TLS: the server's certificate was not accepted ({detail}; check {ENV_CA})"
    text = str(reason_code or error)
    reason = text.lower().replace("_", " ")
    client_cert = f"{ENV_CERT}, {ENV_KEY}"
    if isinstance(error, ssl.SSLEOFError) or "certificate required" in reason:
        return (
            f"TLS: the server ended the handshake: it requires a client certificate "
            f"({client_cert}) or refused this one ({text})"
        )
    if "unknown ca" in reason or "bad certificate" in reason:
        return f"TLS: the server refused this client's certificate ({client_cert}): {text}"
    if "wrong version number" in reason or "record layer failure" in reason:
        return f"TLS: the server does not speak TLS on this port (http:// ?): {text}"
    return f"TLS: {text}"


__all__ = [
    "ENV_CA",
    "ENV_CERT",
    "ENV_KEY",
    "TlsConfig",
    "is_loopback",
    "is_unencrypted_remote",
    "tls_failure",
    "warn_if_unencrypted",
]
