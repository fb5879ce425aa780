"""Errors of the content store: one root, each error in one kernel family."""

from __future__ import annotations

from kernel.errors import (
    FedmarketError,
    IntegrityError,
    InvalidInputError,
    NotFoundError,
    ProtocolError,
    RefusedError,
    ServiceUnavailableError,
)


class StoreError(FedmarketError):
    """Root of content-store errors (never raised itself: each error has a family)."""


class ContentNotFoundError(StoreError, NotFoundError):
    """No object is stored under the CID."""


class ContentIntegrityError(StoreError, IntegrityError):
    """The bytes found do not hash to the CID asked for (or exceed the size allowed)."""


class ContentTooLargeError(ContentIntegrityError):
    """The object is larger than the caller allows; it was refused before being read whole."""


class InvalidCidError(StoreError, InvalidInputError):
    """The string is not a CID this store accepts."""


class StoreUnavailableError(StoreError, ServiceUnavailableError):
    """The store's service (an IPFS daemon) cannot be reached, even after retrying."""


class StoreProtocolError(StoreError, ProtocolError):
    """The store's service answered something that is not a valid answer to the request."""


class InvalidKeyError(StoreError, InvalidInputError):
    """A key, public key or signature given to the sealing functions is malformed."""


class SealedDataError(StoreError, IntegrityError):
    """A sealed envelope or wrapped key is malformed, tampered with, or opened wrongly.

    Opening with the wrong key or the wrong associated data fails AES-GCM's authentication the
    same way as a changed byte does: the error cannot, and does not, say which it was.
    """


class SealedObjectLockedError(StoreError, RefusedError):
    """A sealed object whose content key is not wrapped to the key at hand (or no key is).

    Not tampering (a :class:`SealedDataError`): the reader is simply not one of its holders.
    """


class SignerMismatchError(StoreError, IntegrityError):
    """A signature recovers to another address than the one it is claimed to come from."""


class AccessLogEntryError(StoreError, InvalidInputError):
    """An access-log entry or setting is malformed (empty actor, reserved action, bad line)."""


class AccessLogTamperedError(StoreError, IntegrityError):
    """The access log's hash chain is broken: an entry was edited, removed, added or moved."""


__all__ = [
    "AccessLogEntryError",
    "AccessLogTamperedError",
    "ContentIntegrityError",
    "ContentNotFoundError",
    "ContentTooLargeError",
    "InvalidCidError",
    "InvalidKeyError",
    "SealedDataError",
    "SignerMismatchError",
    "StoreError",
    "StoreProtocolError",
    "StoreUnavailableError",
]
