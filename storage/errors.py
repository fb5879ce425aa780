"""Errors of the content store: one root, each error in one kernel family."""

from __future__ import annotations

from kernel.errors import FedmarketError, IntegrityError, InvalidInputError, NotFoundError


class StoreError(FedmarketError):
    """Root of content-store errors (never raised itself: each error has a family)."""


class ContentNotFoundError(StoreError, NotFoundError):
    """No object is stored under the CID."""


class ContentIntegrityError(StoreError, IntegrityError):
    """The bytes found do not hash to the CID asked for (or exceed the size allowed)."""


class InvalidCidError(StoreError, InvalidInputError):
    """The string is not a CID this store accepts."""


__all__ = ["ContentIntegrityError", "ContentNotFoundError", "InvalidCidError", "StoreError"]
