"""The one training-session loop that guest, host and arbiter share.

A session is: set-up messages (:meth:`SessionRole.open`), then for every batch of the agreed
:func:`~fl_node.vertical.protocol.config.schedule` an optional epoch start
(:meth:`SessionRole.start_epoch`, the guest's epoch plan), the role's batch
(:meth:`SessionRole.run_batch`) and, at the end of each epoch, the arbiter's verdict
(:meth:`SessionRole.end_epoch`) until it says stop. :func:`run_session` drives any role
through that loop and times it; each role only says what it sends and receives at each step.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from typing import Any

from fl_node.vertical.protocol._errors import CipherSuiteError, CipherUsageError, PeerMessageError
from fl_node.vertical.protocol.config import HeteroLRConfig, last_in_epoch, schedule
from fl_node.vertical.protocol.messages import PublicKeyMsg, SessionMsg
from fl_node.vertical.protocol.suites import CipherSuite, suite_class
from fl_node.vertical.transport import PhaseTimer, Transport


@dataclass
class SessionResult:
    """What a party reports about one training session.

    Attributes
    ----------
    role : str
        The party.
    epochs : int
        Epochs run (a truncated last epoch counts).
    batches : int
        Mini-batches run.
    rows : int
        Training rows processed (sum of batch sizes).
    seconds : float
        Wall time from the first epoch plan to the last epoch result.
    timer : dict
        Seconds per phase during that time.
    losses : list of float
        Epoch losses (guest and arbiter).
    converged : bool
        Whether the loss criterion stopped the session.
    setup_seconds : float
        Key distribution and session setup (not in ``seconds``).
    cpu_seconds : float
        CPU time of this party's process during ``seconds`` (load-independent work).
    """

    role: str
    epochs: int = 0
    batches: int = 0
    rows: int = 0
    seconds: float = 0.0
    timer: dict[str, float] = field(default_factory=dict)
    losses: list[float] = field(default_factory=list)
    converged: bool = False
    setup_seconds: float = 0.0
    cpu_seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


@dataclass(frozen=True)
class SessionPlan:
    """The batch schedule a role learned during set-up.

    Attributes
    ----------
    n_train : int
        Training rows.
    batch_size : int
        Rows per batch.
    max_epochs : int
        Epoch limit.
    max_batches : int
        Total batch limit (0: none).
    """

    n_train: int
    batch_size: int
    max_epochs: int
    max_batches: int


@dataclass(frozen=True)
class EpochEnd:
    """The arbiter's verdict on an epoch, as a role saw it.

    Attributes
    ----------
    stop : bool
        Whether the session ends here.
    converged : bool
        Whether the loss criterion was met.
    """

    stop: bool
    converged: bool


class SessionRole(ABC):
    """One role's side of a training session, driven by :func:`run_session`.

    Attributes
    ----------
    role : str
        ``"guest"``, ``"host"`` or ``"arbiter"``.
    session : str
        Session name (also the communication phase ``train:<session>``).
    losses : list of float
        Epoch losses this role learned (guest and arbiter; empty for the host).
    """

    role: str
    session: str
    losses: list[float]

    @abstractmethod
    def open(self, transport: Transport) -> SessionPlan:
        """Exchange the set-up messages (session, host info, public key); return the plan.

        Parameters
        ----------
        transport : Transport
            Channels to the two other roles.
        """

    def start_epoch(self, transport: Transport, epoch: int) -> None:  # noqa: B027 - optional
        """Exchange what an epoch starts with (the guest's row order); nothing by default.

        Parameters
        ----------
        transport : Transport
            Channels to the two other roles.
        epoch : int
            Zero-based epoch.
        """

    @abstractmethod
    def run_batch(
        self, transport: Transport, epoch: int, batch: int, start: int, stop: int
    ) -> None:
        """Run this role's part of one mini-batch.

        Parameters
        ----------
        transport : Transport
            Channels to the two other roles.
        epoch, batch : int
            Position in the schedule.
        start, stop : int
            Slice of the epoch's row order.
        """

    @abstractmethod
    def end_epoch(self, transport: Transport, epoch: int, *, last_scheduled: bool) -> EpochEnd:
        """Settle an epoch: the arbiter decides and tells, the others receive its verdict.

        Parameters
        ----------
        transport : Transport
            Channels to the two other roles.
        epoch : int
            The epoch just finished.
        last_scheduled : bool
            Whether the schedule has no batch after this epoch.
        """


def run_session(transport: Transport, party: SessionRole) -> SessionResult:
    """Run ``party``'s side of a training session to the arbiter's stop.

    Parameters
    ----------
    transport : Transport
        Channels to the two other roles.
    party : SessionRole
        A :class:`~fl_node.vertical.protocol.HeteroLRGuest`, ``HeteroLRHost`` or
        ``HeteroLRArbiter``.

    Returns
    -------
    SessionResult
        Timings (set-up excluded), counts and the epoch losses this role learned.

    Raises
    ------
    PeerMessageError
        When the schedule ends without the arbiter's stop.
    """
    result = SessionResult(role=party.role)
    t0 = time.perf_counter()
    transport.phase = f"train:{party.session}"
    plan = party.open(transport)
    start = time.perf_counter()
    cpu_start = time.process_time()
    before = transport.timer.snapshot()
    result.setup_seconds = start - t0
    steps = list(schedule(plan.n_train, plan.batch_size, plan.max_epochs, plan.max_batches))
    epoch, stop = -1, False
    for i, (ep, batch, lo, hi) in enumerate(steps):
        if ep != epoch:
            epoch = ep
            party.start_epoch(transport, ep)
        party.run_batch(transport, ep, batch, lo, hi)
        result.batches += 1
        result.rows += hi - lo
        if last_in_epoch(plan.n_train, plan.batch_size, plan.max_batches, ep, batch):
            end = party.end_epoch(transport, ep, last_scheduled=i == len(steps) - 1)
            result.epochs += 1
            result.converged = end.converged
            if end.stop:
                stop = True
                break
    if not stop:
        raise PeerMessageError(f"{party.role}: the schedule ended without the arbiter's stop")
    result.seconds = time.perf_counter() - start
    result.cpu_seconds = time.process_time() - cpu_start
    result.timer = PhaseTimer.since(before, transport.timer.snapshot())
    result.losses = list(party.losses)
    return result


def check_public_key(msg: PublicKeyMsg, cipher: str, config: HeteroLRConfig) -> CipherSuite:
    """Load the arbiter's public key and check it against the session (guest and host).

    Parameters
    ----------
    msg : PublicKeyMsg
        From the arbiter.
    cipher : str
        The session's cipher.
    config : HeteroLRConfig
        The agreed configuration (minimum key size, encryption window, randomiser setting).

    Raises
    ------
    PeerMessageError
        Another cipher, an invalid key, a wrong fingerprint or a key too small.
    """
    if msg.cipher != cipher:
        raise PeerMessageError(f"the arbiter sent a {msg.cipher} key, the session uses {cipher}")
    key_bits = config.key_bits
    try:
        suite: CipherSuite = suite_class(cipher).from_public_bytes(
            msg.key, window_bits=config.window_bits, randomizer=config.randomizer
        )
    except (CipherSuiteError, CipherUsageError) as exc:
        raise PeerMessageError(f"invalid public key: {exc}") from exc
    if suite.fingerprint != msg.fingerprint:
        raise PeerMessageError("public key fingerprint mismatch")
    if suite.key_bits != msg.key_bits or suite.key_bits < key_bits:
        raise PeerMessageError(f"public key of {suite.key_bits} bits, need {key_bits}")
    suite.prepare()
    return suite


def check_randomizer(role: str, msg: SessionMsg, config: HeteroLRConfig) -> None:
    """Refuse a session whose Paillier randomiser setting is not the agreed one (host, arbiter).

    Parameters
    ----------
    role : str
        The receiving role (named in the error).
    msg : SessionMsg
        The guest's announcement.
    config : HeteroLRConfig
        This party's configuration.

    Raises
    ------
    PeerMessageError
        When ``msg.randomizer`` differs from ``config.randomizer``.
    """
    if msg.randomizer != config.randomizer:
        raise PeerMessageError(
            f"{role}: the guest announced {msg.randomizer!r} Paillier randomisers, "
            f"this party's configuration allows only {config.randomizer!r}"
        )


def check_batch(role: str, what: str, got: tuple[int, int], want: tuple[int, int]) -> None:
    """Refuse a message for another ``(epoch, batch)`` than the one in progress.

    Parameters
    ----------
    role : str
        The receiving role (named in the error).
    what : str
        The message (named in the error).
    got, want : tuple of int
        The message's and the expected ``(epoch, batch)``.

    Raises
    ------
    PeerMessageError
        When they differ.
    """
    if got != want:
        raise PeerMessageError(f"{role}: {what} for epoch/batch {got}, expected {want}")
