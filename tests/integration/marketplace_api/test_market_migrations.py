"""The Alembic migrations build exactly the tables of the models, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from marketplace_api.core.db import alembic_config, run_migrations
from marketplace_api.models import Base
from tests.integration.marketplace_api.market_world import DB_KINDS, empty_database

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("kind", DB_KINDS)
def test_upgrade_head_matches_the_models(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    with empty_database(kind, request, tmp_path) as engine:
        assert inspect(engine).get_table_names() == []
        run_migrations(engine)
        tables = set(inspect(engine).get_table_names())
        assert tables == set(Base.metadata.tables) | {"alembic_version"}
        for name, table in Base.metadata.tables.items():
            columns = {c["name"] for c in inspect(engine).get_columns(name)}
            assert columns == {c.name for c in table.columns}, name
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
            assert context.get_current_revision() == head_revision()
        run_migrations(engine)  # idempotent at head


@pytest.mark.parametrize("kind", DB_KINDS)
def test_downgrade_removes_everything(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    from alembic import command

    with empty_database(kind, request, tmp_path) as engine:
        run_migrations(engine)
        with engine.begin() as connection:
            command.downgrade(alembic_config(connection), "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head
