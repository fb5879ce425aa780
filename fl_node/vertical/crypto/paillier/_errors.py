"""Errors of the Paillier package (private; re-exported by the package).

:class:`PaillierError` is the package's root and is never raised itself; every concrete error
belongs to exactly one family of :mod:`kernel.errors` and keeps the built-in a caller may
already catch (``OverflowError``, ``TypeError``).
"""

from __future__ import annotations

from kernel.errors import FedmarketError, InvalidInputError, ProtocolError


class PaillierError(FedmarketError):
    """Root of every error raised by :mod:`fl_node.vertical.crypto.paillier` (never raised)."""


class PaillierInputError(PaillierError, InvalidInputError):
    """An argument is out of range or inconsistent (a key size, a shape, a mode, a bound)."""


class PaillierTypeError(PaillierInputError, TypeError):
    """An argument has the wrong type (e.g. a ``bool`` where a bit count is expected)."""


class PaillierOverflowError(PaillierError, InvalidInputError, OverflowError):
    """A value does not fit the plaintext space, a declared bound or a packing slot."""


class PaillierEncodingError(PaillierError, InvalidInputError):
    """A value cannot be encoded (NaN, unsupported type or shape)."""


class PaillierKeyMismatchError(PaillierError, InvalidInputError):
    """Objects under different Paillier keys were combined, or a key does not match."""


class PaillierSerializationError(PaillierError, ProtocolError):
    """Serialized bytes are truncated, corrupted or not what the caller expected."""
