"""The Alembic migrations build exactly the tables of the models, on SQLite and PostgreSQL.

They also carry a protocol v1 database's rows over to v2 and back.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Engine

from marketplace_api.core.db import alembic_config, revert_migrations, run_migrations
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
    with empty_database(kind, request, tmp_path) as engine:
        run_migrations(engine)
        revert_migrations(engine, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


V1_ROWS = [
    "INSERT INTO deployments (id, chain_id, registry_address, fed_task_address, token_address, "
    "block, block_hash, created_at) VALUES (1, 31337, "
    "'0x5FbDB2315678afecb367f032d93F642f64180aa3', '0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0', "
    "'0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512', 1, "
    "'0x" + "01" * 32 + "', '2026-01-01 00:00:00+00:00')",
    "INSERT INTO dataset_listings (pk, deployment_id, dataset_id, owner, name, metadata_cid, "
    "metadata_hash, document, tx_hash, block, created_at) VALUES (1, 1, 1, "
    "'0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266', 'd', 'bafkreid', '0x" + "0a" * 32 + "', '{}', "
    "'0x" + "ab" * 32 + "', 1, '2026-01-01 00:00:00+00:00')",
    "INSERT INTO dataset_tags (listing_pk, tag, position) VALUES (1, 'medical', 0)",
    "INSERT INTO model_listings (id, deployment_id, task_id, name, description, price_wei, "
    "model_cid, model_hash, card_cid, metrics, listed_by, created_at) VALUES (1, 1, 3, 'm', '', "
    "'5', 'bafkreim', '0x" + "cd" * 32 + "', 'bafkreic', '{}', "
    "'0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266', '2026-01-01 00:00:00+00:00')",
    "INSERT INTO model_contributors (model_id, address, position, share_bps, paid_wei) VALUES "
    "(1, '0x70997970C51812dc3A010C7d01b50e0d17dc79C8', 0, 10000, '7')",
]
"""A v1 database's rows: a deployment, a dataset with a tag, a model with a contributor."""


@pytest.mark.parametrize("kind", DB_KINDS)
def test_v1_rows_survive_the_v2_migration(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Rebuilding a parent table (SQLite) must not cascade into its children, up or down."""
    from sqlalchemy import text

    def counts(engine: Engine) -> tuple[int, ...]:
        with engine.connect() as connection:
            return tuple(
                int(connection.execute(text(f"SELECT count(*) FROM {t}")).scalar_one())
                for t in (
                    "dataset_listings",
                    "dataset_tags",
                    "model_listings",
                    "model_contributors",
                )
            )

    with empty_database(kind, request, tmp_path) as engine:
        run_migrations(engine, "0001")
        with engine.begin() as connection:
            for statement in V1_ROWS:
                connection.execute(text(statement))
        run_migrations(engine)
        assert counts(engine) == (1, 1, 1, 1)
        with engine.connect() as connection:
            mode, price = connection.execute(
                text("SELECT access_mode, price_wei FROM dataset_listings")
            ).one()
            assert (mode, price) == ("federated_only", "0")
            model_id, market = connection.execute(
                text(
                    "SELECT m.model_id, d.market_address FROM model_listings m "
                    "JOIN deployments d ON d.id = m.deployment_id"
                )
            ).one()
            assert (model_id, market) == (None, None)
        revert_migrations(engine, "0001")
        assert counts(engine) == (1, 1, 1, 1)
        with engine.connect() as connection:
            paid = connection.execute(text("SELECT paid_wei FROM model_contributors")).scalar_one()
            assert paid == "0"
