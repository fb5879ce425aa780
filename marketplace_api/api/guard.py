"""A guard in front of the JSON parser: hostile request bodies refused before anyone parses them.

:class:`JsonGuard` (ASGI middleware, inside the body size limit of :mod:`marketplace_api.main`)
reads a JSON request body whole and scans it with :func:`json_fault`, without recursion and
without parsing it: arrays and objects nested deeper than :attr:`JsonLimits.max_depth`, a number
literal longer than :attr:`JsonLimits.max_number_chars` or too large for a float (``1e400``), and
the non-standard ``NaN``, ``Infinity`` and ``-Infinity`` are answered 422 naming the body, in the
shape of every other 422 (:mod:`marketplace_api.api.errors`). Everything else goes on to FastAPI
unchanged, which then parses a body it knows to be shallow and finite.

The scan is a few passes of compiled regular expressions, byte translations and substring searches
(strings are blanked first: brackets, digits and letters inside them do not count), so its cost is
linear in the body's length and, measured on this machine, no slower than ``json.loads`` of the
same body (tens of milliseconds a megabyte; the worst case, a megabyte of exponents over 300 each
converted to check it, costs about what parsing it does).
"""

from __future__ import annotations

import json
import logging
import math
import re
from dataclasses import dataclass
from itertools import accumulate

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+(?:"|\\?\Z)', re.DOTALL)
"""A JSON string, or an unterminated one running to the end (possessive: never backtracks)."""
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")  # as signed bytes: +1 in, -1 out
_RUNS = bytes(ord("n") if b in b"0123456789.eE+-" else ord(" ") for b in range(256))
"""Marks the characters a number literal is made of ``n``, all others a space."""
_BIG_NUMBER = re.compile(
    rb"(?<![0-9.])-?[0-9]+(?:\.[0-9]+)?[eE]\+?0*(?:[3-9][0-9]{2}|[1-9][0-9]{3,})(?![0-9])"
)
"""A number literal with an exponent of 300 or more: only those can overflow in 64 characters."""
_BIG_EXPONENT = re.compile(rb"[eE]\+?0*(?:[3-9][0-9]{2}|[1-9][0-9]{3,})")
"""The exponent alone: a quick look for whether :data:`_BIG_NUMBER` has anything to find."""
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class JsonLimits:
    """What a JSON request body may hold.

    Attributes
    ----------
    max_depth : int, default 32
        Deepest nesting of arrays and objects.
    max_number_chars : int, default 64
        Longest number literal (sign, digits, point and exponent).
    """

    max_depth: int = 32
    max_number_chars: int = 64


@dataclass(frozen=True)
class JsonFault:
    """Why a body was refused: a pydantic-style error ``type`` and a message."""

    type: str
    msg: str

    def body(self) -> bytes:
        """The 422 answer: FastAPI's validation shape, the location naming the body."""
        detail = [{"loc": ["body"], "msg": self.msg, "type": self.type}]
        return json.dumps({"detail": detail}).encode()


def json_fault(data: bytes, limits: JsonLimits = JsonLimits()) -> JsonFault | None:
    """What makes the JSON text ``data`` unsafe to parse, or ``None``.

    Malformed JSON is not a fault here: the parser refuses it (safely) afterwards.

    Parameters
    ----------
    data : bytes
        A request body.
    limits : JsonLimits, default JsonLimits()
        The bounds.
    """
    bare = _STRING.sub(b'""', data) if b'"' in data else data
    if _too_deep(bare, limits.max_depth):
        return JsonFault("json_too_deep", f"JSON nests deeper than {limits.max_depth} levels")
    if b"NaN" in bare or b"Infinity" in bare:
        return JsonFault("json_not_finite", "NaN and Infinity are not JSON numbers")
    runs = bare.translate(_RUNS)
    if b"n" * (limits.max_number_chars + 1) in runs:
        return JsonFault(
            "json_number_too_long",
            f"a number is longer than {limits.max_number_chars} characters",
        )
    big = _BIG_EXPONENT.search(bare) is not None
    if big and any(map(math.isinf, map(float, _BIG_NUMBER.findall(bare)))):
        return JsonFault("json_number_overflow", "a number is too large for a float")
    return None


def _too_deep(bare: bytes, limit: int) -> bool:
    if bare.count(b"[") + bare.count(b"{") <= limit:
        return False
    steps = bare.translate(_STEPS, _NOT_BRACKETS)
    return bool(steps) and max(accumulate(memoryview(steps).cast("b"))) > limit


def _is_json(scope: Scope) -> bool:
    """Whether FastAPI would parse the request's body as JSON (no content type counts)."""
    for name, value in scope.get("headers", []):
        if name == b"content-type":
            kind: bytes = value.split(b";", 1)[0].strip().lower()
            return kind == b"application/json" or (
                kind.startswith(b"application/") and kind.endswith(b"+json")
            )
    return True


class JsonGuard:
    """Refuse JSON request bodies that :func:`json_fault` finds unsafe, with 422.

    Parameters
    ----------
    app : ASGIApp
        The wrapped application.
    limits : JsonLimits, default JsonLimits()
        The bounds.
    """

    def __init__(self, app: ASGIApp, limits: JsonLimits = JsonLimits()) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Read the body whole, scan it, then hand it on (or answer 422)."""
        if scope["type"] != "http" or scope.get("method") not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        if not _is_json(scope):
            await self.app(scope, receive, send)
            return
        try:
            body = await _read_body(receive)
        except HTTPException as exc:  # the body size limit, raised from its receive
            await _send(send, exc.status_code, json.dumps({"detail": exc.detail}).encode())
            return
        if body is None:  # the client went away
            return
        fault = json_fault(body, self.limits)
        if fault is not None:
            log.info("json_guard: %s %s refused: %s", scope["method"], scope["path"], fault.msg)
            await _send(send, 422, fault.body())
            return
        await self.app(scope, _replay(body, receive), send)


async def _read_body(receive: Receive) -> bytes | None:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands over ``body`` once, then defers to the server's."""
    delivered = False

    async def replay() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _send(send: Send, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


__all__ = ["JsonFault", "JsonGuard", "JsonLimits", "json_fault"]
