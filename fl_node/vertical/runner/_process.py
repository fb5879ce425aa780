"""The parties as OS processes: their entry point and the orchestrator's control pipes.

Each party is ``spawn``-ed with only its own TLS identity and its own CSV file
(:class:`PartySpec`); it opens its TLS listener or connections, then runs the jobs the
orchestrator sends over a control pipe. The pipe carries ``(kind, payload)`` pairs:
``listening``, ``addresses``, ``ready``, ``job``, ``result``, ``error``, ``stop`` and
``heartbeat``.

Liveness: each party runs a heartbeat thread from its first instant (every quarter of
``PartySpec.timeout``) on its control pipe and, once connected, on each of its TLS channels.
While a job runs, the orchestrator reads every pipe and fails the run, naming the party, as
soon as a party process has died (:class:`PartyCrashedError`) or has sent nothing for the
timeout (:class:`PartyStalledError`), or a party reports that a peer went silent on its
channel. :meth:`PartyProcesses.close` then stops them all, escalating from SIGTERM to
SIGKILL, and dies with them: a party is SIGKILLed when the orchestrator dies.
"""

from __future__ import annotations

import logging
import multiprocessing
import pickle
import time
import traceback
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any, NoReturn, Protocol, TypeVar

from fl_node.vertical.data import DEFAULT_DROP_FRACTION, load_party
from fl_node.vertical.runner._errors import (
    PartyCrashedError,
    PartyProtocolError,
    PartyStalledError,
    PartyTimeoutError,
)
from fl_node.vertical.runner._lifecycle import (
    ControlPipe,
    die_with_parent,
    process_state,
    stop_processes,
)
from fl_node.vertical.runner._tables_parties import TableParty, make_table_party
from fl_node.vertical.runner._wire import RUN_CODEC
from fl_node.vertical.runner.inputs import TableSource
from fl_node.vertical.runner.jobs import Job, JobResult
from fl_node.vertical.runner.parties import (
    ROLES,
    ArbiterParty,
    GuestParty,
    HostParty,
    Party,
    handle,
)
from fl_node.vertical.transport import (
    DEFAULT_LIVENESS_TIMEOUT,
    ChannelClosedError,
    CommStats,
    Heartbeat,
    Listener,
    NetworkTransport,
    PartyCredentials,
    PeerSilentError,
    TlsChannel,
    connect,
    heartbeat_interval,
)
from kernel.errors import FedmarketError

log = logging.getLogger(__name__)

R = TypeVar("R", bound=JobResult)

_POLL = 0.2
"""Seconds between two looks at the parties while the orchestrator waits."""
_BLAME_WAIT = 2.0
"""Seconds to wait for a peer's death after a party reports that its channel closed."""


class _Pipe(Protocol):
    """What a party talks to the orchestrator through (a :class:`ControlPipe`)."""

    def send(self, message: Any) -> None: ...  # noqa: D102 - a protocol

    def recv(self) -> Any: ...  # noqa: D102 - a protocol


@dataclass(frozen=True, repr=False)
class PartySpec:
    """Everything a party process gets: its identity, its own file, its settings.

    Attributes
    ----------
    role : str
        ``"guest"``, ``"host"`` or ``"arbiter"``.
    creds : PartyCredentials
        This party's TLS identity (and no one else's).
    data : Path or None
        The party's own CSV (guest and host).
    drop_fraction, seed : float, int
        The party's id removal.
    timeout : float
        Liveness timeout: seconds of silence (not even a heartbeat) after which a peer, or
        this party seen from the orchestrator, counts as stopped.
    log_level : int
        Logging level inside the process.
    table : TableSource or None
        The party's own table when the user brings it (instead of ``data``).
    peers : tuple of str
        The roles this party has a channel to (default: the two others of guest, host and
        arbiter). Hosts have no channel to each other.
    """

    role: str
    creds: PartyCredentials
    data: Path | None = None
    drop_fraction: float = DEFAULT_DROP_FRACTION
    seed: int = 0
    timeout: float = DEFAULT_LIVENESS_TIMEOUT
    log_level: int = logging.WARNING
    table: TableSource | None = None
    peers: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return f"PartySpec(role={self.role!r}, data={self.data or self.table})"

    @property
    def peer_roles(self) -> tuple[str, ...]:
        """:attr:`peers`, or the two other roles of the three-party run."""
        return self.peers or tuple(r for r in ROLES if r != self.role)


LISTENERS = ("arbiter", "guest")
"""The roles that accept connections: the arbiter from everyone, the guest from the hosts."""


@dataclass(frozen=True)
class PartyFailure:
    """What a party reports when a job fails: the error itself when it can travel."""

    role: str
    message: str
    traceback: str
    error: FedmarketError | None = None


def _open_channels(
    spec: PartySpec, conn: _Pipe, stats: CommStats, timeout: float
) -> dict[str, TlsChannel]:
    """Listen (arbiter, guest), learn the peers' addresses, connect: one channel per peer.

    A party dials the listeners among its peers that rank above it (the arbiter, then the
    guest) and accepts the others.
    """
    creds, role, peers = spec.creds, spec.role, spec.peer_roles
    names = RUN_CODEC.type_names
    listener: Listener | None = None
    if role in LISTENERS:
        listener = Listener(creds, stats=stats, type_names=names, timeout=timeout)
        conn.send(("listening", listener.address))
    kind, addresses = conn.recv()
    if kind != "addresses":
        raise PartyProtocolError(f"{role}: expected the peers' addresses")
    rank = LISTENERS.index(role) if role in LISTENERS else len(LISTENERS)
    dialled = [p for p in LISTENERS[:rank] if p in peers]
    channels: dict[str, TlsChannel] = {}
    try:
        for peer in dialled:
            address = tuple(addresses[peer])
            channels[peer] = connect(
                creds, peer, address, stats=stats, type_names=names, timeout=timeout
            )
        awaited = set(peers) - set(dialled)
        while awaited - set(channels):
            assert listener is not None
            ch = listener.accept(awaited - set(channels))
            channels[ch.peer_role] = ch
    finally:
        if listener is not None:
            listener.close()
    return channels


def _make_party(spec: PartySpec, transport: NetworkTransport) -> Party | TableParty:
    if spec.table is not None:
        return make_table_party(spec.table, transport)
    if spec.role == "arbiter":
        return ArbiterParty(transport)
    if spec.data is None:
        raise PartyProtocolError(f"{spec.role}: no data file")
    if spec.role == "guest":
        table = load_party(spec.data, "guest", drop_fraction=spec.drop_fraction, seed=spec.seed)
        return GuestParty(table, transport)
    table = load_party(spec.data, "host", drop_fraction=spec.drop_fraction, seed=spec.seed)
    return HostParty(table, transport)


def _report(conn: _Pipe, role: str, exc: BaseException) -> None:
    """Send the orchestrator the failure, with the error itself where it pickles."""
    error = exc if isinstance(exc, FedmarketError) else None
    if error is not None:
        try:
            pickle.loads(pickle.dumps(error))
        except Exception:  # noqa: BLE001 - an error that cannot travel goes as text
            error = None
    failure = PartyFailure(role, repr(exc), traceback.format_exc(), error)
    try:
        conn.send(("error", failure))
    except (OSError, ValueError):  # pragma: no cover - parent gone
        log.debug("%s: could not report %r", role, exc)


def party_main(spec: PartySpec, conn: Connection) -> None:
    """Entry point of a party's process: connect, then run jobs until told to stop.

    Parameters
    ----------
    spec : PartySpec
        This party's identity, data and settings.
    conn : Connection
        Control pipe to the orchestrator.
    """
    role = spec.role
    die_with_parent()
    logging.basicConfig(
        level=spec.log_level, format=f"%(asctime)s {role} %(name)s %(levelname)s: %(message)s"
    )
    pipe = ControlPipe(conn)
    heartbeat = Heartbeat(heartbeat_interval(spec.timeout), name=f"{role}-heartbeat").start()
    heartbeat.add(pipe.beat)
    transport: NetworkTransport | None = None
    try:
        if spec.creds.role != role:
            raise PartyProtocolError(f"{role}: credentials for another role")
        stats = CommStats()
        channels = _open_channels(spec, pipe, stats, spec.timeout)
        for channel in channels.values():
            heartbeat.add(channel.heartbeat)
        transport = NetworkTransport(role, channels, stats, RUN_CODEC)
        party = _make_party(spec, transport)
        pipe.send(("ready", role))
        while True:
            kind, job = pipe.recv()
            if kind == "stop":
                break
            pipe.send(("result", handle(party, job)))
    except BaseException as exc:  # report anything, then exit: the session is unusable
        _report(pipe, role, exc)
        if not isinstance(exc, Exception):
            raise
    finally:
        heartbeat.stop()
        if transport is not None:
            transport.close()
        conn.close()


class PartyProcesses:
    """The guest, host and arbiter processes and the orchestrator's control pipes.

    Parameters
    ----------
    specs : mapping of str to PartySpec
        ``role -> spec`` for the three roles.
    timeout : float, default 1800.0
        Seconds any job may take.
    party_timeout : float or None, default None
        Seconds a party may stay silent on its pipe while a job runs (default: the smallest
        ``PartySpec.timeout``, the channels' liveness timeout).
    grace : float, default 5.0
        Seconds between SIGTERM and SIGKILL when the parties are stopped.
    """

    def __init__(
        self,
        specs: Mapping[str, PartySpec],
        *,
        timeout: float = 1800.0,
        party_timeout: float | None = None,
        grace: float = 5.0,
    ) -> None:
        self.specs = dict(specs)
        self.timeout = timeout
        self.party_timeout = party_timeout or min(s.timeout for s in self.specs.values())
        self.grace = grace
        self._ctx = multiprocessing.get_context("spawn")
        self._procs: dict[str, BaseProcess] = {}
        self._pipes: dict[str, Connection] = {}
        self._inbox: dict[str, deque[tuple[str, Any]]] = {}
        self._seen: dict[str, float] = {}

    def __enter__(self) -> PartyProcesses:
        try:
            self.start()
        except BaseException:
            self.close(abort=True)
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        self.close(abort=exc_type is not None)

    @property
    def pids(self) -> dict[str, int]:
        """``role -> pid`` of the started processes."""
        return {role: proc.pid for role, proc in self._procs.items() if proc.pid is not None}

    def start(self) -> None:
        """Start the processes and let them connect to each other."""
        roles = list(self.specs)
        for role in roles:
            parent, child = self._ctx.Pipe()
            proc = self._ctx.Process(
                target=party_main, args=(self.specs[role], child), name=f"vfl-{role}"
            )
            proc.start()
            child.close()
            self._procs[role], self._pipes[role] = proc, parent
            self._inbox[role], self._seen[role] = deque(), time.monotonic()
        addresses = {
            r: self._expect(r, "listening", 120.0, watch=False) for r in LISTENERS if r in roles
        }
        for role in roles:
            self._pipes[role].send(("addresses", addresses))
        for role in roles:
            self._expect(role, "ready", 120.0, watch=False)

    def run(self, jobs: Mapping[str, Job], result: type[R]) -> dict[str, R]:
        """Send each party its job and wait for every result.

        Parameters
        ----------
        jobs : mapping of str to Job
            ``role -> job``; the parties run them concurrently.
        result : type
            The record every one of them answers with.

        Returns
        -------
        dict
            ``role -> result``.

        Raises
        ------
        PartyCrashedError
            A party process died (named), or failed with an unexpected error.
        PartyStalledError
            A party stopped answering for ``party_timeout`` seconds (named).
        PartyProtocolError
            When a party answers with another kind of record.
        """
        for role, job in jobs.items():
            self._pipes[role].send(("job", job))
        out: dict[str, R] = {}
        for role in jobs:
            answer = self._expect(role, "result", self.timeout)
            if not isinstance(answer, result):
                raise PartyProtocolError(f"{role}: answered {type(answer).__name__}")
            out[role] = answer
        return out

    # ------------------------------------------------------------ reading the pipes

    def _expect(self, role: str, kind: str, timeout: float, *, watch: bool = True) -> Any:
        """The next message of ``role``, which must be ``kind``; every party is watched.

        ``watch`` adds the liveness check (off while the processes start: importing takes
        seconds before the first heartbeat).
        """
        deadline = time.monotonic() + timeout
        while not self._inbox[role]:
            self._pump(watch)
            if not self._inbox[role] and time.monotonic() > deadline:
                raise PartyTimeoutError(f"{role}: no {kind!r} within {timeout:.0f} s")
        got, payload = self._inbox[role].popleft()
        if got != kind:
            raise PartyProtocolError(f"{role}: expected {kind!r}, got {got!r}")
        return payload

    def _pump(self, watch: bool) -> None:
        """Read what arrived on every pipe; raise at once for a failed, dead or silent party."""
        ready = wait(list(self._pipes.values()), timeout=_POLL)
        for role, pipe in self._pipes.items():
            if pipe not in ready:
                continue
            try:
                kind, payload = pipe.recv()
            except (EOFError, OSError) as exc:
                raise self._exited(role) from exc
            self._seen[role] = time.monotonic()
            if kind == "error":
                self._raise_reported(role, payload)
            if kind != "heartbeat":
                self._inbox[role].append((kind, payload))
        for role, proc in self._procs.items():
            if not proc.is_alive():
                raise self._exited(role)
        if watch:
            self._check_silence()

    def _check_silence(self) -> None:
        now = time.monotonic()
        for role, seen in self._seen.items():
            silent = now - seen
            if silent >= self.party_timeout:
                raise PartyStalledError(
                    f"{role} stopped answering: no heartbeat on its control pipe for "
                    f"{silent:.1f} s (timeout {self.party_timeout:g} s){self._state(role)}",
                    party=role,
                )

    def _state(self, role: str) -> str:
        pid = self._procs[role].pid
        state = process_state(pid) if pid is not None else None
        return f"; its process is {state}" if state else ""

    def _exited(self, role: str) -> PartyCrashedError:
        proc = self._procs[role]
        proc.join(1.0)
        code = proc.exitcode
        how = "is still running" if code is None else f"exited (code {code})"
        return PartyCrashedError(f"{role} process {how}, its control pipe closed", party=role)

    def _raise_reported(self, role: str, failure: Any) -> NoReturn:
        """Raise what ``role`` reported, blaming the peer where its channel shows the fault."""
        error = failure.error if isinstance(failure, PartyFailure) else None
        if isinstance(error, PeerSilentError) and error.peer in self._procs:
            stalled = PartyStalledError(f"{error}{self._state(error.peer)}", party=error.peer)
            raise stalled from error
        if isinstance(error, ChannelClosedError):
            deadline = time.monotonic() + _BLAME_WAIT
            while time.monotonic() < deadline:
                for other, proc in self._procs.items():
                    if other != role and not proc.is_alive():
                        raise self._exited(other) from error
                time.sleep(0.05)
        _raise_failure(failure)

    # ------------------------------------------------------------ stopping

    def close(self, *, abort: bool = False) -> None:
        """Stop the processes: ask them; SIGTERM any still running, then SIGKILL.

        Parameters
        ----------
        abort : bool, default False
            The run failed (or was interrupted): do not wait for a party to finish its job,
            terminate at once.
        """
        for role, pipe in self._pipes.items():
            try:
                pipe.send(("stop", None))
            except (OSError, ValueError):
                log.debug("%s pipe already closed", role)
        stop_processes(self._procs, wait=0.0 if abort else 10.0, grace=self.grace)
        for pipe in self._pipes.values():
            pipe.close()
        self._procs.clear()
        self._pipes.clear()


def _raise_failure(failure: Any) -> NoReturn:
    """Re-raise what a party reported: its own error where it travelled, else a crash."""
    if isinstance(failure, PartyFailure) and failure.error is not None:
        failure.error.add_note(f"raised in the {failure.role} process:\n{failure.traceback}")
        raise failure.error
    if isinstance(failure, PartyFailure):
        crash = PartyCrashedError(f"{failure.role}: {failure.message}", party=failure.role)
        crash.add_note(f"in the {failure.role} process:\n{failure.traceback}")
        raise crash
    raise PartyCrashedError(str(failure))


__all__ = ["PartyFailure", "PartyProcesses", "PartySpec", "party_main"]
