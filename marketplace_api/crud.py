"""The API's reads and writes of the marketplace tables (the indexer's are its own).

Functions take a :class:`~sqlalchemy.orm.Session` and the :class:`Scope` (the deployment) they
work in, obtained once with :func:`ensure_deployment`; they flush but never commit: the caller
owns the transaction.

Dataset listings, ModelMarket listings, licences, tasks and events are written only by the
indexer (:mod:`marketplace_api.indexer`), from the chain: the API only reads them here. What the
API writes itself is the deployment's row and the descriptions of model listings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Numeric, Select, bindparam, cast, func, literal, or_, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, lazyload

from chain import Deployment
from marketplace_api.models import (
    ChainDeployment,
    ChainEvent,
    DatasetListing,
    DatasetTag,
    IndexCursor,
    IndexedTask,
    Licence,
    MarketModel,
    ModelContributor,
    ModelListing,
    TaskAccount,
)


@dataclass(frozen=True)
class DeploymentIdentity:
    """What tells one deployment of the contracts from another, even at the same addresses.

    A restarted in-process chain or dev node deploys to the same addresses with the same chain
    id; the hash of the deployment block (which covers its timestamp) differs.

    Parameters
    ----------
    chain_id : int
        The chain.
    registry, fed_task, token, market, court : str
        Contract addresses.
    block : int
        Block of the first deployment transaction.
    block_hash : str
        Its hash, ``0x`` hex.
    """

    chain_id: int
    registry: str
    fed_task: str
    token: str
    market: str
    court: str
    block: int
    block_hash: str

    @classmethod
    def of(cls, deployment: Deployment, block_hash: bytes) -> DeploymentIdentity:
        """The identity of ``deployment``, whose block has hash ``block_hash``."""
        return cls(
            chain_id=deployment.chain_id,
            registry=deployment.registry,
            fed_task=deployment.fed_task,
            token=deployment.token,
            market=deployment.market,
            court=deployment.court,
            block=deployment.block,
            block_hash="0x" + bytes(block_hash).hex(),
        )


@dataclass(frozen=True)
class Scope:
    """The deployment whose listings are read and written.

    Parameters
    ----------
    deployment_id : int
        Its row in ``deployments``.
    chain_id : int
        The chain.
    registry : str
        DatasetRegistry address.
    fed_task : str
        FedTask address.
    market : str
        ModelMarket address.
    court : str
        ChallengeCourt address.
    """

    deployment_id: int
    chain_id: int
    registry: str
    fed_task: str
    market: str
    court: str


def ensure_deployment(session: Session, identity: DeploymentIdentity) -> Scope:
    """The scope of ``identity``, recording the deployment the first time it is seen.

    A deployment recorded before the ModelMarket and ChallengeCourt addresses were kept gets
    them filled in.

    Parameters
    ----------
    session : Session
        The open session (flushed; the caller commits).
    identity : DeploymentIdentity
        The deployment.
    """
    stmt = select(ChainDeployment).where(
        ChainDeployment.chain_id == identity.chain_id,
        ChainDeployment.registry_address == identity.registry,
        ChainDeployment.block_hash == identity.block_hash,
    )
    row = session.scalars(stmt).first()
    if row is None:
        row = ChainDeployment(
            chain_id=identity.chain_id,
            registry_address=identity.registry,
            fed_task_address=identity.fed_task,
            token_address=identity.token,
            market_address=identity.market,
            court_address=identity.court,
            block=identity.block,
            block_hash=identity.block_hash,
        )
        session.add(row)
        session.flush()
    elif row.market_address is None or row.court_address is None:
        row.market_address, row.court_address = identity.market, identity.court
        session.flush()
    return Scope(
        deployment_id=row.id,
        chain_id=row.chain_id,
        registry=row.registry_address,
        fed_task=row.fed_task_address,
        market=identity.market,
        court=identity.court,
    )


def _count(session: Session, stmt: Select[Any]) -> int:
    """How many rows ``stmt`` selects."""
    return int(session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)


def _datasets(scope: Scope) -> Select[DatasetListing]:
    return select(DatasetListing).where(DatasetListing.deployment_id == scope.deployment_id)


def get_dataset(session: Session, scope: Scope, dataset_id: int) -> DatasetListing | None:
    """A listing by its on-chain id."""
    stmt = _datasets(scope).where(DatasetListing.dataset_id == dataset_id)
    return session.scalars(stmt).first()


def dataset_by_owner_hash(
    session: Session, scope: Scope, owner: str, metadata_hash: str
) -> DatasetListing | None:
    """``owner``'s listing of a metadata document hash, if recorded (uniqueness is per owner)."""
    stmt = _datasets(scope).where(
        DatasetListing.owner == owner, DatasetListing.metadata_hash == metadata_hash
    )
    return session.scalars(stmt).first()


def _filtered_datasets(
    scope: Scope,
    owner: str | None,
    tag: str | None,
    access_mode: str | None,
    active: bool | None,
    document_status: str | None,
) -> Select[DatasetListing]:
    """The listings of ``scope`` matching every filter given (see :func:`list_datasets`)."""
    stmt = _datasets(scope)
    if active is not None:  # "= true", not "IS TRUE": only the former is an index condition
        stmt = stmt.where(DatasetListing.active == active)
    if document_status is not None:
        stmt = stmt.where(DatasetListing.document_status == document_status)
    if owner is not None:
        stmt = stmt.where(DatasetListing.owner == owner)
    if access_mode is not None:
        stmt = stmt.where(DatasetListing.access_mode == access_mode)
    if tag is not None:
        stmt = stmt.where(
            DatasetListing.pk.in_(select(DatasetTag.listing_pk).where(DatasetTag.tag == tag))
        )
    return stmt


def list_datasets(
    session: Session,
    scope: Scope,
    *,
    owner: str | None = None,
    tag: str | None = None,
    access_mode: str | None = None,
    active: bool | None = None,
    document_status: str | None = None,
    limit: int = 50,
    offset: int = 0,
    with_tags: bool = True,
) -> tuple[list[DatasetListing], int]:
    """A page of listings (ascending id) and the number matching the filters.

    Parameters
    ----------
    session : Session
        The open session.
    scope : Scope
        The deployment.
    owner : str or None, default None
        Only this owner's listings.
    tag : str or None, default None
        Only listings carrying this tag.
    access_mode : str or None, default None
        Only listings of this access mode.
    active : bool or None, default None
        Only listings active (``True``) or delisted (``False``) on-chain; both when ``None``.
    document_status : str or None, default None
        Only listings whose metadata document has this status (``ok``, ``missing``, ``invalid``).
    limit : int, default 50
        Page size.
    offset : int, default 0
        Listings skipped.
    with_tags : bool, default True
        Load each row's ``tags`` (one more query); the API's pages read them from the document.
    """
    stmt = _filtered_datasets(scope, owner, tag, access_mode, active, document_status)
    total = _count(session, stmt)
    # The page's keys first (an index-only scan past the offset), then only those rows: skipping
    # 9,000 listings no longer reads 9,000 documents.
    keys = (
        stmt.with_only_columns(DatasetListing.pk)
        .order_by(DatasetListing.dataset_id)
        .limit(limit)
        .offset(offset)
    )
    ordered = (
        select(DatasetListing)
        .where(DatasetListing.pk.in_(keys.scalar_subquery()))
        .order_by(DatasetListing.dataset_id)
    )
    if not with_tags:
        ordered = ordered.options(lazyload(DatasetListing.tags))
    rows = session.scalars(ordered).all()
    return list(rows), total


CatalogueSort = Literal["newest", "oldest", "price", "price_desc", "name"]
"""Orders of the catalogue page (:func:`search_datasets`)."""


@dataclass(frozen=True)
class CatalogueQuery:
    """What a visitor of the catalogue asked for: every field narrows, ``None`` leaves open.

    Attributes
    ----------
    text : str or None
        Words to find in a listing's name or among its tags (case-insensitive).
    tag : str or None
        Only listings carrying this tag.
    access_mode : str or None
        Only listings of this access mode.
    min_price_wei, max_price_wei : int or None
        Price bounds, inclusive.
    sort : CatalogueSort
        The order of the page.
    limit, offset : int
        The page.
    """

    text: str | None = None
    tag: str | None = None
    access_mode: str | None = None
    min_price_wei: int | None = None
    max_price_wei: int | None = None
    sort: CatalogueSort = "newest"
    limit: int = 24
    offset: int = 0


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _catalogue_order(sort: CatalogueSort) -> list[Any]:
    price = cast(DatasetListing.price_wei, Numeric(78, 0))
    by_id = DatasetListing.dataset_id
    orders: dict[str, list[Any]] = {
        "newest": [by_id.desc()],
        "oldest": [by_id],
        "price": [price, by_id],
        "price_desc": [price.desc(), by_id],
        "name": [func.lower(DatasetListing.name), by_id],
    }
    return orders[sort]


def search_datasets(
    session: Session, scope: Scope, query: CatalogueQuery
) -> tuple[list[DatasetListing], int]:
    """Active listings matching ``query``, in its order, and how many match.

    Prices are stored as decimal strings (they exceed 64 bits); they are compared and sorted
    as ``NUMERIC(78, 0)``, exact on PostgreSQL and as floating point on SQLite.
    """
    stmt = _filtered_datasets(scope, None, query.tag, query.access_mode, True, None)
    price = cast(DatasetListing.price_wei, Numeric(78, 0))
    # Bounds travel as text cast like the column: SQLite cannot bind an int past 2^63 (it raised
    # OverflowError), and both sides then convert alike (exact on PostgreSQL).
    if query.min_price_wei is not None:
        stmt = stmt.where(price >= cast(literal(str(query.min_price_wei)), Numeric(78, 0)))
    if query.max_price_wei is not None:
        stmt = stmt.where(price <= cast(literal(str(query.max_price_wei)), Numeric(78, 0)))
    for word in (query.text or "").lower().split()[:8]:
        tagged = select(DatasetTag.listing_pk).where(DatasetTag.tag == word)
        named = func.lower(DatasetListing.name).like(f"%{_escape_like(word)}%", escape="\\")
        stmt = stmt.where(or_(named, DatasetListing.pk.in_(tagged)))
    total = _count(session, stmt)
    page = stmt.order_by(*_catalogue_order(query.sort)).limit(query.limit).offset(query.offset)
    return list(session.scalars(page).all()), total


@dataclass(frozen=True, kw_only=True)
class NewModel:
    """A model listing to record: the description of a ModelMarket listing.

    Parameters
    ----------
    model_id : int
        The ModelMarket listing's id.
    task_id : int
        The task that trained the model (one listing per task).
    name, description : str
        Shown to buyers.
    price_wei : int
        The market's price when the listing was recorded, in token wei.
    sponsor_bps : int
        The sponsor's cut of each sale (fixed on-chain at listing).
    model_cid, model_hash : str
        The task's final model on-chain.
    card_cid, card_hash : str
        CID and ``0x`` keccak hash of the model card.
    metrics : dict
        Evaluation figures from the card.
    listed_by : str
        The lister on-chain (the task's sponsor), who signed the description.
    contributors : sequence of (address, share_bps)
        In the task's join order, as FedTask fixed them.
    """

    model_id: int
    task_id: int
    name: str
    description: str
    price_wei: int
    sponsor_bps: int
    model_cid: str
    model_hash: str
    card_cid: str
    card_hash: str
    metrics: dict[str, float]
    listed_by: str
    contributors: Sequence[tuple[str, int]]


def add_model(session: Session, scope: Scope, model: NewModel) -> ModelListing:
    """Record a model listing with its contributors' shares (flushed).

    Parameters
    ----------
    session : Session
        The open session.
    scope : Scope
        The deployment the task ran on.
    model : NewModel
        What to record.
    """
    row = ModelListing(
        deployment_id=scope.deployment_id,
        model_id=model.model_id,
        task_id=model.task_id,
        name=model.name,
        description=model.description,
        price_wei=str(model.price_wei),
        sponsor_bps=model.sponsor_bps,
        model_cid=model.model_cid,
        model_hash=model.model_hash,
        card_cid=model.card_cid,
        card_hash=model.card_hash,
        metrics=dict(model.metrics),
        listed_by=model.listed_by,
        contributors=[
            ModelContributor(address=a, position=i, share_bps=bps)
            for i, (a, bps) in enumerate(model.contributors)
        ],
    )
    session.add(row)
    session.flush()
    return row


def _models(scope: Scope) -> Select[ModelListing]:
    return select(ModelListing).where(ModelListing.deployment_id == scope.deployment_id)


def get_model(session: Session, scope: Scope, model_id: int) -> ModelListing | None:
    """A model listing by its ModelMarket id."""
    return session.scalars(_models(scope).where(ModelListing.model_id == model_id)).first()


def model_for_task(session: Session, scope: Scope, task_id: int) -> ModelListing | None:
    """The listing of a task's model, if any."""
    return session.scalars(_models(scope).where(ModelListing.task_id == task_id)).first()


def list_models(
    session: Session,
    scope: Scope,
    *,
    task_id: int | None = None,
    contributor: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[ModelListing], int]:
    """A page of model listings (ascending ModelMarket id) and the number matching the filters.

    Parameters
    ----------
    session : Session
        The open session.
    scope : Scope
        The deployment.
    task_id : int or None, default None
        Only the listing of this task.
    contributor : str or None, default None
        Only models this address contributed to.
    limit : int, default 50
        Page size.
    offset : int, default 0
        Listings skipped.
    """
    stmt = _models(scope)
    if task_id is not None:
        stmt = stmt.where(ModelListing.task_id == task_id)
    if contributor is not None:
        stmt = stmt.where(
            ModelListing.id.in_(
                select(ModelContributor.model_id).where(ModelContributor.address == contributor)
            )
        )
    total = _count(session, stmt)
    ordered = stmt.order_by(ModelListing.model_id).limit(limit).offset(offset)
    rows = session.scalars(ordered).all()
    return list(rows), total


# ---- the chain index (read only) -----------------------------------------------------------------
@dataclass(frozen=True)
class IndexHead:
    """How far the index of a deployment goes.

    Parameters
    ----------
    block : int
        Every block up to this one is indexed.
    block_hash : str
        Its hash.
    timestamp : int
        Its time: the index's "now" (whether a window has passed is judged against it).
    """

    block: int
    block_hash: str
    timestamp: int


def index_head(session: Session, scope: Scope) -> IndexHead | None:
    """Where the index of ``scope`` stands (``None`` before the indexer first ran)."""
    row = session.get(IndexCursor, scope.deployment_id)
    return None if row is None else IndexHead(row.block, row.block_hash, row.block_timestamp)


IndexToken = tuple[int, int, str]
"""``(version, block, block_hash)`` of a deployment's index: equal tokens, equal index."""

_CURSORS = IndexCursor.__table__
_INDEX_TOKEN = select(_CURSORS.c.version, _CURSORS.c.block, _CURSORS.c.block_hash).where(
    _CURSORS.c.deployment_id == bindparam("deployment_id")
)


def index_token(connection: Session | Connection, scope: Scope) -> IndexToken | None:
    """The index's token, read in one indexed lookup (``None`` before the indexer first ran).

    Every write transaction of the indexer adds one to the version
    (see :mod:`marketplace_api.cache`). A Core statement on a connection (a session's, or one
    outside any transaction): this runs on every cached read, and the ORM's per-statement work
    would be most of its cost.
    """
    conn = connection.connection() if isinstance(connection, Session) else connection
    row = conn.execute(_INDEX_TOKEN, {"deployment_id": scope.deployment_id}).first()
    return None if row is None else (int(row[0]), int(row[1]), str(row[2]))


def get_task(session: Session, scope: Scope, task_id: int) -> IndexedTask | None:
    """A task's row in the index."""
    return session.get(IndexedTask, (scope.deployment_id, task_id))


def list_tasks(
    session: Session,
    scope: Scope,
    *,
    status: str | None = None,
    sponsor: str | None = None,
    coordinator: str | None = None,
    participant: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[IndexedTask], int]:
    """A page of tasks (ascending id) and the number matching the filters.

    Parameters
    ----------
    session : Session
        The open session.
    scope : Scope
        The deployment.
    status : str or None, default None
        Only tasks of this status (``joining``, ``training``, ``completed``, ...).
    sponsor, coordinator : str or None, default None
        Only tasks of this sponsor, of this (current) coordinator.
    participant : str or None, default None
        Only tasks this account joined.
    limit : int, default 50
        Page size.
    offset : int, default 0
        Tasks skipped.
    """
    stmt = select(IndexedTask).where(IndexedTask.deployment_id == scope.deployment_id)
    if status is not None:
        stmt = stmt.where(IndexedTask.status == status)
    if sponsor is not None:
        stmt = stmt.where(IndexedTask.sponsor == sponsor)
    if coordinator is not None:
        stmt = stmt.where(IndexedTask.coordinator == coordinator)
    if participant is not None:
        joined = select(TaskAccount.task_id).where(
            TaskAccount.deployment_id == scope.deployment_id,
            TaskAccount.account == participant,
            TaskAccount.role == "participant",
        )
        stmt = stmt.where(IndexedTask.task_id.in_(joined))
    total = _count(session, stmt)
    ordered = stmt.order_by(IndexedTask.task_id).limit(limit).offset(offset)
    return list(session.scalars(ordered).all()), total


def tasks_by_id(session: Session, scope: Scope, task_ids: Sequence[int]) -> dict[int, IndexedTask]:
    """Indexed tasks by id (those not indexed are absent)."""
    if not task_ids:
        return {}
    stmt = select(IndexedTask).where(
        IndexedTask.deployment_id == scope.deployment_id, IndexedTask.task_id.in_(list(task_ids))
    )
    return {row.task_id: row for row in session.scalars(stmt)}


def task_accounts_of(session: Session, scope: Scope, account: str) -> list[TaskAccount]:
    """Every task ``account`` joined, coordinates or coordinated, by task id."""
    stmt = (
        select(TaskAccount)
        .where(TaskAccount.deployment_id == scope.deployment_id, TaskAccount.account == account)
        .order_by(TaskAccount.task_id)
    )
    return list(session.scalars(stmt).all())


def get_market_model(session: Session, scope: Scope, model_id: int) -> MarketModel | None:
    """A ModelMarket listing as the index has it (price, activity, proceeds: live from events)."""
    return session.get(MarketModel, (scope.deployment_id, model_id))


def market_models(
    session: Session,
    scope: Scope,
    *,
    model_ids: Sequence[int] | None = None,
    task_ids: Sequence[int] | None = None,
    lister: str | None = None,
) -> list[MarketModel]:
    """ModelMarket listings of the index (by id), optionally only some ids, tasks or a lister."""
    stmt = select(MarketModel).where(MarketModel.deployment_id == scope.deployment_id)
    if model_ids is not None:
        stmt = stmt.where(MarketModel.model_id.in_(list(model_ids)))
    if task_ids is not None:
        stmt = stmt.where(MarketModel.task_id.in_(list(task_ids)))
    if lister is not None:
        stmt = stmt.where(MarketModel.lister == lister)
    return list(session.scalars(stmt.order_by(MarketModel.model_id)).all())


def licences_of(session: Session, scope: Scope, buyer: str) -> list[Licence]:
    """The licences ``buyer`` holds (datasets and models), oldest first."""
    stmt = (
        select(Licence)
        .where(Licence.deployment_id == scope.deployment_id, Licence.buyer == buyer)
        .order_by(Licence.block, Licence.kind, Licence.item_id)
    )
    return list(session.scalars(stmt).all())


def has_licence(session: Session, scope: Scope, kind: str, item_id: int, buyer: str) -> bool:
    """Whether the index holds ``buyer``'s licence of a dataset or model."""
    key = (scope.deployment_id, kind, item_id, buyer)
    return session.get(Licence, key) is not None


def events(
    session: Session,
    scope: Scope,
    *,
    contract: str | None = None,
    names: Sequence[str] | None = None,
    account: str | None = None,
    item_ids: Sequence[int] | None = None,
) -> list[ChainEvent]:
    """Indexed events in chain order, filtered by contract, event names, account and item ids."""
    stmt = select(ChainEvent).where(ChainEvent.deployment_id == scope.deployment_id)
    if contract is not None:
        stmt = stmt.where(ChainEvent.contract == contract)
    if names is not None:
        stmt = stmt.where(ChainEvent.name.in_(list(names)))
    if account is not None:
        stmt = stmt.where(ChainEvent.account == account)
    if item_ids is not None:
        stmt = stmt.where(ChainEvent.item_id.in_(list(item_ids)))
    return list(session.scalars(stmt.order_by(ChainEvent.block, ChainEvent.log_index)).all())


def dataset_ids_of(session: Session, scope: Scope, owner: str) -> list[int]:
    """The ids of every listing of ``owner`` (delisted ones too)."""
    stmt = _datasets(scope).where(DatasetListing.owner == owner).order_by(DatasetListing.dataset_id)
    return [row.dataset_id for row in session.scalars(stmt)]


def count_datasets(session: Session, scope: Scope) -> int:
    """Listings in the index, delisted ones too (the registry's count, once caught up)."""
    stmt = select(func.count()).select_from(_datasets(scope).subquery())
    return int(session.scalar(stmt) or 0)


__all__ = [
    "CatalogueQuery",
    "CatalogueSort",
    "DeploymentIdentity",
    "IndexHead",
    "IndexToken",
    "NewModel",
    "Scope",
    "add_model",
    "count_datasets",
    "dataset_by_owner_hash",
    "dataset_ids_of",
    "ensure_deployment",
    "events",
    "get_dataset",
    "get_market_model",
    "get_model",
    "get_task",
    "has_licence",
    "index_head",
    "index_token",
    "licences_of",
    "list_datasets",
    "search_datasets",
    "list_models",
    "list_tasks",
    "market_models",
    "model_for_task",
    "task_accounts_of",
    "tasks_by_id",
]
