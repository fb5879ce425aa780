"""The error answers of the API as the OpenAPI document publishes them.

Every error body has one of two shapes (see :mod:`marketplace_api.api.errors`, the one place
that renders them): :class:`ApiError` (``{"detail": "..."}``) for every status but 422, and
:class:`ApiValidationError` (``{"detail": [{"loc", "msg", "type"}, ...]}``) for 422, when a
field is at fault. A route declares the errors it can answer in one line::

    @router.post("", responses=errors(401, 403, (409, "Already listed: the detail names it.")))

:func:`install` then completes the document of the whole application: it adds the errors any
route can answer (413 for a body over the limit, 422 where a request has parameters or a body,
400 for a body that is not even JSON, 401 where a session is required, and what the route's
dependencies declare with :func:`declare_dependency`: 503 on everything that uses the services
behind the API, 502 on what talks to the chain, 429 behind a rate limit), gives every error
response its schema, and publishes integer bounds as integers (FastAPI's document model turns
``le=2**63 - 1`` into the float ``9.223372036854776e18``, which is another number).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi._compat import get_definitions, get_flat_models_from_fields, get_model_name_map
from fastapi.dependencies.models import Dependant
from fastapi.encoders import jsonable_encoder
from fastapi.openapi.utils import get_fields_from_routes, get_openapi
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel, ConfigDict, Field


class FieldFault(BaseModel):
    """One field at fault."""

    model_config = ConfigDict(extra="forbid")

    loc: list[str | int] = Field(
        description='Where the fault is, e.g. ``["body", "statistics"]``, ``["query", "owner"]``.'
    )
    msg: str = Field(description="What is wrong, for humans.")
    type: str = Field(description="Machine-readable kind of the fault.")


class ApiError(BaseModel):
    """An error answer: what went wrong, for humans."""

    model_config = ConfigDict(extra="forbid")

    detail: str


class ApiValidationError(BaseModel):
    """A 422 answer: every field at fault (the input itself is never echoed)."""

    model_config = ConfigDict(extra="forbid")

    detail: list[FieldFault]


DESCRIPTIONS: dict[int, str] = {
    400: "The body could not be parsed at all (not JSON, not UTF-8).",
    401: "No valid session: sign in first (see /auth). Carries WWW-Authenticate: Bearer.",
    403: "Signed in, but not allowed to do this (not the owner, sponsor or buyer).",
    404: "No such resource.",
    409: "Conflicts with what is recorded (on-chain or in the index).",
    413: "The request body is larger than the service accepts.",
    422: "A field of the request is invalid: each one is named.",
    429: "Too many requests, or the gas budget is spent: retry after Retry-After seconds.",
    502: "A service behind the API (the chain) answered wrongly or refused the transaction.",
    503: "A service behind the API (database, chain node, content store) is unavailable.",
    504: "A service behind the API did not answer in time.",
}
"""The default description of each error status."""

ALWAYS: tuple[int, ...] = (413,)
"""Errors any operation can answer: a body over the limit (the size limit is middleware)."""

ErrorSpec = int | tuple[int, str]
"""A status, or a status with the route's own description of it."""


def error_response(status: int, description: str | None = None) -> dict[str, Any]:
    """The ``responses`` entry of one error status, with its body model."""
    model = ApiValidationError if status == 422 else ApiError
    return {"model": model, "description": description or DESCRIPTIONS[status]}


def errors(*specs: ErrorSpec) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` argument of a route that can answer these errors.

    Parameters
    ----------
    *specs : int or (int, str)
        Each status, optionally with the route's description of when it happens.

    Examples
    --------
    >>> sorted(errors(404, (409, "Already listed."))) == [404, 409]
    True
    """
    out: dict[int | str, dict[str, Any]] = {}
    for spec in specs:
        status, description = spec if isinstance(spec, tuple) else (spec, None)
        out[status] = error_response(status, description)
    return out


DEPENDENCY_ERRORS: dict[Callable[..., Any], dict[int | str, dict[str, Any]]] = {}
"""Errors a route dependency answers, added to every operation that depends on it."""


def declare_dependency(dependency: Callable[..., Any], *specs: ErrorSpec) -> None:
    """Document ``specs`` on every operation that depends on ``dependency``, however deeply.

    A rate limit or a sign-in check answers its errors before the handler runs; declared once
    here, beside the dependency, every route using it publishes them::

        declare_dependency(relay_gate, (429, "Write limit or gas budget reached."), 503)
    """
    DEPENDENCY_ERRORS.setdefault(dependency, {}).update(errors(*specs))


def _dependency_calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _dependency_calls(sub)


def _dependency_errors(app: FastAPI) -> Iterator[tuple[str, str, int | str, dict[str, Any]]]:
    """``(path, method, status, response)`` of each error a route's dependencies declare."""
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        for call in _dependency_calls(route.dependant):
            for status, response in DEPENDENCY_ERRORS.get(call, {}).items():
                for method in context.methods or ():
                    yield str(context.path_format), method.lower(), status, response


def _schema_ref(model: type[BaseModel]) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}


def _complete_operation(operation: dict[str, Any]) -> None:
    """Add the errors any such operation can answer, and a schema to every error response."""
    responses: dict[str, Any] = operation.setdefault("responses", {})
    statuses = list(ALWAYS)
    if operation.get("security"):
        statuses.append(401)
    if operation.get("parameters") or operation.get("requestBody"):
        statuses.append(422)
    if operation.get("requestBody"):
        statuses.append(400)
    for status in statuses:
        responses.setdefault(str(status), {"description": DESCRIPTIONS[status]})
    for key, response in responses.items():
        if not key.isdigit() or int(key) < 400:
            continue
        if "content" not in response:
            model = ApiValidationError if key == "422" else ApiError
            response["content"] = _schema_ref(model)
        elif key == "422":  # FastAPI's own HTTPValidationError allows any "type"; ours is exact
            schema = response["content"].get("application/json", {}).get("schema", {})
            if schema.get("$ref", "").endswith("/HTTPValidationError"):
                response["content"] = _schema_ref(ApiValidationError)


def _exact_components(app: FastAPI) -> dict[str, Any]:
    """The component schemas as pydantic writes them (integers stay integers)."""
    fields = get_fields_from_routes(app.routes)
    flat = get_flat_models_from_fields(fields, known_models=set())
    _, definitions = get_definitions(
        fields=fields,
        model_name_map=get_model_name_map(flat),
        separate_input_output_schemas=app.separate_input_output_schemas,
    )
    return dict(jsonable_encoder(definitions))


def _error_components() -> dict[str, Any]:
    """The schemas of :class:`ApiError` and :class:`ApiValidationError`."""
    out: dict[str, Any] = {}
    for model in (ApiError, ApiValidationError):
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        out.update(schema.pop("$defs", {}))
        out[model.__name__] = schema
    return out


BOUNDS = frozenset({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"})
"""Keywords whose value is a number the document must publish exactly."""
EXACT_FLOAT = 2**53
"""Every integer below this is exactly a float: an integral float bound below it is that integer."""


def integral_bounds(node: Any) -> Any:
    """``node`` with every integral float bound under :data:`EXACT_FLOAT` written as an integer.

    A float bound of a ``number`` field (``le=1e15``) is then ``1000000000000000``, the same
    number to JSON Schema, which no client can mistake for a rounded integer limit.
    """
    if isinstance(node, dict):
        return {
            key: int(value)
            if key in BOUNDS
            and isinstance(value, float)
            and value.is_integer()
            and abs(value) < EXACT_FLOAT
            else integral_bounds(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [integral_bounds(value) for value in node]
    return node


def complete_document(app: FastAPI, document: dict[str, Any]) -> dict[str, Any]:
    """``document`` with every operation's errors, exact integers and the error schemas."""
    for path, method, status, response in _dependency_errors(app):
        operation = document.get("paths", {}).get(path, {}).get(method)
        if operation is not None:
            declared = {k: v for k, v in response.items() if k != "model"}
            operation.setdefault("responses", {}).setdefault(str(status), declared)
    for path in document.get("paths", {}).values():
        for operation in path.values():
            if isinstance(operation, dict) and "responses" in operation:
                _complete_operation(operation)
    schemas: dict[str, Any] = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(_exact_components(app))
    schemas.update(_error_components())
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    document["components"]["schemas"] = dict(sorted(schemas.items()))
    return dict(integral_bounds(document))


def install(app: FastAPI) -> None:
    """Have ``app`` publish the completed document (built once, on first request)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                openapi_version=app.openapi_version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
                tags=app.openapi_tags,
                servers=app.servers,
                separate_input_output_schemas=app.separate_input_output_schemas,
            )
            app.openapi_schema = complete_document(app, document)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


__all__ = [
    "ALWAYS",
    "DESCRIPTIONS",
    "ApiError",
    "ApiValidationError",
    "DEPENDENCY_ERRORS",
    "ErrorSpec",
    "FieldFault",
    "declare_dependency",
    "error_response",
    "errors",
    "install",
]
