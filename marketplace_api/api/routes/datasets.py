"""``/datasets``: listings signed by their owners, relayed on-chain by the API, then indexed.

The server never trusts a client's hash: it rebuilds the metadata document from the fields
received, computes its CID and keccak hash, and checks the owner's EIP-712 ``ListDataset``
signature over them, the access mode, the price, the owner's registry nonce and the deadline
(:meth:`~chain.registry.DatasetRegistryClient.verify_listing`) before paying gas to relay it.
Uniqueness is per owner, as on-chain: another account's copy of the same metadata is its own
listing and blocks nobody; the same owner listing the same document twice is a 409 naming the
listing it already has. The index records the access mode and price signed at listing; a later
``updateListing`` or delisting on-chain is not reflected in it.
"""

from __future__ import annotations

import logging
import time
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, status
from sqlalchemy.orm import Session

from chain import DatasetRegistryClient, ListingRequest, TxResult
from chain.registry import DOMAIN_NAME, DOMAIN_VERSION, listing_types
from kernel.errors import InvalidInputError
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
    AccessModeName,
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
    return max(int(time.time()), registry.backend.latest_timestamp())


def to_public(row: DatasetListing, scope: Scope) -> DatasetPublic:
    """The API form of a stored listing."""
    return DatasetPublic.model_validate(
        {
            **row.document,
            "id": row.dataset_id,
            "chain_id": scope.chain_id,
            "registry": scope.registry,
            "access_mode": row.access_mode,
            "price_wei": int(row.price_wei),
            "metadata_cid": row.metadata_cid,
            "metadata_hash": row.metadata_hash,
            "tx_hash": row.tx_hash,
            "block": row.block,
            "created_at": row.created_at,
        }
    )


@router.get("/signing-params", response_model=SigningParams)
def read_signing_params(owner: Annotated[AddressStr, Query()], registry: RegistryDep) -> Any:
    """What ``owner`` needs to sign a listing: EIP-712 domain and types, nonce, a deadline."""
    chain_id = registry.backend.chain_id
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
        types=listing_types(),
        nonce=registry.nonce(owner),
        deadline=chain_now(registry) + SUGGESTED_VALIDITY_S,
    )


def listing_request(body: DatasetCreate, doc: MetadataDocument, nonce: int) -> ListingRequest:
    """The ``ListDataset`` message the owner should have signed for ``body``."""
    return doc.request(
        body.owner,
        nonce=nonce,
        deadline=body.deadline,
        access_mode=body.access_mode,
        price=int(body.price_wei),
    )


def document_faults(body: DatasetCreate) -> list[FieldError]:
    """Where the metadata document contradicts the signed access mode (empty when it does not)."""
    downloadable = body.access_mode == "downloadable"
    if body.downloadable == downloadable:
        return []
    return [
        FieldError(
            ("body", "downloadable"),
            f"the document says downloadable={str(body.downloadable).lower()} but the access "
            f"mode signed is {body.access_mode}",
        )
    ]


def signature_faults(
    body: DatasetCreate, registry: DatasetRegistryClient, request: ListingRequest
) -> list[FieldError]:
    """What is wrong with the request's signature, nonce and deadline (empty when nothing is)."""
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
                    f"the signature does not match the owner {body.owner} for this metadata, "
                    f"access mode {body.access_mode}, price {body.price_wei} wei, nonce "
                    f"{request.nonce} and deadline {body.deadline}",
                )
            )
    faults.extend(nonce_faults(body, registry))
    now = chain_now(registry)
    if body.deadline < now:
        faults.append(
            FieldError(("body", "deadline"), f"the deadline {body.deadline} has passed ({now})")
        )
    return faults


def nonce_faults(body: DatasetCreate, registry: DatasetRegistryClient) -> list[FieldError]:
    """A fault when the request names a nonce that is not the owner's current one."""
    if body.nonce is None:
        return []
    current = registry.nonce(body.owner)
    if body.nonce == current:
        return []
    why = "was used or cancelled" if body.nonce < current else "is not reached yet"
    return [
        FieldError(
            ("body", "nonce"),
            f"nonce {body.nonce} {why}: the owner's current registry nonce is {current}",
        )
    ]


def refuse_duplicate(
    session: Session,
    scope: Scope,
    registry: DatasetRegistryClient,
    owner: str,
    doc: MetadataDocument,
) -> None:
    """Raise :class:`ConflictError` when ``owner`` already listed this metadata (on-chain or here).

    Another owner's listing of the same hash does not count: uniqueness is per owner.
    """
    existing = registry.dataset_id_of(owner, bytes(doc.hash))
    if existing:
        raise ConflictError(f"{owner} already listed this metadata as dataset {existing}")
    recorded = crud.dataset_by_owner_hash(session, scope, owner, doc.hash_hex)
    if recorded is not None:
        raise ConflictError(
            f"{owner} already listed this metadata as dataset {recorded.dataset_id}"
        )


def verify_before_relay(
    registry: DatasetRegistryClient, request: ListingRequest, signature: bytes
) -> None:
    """Check the request as the contract will, against the latest block (no gas spent)."""
    try:
        registry.verify_listing(request, signature)
    except InvalidInputError as exc:  # chain's SignatureError: signer, nonce or deadline
        raise FieldError(("body", "signature"), f"refused before relaying: {exc}") from None


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
            access_mode=body.access_mode,
            price_wei=int(body.price_wei),
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
        409: {"description": "The owner already listed this metadata."},
        422: {"description": "Invalid metadata, access mode, price, signature, nonce or deadline."},
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
    nonce = registry.nonce(body.owner) if body.nonce is None else body.nonce
    request = listing_request(body, doc, nonce)
    faults = document_faults(body) + signature_faults(body, registry, request)
    if faults:
        raise FieldError.many(faults)
    refuse_duplicate(session, scope, registry, body.owner, doc)
    signature = bytes.fromhex(body.signature[2:])
    verify_before_relay(registry, request, signature)
    store_document(store, doc)
    dataset_id, tx = registry.list_dataset_for(request, signature)
    log.info(
        "create_dataset: dataset %s (%s, %s wei) listed for %s by relayer %s (tx %s, block %s)",
        dataset_id,
        body.access_mode,
        body.price_wei,
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
    access_mode: Annotated[AccessModeName | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Annotated[int, Query(ge=0, le=INT64_MAX)] = 0,
) -> Any:
    """Listings, oldest first, optionally one owner's, one tag's or one access mode's."""
    rows, total = crud.list_datasets(
        session,
        scope,
        owner=owner,
        tag=tag,
        access_mode=access_mode,
        limit=limit,
        offset=offset,
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
