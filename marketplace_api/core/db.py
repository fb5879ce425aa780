"""The marketplace database: engine, sessions, and Alembic migrations applied at start-up.

SQLite (the embedded default) and PostgreSQL are both supported. SQLite connections get WAL mode,
a busy timeout and foreign keys switched on, and SQLAlchemy takes over ``BEGIN`` from the
``sqlite3`` driver, whose legacy transaction mode would otherwise let a released SAVEPOINT commit
on its own (see SQLAlchemy's "Transactions with SQLite and the sqlite3 driver").
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from marketplace_api.errors import MigrationError

log = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).resolve().parent.parent
ALEMBIC_INI = PACKAGE_DIR / "alembic.ini"
MIGRATIONS_DIR = PACKAGE_DIR / "migrations"


def _sqlite_on_connect(dbapi_connection: Any, connection_record: Any) -> None:
    """Per connection: let SQLAlchemy emit BEGIN, enforce foreign keys, wait on locks.

    The database file is put in WAL mode (a persistent setting of the file; an in-memory database
    keeps its own journal): readers never wait for the writer (the indexer) nor it for them, and
    a writer waits up to the busy timeout for another instead of failing at once.
    """
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
    finally:
        cursor.close()


def _sqlite_on_begin(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN")


@dataclass(frozen=True)
class PoolOptions:
    """The connection pool of a server database (PostgreSQL); SQLite keeps SQLAlchemy's own.

    Parameters
    ----------
    size : int, default 10
        Connections kept open.
    max_overflow : int, default 20
        Connections opened beyond ``size`` under load, closed when returned.
    timeout : float, default 10.0
        Seconds to wait for a free connection.
    recycle : int, default 1800
        Seconds after which a connection is replaced (servers and proxies drop idle ones).
    pre_ping : bool, default True
        Check a connection when it is taken from the pool (a restarted server then costs no
        failed request).
    """

    size: int = 10
    max_overflow: int = 20
    timeout: float = 10.0
    recycle: int = 1800
    pre_ping: bool = True


def create_db_engine(url: str, *, echo: bool = False, pool: PoolOptions | None = None) -> Engine:
    """An engine for ``url`` with the settings this service needs.

    Parameters
    ----------
    url : str
        SQLAlchemy URL (``sqlite:///path.db`` or ``postgresql+psycopg://...``).
    echo : bool, default False
        Log every statement (development only: statements may contain personal data).
    pool : PoolOptions or None, default None
        Pool of a server database (``PoolOptions()`` when ``None``; ignored for SQLite).
    """
    if url.startswith("sqlite"):
        engine = create_engine(url, echo=echo)
    else:
        p = pool or PoolOptions()
        engine = create_engine(
            url,
            echo=echo,
            pool_size=p.size,
            max_overflow=p.max_overflow,
            pool_timeout=p.timeout,
            pool_recycle=p.recycle,
            pool_pre_ping=p.pre_ping,
        )
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def alembic_config(connection: Connection | None = None) -> Config:
    """The Alembic configuration of the packaged migrations.

    Parameters
    ----------
    connection : Connection or None, default None
        When given, migrations run on this connection (see ``migrations/env.py``).
    """
    config = Config(str(ALEMBIC_INI))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _sqlite_foreign_keys(connection: Connection, on: bool) -> None:
    """Switch SQLite's foreign keys on or off (outside a transaction, where the pragma works)."""
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
    finally:
        cursor.close()


@contextmanager
def migration_connection(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction that migrations can run on, committed at the end.

    On SQLite, foreign keys are off inside it: SQLite changes a table's constraints by rebuilding
    it, and dropping the old table would otherwise cascade into the tables that refer to it. They
    are checked (``PRAGMA foreign_key_check``) before the transaction commits, and switched back
    on afterwards.

    Parameters
    ----------
    engine : Engine
        The database.

    Raises
    ------
    MigrationError
        When the migrations left rows whose foreign keys point nowhere (SQLite; rolled back).
    """
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as connection:
        if sqlite:
            _sqlite_foreign_keys(connection, on=False)
        try:
            with connection.begin():
                yield connection
                if sqlite:
                    dangling = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if dangling:
                        raise MigrationError(f"migration: dangling foreign keys {dangling}")
        finally:
            if sqlite:
                _sqlite_foreign_keys(connection, on=True)


def run_migrations(engine: Engine, revision: str = "head") -> None:
    """Bring the database schema up to ``revision`` (idempotent: nothing to do at head).

    Parameters
    ----------
    engine : Engine
        The database.
    revision : str, default "head"
        Target revision.

    Raises
    ------
    MigrationError
        See :func:`migration_connection`.
    """
    with migration_connection(engine) as connection:
        command.upgrade(alembic_config(connection), revision)
    log.info("run_migrations: %s schema at %s", engine.dialect.name, revision)


def revert_migrations(engine: Engine, revision: str) -> None:
    """Bring the database schema down to ``revision`` (``"base"``: no tables).

    Parameters
    ----------
    engine : Engine
        The database.
    revision : str
        Target revision.

    Raises
    ------
    MigrationError
        See :func:`migration_connection`.
    """
    with migration_connection(engine) as connection:
        command.downgrade(alembic_config(connection), revision)
    log.info("revert_migrations: %s schema at %s", engine.dialect.name, revision)


class Database:
    """An engine and the factory of the sessions the request handlers use.

    Parameters
    ----------
    engine : Engine
        The database.
    session_factory : sessionmaker or None, default None
        Where sessions come from; by default bound to ``engine``. Tests pass one bound to a
        connection inside an outer transaction (``join_transaction_mode="create_savepoint"``) so
        that every change is rolled back.
    """

    def __init__(self, engine: Engine, session_factory: sessionmaker[Session] | None = None):
        self.engine = engine
        self._own_sessions = session_factory is None
        self.session_factory = session_factory or sessionmaker(bind=engine, expire_on_commit=False)
        self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")

    @contextmanager
    def single_read(self) -> Iterator[Connection]:
        """A connection for one read that needs no transaction (no ``BEGIN``, no ``ROLLBACK``).

        An autocommit connection from the pool; where the sessions are bound to a connection of
        the caller's (a test's rolled-back transaction), a session's connection instead, so the
        read sees what the sessions see.
        """
        if self._own_sessions:
            with self._autocommit.connect() as connection:
                yield connection
        else:
            with self.session() as session:
                yield session.connection()

    @classmethod
    def from_url(cls, url: str, pool: PoolOptions | None = None) -> Database:
        """A database for ``url`` (see :func:`create_db_engine`)."""
        return cls(create_db_engine(url, pool=pool))

    def session(self) -> Session:
        """A new session (use it as a context manager)."""
        return self.session_factory()

    def migrate(self) -> None:
        """Apply the migrations up to head."""
        run_migrations(self.engine)

    def dispose(self) -> None:
        """Close the pooled connections."""
        self.engine.dispose()


T = TypeVar("T")

WRITE_ATTEMPTS = 10
"""How many times :func:`write_transaction` tries a write the database refused as busy.

Five tries (0.5 s of waits) lost a relayed listing's gas charge once with 16 concurrent relays
and the indexer on SQLite; ten wait up to 2.5 s in all (each wait at most 0.5 s)."""


def write_transaction(session: Session, work: Callable[[], T], attempts: int = WRITE_ATTEMPTS) -> T:
    """Run ``work`` in a transaction of its own and commit it, again if the database was busy.

    The session's open transaction is ended first: on SQLite (WAL) a transaction that has read
    cannot start writing once another connection (the indexer) wrote: ``database is locked`` at
    once, whatever the busy timeout; a fresh one waits for the lock instead. A write still
    refused is retried, ``work`` again from the start (so it must re-read what it checks).

    Parameters
    ----------
    session : Session
        The request's session (whatever it holds is committed first).
    work : callable
        Reads and writes in ``session``; its result is returned.
    attempts : int, default 10
        Tries before the database's error is raised.
    """
    attempt = 1
    while True:
        session.commit()
        try:
            result = work()
            session.commit()
            return result
        except OperationalError as exc:
            session.rollback()
            if attempt >= attempts:
                raise
            log.info("write: database busy (%s), attempt %s of %s", exc.orig, attempt, attempts)
            time.sleep(min(0.05 * attempt, 0.5))
            attempt += 1


__all__ = [
    "write_transaction",
    "Database",
    "PoolOptions",
    "alembic_config",
    "create_db_engine",
    "migration_connection",
    "revert_migrations",
    "run_migrations",
]
