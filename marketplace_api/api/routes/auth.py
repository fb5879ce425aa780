"""``/auth``: Sign-In with Ethereum (EIP-4361) and the sessions it opens.

1. ``GET /auth/nonce`` (or ``POST``): a single-use nonce with what the message must name (the
   domain and URI of this service, the chain id) and when it expires;
2. the wallet signs the EIP-4361 message (EIP-191 ``personal_sign``);
3. ``POST /auth/verify``: the service checks the message (domain, URI, chain, dates, nonce) and
   the signature, and answers a bearer token;
4. requests send ``Authorization: Bearer <token>``; ``GET /auth/session`` says who is signed
   in; ``DELETE /auth/session`` signs out.

A refused sign-in or a missing, expired or signed-out session is 401 with a ``Bearer``
challenge; a message that is not EIP-4361 at all is 422.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from eth_utils.address import to_checksum_address
from fastapi import APIRouter, Query, Request, Response, status

from marketplace_api.api.deps import CurrentUser, ScopeDep, SessionDep, SignInDep
from marketplace_api.api.limits import SignInLimit
from marketplace_api.auth import Challenge, SignedInUser
from marketplace_api.auth.messages import build_message
from marketplace_api.auth.schemas import (
    ChallengePublic,
    SessionIssued,
    SessionPublic,
    SignInRequest,
)
from marketplace_api.schemas import AddressStr

log = logging.getLogger(__name__)

router = APIRouter(prefix="/auth", tags=["auth"])

NO_STORE = {"Cache-Control": "no-store"}
_UNAUTHORIZED: dict[int | str, dict[str, Any]] = {
    401: {"description": "No valid session, or the sign-in was refused (WWW-Authenticate)."}
}


def _challenge(
    request: Request,
    response: Response,
    db: SessionDep,
    sign_in: SignInDep,
    scope: ScopeDep,
    address: str | None = None,
) -> ChallengePublic:
    challenge: Challenge = sign_in.issue_challenge(
        db,
        deployment_id=scope.deployment_id,
        chain_id=scope.chain_id,
        origin=sign_in.policy.origin(str(request.base_url)),
    )
    db.commit()
    response.headers.update(NO_STORE)
    public = ChallengePublic(
        nonce=challenge.nonce,
        issued_at=challenge.issued_at,
        expires_at=challenge.expires_at,
        session_expires_at=challenge.session_expires_at,
        domain=challenge.domain,
        uri=challenge.uri,
        chain_id=challenge.chain_id,
        statement=challenge.statement,
    )
    if address is not None:
        fields = public.model_dump()
        public.message = build_message(fields, to_checksum_address(address), now=public.issued_at)
    return public


@router.get(
    "/nonce",
    response_model=ChallengePublic,
    dependencies=[SignInLimit],
)
def read_nonce(
    request: Request,
    response: Response,
    db: SessionDep,
    sign_in: SignInDep,
    scope: ScopeDep,
    address: Annotated[
        AddressStr | None, Query(description="The signer: the answer then holds the message.")
    ] = None,
) -> Any:
    """A fresh single-use nonce and what the sign-in message must name."""
    return _challenge(request, response, db, sign_in, scope, address)


@router.post(
    "/nonce",
    response_model=ChallengePublic,
    status_code=status.HTTP_201_CREATED,
    dependencies=[SignInLimit],
)
def create_nonce(
    request: Request, response: Response, db: SessionDep, sign_in: SignInDep, scope: ScopeDep
) -> Any:
    """The same as ``GET /auth/nonce``, for clients that create state only with POST."""
    return _challenge(request, response, db, sign_in, scope)


def _session(user: SignedInUser) -> SessionPublic:
    return SessionPublic(
        address=user.address, public_key="0x" + user.public_key.hex(), expires_at=user.expires_at
    )


@router.post(
    "/verify",
    response_model=SessionIssued,
    responses={**_UNAUTHORIZED, 422: {"description": "Not an EIP-4361 message."}},
)
def create_session(
    body: SignInRequest,
    request: Request,
    response: Response,
    db: SessionDep,
    sign_in: SignInDep,
    scope: ScopeDep,
) -> Any:
    """Verify a signed sign-in message and open a session: answers the bearer token."""
    issued = sign_in.sign_in(
        db,
        message=body.message,
        signature=body.signature,
        deployment_id=scope.deployment_id,
        chain_id=scope.chain_id,
        origin=sign_in.policy.origin(str(request.base_url)),
    )
    db.commit()
    response.headers.update(NO_STORE)
    return SessionIssued(**_session(issued.user).model_dump(), token=issued.token)


@router.get("/session", response_model=SessionPublic, responses=_UNAUTHORIZED)
def read_session(user: CurrentUser) -> Any:
    """Who the bearer token signs in, with which public key, until when."""
    return _session(user)


@router.delete("/session", status_code=status.HTTP_204_NO_CONTENT, responses=_UNAUTHORIZED)
def delete_session(user: CurrentUser, db: SessionDep, sign_in: SignInDep) -> Response:
    """Sign out: the bearer token stops working at once."""
    sign_in.sign_out(db, user)
    db.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
