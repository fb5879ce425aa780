"""Exception hierarchy of the Paillier module (private; re-exported by ``paillier``)."""

from __future__ import annotations


class PaillierError(Exception):
    """Root of every error raised by :mod:`fl_node.vertical.paillier`."""


class PaillierOverflowError(PaillierError, OverflowError):
    """A value does not fit the plaintext space, a declared bound or a packing slot."""


class PaillierKeyMismatchError(PaillierError, ValueError):
    """Objects under different Paillier keys were combined, or a key does not match."""


class PaillierSerializationError(PaillierError, ValueError):
    """Serialized bytes are truncated, corrupted or not what the caller expected."""
