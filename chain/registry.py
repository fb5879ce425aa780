"""Typed client of DatasetRegistry v2, and EIP-712 signing of dataset listings.

A listing records a dataset's metadata hash and CID under its owner's address, with an
:class:`AccessMode` and a price. An owner lists directly
(:meth:`DatasetRegistryClient.list_dataset`), or signs a ``ListDataset`` message
(:data:`LIST_DATASET_TYPE`) with its own key (:func:`sign_listing`) that anyone (the marketplace
API) relays (:meth:`DatasetRegistryClient.list_dataset_for`) after checking it
(:func:`recover_listing_signer`, :meth:`DatasetRegistryClient.verify_listing`); the contract
records the listing under the owner. ``(owner, metadataHash)`` is listed once, so a squatter
copying a hash lists it under its own name and blocks nobody. Edits and delistings are relayed
the same way: the owner signs an ``UpdateListing`` (:class:`ListingUpdateRequest`,
:func:`sign_listing_update`) or ``SetListingActive`` message (:class:`ListingActiveRequest`,
:func:`sign_listing_active`), the relayer checks and simulates it
(:meth:`DatasetRegistryClient.verify_listing_update`,
:meth:`DatasetRegistryClient.verify_listing_active`) and relays it
(:meth:`DatasetRegistryClient.update_listing_for`, :meth:`DatasetRegistryClient.set_active_for`);
the three kinds share the owner's nonce, so a signature is used once, as what it was made for, and
the contract emits the events of the owner's own calls. Downloadable listings are bought
with :meth:`DatasetRegistryClient.buy_dataset`: a capped protocol fee to the fee recipient, the
rest to the owner's pull balance, a licence recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak

from chain._access import EventMeta, event_filters, event_meta
from chain._sales import BPS, SalesClient
from chain._typed_data import (
    EIP712_DOMAIN_TYPE,
    SignatureError,
    recover_typed_data,
    sign_typed_data,
    typed_domain,
)
from chain.errors import NotListingOwnerError
from chain.signer import TxResult
from kernel.errors import InvalidInputError
from kernel.types import Address, Cid, Hash32, Wei

DOMAIN_NAME = "FedMarket DatasetRegistry"
DOMAIN_VERSION = "2"

LIST_DATASET_TYPE = (
    "ListDataset(address owner,bytes32 metadataHash,string metadataCid,uint8 accessMode,"
    "uint256 price,uint256 nonce,uint256 deadline)"
)
"""The EIP-712 type of a relayed listing; its keccak is the contract's ``LIST_DATASET_TYPEHASH``."""

_LIST_DATASET_FIELDS = [
    {"name": "owner", "type": "address"},
    {"name": "metadataHash", "type": "bytes32"},
    {"name": "metadataCid", "type": "string"},
    {"name": "accessMode", "type": "uint8"},
    {"name": "price", "type": "uint256"},
    {"name": "nonce", "type": "uint256"},
    {"name": "deadline", "type": "uint256"},
]


UPDATE_LISTING_TYPE = (
    "UpdateListing(uint256 datasetId,uint8 accessMode,uint256 price,uint256 nonce,uint256 deadline)"
)
"""The EIP-712 type of a relayed edit; its keccak is the contract's ``UPDATE_LISTING_TYPEHASH``."""

_UPDATE_LISTING_FIELDS = [
    {"name": "datasetId", "type": "uint256"},
    {"name": "accessMode", "type": "uint8"},
    {"name": "price", "type": "uint256"},
    {"name": "nonce", "type": "uint256"},
    {"name": "deadline", "type": "uint256"},
]

SET_LISTING_ACTIVE_TYPE = (
    "SetListingActive(uint256 datasetId,bool active,uint256 nonce,uint256 deadline)"
)
"""The EIP-712 type of a relayed delisting or relisting (``SET_LISTING_ACTIVE_TYPEHASH``)."""

_SET_LISTING_ACTIVE_FIELDS = [
    {"name": "datasetId", "type": "uint256"},
    {"name": "active", "type": "bool"},
    {"name": "nonce", "type": "uint256"},
    {"name": "deadline", "type": "uint256"},
]


class AccessMode(IntEnum):
    """How a listed dataset can be used (mirrors ``IDatasetRegistry.AccessMode``).

    Attributes
    ----------
    FEDERATED_ONLY : int
        ``FederatedOnly``: metadata only; the data stays with its owner and is joined through
        tasks. Price 0.
    DOWNLOADABLE : int
        ``Downloadable``: a licence can be bought for the listing's price.
    """

    FEDERATED_ONLY = 0
    DOWNLOADABLE = 1


@dataclass(frozen=True, kw_only=True)
class ListingRequest:
    """What an owner signs to have a dataset listed for it (the ``ListDataset`` message).

    Attributes
    ----------
    owner : str
        The dataset's owner and the message's signer.
    metadata_hash : bytes
        Hash of the metadata document (32 bytes, non-zero).
    metadata_cid : str
        Content identifier of the metadata document.
    access_mode : AccessMode, default AccessMode.FEDERATED_ONLY
        How the dataset can be used.
    price : int, default 0
        Price of a licence in token wei (0 for ``FEDERATED_ONLY``).
    nonce : int
        The owner's current registry nonce (:meth:`DatasetRegistryClient.nonce`).
    deadline : int
        Last timestamp at which the signature is valid.
    """

    owner: str
    metadata_hash: bytes
    metadata_cid: str
    access_mode: AccessMode = AccessMode.FEDERATED_ONLY
    price: int = 0
    nonce: int
    deadline: int


@dataclass(frozen=True, kw_only=True)
class ListingUpdateRequest:
    """What an owner signs to have a listing's access mode and price changed (``UpdateListing``).

    Attributes
    ----------
    owner : str
        The listing's owner, who signs. Not a field of the message: the contract checks the
        signature against the listing's recorded owner.
    dataset_id : int
        The listing's id.
    access_mode : AccessMode
        The new access mode.
    price : int
        The new price in token wei (0 for ``FEDERATED_ONLY``).
    nonce : int
        The owner's current registry nonce (:meth:`DatasetRegistryClient.nonce`), shared with
        listings and delistings.
    deadline : int
        Last timestamp at which the signature is valid.
    """

    owner: str
    dataset_id: int
    access_mode: AccessMode
    price: int
    nonce: int
    deadline: int


@dataclass(frozen=True, kw_only=True)
class ListingActiveRequest:
    """What an owner signs to have a listing delisted or relisted (``SetListingActive``).

    Attributes
    ----------
    owner : str
        The listing's owner, who signs (not a field of the message, as for
        :class:`ListingUpdateRequest`).
    dataset_id : int
        The listing's id.
    active : bool
        ``False`` delists, ``True`` relists.
    nonce : int
        The owner's current registry nonce (:meth:`DatasetRegistryClient.nonce`).
    deadline : int
        Last timestamp at which the signature is valid.
    """

    owner: str
    dataset_id: int
    active: bool
    nonce: int
    deadline: int


def listing_types() -> dict[str, list[dict[str, str]]]:
    """The EIP-712 ``types`` of a listing request (``EIP712Domain`` and ``ListDataset``)."""
    return {
        "EIP712Domain": [dict(f) for f in EIP712_DOMAIN_TYPE],
        "ListDataset": [dict(f) for f in _LIST_DATASET_FIELDS],
    }


def listing_typed_data(chain_id: int, registry: str, request: ListingRequest) -> dict[str, Any]:
    """The EIP-712 message of a listing request, for ``encode_typed_data(full_message=...)``.

    Parameters
    ----------
    chain_id : int
        The chain the registry lives on.
    registry : str
        The registry's address (the domain's verifying contract).
    request : ListingRequest
        What is signed.
    """
    return {
        "types": listing_types(),
        "primaryType": "ListDataset",
        "domain": typed_domain(DOMAIN_NAME, DOMAIN_VERSION, chain_id, registry),
        "message": {
            "owner": request.owner,
            "metadataHash": bytes(request.metadata_hash),
            "metadataCid": request.metadata_cid,
            "accessMode": int(request.access_mode),
            "price": request.price,
            "nonce": request.nonce,
            "deadline": request.deadline,
        },
    }


def sign_listing(
    account: LocalAccount, chain_id: int, registry: str, request: ListingRequest
) -> bytes:
    """The owner's 65-byte signature of ``request`` (the owner's side).

    Parameters
    ----------
    account : LocalAccount
        The owner's key (its address should be ``request.owner``).
    chain_id : int
        The chain the registry lives on.
    registry : str
        The registry's address.
    request : ListingRequest
        What is signed.
    """
    return sign_typed_data(account, listing_typed_data(chain_id, registry, request))


def recover_listing_signer(
    chain_id: int, registry: str, request: ListingRequest, signature: bytes
) -> Address:
    """The address that signed ``request`` (the relayer's side, before relaying).

    Parameters
    ----------
    chain_id : int
        The chain the registry lives on.
    registry : str
        The registry's address.
    request : ListingRequest
        What was signed.
    signature : bytes
        The 65-byte signature.

    Raises
    ------
    SignatureError
        When the signature is malformed by the contract's rules (an ``InvalidInputError``, so a
        ``ValueError``).
    """
    return recover_typed_data(listing_typed_data(chain_id, registry, request), signature)


def list_dataset_typehash() -> Hash32:
    """``keccak256`` of :data:`LIST_DATASET_TYPE`, the contract's ``LIST_DATASET_TYPEHASH``."""
    return Hash32(keccak(text=LIST_DATASET_TYPE))


def listing_update_types() -> dict[str, list[dict[str, str]]]:
    """The EIP-712 ``types`` of an edit (``EIP712Domain`` and ``UpdateListing``)."""
    return {
        "EIP712Domain": [dict(f) for f in EIP712_DOMAIN_TYPE],
        "UpdateListing": [dict(f) for f in _UPDATE_LISTING_FIELDS],
    }


def listing_active_types() -> dict[str, list[dict[str, str]]]:
    """The EIP-712 ``types`` of a delisting or relisting (``EIP712Domain``, ``SetListingActive``).

    ``active`` False delists, True relists; one message kind for both keeps one nonce rule.
    """
    return {
        "EIP712Domain": [dict(f) for f in EIP712_DOMAIN_TYPE],
        "SetListingActive": [dict(f) for f in _SET_LISTING_ACTIVE_FIELDS],
    }


def listing_update_typed_data(
    chain_id: int, registry: str, request: ListingUpdateRequest
) -> dict[str, Any]:
    """The EIP-712 message of an edit, for ``encode_typed_data(full_message=...)``.

    Parameters
    ----------
    chain_id : int
        The chain the registry lives on.
    registry : str
        The registry's address (the domain's verifying contract).
    request : ListingUpdateRequest
        What is signed.
    """
    return {
        "types": listing_update_types(),
        "primaryType": "UpdateListing",
        "domain": typed_domain(DOMAIN_NAME, DOMAIN_VERSION, chain_id, registry),
        "message": {
            "datasetId": request.dataset_id,
            "accessMode": int(request.access_mode),
            "price": request.price,
            "nonce": request.nonce,
            "deadline": request.deadline,
        },
    }


def listing_active_typed_data(
    chain_id: int, registry: str, request: ListingActiveRequest
) -> dict[str, Any]:
    """The EIP-712 message of a delisting or relisting, for ``encode_typed_data``.

    Parameters
    ----------
    chain_id : int
        The chain the registry lives on.
    registry : str
        The registry's address (the domain's verifying contract).
    request : ListingActiveRequest
        What is signed.
    """
    return {
        "types": listing_active_types(),
        "primaryType": "SetListingActive",
        "domain": typed_domain(DOMAIN_NAME, DOMAIN_VERSION, chain_id, registry),
        "message": {
            "datasetId": request.dataset_id,
            "active": request.active,
            "nonce": request.nonce,
            "deadline": request.deadline,
        },
    }


def sign_listing_update(
    account: LocalAccount, chain_id: int, registry: str, request: ListingUpdateRequest
) -> bytes:
    """The owner's 65-byte signature of an edit (the owner's side).

    Parameters
    ----------
    account : LocalAccount
        The owner's key (its address should be ``request.owner``).
    chain_id : int
        The chain the registry lives on.
    registry : str
        The registry's address.
    request : ListingUpdateRequest
        What is signed.
    """
    return sign_typed_data(account, listing_update_typed_data(chain_id, registry, request))


def sign_listing_active(
    account: LocalAccount, chain_id: int, registry: str, request: ListingActiveRequest
) -> bytes:
    """The owner's 65-byte signature of a delisting or relisting (the owner's side).

    Parameters
    ----------
    account : LocalAccount
        The owner's key (its address should be ``request.owner``).
    chain_id : int
        The chain the registry lives on.
    registry : str
        The registry's address.
    request : ListingActiveRequest
        What is signed.
    """
    return sign_typed_data(account, listing_active_typed_data(chain_id, registry, request))


def recover_listing_update_signer(
    chain_id: int, registry: str, request: ListingUpdateRequest, signature: bytes
) -> Address:
    """The address that signed an edit (the relayer's side).

    Parameters
    ----------
    chain_id : int
        The chain the registry lives on.
    registry : str
        The registry's address.
    request : ListingUpdateRequest
        What was signed.
    signature : bytes
        The 65-byte signature.

    Raises
    ------
    SignatureError
        When the signature is malformed by the contract's rules.
    """
    return recover_typed_data(listing_update_typed_data(chain_id, registry, request), signature)


def recover_listing_active_signer(
    chain_id: int, registry: str, request: ListingActiveRequest, signature: bytes
) -> Address:
    """The address that signed a delisting or relisting (the relayer's side).

    Parameters
    ----------
    chain_id : int
        The chain the registry lives on.
    registry : str
        The registry's address.
    request : ListingActiveRequest
        What was signed.
    signature : bytes
        The 65-byte signature.

    Raises
    ------
    SignatureError
        When the signature is malformed by the contract's rules.
    """
    return recover_typed_data(listing_active_typed_data(chain_id, registry, request), signature)


def update_listing_typehash() -> Hash32:
    """``keccak256`` of :data:`UPDATE_LISTING_TYPE`, the contract's ``UPDATE_LISTING_TYPEHASH``."""
    return Hash32(keccak(text=UPDATE_LISTING_TYPE))


def set_listing_active_typehash() -> Hash32:
    """``keccak256`` of :data:`SET_LISTING_ACTIVE_TYPE` (``SET_LISTING_ACTIVE_TYPEHASH``)."""
    return Hash32(keccak(text=SET_LISTING_ACTIVE_TYPE))


def dataset_sale_split(paid: int, fee_bps: int) -> tuple[Wei, Wei]:
    """How the registry splits a dataset sale: ``(fee, owner_amount)``.

    ``fee = paid * fee_bps // 10,000`` (rounded down) and the owner gets the rest, so nothing is
    created or lost.

    Parameters
    ----------
    paid : int
        The amount received from the buyer, in token wei.
    fee_bps : int
        The protocol fee in basis points (0 to 10,000).

    Raises
    ------
    InvalidInputError
        When ``paid`` is negative or ``fee_bps`` is out of range.
    """
    if paid < 0 or not 0 <= fee_bps <= BPS:
        raise InvalidInputError(f"dataset_sale_split: paid={paid}, fee_bps={fee_bps}")
    fee = paid * fee_bps // BPS
    return Wei(fee), Wei(paid - fee)


@dataclass(frozen=True)
class Listing:
    """A listing as the contract stores it (``IDatasetRegistry.Listing``).

    Attributes
    ----------
    dataset_id : int
        The listing's id (ids start at 1).
    owner : Address
        The account the listing is attributed to.
    metadata_hash : Hash32
        Hash of the metadata document.
    metadata_cid : Cid
        Content identifier of the metadata document.
    listed_at : int
        Timestamp of the block that recorded the listing.
    active : bool
        False while the owner has it delisted.
    access_mode : AccessMode
        How the dataset can be used.
    price : Wei
        Price of a licence (0 for ``FEDERATED_ONLY``).
    """

    dataset_id: int
    owner: Address
    metadata_hash: Hash32
    metadata_cid: Cid
    listed_at: int
    active: bool
    access_mode: AccessMode
    price: Wei


@dataclass(frozen=True)
class DatasetListedEvent:
    """A ``DatasetListed`` event.

    Attributes
    ----------
    dataset_id : int
        The new listing's id.
    owner : Address
        The account the listing is attributed to.
    metadata_hash : Hash32
        Hash of the metadata document.
    metadata_cid : Cid
        Content identifier of the metadata document.
    access_mode : AccessMode
        How the dataset can be used.
    price : Wei
        Price of a licence.
    meta : EventMeta
        Where it was emitted.
    """

    dataset_id: int
    owner: Address
    metadata_hash: Hash32
    metadata_cid: Cid
    access_mode: AccessMode
    price: Wei
    meta: EventMeta


@dataclass(frozen=True)
class ListingUpdatedEvent:
    """A ``ListingUpdated`` event: the owner changed the access mode and price.

    Attributes
    ----------
    dataset_id : int
        The listing's id.
    access_mode : AccessMode
        The new access mode.
    price : Wei
        The new price.
    meta : EventMeta
        Where it was emitted.
    """

    dataset_id: int
    access_mode: AccessMode
    price: Wei
    meta: EventMeta


@dataclass(frozen=True)
class ListingStatusEvent:
    """A ``DatasetDelisted`` (``active`` False) or ``DatasetRelisted`` (``active`` True) event.

    Attributes
    ----------
    dataset_id : int
        The listing's id.
    owner : Address
        The listing's owner.
    active : bool
        Whether the listing is active after the event.
    meta : EventMeta
        Where it was emitted.
    """

    dataset_id: int
    owner: Address
    active: bool
    meta: EventMeta


@dataclass(frozen=True)
class DatasetBoughtEvent:
    """A ``DatasetBought`` event: a licence was sold.

    Attributes
    ----------
    dataset_id : int
        The listing's id.
    buyer : Address
        The licence holder.
    paid : Wei
        The amount received from the buyer.
    fee : Wei
        The protocol fee credited to the fee recipient.
    owner_amount : Wei
        The amount credited to the owner (``paid - fee``).
    meta : EventMeta
        Where it was emitted.
    """

    dataset_id: int
    buyer: Address
    paid: Wei
    fee: Wei
    owner_amount: Wei
    meta: EventMeta


@dataclass(frozen=True)
class NonceUsedEvent:
    """A ``NonceUsed`` event: an owner cancelled any signature made for ``nonce``.

    Attributes
    ----------
    owner : Address
        The owner.
    nonce : int
        The nonce consumed.
    meta : EventMeta
        Where it was emitted.
    """

    owner: Address
    nonce: int
    meta: EventMeta


class DatasetRegistryClient(SalesClient):
    """Calls, views and events of DatasetRegistry v2, typed.

    Fees, pull balances, licences (:meth:`has_licence`, :meth:`licence_of` by dataset id),
    roles and pauses come from :class:`~chain._sales.SalesClient`.
    """

    artifact_name = "DatasetRegistry"

    def list_dataset(
        self,
        metadata_hash: bytes,
        metadata_cid: str,
        access_mode: AccessMode = AccessMode.FEDERATED_ONLY,
        price: int = 0,
    ) -> tuple[int, TxResult]:
        """List a dataset as the signer, who owns it and pays the gas.

        Parameters
        ----------
        metadata_hash : bytes
            Hash of the metadata document (non-zero, not listed by the signer before).
        metadata_cid : str
            Content identifier of the metadata document.
        access_mode : AccessMode, default AccessMode.FEDERATED_ONLY
            How the dataset can be used.
        price : int, default 0
            Price of a licence in token wei (0 for ``FEDERATED_ONLY``).

        Returns
        -------
        tuple of (int, TxResult)
            The new listing's id and the transaction.
        """
        fn = self.contract.functions.listDataset(
            metadata_hash, metadata_cid, int(access_mode), price
        )
        result = self._send(fn)
        return self._listed_id(result), result

    def list_dataset_for(self, request: ListingRequest, signature: bytes) -> tuple[int, TxResult]:
        """Relay a listing signed by its owner (the signer of this client pays the gas).

        The contract checks the deadline, then that ``signature`` was made by ``request.owner``
        for its current nonce (``RegistryInvalidSigner`` for a replayed or cancelled one), then
        the checks of :meth:`list_dataset`. :meth:`verify_listing` makes the same checks first
        without sending anything.

        Parameters
        ----------
        request : ListingRequest
            The signed request (its ``nonce`` is not sent: the contract uses the current one).
        signature : bytes
            The owner's 65-byte signature (:func:`sign_listing`).

        Returns
        -------
        tuple of (int, TxResult)
            The new listing's id and the transaction.
        """
        fn = self.contract.functions.listDatasetFor(
            request.owner,
            request.metadata_hash,
            request.metadata_cid,
            int(request.access_mode),
            request.price,
            request.deadline,
            signature,
        )
        result = self._send(fn)
        return self._listed_id(result), result

    def verify_listing(self, request: ListingRequest, signature: bytes) -> Address:
        """Check a signed request as the contract will, before relaying it.

        Parameters
        ----------
        request : ListingRequest
            The signed request.
        signature : bytes
            The owner's signature.

        Returns
        -------
        Address
            The owner, who signed it.

        Raises
        ------
        SignatureError
            When the signature is malformed, was made by another account, carries a nonce that
            is not the owner's current one (used, cancelled or not yet reached), or its deadline
            is before the latest block's timestamp.
        """
        signer = recover_listing_signer(self.backend.chain_id, self.address, request, signature)
        if signer.lower() != request.owner.lower():
            raise SignatureError(f"verify_listing: signed by {signer}, not by {request.owner}")
        self._check_fresh("verify_listing", request.owner, request.nonce, request.deadline)
        return signer

    def use_nonce(self) -> tuple[int, TxResult]:
        """Consume the signer's current nonce, cancelling any unrelayed signature made for it.

        Returns
        -------
        tuple of (int, TxResult)
            The nonce consumed and the transaction.
        """
        result = self._send(self.contract.functions.useNonce())
        (event,) = self._emitted(result, "NonceUsed")
        return int(event["args"]["nonce"]), result

    def update_listing(self, dataset_id: int, access_mode: AccessMode, price: int) -> TxResult:
        """Change a listing's access mode and price, delisted or not (its owner only).

        Parameters
        ----------
        dataset_id : int
            The listing's id.
        access_mode : AccessMode
            The new access mode.
        price : int
            The new price in token wei (0 for ``FEDERATED_ONLY``); licences bought stay.
        """
        fn = self.contract.functions.updateListing(dataset_id, int(access_mode), price)
        return self._send(fn)

    def delist(self, dataset_id: int) -> TxResult:
        """Mark a listing inactive (its owner only); the ``(owner, hash)`` pair stays taken.

        Parameters
        ----------
        dataset_id : int
            The listing's id.
        """
        return self._send(self.contract.functions.delistDataset(dataset_id))

    def relist(self, dataset_id: int) -> TxResult:
        """Make a delisted listing active again (its owner only).

        Parameters
        ----------
        dataset_id : int
            The listing's id.
        """
        return self._send(self.contract.functions.relistDataset(dataset_id))

    def update_listing_for(self, request: ListingUpdateRequest, signature: bytes) -> TxResult:
        """Relay an edit signed by the listing's owner (the signer of this client pays the gas).

        The contract checks the deadline, that the listing exists, that its owner made
        ``signature`` for their current nonce (``RegistryInvalidSigner`` otherwise), then the
        price (``RegistryInvalidPrice``); it emits ``ListingUpdated`` as :meth:`update_listing`
        does. Works while paused and on a delisted listing. :meth:`verify_listing_update` makes
        the same checks first without sending anything.

        Parameters
        ----------
        request : ListingUpdateRequest
            The signed request (its ``owner`` and ``nonce`` are not sent: the contract uses the
            listing's owner and that owner's current nonce).
        signature : bytes
            The owner's 65-byte signature (:func:`sign_listing_update`).
        """
        return self._send(self._update_for(request, signature))

    def set_active_for(self, request: ListingActiveRequest, signature: bytes) -> TxResult:
        """Relay a delisting (``active`` False) or relisting signed by the listing's owner.

        Checked as :meth:`update_listing_for`, then ``RegistryAlreadyDelisted`` or
        ``RegistryNotDelisted`` when the listing already is so; a relisting reverts with
        ``EnforcedPause`` while the registry is paused, a delisting never does. Emits
        ``DatasetDelisted`` or ``DatasetRelisted`` as :meth:`delist` and :meth:`relist` do.

        Parameters
        ----------
        request : ListingActiveRequest
            The signed request (``owner`` and ``nonce`` are not sent).
        signature : bytes
            The owner's 65-byte signature (:func:`sign_listing_active`).
        """
        return self._send(self._set_active_for(request, signature))

    def verify_listing_update(self, request: ListingUpdateRequest, signature: bytes) -> Address:
        """Check a signed edit as the contract will, then simulate it, before relaying it.

        Parameters
        ----------
        request : ListingUpdateRequest
            The signed request.
        signature : bytes
            The owner's signature.

        Returns
        -------
        Address
            The owner, who signed it.

        Raises
        ------
        SignatureError
            As :meth:`verify_listing`: malformed, signed by another account than
            ``request.owner``, a nonce that is not the owner's current one, or a deadline passed.
        ChainRevertError
            ``RegistryUnknownDataset`` when there is no such listing; the simulated call's revert
            (``RegistryInvalidPrice``) otherwise. Nothing is sent.
        NotListingOwnerError
            When ``request.owner`` does not own the listing.
        """
        chain_id = self.backend.chain_id
        signer = recover_listing_update_signer(chain_id, self.address, request, signature)
        self._check_edit("verify_listing_update", signer, request.owner, request.dataset_id)
        self._check_fresh("verify_listing_update", request.owner, request.nonce, request.deadline)
        self._call(self._update_for(request, signature))
        return signer

    def verify_listing_active(self, request: ListingActiveRequest, signature: bytes) -> Address:
        """Check a signed delisting or relisting as the contract will, then simulate it.

        Parameters
        ----------
        request : ListingActiveRequest
            The signed request.
        signature : bytes
            The owner's signature.

        Returns
        -------
        Address
            The owner, who signed it.

        Raises
        ------
        SignatureError
            As :meth:`verify_listing_update`.
        ChainRevertError
            ``RegistryUnknownDataset`` when there is no such listing; the simulated call's revert
            otherwise: ``RegistryAlreadyDelisted``, ``RegistryNotDelisted``, or ``EnforcedPause``
            for a relisting while paused. Nothing is sent.
        NotListingOwnerError
            When ``request.owner`` does not own the listing.
        """
        chain_id = self.backend.chain_id
        signer = recover_listing_active_signer(chain_id, self.address, request, signature)
        self._check_edit("verify_listing_active", signer, request.owner, request.dataset_id)
        self._check_fresh("verify_listing_active", request.owner, request.nonce, request.deadline)
        self._call(self._set_active_for(request, signature))
        return signer

    def buy_dataset(self, dataset_id: int, max_price: int) -> tuple[DatasetBoughtEvent, TxResult]:
        """Buy a licence for a downloadable dataset at its current price.

        The signer approves the registry for the price first (:meth:`RewardTokenClient.approve`).

        Parameters
        ----------
        dataset_id : int
            The listing's id.
        max_price : int
            The most the signer agrees to pay: a price raised above it reverts with
            ``RegistryPriceAboveMax`` instead of charging more.

        Returns
        -------
        tuple of (DatasetBoughtEvent, TxResult)
            The sale as the contract recorded it, and the transaction.
        """
        result = self._send(self.contract.functions.buyDataset(dataset_id, max_price))
        (event,) = self._emitted(result, "DatasetBought")
        return _bought(event), result

    def listing(self, dataset_id: int) -> Listing:
        """A listing by id (``RegistryUnknownDataset`` when there is none).

        Parameters
        ----------
        dataset_id : int
            The listing's id.
        """
        raw = self._call(self.contract.functions.getListing(dataset_id))

        def field(name: str, index: int) -> Any:
            return raw[name] if isinstance(raw, dict) else raw[index]

        return Listing(
            dataset_id=dataset_id,
            owner=Address(field("owner", 0)),
            access_mode=AccessMode(int(field("accessMode", 1))),
            active=bool(field("active", 2)),
            listed_at=int(field("listedAt", 3)),
            metadata_hash=Hash32(bytes(field("metadataHash", 4))),
            price=Wei(int(field("price", 5))),
            metadata_cid=Cid(field("metadataCid", 6)),
        )

    def nonce(self, owner: str) -> int:
        """The nonce ``owner``'s next signed message must carry (listing, edit or delisting).

        Parameters
        ----------
        owner : str
            The owner.
        """
        return int(self._call(self.contract.functions.nonces(owner)))

    def dataset_id_of(self, owner: str, metadata_hash: bytes) -> int:
        """The id of ``owner``'s listing of ``metadata_hash`` (0 when there is none).

        Parameters
        ----------
        owner : str
            The owner (uniqueness is per owner: another account's copy is another listing).
        metadata_hash : bytes
            Hash of the metadata document.
        """
        return int(self._call(self.contract.functions.datasetIdOf(owner, metadata_hash)))

    def dataset_count(self) -> int:
        """Number of listings ever made (the id of the latest one)."""
        return int(self._call(self.contract.functions.datasetCount()))

    def domain_separator(self) -> Hash32:
        """The contract's EIP-712 domain separator (name :data:`DOMAIN_NAME`, version 2)."""
        return Hash32(bytes(self._call(self.contract.functions.DOMAIN_SEPARATOR())))

    def list_dataset_typehash(self) -> Hash32:
        """The contract's ``LIST_DATASET_TYPEHASH`` (equal to :func:`list_dataset_typehash`)."""
        return Hash32(bytes(self._call(self.contract.functions.LIST_DATASET_TYPEHASH())))

    def update_listing_typehash(self) -> Hash32:
        """The contract's ``UPDATE_LISTING_TYPEHASH`` (equal to :func:`update_listing_typehash`)."""
        return Hash32(bytes(self._call(self.contract.functions.UPDATE_LISTING_TYPEHASH())))

    def set_listing_active_typehash(self) -> Hash32:
        """The contract's ``SET_LISTING_ACTIVE_TYPEHASH`` (:func:`set_listing_active_typehash`)."""
        return Hash32(bytes(self._call(self.contract.functions.SET_LISTING_ACTIVE_TYPEHASH())))

    def dataset_listed_events(
        self,
        *,
        dataset_id: int | None = None,
        owner: str | None = None,
        metadata_hash: bytes | None = None,
    ) -> list[DatasetListedEvent]:
        """``DatasetListed`` events, in chain order.

        Parameters
        ----------
        dataset_id : int or None, default None
            Only this listing's.
        owner : str or None, default None
            Only this owner's.
        metadata_hash : bytes or None, default None
            Only those of this metadata hash (every owner's).
        """
        filters = event_filters(datasetId=dataset_id, owner=owner, metadataHash=metadata_hash)
        return [_listed(e) for e in self._logs("DatasetListed", **filters)]

    def listing_updated_events(self, dataset_id: int | None = None) -> list[ListingUpdatedEvent]:
        """``ListingUpdated`` events, in chain order.

        Parameters
        ----------
        dataset_id : int or None, default None
            Only this listing's.
        """
        return [
            ListingUpdatedEvent(
                dataset_id=int(e["args"]["datasetId"]),
                access_mode=AccessMode(int(e["args"]["accessMode"])),
                price=Wei(int(e["args"]["price"])),
                meta=event_meta(e),
            )
            for e in self._logs("ListingUpdated", **event_filters(datasetId=dataset_id))
        ]

    def listing_status_events(
        self, *, dataset_id: int | None = None, owner: str | None = None
    ) -> list[ListingStatusEvent]:
        """``DatasetDelisted`` and ``DatasetRelisted`` events, in chain order.

        Parameters
        ----------
        dataset_id : int or None, default None
            Only this listing's.
        owner : str or None, default None
            Only this owner's.
        """
        filters = event_filters(datasetId=dataset_id, owner=owner)
        logs = [(False, e) for e in self._logs("DatasetDelisted", **filters)]
        logs += [(True, e) for e in self._logs("DatasetRelisted", **filters)]
        events = [
            ListingStatusEvent(
                dataset_id=int(e["args"]["datasetId"]),
                owner=Address(e["args"]["owner"]),
                active=active,
                meta=event_meta(e),
            )
            for active, e in logs
        ]
        return sorted(events, key=lambda ev: (ev.meta.block, ev.meta.log_index))

    def dataset_bought_events(
        self, *, dataset_id: int | None = None, buyer: str | None = None
    ) -> list[DatasetBoughtEvent]:
        """``DatasetBought`` events, in chain order.

        Parameters
        ----------
        dataset_id : int or None, default None
            Only this listing's.
        buyer : str or None, default None
            Only this buyer's.
        """
        filters = event_filters(datasetId=dataset_id, buyer=buyer)
        return [_bought(e) for e in self._logs("DatasetBought", **filters)]

    def nonce_used_events(self, owner: str | None = None) -> list[NonceUsedEvent]:
        """``NonceUsed`` events (cancelled signatures), in chain order.

        Parameters
        ----------
        owner : str or None, default None
            Only this owner's.
        """
        return [
            NonceUsedEvent(
                owner=Address(e["args"]["owner"]),
                nonce=int(e["args"]["nonce"]),
                meta=event_meta(e),
            )
            for e in self._logs("NonceUsed", **event_filters(owner=owner))
        ]

    def _update_for(self, request: ListingUpdateRequest, signature: bytes) -> Any:
        """The bound ``updateListingFor`` call of a signed edit."""
        return self.contract.functions.updateListingFor(
            request.dataset_id, int(request.access_mode), request.price, request.deadline, signature
        )

    def _set_active_for(self, request: ListingActiveRequest, signature: bytes) -> Any:
        """The bound ``setListingActiveFor`` call of a signed delisting or relisting."""
        return self.contract.functions.setListingActiveFor(
            request.dataset_id, request.active, request.deadline, signature
        )

    def _check_edit(self, op: str, signer: str, owner: str, dataset_id: int) -> None:
        """Refuse an edit not signed by ``owner``, or of a listing ``owner`` does not hold."""
        if signer.lower() != owner.lower():
            raise SignatureError(f"{op}: signed by {signer}, not by {owner}")
        holder = self.listing(dataset_id).owner
        if holder.lower() != owner.lower():
            raise NotListingOwnerError(f"{op}: dataset {dataset_id} is owned by {holder}")

    def _check_fresh(self, op: str, owner: str, nonce: int, deadline: int) -> None:
        """Refuse a signed message whose nonce is not the owner's current one or that expired."""
        current = self.nonce(owner)
        if nonce != current:
            raise SignatureError(f"{op}: nonce {nonce} is not the owner's current nonce {current}")
        now = int(self.backend.w3.eth.get_block("latest")["timestamp"])
        if deadline < now:
            raise SignatureError(f"{op}: deadline {deadline} passed ({now})")

    def _listed_id(self, result: TxResult) -> int:
        (event,) = self._emitted(result, "DatasetListed")
        return int(event["args"]["datasetId"])


def _listed(e: Any) -> DatasetListedEvent:
    args = e["args"]
    return DatasetListedEvent(
        dataset_id=int(args["datasetId"]),
        owner=Address(args["owner"]),
        metadata_hash=Hash32(bytes(args["metadataHash"])),
        metadata_cid=Cid(args["metadataCid"]),
        access_mode=AccessMode(int(args["accessMode"])),
        price=Wei(int(args["price"])),
        meta=event_meta(e),
    )


def _bought(e: Any) -> DatasetBoughtEvent:
    args = e["args"]
    return DatasetBoughtEvent(
        dataset_id=int(args["datasetId"]),
        buyer=Address(args["buyer"]),
        paid=Wei(int(args["paid"])),
        fee=Wei(int(args["fee"])),
        owner_amount=Wei(int(args["ownerAmount"])),
        meta=event_meta(e),
    )
