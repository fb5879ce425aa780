"""The exception root of fedmarket and the error families every package derives from.

Every error raised on purpose by fedmarket code derives from :class:`FedmarketError` through
exactly one *family* below. Domain errors pick their family by what went wrong for the caller
(``class ChainConnectionError(ChainError, ServiceUnavailableError)``), and each family also
inherits the matching built-in (``ValueError``, ``LookupError``...) so callers that only know the
built-ins still catch them. The families are mapped to CLI exit codes in exactly one place
(``fedmarket.cli.errors``) and to HTTP status codes in exactly one place
(``marketplace_api.api.errors``).
"""

from __future__ import annotations


class FedmarketError(Exception):
    """Root of every error raised on purpose by fedmarket code."""


class InvalidInputError(FedmarketError, ValueError):
    """The caller's input is malformed or out of range (arguments, files, specs, data)."""


class ConfigurationError(InvalidInputError):
    """A setting is missing, malformed or a placeholder where a real value is required."""


class NotFoundError(FedmarketError, LookupError):
    """Something named by the caller does not exist (a dataset, a CID, a deployment)."""


class ServiceUnavailableError(FedmarketError, ConnectionError):
    """A service the command needs cannot be reached (chain node, marketplace API, store)."""


class RefusedError(FedmarketError, PermissionError):
    """A party with authority refused the action: a contract reverted, access was denied."""


class IntegrityError(FedmarketError, ValueError):
    """Bytes differ from the hash or signature they were anchored with: possible tampering."""


class ProtocolError(FedmarketError, ValueError):
    """A peer broke a protocol: a malformed or unexpected message, a failed handshake."""


class OperationTimeoutError(FedmarketError, TimeoutError):
    """A step did not finish before its deadline (a peer, a round, a service)."""


FAMILIES: tuple[type[FedmarketError], ...] = (
    InvalidInputError,
    NotFoundError,
    ServiceUnavailableError,
    RefusedError,
    IntegrityError,
    ProtocolError,
    OperationTimeoutError,
)
"""The error families, each with one CLI exit code and one HTTP status."""


def families_of(error: type[BaseException]) -> tuple[type[FedmarketError], ...]:
    """Every family among ``error``'s ancestors, in method resolution order.

    A concrete fedmarket error has exactly one (a test walks them all); the bare root and the
    packages' own roots have none.

    Parameters
    ----------
    error : type
        An exception class.
    """
    return tuple(k for k in error.__mro__ if k in FAMILIES)


def family_of(error: type[BaseException]) -> type[FedmarketError] | None:
    """The family ``error`` belongs to, or ``None`` for roots and foreign exceptions.

    Parameters
    ----------
    error : type
        An exception class.
    """
    found = families_of(error)
    return found[0] if found else None


__all__ = [
    "FAMILIES",
    "ConfigurationError",
    "FedmarketError",
    "IntegrityError",
    "InvalidInputError",
    "NotFoundError",
    "OperationTimeoutError",
    "ProtocolError",
    "RefusedError",
    "ServiceUnavailableError",
    "families_of",
    "family_of",
]
