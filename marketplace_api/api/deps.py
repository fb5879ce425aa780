"""Dependencies of the route handlers, as ``Annotated`` aliases.

``SessionDep`` opens one database session per request (closed afterwards, rolled back unless the
handler committed); ``ServicesDep`` is the app's :class:`~marketplace_api.services.Services`.
``CurrentUser`` is the account signed in with the request's ``Authorization: Bearer`` token
(Sign-In with Ethereum, :mod:`marketplace_api.auth`); a request without a valid session gets
401. The OpenAPI publishes the scheme as ``session`` (HTTP bearer). The getters that only read
an attribute are ``async``: FastAPI runs a sync dependency in the thread pool, a hop that costs
more than the read.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, cast

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from chain import DatasetRegistryClient, FedTaskClient
from chain.market import ModelMarketClient
from marketplace_api.auth import SignedInUser, SignInService, UnauthorizedError
from marketplace_api.content import ContentService
from marketplace_api.crud import Scope
from marketplace_api.errors import ForbiddenError
from marketplace_api.services import Services
from storage import ContentStore


async def get_services(request: Request) -> Services:
    """The services the app was created with."""
    return cast(Services, request.app.state.services)


ServicesDep = Annotated[Services, Depends(get_services)]


def get_session(services: ServicesDep) -> Iterator[Session]:
    """A database session for one request."""
    with services.database.session() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


async def get_registry(services: ServicesDep) -> DatasetRegistryClient:
    """The DatasetRegistry client, sending as the relayer."""
    return services.registry


RegistryDep = Annotated[DatasetRegistryClient, Depends(get_registry)]


async def get_fed_task(services: ServicesDep) -> FedTaskClient:
    """The read-only FedTask client."""
    return services.fed_task


FedTaskDep = Annotated[FedTaskClient, Depends(get_fed_task)]


async def get_market(services: ServicesDep) -> ModelMarketClient:
    """The read-only ModelMarket client."""
    return services.market


MarketDep = Annotated[ModelMarketClient, Depends(get_market)]


async def get_store(services: ServicesDep) -> ContentStore:
    """The content store."""
    return services.store


StoreDep = Annotated[ContentStore, Depends(get_store)]


async def get_scope(services: ServicesDep) -> Scope:
    """The deployment whose listings requests see."""
    return services.scope


ScopeDep = Annotated[Scope, Depends(get_scope)]


async def get_sign_in(services: ServicesDep) -> SignInService:
    """Sign-In with Ethereum: nonces and sessions."""
    return services.sign_in


SignInDep = Annotated[SignInService, Depends(get_sign_in)]


async def get_content(services: ServicesDep) -> ContentService:
    """Paid content: sealed uploads and keys granted to licensed buyers."""
    return services.content


ContentDep = Annotated[ContentService, Depends(get_content)]

bearer = HTTPBearer(
    scheme_name="session",
    bearerFormat="opaque session token (fms_...)",
    description="A session token from POST /auth/verify (Sign-In with Ethereum, EIP-4361).",
    auto_error=False,
)
"""The security scheme: ``Authorization: Bearer <token>``."""


def get_current_user(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    session: SessionDep,
    sign_in: SignInDep,
    scope: ScopeDep,
) -> SignedInUser:
    """The account the request's bearer token signs in.

    Raises
    ------
    UnauthorizedError
        No bearer token, or one unknown, expired or signed out (401).
    """
    if credentials is None:
        raise UnauthorizedError("sign in first: Authorization: Bearer <token from /auth/verify>")
    return sign_in.authenticate(session, credentials.credentials, deployment_id=scope.deployment_id)


CurrentUser = Annotated[SignedInUser, Depends(get_current_user)]


def ensure_signed_in_as(user: SignedInUser, address: str, role: str) -> None:
    """Refuse (403) a write by a session that is not ``address``'s.

    Parameters
    ----------
    user : SignedInUser
        Who the request's session signs in.
    address : str
        The account the write acts for (a listing's owner, a task's sponsor...).
    role : str
        What ``address`` is, for the message ("the listing's owner").

    Raises
    ------
    ForbiddenError
        The session is another account's.
    """
    if user.address.lower() != address.lower():
        raise ForbiddenError(f"signed in as {user.address}, but only {role} {address} may do this")


__all__ = [
    "ContentDep",
    "CurrentUser",
    "FedTaskDep",
    "MarketDep",
    "RegistryDep",
    "ScopeDep",
    "ServicesDep",
    "SessionDep",
    "SignInDep",
    "StoreDep",
    "bearer",
    "ensure_signed_in_as",
]
