"""``GET /health``: is the API up, can it reach the chain and the database, which contracts."""

from __future__ import annotations

import logging
from typing import Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from marketplace_api import crud
from marketplace_api.api.deps import ServicesDep
from marketplace_api.schemas import ChainHealth, Health, IndexHealth

log = logging.getLogger(__name__)

router = APIRouter(prefix="/health", tags=["health"])


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
    try:
        services.database.ping()
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
    health = Health(
        status="ok" if ok else "degraded",
        chain=chain,
        database=database,
        contracts=services.contracts,
        index=index,
    )
    return JSONResponse(status_code=200 if ok else 503, content=health.model_dump(mode="json"))
