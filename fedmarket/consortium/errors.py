"""Errors of the local consortium (``fedmarket up``): one root, each error in one kernel family.

The CLI maps the families to exit codes (:mod:`fedmarket.cli.errors`): a service that cannot
start or dies on its own is 3 (unavailable), one that is not healthy in time 8 (timeout), a
folder another ``up`` holds 5 (refused), a busy port or a bad option 2, a deployment file whose
contracts the chain lacks 4 (not found).
"""

from __future__ import annotations

from kernel.errors import (
    ConfigurationError,
    FedmarketError,
    NotFoundError,
    OperationTimeoutError,
    RefusedError,
    ServiceUnavailableError,
)


class ConsortiumError(FedmarketError):
    """Root of the consortium's errors (never raised itself: each error has a family)."""


class ConsortiumConfigError(ConsortiumError, ConfigurationError):
    """An option or setting of the consortium is wrong (an unknown service, a busy port)."""


class ServiceStartError(ConsortiumError, ServiceUnavailableError):
    """A service could not be set up or exited while starting (its log says why)."""


class ServiceExitedError(ConsortiumError, ServiceUnavailableError):
    """A running service exited on its own; the supervisor stopped the others."""


class ServiceNotReadyError(ConsortiumError, ServiceUnavailableError):
    """A health probe's answer is not (yet) the healthy one."""


class ServiceTimeoutError(ConsortiumError, OperationTimeoutError):
    """A service did not pass its health check within its startup timeout."""


class ConsortiumBusyError(ConsortiumError, RefusedError):
    """Another ``fedmarket up`` holds the consortium's folder."""


class StaleDeploymentError(ConsortiumError, NotFoundError):
    """The folder's deployment file names contracts the chain does not have."""


__all__ = [
    "ConsortiumBusyError",
    "ConsortiumConfigError",
    "ConsortiumError",
    "ServiceExitedError",
    "ServiceNotReadyError",
    "ServiceStartError",
    "ServiceTimeoutError",
    "StaleDeploymentError",
]
