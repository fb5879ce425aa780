"""Errors raised on purpose by the marketplace API and its client.

Route handlers raise these (or let chain and store errors through); the single mapping to HTTP
responses lives in :mod:`marketplace_api.api.errors`. Each class also inherits the matching
built-in so callers that only know the built-ins still catch them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fedmarket.errors import FedmarketError


class MarketplaceError(FedmarketError):
    """Root of the marketplace API's errors."""


class NotFoundError(MarketplaceError, LookupError):
    """The resource asked for does not exist (HTTP 404)."""


class ConflictError(MarketplaceError):
    """The request conflicts with what is already recorded (HTTP 409)."""


class ForbiddenError(MarketplaceError, PermissionError):
    """The signer may not do this (HTTP 403)."""


class FieldError(MarketplaceError, ValueError):
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
            raise ValueError("FieldError.many: no errors")
        merged = cls(errors[0].errors[0]["loc"], str(errors[0]))
        merged.errors = [e for err in errors for e in err.errors]
        return merged


class ServiceUnavailableError(MarketplaceError, ConnectionError):
    """A service the API depends on (chain node, database, content store) is down (HTTP 503)."""


class MarketplaceApiError(MarketplaceError):
    """An error answer of the marketplace API, as the client sees it.

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


class MarketplaceConnectionError(MarketplaceApiError, ConnectionError):
    """The marketplace API could not be reached (status 0)."""

    def __init__(self, detail: str) -> None:
        super().__init__(0, detail)


__all__ = [
    "ConflictError",
    "FieldError",
    "ForbiddenError",
    "MarketplaceApiError",
    "MarketplaceConnectionError",
    "MarketplaceError",
    "NotFoundError",
    "ServiceUnavailableError",
]
