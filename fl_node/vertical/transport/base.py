"""The one interface the protocol code sends and receives through, and where a party's time goes.

:class:`Transport` carries typed :class:`~fl_node.vertical.transport.Message` objects between
roles; its implementations are :class:`~fl_node.vertical.transport.NetworkTransport` (TLS
channels between processes) and :class:`~fl_node.vertical.transport.LocalTransport`
(in-memory queues between threads, for tests). :class:`PhaseTimer` splits a party's wall time
into ``encryption``, ``homomorphic``, ``decryption``, ``messaging`` (encoding, transport after
the first byte arrived, decoding and validation), ``plaintext`` and ``idle`` (waiting for a
peer, minus useful work done meanwhile).
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TypeVar

from fl_node.vertical.transport._errors import (
    ChannelProtocolError,
    MessageError,
    UnexpectedMessageError,
)
from fl_node.vertical.transport.framing import HEADER
from fl_node.vertical.transport.messages import Message, MessageCodec
from fl_node.vertical.transport.stats import CommStats

PHASES = ("encryption", "homomorphic", "decryption", "messaging", "plaintext", "idle")
"""The phases a :class:`PhaseTimer` accounts, in report order."""
M = TypeVar("M", bound=Message)
IdleWork = Callable[[], bool]
"""Useful work done while waiting: one small step, ``False`` when there is nothing left."""


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
    codec : MessageCodec
        The protocol's messages, to decode what arrives.
    timer : PhaseTimer or None, default None
        Where time is accounted (a new one by default).
    """

    def __init__(self, role: str, codec: MessageCodec, timer: PhaseTimer | None = None) -> None:
        self.role = role
        self.codec = codec
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
            Expected message class; anything else raises :class:`UnexpectedMessageError`.
        idle : callable or None
            Work to do while waiting (see :func:`~fl_node.vertical.transport.wait_any`).

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
                message = self.codec.decode(tag, payload)
            except (ChannelProtocolError, MessageError) as exc:
                raise UnexpectedMessageError(
                    f"{self.role}: bad message from {peer}: {exc}"
                ) from exc
        if not isinstance(message, expect):  # pragma: no cover - tags are checked above
            raise UnexpectedMessageError(f"{self.role}: expected {expect.__name__} from {peer}")
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
