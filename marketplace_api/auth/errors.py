"""Errors of sign-in and sessions: both are answered 401 with a ``Bearer`` challenge."""

from __future__ import annotations

from kernel.errors import RefusedError
from marketplace_api.errors import MarketplaceError


class UnauthorizedError(MarketplaceError, RefusedError):
    """The request carries no valid session: sign in first (HTTP 401).

    Raised for a missing, unknown, expired or signed-out bearer token; the message never
    repeats the token.
    """


class SignInRefusedError(UnauthorizedError):
    """A sign-in message was refused (HTTP 401).

    Wrong domain, URI or chain; expired or not yet valid; a nonce that is unknown, expired or
    already used; or a signature by another account than the message names.
    """


__all__ = ["SignInRefusedError", "UnauthorizedError"]
