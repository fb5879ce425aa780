"""Errors of secure aggregation (:mod:`fl_node.secagg`), each in one family of kernel.errors."""

from __future__ import annotations

from fl_node.errors import FlError
from kernel.errors import IntegrityError, InvalidInputError, ProtocolError, RefusedError


class SecAggError(FlError):
    """Root of the secure aggregation errors (never raised itself: each error has a family)."""


class SecAggInputError(SecAggError, InvalidInputError):
    """A bad setting or argument: a threshold out of range, updates of differing lengths."""


class SecAggProtocolError(SecAggError, ProtocolError):
    """A message out of order, malformed, from an unknown party or for another round."""


class TooFewSurvivorsError(SecAggProtocolError):
    """Fewer than the threshold of clients remain, or answered for a secret: no sum this round."""


class ShareIntegrityError(SecAggError, IntegrityError):
    """A share envelope failed its AES-GCM check: tampered, replayed or for someone else."""


class UnmaskRefusedError(SecAggError, RefusedError):
    """An honest client refused an unmask request that would reveal a peer's input."""


__all__ = [
    "SecAggError",
    "SecAggInputError",
    "SecAggProtocolError",
    "ShareIntegrityError",
    "TooFewSurvivorsError",
    "UnmaskRefusedError",
]
