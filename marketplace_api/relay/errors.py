"""Refusals of the relay guard: each says which limit refused and when to come back.

All three carry ``limit`` (the limit's name) and ``retry_after`` (whole seconds) and are answered
by :mod:`marketplace_api.api.errors` with ``Retry-After`` and a body naming the limit:

- :class:`RateLimitedError`: a token bucket is empty (429);
- :class:`GasBudgetExceededError`: the owner's gas budget is spent for now (429);
- :class:`RelayerBalanceLowError`: the relayer's balance is below its floor (503).
"""

from __future__ import annotations

from kernel import errors as kernel_errors
from marketplace_api.errors import MarketplaceError


class RetryLater:
    """What the three refusals share (a mixin, not an error): the limit and ``Retry-After``.

    Attributes
    ----------
    status_code : int
        The HTTP status the refusal is answered with.
    limit : str
        Name of the limit that refused.
    retry_after : int
        Whole seconds before trying again is worth it (at least 1).
    """

    status_code: int = 429
    limit: str = ""
    retry_after: int = 1

    def _init_retry(self, limit: str, retry_after: int) -> None:
        self.limit = limit
        self.retry_after = max(1, int(retry_after))


class RateLimitedError(MarketplaceError, kernel_errors.RefusedError, RetryLater):
    """Too many requests from one address or client under a rate limit (HTTP 429).

    Parameters
    ----------
    message : str
        What was refused, naming the limit.
    limit : str
        The limit's name.
    retry_after : int
        Seconds until a token is back.
    """

    def __init__(self, message: str, *, limit: str, retry_after: int) -> None:
        super().__init__(message)
        self._init_retry(limit, retry_after)


class GasBudgetExceededError(MarketplaceError, kernel_errors.RefusedError, RetryLater):
    """The owner's gas budget has no room for another relayed transaction now (HTTP 429).

    Parameters
    ----------
    message : str
        What was refused, naming the budget.
    limit : str
        The budget's name.
    retry_after : int
        Seconds until enough old charges leave the window.
    """

    def __init__(self, message: str, *, limit: str, retry_after: int) -> None:
        super().__init__(message)
        self._init_retry(limit, retry_after)


class RelayerBalanceLowError(MarketplaceError, kernel_errors.ServiceUnavailableError, RetryLater):
    """The relayer's balance is below its floor: nothing is relayed (HTTP 503).

    Parameters
    ----------
    message : str
        The balance, the floor, and how to list without the relayer.
    retry_after : int
        Seconds before the balance is worth checking again.
    """

    status_code = 503

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self._init_retry("relayer balance", retry_after)


RETRY_LATER_ERRORS = (RateLimitedError, GasBudgetExceededError, RelayerBalanceLowError)
"""The refusals answered with ``Retry-After``."""

__all__ = [
    "RETRY_LATER_ERRORS",
    "GasBudgetExceededError",
    "RateLimitedError",
    "RelayerBalanceLowError",
    "RetryLater",
]
