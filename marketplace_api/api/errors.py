"""The one place where exceptions become HTTP responses.

Every 4xx answer has FastAPI's shape: ``{"detail": [{"loc": [...], "msg": ..., "type": ...}]}``
when a field is at fault (422), ``{"detail": "..."}`` otherwise (403, 404, 409, 413, 503).

================================================  ======================================
exception                                         answer
================================================  ======================================
request validation (pydantic)                     422, each field named (input not echoed)
:class:`FieldError`                               422 naming the field
:class:`ForbiddenError`                           403
:class:`NotFoundError`                            404
:class:`ConflictError`                            409
:class:`ChainRevertError`                         by error name (:data:`REVERTS`), else 409
chain node / database / store unreachable         503
:class:`TransactionFailedError`, other chain      502
database unique or foreign-key violation          409
anything else                                     500 ``{"detail": "internal error"}``
================================================  ======================================
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import requests.exceptions
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, IntegrityError
from starlette import status
from web3.exceptions import ProviderConnectionError, TimeExhausted

from chain import ChainConnectionError, ChainError, ChainRevertError, TransactionFailedError
from marketplace_api.errors import (
    ConflictError,
    FieldError,
    ForbiddenError,
    NotFoundError,
    ServiceUnavailableError,
)
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
        409, "this metadata is already listed as dataset {datasetId}"
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
}
"""Contract errors with a specific answer; any other revert is a 409 naming the error."""


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


def _unavailable(what: str, exc: BaseException) -> JSONResponse:
    log.warning("unavailable: %s: %s: %s", what, type(exc).__name__, exc)
    return _detail(status.HTTP_503_SERVICE_UNAVAILABLE, f"{what} is unavailable; try again later")


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
    if isinstance(exc, ForbiddenError):
        return _detail(status.HTTP_403_FORBIDDEN, str(exc))
    if isinstance(exc, NotFoundError):
        return _detail(status.HTTP_404_NOT_FOUND, str(exc))
    if isinstance(exc, ConflictError):
        return _detail(status.HTTP_409_CONFLICT, str(exc))
    if isinstance(exc, ChainRevertError):
        log.info("%s: contract rejected: %s", where, exc)
        return revert_response(exc)
    if isinstance(exc, ServiceUnavailableError):
        return _unavailable(str(exc), exc)
    if isinstance(
        exc,
        ChainConnectionError
        | requests.exceptions.RequestException
        | ProviderConnectionError
        | TimeExhausted
        | ConnectionError
        | TimeoutError,
    ):
        return _unavailable("the chain node", exc)
    if isinstance(exc, TransactionFailedError | ChainError):
        log.error("%s: chain error: %s", where, exc)
        return _detail(status.HTTP_502_BAD_GATEWAY, f"the chain refused the transaction: {exc}")
    if isinstance(exc, StoreError):
        return _unavailable("the content store", exc)
    if isinstance(exc, IntegrityError):
        log.info("%s: constraint violated: %s", where, exc.orig)
        return _detail(status.HTTP_409_CONFLICT, "conflicts with a recorded listing")
    if isinstance(exc, DBAPIError):
        return _unavailable("the database", exc)
    # the server logs the traceback too (Starlette re-raises after answering)
    log.error("%s: unexpected %s: %s", where, type(exc).__name__, exc)
    return _detail(status.HTTP_500_INTERNAL_SERVER_ERROR, "internal error")


HANDLED: tuple[type[Exception], ...] = (
    RequestValidationError,
    FieldError,
    ForbiddenError,
    NotFoundError,
    ConflictError,
    ServiceUnavailableError,
    ChainError,
    StoreError,
    DBAPIError,
    requests.exceptions.RequestException,
    ProviderConnectionError,
    TimeExhausted,
    ConnectionError,
    TimeoutError,
    Exception,
)
"""Exception types routed through :func:`to_response` (``Exception`` last: a JSON 500)."""


def install(app: FastAPI) -> None:
    """Register :func:`to_response` for every exception type it maps."""

    async def handler(request: Request, exc: Exception) -> JSONResponse:
        return to_response(request, exc)

    for exc_type in HANDLED:
        app.add_exception_handler(exc_type, handler)


__all__ = ["HANDLED", "REVERTS", "RevertAnswer", "install", "revert_response", "to_response"]
