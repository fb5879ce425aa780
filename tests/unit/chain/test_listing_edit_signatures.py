"""EIP-712 edit and delisting signatures: the digests computed by hand, and one kind never another.

``UpdateListing`` and ``SetListingActive`` messages are rebuilt here from the EIP-712 definition
(``keccak`` of the ABI-encoded fields), so a wrong type string, field order or domain would show.
The contract's own type hashes, and what it does with these signatures, are compared in
tests/integration/chain/test_relayed_listing_edits.py.
"""

from __future__ import annotations

import dataclasses

import pytest
from eth_abi.abi import encode
from eth_account.messages import encode_typed_data
from eth_utils.crypto import keccak

from chain import (
    ListingActiveRequest,
    ListingRequest,
    ListingUpdateRequest,
    new_account,
    recover_listing_active_signer,
    recover_listing_signer,
    recover_listing_update_signer,
    sign_listing,
    sign_listing_active,
    sign_listing_update,
)
from chain._typed_data import SignatureError
from chain.registry import (
    DOMAIN_NAME,
    DOMAIN_VERSION,
    SET_LISTING_ACTIVE_TYPE,
    UPDATE_LISTING_TYPE,
    AccessMode,
    listing_active_typed_data,
    listing_active_types,
    listing_types,
    listing_update_typed_data,
    listing_update_types,
    set_listing_active_typehash,
    update_listing_typehash,
)

CHAIN_ID = 31337
REGISTRY = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
OTHER_CONTRACT = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"
DOMAIN_TYPE = b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"


def update(owner: str, **changes: object) -> ListingUpdateRequest:
    base = ListingUpdateRequest(
        owner=owner,
        dataset_id=7,
        access_mode=AccessMode.DOWNLOADABLE,
        price=5 * 10**18,
        nonce=3,
        deadline=1_900_000_000,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def set_active(owner: str, **changes: object) -> ListingActiveRequest:
    base = ListingActiveRequest(
        owner=owner, dataset_id=7, active=False, nonce=3, deadline=1_900_000_000
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def domain_separator(contract: str = REGISTRY, chain_id: int = CHAIN_ID) -> bytes:
    return keccak(
        encode(
            ["bytes32", "bytes32", "bytes32", "uint256", "address"],
            [
                keccak(DOMAIN_TYPE),
                keccak(text=DOMAIN_NAME),
                keccak(text=DOMAIN_VERSION),
                chain_id,
                contract,
            ],
        )
    )


def test_the_type_strings_are_the_contracts() -> None:
    assert UPDATE_LISTING_TYPE == (
        "UpdateListing(uint256 datasetId,uint8 accessMode,uint256 price,uint256 nonce,"
        "uint256 deadline)"
    )
    assert SET_LISTING_ACTIVE_TYPE == (
        "SetListingActive(uint256 datasetId,bool active,uint256 nonce,uint256 deadline)"
    )
    assert update_listing_typehash() == keccak(text=UPDATE_LISTING_TYPE)
    assert set_listing_active_typehash() == keccak(text=SET_LISTING_ACTIVE_TYPE)


def test_the_update_digest_is_the_eip712_definition() -> None:
    r = update(new_account().address)
    struct_hash = keccak(
        encode(
            ["bytes32", "uint256", "uint8", "uint256", "uint256", "uint256"],
            [
                keccak(text=UPDATE_LISTING_TYPE),
                r.dataset_id,
                int(r.access_mode),
                r.price,
                r.nonce,
                r.deadline,
            ],
        )
    )
    signable = encode_typed_data(full_message=listing_update_typed_data(CHAIN_ID, REGISTRY, r))
    assert signable.header == domain_separator()
    assert signable.body == struct_hash


@pytest.mark.parametrize("active", [False, True])
def test_the_set_active_digest_is_the_eip712_definition(active: bool) -> None:
    r = set_active(new_account().address, active=active)
    struct_hash = keccak(
        encode(
            ["bytes32", "uint256", "bool", "uint256", "uint256"],
            [keccak(text=SET_LISTING_ACTIVE_TYPE), r.dataset_id, active, r.nonce, r.deadline],
        )
    )
    signable = encode_typed_data(full_message=listing_active_typed_data(CHAIN_ID, REGISTRY, r))
    assert signable.header == domain_separator()
    assert signable.body == struct_hash


def test_the_types_name_one_primary_type_each_beside_the_domain() -> None:
    assert set(listing_update_types()) == {"EIP712Domain", "UpdateListing"}
    assert set(listing_active_types()) == {"EIP712Domain", "SetListingActive"}
    assert listing_update_types()["EIP712Domain"] == listing_types()["EIP712Domain"]
    fields = [f["name"] for f in listing_update_types()["UpdateListing"]]
    assert fields == ["datasetId", "accessMode", "price", "nonce", "deadline"]
    fields = [f["name"] for f in listing_active_types()["SetListingActive"]]
    assert fields == ["datasetId", "active", "nonce", "deadline"]


def test_the_owner_signs_and_the_relayer_recovers_the_owner() -> None:
    owner = new_account()
    u, a = update(owner.address), set_active(owner.address)
    assert (
        recover_listing_update_signer(
            CHAIN_ID, REGISTRY, u, sign_listing_update(owner, CHAIN_ID, REGISTRY, u)
        )
        == owner.address
    )
    assert (
        recover_listing_active_signer(
            CHAIN_ID, REGISTRY, a, sign_listing_active(owner, CHAIN_ID, REGISTRY, a)
        )
        == owner.address
    )


@pytest.mark.parametrize(
    "changes",
    [
        {"dataset_id": 8},
        {"access_mode": AccessMode.FEDERATED_ONLY},
        {"price": 5 * 10**18 + 1},
        {"nonce": 4},
        {"deadline": 1_900_000_001},
    ],
)
def test_every_update_field_is_signed(changes: dict[str, object]) -> None:
    owner = new_account()
    signature = sign_listing_update(owner, CHAIN_ID, REGISTRY, update(owner.address))
    tampered = update(owner.address, **changes)
    assert recover_listing_update_signer(CHAIN_ID, REGISTRY, tampered, signature) != owner.address


@pytest.mark.parametrize(
    "changes",
    [{"dataset_id": 8}, {"active": True}, {"nonce": 4}, {"deadline": 1_900_000_001}],
)
def test_every_set_active_field_is_signed(changes: dict[str, object]) -> None:
    owner = new_account()
    signature = sign_listing_active(owner, CHAIN_ID, REGISTRY, set_active(owner.address))
    tampered = set_active(owner.address, **changes)
    assert recover_listing_active_signer(CHAIN_ID, REGISTRY, tampered, signature) != owner.address


def test_a_signature_of_one_kind_recovers_someone_else_as_any_other_kind() -> None:
    owner = new_account()
    u, a = update(owner.address), set_active(owner.address)
    listing = ListingRequest(
        owner=owner.address,
        metadata_hash=keccak(b"metadata"),
        metadata_cid="bafkreimeta",
        access_mode=AccessMode.DOWNLOADABLE,
        price=u.price,
        nonce=u.nonce,
        deadline=u.deadline,
    )
    by_kind = {
        "list": sign_listing(owner, CHAIN_ID, REGISTRY, listing),
        "update": sign_listing_update(owner, CHAIN_ID, REGISTRY, u),
        "active": sign_listing_active(owner, CHAIN_ID, REGISTRY, a),
    }
    recovers = {
        "list": lambda sig: recover_listing_signer(CHAIN_ID, REGISTRY, listing, sig),
        "update": lambda sig: recover_listing_update_signer(CHAIN_ID, REGISTRY, u, sig),
        "active": lambda sig: recover_listing_active_signer(CHAIN_ID, REGISTRY, a, sig),
    }
    for made_as, signature in by_kind.items():
        for read_as, recover in recovers.items():
            assert (recover(signature) == owner.address) == (made_as == read_as), (made_as, read_as)


def test_another_registry_or_chain_recovers_someone_else() -> None:
    owner = new_account()
    u, a = update(owner.address), set_active(owner.address)
    su = sign_listing_update(owner, CHAIN_ID, REGISTRY, u)
    sa = sign_listing_active(owner, CHAIN_ID, REGISTRY, a)
    assert recover_listing_update_signer(CHAIN_ID, OTHER_CONTRACT, u, su) != owner.address
    assert recover_listing_update_signer(1, REGISTRY, u, su) != owner.address
    assert recover_listing_active_signer(CHAIN_ID, OTHER_CONTRACT, a, sa) != owner.address
    assert recover_listing_active_signer(1, REGISTRY, a, sa) != owner.address


def test_malformed_signatures_are_refused_as_the_contract_refuses_them() -> None:
    owner = new_account()
    u, a = update(owner.address), set_active(owner.address)
    signature = sign_listing_update(owner, CHAIN_ID, REGISTRY, u)
    for bad in (signature[:64], signature + b"\x00", signature[:64] + b"\x01"):
        with pytest.raises(SignatureError):
            recover_listing_update_signer(CHAIN_ID, REGISTRY, u, bad)
        with pytest.raises(SignatureError):
            recover_listing_active_signer(CHAIN_ID, REGISTRY, a, bad)


def test_requests_take_keywords_only() -> None:
    with pytest.raises(TypeError):
        ListingUpdateRequest(REGISTRY, 1, AccessMode.DOWNLOADABLE, 1, 0, 0)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        ListingActiveRequest(REGISTRY, 1, False, 0, 0)  # type: ignore[call-arg]
