"""Protocol v2: market and court of a deployment, access modes and prices, on-chain model listings.

- ``deployments``: ``market_address`` and ``court_address`` (null for deployments recorded under
  protocol v1, which had neither);
- ``dataset_listings``: ``access_mode`` (``federated_only`` or ``downloadable``, indexed) and
  ``price_wei``; uniqueness per ``(deployment, owner, metadata hash)`` instead of per hash, as the
  registry's;
- ``model_listings``: the ModelMarket listing mirrored (``model_id``, unique per deployment), the
  card's hash and the sponsor's cut (null in rows written under protocol v1);
- ``model_contributors``: ``paid_wei`` dropped (shares now come from FedTask, not from rewards).

SQLite rebuilds a table to change its constraints; :func:`marketplace_api.core.db.run_migrations`
turns foreign keys off around the migration so that rebuilding a parent table does not cascade
into its children, and checks them before committing.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the v2 columns and move dataset uniqueness to ``(owner, metadata hash)``."""
    with op.batch_alter_table("deployments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("market_address", sa.String(length=42), nullable=True))
        batch_op.add_column(sa.Column("court_address", sa.String(length=42), nullable=True))
    with op.batch_alter_table("dataset_listings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "access_mode",
                sa.String(length=20),
                server_default="federated_only",
                nullable=False,
            )
        )
        batch_op.add_column(
            sa.Column("price_wei", sa.String(length=78), server_default="0", nullable=False)
        )
        batch_op.drop_constraint(
            batch_op.f("uq_dataset_listings_deployment_id_metadata_hash"), type_="unique"
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_dataset_listings_deployment_id_owner_metadata_hash"),
            ["deployment_id", "owner", "metadata_hash"],
        )
        batch_op.create_index(
            batch_op.f("ix_dataset_listings_access_mode"), ["access_mode"], unique=False
        )
    with op.batch_alter_table("model_listings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("model_id", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("card_hash", sa.String(length=66), nullable=True))
        batch_op.add_column(sa.Column("sponsor_bps", sa.Integer(), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_model_listings_deployment_id_model_id"), ["deployment_id", "model_id"]
        )
    with op.batch_alter_table("model_contributors", schema=None) as batch_op:
        batch_op.drop_column("paid_wei")


def downgrade() -> None:
    """Back to 0001 (contributors' ``paid_wei`` comes back as 0).

    Fails on a unique violation when an owner's copy of another owner's metadata hash was
    recorded under v2: 0001 allowed one listing per hash.
    """
    with op.batch_alter_table("model_contributors", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("paid_wei", sa.String(length=78), server_default="0", nullable=False)
        )
    with op.batch_alter_table("model_contributors", schema=None) as batch_op:
        batch_op.alter_column("paid_wei", server_default=None)
    with op.batch_alter_table("model_listings", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("uq_model_listings_deployment_id_model_id"), type_="unique"
        )
        batch_op.drop_column("sponsor_bps")
        batch_op.drop_column("card_hash")
        batch_op.drop_column("model_id")
    with op.batch_alter_table("dataset_listings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dataset_listings_access_mode"))
        batch_op.drop_constraint(
            batch_op.f("uq_dataset_listings_deployment_id_owner_metadata_hash"), type_="unique"
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_dataset_listings_deployment_id_metadata_hash"),
            ["deployment_id", "metadata_hash"],
        )
        batch_op.drop_column("price_wei")
        batch_op.drop_column("access_mode")
    with op.batch_alter_table("deployments", schema=None) as batch_op:
        batch_op.drop_column("court_address")
        batch_op.drop_column("market_address")
