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

Liveness: a :class:`~fl_node.vertical.transport.Heartbeat` thread in each party sends a
heartbeat frame on each of its channels every quarter of the timeout, busy or not. A channel
waits for a frame as long as bytes keep arriving from the peer; once nothing (not even a
heartbeat) has arrived for ``timeout`` seconds it raises
:class:`~fl_node.vertical.transport.PeerSilentError` naming the peer. Heartbeats are not
counted in the statistics (:attr:`TlsChannel.heartbeats_sent` and
:attr:`TlsChannel.heartbeats_received` count them).
"""

from __future__ import annotations

import logging
import math
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence

from fl_node.vertical.transport._errors import (
    ChannelClosedError,
    ChannelProtocolError,
    ChannelTimeoutError,
    PeerAuthenticationError,
    PeerSilentError,
    TransportError,
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
    DEFAULT_LIVENESS_TIMEOUT,
    DEFAULT_MAX_FRAME,
    HEADER,
    HEARTBEAT_FRAME,
    HEARTBEAT_TAG,
    check_size,
    pack_header,
    parse_header,
)
from fl_node.vertical.transport.stats import CommStats

log = logging.getLogger(__name__)

_CHUNK = 1 << 20
"""Largest piece written or read in one TLS call (the lock is released in between)."""
_PULL = 1 << 16
"""Bytes asked for when reading headers (a payload is read straight into its buffer)."""
_SLICE = 1.0
"""Longest single sleep in :func:`select.select` (a closed channel is noticed this fast)."""
_SEND_SLICE = 0.05
"""Longest blocking wait of a write before the sender reads what its peer sent."""


class TlsChannel:
    """One authenticated TLS connection to a peer, carrying typed frames and heartbeats.

    The socket is non-blocking; every call into the TLS object holds one lock, so the
    :class:`~fl_node.vertical.transport.Heartbeat` thread can send a heartbeat frame while the
    owner waits, computes or reads. A frame is written whole under a second lock (a heartbeat
    never lands inside a frame). Received heartbeats are consumed here, never returned.

    Parameters
    ----------
    sock : ssl.SSLSocket
        A connected socket whose handshake is complete.
    local_role, peer_role : str
        The two ends (the peer's role was verified from its certificate).
    stats : CommStats
        Where frames are counted (heartbeats are not: see :attr:`heartbeats_sent`).
    type_names : mapping of int to str
        Accepted frame types and their names.
    max_frame : int
        Largest accepted payload in bytes.
    timeout : float
        Liveness timeout: seconds without a byte from the peer (frames and heartbeats alike)
        before :class:`~fl_node.vertical.transport.PeerSilentError`. A peer that computes for
        longer but sends heartbeats is waited for.
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
        timeout: float = DEFAULT_LIVENESS_TIMEOUT,
    ) -> None:
        self._sock = sock
        self.local_role = local_role
        self.peer_role = peer_role
        self.stats = stats
        if HEARTBEAT_TAG in type_names:
            raise TransportUsageError(f"frame type {HEARTBEAT_TAG} is reserved for heartbeats")
        self.type_names = dict(type_names)
        self.type_names.setdefault(ACCEPT_TAG, "accept")
        self.max_frame = int(max_frame)
        self.timeout = float(timeout)
        self.phase = "connect"
        self.last_heard = time.monotonic()
        """Monotonic time of the last byte received from the peer."""
        self.heartbeats_sent = 0
        self.heartbeats_received = 0
        self._buf = bytearray()
        self._closed = False
        self._broken: str | None = None
        self._tls_lock = threading.Lock()
        self._write_lock = threading.Lock()
        sock.settimeout(0.0)

    def __repr__(self) -> str:
        return f"TlsChannel({self.local_role} <-> {self.peer_role})"

    def fileno(self) -> int:
        """File descriptor of the socket (for :func:`select.select`)."""
        return self._sock.fileno()

    # ---------------------------------------------------------------- liveness

    def silent_for(self) -> float:
        """Seconds since the last byte arrived from the peer."""
        return time.monotonic() - self.last_heard

    def check_alive(self) -> float:
        """Return the seconds left before the peer counts as silent; raise once it does.

        Raises
        ------
        PeerSilentError
            No byte from the peer for :attr:`timeout` seconds.
        """
        silent = self.silent_for()
        if silent >= self.timeout:
            raise PeerSilentError(
                f"{self.peer_role} stopped answering: no frame for {silent:.1f} s "
                f"(timeout {self.timeout:g} s, seen by {self.local_role})",
                peer=self.peer_role,
                silent_for=silent,
            )
        return self.timeout - silent

    def heartbeat(self) -> bool:
        """Send one heartbeat frame; return whether it was sent (thread-safe, never blocks long).

        Nothing is sent while a frame is being written (its bytes show the peer we are alive),
        while the socket's send buffer is full (the peer is not reading), or once the channel is
        closed.
        """
        if self._closed or self._broken or not self._write_lock.acquire(blocking=False):
            return False
        try:
            _, writable, _ = select.select([], [self._sock], [], 0)
            if not writable:
                return False
            self._write(HEARTBEAT_FRAME, drain=False)
            self.heartbeats_sent += 1
            return True
        except (TransportError, OSError, ValueError) as exc:
            log.debug("%s: heartbeat not sent: %s", self, exc)
            return False
        finally:
            self._write_lock.release()

    # ---------------------------------------------------------------- sending

    def send(self, tag: int, payload: bytes, *, phase: str | None = None) -> int:
        """Send one frame; return its size in bytes (header included).

        While the peer does not read, this waits, reading what the peer sends meanwhile (its
        heartbeats), up to the liveness timeout.

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
        with self._write_lock:
            if len(payload) < 65536:
                self._write(header + payload, drain=True)
            else:
                self._write(header, drain=True)
                self._write(payload, drain=True)
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

    def _write(self, data: bytes, *, drain: bool) -> None:
        """Write ``data`` whole (the caller holds the write lock).

        Each piece is written in blocking mode for at most :data:`_SEND_SLICE` seconds (the
        write lock keeps the heartbeat thread out meanwhile); a piece that did not go out is
        retried with the same bytes, as OpenSSL requires, after reading, with ``drain``, what
        the peer sent meanwhile (its heartbeats: a peer that does not read is alive as long
        as they come).
        """
        self._usable()
        view = memoryview(data)
        sent = 0
        while sent < len(view):
            try:
                with self._tls_lock:
                    self._sock.settimeout(_SEND_SLICE)
                    try:
                        sent += self._sock.send(view[sent : sent + _CHUNK])
                    finally:
                        self._sock.settimeout(0.0)
                continue
            except (TimeoutError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
                pass
            except (OSError, ssl.SSLError) as exc:
                self._broken = f"send failed: {exc}"
                raise ChannelClosedError(f"{self}: send failed: {exc}") from exc
            if drain:
                self._drain()
            self._alive_or_broken()

    def _alive_or_broken(self) -> None:
        """:meth:`check_alive`, marking the channel unusable when it raises mid-frame."""
        try:
            self.check_alive()
        except TransportError as exc:
            self._broken = str(exc)  # a frame may be half written: the channel is unusable
            raise

    def _drain(self) -> None:
        """Read what the peer has sent so far, without blocking."""
        while self._read_available():
            pass

    def _await(self) -> None:
        """Wait until the socket is readable, at most until the peer counts as silent."""
        left = self.check_alive()
        select.select([self._sock], [], [], min(left, _SLICE))

    def _usable(self) -> None:
        if self._closed:
            raise ChannelClosedError(f"{self} is closed")
        if self._broken is not None:
            raise ChannelClosedError(f"{self} is unusable: {self._broken}")

    # ---------------------------------------------------------------- receiving

    def _read_available(self) -> bool:
        """Append what has arrived to the buffer without blocking; return whether anything did."""
        self._usable()
        try:
            with self._tls_lock:
                data = self._sock.recv(_PULL)
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
            return False
        except ssl.SSLError as exc:
            raise PeerAuthenticationError(f"{self}: TLS error: {exc}") from exc
        except OSError as exc:
            raise ChannelClosedError(f"{self}: receive failed: {exc}") from exc
        if not data:
            raise ChannelClosedError(f"{self}: the peer closed the connection")
        self._buf += data
        self.last_heard = time.monotonic()
        return True

    def _skip_heartbeats(self) -> None:
        """Drop the heartbeat frames at the front of the buffer."""
        size = len(HEARTBEAT_FRAME)
        while self._buf[:size] == HEARTBEAT_FRAME:
            del self._buf[:size]
            self.heartbeats_received += 1

    def poll(self) -> bool:
        """Return whether the header of the next frame has arrived (never blocks).

        Heartbeats that arrived are consumed (and keep the peer alive).
        """
        while True:
            self._skip_heartbeats()
            if len(self._buf) >= HEADER.size:
                return True
            if not self._read_available():
                return False

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the header of the next frame has arrived or ``timeout`` seconds pass.

        Parameters
        ----------
        timeout : float or None
            Seconds; ``None`` waits as long as the peer is alive.

        Raises
        ------
        PeerSilentError
            The peer went silent for the liveness timeout first.
        """
        deadline = math.inf if timeout is None else time.monotonic() + timeout
        while not self.poll():
            if time.monotonic() >= deadline:
                return False
            self._await()
        return True

    def recv(self, expect: Collection[int] | None = None) -> tuple[int, bytes]:
        """Receive one frame, waiting as long as the peer is alive.

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
        PeerSilentError
            Nothing (not even a heartbeat) arrived from the peer for the liveness timeout.
        ChannelClosedError, PeerAuthenticationError
            Transport failures.
        """
        self.wait()
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
        while have < length:
            got = self._read_into(view[have : have + _CHUNK])
            if got:
                have += got
            else:
                self._await()
        return bytes(body)

    def _read_into(self, view: memoryview) -> int:
        """Read into ``view`` without blocking; return the bytes read (0: none yet)."""
        self._usable()
        try:
            with self._tls_lock:
                got = self._sock.recv_into(view, len(view))
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
            return 0
        except ssl.SSLError as exc:
            raise PeerAuthenticationError(f"{self}: TLS error: {exc}") from exc
        except OSError as exc:
            raise ChannelClosedError(f"{self}: receive failed: {exc}") from exc
        if got == 0:
            raise ChannelClosedError(f"{self}: the peer closed mid-frame")
        self.last_heard = time.monotonic()
        return int(got)

    def close(self) -> None:
        """Close the connection (idempotent; waits for a heartbeat being written)."""
        if self._closed:
            return
        self._closed = True
        with self._tls_lock:
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

    It waits as long as every peer is alive (sends frames or heartbeats); a peer silent for
    its channel's liveness timeout ends the wait with
    :class:`~fl_node.vertical.transport.PeerSilentError` naming it.

    Parameters
    ----------
    channels : sequence of TlsChannel
        Candidates (checked in order when several are ready).
    timeout : float or None
        Overall limit in seconds, alive peers or not, before a
        :class:`~fl_node.vertical.transport.ChannelTimeoutError` (default: none).
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
    deadline = math.inf if timeout is None else time.monotonic() + timeout
    busy = idle is not None
    while True:
        for channel in channels:
            if channel.poll():
                return channel
        left = min(channel.check_alive() for channel in channels)
        overall = deadline - time.monotonic()
        if overall <= 0:
            raise ChannelTimeoutError(f"no frame from {[c.peer_role for c in channels]}")
        if busy and idle is not None:
            busy = idle()
            continue
        select.select(channels, [], [], min(left, overall, _SLICE))


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
        Liveness timeout of the channels (seconds of silence from a peer).
    """

    def __init__(
        self,
        creds: PartyCredentials,
        *,
        stats: CommStats,
        type_names: Mapping[int, str],
        port: int = 0,
        max_frame: int = DEFAULT_MAX_FRAME,
        timeout: float = DEFAULT_LIVENESS_TIMEOUT,
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
    timeout: float = DEFAULT_LIVENESS_TIMEOUT,
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
        Liveness timeout of the channel (seconds of silence from the peer).
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
