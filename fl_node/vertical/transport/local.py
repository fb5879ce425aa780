"""In-memory transport between threads of one process (tests).

Every message is still encoded, counted with the same frame size as on the network and
decoded by the receiver, and every received message is recorded in
:attr:`LocalTransport.received`, so tests can inspect exactly what each role saw.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Sequence

from fl_node.vertical.transport._errors import (
    ChannelProtocolError,
    ChannelTimeoutError,
    TransportUsageError,
)
from fl_node.vertical.transport.base import IdleWork, PhaseTimer, Transport
from fl_node.vertical.transport.framing import HEADER
from fl_node.vertical.transport.messages import Message, MessageCodec
from fl_node.vertical.transport.stats import CommStats


class LocalNetwork:
    """In-memory message hub for running the parties as threads of one process.

    Parameters
    ----------
    roles : sequence of str
        The parties.
    codec : MessageCodec
        The protocol's messages.
    timeout : float, default 120.0
        Seconds a receive waits before raising.
    """

    def __init__(
        self, roles: Sequence[str], *, codec: MessageCodec, timeout: float = 120.0
    ) -> None:
        self.roles = list(roles)
        self.codec = codec
        self.timeout = timeout
        self._inbox: dict[str, queue.Queue[tuple[str, int, bytes]]] = {
            r: queue.Queue() for r in roles
        }
        self._transports: dict[str, LocalTransport] = {}
        self._lock = threading.Lock()

    def transport(self, role: str, timer: PhaseTimer | None = None) -> LocalTransport:
        """Return (creating once) the transport of ``role``.

        Parameters
        ----------
        role : str
            A role of this network.
        timer : PhaseTimer or None
            Where time is accounted.
        """
        with self._lock:
            if role not in self._transports:
                self._transports[role] = LocalTransport(self, role, timer)
            return self._transports[role]

    def deliver(self, sender: str, receiver: str, tag: int, payload: bytes) -> None:
        """Queue a frame for ``receiver``.

        Parameters
        ----------
        sender, receiver : str
            Roles.
        tag : int
            Frame type.
        payload : bytes
            Frame payload.
        """
        if receiver not in self._inbox:
            raise TransportUsageError(f"unknown receiver {receiver}")
        self._inbox[receiver].put((sender, tag, payload))

    def inbox(self, role: str) -> queue.Queue[tuple[str, int, bytes]]:
        """The queue of frames addressed to ``role``.

        Parameters
        ----------
        role : str
            A role.
        """
        return self._inbox[role]

    def combined_stats(self) -> CommStats:
        """Merge every transport's statistics."""
        total = CommStats()
        for transport in self._transports.values():
            total.merge(transport.stats)
        return total


class LocalTransport(Transport):
    """One party's end of a :class:`LocalNetwork`.

    Attributes
    ----------
    received : list of (str, Message)
        Every message this party received, with its sender, in order.
    """

    def __init__(self, network: LocalNetwork, role: str, timer: PhaseTimer | None = None) -> None:
        super().__init__(role, network.codec, timer)
        self.network = network
        self._stats = CommStats()
        self._pending: list[tuple[str, int, bytes]] = []
        self.received: list[tuple[str, Message]] = []

    @property
    def stats(self) -> CommStats:
        """Communication statistics of this party."""
        return self._stats

    def _send_frame(self, peer: str, tag: int, payload: bytes) -> None:
        size = HEADER.size + len(payload)
        self._stats.record(
            self.role, peer, self.codec.type_names[tag], self.phase, size, outgoing=True
        )
        self.network.deliver(self.role, peer, tag, payload)

    def _take(self, peers: Sequence[str]) -> int | None:
        for i, (sender, _tag, _payload) in enumerate(self._pending):
            if sender in peers:
                return i
        return None

    def _wait(self, peers: Sequence[str], idle: IdleWork | None) -> str:
        inbox = self.network.inbox(self.role)
        deadline = time.monotonic() + self.network.timeout
        busy = idle is not None
        while self._take(peers) is None:
            try:
                if busy and idle is not None:
                    item = inbox.get_nowait()
                else:
                    item = inbox.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                if busy and idle is not None:
                    busy = idle()
                    continue
                raise ChannelTimeoutError(f"{self.role}: nothing from {list(peers)}") from None
            self._pending.append(item)
        index = self._take(peers)
        assert index is not None
        return self._pending[index][0]

    def _recv_frame(self, peer: str, tags: Sequence[int]) -> tuple[int, bytes]:
        index = self._take([peer])
        assert index is not None
        _sender, tag, payload = self._pending.pop(index)
        if tag not in tags:
            names = self.codec.type_names
            raise ChannelProtocolError(
                f"{self.role}: expected {[names[t] for t in tags]}, got {names[tag]}"
            )
        return tag, payload

    def _on_receive(self, peer: str, message: Message, nbytes: int) -> None:
        self._stats.record(
            peer,
            self.role,
            self.codec.type_names[int(message.TAG)],
            self.phase,
            nbytes,
            outgoing=False,
        )
        self.received.append((peer, message))
