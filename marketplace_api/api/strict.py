"""Request bodies validated strictly: what the OpenAPI schema refuses, the API refuses.

FastAPI validates bodies in pydantic's lax mode, which converts ``false`` to ``0`` for an integer
field and ``0`` to ``false`` for a boolean one, at any depth. :func:`strict_body` is a route
dependency that validates the JSON body once more in strict mode (which applies to every nested
model; the body is parsed by :mod:`json`, as FastAPI parses it), so a body the published schema
calls invalid is answered 422, naming the field, in the shape of every other 422, before the
route runs.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError


def strict_body(model: type[BaseModel]) -> Callable[[Request], Awaitable[None]]:
    """A dependency refusing a body that ``model`` accepts only by converting a value's type."""

    async def check(request: Request) -> None:
        try:
            parsed = json.loads(await request.body())
        except ValueError:
            return  # not JSON at all: FastAPI's own validation names it
        try:
            model.model_validate(parsed, strict=True)
        except ValidationError as exc:
            faults: list[dict[str, Any]] = [
                {**fault, "loc": ("body", *fault["loc"])}
                for fault in exc.errors(include_url=False, include_context=False)
            ]
            raise RequestValidationError(faults) from None

    return check


__all__ = ["strict_body"]
