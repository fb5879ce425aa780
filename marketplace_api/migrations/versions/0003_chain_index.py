"""The chain index: cursors, blocks, events, documents, market models, licences, tasks.

- ``index_cursors`` (one per deployment: last block indexed, its hash and time) and
  ``index_blocks`` (hash and time of every block that had events): where the indexer resumes and
  how it detects a reorg;
- ``chain_events``: every decoded event of the deployment's contracts, unique per
  ``(tx_hash, log_index)``, with the task, item and account it concerns copied out for lookups;
- ``content_documents``: what the document under a CID said, per kind of document;
- ``market_models``, ``licences``, ``tasks`` and ``task_accounts``: projections of the events;
- ``dataset_listings`` becomes a projection too: ``active``, ``document_status`` and
  ``document_error``, ``row_count`` and ``sales``; ``name`` and ``document`` are null when the
  metadata document is missing or invalid; ``metadata_cid`` is free text (whatever was listed
  on-chain).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 13:37:50.164074
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _deployment_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["deployment_id"],
        ["deployments.id"],
        name=op.f(f"fk_{table}_deployment_id_deployments"),
        ondelete="CASCADE",
    )


def _create_cursor_tables() -> None:
    """Where the indexer stands, and the blocks it took events from."""
    op.create_table(
        "index_cursors",
        sa.Column("deployment_id", sa.Integer(), nullable=False),
        sa.Column("block", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", sa.String(length=66), nullable=False),
        sa.Column("block_timestamp", sa.BigInteger(), nullable=False),
        _deployment_fk("index_cursors"),
        sa.PrimaryKeyConstraint("deployment_id", name=op.f("pk_index_cursors")),
    )
    op.create_table(
        "index_blocks",
        sa.Column("deployment_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=66), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        _deployment_fk("index_blocks"),
        sa.PrimaryKeyConstraint("deployment_id", "number", name=op.f("pk_index_blocks")),
    )


def _create_chain_events() -> None:
    """Every decoded event, unique per (tx hash, log index)."""
    op.create_table(
        "chain_events",
        sa.Column("deployment_id", sa.Integer(), nullable=False),
        sa.Column("block", sa.BigInteger(), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("block_hash", sa.String(length=66), nullable=False),
        sa.Column("contract", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("task_id", sa.BigInteger(), nullable=True),
        sa.Column("item_id", sa.BigInteger(), nullable=True),
        sa.Column("account", sa.String(length=42), nullable=True),
        sa.Column("args", sa.JSON(), nullable=False),
        sa.Column("extra", sa.JSON(), nullable=True),
        _deployment_fk("chain_events"),
        sa.PrimaryKeyConstraint(
            "deployment_id", "block", "log_index", name=op.f("pk_chain_events")
        ),
        sa.UniqueConstraint(
            "deployment_id",
            "tx_hash",
            "log_index",
            name=op.f("uq_chain_events_deployment_id_tx_hash_log_index"),
        ),
    )
    with op.batch_alter_table("chain_events", schema=None) as batch_op:
        batch_op.create_index("ix_chain_events_account", ["deployment_id", "account"])
        batch_op.create_index("ix_chain_events_item", ["deployment_id", "contract", "item_id"])
        batch_op.create_index("ix_chain_events_task", ["deployment_id", "task_id"])
    op.create_table(
        "content_documents",
        sa.Column("cid", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("body", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("cid", "kind", name=op.f("pk_content_documents")),
    )


def _create_market_tables() -> None:
    """ModelMarket listings and the licences of both marketplaces."""
    op.create_table(
        "market_models",
        sa.Column("deployment_id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.BigInteger(), nullable=False),
        sa.Column("task_id", sa.BigInteger(), nullable=False),
        sa.Column("lister", sa.String(length=42), nullable=False),
        sa.Column("price_wei", sa.String(length=78), nullable=False),
        sa.Column("sponsor_bps", sa.Integer(), nullable=False),
        sa.Column("card_cid", sa.Text(), nullable=False),
        sa.Column("card_hash", sa.String(length=66), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("proceeds_wei", sa.String(length=78), nullable=False),
        sa.Column("claimed_wei", sa.String(length=78), nullable=False),
        sa.Column("sales", sa.Integer(), nullable=False),
        sa.Column("block", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("listed_at", sa.BigInteger(), nullable=False),
        _deployment_fk("market_models"),
        sa.PrimaryKeyConstraint("deployment_id", "model_id", name=op.f("pk_market_models")),
    )
    with op.batch_alter_table("market_models", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_market_models_lister"), ["lister"])
        batch_op.create_index(batch_op.f("ix_market_models_task_id"), ["task_id"])
    op.create_table(
        "licences",
        sa.Column("deployment_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("item_id", sa.BigInteger(), nullable=False),
        sa.Column("buyer", sa.String(length=42), nullable=False),
        sa.Column("paid_wei", sa.String(length=78), nullable=False),
        sa.Column("fee_wei", sa.String(length=78), nullable=False),
        sa.Column("block", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("bought_at", sa.BigInteger(), nullable=False),
        _deployment_fk("licences"),
        sa.PrimaryKeyConstraint(
            "deployment_id", "kind", "item_id", "buyer", name=op.f("pk_licences")
        ),
    )
    with op.batch_alter_table("licences", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_licences_buyer"), ["buyer"])


def _create_task_tables() -> None:
    """Tasks as their events made them, and each account's part in them."""
    op.create_table(
        "tasks",
        sa.Column("deployment_id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.BigInteger(), nullable=False),
        sa.Column("sponsor", sa.String(length=42), nullable=False),
        sa.Column("coordinator", sa.String(length=42), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("ended_at", sa.BigInteger(), nullable=True),
        sa.Column("total_rounds", sa.Integer(), nullable=False),
        sa.Column("current_round", sa.Integer(), nullable=False),
        sa.Column("participant_count", sa.Integer(), nullable=False),
        sa.Column("pool_wei", sa.String(length=78), nullable=False),
        sa.Column("spec_cid", sa.Text(), nullable=False),
        sa.Column("block", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        _deployment_fk("tasks"),
        sa.PrimaryKeyConstraint("deployment_id", "task_id", name=op.f("pk_tasks")),
    )
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tasks_coordinator"), ["coordinator"])
        batch_op.create_index(batch_op.f("ix_tasks_sponsor"), ["sponsor"])
        batch_op.create_index(batch_op.f("ix_tasks_status"), ["status"])
    op.create_table(
        "task_accounts",
        sa.Column("deployment_id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.BigInteger(), nullable=False),
        sa.Column("account", sa.String(length=42), nullable=False),
        sa.Column("role", sa.String(length=24), nullable=False),
        sa.Column("join_index", sa.Integer(), nullable=True),
        sa.Column("stake_wei", sa.String(length=78), nullable=False),
        sa.Column("allocated_wei", sa.String(length=78), nullable=True),
        sa.Column("claimed_wei", sa.String(length=78), nullable=False),
        sa.Column("share_bps", sa.Integer(), nullable=True),
        _deployment_fk("task_accounts"),
        sa.PrimaryKeyConstraint(
            "deployment_id", "task_id", "account", name=op.f("pk_task_accounts")
        ),
    )
    with op.batch_alter_table("task_accounts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_task_accounts_account"), ["account"])


def _extend_dataset_listings() -> None:
    """Listings become the projection of the registry's events."""
    with op.batch_alter_table("dataset_listings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("document_status", sa.String(length=16), server_default="ok", nullable=False)
        )
        batch_op.add_column(sa.Column("document_error", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("row_count", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("sales", sa.Integer(), server_default="0", nullable=False))
        batch_op.alter_column("name", existing_type=sa.String(length=200), nullable=True)
        batch_op.alter_column(
            "metadata_cid",
            existing_type=sa.String(length=128),
            type_=sa.Text(),
            existing_nullable=False,
        )
        batch_op.alter_column("document", existing_type=sa.JSON(), nullable=True)
        batch_op.create_index(batch_op.f("ix_dataset_listings_active"), ["active"])


def upgrade() -> None:
    """Create the index tables and turn dataset listings into a projection of the chain."""
    _create_cursor_tables()
    _create_chain_events()
    _create_market_tables()
    _create_task_tables()
    _extend_dataset_listings()


def downgrade() -> None:
    """Back to 0002: the index tables go; so do the listings 0002 could not hold.

    A listing whose metadata document is missing or invalid (no name, no document) or whose CID
    is longer than 128 characters was made on-chain without the API: it is deleted (the chain
    still has it).
    """
    unfit = "name IS NULL OR document IS NULL OR length(metadata_cid) > 128"
    op.execute(  # foreign keys are off while SQLite migrates: the tags go first, by hand
        sa.text(
            f"DELETE FROM dataset_tags WHERE listing_pk IN "
            f"(SELECT pk FROM dataset_listings WHERE {unfit})"
        )
    )
    op.execute(sa.text(f"DELETE FROM dataset_listings WHERE {unfit}"))
    with op.batch_alter_table("dataset_listings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dataset_listings_active"))
        batch_op.alter_column("document", existing_type=sa.JSON(), nullable=False)
        batch_op.alter_column(
            "metadata_cid",
            existing_type=sa.Text(),
            type_=sa.String(length=128),
            existing_nullable=False,
        )
        batch_op.alter_column("name", existing_type=sa.String(length=200), nullable=False)
        for column in ("sales", "row_count", "document_error", "document_status", "active"):
            batch_op.drop_column(column)
    for table in (
        "task_accounts",
        "tasks",
        "licences",
        "market_models",
        "content_documents",
        "chain_events",
        "index_blocks",
        "index_cursors",
    ):
        op.drop_table(table)
