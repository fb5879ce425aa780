"""The dataset pages: the catalogue (``/``), one dataset (``/ui/datasets/{id}``), the listing form.

The catalogue searches the index's active listings by words (name or tag), tag, access mode and
price, in the order asked, a page at a time. A dataset's page shows its schema, statistics and
the sponsor contract's quality checks, its owner, and the transaction that listed it.
"""

from __future__ import annotations

from typing import Any, get_args
from urllib.parse import urlencode

from eth_utils.address import to_checksum_address
from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse

from marketplace_api import crud
from marketplace_api.api.deps import ScopeDep, SessionDep
from marketplace_api.api.pages import listing_record
from marketplace_api.models import ACCESS_MODES
from marketplace_api.web.forms import one_of, short_text, token_amount, whole_number
from marketplace_api.web.site import SiteDep
from marketplace_api.web.templating import render

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 24
SORTS: tuple[str, ...] = get_args(crud.CatalogueSort)
SORT_LABELS = {
    "newest": "Newest first",
    "oldest": "Oldest first",
    "price": "Price, low to high",
    "price_desc": "Price, high to low",
    "name": "Name",
}
MAX_OFFSET = 10**9


def catalogue_query(request: Request, errors: dict[str, str]) -> crud.CatalogueQuery:
    """The catalogue's filters from the query string; a bad field is named in ``errors``."""
    params = request.query_params
    text = short_text(params.get("q"), "q", errors, limit=100)
    tag = short_text(params.get("tag"), "tag", errors, limit=40)
    return crud.CatalogueQuery(
        text=text,
        tag=tag.lower() if tag else None,
        access_mode=one_of(params.get("access"), "access", errors, ACCESS_MODES),
        min_price_wei=token_amount(params.get("min_price"), "min_price", errors),
        max_price_wei=token_amount(params.get("max_price"), "max_price", errors),
        sort=one_of(params.get("sort"), "sort", errors, SORTS) or "newest",  # type: ignore[arg-type]
        limit=PAGE_SIZE,
        offset=whole_number(params.get("offset"), "offset", errors, default=0, maximum=MAX_OFFSET),
    )


def _filters_query(request: Request) -> str:
    """The query string of the current filters, without the offset (for the pager's links)."""
    kept = [(k, v) for k, v in request.query_params.multi_items() if k != "offset" and v]
    return urlencode(kept)


@router.get("/", response_class=HTMLResponse)
def catalogue(request: Request, session: SessionDep, scope: ScopeDep, site: SiteDep) -> Any:
    """The dataset catalogue: search, filters, sorting and pages over the active listings."""
    errors: dict[str, str] = {}
    query = catalogue_query(request, errors)
    rows, total = ([], 0) if errors else crud.search_datasets(session, scope, query)
    registry = to_checksum_address(scope.registry)
    items = [listing_record(r, scope.chain_id, registry) for r in rows]
    listed_at_all = (
        bool(items) or crud.search_datasets(session, scope, crud.CatalogueQuery(limit=1))[1] > 0
    )
    context = {
        "title": "Datasets",
        "nav": "datasets",
        "site": site,
        "items": items,
        "page": {"total": total, "limit": query.limit, "offset": query.offset},
        "params": request.query_params,
        "filters_query": _filters_query(request),
        "errors": errors,
        "sorts": SORT_LABELS,
        "access_modes": ACCESS_MODES,
        "listed_at_all": listed_at_all,
    }
    return render(request, "catalogue.html", context, 400 if errors else 200)


def item_id(raw: str) -> int | None:
    """A page's id path segment as an on-chain id, ``None`` when it cannot be one."""
    return int(raw) if raw.isdigit() and 0 < len(raw) <= 19 else None


def not_found(request: Request, site: Any, what: str) -> HTMLResponse:
    """The page of something that is not there (404)."""
    context = {"title": "Not found", "site": site, "message": f"{what} does not exist here."}
    return render(request, "error.html", context, 404)


@router.get("/ui/datasets/{dataset_id}", response_class=HTMLResponse)
def dataset_page(
    dataset_id: str, request: Request, session: SessionDep, scope: ScopeDep, site: SiteDep
) -> Any:
    """One dataset: schema, statistics, quality checks, owner and its on-chain record."""
    number = item_id(dataset_id)
    row = crud.get_dataset(session, scope, number) if number is not None else None
    if row is None:
        return not_found(request, site, f"Dataset {dataset_id}")
    record = listing_record(row, scope.chain_id, to_checksum_address(scope.registry))
    statistics = record.get("statistics") or {}
    columns = statistics.get("columns") or [
        c["name"] for c in record.get("schema") or [] if c["dtype"] in ("float", "int")
    ]
    stats_rows = [
        {
            "name": name,
            **{k: (statistics.get(k) or [None] * len(columns))[i] for k in STAT_FIELDS},
        }
        for i, name in enumerate(columns)
    ] if statistics else []  # fmt: skip
    context = {
        "title": record.get("name") or f"Dataset {number}",
        "nav": "datasets",
        "site": site,
        "d": record,
        "stats_rows": stats_rows,
        "stats_count": statistics.get("count"),
    }
    return render(request, "dataset.html", context)


STAT_FIELDS = ("mean", "std", "min", "max", "missing")


@router.get("/ui/list", response_class=HTMLResponse)
def listing_form(request: Request, site: SiteDep) -> Any:
    """The form an owner lists a dataset with: the wallet signs, the service relays."""
    context = {"title": "List a dataset", "nav": "list", "site": site, "access_modes": ACCESS_MODES}
    return render(request, "list.html", context)


__all__ = ["catalogue_query", "item_id", "not_found", "router"]
