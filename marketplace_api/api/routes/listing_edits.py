"""``PATCH`` and ``DELETE /datasets/{id}``: an owner's edits of a listing, relayed on-chain.

The chain holds a listing's access mode, price and activity, so the API changes none of them in
its database: the owner signs an EIP-712 ``UpdateListing`` (access mode and price) or
``SetListingActive`` (delist, relist) with its registry nonce and a deadline (``GET
/datasets/signing-params?kind=update|active``), and the API relays it
(:meth:`~chain.registry.DatasetRegistryClient.update_listing_for`,
:meth:`~chain.registry.DatasetRegistryClient.set_active_for`) after checking, against the
latest block and at no gas, what the contract will check. The index shows the change once it
sees the event (``ListingUpdated``, ``DatasetDelisted``, ``DatasetRelisted``).

Who may: a session of the listing's owner, read on-chain at the request (403 for anyone else,
even with a valid signature of the owner's); the signature binds the change to that owner.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, status
from pydantic import BaseModel, ConfigDict, Field, model_validator

from chain import (
    AccessMode,
    ChainRevertError,
    DatasetRegistryClient,
    ListingActiveRequest,
    ListingUpdateRequest,
    TxResult,
)
from chain.errors import NotListingOwnerError
from kernel.errors import InvalidInputError
from marketplace_api.api.deps import (
    CurrentUser,
    RegistryDep,
    ServicesDep,
    ensure_signed_in_as,
)
from marketplace_api.api.limits import RelayGate, RelayPass
from marketplace_api.errors import (
    ConflictError,
    FieldError,
    ForbiddenError,
    NotFoundError,
    ServiceUnavailableError,
)
from marketplace_api.schemas import (
    ACCESS_MODE_VALUES,
    INT64_MAX,
    AccessModeName,
    AddressStr,
    Hash32Hex,
    SignatureHex,
    WeiString,
)

log = logging.getLogger(__name__)

router = APIRouter(prefix="/datasets", tags=["datasets"])

UINT64_MAX = 2**64 - 1


class SignedEdit(BaseModel):
    """The owner's signature over an edit: registry nonce (current when omitted) and deadline."""

    model_config = ConfigDict(extra="forbid")

    nonce: int | None = Field(
        default=None,
        ge=0,
        le=INT64_MAX,
        description="The registry nonce signed (the owner's current one when omitted).",
    )
    deadline: int = Field(ge=0, le=UINT64_MAX, description="Unix time after which it is void.")
    signature: SignatureHex


def _one_kind_schema(schema: dict[str, Any]) -> None:
    """Publish :class:`DatasetUpdate`'s rule: its fields never null, one kind of change."""
    for name in ("access_mode", "price_wei", "active"):
        prop = schema["properties"][name]
        kept = [s for s in prop.pop("anyOf", []) if s.get("type") != "null"]
        if kept:
            prop.update(kept[0])
        prop.pop("default", None)
    schema["oneOf"] = [
        {"required": ["access_mode"], "not": {"required": ["active"]}},
        {"required": ["active"], "not": {"anyOf": [{"required": [f]} for f in PRICING]}},
    ]


PRICING = ("access_mode", "price_wei")


class DatasetUpdate(SignedEdit):
    """A signed edit of a listing, one kind per request.

    Either a new access mode and price (``UpdateListing``), or ``active`` alone
    (``SetListingActive``: false delists, true relists).
    """

    model_config = ConfigDict(extra="forbid", json_schema_extra=_one_kind_schema)

    access_mode: AccessModeName | None = None
    price_wei: WeiString | None = None
    active: bool | None = None

    @model_validator(mode="after")
    def one_kind(self) -> DatasetUpdate:
        """Either access mode (and price), or active; a field given is never null."""
        given = self.model_fields_set & {"access_mode", "price_wei", "active"}
        nulls = sorted(f for f in given if getattr(self, f) is None)
        if nulls:
            raise InvalidInputError(f"{', '.join(nulls)} cannot be null: leave it out instead")
        pricing = bool(given & {"access_mode", "price_wei"})
        if pricing and "active" in given:
            raise InvalidInputError("one change per request: access_mode and price_wei, or active")
        if not given:
            raise InvalidInputError("nothing to change: give access_mode and price_wei, or active")
        if pricing and "access_mode" not in given:
            raise InvalidInputError("access_mode is required with price_wei")
        return self


class DatasetDelist(SignedEdit):
    """A signed delisting (``SetListingActive`` with active false)."""


class DatasetEditRelayed(BaseModel):
    """An edit relayed on-chain: the listing shows it once indexed."""

    id: int
    owner: AddressStr
    change: Literal["update", "delist", "relist"]
    tx_hash: Hash32Hex
    block: int
    status: Literal["relayed"] = "relayed"
    location: str


DatasetId = Annotated[int, Path(ge=1, le=INT64_MAX)]

_EDIT_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No session (sign in first: /auth/nonce, /auth/verify)."},
    403: {"description": "The session, or the signer, is not the listing's owner."},
    404: {"description": "No listing with this id on-chain."},
    409: {"description": "Delisted already, or not delisted (relist)."},
    422: {"description": "Invalid change, signature, nonce, deadline or price for the mode."},
    429: {"description": "A rate limit or the owner's gas budget (see Retry-After)."},
    503: {"description": "The registry is paused, or the relayer's balance is low."},
}


def listing_owner(registry: DatasetRegistryClient, dataset_id: int) -> str:
    """The listing's owner on-chain now (404 when there is no such listing)."""
    try:
        return str(registry.listing(dataset_id).owner)
    except ChainRevertError:
        raise NotFoundError(f"dataset {dataset_id} does not exist") from None


def _refusal(exc: Exception, dataset_id: int) -> Exception:
    """The API error of a check the relay failed (see ``verify_listing_update``)."""
    if isinstance(exc, NotListingOwnerError):
        return ForbiddenError(str(exc))
    if isinstance(exc, InvalidInputError):  # SignatureError: signer, nonce or deadline
        return FieldError(("body", "signature"), f"refused before relaying: {exc}")
    assert isinstance(exc, ChainRevertError)
    name = exc.error_name
    if name == "RegistryUnknownDataset":
        return NotFoundError(f"dataset {dataset_id} does not exist")
    if name == "RegistryInvalidPrice":
        return FieldError(("body", "price_wei"), "the price does not suit the access mode")
    if name == "RegistryAlreadyDelisted":
        return ConflictError(f"dataset {dataset_id} is delisted already")
    if name == "RegistryNotDelisted":
        return ConflictError(f"dataset {dataset_id} is not delisted")
    if name == "EnforcedPause":
        return ServiceUnavailableError("the registry is paused: relisting waits until it resumes")
    return exc


def relay_update(
    registry: DatasetRegistryClient,
    gate: RelayPass,
    request: ListingUpdateRequest,
    signature: bytes,
) -> TxResult:
    """Check the signed update as the contract will, then relay it within the owner's budget."""
    return _relay(
        gate,
        request.owner,
        request.dataset_id,
        "update_listing",
        lambda: registry.verify_listing_update(request, signature),
        lambda: registry.update_listing_for(request, signature),
    )


def relay_active(
    registry: DatasetRegistryClient,
    gate: RelayPass,
    request: ListingActiveRequest,
    signature: bytes,
) -> TxResult:
    """Check the signed (de)listing as the contract will, then relay it within the budget."""
    return _relay(
        gate,
        request.owner,
        request.dataset_id,
        "relist" if request.active else "delist",
        lambda: registry.verify_listing_active(request, signature),
        lambda: registry.set_active_for(request, signature),
    )


def _relay(
    gate: RelayPass,
    owner: str,
    dataset_id: int,
    action: str,
    verify: Callable[[], object],
    send: Callable[[], TxResult],
) -> TxResult:
    """``verify`` (no gas; its refusals as API errors), then ``send`` charged to ``owner``."""
    try:
        verify()
    except (InvalidInputError, NotListingOwnerError, ChainRevertError) as exc:
        raise _refusal(exc, dataset_id) from None
    with gate.relaying(owner, action) as charge:
        tx = send()
        charge(tx)
    return tx


def relayed(
    dataset_id: int, owner: str, change: Literal["update", "delist", "relist"], tx: TxResult
) -> DatasetEditRelayed:
    """The answer to a relayed edit."""
    log.info("%s: dataset %s for %s (tx %s)", change, dataset_id, owner, tx.tx_hash)
    return DatasetEditRelayed(
        id=dataset_id,
        owner=owner,
        change=change,
        tx_hash=tx.tx_hash,
        block=tx.block_number,
        location=f"/datasets/{dataset_id}",
    )


def _signature(body: SignedEdit) -> bytes:
    return bytes.fromhex(body.signature[2:])


@router.patch(
    "/{dataset_id}",
    response_model=DatasetEditRelayed,
    status_code=status.HTTP_202_ACCEPTED,
    responses=_EDIT_ERRORS,
)
def update_dataset(
    dataset_id: DatasetId,
    body: DatasetUpdate,
    registry: RegistryDep,
    services: ServicesDep,
    gate: RelayGate,
    user: CurrentUser,
) -> Any:
    """Relay the owner's signed change of access mode and price, or delisting or relisting."""
    owner = listing_owner(registry, dataset_id)
    ensure_signed_in_as(user, owner, "the listing's owner")
    nonce = registry.nonce(owner) if body.nonce is None else body.nonce
    if body.active is not None:
        active = ListingActiveRequest(
            owner=owner,
            dataset_id=dataset_id,
            active=body.active,
            nonce=nonce,
            deadline=body.deadline,
        )
        tx = relay_active(registry, gate, active, _signature(body))
        services.wake_indexer()
        return relayed(dataset_id, owner, "relist" if body.active else "delist", tx)
    assert body.access_mode is not None
    update = ListingUpdateRequest(
        owner=owner,
        dataset_id=dataset_id,
        access_mode=AccessMode(ACCESS_MODE_VALUES[body.access_mode]),
        price=int(body.price_wei or 0),
        nonce=nonce,
        deadline=body.deadline,
    )
    tx = relay_update(registry, gate, update, _signature(body))
    services.wake_indexer()
    return relayed(dataset_id, owner, "update", tx)


@router.delete(
    "/{dataset_id}",
    response_model=DatasetEditRelayed,
    status_code=status.HTTP_202_ACCEPTED,
    responses=_EDIT_ERRORS,
)
def delist_dataset(
    dataset_id: DatasetId,
    body: DatasetDelist,
    registry: RegistryDep,
    services: ServicesDep,
    gate: RelayGate,
    user: CurrentUser,
) -> Any:
    """Relay the owner's signed delisting (the listing stays on-chain, inactive)."""
    owner = listing_owner(registry, dataset_id)
    ensure_signed_in_as(user, owner, "the listing's owner")
    nonce = registry.nonce(owner) if body.nonce is None else body.nonce
    request = ListingActiveRequest(
        owner=owner, dataset_id=dataset_id, active=False, nonce=nonce, deadline=body.deadline
    )
    tx = relay_active(registry, gate, request, _signature(body))
    services.wake_indexer()
    return relayed(dataset_id, owner, "delist", tx)
