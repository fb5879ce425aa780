"""EIP-712 listing and permit signatures: the hashes computed by hand, and the contract's rules.

The digest eth-account signs is rebuilt here from the EIP-712 definition (``keccak`` of the
ABI-encoded fields), so a wrong type string, field order or domain would show. The contract's
own ``LIST_DATASET_TYPEHASH`` and ``DOMAIN_SEPARATOR`` are compared in the integration tests.
"""

from __future__ import annotations

import dataclasses

import pytest
from eth_abi.abi import encode
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils.crypto import keccak

from chain import new_account
from chain._typed_data import SECP256K1_HALF_ORDER, SignatureError
from chain.registry import (
    DOMAIN_NAME,
    DOMAIN_VERSION,
    LIST_DATASET_TYPE,
    AccessMode,
    ListingRequest,
    list_dataset_typehash,
    listing_typed_data,
    recover_listing_signer,
    sign_listing,
)
from chain.token import PermitRequest, permit_typed_data, sign_permit
from kernel.errors import InvalidInputError

CHAIN_ID = 31337
REGISTRY = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
TOKEN = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"
DOMAIN_TYPE = b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"


def request(owner: str, **changes: object) -> ListingRequest:
    base = ListingRequest(
        owner=owner,
        metadata_hash=keccak(b"metadata"),
        metadata_cid="bafkreimeta",
        access_mode=AccessMode.DOWNLOADABLE,
        price=5 * 10**18,
        nonce=3,
        deadline=1_900_000_000,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def domain_separator(name: str, version: str, contract: str) -> bytes:
    return keccak(
        encode(
            ["bytes32", "bytes32", "bytes32", "uint256", "address"],
            [keccak(DOMAIN_TYPE), keccak(text=name), keccak(text=version), CHAIN_ID, contract],
        )
    )


def test_the_listing_digest_is_the_eip712_definition() -> None:
    r = request(new_account().address)
    struct_hash = keccak(
        encode(
            ["bytes32", "address", "bytes32", "bytes32", "uint8", "uint256", "uint256", "uint256"],
            [
                keccak(text=LIST_DATASET_TYPE),
                r.owner,
                r.metadata_hash,
                keccak(text=r.metadata_cid),
                int(r.access_mode),
                r.price,
                r.nonce,
                r.deadline,
            ],
        )
    )
    signable = encode_typed_data(full_message=listing_typed_data(CHAIN_ID, REGISTRY, r))
    assert (DOMAIN_NAME, DOMAIN_VERSION) == ("FedMarket DatasetRegistry", "2")
    assert signable.header == domain_separator(DOMAIN_NAME, DOMAIN_VERSION, REGISTRY)
    assert signable.body == struct_hash
    assert list_dataset_typehash() == keccak(text=LIST_DATASET_TYPE)


def test_the_owner_signs_and_the_relayer_recovers_the_owner() -> None:
    owner = new_account()
    r = request(owner.address)
    signature = sign_listing(owner, CHAIN_ID, REGISTRY, r)
    assert recover_listing_signer(CHAIN_ID, REGISTRY, r, signature) == owner.address


@pytest.mark.parametrize(
    "changes",
    [
        {"metadata_hash": keccak(b"other")},
        {"metadata_cid": "bafkreiother"},
        {"access_mode": AccessMode.FEDERATED_ONLY},
        {"price": 5 * 10**18 + 1},
        {"nonce": 4},
        {"deadline": 1_900_000_001},
    ],
)
def test_every_field_is_signed(changes: dict[str, object]) -> None:
    owner = new_account()
    signature = sign_listing(owner, CHAIN_ID, REGISTRY, request(owner.address))
    tampered = request(owner.address, **changes)
    assert recover_listing_signer(CHAIN_ID, REGISTRY, tampered, signature) != owner.address


def test_another_registry_or_chain_recovers_someone_else() -> None:
    owner = new_account()
    r = request(owner.address)
    signature = sign_listing(owner, CHAIN_ID, REGISTRY, r)
    assert recover_listing_signer(CHAIN_ID, TOKEN, r, signature) != owner.address
    assert recover_listing_signer(1, REGISTRY, r, signature) != owner.address


def malleable(signature: bytes) -> bytes:
    """The same signature with ``s`` mirrored into the upper half (valid for ecrecover)."""
    order = 2 * SECP256K1_HALF_ORDER + 1
    s = int.from_bytes(signature[32:64], "big")
    v = 27 if signature[64] == 28 else 28
    return signature[:32] + (order - s).to_bytes(32, "big") + bytes([v])


def test_malformed_signatures_are_refused_as_the_contract_refuses_them() -> None:
    owner = new_account()
    r = request(owner.address)
    signature = sign_listing(owner, CHAIN_ID, REGISTRY, r)
    mirrored = malleable(signature)
    # eth-account alone would accept the mirrored signature; OpenZeppelin's ECDSA does not
    message = encode_typed_data(full_message=listing_typed_data(CHAIN_ID, REGISTRY, r))
    assert Account.recover_message(message, signature=mirrored) == owner.address
    for bad in (signature[:64], signature + b"\x00", signature[:64] + b"\x01", mirrored):
        with pytest.raises(SignatureError) as err:
            recover_listing_signer(CHAIN_ID, REGISTRY, r, bad)
        assert isinstance(err.value, InvalidInputError)
        assert isinstance(err.value, ValueError)  # callers catching ValueError still do
    with pytest.raises(SignatureError, match="no key recovers"):
        recover_listing_signer(CHAIN_ID, REGISTRY, r, bytes(64) + b"\x1b")


def test_a_request_defaults_to_federated_only_at_price_zero_and_takes_keywords_only() -> None:
    r = ListingRequest(
        owner=REGISTRY, metadata_hash=bytes(32), metadata_cid="", nonce=0, deadline=0
    )
    assert (r.access_mode, r.price) == (AccessMode.FEDERATED_ONLY, 0)
    with pytest.raises(TypeError):
        ListingRequest(REGISTRY, bytes(32), "", 0, 0)  # type: ignore[misc]


def test_the_permit_digest_is_the_eip2612_definition() -> None:
    holder = new_account()
    p = PermitRequest(owner=holder.address, spender=REGISTRY, value=7, nonce=0, deadline=99)
    permit_type = (
        b"Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)"
    )
    struct_hash = keccak(
        encode(
            ["bytes32", "address", "address", "uint256", "uint256", "uint256"],
            [keccak(permit_type), p.owner, p.spender, p.value, p.nonce, p.deadline],
        )
    )
    signable = encode_typed_data(full_message=permit_typed_data(CHAIN_ID, TOKEN, p))
    assert signable.header == domain_separator("FedMarket Token", "1", TOKEN)
    assert signable.body == struct_hash
    signature = sign_permit(holder, CHAIN_ID, TOKEN, p)
    assert Account.recover_message(signable, signature=signature) == holder.address
