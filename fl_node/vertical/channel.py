"""Mutual-TLS message channel between the vertical-FL parties, with byte accounting.

Every party (guest, host, arbiter) holds an X.509 certificate whose common name (and DNS
subject alternative name) is its role, issued by a throw-away certificate authority
(:func:`make_credentials`, EC P-256 keys via ``cryptography``). Channels are TLS 1.3 with
certificates required on *both* sides (``ssl`` stdlib):

* the connecting side checks the listener's certificate against the CA and the expected role
  (``server_hostname=role``);
* the listening side checks the client's certificate against the CA, reads the role from its
  common name, refuses roles it does not expect, and only then sends an ``accept`` frame; a
  client without a valid certificate never gets one (:class:`PeerAuthenticationError` on
  both sides).

Messages are frames: a 12-byte header ``magic "FMVC" | version u8 | flags u8 | type u16 |
payload length u32`` (big-endian) and the payload. Unknown versions, flags or types and
payloads above ``max_frame`` bytes are refused (:class:`ChannelProtocolError`) before the
payload is read; the typed decoding and validation of payloads happens one layer up
(:mod:`fl_node.vertical._vfl_messages`). Every frame sent or received is counted, header
included, in a :class:`CommStats` by sender, receiver, type and protocol phase (TLS record
overhead, about 22 bytes per 16 KiB record, is not counted).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import os
import select
import socket
import ssl
import struct
import tempfile
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

__all__ = [
    "ACCEPT_TAG",
    "DEFAULT_MAX_FRAME",
    "HEADER",
    "Channel",
    "ChannelClosedError",
    "ChannelError",
    "ChannelProtocolError",
    "ChannelTimeoutError",
    "CommStats",
    "Listener",
    "PartyCredentials",
    "PeerAuthenticationError",
    "connect",
    "make_credentials",
    "wait_any",
]

MAGIC = b"FMVC"
VERSION = 1
HEADER = struct.Struct(">4sBBHI")
#: Largest payload accepted by default (64 MiB).
DEFAULT_MAX_FRAME = 64 * 1024 * 1024
#: Frame type the listener sends after it has authenticated the client.
ACCEPT_TAG = 0
_CHUNK = 1 << 20
_DEFAULT_TIMEOUT = 600.0
_LOCALHOST = "127.0.0.1"


class ChannelError(Exception):
    """Root of every channel error."""


class ChannelProtocolError(ChannelError, ValueError):
    """A frame is malformed, oversized or of an unexpected type."""


class ChannelClosedError(ChannelError, ConnectionError):
    """The peer closed the connection."""


class ChannelTimeoutError(ChannelError, TimeoutError):
    """No frame arrived in time."""


class PeerAuthenticationError(ChannelError, PermissionError):
    """The peer has no valid certificate, or not for the expected role."""


# --------------------------------------------------------------------------- statistics


@dataclass
class CommStats:
    """Bytes and message counts by ``(sender, receiver, type, phase)``.

    A party records what it sends in ``sent`` and what it receives in ``received``; merging
    the stats of all parties and reading ``sent`` counts every message once.

    Attributes
    ----------
    sent, received : dict
        ``(sender, receiver, type, phase) -> [bytes, messages]``.
    """

    sent: dict[tuple[str, str, str, str], list[int]] = field(default_factory=dict)
    received: dict[tuple[str, str, str, str], list[int]] = field(default_factory=dict)

    def record(
        self, sender: str, receiver: str, kind: str, phase: str, nbytes: int, *, outgoing: bool
    ) -> None:
        """Count one frame.

        Parameters
        ----------
        sender, receiver : str
            Roles.
        kind : str
            Message type name.
        phase : str
            Protocol phase (e.g. ``"psi"``, ``"train"``).
        nbytes : int
            Frame size, header included.
        outgoing : bool
            ``True`` for a frame this party sent.
        """
        table = self.sent if outgoing else self.received
        entry = table.setdefault((sender, receiver, kind, phase), [0, 0])
        entry[0] += nbytes
        entry[1] += 1

    def merge(self, other: CommStats) -> CommStats:
        """Add ``other``'s counts into this object and return it.

        Parameters
        ----------
        other : CommStats
            Stats of another party.
        """
        for mine, theirs in ((self.sent, other.sent), (self.received, other.received)):
            for key, (nbytes, count) in theirs.items():
                entry = mine.setdefault(key, [0, 0])
                entry[0] += nbytes
                entry[1] += count
        return self

    def total(self, *, phase: str | None = None, sender: str | None = None) -> tuple[int, int]:
        """Return ``(bytes, messages)`` sent, optionally for one phase and/or sender.

        Parameters
        ----------
        phase : str or None
            Restrict to a phase.
        sender : str or None
            Restrict to a sender.
        """
        nbytes = count = 0
        for (snd, _rcv, _kind, ph), (b, c) in self.sent.items():
            if (phase is None or ph == phase) and (sender is None or snd == sender):
                nbytes += b
                count += c
        return nbytes, count

    def by_party(self) -> dict[str, dict[str, dict[str, int]]]:
        """Return ``{sender: {phase: {"bytes", "messages"}}}`` of sent frames."""
        out: dict[str, dict[str, dict[str, int]]] = {}
        for (snd, _rcv, _kind, ph), (b, c) in sorted(self.sent.items()):
            slot = out.setdefault(snd, {}).setdefault(ph, {"bytes": 0, "messages": 0})
            slot["bytes"] += b
            slot["messages"] += c
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: every row plus per-party and per-phase totals."""
        phases = sorted({key[3] for key in self.sent})
        return {
            "bytes_total": self.total()[0],
            "messages_total": self.total()[1],
            "by_phase": {
                ph: dict(zip(("bytes", "messages"), self.total(phase=ph), strict=True))
                for ph in phases
            },
            "by_party": self.by_party(),
            "rows": [
                {"sender": s, "receiver": r, "type": k, "phase": p, "bytes": b, "messages": c}
                for (s, r, k, p), (b, c) in sorted(self.sent.items())
            ],
        }

    def to_state(self) -> dict[str, list[list[Any]]]:
        """Lossless plain form (for sending between processes)."""
        return {
            name: [[*key, *value] for key, value in table.items()]
            for name, table in (("sent", self.sent), ("received", self.received))
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Sequence[Sequence[Any]]]) -> CommStats:
        """Rebuild from :meth:`to_state`.

        Parameters
        ----------
        state : mapping
            The plain form.
        """
        stats = cls()
        for name, table in (("sent", stats.sent), ("received", stats.received)):
            for row in state.get(name, []):
                s, r, k, p, b, c = row
                table[(str(s), str(r), str(k), str(p))] = [int(b), int(c)]
        return stats


# --------------------------------------------------------------------------- credentials


@dataclass(frozen=True, repr=False)
class PartyCredentials:
    """One party's TLS identity: its certificate and key, and the CA certificate.

    Attributes
    ----------
    role : str
        The role named in the certificate.
    cert_pem, key_pem, ca_pem : bytes
        PEM encodings (the private key is unencrypted PKCS#8; keep it in memory).
    """

    role: str
    cert_pem: bytes
    key_pem: bytes
    ca_pem: bytes

    def __repr__(self) -> str:
        return f"PartyCredentials(role={self.role!r})"


def make_credentials(
    roles: Sequence[str], *, valid_for: dt.timedelta = dt.timedelta(days=1)
) -> dict[str, PartyCredentials]:
    """Mint a throw-away CA and one certificate per role (EC P-256, SHA-256).

    Each leaf has ``CN = role``, subject alternative names ``DNS:role`` and
    ``IP:127.0.0.1``, and both the server and client extended key usages. The CA key is
    discarded on return, so no further certificate can be issued.

    Parameters
    ----------
    roles : sequence of str
        Distinct role names (letters, digits, ``-``).
    valid_for : timedelta
        Validity period.

    Returns
    -------
    dict
        ``role -> PartyCredentials``.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    if len(set(roles)) != len(roles) or not roles:
        raise ValueError("roles must be distinct and non-empty")
    for role in roles:
        if not role or not all(ch.isalnum() or ch == "-" for ch in role):
            raise ValueError(f"invalid role name {role!r}")
    now = dt.datetime.now(dt.UTC)
    start, end = now - dt.timedelta(minutes=5), now + valid_for
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fedmarket vfl session CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_pem = ca_cert.public_bytes(serialization.Encoding.PEM)
    out: dict[str, PartyCredentials] = {}
    for role in roles:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, role)]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName(role), x509.IPAddress(ipaddress.ip_address(_LOCALHOST))]
                ),
                critical=False,
            )
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
            .sign(ca_key, hashes.SHA256())
        )
        out[role] = PartyCredentials(
            role=role,
            cert_pem=cert.public_bytes(serialization.Encoding.PEM),
            key_pem=key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
            ca_pem=ca_pem,
        )
    return out


def _context(creds: PartyCredentials, *, server: bool) -> ssl.SSLContext:
    """Return a TLS 1.3 context that presents ``creds`` and requires a CA-signed peer."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server else ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.verify_mode = ssl.CERT_REQUIRED
    if server:
        ctx.num_tickets = 0  # no session tickets: nothing but frames ever arrives
    else:
        ctx.check_hostname = True
    ctx.load_verify_locations(cadata=creds.ca_pem.decode("ascii"))
    # load_cert_chain only reads files: write them to a private temporary folder.
    with tempfile.TemporaryDirectory(prefix="fedmarket-tls-") as folder:
        cert_path = Path(folder) / "cert.pem"
        key_path = Path(folder) / "key.pem"
        cert_path.write_bytes(creds.cert_pem)
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(creds.key_pem)
        ctx.load_cert_chain(str(cert_path), str(key_path))
    return ctx


def _peer_role(sock: ssl.SSLSocket) -> str:
    cert = sock.getpeercert()
    if not cert:
        raise PeerAuthenticationError("the peer presented no certificate")
    subject: Any = cert.get("subject", ())
    for rdn in subject:
        for name, value in rdn:
            if name == "commonName":
                return str(value)
    raise PeerAuthenticationError("the peer certificate has no common name")


# --------------------------------------------------------------------------- channel


class Channel:
    """One authenticated TLS connection to a peer, carrying typed frames.

    Parameters
    ----------
    sock : ssl.SSLSocket
        A connected socket whose handshake is complete.
    local_role, peer_role : str
        The two ends (the peer's role was verified from its certificate).
    stats : CommStats
        Where frames are counted.
    type_names : mapping of int to str
        Accepted frame types and their names.
    max_frame : int
        Largest accepted payload in bytes.
    timeout : float
        Seconds to wait for a frame before :class:`ChannelTimeoutError`.
    """

    def __init__(
        self,
        sock: ssl.SSLSocket,
        *,
        local_role: str,
        peer_role: str,
        stats: CommStats,
        type_names: Mapping[int, str],
        max_frame: int = DEFAULT_MAX_FRAME,
        timeout: float = _DEFAULT_TIMEOUT,
    ) -> None:
        self._sock = sock
        self.local_role = local_role
        self.peer_role = peer_role
        self.stats = stats
        self.type_names = dict(type_names)
        self.type_names.setdefault(ACCEPT_TAG, "accept")
        self.max_frame = int(max_frame)
        self.timeout = float(timeout)
        self.phase = "connect"
        self._buf = bytearray()
        self._closed = False
        sock.settimeout(self.timeout)

    def __repr__(self) -> str:
        return f"Channel({self.local_role} <-> {self.peer_role})"

    def fileno(self) -> int:
        """File descriptor of the socket (for :func:`select.select`)."""
        return self._sock.fileno()

    # ---------------------------------------------------------------- sending

    def send(self, tag: int, payload: bytes, *, phase: str | None = None) -> int:
        """Send one frame; return its size in bytes (header included).

        Parameters
        ----------
        tag : int
            Frame type (must be in ``type_names``).
        payload : bytes
            The message body.
        phase : str or None
            Phase to count it under (default: :attr:`phase`).
        """
        if tag not in self.type_names:
            raise ChannelProtocolError(f"unknown frame type {tag}")
        if len(payload) > self.max_frame:
            raise ChannelProtocolError(
                f"frame of {len(payload)} bytes exceeds the {self.max_frame}-byte limit"
            )
        header = HEADER.pack(MAGIC, VERSION, 0, tag, len(payload))
        try:
            if len(payload) < 65536:
                self._sock.sendall(header + payload)
            else:
                self._sock.sendall(header)
                self._sock.sendall(payload)
        except (OSError, ssl.SSLError) as exc:
            raise ChannelClosedError(f"{self}: send failed: {exc}") from exc
        size = HEADER.size + len(payload)
        self.stats.record(
            self.local_role,
            self.peer_role,
            self.type_names[tag],
            phase or self.phase,
            size,
            outgoing=True,
        )
        return size

    # ---------------------------------------------------------------- receiving

    def _pull(self, *, block: bool) -> None:
        if self._closed:
            raise ChannelClosedError(f"{self} is closed")
        try:
            if block:
                data = self._sock.recv(_CHUNK)
            else:
                if not self._sock.pending():
                    ready, _, _ = select.select([self._sock], [], [], 0)
                    if not ready:
                        return
                self._sock.setblocking(False)
                try:
                    data = self._sock.recv(_CHUNK)
                except (ssl.SSLWantReadError, BlockingIOError):
                    return
                finally:
                    self._sock.settimeout(self.timeout)
        except TimeoutError as exc:
            raise ChannelTimeoutError(f"{self}: no data for {self.timeout:.0f} s") from exc
        except ssl.SSLError as exc:
            raise PeerAuthenticationError(f"{self}: TLS error: {exc}") from exc
        except OSError as exc:
            raise ChannelClosedError(f"{self}: receive failed: {exc}") from exc
        if not data:
            raise ChannelClosedError(f"{self}: the peer closed the connection")
        self._buf += data

    def poll(self) -> bool:
        """Return whether part of the next frame has arrived (never blocks)."""
        if not self._buf:
            self._pull(block=False)
        return bool(self._buf)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until part of the next frame has arrived or ``timeout`` seconds pass.

        Parameters
        ----------
        timeout : float or None
            Seconds; ``None`` waits up to the channel timeout.
        """
        limit = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        while not self.poll():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            select.select([self._sock], [], [], left)
        return True

    def _parse_header(self, header: bytes) -> tuple[int, int]:
        magic, version, flags, tag, length = HEADER.unpack(header)
        if magic != MAGIC:
            raise ChannelProtocolError(f"{self}: bad frame magic")
        if version != VERSION or flags != 0:
            raise ChannelProtocolError(f"{self}: unsupported frame version {version}/{flags}")
        if tag not in self.type_names:
            raise ChannelProtocolError(f"{self}: unknown frame type {tag}")
        if length > self.max_frame:
            raise ChannelProtocolError(
                f"{self}: frame of {length} bytes exceeds the {self.max_frame}-byte limit"
            )
        return tag, length

    def recv(self, expect: Collection[int] | None = None) -> tuple[int, bytes]:
        """Receive one frame (blocking up to the channel timeout).

        Parameters
        ----------
        expect : collection of int or None
            Frame types acceptable here; anything else raises.

        Returns
        -------
        tuple of (int, bytes)
            The type and the payload.

        Raises
        ------
        ChannelProtocolError
            Bad header, oversized frame or unexpected type (the payload is not read).
        ChannelClosedError, ChannelTimeoutError, PeerAuthenticationError
            Transport failures.
        """
        while len(self._buf) < HEADER.size:
            self._pull(block=True)
        tag, length = self._parse_header(bytes(self._buf[: HEADER.size]))
        if expect is not None and tag not in expect:
            names = sorted(self.type_names.get(t, str(t)) for t in expect)
            raise ChannelProtocolError(
                f"{self}: expected one of {names}, got {self.type_names[tag]!r}"
            )
        total = HEADER.size + length
        if len(self._buf) >= total:
            payload = bytes(self._buf[HEADER.size : total])
            del self._buf[:total]
        else:
            body = bytearray(length)
            have = len(self._buf) - HEADER.size
            body[:have] = self._buf[HEADER.size :]
            self._buf.clear()
            view = memoryview(body)
            try:
                while have < length:
                    got = self._sock.recv_into(view[have:], min(length - have, _CHUNK))
                    if got == 0:
                        raise ChannelClosedError(f"{self}: the peer closed mid-frame")
                    have += got
            except TimeoutError as exc:
                raise ChannelTimeoutError(f"{self}: frame incomplete after timeout") from exc
            except ssl.SSLError as exc:
                raise PeerAuthenticationError(f"{self}: TLS error: {exc}") from exc
            payload = bytes(body)
        self.stats.record(
            self.peer_role, self.local_role, self.type_names[tag], self.phase, total, outgoing=False
        )
        return tag, payload

    def close(self) -> None:
        """Close the connection (idempotent)."""
        if self._closed:
            return
        self._closed = True
        try:
            self._sock.close()
        except OSError:  # pragma: no cover - best effort
            pass


def wait_any(
    channels: Sequence[Channel],
    *,
    timeout: float | None = None,
    idle: Callable[[], bool] | None = None,
) -> Channel:
    """Return the first channel on which a frame has started to arrive.

    Parameters
    ----------
    channels : sequence of Channel
        Candidates (checked in order when several are ready).
    timeout : float or None
        Seconds before :class:`ChannelTimeoutError` (default: the first channel's timeout).
    idle : callable or None
        Called repeatedly while nothing has arrived; it does a small piece of useful work
        and returns ``True``, or ``False`` when it has nothing left to do (then this
        function sleeps in :func:`select.select`).

    Returns
    -------
    Channel
        A channel with data pending.
    """
    if not channels:
        raise ValueError("no channel to wait on")
    limit = channels[0].timeout if timeout is None else timeout
    deadline = time.monotonic() + limit
    busy = idle is not None
    while True:
        for channel in channels:
            if channel.poll():
                return channel
        left = deadline - time.monotonic()
        if left <= 0:
            raise ChannelTimeoutError(f"no frame from {[c.peer_role for c in channels]}")
        if busy and idle is not None:
            busy = idle()
            continue
        select.select(channels, [], [], min(left, 1.0))


# --------------------------------------------------------------------------- endpoints


class Listener:
    """A TLS server socket on 127.0.0.1 that accepts authenticated peers.

    Parameters
    ----------
    creds : PartyCredentials
        This party's identity.
    stats : CommStats
        Shared by the channels it accepts.
    type_names : mapping of int to str
        Frame types of the accepted channels.
    port : int
        TCP port (0: any free port, see :attr:`address`).
    max_frame : int
        Largest payload accepted on the channels.
    timeout : float
        Receive timeout of the channels.
    """

    def __init__(
        self,
        creds: PartyCredentials,
        *,
        stats: CommStats,
        type_names: Mapping[int, str],
        port: int = 0,
        max_frame: int = DEFAULT_MAX_FRAME,
        timeout: float = _DEFAULT_TIMEOUT,
    ) -> None:
        self.creds = creds
        self.stats = stats
        self.type_names = type_names
        self.max_frame = max_frame
        self.timeout = timeout
        self._ctx = _context(creds, server=True)
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((_LOCALHOST, port))
        self._sock.listen(8)

    @property
    def address(self) -> tuple[str, int]:
        """``(host, port)`` to connect to."""
        host, port = self._sock.getsockname()[:2]
        return str(host), int(port)

    def accept(self, expected: Collection[str], *, timeout: float = 60.0) -> Channel:
        """Accept one client whose certificate names a role in ``expected``.

        Parameters
        ----------
        expected : collection of str
            Roles allowed to connect here.
        timeout : float
            Seconds to wait for the connection and the TLS handshake.

        Returns
        -------
        Channel
            The authenticated channel (the client has received the ``accept`` frame).

        Raises
        ------
        PeerAuthenticationError
            The client presented no valid certificate, or one for another role.
        ChannelTimeoutError
            Nobody connected in time.
        """
        self._sock.settimeout(timeout)
        try:
            raw, _addr = self._sock.accept()
        except TimeoutError as exc:
            raise ChannelTimeoutError(f"{self.creds.role}: no connection in {timeout} s") from exc
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        raw.settimeout(timeout)
        try:
            tls = self._ctx.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            raw.close()
            raise PeerAuthenticationError(
                f"{self.creds.role}: refused a client without a valid certificate: {exc}"
            ) from exc
        role = _peer_role(tls)
        if role not in expected or role == self.creds.role:
            tls.close()
            raise PeerAuthenticationError(f"{self.creds.role}: refused peer {role!r}")
        channel = Channel(
            tls,
            local_role=self.creds.role,
            peer_role=role,
            stats=self.stats,
            type_names=self.type_names,
            max_frame=self.max_frame,
            timeout=self.timeout,
        )
        channel.send(ACCEPT_TAG, role.encode("ascii"), phase="connect")
        log.debug("%s accepted %s", self.creds.role, role)
        return channel

    def close(self) -> None:
        """Stop listening."""
        self._sock.close()


def connect(
    creds: PartyCredentials,
    peer_role: str,
    address: tuple[str, int],
    *,
    stats: CommStats,
    type_names: Mapping[int, str],
    max_frame: int = DEFAULT_MAX_FRAME,
    timeout: float = _DEFAULT_TIMEOUT,
    connect_timeout: float = 30.0,
) -> Channel:
    """Connect to ``peer_role`` at ``address`` and authenticate both ends.

    Parameters
    ----------
    creds : PartyCredentials
        This party's identity.
    peer_role : str
        Role the listener's certificate must name.
    address : tuple of (str, int)
        Host and port.
    stats : CommStats
        Where frames are counted.
    type_names : mapping of int to str
        Frame types of the channel.
    max_frame : int
        Largest payload accepted.
    timeout : float
        Receive timeout of the channel.
    connect_timeout : float
        Seconds for the connection, the handshake and the listener's ``accept`` frame.

    Returns
    -------
    Channel
        The authenticated channel.

    Raises
    ------
    PeerAuthenticationError
        The listener's certificate is not valid for ``peer_role``, or it refused us.
    """
    ctx = _context(creds, server=False)
    raw = socket.create_connection(address, timeout=connect_timeout)
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        tls = ctx.wrap_socket(raw, server_hostname=peer_role)
    except (ssl.SSLError, OSError) as exc:
        raw.close()
        raise PeerAuthenticationError(
            f"{creds.role}: cannot authenticate {peer_role}: {exc}"
        ) from exc
    if _peer_role(tls) != peer_role:
        tls.close()
        raise PeerAuthenticationError(f"{creds.role}: the listener is not {peer_role}")
    channel = Channel(
        tls,
        local_role=creds.role,
        peer_role=peer_role,
        stats=stats,
        type_names=type_names,
        max_frame=max_frame,
        timeout=connect_timeout,
    )
    try:
        tag, payload = channel.recv(expect=(ACCEPT_TAG,))
    except (ChannelClosedError, ChannelTimeoutError) as exc:
        channel.close()
        raise PeerAuthenticationError(f"{creds.role}: {peer_role} refused the connection") from exc
    if payload != creds.role.encode("ascii"):
        channel.close()
        raise PeerAuthenticationError(f"{creds.role}: {peer_role} accepted someone else")
    channel.timeout = timeout
    tls.settimeout(timeout)
    return channel
