"""The parties as OS processes: their entry point and the orchestrator's control pipes.

Each party is ``spawn``-ed with only its own TLS identity and its own CSV file
(:class:`PartySpec`); it opens its TLS listener or connections, then runs the jobs the
orchestrator sends over a control pipe. The pipe carries ``(kind, payload)`` pairs:
``listening``, ``addresses``, ``ready``, ``job``, ``result``, ``error`` and ``stop``.
"""

from __future__ import annotations

import logging
import multiprocessing
import pickle
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, TypeVar

from fl_node.vertical.data import DEFAULT_DROP_FRACTION, load_party
from fl_node.vertical.protocol import CODEC
from fl_node.vertical.runner._errors import (
    PartyCrashedError,
    PartyProtocolError,
    PartyTimeoutError,
)
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
    CommStats,
    Listener,
    NetworkTransport,
    PartyCredentials,
    TlsChannel,
    connect,
)
from kernel.errors import FedmarketError

log = logging.getLogger(__name__)

R = TypeVar("R", bound=JobResult)


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
        Seconds a channel waits for a frame.
    log_level : int
        Logging level inside the process.
    """

    role: str
    creds: PartyCredentials
    data: Path | None = None
    drop_fraction: float = DEFAULT_DROP_FRACTION
    seed: int = 0
    timeout: float = 600.0
    log_level: int = logging.WARNING

    def __repr__(self) -> str:
        return f"PartySpec(role={self.role!r}, data={self.data})"


@dataclass(frozen=True)
class PartyFailure:
    """What a party reports when a job fails: the error itself when it can travel."""

    role: str
    message: str
    traceback: str
    error: FedmarketError | None = None


def _open_channels(
    creds: PartyCredentials, conn: Connection, stats: CommStats, timeout: float
) -> dict[str, TlsChannel]:
    """Listen (arbiter, guest), learn the peers' addresses, connect: one channel per peer."""
    role = creds.role
    listener: Listener | None = None
    if role in ("arbiter", "guest"):
        listener = Listener(creds, stats=stats, type_names=CODEC.type_names, timeout=timeout)
        conn.send(("listening", listener.address))
    kind, addresses = conn.recv()
    if kind != "addresses":
        raise PartyProtocolError(f"{role}: expected the peers' addresses")
    channels: dict[str, TlsChannel] = {}

    def dial(peer: str) -> None:
        address = tuple(addresses[peer])
        names = CODEC.type_names
        channels[peer] = connect(
            creds, peer, address, stats=stats, type_names=names, timeout=timeout
        )

    try:
        if role == "arbiter":
            assert listener is not None
            while len(channels) < 2:
                ch = listener.accept({"guest", "host"} - set(channels))
                channels[ch.peer_role] = ch
        elif role == "guest":
            assert listener is not None
            dial("arbiter")
            ch = listener.accept({"host"})
            channels[ch.peer_role] = ch
        else:
            dial("arbiter")
            dial("guest")
    finally:
        if listener is not None:
            listener.close()
    return channels


def _make_party(spec: PartySpec, transport: NetworkTransport) -> Party:
    if spec.role == "arbiter":
        return ArbiterParty(transport)
    if spec.data is None:
        raise PartyProtocolError(f"{spec.role}: no data file")
    if spec.role == "guest":
        table = load_party(spec.data, "guest", drop_fraction=spec.drop_fraction, seed=spec.seed)
        return GuestParty(table, transport)
    table = load_party(spec.data, "host", drop_fraction=spec.drop_fraction, seed=spec.seed)
    return HostParty(table, transport)


def _report(conn: Connection, role: str, exc: BaseException) -> None:
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
    logging.basicConfig(
        level=spec.log_level, format=f"%(asctime)s {role} %(name)s %(levelname)s: %(message)s"
    )
    transport: NetworkTransport | None = None
    try:
        if spec.creds.role != role:
            raise PartyProtocolError(f"{role}: credentials for another role")
        stats = CommStats()
        channels = _open_channels(spec.creds, conn, stats, spec.timeout)
        transport = NetworkTransport(role, channels, stats, CODEC)
        party = _make_party(spec, transport)
        conn.send(("ready", role))
        while True:
            kind, job = conn.recv()
            if kind == "stop":
                break
            conn.send(("result", handle(party, job)))
    except BaseException as exc:  # report anything, then exit: the session is unusable
        _report(conn, role, exc)
        if not isinstance(exc, Exception):
            raise
    finally:
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
    """

    def __init__(self, specs: Mapping[str, PartySpec], *, timeout: float = 1800.0) -> None:
        self.specs = dict(specs)
        self.timeout = timeout
        self._ctx = multiprocessing.get_context("spawn")
        self._procs: dict[str, Any] = {}
        self._pipes: dict[str, Connection] = {}

    def __enter__(self) -> PartyProcesses:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _expect(self, role: str, kind: str, timeout: float) -> Any:
        pipe, proc = self._pipes[role], self._procs[role]
        deadline = time.monotonic() + timeout
        while not pipe.poll(0.2):
            if not proc.is_alive():
                raise PartyCrashedError(f"{role} process exited (code {proc.exitcode})")
            if time.monotonic() > deadline:
                raise PartyTimeoutError(f"{role}: no {kind!r} within {timeout:.0f} s")
        try:
            got, payload = pipe.recv()
        except EOFError as exc:
            raise PartyCrashedError(f"{role} process closed its pipe") from exc
        if got == "error":
            _raise_failure(payload)
        if got != kind:
            raise PartyProtocolError(f"{role}: expected {kind!r}, got {got!r}")
        return payload

    def start(self) -> None:
        """Start the processes and let them connect to each other."""
        for role in ROLES:
            parent, child = self._ctx.Pipe()
            proc = self._ctx.Process(
                target=party_main, args=(self.specs[role], child), name=f"vfl-{role}"
            )
            proc.start()
            child.close()
            self._procs[role], self._pipes[role] = proc, parent
        addresses = {r: self._expect(r, "listening", 120.0) for r in ("arbiter", "guest")}
        for role in ROLES:
            self._pipes[role].send(("addresses", addresses))
        for role in ROLES:
            self._expect(role, "ready", 120.0)

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

    def close(self) -> None:
        """Stop the processes (terminate any that does not exit)."""
        for role, pipe in self._pipes.items():
            try:
                pipe.send(("stop", None))
            except (OSError, ValueError):
                log.debug("%s pipe already closed", role)
        for role, proc in self._procs.items():
            proc.join(timeout=10)
            if proc.is_alive():
                log.warning("terminating the %s process", role)
                proc.terminate()
                proc.join(timeout=5)
        for pipe in self._pipes.values():
            pipe.close()
        self._procs.clear()
        self._pipes.clear()


def _raise_failure(failure: Any) -> None:
    """Re-raise what a party reported: its own error where it travelled, else a crash."""
    if isinstance(failure, PartyFailure) and failure.error is not None:
        failure.error.add_note(f"raised in the {failure.role} process:\n{failure.traceback}")
        raise failure.error
    if isinstance(failure, PartyFailure):
        crash = PartyCrashedError(f"{failure.role}: {failure.message}")
        crash.add_note(f"in the {failure.role} process:\n{failure.traceback}")
        raise crash
    raise PartyCrashedError(str(failure))


__all__ = ["PartyFailure", "PartyProcesses", "PartySpec", "party_main"]
