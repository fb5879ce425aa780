"""Errors raised on purpose by the marketplace API and its client.

Route handlers raise these (or let chain and store errors through); the single mapping to HTTP
responses, by error family, lives in :mod:`marketplace_api.api.errors`. Each class belongs to one
family of :mod:`kernel.errors`, and so also inherits the matching built-in: callers that only know
the built-ins still catch them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kernel import errors as kernel_errors
from kernel.errors import FedmarketError


class MarketplaceError(FedmarketError):
    """Root of the marketplace API's errors."""


class NotFoundError(MarketplaceError, kernel_errors.NotFoundError):
    """The resource asked for does not exist (HTTP 404)."""


class ConflictError(MarketplaceError, kernel_errors.RefusedError):
    """The request conflicts with what is already recorded (HTTP 409)."""


class ForbiddenError(MarketplaceError, kernel_errors.RefusedError):
    """The signer may not do this (HTTP 403)."""


class FieldError(MarketplaceError, kernel_errors.InvalidInputError):
    """One field of the request is wrong in a way only the server can tell (HTTP 422).

    Rendered in FastAPI's validation shape, ``{"loc": [...], "msg": ..., "type": ...}``, so clients
    handle it exactly like a schema error.

    Parameters
    ----------
    loc : sequence of str or int
        Where the fault is, e.g. ``("body", "signature")``.
    msg : str
        What is wrong, for humans.
    type : str, default "value_error"
        Machine-readable kind of the fault.
    """

    def __init__(self, loc: Sequence[str | int], msg: str, type: str = "value_error") -> None:
        self.errors: list[dict[str, Any]] = [{"loc": list(loc), "msg": msg, "type": type}]
        super().__init__(msg)

    @classmethod
    def many(cls, errors: Sequence[FieldError]) -> FieldError:
        """One error carrying the faults of several (all reported in one response)."""
        if not errors:
            raise kernel_errors.InvalidInputError("FieldError.many: no errors")
        merged = cls(errors[0].errors[0]["loc"], str(errors[0]))
        merged.errors = [e for err in errors for e in err.errors]
        return merged


class ServiceUnavailableError(MarketplaceError, kernel_errors.ServiceUnavailableError):
    """A service the API depends on (chain node, database, content store) is down (HTTP 503)."""


class MalformedSignatureError(MarketplaceError, kernel_errors.InvalidInputError):
    """A signature is not a valid 65-byte ECDSA signature (handlers answer it as a field, 422)."""


class CidMismatchError(MarketplaceError, kernel_errors.IntegrityError):
    """The content store filed bytes under another CID than the API computed (HTTP 502)."""


class MigrationError(MarketplaceError, kernel_errors.IntegrityError):
    """A database migration would leave rows inconsistent (it is rolled back)."""


class MarketplaceApiError(MarketplaceError):
    """An error answer of the marketplace API, as the client sees it.

    Never raised itself: :meth:`for_status` picks the subclass whose family matches the status,
    so the CLI's exit code says what went wrong (bad input, not found, refused, unavailable).

    Attributes
    ----------
    status : int
        The HTTP status (0 when the server could not be reached at all).
    detail : Any
        The server's ``detail``: a string, or a list of ``{"loc", "msg", "type"}`` objects.
    """

    def __init__(self, status: int, detail: Any) -> None:
        self.status = status
        self.detail = detail
        super().__init__(f"marketplace API answered {status}: {detail}")

    @property
    def fields(self) -> list[tuple[str | int, ...]]:
        """The ``loc`` of every field-level error in :attr:`detail` (empty for string details)."""
        if not isinstance(self.detail, list):
            return []
        return [tuple(e.get("loc", ())) for e in self.detail if isinstance(e, dict)]

    @staticmethod
    def for_status(status: int, detail: Any) -> MarketplaceApiError:
        """The error for an answer with HTTP ``status`` (>= 400).

        Parameters
        ----------
        status : int
            The HTTP status.
        detail : Any
            The server's ``detail``.
        """
        if status in (400, 413, 415, 422):
            return ApiInputError(status, detail)
        if status in (404, 410):
            return ApiNotFoundError(status, detail)
        if status in (408, 504):
            return ApiTimeoutError(status, detail)
        if status == 429 or status >= 500:
            return ApiUnavailableError(status, detail)
        return ApiRefusedError(status, detail)


class ApiInputError(MarketplaceApiError, kernel_errors.InvalidInputError):
    """The API rejected the request's input (400, 413, 415, 422)."""


class ApiNotFoundError(MarketplaceApiError, kernel_errors.NotFoundError):
    """The API has no such resource (404, 410)."""


class ApiRefusedError(MarketplaceApiError, kernel_errors.RefusedError):
    """The API refused the request (401, 402, 403, 409 and other 4xx)."""


class ApiTimeoutError(MarketplaceApiError, kernel_errors.OperationTimeoutError):
    """The API or a service behind it timed out (408, 504)."""


class ApiUnavailableError(MarketplaceApiError, kernel_errors.ServiceUnavailableError):
    """The API is overloaded or a service behind it is down (429, 5xx)."""


class MarketplaceConnectionError(MarketplaceApiError, kernel_errors.ServiceUnavailableError):
    """The marketplace API could not be reached (status 0)."""

    def __init__(self, detail: str) -> None:
        self.status = 0
        self.detail = detail
        MarketplaceError.__init__(self, detail)


__all__ = [
    "ApiInputError",
    "ApiNotFoundError",
    "ApiRefusedError",
    "ApiTimeoutError",
    "ApiUnavailableError",
    "CidMismatchError",
    "ConflictError",
    "FieldError",
    "ForbiddenError",
    "MalformedSignatureError",
    "MarketplaceApiError",
    "MarketplaceConnectionError",
    "MarketplaceError",
    "MigrationError",
    "NotFoundError",
    "ServiceUnavailableError",
]
