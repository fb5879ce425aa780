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
    registry, fed_task, token : str
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
    """

    deployment_id: int
    chain_id: int
    registry: str
    fed_task: str


def ensure_deployment(session: Session, identity: DeploymentIdentity) -> Scope:
    """The scope of ``identity``, recording the deployment the first time it is seen.

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
            block=identity.block,
            block_hash=identity.block_hash,
        )
        session.add(row)
        session.flush()
    return Scope(row.id, row.chain_id, row.registry_address, row.fed_task_address)


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
    tx_hash : str
        Hash of the relaying transaction.
    block : int
        Its block.
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


def dataset_by_hash(session: Session, scope: Scope, metadata_hash: str) -> DatasetListing | None:
    """The listing of a metadata document hash, if recorded."""
    stmt = _datasets(scope).where(DatasetListing.metadata_hash == metadata_hash)
    return session.scalars(stmt).first()


def list_datasets(
    session: Session,
    scope: Scope,
    *,
    owner: str | None = None,
    tag: str | None = None,
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
    limit : int, default 50
        Page size.
    offset : int, default 0
        Listings skipped.
    """
    stmt = _datasets(scope)
    if owner is not None:
        stmt = stmt.where(DatasetListing.owner == owner)
    if tag is not None:
        stmt = stmt.where(
            DatasetListing.pk.in_(select(DatasetTag.listing_pk).where(DatasetTag.tag == tag))
        )
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    ordered = stmt.order_by(DatasetListing.dataset_id).limit(limit).offset(offset)
    rows = session.scalars(ordered).all()
    return list(rows), int(total)


def add_model(
    session: Session,
    scope: Scope,
    *,
    task_id: int,
    name: str,
    description: str,
    price_wei: int,
    model_cid: str,
    model_hash: str,
    card_cid: str,
    metrics: dict[str, float],
    listed_by: str,
    contributors: Sequence[tuple[str, int, int]],
) -> ModelListing:
    """Record a model listing with its contributors' fixed shares.

    Parameters
    ----------
    session : Session
        The open session.
    scope : Scope
        The deployment the task ran on.
    task_id : int
        The task that trained the model (one listing per task).
    name, description : str
        Shown to buyers.
    price_wei : int
        Price in token wei.
    model_cid, model_hash : str
        The final model on-chain.
    card_cid : str
        CID of the model card.
    metrics : dict
        Evaluation figures from the card.
    listed_by : str
        Address that signed the listing.
    contributors : sequence of (address, share_bps, paid_wei)
        In the task's join order.
    """
    row = ModelListing(
        deployment_id=scope.deployment_id,
        task_id=task_id,
        name=name,
        description=description,
        price_wei=str(price_wei),
        model_cid=model_cid,
        model_hash=model_hash,
        card_cid=card_cid,
        metrics=dict(metrics),
        listed_by=listed_by,
        contributors=[
            ModelContributor(address=a, position=i, share_bps=bps, paid_wei=str(paid))
            for i, (a, bps, paid) in enumerate(contributors)
        ],
    )
    session.add(row)
    session.flush()
    return row


def _models(scope: Scope) -> Select[ModelListing]:
    return select(ModelListing).where(ModelListing.deployment_id == scope.deployment_id)


def get_model(session: Session, scope: Scope, model_id: int) -> ModelListing | None:
    """A model listing by id."""
    return session.scalars(_models(scope).where(ModelListing.id == model_id)).first()


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
    """A page of model listings (ascending id) and the number matching the filters.

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
    rows = session.scalars(stmt.order_by(ModelListing.id).limit(limit).offset(offset)).all()
    return list(rows), int(total)


__all__ = [
    "DeploymentIdentity",
    "Scope",
    "add_dataset",
    "add_model",
    "dataset_by_hash",
    "ensure_deployment",
    "get_dataset",
    "get_model",
    "list_datasets",
    "list_models",
    "model_for_task",
]
