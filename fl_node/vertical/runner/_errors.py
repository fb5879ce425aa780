"""Errors of the vertical runner (private; re-exported by the package).

:class:`VflRunError` is the root and is never raised itself; every concrete error belongs to
exactly one family of :mod:`kernel.errors`. An error a party raised on purpose in its own
process is re-raised as is in the orchestrator (its family decides the exit code).
"""

from __future__ import annotations

from kernel.errors import (
    FedmarketError,
    IntegrityError,
    InvalidInputError,
    OperationTimeoutError,
    ProtocolError,
    RefusedError,
    ServiceUnavailableError,
)


class VflRunError(FedmarketError):
    """Root of every error raised by :mod:`fl_node.vertical.runner` (never raised)."""


class VflInputError(VflRunError, InvalidInputError):
    """An argument of the run is unknown or out of range (dataset, folds, keys)."""


class PartyCrashedError(VflRunError, ServiceUnavailableError):
    """A party process died, or failed with an error nobody raised on purpose."""


class PartyTimeoutError(VflRunError, OperationTimeoutError):
    """A party did not answer a job in time."""


class PartyProtocolError(VflRunError, ProtocolError):
    """A party and the orchestrator disagree on the job protocol (order, kind, state)."""


class InconsistentResultError(VflRunError, IntegrityError):
    """The parties' results contradict each other or the reference (commitments, rewards)."""


class SponsorFundsError(VflRunError, RefusedError):
    """The sponsor's key does not hold the reward tokens the pool needs."""


class StakeFundsError(VflRunError, RefusedError):
    """A staking role's key does not hold the reward tokens its stake needs."""


class DeadlineMissedError(VflRunError, OperationTimeoutError):
    """A step of the task came after its on-chain deadline: the schedule is too short."""
