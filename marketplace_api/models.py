"""Database tables of the marketplace (SQLAlchemy 2.0 typed models).

The chain is authoritative; these tables are the searchable index of what the API relayed or
accepted. Every listing belongs to one :class:`ChainDeployment` (chain id, contract addresses and
the hash of the block they were deployed in), so a database that outlives its chain (an
in-process chain restarted with the same addresses, a dev node reset, a testnet redeployed) never
mixes two deployments' listings, whose on-chain ids restart at 1: queries only see the current
one's.

Token amounts are kept as decimal strings (``String(78)``: every ``uint256`` fits) because SQLite
has no exact integer type wide enough and ``Numeric`` would round-trip through floats there.
Addresses are stored checksummed, hashes as ``0x``-prefixed lower-case hex.

Protocol v2 (migration ``0002``): deployments know the ModelMarket and ChallengeCourt; dataset
listings record their access mode and price and are unique per ``(owner, metadata hash)``; model
listings record the ModelMarket listing they mirror (its id, the card hash and the sponsor's cut)
and each contributor's share as FedTask fixed it. Columns added by ``0002`` are nullable or have a
server default, so rows written under protocol v1 (always of another deployment) stay readable.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

ADDRESS_LEN = 42
HASH_LEN = 66
CID_LEN = 128
WEI_LEN = 78

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
"""Constraint names fixed here, so later migrations can refer to them on every database."""


def _now() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base of the marketplace tables."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class ChainDeployment(Base):
    """A deployment of the contracts that listings were recorded against."""

    __tablename__ = "deployments"
    __table_args__ = (UniqueConstraint("chain_id", "registry_address", "block_hash"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chain_id: Mapped[int] = mapped_column(BigInteger)
    registry_address: Mapped[str] = mapped_column(String(ADDRESS_LEN))
    fed_task_address: Mapped[str] = mapped_column(String(ADDRESS_LEN))
    token_address: Mapped[str] = mapped_column(String(ADDRESS_LEN))
    block: Mapped[int] = mapped_column(BigInteger)
    block_hash: Mapped[str] = mapped_column(String(HASH_LEN))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    market_address: Mapped[str | None] = mapped_column(String(ADDRESS_LEN), nullable=True)
    court_address: Mapped[str | None] = mapped_column(String(ADDRESS_LEN), nullable=True)


ACCESS_MODES = ("federated_only", "downloadable")
"""The access modes a dataset listing may have, as stored (``AccessMode`` names, lower case)."""


class DatasetListing(Base):
    """A dataset listed on-chain through the API: its metadata document and where it landed.

    ``dataset_id`` is the id the deployment's DatasetRegistry assigned. ``access_mode`` and
    ``price_wei`` are those the owner signed and the registry recorded at listing.
    """

    __tablename__ = "dataset_listings"
    __table_args__ = (
        UniqueConstraint("deployment_id", "dataset_id"),
        UniqueConstraint("deployment_id", "owner", "metadata_hash"),
    )

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    deployment_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("deployments.id", ondelete="CASCADE")
    )
    dataset_id: Mapped[int] = mapped_column(BigInteger)
    owner: Mapped[str] = mapped_column(String(ADDRESS_LEN), index=True)
    name: Mapped[str] = mapped_column(String(200))
    metadata_cid: Mapped[str] = mapped_column(String(CID_LEN))
    metadata_hash: Mapped[str] = mapped_column(String(HASH_LEN))
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    tx_hash: Mapped[str] = mapped_column(String(HASH_LEN))
    block: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    access_mode: Mapped[str] = mapped_column(String(20), index=True, server_default=ACCESS_MODES[0])
    price_wei: Mapped[str] = mapped_column(String(WEI_LEN), server_default="0")

    tags: Mapped[list[DatasetTag]] = relationship(
        back_populates="dataset",
        cascade="all, delete-orphan",
        order_by="DatasetTag.position",
        lazy="selectin",
    )


class DatasetTag(Base):
    """One tag of a dataset listing (a table of its own so listings can be filtered by tag)."""

    __tablename__ = "dataset_tags"

    listing_pk: Mapped[int] = mapped_column(
        Integer, ForeignKey("dataset_listings.pk", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(40), primary_key=True, index=True)
    position: Mapped[int] = mapped_column(Integer)

    dataset: Mapped[DatasetListing] = relationship(back_populates="tags")


class ModelListing(Base):
    """A trained model offered in the marketplace; at most one listing per task.

    It mirrors the ModelMarket listing ``model_id`` (``None`` only in rows written under protocol
    v1); ``price_wei`` is the price when it was recorded (the market's current price is read
    from the chain).
    """

    __tablename__ = "model_listings"
    __table_args__ = (
        UniqueConstraint("deployment_id", "task_id"),
        UniqueConstraint("deployment_id", "model_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deployment_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("deployments.id", ondelete="CASCADE")
    )
    task_id: Mapped[int] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    price_wei: Mapped[str] = mapped_column(String(WEI_LEN))
    model_cid: Mapped[str] = mapped_column(String(CID_LEN))
    model_hash: Mapped[str] = mapped_column(String(HASH_LEN))
    card_cid: Mapped[str] = mapped_column(String(CID_LEN))
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON)
    listed_by: Mapped[str] = mapped_column(String(ADDRESS_LEN))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    model_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    card_hash: Mapped[str | None] = mapped_column(String(HASH_LEN), nullable=True)
    sponsor_bps: Mapped[int | None] = mapped_column(Integer, nullable=True)

    contributors: Mapped[list[ModelContributor]] = relationship(
        back_populates="model",
        cascade="all, delete-orphan",
        order_by="ModelContributor.position",
        lazy="selectin",
    )


class ModelContributor(Base):
    """A contributor's share of a model's sales in basis points, as FedTask fixed it."""

    __tablename__ = "model_contributors"

    model_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("model_listings.id", ondelete="CASCADE"), primary_key=True
    )
    address: Mapped[str] = mapped_column(String(ADDRESS_LEN), primary_key=True, index=True)
    position: Mapped[int] = mapped_column(Integer)
    share_bps: Mapped[int] = mapped_column(Integer)

    model: Mapped[ModelListing] = relationship(back_populates="contributors")


__all__ = [
    "ACCESS_MODES",
    "Base",
    "ChainDeployment",
    "DatasetListing",
    "DatasetTag",
    "ModelContributor",
    "ModelListing",
]
