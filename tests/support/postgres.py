"""A throw-away PostgreSQL server for the tests: the library's launcher, yielding its URL.

The server is :func:`fedmarket.consortium.postgres.running_postgres` (real server binaries, trust
authentication, 127.0.0.1 only, run as the ``postgres`` user when the tests run as root), the
same launcher ``fedmarket up`` and the API benchmark use.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fedmarket.consortium.postgres import postgres_available
from fedmarket.consortium.postgres import running_postgres as _running_postgres


@contextmanager
def running_postgres(database: str = "fedmarket") -> Iterator[str]:
    """Start a server, create ``database``; yield its SQLAlchemy URL; stop and delete it."""
    with _running_postgres(database) as server:
        yield server.url


__all__ = ["postgres_available", "running_postgres"]
