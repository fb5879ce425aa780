"""How a vertical-FL party sends and receives typed messages, and where its time goes.

:class:`Transport` is the one interface the protocol code uses. Two implementations:

* :class:`NetworkTransport` over authenticated TLS :class:`~fl_node.vertical.channel.Channel`
  objects (the real, multi-process run);
* :class:`LocalNetwork` / :class:`LocalTransport`: in-memory queues between threads of one
  process (unit tests). Every message is still encoded, counted with the same frame size as
  on the network and decoded by the receiver, and every received message is recorded in
  :attr:`LocalTransport.received` so tests can inspect exactly what each role saw.

:class:`PhaseTimer` splits a party's wall time into ``encryption``, ``homomorphic``,
``decryption``, ``messaging`` (encoding, transport after the first byte arrived, decoding and
validation), ``plaintext`` and ``idle`` (waiting for a peer, minus useful work done meanwhile).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TypeVar

from fl_node.vertical._vfl_messages import TYPE_NAMES, Message, MessageError, decode_message
from fl_node.vertical.channel import (
    HEADER,
    Channel,
    ChannelProtocolError,
    ChannelTimeoutError,
    CommStats,
    wait_any,
)

log = logging.getLogger(__name__)

PHASES = ("encryption", "homomorphic", "decryption", "messaging", "plaintext", "idle")
M = TypeVar("M", bound=Message)
IdleWork = Callable[[], bool]


class ProtocolError(RuntimeError):
    """A peer broke the protocol (unexpected message, inconsistent values)."""


class PhaseTimer:
    """Accumulated wall-clock seconds per phase."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = dict.fromkeys(PHASES, 0.0)

    @contextmanager
    def __call__(self, phase: str) -> Iterator[None]:
        """Time the enclosed block under ``phase``.

        Parameters
        ----------
        phase : str
            One of :data:`PHASES`.
        """
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[phase] += time.perf_counter() - start

    def add(self, phase: str, seconds: float) -> None:
        """Add ``seconds`` to ``phase``.

        Parameters
        ----------
        phase : str
            One of :data:`PHASES`.
        seconds : float
            Duration.
        """
        self.seconds[phase] += seconds

    def snapshot(self) -> dict[str, float]:
        """Return a copy of the totals."""
        return dict(self.seconds)

    @staticmethod
    def since(before: Mapping[str, float], after: Mapping[str, float]) -> dict[str, float]:
        """Return ``after - before`` per phase.

        Parameters
        ----------
        before, after : mapping
            Two snapshots.
        """
        return {k: after[k] - before.get(k, 0.0) for k in after}


class Transport(ABC):
    """Typed, timed message passing for one party.

    Parameters
    ----------
    role : str
        This party's role.
    timer : PhaseTimer or None
        Where time is accounted (a new one by default).
    """

    def __init__(self, role: str, timer: PhaseTimer | None = None) -> None:
        self.role = role
        self.timer = timer or PhaseTimer()
        self._phase = "setup"

    @property
    def phase(self) -> str:
        """Protocol phase that messages are counted under."""
        return self._phase

    @phase.setter
    def phase(self, value: str) -> None:
        self._phase = value
        self._on_phase(value)

    def _on_phase(self, value: str) -> None:  # noqa: B027 - optional hook
        """Propagate a phase change (hook)."""

    @property
    @abstractmethod
    def stats(self) -> CommStats:
        """Communication statistics of this party."""

    @abstractmethod
    def _send_frame(self, peer: str, tag: int, payload: bytes) -> None:
        """Deliver one frame."""

    @abstractmethod
    def _wait(self, peers: Sequence[str], idle: IdleWork | None) -> str:
        """Block until a frame from one of ``peers`` has started to arrive; return the peer."""

    @abstractmethod
    def _recv_frame(self, peer: str, tags: Sequence[int]) -> tuple[int, bytes]:
        """Read the frame announced by :meth:`_wait`."""

    def _on_receive(  # noqa: B027 - optional hook
        self, peer: str, message: Message, nbytes: int
    ) -> None:
        """Observe a received message (hook)."""

    def send(self, peer: str, message: Message) -> None:
        """Encode and send ``message`` to ``peer``.

        Parameters
        ----------
        peer : str
            Receiving role.
        message : Message
            The message.
        """
        with self.timer("messaging"):
            payload = message.encode()
            self._send_frame(peer, int(message.TAG), payload)

    def recv(
        self,
        peers: str | Sequence[str],
        expect: type[M],
        *,
        idle: IdleWork | None = None,
    ) -> tuple[str, M]:
        """Receive one message of type ``expect`` from one of ``peers``.

        Parameters
        ----------
        peers : str or sequence of str
            Acceptable senders.
        expect : type
            Expected message class; anything else raises :class:`ProtocolError`.
        idle : callable or None
            Work to do while waiting (see :func:`~fl_node.vertical.channel.wait_any`).

        Returns
        -------
        tuple
            ``(sender, message)``.
        """
        candidates = [peers] if isinstance(peers, str) else list(peers)
        start = time.perf_counter()
        worked = 0.0

        def timed_idle() -> bool:
            nonlocal worked
            assert idle is not None
            t0 = time.perf_counter()
            try:
                return idle()
            finally:
                worked += time.perf_counter() - t0

        peer = self._wait(candidates, timed_idle if idle is not None else None)
        self.timer.add("idle", time.perf_counter() - start - worked)
        with self.timer("messaging"):
            try:
                tag, payload = self._recv_frame(peer, (int(expect.TAG),))
                message = decode_message(tag, payload)
            except (ChannelProtocolError, MessageError) as exc:
                raise ProtocolError(f"{self.role}: bad message from {peer}: {exc}") from exc
        if not isinstance(message, expect):  # pragma: no cover - tags are checked above
            raise ProtocolError(f"{self.role}: expected {expect.__name__} from {peer}")
        self._on_receive(peer, message, HEADER.size + len(payload))
        return peer, message

    def recv_from(self, peer: str, expect: type[M], *, idle: IdleWork | None = None) -> M:
        """Receive one message of type ``expect`` from ``peer``.

        Parameters
        ----------
        peer : str
            The sender.
        expect : type
            Expected message class.
        idle : callable or None
            Work to do while waiting.
        """
        return self.recv(peer, expect, idle=idle)[1]

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources (hook)."""


class NetworkTransport(Transport):
    """Transport over authenticated TLS channels, one per peer.

    Parameters
    ----------
    role : str
        This party's role.
    channels : mapping of str to Channel
        Peer role -> channel.
    stats : CommStats
        The statistics the channels record into.
    timer : PhaseTimer or None
        Where time is accounted.
    """

    def __init__(
        self,
        role: str,
        channels: Mapping[str, Channel],
        stats: CommStats,
        timer: PhaseTimer | None = None,
    ) -> None:
        super().__init__(role, timer)
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

    def _channel(self, peer: str) -> Channel:
        try:
            return self.channels[peer]
        except KeyError:
            raise ProtocolError(f"{self.role} has no channel to {peer}") from None

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


class LocalNetwork:
    """In-memory message hub for running the parties as threads of one process.

    Parameters
    ----------
    roles : sequence of str
        The parties.
    timeout : float
        Seconds a receive waits before raising.
    """

    def __init__(self, roles: Sequence[str], *, timeout: float = 120.0) -> None:
        self.roles = list(roles)
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
            raise ProtocolError(f"unknown receiver {receiver}")
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
        super().__init__(role, timer)
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
        self._stats.record(self.role, peer, TYPE_NAMES[tag], self.phase, size, outgoing=True)
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
            raise ChannelProtocolError(
                f"{self.role}: expected {[TYPE_NAMES[t] for t in tags]}, got {TYPE_NAMES[tag]}"
            )
        return tag, payload

    def _on_receive(self, peer: str, message: Message, nbytes: int) -> None:
        self._stats.record(
            peer, self.role, TYPE_NAMES[int(message.TAG)], self.phase, nbytes, outgoing=False
        )
        self.received.append((peer, message))
