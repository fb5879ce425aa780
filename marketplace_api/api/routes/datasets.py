"""``/datasets``: listings signed by their owners, relayed on-chain by the API, then indexed.

The server never trusts a client's hash: it rebuilds the metadata document from the fields
received, computes its CID and keccak hash, reads the owner's nonce from the registry and checks
the EIP-712 signature before paying gas to relay it.
"""

from __future__ import annotations

import logging
import time
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, status
from sqlalchemy.orm import Session

from chain import DatasetRegistryClient, ListingRequest, TxResult
from chain.registry import DOMAIN_NAME, DOMAIN_VERSION, listing_typed_data
from marketplace_api import crud
from marketplace_api.api.deps import RegistryDep, ScopeDep, ServicesDep, SessionDep, StoreDep
from marketplace_api.crud import Scope
from marketplace_api.errors import (
    CidMismatchError,
    ConflictError,
    FieldError,
    MalformedSignatureError,
    NotFoundError,
)
from marketplace_api.listing import MetadataDocument, metadata_document, recover_dataset_owner
from marketplace_api.models import DatasetListing
from marketplace_api.schemas import (
    INT64_MAX,
    AddressStr,
    DatasetCreate,
    DatasetPage,
    DatasetPublic,
    SigningDomain,
    SigningParams,
    Tag,
)
from storage import ContentStore

log = logging.getLogger(__name__)

router = APIRouter(prefix="/datasets", tags=["datasets"])

SUGGESTED_VALIDITY_S = 3600
"""Suggested lifetime of a listing signature."""


def chain_now(registry: DatasetRegistryClient) -> int:
    """The later of the wall clock and the latest block's timestamp (what a deadline must beat)."""
    latest = registry.backend.w3.eth.get_block("latest")
    return max(int(time.time()), int(latest.get("timestamp", 0)))


def to_public(row: DatasetListing, scope: Scope) -> DatasetPublic:
    """The API form of a stored listing."""
    return DatasetPublic.model_validate(
        {
            **row.document,
            "id": row.dataset_id,
            "chain_id": scope.chain_id,
            "registry": scope.registry,
            "metadata_cid": row.metadata_cid,
            "metadata_hash": row.metadata_hash,
            "tx_hash": row.tx_hash,
            "block": row.block,
            "created_at": row.created_at,
        }
    )


@router.get("/signing-params", response_model=SigningParams)
def read_signing_params(owner: Annotated[AddressStr, Query()], registry: RegistryDep) -> Any:
    """What ``owner`` needs to sign a listing: the EIP-712 domain, its nonce, a deadline."""
    chain_id = registry.backend.chain_id
    placeholder = ListingRequest(owner, bytes(32), "", 0, 0)  # only the types are taken
    types = listing_typed_data(chain_id, registry.address, placeholder)["types"]
    return SigningParams(
        owner=owner,
        chain_id=chain_id,
        registry=registry.address,
        domain=SigningDomain(
            name=DOMAIN_NAME,
            version=DOMAIN_VERSION,
            chain_id=chain_id,
            verifying_contract=registry.address,
        ),
        types=types,
        nonce=registry.nonce(owner),
        deadline=chain_now(registry) + SUGGESTED_VALIDITY_S,
    )


def signature_faults(
    body: DatasetCreate, registry: DatasetRegistryClient, request: ListingRequest, nonce: int
) -> list[FieldError]:
    """What is wrong with the request's signature and deadline (empty when nothing is)."""
    faults: list[FieldError] = []
    try:
        signer = recover_dataset_owner(
            registry.backend.chain_id, registry.address, request, body.signature
        )
    except MalformedSignatureError:
        faults.append(FieldError(("body", "signature"), "not a valid ECDSA signature"))
    else:
        if signer != body.owner:
            faults.append(
                FieldError(
                    ("body", "signature"),
                    f"the signature does not match the owner {body.owner} for this metadata "
                    f"(nonce {nonce})",
                )
            )
    now = chain_now(registry)
    if body.deadline < now:
        faults.append(
            FieldError(("body", "deadline"), f"the deadline {body.deadline} has passed ({now})")
        )
    return faults


def refuse_duplicate(
    session: Session, scope: Scope, registry: DatasetRegistryClient, doc: MetadataDocument
) -> None:
    """Raise :class:`ConflictError` when this metadata is already listed on-chain or recorded."""
    existing = registry.dataset_id_of(bytes(doc.hash))
    if existing:
        raise ConflictError(f"this metadata is already listed as dataset {existing}")
    if crud.dataset_by_hash(session, scope, doc.hash_hex) is not None:
        raise ConflictError("this metadata is already recorded")


def store_document(store: ContentStore, doc: MetadataDocument) -> None:
    """Put the metadata document in the store, under the CID the owner signed."""
    stored = store.put(doc.data)
    if stored != doc.cid:  # a store that names objects differently would break every anchor
        raise CidMismatchError(f"create_dataset: store returned {stored}, expected {doc.cid}")


def record_dataset(
    session: Session,
    scope: Scope,
    body: DatasetCreate,
    doc: MetadataDocument,
    dataset_id: int,
    tx: TxResult,
) -> DatasetListing:
    """Index a listing that is already on-chain (logged loudly when that fails)."""
    try:
        row = crud.add_dataset(
            session,
            scope,
            dataset_id=dataset_id,
            owner=body.owner,
            name=body.name,
            metadata_cid=doc.cid,
            metadata_hash=doc.hash_hex,
            document=body.document_fields(),
            tags=body.tags,
            tx_hash=tx.tx_hash,
            block=tx.block_number,
        )
        session.commit()
    except Exception:
        log.error(
            "create_dataset: dataset %s is on-chain (tx %s) but could not be recorded",
            dataset_id,
            tx.tx_hash,
        )
        raise
    return row


@router.post(
    "",
    response_model=DatasetPublic,
    status_code=status.HTTP_201_CREATED,
    responses={
        409: {"description": "This metadata is already listed."},
        422: {"description": "Invalid metadata, signature or deadline."},
    },
)
def create_dataset(
    body: DatasetCreate,
    session: SessionDep,
    registry: RegistryDep,
    store: StoreDep,
    services: ServicesDep,
    scope: ScopeDep,
) -> Any:
    """List a dataset on-chain for its owner, relaying the owner's EIP-712 signature."""
    doc = metadata_document(body)
    nonce = registry.nonce(body.owner)
    request = doc.request(body.owner, nonce, body.deadline)
    faults = signature_faults(body, registry, request, nonce)
    if faults:
        raise FieldError.many(faults)
    refuse_duplicate(session, scope, registry, doc)
    store_document(store, doc)
    dataset_id, tx = registry.list_dataset_for(request, bytes.fromhex(body.signature[2:]))
    log.info(
        "create_dataset: dataset %s listed for %s by relayer %s (tx %s, block %s)",
        dataset_id,
        body.owner,
        services.relayer.address,
        tx.tx_hash,
        tx.block_number,
    )
    row = record_dataset(session, scope, body, doc, dataset_id, tx)
    return to_public(row, scope)


@router.get("", response_model=DatasetPage)
def read_datasets(
    session: SessionDep,
    scope: ScopeDep,
    owner: Annotated[AddressStr | None, Query()] = None,
    tag: Annotated[Tag | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Annotated[int, Query(ge=0, le=INT64_MAX)] = 0,
) -> Any:
    """Listings, oldest first, optionally one owner's or one tag's."""
    rows, total = crud.list_datasets(
        session, scope, owner=owner, tag=tag, limit=limit, offset=offset
    )
    return DatasetPage(
        items=[to_public(r, scope) for r in rows], total=total, limit=limit, offset=offset
    )


@router.get("/{dataset_id}", response_model=DatasetPublic, responses={404: {}})
def read_dataset(
    dataset_id: Annotated[int, Path(ge=1, le=INT64_MAX)], session: SessionDep, scope: ScopeDep
) -> Any:
    """One listing by its on-chain id."""
    row = crud.get_dataset(session, scope, dataset_id)
    if row is None:
        raise NotFoundError(f"dataset {dataset_id} is not listed")
    return to_public(row, scope)
