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
    """A party process died, or failed with an error nobody raised on purpose.

    Parameters
    ----------
    message : str
        What happened, naming the party.
    party : str, default ""
        The role of the party that died (empty when unknown).
    """

    def __init__(self, message: str, *, party: str = "") -> None:
        super().__init__(message)
        self.party = party


class PartyTimeoutError(VflRunError, OperationTimeoutError):
    """A party did not answer a job in time."""


class PartyStalledError(PartyTimeoutError):
    """A party stopped answering: nothing from it, not even a heartbeat, for the liveness timeout.

    Parameters
    ----------
    message : str
        What happened, naming the party (``host stopped answering: no frame for 10.0 s``).
    party : str, default ""
        The silent party's role.
    """

    def __init__(self, message: str, *, party: str = "") -> None:
        super().__init__(message)
        self.party = party


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
