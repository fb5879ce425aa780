"""Read paths: composite indexes for every list filter, and a version of the index.

- ``index_cursors.version`` counts the indexer's write transactions (each one locks the cursor
  and adds one): the API's response cache keys its pages on it, so a page is served again only
  while nothing was indexed since.
- ``dataset_listings``: ``(deployment_id, <filter>, dataset_id)`` for each filter of
  ``GET /datasets`` (active, owner, access mode, document status), so a page is read in id order
  from the index and stops after ``limit`` rows; on PostgreSQL they also hold ``active`` and
  ``pk`` (``INCLUDE``), so counting a filter and skipping to a deep offset read the index only
  (SQLite has no ``INCLUDE``). ``dataset_tags (tag, listing_pk)`` answers the tag filter from the
  index alone.
- ``tasks``: the same for the status, sponsor and coordinator filters of ``GET /tasks``;
  ``task_accounts (deployment_id, account, role, task_id)`` for the participant filter and an
  account's tasks.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 14:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LISTING_INCLUDE = ["active", "pk"]
"""Columns the listings' page indexes carry on PostgreSQL (``INCLUDE``)."""

INDEXES: dict[str, list[tuple[str, list[str]]]] = {
    "dataset_listings": [
        ("ix_dataset_listings_active_page", ["deployment_id", "active", "dataset_id"]),
        ("ix_dataset_listings_owner_page", ["deployment_id", "owner", "dataset_id"]),
        ("ix_dataset_listings_mode_page", ["deployment_id", "access_mode", "dataset_id"]),
        ("ix_dataset_listings_document_page", ["deployment_id", "document_status", "dataset_id"]),
    ],
    "dataset_tags": [("ix_dataset_tags_tag_listing", ["tag", "listing_pk"])],
    "tasks": [
        ("ix_tasks_status_page", ["deployment_id", "status", "task_id"]),
        ("ix_tasks_sponsor_page", ["deployment_id", "sponsor", "task_id"]),
        ("ix_tasks_coordinator_page", ["deployment_id", "coordinator", "task_id"]),
    ],
    "task_accounts": [
        ("ix_task_accounts_account_role", ["deployment_id", "account", "role", "task_id"])
    ],
}
"""Indexes added, by table (the same in :mod:`marketplace_api.models`)."""


def upgrade() -> None:
    """Add the cursor's version and the composite indexes."""
    with op.batch_alter_table("index_cursors") as batch_op:
        batch_op.add_column(
            sa.Column("version", sa.BigInteger(), server_default="0", nullable=False)
        )
    for table, indexes in INDEXES.items():
        include = LISTING_INCLUDE if table == "dataset_listings" else []
        with op.batch_alter_table(table) as batch_op:
            for name, columns in indexes:
                batch_op.create_index(name, columns, postgresql_include=include)


def downgrade() -> None:
    """Drop them again."""
    for table, indexes in INDEXES.items():
        with op.batch_alter_table(table) as batch_op:
            for name, _ in indexes:
                batch_op.drop_index(name)
    with op.batch_alter_table("index_cursors") as batch_op:
        batch_op.drop_column("version")
