"""Dependencies of the route handlers, as ``Annotated`` aliases.

``SessionDep`` opens one database session per request (closed afterwards, rolled back unless the
handler committed); ``ServicesDep`` is the app's :class:`~marketplace_api.services.Services`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, cast

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from chain import DatasetRegistryClient, FedTaskClient
from chain.market import ModelMarketClient
from marketplace_api.crud import Scope
from marketplace_api.services import Services
from storage import ContentStore


def get_services(request: Request) -> Services:
    """The services the app was created with."""
    return cast(Services, request.app.state.services)


ServicesDep = Annotated[Services, Depends(get_services)]


def get_session(services: ServicesDep) -> Iterator[Session]:
    """A database session for one request."""
    with services.database.session() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def get_registry(services: ServicesDep) -> DatasetRegistryClient:
    """The DatasetRegistry client, sending as the relayer."""
    return services.registry


RegistryDep = Annotated[DatasetRegistryClient, Depends(get_registry)]


def get_fed_task(services: ServicesDep) -> FedTaskClient:
    """The read-only FedTask client."""
    return services.fed_task


FedTaskDep = Annotated[FedTaskClient, Depends(get_fed_task)]


def get_market(services: ServicesDep) -> ModelMarketClient:
    """The read-only ModelMarket client."""
    return services.market


MarketDep = Annotated[ModelMarketClient, Depends(get_market)]


def get_store(services: ServicesDep) -> ContentStore:
    """The content store."""
    return services.store


StoreDep = Annotated[ContentStore, Depends(get_store)]


def get_scope(services: ServicesDep) -> Scope:
    """The deployment whose listings requests see."""
    return services.scope


ScopeDep = Annotated[Scope, Depends(get_scope)]

__all__ = [
    "FedTaskDep",
    "MarketDep",
    "RegistryDep",
    "ScopeDep",
    "ServicesDep",
    "SessionDep",
    "StoreDep",
]
