"""Errors of the chain indexer, each in one family of :mod:`kernel.errors`."""

from __future__ import annotations

from kernel import errors as kernel_errors
from marketplace_api.errors import MarketplaceError


class ChainMovedError(MarketplaceError, kernel_errors.ServiceUnavailableError):
    """The chain changed while a range was being read (a reorg under the indexer): read it again."""


class IndexBusyError(MarketplaceError, kernel_errors.ServiceUnavailableError):
    """Another indexer holds the deployment's cursor (it wrote first): this batch was dropped."""


class UndecodableLogError(MarketplaceError, kernel_errors.ProtocolError):
    """A log of a watched contract does not fit its event's ABI (the log is skipped)."""


class IndexerStoppedError(MarketplaceError, kernel_errors.ServiceUnavailableError):
    """The background indexer is not running, so the index will not catch up by itself."""


__all__ = ["ChainMovedError", "IndexBusyError", "IndexerStoppedError", "UndecodableLogError"]
