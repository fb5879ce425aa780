"""The supervisor: starts services in dependency order, watches them, stops them in reverse.

Lifecycle of :meth:`Supervisor.run`:

1. Handlers for SIGINT, SIGTERM and SIGHUP are installed explicitly (a process started in the
   background inherits SIGINT *ignored*; an explicit handler also means every child starts with
   the default disposition again). Any of the three requests a stop.
2. Each service in order: its port must be free (else :class:`ConsortiumConfigError`: we would
   otherwise health-check a stranger), ``prepare`` runs, the process starts, its health check
   must pass within its startup timeout (:class:`ServiceTimeoutError`; an exit meanwhile is a
   :class:`ServiceStartError`), then ``ready`` runs (deploy the contracts, create the database).
3. ``on_ready`` is called once every service is healthy; then the supervisor watches.
4. A requested stop ends the watch; :meth:`run` returns the signal's number.
   A service that exits on its own is **not restarted**: the others are stopped and
   :class:`ServiceExitedError` (exit code 3) names it, its status and its log. Restarting is left
   to whatever runs ``fedmarket up`` (systemd ``Restart=``, compose ``restart:``), which sees it.
5. Always: every started service is stopped in reverse order, each with its own stop signal
   (SIGTERM; PostgreSQL SIGINT, its fast shutdown) and SIGKILL for its process group after its
   grace period. A supervisor killed outright takes its children with it (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import logging
import signal
import socket
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType

from fedmarket.consortium.errors import ConsortiumConfigError, ServiceExitedError
from fedmarket.consortium.health import HealthCheck, wait_healthy
from fedmarket.consortium.process import ManagedProcess, ProcessSpec

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
"""What stops the consortium."""


@dataclass(frozen=True)
class Service:
    """One service of a consortium.

    Attributes
    ----------
    process : ProcessSpec
        How to run it (its ``name`` is the service's).
    health : HealthCheck
        What makes it healthy.
    host : str
        Address it listens on.
    port : int
        Port it listens on; checked free before it starts (0: picked by the service).
    startup_timeout : float, default 120.0
        Seconds from start to a passing health check.
    prepare : callable or None, default None
        Run before the process starts (make a repository, a cluster, fund a key).
    ready : callable or None, default None
        Run once it is healthy (deploy contracts, create a database).
    """

    process: ProcessSpec
    health: HealthCheck
    host: str
    port: int
    startup_timeout: float = 120.0
    prepare: Callable[[], None] | None = None
    ready: Callable[[], None] | None = None

    @property
    def name(self) -> str:
        """The service's name."""
        return self.process.name


class StopRequest:
    """Set by SIGINT, SIGTERM or SIGHUP while :meth:`installed` is active."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.signum: int | None = None

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is None:
            self.signum = signum
        self.event.set()

    @contextmanager
    def installed(self) -> Iterator[StopRequest]:
        """Install the handlers (main thread only); the previous ones come back after."""
        previous = {s: signal.signal(s, self._handle) for s in STOP_SIGNALS}
        try:
            yield self
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)


def port_is_free(host: str, port: int) -> bool:
    """Whether nothing listens on ``host:port`` (a port in TIME_WAIT counts as free).

    Parameters
    ----------
    host : str
        The address.
    port : int
        The port.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


class Supervisor:
    """Runs services as child processes (see the module's docstring for the lifecycle).

    Parameters
    ----------
    services : sequence of Service
        In dependency order (each may use the ones before it).
    poll : float, default 0.2
        Seconds between two looks at the children while watching.
    """

    def __init__(self, services: Sequence[Service], *, poll: float = 0.2) -> None:
        self.services = list(services)
        self.poll = poll
        self._running: list[tuple[Service, ManagedProcess]] = []

    @property
    def pids(self) -> dict[str, int]:
        """Process id of each running service."""
        return {s.name: p.pid for s, p in self._running if p.pid is not None}

    def run(self, on_ready: Callable[[Mapping[str, int]], None]) -> int | None:
        """Start every service, call ``on_ready(pids)``, watch until a stop; stop them all.

        Parameters
        ----------
        on_ready : callable
            Called with each service's process id once all are healthy.

        Returns
        -------
        int or None
            The signal that requested the stop.

        Raises
        ------
        ConsortiumError
            A service could not start, was not healthy in time, or exited on its own (every
            service is stopped before it propagates).
        """
        stop = StopRequest()
        with stop.installed():
            try:
                for service in self.services:
                    if not self._start(service, stop.event):
                        return stop.signum
                on_ready(self.pids)
                self._watch(stop.event)
                return stop.signum
            finally:
                self.shutdown()

    def _start(self, service: Service, stop: threading.Event) -> bool:
        """Start one service and wait for its health; ``False`` when a stop came first."""
        if service.port and not port_is_free(service.host, service.port):
            raise ConsortiumConfigError(
                f"{service.name}: {service.host}:{service.port} is already in use "
                f"(stop what listens there or choose another port)"
            )
        if service.prepare is not None:
            service.prepare()
        if stop.is_set():
            return False
        process = ManagedProcess(service.process).start()
        self._running.append((service, process))
        timeout = service.startup_timeout
        if not wait_healthy(service.health, timeout=timeout, process=process, stop=stop):
            return False
        if service.ready is not None:
            service.ready()
        log.info("run: %s healthy (pid %s)", service.name, process.pid)
        return not stop.is_set()

    def _watch(self, stop: threading.Event) -> None:
        """Return on a stop request; raise when a service exits on its own."""
        while not stop.wait(self.poll):
            for service, process in self._running:
                if process.exited():
                    raise ServiceExitedError(
                        f"{service.name} exited on its own (status {process.returncode}); "
                        f"stopped the other services; log {process.spec.log}: "
                        f"{process.log_tail()}"
                    )

    def shutdown(self) -> None:
        """Stop every started service, last started first."""
        while self._running:
            service, process = self._running.pop()
            code = process.stop()
            log.info("shutdown: %s stopped (status %s)", service.name, code)


__all__ = ["STOP_SIGNALS", "Service", "StopRequest", "Supervisor", "port_is_free"]
