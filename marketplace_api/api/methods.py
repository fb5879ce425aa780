"""``OPTIONS`` and ``405`` answers that say which methods a path takes (RFC 9110 ``Allow``).

FastAPI registers one route per path and method, so Starlette's own 405 names only the methods
of the first route that matched the path (``Allow: POST`` on ``/datasets``, which also takes
``GET``), and ``OPTIONS`` is a 405 too. :class:`AllowedMethods` (ASGI middleware) answers
``OPTIONS`` on any routed path with ``204`` and ``Allow`` listing every method of the routes of
that path, and a method the path does not take with ``405`` and the same ``Allow``, before any
route's parameters are parsed (``DELETE /datasets/signing-params`` is a 405, not a 422 from
``DELETE /datasets/{dataset_id}``). CORS preflights (``OPTIONS`` with ``Origin`` and
``Access-Control-Request-Method``) are left to the CORS middleware outside it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from starlette.datastructures import Headers
from starlette.routing import compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

IMPLICIT = frozenset({"OPTIONS"})
"""Methods every routed path takes (answered here)."""
CACHED_PATHS = 4096
"""Paths whose matching routes are remembered (the cache starts over when full)."""


@dataclass(frozen=True)
class RouteEntry:
    """One route of the application, with its full path template."""

    pattern: re.Pattern[str]
    template: str
    methods: frozenset[str] | None
    params: int


class RouteTable:
    """The application's routes, flattened (included routers' prefixes applied).

    Built on first use and again whenever routes were added since; the routes matching a path
    are remembered for the next request to it (at most :data:`CACHED_PATHS` paths).

    Parameters
    ----------
    app : FastAPI
        The application.
    """

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self._entries: list[RouteEntry] = []
        self._built_from = -1
        self._matches: dict[str, list[RouteEntry]] = {}
        self._allowed: dict[str, list[str]] = {}

    def entries(self) -> list[RouteEntry]:
        """Every route, in the application's order."""
        if self._built_from != len(self.app.routes):
            entries = []
            for context in iter_route_contexts(self.app.routes):
                template = context.path_format
                if not isinstance(template, str):
                    continue
                pattern, _, convertors = compile_path(template)
                methods = context.methods
                entries.append(
                    RouteEntry(
                        pattern,
                        template,
                        None if methods is None else frozenset(methods),
                        len(convertors),
                    )
                )
            self._entries, self._built_from = entries, len(self.app.routes)
            self._matches, self._allowed = {}, {}
        return self._entries

    def matching(self, path: str) -> list[RouteEntry]:
        """The routes whose template matches ``path``, the fewest parameters first.

        Where several templates match (``/datasets/signing-params`` and
        ``/datasets/{dataset_id}``), a literal segment beats a parameter, whatever the method.
        """
        entries = self.entries()
        cached = self._matches.get(path)
        if cached is not None:
            return cached
        found = sorted((e for e in entries if e.pattern.match(path)), key=lambda e: e.params)
        if len(self._matches) >= CACHED_PATHS:
            self._matches = {}
        self._matches[path] = found
        return found

    def template(self, path: str) -> str | None:
        """The template of the route that serves ``path`` (``None`` when none does)."""
        found = self.matching(path)
        return found[0].template if found else None

    def allowed_methods(self, path: str) -> list[str]:
        """The methods ``path`` takes, sorted; empty when no route with methods has it."""
        cached = self._allowed.get(path)
        if cached is not None and self._built_from == len(self.app.routes):
            return cached
        found = [e for e in self.matching(path) if e.methods is not None]
        allowed: list[str] = []
        if found:
            best = found[0].template
            methods = {m for e in found if e.template == best for m in e.methods or ()}
            allowed = sorted(methods | IMPLICIT)
        if len(self._allowed) >= CACHED_PATHS:
            self._allowed = {}
        self._allowed[path] = allowed
        return allowed


def is_preflight(scope: Scope) -> bool:
    """Whether the request is a CORS preflight."""
    headers = Headers(scope=scope)
    return (
        scope["method"] == "OPTIONS"
        and "origin" in headers
        and "access-control-request-method" in headers
    )


class AllowedMethods:
    """Answer ``OPTIONS`` with ``Allow``, and a method the path does not take with 405.

    Parameters
    ----------
    app : ASGIApp
        The wrapped application.
    routes : RouteTable
        The application's routes.
    """

    def __init__(self, app: ASGIApp, routes: RouteTable) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer ``OPTIONS`` and unsupported methods here; pass everything else through."""
        if scope["type"] != "http" or is_preflight(scope):
            await self.app(scope, receive, send)
            return
        methods = self.routes.allowed_methods(scope["path"])
        if not methods or scope["method"] in methods:
            if methods and scope["method"] == "OPTIONS":
                await _answer(send, 204, methods)
                return
            await self.app(scope, receive, send)
            return
        await _answer(send, 405, methods)


async def _answer(send: Send, status: int, methods: list[str]) -> None:
    body = b'{"detail":"Method Not Allowed"}' if status == 405 else b""
    headers = [(b"allow", ", ".join(methods).encode())]
    if body:
        headers += [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


__all__ = ["AllowedMethods", "RouteEntry", "RouteTable", "is_preflight"]
