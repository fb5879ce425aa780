"""A local consortium as managed processes: what ``fedmarket up`` runs.

Public surface::

    ConsortiumConfig, Ports, SERVICES       # what to run, where (config)
    run_consortium(config, on_ready)        # run it until a stop signal (run)
    Endpoints                               # what on_ready receives (config)
    Supervisor, Service                     # start in order, watch, stop in reverse (supervisor)
    ManagedProcess, ProcessSpec             # one child process (process)
    HealthCheck, wait_healthy               # health checks (health)
    IpfsDaemon, jsipfs_available            # js-ipfs, also throw-away for tests (ipfs)
    PostgresServer, running_postgres        # PostgreSQL, also throw-away (postgres)
    ConsortiumError and its subclasses      # one root (errors)

Services, in start order: ``chain`` (``fedmarket chain node``; contracts deployed once),
``ipfs`` (js-ipfs), ``postgres``, ``api`` (``fedmarket serve``). Inside, the floors are
run > services > contracts | ipfs | postgres > supervisor > health > process > errors.
"""

from fedmarket.consortium.config import SERVICES, ConsortiumConfig, Endpoints, Ports
from fedmarket.consortium.errors import (
    ConsortiumBusyError,
    ConsortiumConfigError,
    ConsortiumError,
    ServiceExitedError,
    ServiceNotReadyError,
    ServiceStartError,
    ServiceTimeoutError,
    StaleDeploymentError,
)
from fedmarket.consortium.health import HealthCheck, wait_healthy
from fedmarket.consortium.ipfs import IpfsDaemon, jsipfs_available
from fedmarket.consortium.postgres import PostgresServer, postgres_available, running_postgres
from fedmarket.consortium.process import ManagedProcess, ProcessSpec
from fedmarket.consortium.run import run_consortium
from fedmarket.consortium.supervisor import Service, Supervisor

__all__ = [
    "SERVICES",
    "ConsortiumBusyError",
    "ConsortiumConfig",
    "ConsortiumConfigError",
    "ConsortiumError",
    "Endpoints",
    "HealthCheck",
    "IpfsDaemon",
    "ManagedProcess",
    "Ports",
    "PostgresServer",
    "ProcessSpec",
    "Service",
    "ServiceExitedError",
    "ServiceNotReadyError",
    "ServiceStartError",
    "ServiceTimeoutError",
    "StaleDeploymentError",
    "Supervisor",
    "jsipfs_available",
    "postgres_available",
    "run_consortium",
    "running_postgres",
    "wait_healthy",
]
