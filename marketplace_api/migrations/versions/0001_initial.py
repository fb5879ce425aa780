"""Initial schema: deployments, dataset listings and tags, model listings and contributors.

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-22 03:56:12.607578
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _create_deployments() -> None:
    """A deployment of the contracts whose listings the API indexes."""
    op.create_table(
        "deployments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("registry_address", sa.String(length=42), nullable=False),
        sa.Column("fed_task_address", sa.String(length=42), nullable=False),
        sa.Column("token_address", sa.String(length=42), nullable=False),
        sa.Column("block", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", sa.String(length=66), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deployments")),
        sa.UniqueConstraint(
            "chain_id",
            "registry_address",
            "block_hash",
            name=op.f("uq_deployments_chain_id_registry_address_block_hash"),
        ),
    )


def _create_dataset_listings() -> None:
    """Dataset listings relayed on-chain, indexed by owner."""
    op.create_table(
        "dataset_listings",
        sa.Column("pk", sa.Integer(), nullable=False),
        sa.Column("deployment_id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.BigInteger(), nullable=False),
        sa.Column("owner", sa.String(length=42), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("metadata_cid", sa.String(length=128), nullable=False),
        sa.Column("metadata_hash", sa.String(length=66), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("block", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name=op.f("fk_dataset_listings_deployment_id_deployments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_dataset_listings")),
        sa.UniqueConstraint(
            "deployment_id", "dataset_id", name=op.f("uq_dataset_listings_deployment_id_dataset_id")
        ),
        sa.UniqueConstraint(
            "deployment_id",
            "metadata_hash",
            name=op.f("uq_dataset_listings_deployment_id_metadata_hash"),
        ),
    )
    with op.batch_alter_table("dataset_listings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dataset_listings_owner"), ["owner"], unique=False)


def _create_model_listings() -> None:
    """Model listings, one per task and deployment."""
    op.create_table(
        "model_listings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deployment_id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("price_wei", sa.String(length=78), nullable=False),
        sa.Column("model_cid", sa.String(length=128), nullable=False),
        sa.Column("model_hash", sa.String(length=66), nullable=False),
        sa.Column("card_cid", sa.String(length=128), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("listed_by", sa.String(length=42), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name=op.f("fk_model_listings_deployment_id_deployments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_listings")),
        sa.UniqueConstraint(
            "deployment_id", "task_id", name=op.f("uq_model_listings_deployment_id_task_id")
        ),
    )


def _create_dataset_tags() -> None:
    """The tags of each dataset listing, in order, indexed by tag."""
    op.create_table(
        "dataset_tags",
        sa.Column("listing_pk", sa.Integer(), nullable=False),
        sa.Column("tag", sa.String(length=40), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["listing_pk"],
            ["dataset_listings.pk"],
            name=op.f("fk_dataset_tags_listing_pk_dataset_listings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("listing_pk", "tag", name=op.f("pk_dataset_tags")),
    )
    with op.batch_alter_table("dataset_tags", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dataset_tags_tag"), ["tag"], unique=False)


def _create_model_contributors() -> None:
    """The contributors of each model listing with their shares, indexed by address."""
    op.create_table(
        "model_contributors",
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=42), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("share_bps", sa.Integer(), nullable=False),
        sa.Column("paid_wei", sa.String(length=78), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["model_listings.id"],
            name=op.f("fk_model_contributors_model_id_model_listings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("model_id", "address", name=op.f("pk_model_contributors")),
    )
    with op.batch_alter_table("model_contributors", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_model_contributors_address"), ["address"], unique=False
        )


def upgrade() -> None:
    """Create every table, parents before the tables that refer to them."""
    _create_deployments()
    _create_dataset_listings()
    _create_model_listings()
    _create_dataset_tags()
    _create_model_contributors()


def downgrade() -> None:
    # ### commands auto generated by Alembic - please adjust! ###
    with op.batch_alter_table("model_contributors", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_model_contributors_address"))

    op.drop_table("model_contributors")
    with op.batch_alter_table("dataset_tags", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dataset_tags_tag"))

    op.drop_table("dataset_tags")
    op.drop_table("model_listings")
    with op.batch_alter_table("dataset_listings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dataset_listings_owner"))

    op.drop_table("dataset_listings")
    op.drop_table("deployments")
    # ### end Alembic commands ###
