"""The model pages (``/ui/models``, ``/ui/models/{id}``) and a transaction (``/ui/tx/{hash}``).

A model's page shows its evaluation report (the metrics of its model card), its contributors'
shares and proceeds, and its price, with a Buy button; once the visitor's wallet holds a licence,
a Download button fetches the sealed model and opens it in the browser
(``static/download.js``), checking its hash against the one FedTask recorded.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import APIRouter, Request
from hexbytes import HexBytes
from starlette.responses import HTMLResponse

from marketplace_api import crud
from marketplace_api.api.deps import ContentDep, MarketDep, ScopeDep, ServicesDep, SessionDep
from marketplace_api.api.errors import CHAIN_DOWN
from marketplace_api.api.routes.models import read_model, to_public
from marketplace_api.web.catalogue import item_id, not_found
from marketplace_api.web.forms import whole_number
from marketplace_api.web.site import SiteDep
from marketplace_api.web.templating import render

log = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 24
TX_HASH = re.compile(r"^0x[0-9a-fA-F]{64}$")


def chain_down(request: Request, site: Any, what: str, exc: Exception) -> HTMLResponse:
    """The page shown when the chain is needed and does not answer (503)."""
    log.warning("%s: the chain did not answer: %s", what, type(exc).__name__)
    message = f"{what} needs the chain, which does not answer now ({type(exc).__name__})."
    return render(request, "error.html", {"title": "Chain unavailable", "site": site,
                                          "message": message}, 503)  # fmt: skip


@router.get("/ui/models", response_class=HTMLResponse)
def model_list(
    request: Request, session: SessionDep, scope: ScopeDep, market: MarketDep, site: SiteDep
) -> Any:
    """Every model listed on ModelMarket, with its live price."""
    errors: dict[str, str] = {}
    offset = whole_number(
        request.query_params.get("offset"), "offset", errors, default=0, maximum=10**9
    )
    rows, total = crud.list_models(session, scope, limit=PAGE_SIZE, offset=offset)
    try:
        items = [to_public(r, scope, market.model(r.model_id or 0)) for r in rows]
    except CHAIN_DOWN as exc:  # a page, not the API's JSON 503
        return chain_down(request, site, "The model list", exc)
    context = {
        "title": "Models",
        "nav": "models",
        "site": site,
        "models": items,
        "page": {"total": total, "limit": PAGE_SIZE, "offset": offset},
        "filters_query": "",
    }
    return render(request, "models.html", context, 400 if errors else 200)


@router.get("/ui/models/{model_id}", response_class=HTMLResponse)
def model_page(
    model_id: str,
    request: Request,
    session: SessionDep,
    scope: ScopeDep,
    market: MarketDep,
    content: ContentDep,
    site: SiteDep,
) -> Any:
    """One model: evaluation, contributors and shares, price, Buy and Download."""
    number = item_id(model_id)
    if number is None or crud.get_model(session, scope, number) is None:
        return not_found(request, site, f"Model {model_id}")
    try:
        detail = read_model(number, session, scope, market, content)
    except CHAIN_DOWN as exc:  # a page, not the API's JSON 503
        return chain_down(request, site, f"Model {number}", exc)
    context = {"title": detail.name, "nav": "models", "site": site, "m": detail}
    return render(request, "model.html", context)


@router.get("/ui/tx/{tx_hash}", response_class=HTMLResponse)
def transaction_page(tx_hash: str, request: Request, services: ServicesDep, site: SiteDep) -> Any:
    """A transaction's receipt, read from the chain: block, sender, contract, status, gas."""
    if not TX_HASH.match(tx_hash):
        return not_found(request, site, "This transaction")
    try:
        receipt = services.backend.w3.eth.get_transaction_receipt(HexBytes(tx_hash))
    except Exception as exc:  # unknown hash or unreachable chain: which one is told apart below
        if type(exc).__name__ == "TransactionNotFound":
            return not_found(request, site, f"Transaction {tx_hash}")
        return chain_down(request, site, "A transaction's page", exc)
    names = {v.lower(): k for k, v in services.contracts.items()}
    context = {
        "title": "Transaction",
        "site": site,
        "hash": tx_hash,
        "r": receipt,
        "contract_name": names.get(str(receipt.get("to") or "").lower()),
    }
    return render(request, "tx.html", context)


__all__ = ["router"]
