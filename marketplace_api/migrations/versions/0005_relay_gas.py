"""The relayer's gas ledger: ``relay_gas_charges``, what the relayer spent for each owner.

One row per relayed transaction: the estimate reserved before relaying (``tx_hash`` null), then
the receipt's ``gasUsed``. The per-owner gas budget sums an owner's rows over a rolling window
(see :mod:`marketplace_api.relay`); rows are pruned once they leave it.

Revision ID: 0005_relay_gas
Revises: 0004
Create Date: 2026-11-30 14:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_relay_gas"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the ledger and its indexes (an owner's window; pruning by time)."""
    op.create_table(
        "relay_gas_charges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deployment_id", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(length=42), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("charged_at", sa.BigInteger(), nullable=False),
        sa.Column("gas", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=True),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name=op.f("fk_relay_gas_charges_deployment_id_deployments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_relay_gas_charges")),
    )
    op.create_index(
        "ix_relay_gas_charges_owner_window",
        "relay_gas_charges",
        ["deployment_id", "owner", "charged_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_relay_gas_charges_charged_at"),
        "relay_gas_charges",
        ["charged_at"],
        unique=False,
    )


def downgrade() -> None:
    """Drop the ledger."""
    op.drop_index(op.f("ix_relay_gas_charges_charged_at"), table_name="relay_gas_charges")
    op.drop_index("ix_relay_gas_charges_owner_window", table_name="relay_gas_charges")
    op.drop_table("relay_gas_charges")
