"""Errors of the protocol package (private; re-exported by the package).

:class:`HeteroLRError` is the root and is never raised itself; every concrete error belongs to
exactly one family of :mod:`kernel.errors`.
"""

from __future__ import annotations

from kernel.errors import FedmarketError, InvalidInputError, ProtocolError


class HeteroLRError(FedmarketError):
    """Root of every error raised by :mod:`fl_node.vertical.protocol` (never raised)."""


class PeerMessageError(HeteroLRError, ProtocolError):
    """A peer's message is inconsistent with the session (batch, session, size, key, rows)."""


class CipherSuiteError(HeteroLRError, ProtocolError):
    """A ciphertext message is invalid for this suite (key, count, range, bound)."""


class CipherUsageError(HeteroLRError, InvalidInputError):
    """A cipher suite was asked for something it cannot do (unknown suite, no private key)."""


class HeteroLRConfigError(HeteroLRError, InvalidInputError):
    """A configuration or an argument of the protocol is out of range."""
