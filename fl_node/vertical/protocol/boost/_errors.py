"""Errors of the SecureBoost package (private; re-exported by the package).

:class:`SecureBoostError` is the root and is never raised itself; every concrete error belongs to
exactly one family of :mod:`kernel.errors`.
"""

from __future__ import annotations

from kernel.errors import FedmarketError, InvalidInputError, ProtocolError


class SecureBoostError(FedmarketError):
    """Root of every error raised by :mod:`fl_node.vertical.protocol.boost` (never raised)."""


class BoostPeerError(SecureBoostError, ProtocolError):
    """A peer's message is inconsistent with the session (session, tree, shape, ids, key)."""


class BoostConfigError(SecureBoostError, InvalidInputError):
    """A configuration, an argument or an input table is out of range."""
