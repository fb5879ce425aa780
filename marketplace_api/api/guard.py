"""A guard in front of the JSON parser: hostile request bodies refused before anyone parses them.

:class:`JsonGuard` (ASGI middleware, inside the body size limit of :mod:`marketplace_api.main`)
reads a JSON request body whole and scans it with :func:`json_fault`, without recursion and
without parsing it: arrays and objects nested deeper than :attr:`JsonLimits.max_depth`, a number
literal longer than :attr:`JsonLimits.max_number_chars` or too large for a float (``1e400``), and
the non-standard ``NaN``, ``Infinity`` and ``-Infinity`` are answered 422 in the shape of every
other 422 (:mod:`marketplace_api.api.errors`). Too deep a body is named as a whole (``["body"]``);
a refused number is named by its field, as pydantic would (``["body", "statistics", "count"]``),
found by parsing the body, now known to be shallow, with the refused numbers never converted.
Everything else goes on to FastAPI unchanged, which then parses a body it knows to be shallow and
finite.

The scan is a few passes of compiled regular expressions, byte translations and substring searches
(strings are blanked first: brackets, digits and letters inside them do not count), so its cost is
linear in the body's length and, measured on this machine, no slower than ``json.loads`` of the
same body (tens of milliseconds a megabyte; the worst case, a megabyte of exponents over 200 each
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
    rb"(?<![0-9.])-?[0-9]+(?:\.[0-9]+)?[eE]\+?0*(?:[2-9][0-9]{2}|[1-9][0-9]{3,})(?![0-9])"
)
"""A number literal with an exponent of 200 or more: only those can overflow in 80 characters
(a mantissa of at most 80 digits times 1e199 stays below 1e280)."""
_BIG_EXPONENT = re.compile(rb"[eE]\+?0*(?:[2-9][0-9]{2}|[1-9][0-9]{3,})")
"""The exponent alone: a quick look for whether :data:`_BIG_NUMBER` has anything to find."""
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class JsonLimits:
    """What a JSON request body may hold.

    Attributes
    ----------
    max_depth : int, default 32
        Deepest nesting of arrays and objects.
    max_number_chars : int, default 80
        Longest number literal (sign, digits, point and exponent): every ``uint256`` integer
        (78 digits) fits.
    """

    max_depth: int = 32
    max_number_chars: int = 80


@dataclass(frozen=True)
class JsonFault:
    """Why a body was refused: a pydantic-style error ``type`` and a message."""

    type: str
    msg: str
    loc: tuple[str | int, ...] = ("body",)

    def body(self) -> bytes:
        """The 422 answer: FastAPI's validation shape, the location naming the field."""
        detail = [{"loc": list(self.loc), "msg": self.msg, "type": self.type}]
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
        fault = JsonFault("json_not_finite", "NaN and Infinity are not JSON numbers")
        return _located(data, fault, limits)
    runs = bare.translate(_RUNS)
    if b"n" * (limits.max_number_chars + 1) in runs:
        fault = JsonFault(
            "json_number_too_long",
            f"a number is longer than {limits.max_number_chars} characters",
        )
        return _located(data, fault, limits)
    big = _BIG_EXPONENT.search(bare) is not None
    if big and any(map(math.isinf, map(float, _BIG_NUMBER.findall(bare)))):
        fault = JsonFault("json_number_overflow", "a number is too large for a float")
        return _located(data, fault, limits)
    return None


_UNSAFE = object()
"""Stands for a refused number in the parse that locates it."""


def _located(data: bytes, fault: JsonFault, limits: JsonLimits) -> JsonFault:
    """``fault`` naming the field of the first refused number, when the body parses.

    Only a body already known to nest at most :attr:`JsonLimits.max_depth` deep gets here, so
    parsing it is safe; refused numbers are never converted (they parse as a marker).
    """

    def number(text: str) -> object:
        if len(text) > limits.max_number_chars or math.isinf(float(text)):
            return _UNSAFE
        return 0

    try:
        value = json.loads(data, parse_constant=lambda _: _UNSAFE, parse_float=number,
                           parse_int=number)  # fmt: skip
    except ValueError:  # malformed as well: the body is at fault
        return fault
    stack: list[tuple[tuple[str | int, ...], object]] = [(("body",), value)]
    while stack:  # depth-first, in document order
        loc, item = stack.pop()
        if item is _UNSAFE:
            return JsonFault(fault.type, fault.msg, loc)
        if isinstance(item, dict):
            stack.extend(((*loc, k), v) for k, v in reversed(list(item.items())))
        elif isinstance(item, list):
            stack.extend(((*loc, i), v) for i, v in reversed(list(enumerate(item))))
    return fault


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
