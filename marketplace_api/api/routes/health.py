"""``GET /health``: is the API up, can it reach the chain and the database, which contracts.

It also reports the relayer's balance against its floor: below it the status is ``degraded``
but the answer stays 200 (reads, and listings made directly on-chain, still work; only relayed
writes are refused, with 503). A chain or database that cannot be reached is a 503.
"""

from __future__ import annotations

import logging
from typing import Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from marketplace_api import crud
from marketplace_api.api.deps import ServicesDep
from marketplace_api.schemas import ChainHealth, Health, IndexHealth, RelayerHealth
from marketplace_api.services import Services

log = logging.getLogger(__name__)

router = APIRouter(prefix="/health", tags=["health"])


def relayer_health(services: Services) -> RelayerHealth:
    """The relayer's balance against its floor (``low`` when it could not be read either)."""
    guard = services.relay
    try:
        status = guard.balance_status()
    except Exception as exc:  # a chain that cannot be read is reported, not raised
        log.warning("read_health: relayer balance unreadable: %s", type(exc).__name__)
        floor = guard.policy.balance_floor_wei
        address = services.relayer.address
        return RelayerHealth(address=address, balance_wei=None, floor_wei=floor, low=True)
    return RelayerHealth(
        address=status.address,
        balance_wei=status.balance_wei,
        floor_wei=status.floor_wei,
        low=status.low,
    )


@router.get(
    "",
    response_model=Health,
    responses={503: {"model": Health, "description": "A dependency is down."}},
)
def read_health(services: ServicesDep) -> JSONResponse:
    """Report the chain, the database and the deployment's contracts; 503 when degraded."""
    chain = ChainHealth(backend=services.backend.name, chain_id=None, block=None)
    try:
        chain.chain_id = services.backend.chain_id
        chain.block = int(services.backend.w3.eth.block_number)
    except Exception as exc:  # any failure to read the chain is what this endpoint reports
        log.warning("read_health: chain unreachable: %s", type(exc).__name__)
        chain.error = f"unreachable ({type(exc).__name__})"
    database: Literal["ok", "unavailable"] = "ok"
    index = IndexHealth(block=None)
    try:  # reading the index head is the database's ping too
        with services.database.session() as session:
            head = crud.index_head(session, services.scope)
    except Exception as exc:  # likewise for the database
        log.warning("read_health: database unreachable: %s", type(exc).__name__)
        database = "unavailable"
    else:
        if head is not None:
            lag = None if chain.block is None else max(0, chain.block - head.block)
            index = IndexHealth(block=head.block, block_hash=head.block_hash, lag_blocks=lag)
    ok = chain.error is None and database == "ok"
    relayer = relayer_health(services)
    health = Health(
        status="ok" if ok and not relayer.low else "degraded",
        chain=chain,
        database=database,
        contracts=services.contracts,
        index=index,
        relayer=relayer,
    )
    return JSONResponse(status_code=200 if ok else 503, content=health.model_dump(mode="json"))
