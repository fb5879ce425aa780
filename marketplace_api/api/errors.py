"""The one place where exceptions become HTTP responses.

Every 4xx answer has FastAPI's shape: ``{"detail": [{"loc": [...], "msg": ..., "type": ...}]}``
when a field is at fault (422), ``{"detail": "..."}`` otherwise.

Project errors are answered by their *family* (:mod:`kernel.errors`), in this order:

================================================  ======================================
exception                                         answer
================================================  ======================================
request validation (pydantic)                     422, each field named (input not echoed)
:class:`FieldError`                               422 naming the field
relay refusals (:mod:`marketplace_api.relay`)     429 (rate limit, gas budget) or 503 (relayer
                                                  balance low), with ``Retry-After``
:class:`ChainRevertError`                         by error name (:data:`REVERTS`), else 409
content store errors (:class:`StoreError`)        503: the store behind the API failed
chain client errors (:class:`ChainError`)         503 when unreachable, else 502
:class:`UnauthorizedError`                        401 with ``WWW-Authenticate: Bearer``
:class:`ForbiddenError`                           403 (a refusal more precise than 409)
any other fedmarket error, by family              :data:`FAMILY_STATUS`
chain node unreachable (web3, requests)           503
database unique or foreign-key violation          409
database unreachable                              503
anything else                                     500 ``{"detail": "internal error"}``
================================================  ======================================

Errors raised by the services behind the API (the content store, the chain client) are answered
as a failure of that service whatever their family: the client did not name the CID or the
deployment that went missing, the API did.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import requests.exceptions
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import IntegrityError as DbIntegrityError
from starlette import status
from web3.exceptions import ProviderConnectionError, TimeExhausted

from chain import ChainError, ChainRevertError
from kernel.errors import (
    FedmarketError,
    IntegrityError,
    InvalidInputError,
    NotFoundError,
    OperationTimeoutError,
    ProtocolError,
    RefusedError,
    ServiceUnavailableError,
    family_of,
)
from marketplace_api.auth.errors import UnauthorizedError
from marketplace_api.errors import FieldError, ForbiddenError
from marketplace_api.relay import RetryLater
from storage import StoreError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RevertAnswer:
    """How a contract's custom error is answered.

    Attributes
    ----------
    status : int
        HTTP status.
    message : str
        ``str.format`` template over the error's arguments.
    loc : tuple of str or None
        The request field at fault (422 answers), or ``None``.
    """

    status: int
    message: str
    loc: tuple[str, ...] | None = None


REVERTS: dict[str, RevertAnswer] = {
    "RegistryDuplicateListing": RevertAnswer(
        409, "{owner} already listed this metadata as dataset {datasetId}"
    ),
    "RegistryInvalidPrice": RevertAnswer(
        422, "access mode {accessMode} does not take a price of {price} wei", ("body", "price_wei")
    ),
    "RegistryExpiredSignature": RevertAnswer(
        422, "the signature expired at {deadline}", ("body", "deadline")
    ),
    "RegistryInvalidSigner": RevertAnswer(
        422, "signed by {signer}, not by the owner {owner}", ("body", "signature")
    ),
    "RegistryZeroHash": RevertAnswer(422, "the metadata hash is zero", ("body",)),
    "RegistryUnknownDataset": RevertAnswer(404, "dataset {datasetId} is not listed on-chain"),
    "TaskUnknown": RevertAnswer(404, "task {taskId} does not exist"),
    "MarketUnknownModel": RevertAnswer(404, "model {modelId} is not listed on the ModelMarket"),
    "EnforcedPause": RevertAnswer(503, "the contract is paused; try again later"),
}
"""Contract errors with a specific answer; any other revert is a 409 naming the error."""

FAMILY_STATUS: dict[type[FedmarketError], int] = {
    InvalidInputError: status.HTTP_400_BAD_REQUEST,
    NotFoundError: status.HTTP_404_NOT_FOUND,
    RefusedError: status.HTTP_409_CONFLICT,
    ServiceUnavailableError: status.HTTP_503_SERVICE_UNAVAILABLE,
    IntegrityError: status.HTTP_502_BAD_GATEWAY,
    ProtocolError: status.HTTP_502_BAD_GATEWAY,
    OperationTimeoutError: status.HTTP_504_GATEWAY_TIMEOUT,
}
"""The answer to a project error by its family (every family has one).

Invalid input that names no field is a 400 (field errors are :class:`FieldError`, 422); a
refusal is a 409 unless it is a :class:`ForbiddenError` (403); bytes that fail their hash or a
peer that breaks a protocol mean something behind the API answered wrongly (502).
"""

_CHAIN_UNREACHABLE = (
    requests.exceptions.RequestException,
    ProviderConnectionError,
    TimeExhausted,
    ConnectionError,
    TimeoutError,
)
"""Foreign exceptions that mean the chain node could not be reached in time."""

CHAIN_DOWN: tuple[type[Exception], ...] = (FedmarketError, *_CHAIN_UNREACHABLE)
"""What a page that needs the chain answers with a page of its own (not the API's JSON 503)."""


def _validation_body(errors: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "detail": [
            {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e.get("type")}
            for e in errors
        ]
    }


def _detail(status_code: int, message: str) -> JSONResponse:
    return JSONResponse(status_code=status_code, content={"detail": message})


def revert_response(exc: ChainRevertError) -> JSONResponse:
    """The answer to a contract revert (see :data:`REVERTS`)."""
    answer = REVERTS.get(exc.error_name)
    if answer is None:
        return _detail(status.HTTP_409_CONFLICT, f"rejected by the contract: {exc}")
    args = {k: ("0x" + v.hex() if isinstance(v, bytes) else v) for k, v in exc.error_args.items()}
    try:
        message = answer.message.format(**args)
    except (KeyError, IndexError):
        message = str(exc)
    if answer.loc is not None:
        body = _validation_body([{"loc": answer.loc, "msg": message, "type": "chain_revert"}])
        return JSONResponse(status_code=answer.status, content=body)
    return _detail(answer.status, message)


def retry_later_response(exc: RetryLater) -> JSONResponse:
    """The answer to a relay refusal: its status, ``Retry-After`` and a detail naming the limit."""
    return JSONResponse(
        status_code=exc.status_code,
        content={"detail": str(exc)},
        headers={"Retry-After": str(exc.retry_after)},
    )


def _unavailable(what: str, exc: BaseException) -> JSONResponse:
    log.warning("unavailable: %s: %s: %s", what, type(exc).__name__, exc)
    return _detail(status.HTTP_503_SERVICE_UNAVAILABLE, f"{what} is unavailable; try again later")


def _service_response(where: str, exc: StoreError | ChainError) -> JSONResponse:
    """The answer to an error of a service behind the API (the content store, the chain)."""
    if isinstance(exc, StoreError):
        return _unavailable("the content store", exc)
    if isinstance(exc, ServiceUnavailableError):
        return _unavailable("the chain node", exc)
    log.error("%s: chain error: %s", where, exc)
    return _detail(status.HTTP_502_BAD_GATEWAY, f"the chain refused the transaction: {exc}")


def _family_response(where: str, exc: FedmarketError) -> JSONResponse:
    """The answer to a project error, by its family (:data:`FAMILY_STATUS`)."""
    if isinstance(exc, UnauthorizedError):
        return JSONResponse(
            status_code=status.HTTP_401_UNAUTHORIZED,
            content={"detail": str(exc)},
            headers={"WWW-Authenticate": 'Bearer realm="fedmarket"'},
        )
    if isinstance(exc, ForbiddenError):
        return _detail(status.HTTP_403_FORBIDDEN, str(exc))
    family = family_of(type(exc))
    if family is None:  # a root raised itself: a bug, answered like any unexpected error
        log.error("%s: %s has no error family: %s", where, type(exc).__name__, exc)
        return _detail(status.HTTP_500_INTERNAL_SERVER_ERROR, "internal error")
    if family is ServiceUnavailableError:
        return _unavailable(str(exc), exc)
    code = FAMILY_STATUS[family]
    if code >= 500:
        log.error("%s: %s: %s", where, type(exc).__name__, exc)
    return _detail(code, str(exc))


def to_response(request: Request, exc: Exception) -> JSONResponse:
    """The HTTP answer to ``exc`` raised while serving ``request``.

    Parameters
    ----------
    request : Request
        The request being served (for logs).
    exc : Exception
        What the handler raised.
    """
    where = f"{request.method} {request.url.path}"
    if isinstance(exc, RequestValidationError):
        return JSONResponse(status_code=422, content=_validation_body(list(exc.errors())))
    if isinstance(exc, FieldError):
        return JSONResponse(status_code=422, content=_validation_body(exc.errors))
    if isinstance(exc, RetryLater):
        return retry_later_response(exc)
    if isinstance(exc, ChainRevertError):
        log.info("%s: contract rejected: %s", where, exc)
        return revert_response(exc)
    if isinstance(exc, StoreError | ChainError):
        return _service_response(where, exc)
    if isinstance(exc, FedmarketError):
        return _family_response(where, exc)
    if isinstance(exc, _CHAIN_UNREACHABLE):
        return _unavailable("the chain node", exc)
    if isinstance(exc, DbIntegrityError):
        log.info("%s: constraint violated: %s", where, exc.orig)
        return _detail(status.HTTP_409_CONFLICT, "conflicts with a recorded listing")
    if isinstance(exc, DBAPIError):
        return _unavailable("the database", exc)
    # the server logs the traceback too (Starlette re-raises after answering)
    log.error("%s: unexpected %s: %s", where, type(exc).__name__, exc)
    return _detail(status.HTTP_500_INTERNAL_SERVER_ERROR, "internal error")


HANDLED: tuple[type[Exception], ...] = (
    RequestValidationError,
    FedmarketError,
    DBAPIError,
    *_CHAIN_UNREACHABLE,
    Exception,
)
"""Exception types routed through :func:`to_response` (``Exception`` last: a JSON 500)."""


def install(app: FastAPI) -> None:
    """Register :func:`to_response` for every exception type it maps."""

    async def handler(request: Request, exc: Exception) -> JSONResponse:
        return to_response(request, exc)

    for exc_type in HANDLED:
        app.add_exception_handler(exc_type, handler)


__all__ = [
    "FAMILY_STATUS",
    "HANDLED",
    "REVERTS",
    "RevertAnswer",
    "install",
    "retry_later_response",
    "revert_response",
    "to_response",
]
