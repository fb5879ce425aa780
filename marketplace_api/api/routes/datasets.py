"""``/datasets``: listings signed by their owners, relayed on-chain by the API, read from the index.

The chain is the source of truth and the database its index: ``POST /datasets`` relays the
owner's signed listing and answers ``202 Accepted`` with the transaction hash and the dataset id
as soon as the receipt gives them (``Location: /datasets/{id}``); the listing appears in
``GET /datasets`` once the indexer (:mod:`marketplace_api.indexer`) sees its ``DatasetListed``
event, exactly once, like every listing made on-chain without the API. Only the indexer writes
listing rows, and the API holds no database transaction while it talks to the chain.

The server never trusts a client's hash: it rebuilds the metadata document from the fields
received, computes its CID and keccak hash, and checks the owner's EIP-712 ``ListDataset``
signature over them, the access mode, the price, the owner's registry nonce and the deadline
(:meth:`~chain.registry.DatasetRegistryClient.verify_listing`) before paying gas to relay it. Text
the database could not store (NUL and other control characters, unpaired surrogates) is refused
first, naming the field, so nothing is relayed that cannot be indexed. Uniqueness is per owner,
as on-chain: the same owner listing the same document twice (a retry, or the same signed request
relayed twice) is a 409 naming the listing it already has, which ``GET`` then shows. Access mode,
price and activity follow the registry's events (``ListingUpdated``, ``DatasetDelisted``,
``DatasetRelisted``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Annotated, Any, Literal

from eth_utils.address import to_checksum_address
from fastapi import APIRouter, Depends, Path, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from chain import ChainRevertError, DatasetRegistryClient, ListingRequest, TxResult
from chain.registry import (
    DOMAIN_NAME,
    DOMAIN_VERSION,
    listing_active_types,
    listing_typed_data,
    listing_types,
    listing_update_types,
)
from kernel.errors import InvalidInputError
from marketplace_api import crud
from marketplace_api.api.deps import (
    CurrentUser,
    RegistryDep,
    ScopeDep,
    ServicesDep,
    StoreDep,
    ensure_signed_in_as,
)
from marketplace_api.api.limits import RelayGate
from marketplace_api.api.pages import cached_json, json_bytes, listing_record
from marketplace_api.api.strict import strict_body
from marketplace_api.crud import Scope
from marketplace_api.errors import (
    CidMismatchError,
    ConflictError,
    FieldError,
    MalformedSignatureError,
    NotFoundError,
)
from marketplace_api.indexer import unstorable_text
from marketplace_api.listing import MetadataDocument, metadata_document, recover_dataset_owner
from marketplace_api.models import DatasetListing
from marketplace_api.schemas import (
    INT64_MAX,
    AccessModeName,
    AddressStr,
    ColumnSpec,
    DatasetCreate,
    DatasetDraft,
    Hash32Hex,
    SigningDomain,
    SigningParams,
    Tag,
    UtcDatetime,
    Wei,
)
from marketplace_api.services import Services
from marketplace_api.statistics import FeatureStatistics, QualityChecks, quality_report
from storage import ContentStore

log = logging.getLogger(__name__)

router = APIRouter(prefix="/datasets", tags=["datasets"])

SUGGESTED_VALIDITY_S = 3600
"""Suggested lifetime of a listing signature."""

CATCH_UP_S = 10.0
"""Longest wait for the index to show a listing a 409 names."""


def chain_now(registry: DatasetRegistryClient) -> int:
    """The later of the wall clock and the latest block's timestamp (what a deadline must beat)."""
    return max(int(time.time()), registry.backend.latest_timestamp())


class DatasetListingPublic(BaseModel):
    """A listing as the index holds it: the chain's facts and, when readable, its metadata document.

    The document's fields (``name`` ... ``downloadable``) are null unless ``document_status`` is
    ``ok``: the document under ``metadata_cid`` hashes to ``metadata_hash`` and names ``owner``.
    """

    model_config = ConfigDict(serialize_by_alias=True, populate_by_name=True)

    id: int = Field(description="The on-chain dataset id (DatasetRegistry).")
    chain_id: int
    registry: AddressStr
    owner: AddressStr
    active: bool = Field(description="False once delisted on-chain (until relisted).")
    access_mode: AccessModeName = Field(description="The access mode on-chain now.")
    price_wei: Wei = Field(description="The price on-chain now.")
    metadata_cid: str
    metadata_hash: Hash32Hex
    tx_hash: Hash32Hex = Field(description="The transaction that listed it.")
    block: int
    created_at: UtcDatetime = Field(description="The time of the block that listed it.")
    sales: int = Field(description="Licences sold on-chain.")
    document_status: Literal["ok", "missing", "invalid"]
    document_error: str | None = None
    name: str | None = None
    description: str | None = None
    columns: list[ColumnSpec] | None = Field(default=None, alias="schema")
    row_count: int | None = None
    statistics: FeatureStatistics | None = None
    quality: dict[str, float] | None = None
    quality_checks: QualityChecks | None = Field(
        default=None,
        description="The sponsor contract's checks, computed by the API from the statistics and "
        "the schema (null unless document_status is ok).",
    )
    license: str | None = None
    tags: list[str] = Field(default_factory=list)
    downloadable: bool | None = None


class DatasetListingPage(BaseModel):
    """A page of listings, by dataset id."""

    items: list[DatasetListingPublic]
    total: int
    limit: int
    offset: int


class DatasetRelayed(BaseModel):
    """A listing relayed on-chain: it shows at ``location`` once indexed."""

    id: int = Field(description="The on-chain dataset id, from the receipt.")
    owner: AddressStr
    tx_hash: Hash32Hex
    block: int
    metadata_cid: str
    metadata_hash: Hash32Hex
    status: Literal["relayed"] = "relayed"
    location: str = Field(description="Where the listing shows once indexed.")


def to_public(row: DatasetListing, scope: Scope) -> DatasetListingPublic:
    """The API form of an indexed listing, with the quality checks of a readable document."""
    public = DatasetListingPublic.model_validate(
        {
            **(row.document or {}),
            "id": row.dataset_id,
            "chain_id": scope.chain_id,
            "registry": scope.registry,
            "owner": row.owner,
            "active": row.active,
            "access_mode": row.access_mode,
            "price_wei": int(row.price_wei),
            "metadata_cid": row.metadata_cid,
            "metadata_hash": row.metadata_hash,
            "tx_hash": row.tx_hash,
            "block": row.block,
            "created_at": row.created_at,
            "sales": row.sales,
            "document_status": row.document_status,
            "document_error": row.document_error,
        }
    )
    if public.document_status == "ok":
        public.quality_checks = QualityChecks.model_validate(quality_report(row.document))
    return public


SIGNED_KINDS: dict[str, tuple[str, Callable[[], dict[str, list[dict[str, str]]]]]] = {
    "listing": ("ListDataset", listing_types),
    "update": ("UpdateListing", listing_update_types),
    "active": ("SetListingActive", listing_active_types),
}
"""What an owner signs for each kind of write: a listing, an edit of mode and price, a delisting
or relisting (``PATCH``/``DELETE /datasets/{id}``); all share the owner's registry nonce."""


@router.get("/signing-params", response_model=SigningParams)
def read_signing_params(
    owner: Annotated[AddressStr, Query()],
    registry: RegistryDep,
    kind: Annotated[
        Literal["listing", "update", "active"],
        Query(description="listing (POST), update (PATCH mode and price), active (delist/relist)"),
    ] = "listing",
) -> Any:
    """What ``owner`` needs to sign a write: EIP-712 domain and types, nonce, a deadline."""
    chain_id = registry.backend.chain_id
    primary_type, types = SIGNED_KINDS[kind]
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
        primary_type=primary_type,
        types=types(),
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


def text_faults(body: DatasetDraft) -> list[FieldError]:
    """Text in the request that the index could not store, each fault naming its field."""
    fields = body.model_dump(mode="json", by_alias=True)
    return [FieldError(("body", *loc), why) for loc, why in unstorable_text(fields)]


def already_listed(
    services: Services, registry: DatasetRegistryClient, owner: str, doc: MetadataDocument
) -> ConflictError | None:
    """The 409 of an owner listing the same metadata again, once the index shows the listing.

    Another owner's listing of the same hash does not count: uniqueness is per owner. The
    listing is on-chain: the index is brought up to the chain first (bounded), so that a ``GET``
    of the id named finds it.
    """
    existing = registry.dataset_id_of(owner, bytes(doc.hash))
    if not existing:
        return None
    with services.database.session() as session:
        indexed = crud.get_dataset(session, services.scope, existing) is not None
    if not indexed and not services.catch_up(timeout=CATCH_UP_S):
        log.warning("create_dataset: the index did not reach dataset %s in time", existing)
    return ConflictError(f"{owner} already listed this metadata as dataset {existing}")


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


def relay(
    services: Services,
    registry: DatasetRegistryClient,
    request: ListingRequest,
    signature: bytes,
    doc: MetadataDocument,
) -> tuple[int, TxResult]:
    """Relay the signed listing; a relay the chain refuses because it happened already is a 409.

    Two identical requests racing both pass the checks; the second one's simulation reverts (the
    owner's nonce is spent, or the pair is listed): it is answered with the listing the first made.
    """
    try:
        return registry.list_dataset_for(request, signature)
    except ChainRevertError:
        conflict = already_listed(services, registry, request.owner, doc)
        if conflict is not None:
            raise conflict from None
        raise


class TypedDataPublic(BaseModel):
    """An EIP-712 message as ``eth_signTypedData_v4`` takes it (integers over 2^53 as strings)."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    types: dict[str, list[dict[str, str]]]
    primary_type: str = Field(alias="primaryType")
    domain: dict[str, Any]
    message: dict[str, Any]


def _wallet_value(value: Any) -> Any:
    """A typed-data value as a wallet's JSON takes it: bytes as 0x hex, big integers as text."""
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**53:
        return str(value)
    return value


@router.post(
    "/typed-data",
    response_model=TypedDataPublic,
    responses={422: {}},
    dependencies=[Depends(strict_body(DatasetDraft))],
)
def create_typed_data(body: DatasetDraft, registry: RegistryDep) -> Any:
    """The EIP-712 ``ListDataset`` message of a draft listing, for the owner's wallet to sign.

    The metadata document is built from the draft exactly as ``POST /datasets`` builds it, so
    its hash and CID are the ones the relay will check the signature against. The owner's
    current registry nonce is used when the draft names none.
    """
    faults = text_faults(body)
    if faults:
        raise FieldError.many(faults)
    doc = metadata_document(body)
    nonce = registry.nonce(body.owner) if body.nonce is None else body.nonce
    request = doc.request(
        body.owner,
        nonce=nonce,
        deadline=body.deadline,
        access_mode=body.access_mode,
        price=int(body.price_wei),
    )
    full = listing_typed_data(registry.backend.chain_id, registry.address, request)
    message = {k: _wallet_value(v) for k, v in full["message"].items()}
    return TypedDataPublic(
        types=full["types"], primary_type=full["primaryType"], domain=full["domain"],
        message=message,
    )  # fmt: skip


@router.post(
    "",
    dependencies=[Depends(strict_body(DatasetCreate))],
    response_model=DatasetRelayed,
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        401: {"description": "No session (sign in first: /auth/nonce, /auth/verify)."},
        403: {"description": "The session is not the owner's."},
        409: {"description": "The owner already listed this metadata (the detail names its id)."},
        422: {
            "description": "Invalid metadata, unstorable text, access mode, price, signature, "
            "nonce or deadline."
        },
    },
)
def create_dataset(
    body: DatasetCreate,
    response: Response,
    registry: RegistryDep,
    store: StoreDep,
    services: ServicesDep,
    gate: RelayGate,
    user: CurrentUser,
) -> Any:
    """Relay a listing its signed-in owner signed; it shows at ``Location`` once indexed."""
    ensure_signed_in_as(user, body.owner, "the listing's owner")
    faults = text_faults(body)
    if faults:
        raise FieldError.many(faults)
    doc = metadata_document(body)
    nonce = registry.nonce(body.owner) if body.nonce is None else body.nonce
    request = listing_request(body, doc, nonce)
    conflict = already_listed(services, registry, body.owner, doc)
    if conflict is not None:
        raise conflict
    faults = document_faults(body) + signature_faults(body, registry, request)
    if faults:
        raise FieldError.many(faults)
    signature = bytes.fromhex(body.signature[2:])
    verify_before_relay(registry, request, signature)
    with gate.relaying(body.owner) as charge:
        store_document(store, doc)
        dataset_id, tx = relay(services, registry, request, signature, doc)
        charge(tx)
    services.wake_indexer()
    log.info(
        "create_dataset: dataset %s (%s, %s wei) relayed for %s by %s (tx %s, block %s)",
        dataset_id,
        body.access_mode,
        body.price_wei,
        body.owner,
        services.relayer.address,
        tx.tx_hash,
        tx.block_number,
    )
    location = f"/datasets/{dataset_id}"
    response.headers["Location"] = location
    return DatasetRelayed(
        id=dataset_id,
        owner=body.owner,
        tx_hash=tx.tx_hash,
        block=tx.block_number,
        metadata_cid=doc.cid,
        metadata_hash=doc.hash_hex,
        location=location,
    )


@router.get("", response_model=DatasetListingPage)
async def read_datasets(
    scope: ScopeDep,
    services: ServicesDep,
    owner: Annotated[AddressStr | None, Query()] = None,
    tag: Annotated[Tag | None, Query()] = None,
    access_mode: Annotated[AccessModeName | None, Query()] = None,
    listing_status: Annotated[
        Literal["active", "delisted", "all"],
        Query(alias="status", description="active (default), delisted, or all"),
    ] = "active",
    document: Annotated[
        Literal["ok", "missing", "invalid"] | None,
        Query(description="Only listings whose metadata document has this status."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Annotated[int, Query(ge=0, le=INT64_MAX)] = 0,
) -> Any:
    """Listings by id, active ones by default; optionally one owner's, tag's or access mode's."""

    def build(session: Session) -> bytes:
        rows, total = crud.list_datasets(
            session,
            scope,
            owner=owner,
            tag=tag,
            access_mode=access_mode,
            active={"active": True, "delisted": False, "all": None}[listing_status],
            document_status=document,
            limit=limit,
            offset=offset,
            with_tags=False,
        )
        registry = to_checksum_address(scope.registry)
        items = [listing_record(r, scope.chain_id, registry) for r in rows]
        return json_bytes({"items": items, "total": total, "limit": limit, "offset": offset})

    key = ("datasets", owner, tag, access_mode, listing_status, document, limit, offset)
    return await cached_json(services.database, services.response_cache, scope, key, build)


@router.get("/{dataset_id}", response_model=DatasetListingPublic, responses={404: {}})
async def read_dataset(
    dataset_id: Annotated[int, Path(ge=1, le=INT64_MAX)],
    scope: ScopeDep,
    services: ServicesDep,
) -> Any:
    """One listing by its on-chain id (delisted ones too: see ``active``)."""

    def build(session: Session) -> bytes:
        row = crud.get_dataset(session, scope, dataset_id)
        if row is None:
            raise NotFoundError(f"dataset {dataset_id} is not listed")
        registry = to_checksum_address(scope.registry)
        return json_bytes(listing_record(row, scope.chain_id, registry))

    key = ("dataset", dataset_id)
    return await cached_json(services.database, services.response_cache, scope, key, build)
