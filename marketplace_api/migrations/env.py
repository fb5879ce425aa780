"""Alembic environment of the marketplace database.

Run programmatically by :func:`marketplace_api.core.db.run_migrations`, which hands over an open
connection in ``config.attributes["connection"]``; run from the ``alembic`` command line, the URL
comes from ``FEDMARKET_API_DATABASE_URL`` (default ``sqlite:///./fedmarket.db``).
"""

from __future__ import annotations

import os
from logging.config import fileConfig

from alembic import context
from sqlalchemy.engine import Connection

from marketplace_api.core.db import create_db_engine, migration_connection
from marketplace_api.models import Base

config = context.config
target_metadata = Base.metadata


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    """Emit the SQL instead of running it (``alembic upgrade head --sql``)."""
    context.configure(
        url=_url(), target_metadata=target_metadata, literal_binds=True, compare_type=True
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run on the connection given, or on a new one to the configured database."""
    given = config.attributes.get("connection")
    if given is not None:
        _configure(given)
        return
    if config.config_file_name is not None:
        fileConfig(config.config_file_name, disable_existing_loggers=False)
    engine = create_db_engine(_url())
    try:
        with migration_connection(engine) as connection:  # SQLite: foreign keys off, then checked
            _configure(connection)
    finally:
        engine.dispose()


def _url() -> str:
    return os.environ.get("FEDMARKET_API_DATABASE_URL", "sqlite:///./fedmarket.db")


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
