"""Database tables of the marketplace (SQLAlchemy 2.0 typed models).

The chain is authoritative; these tables are an index of it, written by the indexer
(:mod:`marketplace_api.indexer`) and read by the API. Every row belongs to one
:class:`ChainDeployment` (chain id, contract addresses and the hash of the block they were
deployed in), so a database that outlives its chain (an in-process chain restarted with the same
addresses, a dev node reset, a testnet redeployed) never mixes two deployments' rows, whose
on-chain ids restart at 1: queries only see the current one's.

Token amounts are kept as decimal strings (``String(78)``: every ``uint256`` fits) because SQLite
has no exact integer type wide enough and ``Numeric`` would round-trip through floats there.
Addresses are stored checksummed, hashes as ``0x``-prefixed lower-case hex, chain times as unix
seconds of the block that recorded them.

Protocol v2 (migration ``0002``): deployments know the ModelMarket and ChallengeCourt; dataset
listings record their access mode and price and are unique per ``(owner, metadata hash)``; model
listings record the ModelMarket listing they mirror (its id, the card hash and the sponsor's cut)
and each contributor's share as FedTask fixed it. Columns added by ``0002`` are nullable or have a
server default, so rows written under protocol v1 (always of another deployment) stay readable.

The chain index (migration ``0003``):

- :class:`IndexCursor` (per deployment: the last block indexed and its hash) and
  :class:`IndexedBlock` (the hash and time of every block that had events): where the indexer
  resumes, and how it tells that a block it indexed was replaced (a reorg);
- :class:`ChainEvent`: every event of the five contracts, decoded, unique per
  ``(tx hash, log index)``: the log the other tables are derived from (and rolled back with);
- the projections: :class:`DatasetListing` (now written only by the indexer, with its activity and
  what its metadata document said), :class:`MarketModel` (ModelMarket listings),
  :class:`Licence` (datasets and models bought), :class:`IndexedTask` (a task's state as its
  events made it) with :class:`TaskAccount` (each participant's and coordinator's stake, rewards
  and share), and :class:`ContentDocument` (what a CID's document said, fetched once).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, MappedColumn, mapped_column, relationship

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


DOCUMENT_STATUSES = ("ok", "missing", "invalid")
"""What the indexer found under a listing's metadata CID: a valid document of the listing's owner
whose bytes hash to the on-chain metadata hash; nothing (yet); or something else."""


_PAGE_INCLUDE = ["active", "pk"]
"""What the page indexes of listings carry on PostgreSQL: counts and offsets read them alone."""


class DatasetListing(Base):
    """A DatasetRegistry listing, as its events made it, with what its metadata document says.

    ``dataset_id`` is the id the deployment's DatasetRegistry assigned; ``access_mode``,
    ``price_wei`` and ``active`` follow ``ListingUpdated``, ``DatasetDelisted`` and
    ``DatasetRelisted``. ``tx_hash``, ``block`` and ``created_at`` are those of ``DatasetListed``.
    The searchable columns (``name``, ``row_count``, the tags) and ``document`` are filled from the
    metadata document only when ``document_status`` is ``ok``; otherwise they are null and
    ``document_error`` says why.
    """

    __tablename__ = "dataset_listings"
    __table_args__ = (
        UniqueConstraint("deployment_id", "dataset_id"),
        UniqueConstraint("deployment_id", "owner", "metadata_hash"),
        Index(
            "ix_dataset_listings_active_page",
            "deployment_id",
            "active",
            "dataset_id",
            postgresql_include=_PAGE_INCLUDE,
        ),
        Index(
            "ix_dataset_listings_owner_page",
            "deployment_id",
            "owner",
            "dataset_id",
            postgresql_include=_PAGE_INCLUDE,
        ),
        Index(
            "ix_dataset_listings_mode_page",
            "deployment_id",
            "access_mode",
            "dataset_id",
            postgresql_include=_PAGE_INCLUDE,
        ),
        Index(
            "ix_dataset_listings_document_page",
            "deployment_id",
            "document_status",
            "dataset_id",
            postgresql_include=_PAGE_INCLUDE,
        ),
    )

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    deployment_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("deployments.id", ondelete="CASCADE")
    )
    dataset_id: Mapped[int] = mapped_column(BigInteger)
    owner: Mapped[str] = mapped_column(String(ADDRESS_LEN), index=True)
    name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    metadata_cid: Mapped[str] = mapped_column(Text)
    metadata_hash: Mapped[str] = mapped_column(String(HASH_LEN))
    document: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    tx_hash: Mapped[str] = mapped_column(String(HASH_LEN))
    block: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    access_mode: Mapped[str] = mapped_column(String(20), index=True, server_default=ACCESS_MODES[0])
    price_wei: Mapped[str] = mapped_column(String(WEI_LEN), server_default="0")
    active: Mapped[bool] = mapped_column(Boolean, server_default=true(), index=True)
    document_status: Mapped[str] = mapped_column(String(16), server_default=DOCUMENT_STATUSES[0])
    document_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    row_count: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    sales: Mapped[int] = mapped_column(Integer, server_default="0")

    tags: Mapped[list[DatasetTag]] = relationship(
        back_populates="dataset",
        cascade="all, delete-orphan",
        order_by="DatasetTag.position",
        lazy="selectin",
    )


class DatasetTag(Base):
    """One tag of a dataset listing (a table of its own so listings can be filtered by tag)."""

    __tablename__ = "dataset_tags"
    __table_args__ = (Index("ix_dataset_tags_tag_listing", "tag", "listing_pk"),)

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


# ---- the chain index (migration 0003) ----------------------------------------------------------
def _deployment_fk() -> MappedColumn[int]:
    return mapped_column(
        Integer, ForeignKey("deployments.id", ondelete="CASCADE"), primary_key=True
    )


class IndexCursor(Base):
    """Where the indexer of one deployment stands: the last block indexed, its hash and time.

    Every block up to ``block`` is indexed; ``block_hash`` tells whether that block is still the
    chain's (a reorg replaces it), ``block_timestamp`` is the chain time the API shows times
    against. ``version`` (migration 0004) counts the indexer's write transactions: every one
    locks the cursor and adds one, so a reader that sees the same version sees the same index.
    """

    __tablename__ = "index_cursors"

    deployment_id: Mapped[int] = _deployment_fk()
    block: Mapped[int] = mapped_column(BigInteger)
    block_hash: Mapped[str] = mapped_column(String(HASH_LEN))
    block_timestamp: Mapped[int] = mapped_column(BigInteger)
    version: Mapped[int] = mapped_column(BigInteger, server_default="0")


class IndexedBlock(Base):
    """A block the indexer took events from: its hash (to detect a reorg) and its time."""

    __tablename__ = "index_blocks"

    deployment_id: Mapped[int] = _deployment_fk()
    number: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    hash: Mapped[str] = mapped_column(String(HASH_LEN))
    timestamp: Mapped[int] = mapped_column(BigInteger)


class ChainEvent(Base):
    """One event of the deployment's contracts, decoded (the log every projection comes from).

    ``contract`` is ``registry``, ``market``, ``fed_task``, ``court`` or ``token``; ``args`` the
    event's arguments by ABI name (bytes as ``0x`` hex, addresses checksummed, integers exact).
    ``task_id``, ``item_id`` (dataset, model or challenge id) and ``account`` are copied out of
    the arguments so the projections of one entity and one account's history are found by index.
    ``extra`` holds what the indexer read besides the log (a new task's immutable configuration).
    Unique per ``(tx_hash, log_index)``: indexing a range twice adds nothing.
    """

    __tablename__ = "chain_events"
    __table_args__ = (
        UniqueConstraint("deployment_id", "tx_hash", "log_index"),
        Index("ix_chain_events_task", "deployment_id", "task_id"),
        Index("ix_chain_events_item", "deployment_id", "contract", "item_id"),
        Index("ix_chain_events_account", "deployment_id", "account"),
    )

    deployment_id: Mapped[int] = _deployment_fk()
    block: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    log_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    tx_hash: Mapped[str] = mapped_column(String(HASH_LEN))
    block_hash: Mapped[str] = mapped_column(String(HASH_LEN))
    contract: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(64))
    task_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    item_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    account: Mapped[str | None] = mapped_column(String(ADDRESS_LEN), nullable=True)
    args: Mapped[dict[str, Any]] = mapped_column(JSON)
    extra: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class ContentDocument(Base):
    """What the document under a CID said, read as one kind (fetched once: CIDs never change).

    ``status`` is one of :data:`DOCUMENT_STATUSES`; ``body`` the validated part the index keeps
    (a listing's metadata, a round's reward leaves), null unless ``ok``. A ``missing`` document is
    fetched again later.
    """

    __tablename__ = "content_documents"

    cid: Mapped[str] = mapped_column(String(CID_LEN), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    body: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class MarketModel(Base):
    """A ModelMarket listing as its events made it (price, activity, proceeds, sales)."""

    __tablename__ = "market_models"

    deployment_id: Mapped[int] = _deployment_fk()
    model_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    task_id: Mapped[int] = mapped_column(BigInteger, index=True)
    lister: Mapped[str] = mapped_column(String(ADDRESS_LEN), index=True)
    price_wei: Mapped[str] = mapped_column(String(WEI_LEN))
    sponsor_bps: Mapped[int] = mapped_column(Integer)
    card_cid: Mapped[str] = mapped_column(Text)
    card_hash: Mapped[str] = mapped_column(String(HASH_LEN))
    active: Mapped[bool] = mapped_column(Boolean)
    proceeds_wei: Mapped[str] = mapped_column(String(WEI_LEN))
    claimed_wei: Mapped[str] = mapped_column(String(WEI_LEN))
    sales: Mapped[int] = mapped_column(Integer)
    block: Mapped[int] = mapped_column(BigInteger)
    tx_hash: Mapped[str] = mapped_column(String(HASH_LEN))
    listed_at: Mapped[int] = mapped_column(BigInteger)


LICENCE_KINDS = ("dataset", "model")
"""What a licence is for: a DatasetRegistry listing or a ModelMarket listing."""


class Licence(Base):
    """A licence bought (``DatasetBought`` or ``ModelBought``): one per buyer per item."""

    __tablename__ = "licences"

    deployment_id: Mapped[int] = _deployment_fk()
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    item_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    buyer: Mapped[str] = mapped_column(String(ADDRESS_LEN), primary_key=True, index=True)
    paid_wei: Mapped[str] = mapped_column(String(WEI_LEN))
    fee_wei: Mapped[str] = mapped_column(String(WEI_LEN))
    block: Mapped[int] = mapped_column(BigInteger)
    tx_hash: Mapped[str] = mapped_column(String(HASH_LEN))
    bought_at: Mapped[int] = mapped_column(BigInteger)


TASK_STATUSES = ("none", "joining", "training", "completed", "cancelled", "aborted")
"""A task's status as stored (``TaskStatus`` names, lower case)."""


class IndexedTask(Base):
    """A FedTask task as its events made it.

    The filterable facts are columns; ``detail`` is the whole reduced state (schedule, rounds with
    their batches, commitments, claims and checked allocations, stakes, shares, challenges), from
    which the API builds the task's view without reading the chain.
    """

    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_status_page", "deployment_id", "status", "task_id"),
        Index("ix_tasks_sponsor_page", "deployment_id", "sponsor", "task_id"),
        Index("ix_tasks_coordinator_page", "deployment_id", "coordinator", "task_id"),
    )

    deployment_id: Mapped[int] = _deployment_fk()
    task_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    sponsor: Mapped[str] = mapped_column(String(ADDRESS_LEN), index=True)
    coordinator: Mapped[str] = mapped_column(String(ADDRESS_LEN), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    ended_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    total_rounds: Mapped[int] = mapped_column(Integer)
    current_round: Mapped[int] = mapped_column(Integer)
    participant_count: Mapped[int] = mapped_column(Integer)
    pool_wei: Mapped[str] = mapped_column(String(WEI_LEN))
    spec_cid: Mapped[str] = mapped_column(Text)
    block: Mapped[int] = mapped_column(BigInteger)
    tx_hash: Mapped[str] = mapped_column(String(HASH_LEN))
    updated_block: Mapped[int] = mapped_column(BigInteger)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)


TASK_ROLES = ("participant", "coordinator", "former_coordinator")
"""An account's part in a task."""


class TaskAccount(Base):
    """One account of a task: its role, stake, rewards and share (for per-account queries).

    ``allocated_wei`` sums the rewards the rounds' evidence gives it where that evidence rebuilds
    the on-chain root (null when a paying round's evidence could not be checked); ``claimed_wei``
    is what it claimed on-chain. What is claimable depends on the time (the rounds' challenge
    windows): the API works it out from the task's ``detail``.
    """

    __tablename__ = "task_accounts"
    __table_args__ = (
        Index("ix_task_accounts_account_role", "deployment_id", "account", "role", "task_id"),
    )

    deployment_id: Mapped[int] = _deployment_fk()
    task_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    account: Mapped[str] = mapped_column(String(ADDRESS_LEN), primary_key=True, index=True)
    role: Mapped[str] = mapped_column(String(24))
    join_index: Mapped[int | None] = mapped_column(Integer, nullable=True)
    stake_wei: Mapped[str] = mapped_column(String(WEI_LEN))
    allocated_wei: Mapped[str | None] = mapped_column(String(WEI_LEN), nullable=True)
    claimed_wei: Mapped[str] = mapped_column(String(WEI_LEN))
    share_bps: Mapped[int | None] = mapped_column(Integer, nullable=True)


__all__ = [
    "ACCESS_MODES",
    "DOCUMENT_STATUSES",
    "LICENCE_KINDS",
    "TASK_ROLES",
    "TASK_STATUSES",
    "Base",
    "ChainDeployment",
    "ChainEvent",
    "ContentDocument",
    "DatasetListing",
    "DatasetTag",
    "IndexCursor",
    "IndexedBlock",
    "IndexedTask",
    "Licence",
    "MarketModel",
    "ModelContributor",
    "ModelListing",
    "TaskAccount",
]
