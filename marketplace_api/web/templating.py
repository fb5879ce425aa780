"""The Jinja2 environment of the pages and the filters they format figures with.

Autoescaping is on for every template: listing names, descriptions and tags are written by
anyone who lists, so nothing they wrote is ever inserted as markup.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi.templating import Jinja2Templates
from starlette.requests import Request
from starlette.responses import HTMLResponse

TEMPLATE_DIR = Path(__file__).parent / "templates"
TOKEN_DECIMALS = 18
TOKEN_SYMBOL = "FMT"


def tokens(wei: int | str | None, places: int = 4) -> str:
    """``wei`` as whole tokens with at most ``places`` decimals (``"1,250.5 FMT"``)."""
    if wei is None:
        return "—"
    amount = Decimal(int(wei)) / Decimal(10**TOKEN_DECIMALS)
    text = f"{amount:,.{places}f}".rstrip("0").rstrip(".")
    return f"{text} {TOKEN_SYMBOL}"


def short(value: str | None, keep: int = 6) -> str:
    """A long hex string shortened for display (``0x1234…abcd``); the title keeps it whole."""
    if not value:
        return "—"
    return value if len(value) <= 2 * keep + 2 else f"{value[: keep + 2]}…{value[-4:]}"


def when(value: int | float | datetime | None) -> str:
    """A unix time or a datetime as ``2026-11-30 17:32 UTC``."""
    if value is None:
        return "—"
    moment = value if isinstance(value, datetime) else datetime.fromtimestamp(value, tz=UTC)
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def percent(bps: int | None) -> str:
    """Basis points as a percentage (``2,500`` -> ``25.00 %``)."""
    return "—" if bps is None else f"{bps / 100:.2f} %"


def figure(value: float | int | None, places: int = 4) -> str:
    """A metric with ``places`` decimals, or a dash."""
    return "—" if value is None else f"{value:.{places}f}"


templates = Jinja2Templates(directory=TEMPLATE_DIR)
templates.env.filters.update(tokens=tokens, short=short, when=when, percent=percent, figure=figure)


PAGE_HEADERS = {
    # scripts, styles and connections only from this service; no frames, no plugins, no <base>
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
"""Headers of every page: a session token lives in the page, so nothing foreign may run there."""


def render(
    request: Request, name: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    """Render template ``name`` with ``context`` (the request is added) and the page headers."""
    response = templates.TemplateResponse(request, name, context, status_code=status_code)
    response.headers.update(PAGE_HEADERS)
    return response


__all__ = [
    "PAGE_HEADERS",
    "TEMPLATE_DIR",
    "figure",
    "percent",
    "render",
    "short",
    "templates",
    "tokens",
    "when",
]
