"""Typed wrapper of the DatasetRegistry, and EIP-712 signing of dataset listings.

A data owner signs ``ListDataset(owner, metadataHash, metadataCid, nonce, deadline)`` with its own
key; anyone (the marketplace API) may relay it, and the contract records the listing under the
owner's address. The same typed data is built here for signing (owner side) and for verifying
before relaying (API side).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from web3.logs import DISCARD

from chain._client import ContractClient
from chain.signer import TxResult
from kernel.types import Address, Cid, Hash32

DOMAIN_NAME = "FedMarket DatasetRegistry"
DOMAIN_VERSION = "1"

_LIST_DATASET_TYPES = {
    "EIP712Domain": [
        {"name": "name", "type": "string"},
        {"name": "version", "type": "string"},
        {"name": "chainId", "type": "uint256"},
        {"name": "verifyingContract", "type": "address"},
    ],
    "ListDataset": [
        {"name": "owner", "type": "address"},
        {"name": "metadataHash", "type": "bytes32"},
        {"name": "metadataCid", "type": "string"},
        {"name": "nonce", "type": "uint256"},
        {"name": "deadline", "type": "uint256"},
    ],
}


@dataclass(frozen=True)
class ListingRequest:
    """What an owner signs to list a dataset."""

    owner: str
    metadata_hash: bytes
    metadata_cid: str
    nonce: int
    deadline: int


def listing_typed_data(chain_id: int, registry: str, request: ListingRequest) -> dict[str, Any]:
    """The EIP-712 message of a listing request, for ``encode_typed_data(full_message=...)``."""
    return {
        "types": _LIST_DATASET_TYPES,
        "primaryType": "ListDataset",
        "domain": {
            "name": DOMAIN_NAME,
            "version": DOMAIN_VERSION,
            "chainId": chain_id,
            "verifyingContract": registry,
        },
        "message": {
            "owner": request.owner,
            "metadataHash": request.metadata_hash,
            "metadataCid": request.metadata_cid,
            "nonce": request.nonce,
            "deadline": request.deadline,
        },
    }


def sign_listing(
    account: LocalAccount, chain_id: int, registry: str, request: ListingRequest
) -> bytes:
    """The owner's 65-byte signature of ``request``."""
    signable = encode_typed_data(full_message=listing_typed_data(chain_id, registry, request))
    return bytes(account.sign_message(signable).signature)


def recover_listing_signer(
    chain_id: int, registry: str, request: ListingRequest, signature: bytes
) -> Address:
    """The address that signed ``request`` (raises ``ValueError`` on a malformed signature)."""
    signable = encode_typed_data(full_message=listing_typed_data(chain_id, registry, request))
    return Address(Account.recover_message(signable, signature=signature))


@dataclass(frozen=True)
class Listing:
    """A listing as the contract stores it."""

    dataset_id: int
    owner: Address
    metadata_hash: Hash32
    metadata_cid: Cid
    listed_at: int
    active: bool


class DatasetRegistryClient(ContractClient):
    """Calls of DatasetRegistry, typed."""

    artifact_name = "DatasetRegistry"

    def list_dataset(self, metadata_hash: bytes, metadata_cid: str) -> tuple[int, TxResult]:
        """List a dataset as the signer (the owner pays gas)."""
        result = self._send(self.contract.functions.listDataset(metadata_hash, metadata_cid))
        return self._listed_id(result), result

    def list_dataset_for(self, request: ListingRequest, signature: bytes) -> tuple[int, TxResult]:
        """Relay a listing signed by its owner (the signer of this client pays gas)."""
        fn = self.contract.functions.listDatasetFor(
            request.owner,
            request.metadata_hash,
            request.metadata_cid,
            request.deadline,
            signature,
        )
        result = self._send(fn)
        return self._listed_id(result), result

    def delist(self, dataset_id: int) -> TxResult:
        """Withdraw a listing (its owner only)."""
        return self._send(self.contract.functions.delistDataset(dataset_id))

    def listing(self, dataset_id: int) -> Listing:
        """A listing by id (raises ``RegistryUnknownDataset``)."""
        raw = self._call(self.contract.functions.getListing(dataset_id))

        def field(name: str, index: int) -> Any:
            return raw[name] if isinstance(raw, dict) else raw[index]

        return Listing(
            dataset_id=dataset_id,
            owner=Address(field("owner", 0)),
            metadata_hash=Hash32(bytes(field("metadataHash", 1))),
            metadata_cid=Cid(field("metadataCid", 2)),
            listed_at=int(field("listedAt", 3)),
            active=bool(field("active", 4)),
        )

    def nonce(self, owner: str) -> int:
        """The owner's next EIP-712 nonce."""
        return int(self._call(self.contract.functions.nonces(owner)))

    def dataset_id_of(self, metadata_hash: bytes) -> int:
        """The id listed under ``metadata_hash`` (0 when none)."""
        return int(self._call(self.contract.functions.datasetIdOf(metadata_hash)))

    def dataset_count(self) -> int:
        """Number of listings ever made."""
        return int(self._call(self.contract.functions.datasetCount()))

    def _listed_id(self, result: TxResult) -> int:
        events = self.contract.events.DatasetListed().process_receipt(
            result.receipt, errors=DISCARD
        )
        return int(events[0]["args"]["datasetId"])
