"""Errors of paid content, each in one family (answered by :mod:`marketplace_api.api.errors`)."""

from __future__ import annotations

from kernel.errors import IntegrityError, ServiceUnavailableError
from marketplace_api.errors import ForbiddenError, MarketplaceError, NotFoundError


class NoLicenceError(ForbiddenError):
    """The signed-in account holds no licence for the item on-chain (HTTP 403, no key)."""


class ContentNotUploadedError(NotFoundError):
    """The item is listed, but its owner has not uploaded its content yet (HTTP 404)."""


class VaultError(MarketplaceError, ServiceUnavailableError):
    """A content key cannot be opened: sealed under another master key, or damaged (HTTP 503).

    A configuration fault of the service (a master key rotated without re-sealing), never the
    caller's: the message names the key ids, never a key.
    """


class GrantMismatchError(MarketplaceError, IntegrityError):
    """What the service handed a buyer does not match the chain or does not open.

    Raised on the buyer's side: a grant for another item or recipient, an envelope that is not
    the CID granted, or a plaintext whose hash is not the one on-chain.
    """


__all__ = ["ContentNotUploadedError", "GrantMismatchError", "NoLicenceError", "VaultError"]
