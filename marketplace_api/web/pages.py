"""The router of every page: the catalogue, tasks, models, accounts and transactions."""

from __future__ import annotations

from fastapi import APIRouter

from marketplace_api.web import accounts, catalogue, tasks, trade

router = APIRouter(include_in_schema=False)
for _pages in (catalogue.router, tasks.router, trade.router, accounts.router):
    router.include_router(_pages)

__all__ = ["router"]
