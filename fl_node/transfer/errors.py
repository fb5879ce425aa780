"""Errors of federated transfer learning, each in one family of :mod:`kernel.errors`."""

from __future__ import annotations

from kernel.errors import FedmarketError, IntegrityError, InvalidInputError, ProtocolError


class TransferError(FedmarketError):
    """Root of the errors of :mod:`fl_node.transfer` (never raised itself)."""


class TransferInputError(TransferError, InvalidInputError):
    """A bad argument: mismatched arrays, unknown dataset, an impossible setting."""


class TransferProtocolError(TransferError, ProtocolError):
    """A message out of order, of the wrong shape or from the wrong party."""


class TransferIntegrityError(TransferError, IntegrityError):
    """A value that does not fit the fixed-point range, or a check the run made on itself."""


__all__ = [
    "TransferError",
    "TransferInputError",
    "TransferIntegrityError",
    "TransferProtocolError",
]
