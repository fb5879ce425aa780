"""What every page shows around its content: the chain, the contracts, how fresh the index is.

The chain is asked one question per page (its block number) so that a page can say honestly
that the chain is unreachable or that the index lags behind it; everything else comes from the
index, which answers whether the chain does or not.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends

from marketplace_api import crud
from marketplace_api.api.deps import ServicesDep

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Site:
    """The frame of every page.

    Attributes
    ----------
    chain_id : int or None
        The deployment's chain (the wallet must be on it).
    contracts : dict of str to str
        token, registry, fed_task, court and market addresses.
    chain_error : str or None
        Why the chain could not be read, when it could not.
    index_block : int or None
        The last block indexed.
    index_lag : int or None
        Blocks the chain is ahead of the index, when both are known.
    """

    chain_id: int | None
    contracts: dict[str, str] = field(default_factory=dict)
    chain_error: str | None = None
    index_block: int | None = None
    index_lag: int | None = None


def get_site(services: ServicesDep) -> Site:
    """The frame of this request's page (never raises: what is down is shown, not thrown)."""
    chain_block: int | None = None
    chain_error: str | None = None
    try:
        chain_block = int(services.backend.w3.eth.block_number)
    except Exception as exc:  # an unreachable chain is shown on the page, not raised
        log.warning("get_site: chain unreachable: %s", type(exc).__name__)
        chain_error = f"unreachable: {type(exc).__name__}"
    index_block: int | None = None
    try:
        with services.database.session() as session:
            head = crud.index_head(session, services.scope)
        index_block = head.block if head is not None else None
    except Exception as exc:  # likewise for the database: the page says so
        log.warning("get_site: index unreadable: %s", type(exc).__name__)
    lag = None if chain_block is None or index_block is None else max(0, chain_block - index_block)
    return Site(
        chain_id=services.scope.chain_id,
        contracts=services.contracts,
        chain_error=chain_error,
        index_block=index_block,
        index_lag=lag,
    )


SiteDep = Annotated[Site, Depends(get_site)]

__all__ = ["Site", "SiteDep", "get_site"]
