"""The transport of the real run: one authenticated TLS channel per peer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from fl_node.vertical.transport._errors import TransportUsageError
from fl_node.vertical.transport.base import IdleWork, PhaseTimer, Transport
from fl_node.vertical.transport.messages import Message, MessageCodec
from fl_node.vertical.transport.stats import CommStats
from fl_node.vertical.transport.tls import TlsChannel, wait_any


class NetworkTransport(Transport):
    """Transport over authenticated TLS channels, one per peer.

    Parameters
    ----------
    role : str
        This party's role.
    channels : mapping of str to TlsChannel
        Peer role -> channel.
    stats : CommStats
        The statistics the channels record into.
    codec : MessageCodec
        The protocol's messages.
    timer : PhaseTimer or None, default None
        Where time is accounted.
    """

    def __init__(
        self,
        role: str,
        channels: Mapping[str, TlsChannel],
        stats: CommStats,
        codec: MessageCodec,
        timer: PhaseTimer | None = None,
    ) -> None:
        super().__init__(role, codec, timer)
        self.channels = dict(channels)
        self._stats = stats
        self.received_types: list[tuple[str, str]] = []

    @property
    def stats(self) -> CommStats:
        """The channels' statistics."""
        return self._stats

    def _on_phase(self, value: str) -> None:
        for channel in self.channels.values():
            channel.phase = value

    def _channel(self, peer: str) -> TlsChannel:
        try:
            return self.channels[peer]
        except KeyError:
            raise TransportUsageError(f"{self.role} has no channel to {peer}") from None

    def _send_frame(self, peer: str, tag: int, payload: bytes) -> None:
        self._channel(peer).send(tag, payload, phase=self.phase)

    def _wait(self, peers: Sequence[str], idle: IdleWork | None) -> str:
        return wait_any([self._channel(p) for p in peers], idle=idle).peer_role

    def _recv_frame(self, peer: str, tags: Sequence[int]) -> tuple[int, bytes]:
        return self._channel(peer).recv(expect=tags)

    def _on_receive(self, peer: str, message: Message, nbytes: int) -> None:
        self.received_types.append((peer, type(message).__name__))

    def close(self) -> None:
        """Close every channel."""
        for channel in self.channels.values():
            channel.close()
