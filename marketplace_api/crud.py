"""Reads and writes of the marketplace tables: the only module that builds queries.

Functions take a :class:`~sqlalchemy.orm.Session` and the :class:`Scope` (the deployment) they
work in, obtained once with :func:`ensure_deployment`; they flush but never commit: the caller
owns the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from chain import Deployment
from marketplace_api.models import (
    ACCESS_MODES,
    ChainDeployment,
    DatasetListing,
    DatasetTag,
    ModelContributor,
    ModelListing,
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


def add_dataset(
    session: Session,
    scope: Scope,
    *,
    dataset_id: int,
    owner: str,
    name: str,
    metadata_cid: str,
    metadata_hash: str,
    document: dict[str, Any],
    tags: Sequence[str],
    tx_hash: str,
    block: int,
    access_mode: str = ACCESS_MODES[0],
    price_wei: int = 0,
) -> DatasetListing:
    """Record a listing (flushed, so constraint violations surface here).

    Parameters
    ----------
    session : Session
        The open session.
    scope : Scope
        The deployment the listing was made on.
    dataset_id : int
        On-chain dataset id.
    owner : str
        Checksummed owner address.
    name : str
        Listing name.
    metadata_cid, metadata_hash : str
        CID and ``0x`` keccak hash of the metadata document.
    document : dict
        The metadata document as JSON.
    tags : sequence of str
        Tags, in order.
    tx_hash, block : str and int
        The relaying transaction's hash and its block.
    access_mode : str, default "federated_only"
        One of :data:`~marketplace_api.models.ACCESS_MODES`.
    price_wei : int, default 0
        Price of a licence in token wei (0 for ``federated_only``).
    """
    row = DatasetListing(
        deployment_id=scope.deployment_id,
        dataset_id=dataset_id,
        owner=owner,
        name=name,
        metadata_cid=metadata_cid,
        metadata_hash=metadata_hash,
        document=document,
        tx_hash=tx_hash,
        block=block,
        access_mode=access_mode,
        price_wei=str(price_wei),
        tags=[DatasetTag(tag=t, position=i) for i, t in enumerate(tags)],
    )
    session.add(row)
    session.flush()
    return row


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


def list_datasets(
    session: Session,
    scope: Scope,
    *,
    owner: str | None = None,
    tag: str | None = None,
    access_mode: str | None = None,
    limit: int = 50,
    offset: int = 0,
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
    limit : int, default 50
        Page size.
    offset : int, default 0
        Listings skipped.
    """
    stmt = _datasets(scope)
    if owner is not None:
        stmt = stmt.where(DatasetListing.owner == owner)
    if access_mode is not None:
        stmt = stmt.where(DatasetListing.access_mode == access_mode)
    if tag is not None:
        stmt = stmt.where(
            DatasetListing.pk.in_(select(DatasetTag.listing_pk).where(DatasetTag.tag == tag))
        )
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    ordered = stmt.order_by(DatasetListing.dataset_id).limit(limit).offset(offset)
    rows = session.scalars(ordered).all()
    return list(rows), int(total)


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
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    ordered = stmt.order_by(ModelListing.model_id).limit(limit).offset(offset)
    rows = session.scalars(ordered).all()
    return list(rows), int(total)


__all__ = [
    "DeploymentIdentity",
    "NewModel",
    "Scope",
    "add_dataset",
    "add_model",
    "dataset_by_owner_hash",
    "ensure_deployment",
    "get_dataset",
    "get_model",
    "list_datasets",
    "list_models",
    "model_for_task",
]
