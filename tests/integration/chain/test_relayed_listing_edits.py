"""Relayed edits, delistings and relistings of DatasetRegistry listings, over every backend.

The owner signs (``UpdateListing``, ``SetListingActive``) and never pays gas; a relayer checks the
signature and simulates the call (``verify_listing_update``, ``verify_listing_active``), then
relays it. Each test deploys its own RewardToken and DatasetRegistry. What is checked: the
listing changes as signed, the logs are byte for byte those of the owner's own calls (the
indexer reads nothing new), a signature is used once and as the kind it was made for (the three
kinds share the owner's nonce), and every refusal comes before any gas is spent, with its name.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak

from chain import (
    ChainBackend,
    ChainRevertError,
    ListingActiveRequest,
    ListingRequest,
    ListingUpdateRequest,
    NotListingOwnerError,
    Signer,
    TxResult,
    fund,
    new_account,
    sign_listing,
    sign_listing_active,
    sign_listing_update,
    signer_for,
)
from chain._typed_data import SignatureError
from chain.artifacts import load_artifact
from chain.registry import (
    AccessMode,
    DatasetRegistryClient,
    set_listing_active_typehash,
    update_listing_typehash,
)

pytestmark = pytest.mark.slow

TOKEN = 10**18
GAS_WEI = 10**19
PRICE = 3 * TOKEN + 7


@dataclass
class World:
    """A fresh registry, its admin (who pauses), and a gasless owner's listing."""

    backend: ChainBackend
    admin: Signer
    address: str
    block: int
    owner: LocalAccount
    dataset_id: int

    def registry(self, signer: Signer | None = None) -> DatasetRegistryClient:
        return DatasetRegistryClient(self.backend, self.address, signer, from_block=self.block)

    def relayer(self) -> DatasetRegistryClient:
        """The registry as a new funded relayer sees it."""
        account = new_account()
        fund(self.backend, account.address, GAS_WEI)
        return self.registry(signer_for(self.backend, account))

    def now(self) -> int:
        return int(self.backend.w3.eth.get_block("latest")["timestamp"])

    def update(
        self, key: LocalAccount | None = None, **changes: Any
    ) -> tuple[ListingUpdateRequest, bytes]:
        """An edit of the listing for the owner's current nonce, signed by ``key`` (the owner)."""
        request = ListingUpdateRequest(
            owner=self.owner.address,
            dataset_id=self.dataset_id,
            access_mode=AccessMode.DOWNLOADABLE,
            price=PRICE + 1,
            nonce=self.registry().nonce(self.owner.address),
            deadline=self.now() + 3600,
        )
        request = replace(request, **changes)
        signature = sign_listing_update(
            key or self.owner, self.backend.chain_id, self.address, request
        )
        return request, signature

    def set_active(
        self, active: bool, key: LocalAccount | None = None, **changes: Any
    ) -> tuple[ListingActiveRequest, bytes]:
        """A delisting (``active`` False) or relisting for the owner's current nonce."""
        request = ListingActiveRequest(
            owner=self.owner.address,
            dataset_id=self.dataset_id,
            active=active,
            nonce=self.registry().nonce(self.owner.address),
            deadline=self.now() + 3600,
        )
        request = replace(request, **changes)
        signature = sign_listing_active(
            key or self.owner, self.backend.chain_id, self.address, request
        )
        return request, signature


def deploy(signer: Signer, name: str, *args: Any) -> TxResult:
    raw = load_artifact(name)
    contract = signer.backend.w3.eth.contract(abi=raw.abi, bytecode=raw.bytecode)
    return signer.transact(contract.constructor(*args))


def relay_listing(registry: DatasetRegistryClient, owner: LocalAccount, metadata: bytes) -> int:
    """List ``metadata`` for ``owner`` through ``registry``'s relayer; the new id."""
    request = ListingRequest(
        owner=owner.address,
        metadata_hash=keccak(metadata),
        metadata_cid="bafkrei" + metadata.hex(),
        access_mode=AccessMode.DOWNLOADABLE,
        price=PRICE,
        nonce=registry.nonce(owner.address),
        deadline=int(registry.backend.w3.eth.get_block("latest")["timestamp"]) + 3600,
    )
    signature = sign_listing(owner, registry.backend.chain_id, registry.address, request)
    dataset_id, _ = registry.list_dataset_for(request, signature)
    return dataset_id


@pytest.fixture
def world(backend: ChainBackend) -> Iterator[World]:
    admin_account = new_account()
    fund(backend, admin_account.address, GAS_WEI)
    admin = signer_for(backend, admin_account)
    token_tx = deploy(admin, "RewardToken", admin.address, 10**9 * TOKEN)
    registry_tx = deploy(
        admin, "DatasetRegistry", token_tx.contract_address, admin.address, admin.address, 250
    )
    address = str(registry_tx.contract_address)
    owner = new_account()  # never funded: every change of its listing is relayed
    setup = DatasetRegistryClient(backend, address, admin, from_block=token_tx.block_number)
    dataset_id = relay_listing(setup, owner, b"metadata")
    yield World(backend, admin, address, token_tx.block_number, owner, dataset_id)
    assert backend.w3.eth.get_balance(owner.address) == 0, "the owner paid no gas"


def revert(call: Any, *args: Any) -> ChainRevertError:
    """The revert ``call(*args)`` raises (fails the test when it does not revert)."""
    with pytest.raises(ChainRevertError) as err:
        call(*args)
    return err.value


def logs_of(result: TxResult) -> list[tuple[str, list[bytes], bytes]]:
    """Emitter, topics and data of every log of a mined transaction."""
    return [
        (str(log["address"]), [bytes(t) for t in log["topics"]], bytes(log["data"]))
        for log in result.receipt["logs"]
    ]


def test_a_relayed_edit_changes_the_listing_and_logs_what_the_owners_call_logs(
    world: World,
) -> None:
    relayer = world.relayer()
    assert relayer.update_listing_typehash() == update_listing_typehash()
    assert relayer.set_listing_active_typehash() == set_listing_active_typehash()
    request, signature = world.update(price=PRICE + 1)
    assert relayer.verify_listing_update(request, signature) == world.owner.address
    relayed = relayer.update_listing_for(request, signature)

    listing = relayer.listing(world.dataset_id)
    assert (listing.owner, listing.access_mode, listing.price, listing.active) == (
        world.owner.address,
        AccessMode.DOWNLOADABLE,
        PRICE + 1,
        True,
    )
    assert relayer.nonce(world.owner.address) == request.nonce + 1
    (event,) = relayer.listing_updated_events(world.dataset_id)
    assert (event.access_mode, event.price, event.meta.tx_hash) == (
        AccessMode.DOWNLOADABLE,
        PRICE + 1,
        relayed.tx_hash,
    )
    # the same edit sent by a funded owner of its own listing logs exactly the same bytes
    funded = new_account()
    fund(world.backend, funded.address, GAS_WEI)
    direct_owner = world.registry(signer_for(world.backend, funded))
    other_id, _ = direct_owner.list_dataset(
        keccak(b"direct"), "bafkreidirect", AccessMode.DOWNLOADABLE, 1
    )
    direct = direct_owner.update_listing(other_id, AccessMode.DOWNLOADABLE, PRICE + 1)
    [(emitter, topics, data)] = logs_of(relayed)
    [(d_emitter, d_topics, d_data)] = logs_of(direct)
    assert (emitter, topics[0], data) == (d_emitter, d_topics[0], d_data)
    assert topics[1:] == [world.dataset_id.to_bytes(32, "big")]
    assert d_topics[1:] == [other_id.to_bytes(32, "big")]


def test_a_relayed_delisting_and_relisting_log_what_the_owners_calls_log(world: World) -> None:
    relayer = world.relayer()
    delist, signature = world.set_active(False)
    assert relayer.verify_listing_active(delist, signature) == world.owner.address
    relayed_delist = relayer.set_active_for(delist, signature)
    assert not relayer.listing(world.dataset_id).active
    relist, signature = world.set_active(True)
    assert relist.nonce == delist.nonce + 1
    relayer.verify_listing_active(relist, signature)
    relayed_relist = relayer.set_active_for(relist, signature)
    assert relayer.listing(world.dataset_id).active

    events = relayer.listing_status_events(dataset_id=world.dataset_id)
    assert [(e.active, e.owner, e.meta.tx_hash) for e in events] == [
        (False, world.owner.address, relayed_delist.tx_hash),
        (True, world.owner.address, relayed_relist.tx_hash),
    ]
    # an owner delisting and relisting its own listing: the same events, indexed the same way
    funded = new_account()
    fund(world.backend, funded.address, GAS_WEI)
    own = world.registry(signer_for(world.backend, funded))
    own_id, _ = own.list_dataset(keccak(b"own"), "bafkreiown", AccessMode.DOWNLOADABLE, 1)
    direct = [own.delist(own_id), own.relist(own_id)]
    for relayed, sent in zip([relayed_delist, relayed_relist], direct, strict=True):
        [(emitter, topics, data)] = logs_of(relayed)
        [(d_emitter, d_topics, d_data)] = logs_of(sent)
        assert (emitter, topics[0], data) == (d_emitter, d_topics[0], d_data)
        assert topics[1:] == [
            world.dataset_id.to_bytes(32, "big"),
            bytes(12) + bytes.fromhex(world.owner.address[2:]),
        ]
        assert d_topics[1:] == [
            own_id.to_bytes(32, "big"),
            bytes(12) + bytes.fromhex(funded.address[2:]),
        ]


def test_a_replayed_expired_or_foreign_signature_fails_with_its_named_error(
    world: World,
) -> None:
    relayer = world.relayer()
    request, signature = world.update()
    relayer.update_listing_for(request, signature)
    # replayed: the nonce moved on, so the same signature recovers another account
    with pytest.raises(SignatureError, match="nonce 1 is not the owner's current nonce 2"):
        relayer.verify_listing_update(request, signature)
    err = revert(relayer.update_listing_for, request, signature)
    assert err.error_name == "RegistryInvalidSigner"
    assert err.error_args["owner"] == world.owner.address
    assert err.error_args["signer"] != world.owner.address
    # expired
    late, signature = world.set_active(False, deadline=world.now() - 1)
    with pytest.raises(SignatureError, match="deadline"):
        relayer.verify_listing_active(late, signature)
    err = revert(relayer.set_active_for, late, signature)
    assert (err.error_name, err.error_args) == (
        "RegistryExpiredSignature",
        {"deadline": late.deadline},
    )
    # another key signs for the owner
    intruder = new_account()
    forged, signature = world.set_active(False, key=intruder)
    with pytest.raises(SignatureError, match=f"signed by {intruder.address}"):
        relayer.verify_listing_active(forged, signature)
    err = revert(relayer.set_active_for, forged, signature)
    assert err.error_args == {"signer": intruder.address, "owner": world.owner.address}
    # another key signs for itself, of a listing it does not hold
    own, signature = world.update(key=intruder, owner=intruder.address)
    with pytest.raises(NotListingOwnerError, match=f"owned by {world.owner.address}"):
        relayer.verify_listing_update(own, signature)
    err = revert(relayer.update_listing_for, own, signature)
    assert err.error_args == {"signer": intruder.address, "owner": world.owner.address}
    assert relayer.listing(world.dataset_id).active


def test_one_nonce_serves_every_kind_and_no_signature_passes_as_another(world: World) -> None:
    relayer = world.relayer()
    update, update_sig = world.update()
    delist, delist_sig = world.set_active(False)
    assert update.nonce == delist.nonce == 1  # the listing spent nonce 0
    # an edit's signature relayed as a delisting, and back: someone else's, refused
    err = revert(relayer.set_active_for, delist, update_sig)
    assert err.error_name == "RegistryInvalidSigner"
    assert err.error_args["signer"] != world.owner.address
    err = revert(relayer.update_listing_for, update, delist_sig)
    assert err.error_name == "RegistryInvalidSigner"
    # relaying the delisting spends the nonce the edit was signed for
    relayer.set_active_for(delist, delist_sig)
    with pytest.raises(SignatureError, match="current nonce 2"):
        relayer.verify_listing_update(update, update_sig)
    err = revert(relayer.update_listing_for, update, update_sig)
    assert err.error_name == "RegistryInvalidSigner"
    assert relayer.listing(world.dataset_id).price == PRICE


def test_verify_simulates_and_refuses_before_any_gas_is_spent(world: World) -> None:
    relayer = world.relayer()
    assert relayer.signer is not None
    spent = relayer.signer.tx_count
    unknown, signature = world.set_active(False, dataset_id=99)
    err = revert(relayer.verify_listing_active, unknown, signature)
    assert (err.error_name, err.error_args) == ("RegistryUnknownDataset", {"datasetId": 99})
    priced, signature = world.update(access_mode=AccessMode.FEDERATED_ONLY, price=1)
    err = revert(relayer.verify_listing_update, priced, signature)
    assert (err.error_name, err.error_args["price"]) == ("RegistryInvalidPrice", 1)
    active, signature = world.set_active(True)
    err = revert(relayer.verify_listing_active, active, signature)
    assert err.error_name == "RegistryNotDelisted"
    assert relayer.signer.tx_count == spent, "verifying sends nothing"
    assert relayer.nonce(world.owner.address) == 1

    # paused: a relisting waits, a delisting and an edit do not (as for the owner's own calls)
    world.registry(world.admin).pause()
    delist, signature = world.set_active(False)
    relayer.verify_listing_active(delist, signature)
    relayer.set_active_for(delist, signature)
    again, signature = world.set_active(False)
    err = revert(relayer.verify_listing_active, again, signature)
    assert err.error_name == "RegistryAlreadyDelisted"
    edit, signature = world.update(access_mode=AccessMode.FEDERATED_ONLY, price=0)
    relayer.update_listing_for(edit, signature)
    relist, signature = world.set_active(True)
    err = revert(relayer.verify_listing_active, relist, signature)
    assert err.error_name == "EnforcedPause"
    world.registry(world.admin).unpause()
    relayer.verify_listing_active(relist, signature)
    relayer.set_active_for(relist, signature)
    listing = relayer.listing(world.dataset_id)
    assert (listing.active, listing.access_mode, listing.price) == (
        True,
        AccessMode.FEDERATED_ONLY,
        0,
    )
