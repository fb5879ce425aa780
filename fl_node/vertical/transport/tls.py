"""Mutual-TLS channels between the vertical-FL parties, carrying counted frames.

Channels are TLS 1.3 with certificates required on *both* sides (``ssl`` stdlib, identities
from :mod:`~fl_node.vertical.transport.credentials`):

* the connecting side (:func:`connect`) checks the listener's certificate against the CA and
  the expected role (``server_hostname=role``);
* the listening side (:class:`Listener`) checks the client's certificate against the CA,
  reads the role from its common name, refuses roles it does not expect, and only then sends
  an ``accept`` frame; a client without a valid certificate never gets one
  (:class:`~fl_node.vertical.transport.PeerAuthenticationError` on both sides).

Every frame (:mod:`~fl_node.vertical.transport.framing`) sent or received is counted, header
included, in a :class:`~fl_node.vertical.transport.CommStats` by sender, receiver, type and
protocol phase (TLS record overhead, about 22 bytes per 16 KiB record, is not counted).
"""

from __future__ import annotations

import logging
import select
import socket
import ssl
import time
from collections.abc import Callable, Collection, Mapping, Sequence

from fl_node.vertical.transport._errors import (
    ChannelClosedError,
    ChannelProtocolError,
    ChannelTimeoutError,
    PeerAuthenticationError,
    TransportUsageError,
)
from fl_node.vertical.transport.credentials import (
    LOCALHOST,
    PartyCredentials,
    certificate_role,
    tls_context,
)
from fl_node.vertical.transport.framing import (
    ACCEPT_TAG,
    DEFAULT_MAX_FRAME,
    HEADER,
    check_size,
    pack_header,
    parse_header,
)
from fl_node.vertical.transport.stats import CommStats

log = logging.getLogger(__name__)

_CHUNK = 1 << 20
_DEFAULT_TIMEOUT = 600.0


class TlsChannel:
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
        Seconds to wait for a frame before :class:`~fl_node.vertical.transport.ChannelTimeoutError`.
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
        return f"TlsChannel({self.local_role} <-> {self.peer_role})"

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
        check_size(len(payload), self.max_frame, self)
        header = pack_header(tag, len(payload))
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
        tag, length = parse_header(
            bytes(self._buf[: HEADER.size]), self.type_names, self.max_frame, self
        )
        if expect is not None and tag not in expect:
            names = sorted(self.type_names.get(t, str(t)) for t in expect)
            raise ChannelProtocolError(
                f"{self}: expected one of {names}, got {self.type_names[tag]!r}"
            )
        total = HEADER.size + length
        payload = self._take_payload(length)
        self.stats.record(
            self.peer_role, self.local_role, self.type_names[tag], self.phase, total, outgoing=False
        )
        return tag, payload

    def _take_payload(self, length: int) -> bytes:
        """The payload of the frame whose header is buffered, reading what has not arrived."""
        total = HEADER.size + length
        if len(self._buf) >= total:
            payload = bytes(self._buf[HEADER.size : total])
            del self._buf[:total]
            return payload
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
        except OSError as exc:
            raise ChannelClosedError(f"{self}: receive failed: {exc}") from exc
        return bytes(body)

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
    channels: Sequence[TlsChannel],
    *,
    timeout: float | None = None,
    idle: Callable[[], bool] | None = None,
) -> TlsChannel:
    """Return the first channel on which a frame has started to arrive.

    Parameters
    ----------
    channels : sequence of TlsChannel
        Candidates (checked in order when several are ready).
    timeout : float or None
        Seconds before a :class:`~fl_node.vertical.transport.ChannelTimeoutError` (default:
        the first channel's timeout).
    idle : callable or None
        Called repeatedly while nothing has arrived; it does a small piece of useful work
        and returns ``True``, or ``False`` when it has nothing left to do (then this
        function sleeps in :func:`select.select`).

    Returns
    -------
    TlsChannel
        A channel with data pending.
    """
    if not channels:
        raise TransportUsageError("no channel to wait on")
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
        self._ctx = tls_context(creds, server=True)
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((LOCALHOST, port))
        self._sock.listen(8)

    @property
    def address(self) -> tuple[str, int]:
        """``(host, port)`` to connect to."""
        host, port = self._sock.getsockname()[:2]
        return str(host), int(port)

    def accept(self, expected: Collection[str], *, timeout: float = 60.0) -> TlsChannel:
        """Accept one client whose certificate names a role in ``expected``.

        Parameters
        ----------
        expected : collection of str
            Roles allowed to connect here.
        timeout : float
            Seconds to wait for the connection and the TLS handshake.

        Returns
        -------
        TlsChannel
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
        role = certificate_role(tls)
        if role not in expected or role == self.creds.role:
            tls.close()
            raise PeerAuthenticationError(f"{self.creds.role}: refused peer {role!r}")
        channel = TlsChannel(
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
) -> TlsChannel:
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
    TlsChannel
        The authenticated channel.

    Raises
    ------
    PeerAuthenticationError
        The listener's certificate is not valid for ``peer_role``, or it refused us.
    """
    tls = _open_tls(creds, peer_role, address, connect_timeout)
    channel = TlsChannel(
        tls,
        local_role=creds.role,
        peer_role=peer_role,
        stats=stats,
        type_names=type_names,
        max_frame=max_frame,
        timeout=connect_timeout,
    )
    _await_accept(channel, creds)
    channel.timeout = timeout
    tls.settimeout(timeout)
    return channel


def _open_tls(
    creds: PartyCredentials, role: str, address: tuple[str, int], connect_timeout: float
) -> ssl.SSLSocket:
    """Connect and complete the handshake; check that the listener's certificate names ``role``."""
    ctx = tls_context(creds, server=False)
    try:
        raw = socket.create_connection(address, timeout=connect_timeout)
    except OSError as exc:
        raise ChannelClosedError(f"{creds.role}: cannot reach {role} at {address}: {exc}") from exc
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        tls = ctx.wrap_socket(raw, server_hostname=role)
    except (ssl.SSLError, OSError) as exc:
        raw.close()
        raise PeerAuthenticationError(f"{creds.role}: cannot authenticate {role}: {exc}") from exc
    if certificate_role(tls) != role:
        tls.close()
        raise PeerAuthenticationError(f"{creds.role}: the listener is not {role}")
    return tls


def _await_accept(channel: TlsChannel, creds: PartyCredentials) -> None:
    """Wait for the listener's ``accept`` frame naming this party (else close and refuse)."""
    try:
        _tag, payload = channel.recv(expect=(ACCEPT_TAG,))
    except (ChannelClosedError, ChannelTimeoutError) as exc:
        channel.close()
        raise PeerAuthenticationError(
            f"{creds.role}: {channel.peer_role} refused the connection"
        ) from exc
    if payload != creds.role.encode("ascii"):
        channel.close()
        raise PeerAuthenticationError(f"{creds.role}: {channel.peer_role} accepted someone else")
