"""How the vertical-FL parties talk: TLS channels, frames, typed messages, transports.

``credentials``
    :func:`make_credentials`: a throw-away CA and one certificate per role.
``tls``
    :class:`TlsChannel` (one authenticated TLS 1.3 connection carrying counted frames),
    :class:`Listener`, :func:`connect`, :func:`wait_any`.
``framing``
    The 12-byte frame header, its limits and the reserved heartbeat frame.
``liveness``
    :class:`Heartbeat`: the thread that keeps every channel alive while a party computes;
    a silent peer raises :class:`PeerSilentError` (see ``tls``).
``messages``
    :class:`Message` (typed, strictly validated payloads) and :class:`MessageCodec`.
``stats``
    :class:`CommStats`: bytes and messages by sender, receiver, type and phase.
``base``, ``network``, ``local``
    :class:`Transport`, the one interface the protocol sends and receives through, with
    :class:`NetworkTransport` (TLS channels between processes) and :class:`LocalNetwork` /
    :class:`LocalTransport` (in-memory queues between threads, tests); :class:`PhaseTimer`.

The package knows no protocol: the messages it carries are declared by
:mod:`fl_node.vertical.protocol`, and it imports nothing from :mod:`fl_node.vertical.crypto`.
Errors derive from :class:`TransportError` (never raised itself), each in one family of
:mod:`kernel.errors`.
"""

from fl_node.vertical.transport._errors import (
    ChannelClosedError,
    ChannelProtocolError,
    ChannelTimeoutError,
    MessageError,
    PeerAuthenticationError,
    PeerSilentError,
    TransportError,
    TransportUsageError,
    UnexpectedMessageError,
)
from fl_node.vertical.transport.base import PHASES, IdleWork, PhaseTimer, Transport
from fl_node.vertical.transport.credentials import PartyCredentials, make_credentials
from fl_node.vertical.transport.framing import (
    ACCEPT_TAG,
    DEFAULT_LIVENESS_TIMEOUT,
    DEFAULT_MAX_FRAME,
    HEADER,
    HEARTBEAT_TAG,
)
from fl_node.vertical.transport.liveness import Heartbeat, heartbeat_interval
from fl_node.vertical.transport.local import LocalNetwork, LocalTransport
from fl_node.vertical.transport.messages import (
    Message,
    MessageCodec,
    f64_field,
    require,
    u32_field,
)
from fl_node.vertical.transport.network import NetworkTransport
from fl_node.vertical.transport.stats import CommStats
from fl_node.vertical.transport.tls import Listener, TlsChannel, connect, wait_any

__all__ = [
    "ACCEPT_TAG",
    "DEFAULT_LIVENESS_TIMEOUT",
    "DEFAULT_MAX_FRAME",
    "HEADER",
    "HEARTBEAT_TAG",
    "PHASES",
    "ChannelClosedError",
    "ChannelProtocolError",
    "ChannelTimeoutError",
    "CommStats",
    "Heartbeat",
    "IdleWork",
    "Listener",
    "LocalNetwork",
    "LocalTransport",
    "Message",
    "MessageCodec",
    "MessageError",
    "NetworkTransport",
    "PartyCredentials",
    "PeerAuthenticationError",
    "PeerSilentError",
    "PhaseTimer",
    "TlsChannel",
    "Transport",
    "TransportError",
    "TransportUsageError",
    "UnexpectedMessageError",
    "connect",
    "f64_field",
    "heartbeat_interval",
    "make_credentials",
    "require",
    "u32_field",
    "wait_any",
]
