"""Errors of the transport package (private; re-exported by the package).

:class:`TransportError` is the root and is never raised itself; every concrete error belongs
to exactly one family of :mod:`kernel.errors`.
"""

from __future__ import annotations

from kernel.errors import (
    FedmarketError,
    InvalidInputError,
    OperationTimeoutError,
    ProtocolError,
    RefusedError,
    ServiceUnavailableError,
)


class TransportError(FedmarketError):
    """Root of every error raised by :mod:`fl_node.vertical.transport` (never raised)."""


class ChannelProtocolError(TransportError, ProtocolError):
    """A frame is malformed, oversized or of an unexpected type."""


class MessageError(TransportError, ProtocolError):
    """A frame's payload does not decode to a valid message."""


class UnexpectedMessageError(TransportError, ProtocolError):
    """A peer sent a message this party did not expect at this point of the protocol."""


class ChannelClosedError(TransportError, ServiceUnavailableError):
    """The peer closed the connection, or cannot be reached."""


class ChannelTimeoutError(TransportError, OperationTimeoutError):
    """No frame arrived in time."""


class PeerSilentError(ChannelTimeoutError):
    """A peer sent nothing, not even a heartbeat, for the channel's liveness timeout.

    Parameters
    ----------
    message : str
        What happened, naming the peer.
    peer : str, default ""
        The silent peer's role.
    silent_for : float, default 0.0
        Seconds since its last byte arrived.
    """

    def __init__(self, message: str, *, peer: str = "", silent_for: float = 0.0) -> None:
        super().__init__(message)
        self.peer = peer
        self.silent_for = silent_for


class PeerAuthenticationError(TransportError, RefusedError):
    """The peer has no valid certificate, or not for the expected role (access refused)."""


class TransportUsageError(TransportError, InvalidInputError):
    """The caller misused the transport: unknown peer, no channel, invalid role names."""
