"""What owners and listers sign, computed identically by the server and the client.

- A dataset listing's **metadata document** is ``canonical_json`` of the validated
  :class:`~marketplace_api.schemas.DatasetBase` fields; its CID and keccak hash are what the owner
  signs (EIP-712 ``ListDataset``, domain "FedMarket DatasetRegistry" version "2", with the access
  mode, the price, the registry's nonce and a deadline) and what the registry records.
- A model listing's **message** is ``canonical_json`` of ``{task_id, name, description,
  price_wei, card_cid, chain_id, fed_task, market}``, signed with EIP-191 ``personal_sign``; the
  chain id and the FedTask and ModelMarket addresses bind the signature to one deployment, so it
  cannot be replayed to another marketplace.

Both sides run the same pydantic validation first, so normalisations (checksummed owner, statistics
as floats) cannot make the bytes differ.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from eth_account import Account
from eth_account.messages import SignableMessage, encode_defunct
from eth_account.signers.local import LocalAccount
from eth_keys.exceptions import BadSignature
from eth_utils.exceptions import ValidationError as EthValidationError

from chain import ListingRequest, recover_listing_signer
from chain.registry import AccessMode
from kernel.types import Address, Cid, Hash32
from marketplace_api.errors import MalformedSignatureError
from marketplace_api.schemas import ACCESS_MODE_VALUES, DatasetBase, ModelBase
from storage import canonical_json, compute_cid, content_hash

_MALFORMED = (ValueError, BadSignature, EthValidationError)


@dataclass(frozen=True)
class MetadataDocument:
    """A listing's metadata document and its content addresses."""

    data: bytes
    cid: Cid
    hash: Hash32

    @property
    def hash_hex(self) -> str:
        """``0x`` + hex of :attr:`hash`."""
        return "0x" + self.hash.hex()

    def request(
        self,
        owner: str,
        *,
        nonce: int,
        deadline: int,
        access_mode: Literal["federated_only", "downloadable"] = "federated_only",
        price: int = 0,
    ) -> ListingRequest:
        """The EIP-712 ``ListDataset`` request of this document.

        Parameters
        ----------
        owner : str
            The owner, who signs.
        nonce : int
            The owner's registry nonce.
        deadline : int
            Unix time after which the signature is void.
        access_mode : {"federated_only", "downloadable"}, default "federated_only"
            The listing's access mode.
        price : int, default 0
            Price of a licence in token wei (0 for ``federated_only``).
        """
        return ListingRequest(
            owner=owner,
            metadata_hash=bytes(self.hash),
            metadata_cid=str(self.cid),
            access_mode=AccessMode(ACCESS_MODE_VALUES[access_mode]),
            price=price,
            nonce=nonce,
            deadline=deadline,
        )


def metadata_document(fields: DatasetBase) -> MetadataDocument:
    """The metadata document of a listing: its canonical bytes, CID and keccak hash.

    Parameters
    ----------
    fields : DatasetBase
        The validated metadata (a :class:`~marketplace_api.schemas.DatasetCreate` works too: only
        the ``DatasetBase`` fields are serialised).
    """
    data = canonical_json(fields.document_fields())
    return MetadataDocument(data=data, cid=compute_cid(data), hash=content_hash(data))


def model_listing_message(
    fields: ModelBase, *, chain_id: int, fed_task: str, market: str
) -> SignableMessage:
    """The EIP-191 message a model lister signs.

    Parameters
    ----------
    fields : ModelBase
        The validated listing (a :class:`~marketplace_api.schemas.ModelCreate` works too).
    chain_id : int
        The chain the task lives on.
    fed_task : str
        The FedTask contract's address.
    market : str
        The ModelMarket contract's address.
    """
    message = {
        **fields.message_fields(),
        "chain_id": chain_id,
        "fed_task": fed_task,
        "market": market,
    }
    return encode_defunct(primitive=canonical_json(message))


def sign_model_listing(
    account: LocalAccount, fields: ModelBase, *, chain_id: int, fed_task: str, market: str
) -> str:
    """``account``'s signature of a model listing on one deployment, as ``0x`` hex.

    Parameters
    ----------
    account : LocalAccount
        The lister's key.
    fields : ModelBase
        The validated listing.
    chain_id : int
        The chain the task lives on.
    fed_task : str
        The FedTask contract's address.
    market : str
        The ModelMarket contract's address.
    """
    message = model_listing_message(fields, chain_id=chain_id, fed_task=fed_task, market=market)
    return "0x" + bytes(account.sign_message(message).signature).hex()


def recover_model_lister(
    fields: ModelBase, signature: str, *, chain_id: int, fed_task: str, market: str
) -> Address:
    """The address that signed a model listing for the deployment ``(chain_id, fed_task, market)``.

    Parameters
    ----------
    fields : ModelBase
        The validated listing.
    signature : str
        The signature, ``0x`` hex.
    chain_id : int
        The chain the task lives on.
    fed_task : str
        The FedTask contract's address.
    market : str
        The ModelMarket contract's address.

    Raises
    ------
    MalformedSignatureError
        When ``signature`` is not a valid 65-byte ECDSA signature.
    """
    message = model_listing_message(fields, chain_id=chain_id, fed_task=fed_task, market=market)
    try:
        recovered = Account.recover_message(message, signature=_signature_bytes(signature))
    except _MALFORMED as exc:
        raise MalformedSignatureError(f"recover_model_lister: malformed signature: {exc}") from None
    return Address(recovered)


def recover_dataset_owner(
    chain_id: int, registry: str, request: ListingRequest, signature: str
) -> Address:
    """The address that signed a dataset listing request (EIP-712), under the contract's rules.

    Parameters
    ----------
    chain_id : int
        The chain the registry lives on.
    registry : str
        The registry's address.
    request : ListingRequest
        What the owner should have signed.
    signature : str
        The signature, ``0x`` hex.

    Raises
    ------
    MalformedSignatureError
        When ``signature`` is not a 65-byte ECDSA signature the registry would accept (``v`` 27
        or 28, ``s`` in the lower half of the curve order).
    """
    try:
        return recover_listing_signer(chain_id, registry, request, _signature_bytes(signature))
    except _MALFORMED as exc:
        raise MalformedSignatureError(
            f"recover_dataset_owner: malformed signature: {exc}"
        ) from None


def _signature_bytes(signature: str) -> bytes:
    raw = bytes.fromhex(signature.removeprefix("0x"))
    if len(raw) != 65:
        raise MalformedSignatureError("a signature is 65 bytes")
    return raw


__all__ = [
    "MetadataDocument",
    "metadata_document",
    "model_listing_message",
    "recover_dataset_owner",
    "recover_model_lister",
    "sign_model_listing",
]
