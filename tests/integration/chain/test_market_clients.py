"""The clients of DatasetRegistry v2, ModelMarket and RewardToken over every backend.

Each test deploys its own RewardToken, DatasetRegistry and ModelMarket; the market reads a
test-only MockFedTask (Hardhat's build output) whose sponsors, finality and shares the test sets,
so these tests depend on nothing of FedTask. Money is checked to the wei against the reference
arithmetic of ``chain.market`` and ``chain.registry``, reverts by their custom error's name and
arguments, and every event the contracts emit is read back through the clients.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak
from web3.contract import Contract

from chain import ChainBackend, ChainRevertError, Signer, TxResult, fund, new_account, signer_for
from chain._access import DEFAULT_ADMIN_ROLE, FEE_ROLE, MINTER_ROLE, PAUSER_ROLE
from chain._sales import Licence
from chain._typed_data import SignatureError
from chain.artifacts import load_artifact
from chain.market import (
    MAX_FEE_BPS,
    MAX_SPONSOR_BPS,
    ModelMarketClient,
    contributor_entitlement,
    sale_split,
)
from chain.registry import (
    AccessMode,
    DatasetRegistryClient,
    ListingRequest,
    dataset_sale_split,
    list_dataset_typehash,
    listing_typed_data,
    sign_listing,
)
from chain.token import PermitRequest, RewardTokenClient, permit_typed_data, sign_permit
from tests.support.services import unavailable

pytestmark = pytest.mark.slow

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[3]
MOCK_FED_TASK = ROOT / "artifacts/contracts/test/mocks/MockFedTask.sol/MockFedTask.json"
TOKEN = 10**18
CAP = 10**9 * TOKEN
FEE_BPS = 250
GAS_WEI = 10**19


@dataclass
class World:
    """Freshly deployed contracts, their admin, and parties with gas money."""

    backend: ChainBackend
    admin: Signer
    fee_recipient: Signer
    token_address: str
    registry_address: str
    market_address: str
    fed_task: Contract
    block: int
    gas: dict[str, int] = field(default_factory=dict)

    def signer(self, account: LocalAccount | None = None) -> Signer:
        """A funded signer (a new account unless one is given)."""
        account = account or new_account()
        fund(self.backend, account.address, GAS_WEI)
        return signer_for(self.backend, account)

    def token(self, signer: Signer | None = None) -> RewardTokenClient:
        return RewardTokenClient(self.backend, self.token_address, signer, from_block=self.block)

    def registry(self, signer: Signer | None = None) -> DatasetRegistryClient:
        return DatasetRegistryClient(
            self.backend, self.registry_address, signer, from_block=self.block
        )

    def market(self, signer: Signer | None = None) -> ModelMarketClient:
        return ModelMarketClient(self.backend, self.market_address, signer, from_block=self.block)

    def now(self) -> int:
        return int(self.backend.w3.eth.get_block("latest")["timestamp"])

    def record(self, name: str, result: TxResult) -> TxResult:
        """Remember the gas of a call (logged at the end of the test)."""
        self.gas.setdefault(name, result.gas_used)
        return result

    def paid_buyer(self, amount: int, spender: str) -> Signer:
        """A new account holding ``amount`` tokens, all approved to ``spender``."""
        buyer = self.signer()
        self.token(self.admin).mint(buyer.address, amount)
        self.token(buyer).approve(spender, amount)
        return buyer

    def complete_task(self, task_id: int, sponsor: str, shares: dict[str, int]) -> None:
        """Make ``task_id`` a final task of ``sponsor`` with these contributors' shares."""
        fn = self.fed_task.functions.setCompleted(
            task_id, sponsor, list(shares), list(shares.values())
        )
        self.admin.transact(fn)


@cache
def mock_fed_task() -> dict[str, Any] | None:
    """MockFedTask's ABI and bytecode, read once (``None`` when Hardhat has not built it)."""
    try:
        raw: dict[str, Any] = json.loads(MOCK_FED_TASK.read_text("utf-8"))
    except FileNotFoundError:
        return None
    return raw


def deploy(signer: Signer, artifact: str | dict[str, Any], *args: Any) -> TxResult:
    """Deploy a committed artifact (by name) or a Hardhat build artifact (a dict)."""
    raw = load_artifact(artifact).__dict__ if isinstance(artifact, str) else artifact
    contract = signer.backend.w3.eth.contract(abi=raw["abi"], bytecode=raw["bytecode"])
    return signer.transact(contract.constructor(*args))


@pytest.fixture
def world(backend: ChainBackend) -> Iterator[World]:
    mock = mock_fed_task()
    if mock is None:
        unavailable(f"{MOCK_FED_TASK.relative_to(ROOT)} is missing: run `npx hardhat build`")
        return
    admin_account, fee_account = new_account(), new_account()
    for account in (admin_account, fee_account):
        fund(backend, account.address, GAS_WEI)
    admin = signer_for(backend, admin_account)
    token_tx = deploy(admin, "RewardToken", admin.address, CAP)
    token, fed_task = str(token_tx.contract_address), str(deploy(admin, mock).contract_address)
    admin_and_fee = (admin.address, fee_account.address, FEE_BPS)
    registry = str(deploy(admin, "DatasetRegistry", token, *admin_and_fee).contract_address)
    market = str(deploy(admin, "ModelMarket", token, fed_task, *admin_and_fee).contract_address)
    world = World(
        backend=backend,
        admin=admin,
        fee_recipient=signer_for(backend, fee_account),
        token_address=token,
        registry_address=registry,
        market_address=market,
        fed_task=backend.w3.eth.contract(address=fed_task, abi=mock["abi"]),
        block=token_tx.block_number,
    )
    yield world
    log.info("gas on %s: %s", backend.describe(), world.gas)


def revert(call: Any, *args: Any, **kwargs: Any) -> ChainRevertError:
    """The revert ``call(*args, **kwargs)`` raises (fails the test when it does not revert)."""
    with pytest.raises(ChainRevertError) as err:
        call(*args, **kwargs)
    return err.value


def signed_request(
    world: World, owner: LocalAccount, metadata: bytes, **changes: Any
) -> tuple[ListingRequest, bytes]:
    """A downloadable listing request for ``owner``'s current nonce, and its signature."""
    registry = world.registry()
    request = ListingRequest(
        owner=owner.address,
        metadata_hash=keccak(metadata),
        metadata_cid="bafkrei" + metadata.hex(),
        access_mode=AccessMode.DOWNLOADABLE,
        price=3 * TOKEN + 7,
        nonce=registry.nonce(owner.address),
        deadline=world.now() + 3600,
    )
    request = replace(request, **changes)
    return request, sign_listing(owner, world.backend.chain_id, registry.address, request)


def test_a_relayed_listing_records_mode_and_price_for_the_owner(world: World) -> None:
    owner = new_account()  # no gas money: the relayer pays
    relayer = world.registry(world.signer())
    request, signature = signed_request(world, owner, b"metadata")
    assert relayer.verify_listing(request, signature) == owner.address
    dataset_id, result = relayer.list_dataset_for(request, signature)
    world.record("listDatasetFor", result)
    listing = relayer.listing(dataset_id)
    assert (listing.owner, listing.access_mode, listing.price) == (
        owner.address,
        AccessMode.DOWNLOADABLE,
        3 * TOKEN + 7,
    )
    assert (listing.metadata_hash, listing.metadata_cid, listing.active) == (
        keccak(b"metadata"),
        request.metadata_cid,
        True,
    )
    assert listing.listed_at == world.backend.w3.eth.get_block(result.block_number)["timestamp"]
    (event,) = relayer.dataset_listed_events(owner=owner.address)
    assert (event.dataset_id, event.metadata_hash, event.metadata_cid) == (
        dataset_id,
        keccak(b"metadata"),
        request.metadata_cid,
    )
    assert (event.access_mode, event.price, event.meta.tx_hash) == (
        AccessMode.DOWNLOADABLE,
        3 * TOKEN + 7,
        result.tx_hash,
    )
    assert relayer.dataset_count() == dataset_id == 1
    assert relayer.nonce(owner.address) == 1
    # the client's hashes are the contract's
    assert relayer.list_dataset_typehash() == list_dataset_typehash()
    typed = listing_typed_data(world.backend.chain_id, relayer.address, request)
    assert relayer.domain_separator() == encode_typed_data(full_message=typed).header


def test_a_replayed_or_expired_signature_fails_with_its_named_error(world: World) -> None:
    owner = new_account()
    relayer = world.registry(world.signer())
    request, signature = signed_request(world, owner, b"metadata")
    relayer.list_dataset_for(request, signature)
    # the nonce moved on: the same signature now recovers another account
    err = revert(relayer.list_dataset_for, request, signature)
    assert err.error_name == "RegistryInvalidSigner"
    assert err.error_args["owner"] == owner.address
    assert err.error_args["signer"] != owner.address
    with pytest.raises(SignatureError, match="nonce 0 is not the owner's current nonce 1"):
        relayer.verify_listing(request, signature)
    # a tampered price is another message
    other, signature = signed_request(world, owner, b"other")
    err = revert(relayer.list_dataset_for, replace(other, price=other.price + 1), signature)
    assert err.error_name == "RegistryInvalidSigner"
    expired, signature = signed_request(world, owner, b"late", deadline=world.now() - 1)
    err = revert(relayer.list_dataset_for, expired, signature)
    assert (err.error_name, err.error_args) == (
        "RegistryExpiredSignature",
        {"deadline": expired.deadline},
    )
    with pytest.raises(SignatureError, match="deadline"):
        relayer.verify_listing(expired, signature)


def test_a_cancelled_nonce_voids_an_unrelayed_signature(world: World) -> None:
    owner_account = new_account()
    owner = world.registry(world.signer(owner_account))
    relayer = world.registry(world.signer())
    request, signature = signed_request(world, owner_account, b"metadata")
    nonce, result = owner.use_nonce()
    world.record("useNonce", result)
    assert nonce == request.nonce == 0
    (event,) = relayer.nonce_used_events(owner_account.address)
    assert (event.owner, event.nonce, event.meta.block) == (
        owner_account.address,
        0,
        result.block_number,
    )
    with pytest.raises(SignatureError, match="current nonce 1"):
        relayer.verify_listing(request, signature)
    err = revert(relayer.list_dataset_for, request, signature)
    assert err.error_name == "RegistryInvalidSigner"
    assert err.error_args["owner"] == owner_account.address
    # a signature for the new nonce goes through
    request, signature = signed_request(world, owner_account, b"metadata")
    dataset_id, _ = relayer.list_dataset_for(request, signature)
    assert relayer.listing(dataset_id).owner == owner_account.address


def test_a_squatters_copy_does_not_block_the_owner(world: World) -> None:
    owner, squatter_signer = new_account(), world.signer()
    squatter = world.registry(squatter_signer)
    relayer = world.registry(world.signer())
    request, signature = signed_request(world, owner, b"metadata")
    # the squatter saw the pending hash and lists it first, under its own name
    squatted, result = squatter.list_dataset(request.metadata_hash, "bafkreicopy")
    world.record("listDataset", result)
    dataset_id, _ = relayer.list_dataset_for(request, signature)
    assert dataset_id != squatted
    assert squatter.dataset_id_of(squatter_signer.address, request.metadata_hash) == squatted
    assert squatter.dataset_id_of(owner.address, request.metadata_hash) == dataset_id
    listed = relayer.dataset_listed_events(metadata_hash=request.metadata_hash)
    assert [(e.dataset_id, e.access_mode) for e in listed] == [
        (squatted, AccessMode.FEDERATED_ONLY),
        (dataset_id, AccessMode.DOWNLOADABLE),
    ]
    # an owner lists a hash once
    again, signature = signed_request(world, owner, b"metadata")
    err = revert(relayer.list_dataset_for, again, signature)
    assert (err.error_name, err.error_args) == (
        "RegistryDuplicateListing",
        {"owner": owner.address, "metadataHash": request.metadata_hash, "datasetId": dataset_id},
    )


def test_a_dataset_sale_credits_owner_and_fee_recipient_exactly(world: World) -> None:
    seller = world.signer()
    owner = world.registry(seller)
    price = 1_234_567_891_234_567_891
    dataset_id, _ = owner.list_dataset(
        keccak(b"data"), "bafkreidata", AccessMode.DOWNLOADABLE, price
    )
    buyer = world.paid_buyer(price, world.registry_address)
    sale, result = world.registry(buyer).buy_dataset(dataset_id, max_price=price)
    world.record("buyDataset", result)
    fee, owner_amount = dataset_sale_split(price, FEE_BPS)
    assert (sale.dataset_id, sale.buyer, sale.paid, sale.fee, sale.owner_amount) == (
        dataset_id,
        buyer.address,
        price,
        fee,
        owner_amount,
    )
    assert owner.dataset_bought_events(buyer=buyer.address) == [sale]
    assert owner.has_licence(dataset_id, buyer.address)
    assert owner.licence_of(dataset_id, buyer.address) == Licence(result.block_number, price)
    assert owner.licence_of(dataset_id, seller.address) is None
    assert owner.withdrawable(seller.address) == owner_amount
    assert owner.withdrawable(world.fee_recipient.address) == fee
    err = revert(world.registry(buyer).buy_dataset, dataset_id, price)
    assert (err.error_name, err.error_args) == (
        "RegistryAlreadyLicensed",
        {"datasetId": dataset_id, "buyer": buyer.address},
    )
    # pull payments: each takes its balance, nothing is left behind
    paid, result = owner.withdraw()
    world.record("registry.withdraw", result)
    fee_paid, _ = world.registry(world.fee_recipient).withdraw()
    assert (paid, fee_paid) == (owner_amount, fee)
    token = world.token()
    assert token.balance_of(seller.address) == owner_amount
    assert token.balance_of(world.fee_recipient.address) == fee
    assert token.balance_of(world.registry_address) == 0
    assert [(e.account, e.amount) for e in owner.withdrawn_events()] == [
        (seller.address, owner_amount),
        (world.fee_recipient.address, fee),
    ]
    err = revert(owner.withdraw)
    assert err.error_name == "RegistryNothingToWithdraw"


def test_a_listings_life_and_a_price_raised_above_the_buyers_limit(world: World) -> None:
    seller = world.signer()
    owner = world.registry(seller)
    dataset_id, _ = owner.list_dataset(keccak(b"data"), "bafkreidata")
    buyer = world.paid_buyer(10 * TOKEN, world.registry_address)
    as_buyer = world.registry(buyer)
    err = revert(as_buyer.buy_dataset, dataset_id, 10 * TOKEN)
    assert (err.error_name, err.error_args) == (
        "RegistryNotDownloadable",
        {"datasetId": dataset_id},
    )
    err = revert(owner.update_listing, dataset_id, AccessMode.FEDERATED_ONLY, 1)
    assert (err.error_name, err.error_args) == (
        "RegistryInvalidPrice",
        {"accessMode": AccessMode.FEDERATED_ONLY, "price": 1},
    )
    world.record("updateListing", owner.update_listing(dataset_id, AccessMode.DOWNLOADABLE, TOKEN))
    # the buyer looked at 1 token; the owner raises the price before the purchase lands
    owner.update_listing(dataset_id, AccessMode.DOWNLOADABLE, 2 * TOKEN)
    err = revert(as_buyer.buy_dataset, dataset_id, max_price=TOKEN)
    assert (err.error_name, err.error_args) == (
        "RegistryPriceAboveMax",
        {"datasetId": dataset_id, "price": 2 * TOKEN, "maxPrice": TOKEN},
    )
    assert world.token().balance_of(buyer.address) == 10 * TOKEN
    err = revert(world.registry(buyer).delist, dataset_id)
    assert (err.error_name, err.error_args) == (
        "RegistryNotOwner",
        {"datasetId": dataset_id, "caller": buyer.address},
    )
    world.record("delistDataset", owner.delist(dataset_id))
    assert not owner.listing(dataset_id).active
    err = revert(as_buyer.buy_dataset, dataset_id, 2 * TOKEN)
    assert (err.error_name, err.error_args) == (
        "RegistryDatasetInactive",
        {"datasetId": dataset_id},
    )
    assert revert(owner.delist, dataset_id).error_name == "RegistryAlreadyDelisted"
    world.record("relistDataset", owner.relist(dataset_id))
    assert revert(owner.relist, dataset_id).error_name == "RegistryNotDelisted"
    as_buyer.buy_dataset(dataset_id, 2 * TOKEN)
    assert [(e.access_mode, e.price) for e in owner.listing_updated_events(dataset_id)] == [
        (AccessMode.DOWNLOADABLE, TOKEN),
        (AccessMode.DOWNLOADABLE, 2 * TOKEN),
    ]
    changes = owner.listing_status_events(dataset_id=dataset_id)
    assert [(e.owner, e.active) for e in changes] == [
        (seller.address, False),
        (seller.address, True),
    ]
    assert revert(owner.listing, 99).error_args == {"datasetId": 99}


def listed_model(world: World, task_id: int, price: int, sponsor_bps: int = 1_500) -> Any:
    """A final task with three contributors, its model listed; returns the parties and the id."""
    sponsor = world.signer()
    contributors = [world.signer() for _ in range(3)]
    shares = dict(zip([c.address for c in contributors], [3_333, 3_333, 3_334], strict=True))
    world.complete_task(task_id, sponsor.address, shares)
    lister = world.market(sponsor)
    model_id, result = lister.list_model(task_id, price, sponsor_bps, "bafkreicard", keccak(b"c"))
    world.record("listModel", result)
    return sponsor, contributors, shares, model_id


def test_a_model_sale_splits_as_the_reference_and_claims_sum_to_the_contributors_part(
    world: World,
) -> None:
    prices = [TOKEN + 123_457, 2 * TOKEN + 9_999, 7]
    sponsor, contributors, shares, model_id = listed_model(world, 7, prices[0])
    lister, market = world.market(sponsor), world.market()
    (listed,) = market.model_listed_events(task_id=7)
    assert (listed.model_id, listed.lister, listed.price, listed.sponsor_bps) == (
        model_id,
        sponsor.address,
        prices[0],
        1_500,
    )
    assert (listed.card_cid, listed.card_hash) == ("bafkreicard", keccak(b"c"))
    splits, proceeds, claimed, claims = [], 0, dict.fromkeys(shares, 0), 0
    for n, price in enumerate(prices):
        if n:
            lister.set_price(model_id, price)
        buyer = world.paid_buyer(price, world.market_address)
        sale, result = world.market(buyer).buy(model_id, max_price=price)
        world.record("buy", result)
        split = sale_split(price, FEE_BPS, 1_500)
        assert (sale.paid, sale.fee, sale.sponsor_amount, sale.contributors_amount) == (
            split.paid,
            split.fee,
            split.sponsor_amount,
            split.contributors_amount,
        )
        assert market.licence_of(model_id, buyer.address) == Licence(result.block_number, price)
        splits.append(split)
        proceeds += split.contributors_amount
        first = contributors[0]  # claims after every sale; the others once at the end
        owed = contributor_entitlement(proceeds, shares[first.address], claimed[first.address])
        assert market.claimable_proceeds(model_id, first.address) == owed
        if not owed:  # a sale of 7 wei leaves the contributors nothing
            err = revert(world.market(first).claim_proceeds, model_id)
            assert err.error_name == "MarketNothingToClaim"
            continue
        amount, result = world.market(first).claim_proceeds(model_id)
        world.record("claimProceeds", result)
        assert amount == owed
        claimed[first.address] += amount
        claims += 1
    for contributor in contributors[1:]:
        claimed[contributor.address], _ = world.market(contributor).claim_proceeds(model_id)
    model = market.model(model_id)
    assert model.proceeds == proceeds == sum(s.contributors_amount for s in splits)
    assert model.claimed == sum(claimed.values()) == proceeds
    assert all(market.claimed_proceeds(model_id, a) == c for a, c in claimed.items())
    events = market.proceeds_claimed_events(model_id=model_id)
    assert sum(e.amount for e in events) == proceeds and len(events) == claims + 2
    assert [e.paid for e in market.model_bought_events(model_id=model_id)] == prices
    err = revert(world.market(contributors[1]).claim_proceeds, model_id)
    assert err.error_name == "MarketNothingToClaim"
    sponsor_paid, _ = lister.withdraw()
    fees_paid, _ = world.market(world.fee_recipient).withdraw()
    assert sponsor_paid == sum(s.sponsor_amount for s in splits)
    assert fees_paid == sum(s.fee for s in splits)
    assert world.token().balance_of(world.market_address) == 0


def test_a_second_purchase_a_raised_price_and_an_inactive_model_revert(world: World) -> None:
    sponsor, contributors, _, model_id = listed_model(world, 3, TOKEN)
    lister = world.market(sponsor)
    buyer = world.paid_buyer(10 * TOKEN, world.market_address)
    world.market(buyer).buy(model_id, TOKEN)
    err = revert(world.market(buyer).buy, model_id, TOKEN)
    assert (err.error_name, err.error_args) == (
        "MarketAlreadyLicensed",
        {"modelId": model_id, "buyer": buyer.address},
    )
    other = world.paid_buyer(10 * TOKEN, world.market_address)
    world.record("setPrice", lister.set_price(model_id, 2 * TOKEN))
    err = revert(world.market(other).buy, model_id, max_price=TOKEN)
    assert (err.error_name, err.error_args) == (
        "MarketPriceAboveMax",
        {"modelId": model_id, "price": 2 * TOKEN, "maxPrice": TOKEN},
    )
    world.record("setActive", lister.set_active(model_id, False))
    err = revert(world.market(other).buy, model_id, 2 * TOKEN)
    assert (err.error_name, err.error_args) == ("MarketModelInactive", {"modelId": model_id})
    err = revert(world.market(other).set_active, model_id, True)
    assert (err.error_name, err.error_args) == (
        "MarketNotLister",
        {"modelId": model_id, "caller": other.address},
    )
    lister.set_active(model_id, True)
    err = revert(world.market(other).claim_proceeds, model_id)
    assert err.error_name == "MarketNotContributor"
    market = world.market()
    assert [e.price for e in market.model_price_changed_events(model_id)] == [2 * TOKEN]
    assert [e.active for e in market.model_active_changed_events(model_id)] == [False, True]
    assert market.model_of(3) == model_id and market.model_count() == 1
    assert revert(market.model, 2).error_args == {"modelId": 2}


def test_only_the_sponsor_of_a_final_task_lists_its_model_once(world: World) -> None:
    sponsor, _, _, model_id = listed_model(world, 1, TOKEN)
    lister = world.market(sponsor)
    card = ("bafkreicard", keccak(b"card"))
    err = revert(lister.list_model, 1, TOKEN, 0, *card)
    assert (err.error_name, err.error_args) == (
        "MarketTaskAlreadyListed",
        {"taskId": 1, "modelId": model_id},
    )
    world.admin.transact(world.fed_task.functions.setSponsor(2, sponsor.address))
    err = revert(lister.list_model, 2, TOKEN, 0, *card)
    assert (err.error_name, err.error_args) == ("MarketTaskNotFinal", {"taskId": 2})
    world.admin.transact(world.fed_task.functions.setFinal(2, True))
    err = revert(world.market(world.admin).list_model, 2, TOKEN, 0, *card)
    assert (err.error_name, err.error_args) == (
        "MarketNotSponsor",
        {"taskId": 2, "caller": world.admin.address},
    )
    err = revert(lister.list_model, 2, TOKEN, MAX_SPONSOR_BPS + 1, *card)
    assert (err.error_name, err.error_args) == (
        "MarketSponsorBpsTooHigh",
        {"sponsorBps": MAX_SPONSOR_BPS + 1, "maxSponsorBps": MAX_SPONSOR_BPS},
    )
    assert revert(lister.list_model, 2, TOKEN, 0, "c", bytes(32)).error_name == "MarketZeroHash"
    assert lister.model_of(2) == 0


def test_fees_pauses_and_roles_belong_to_the_admin(world: World) -> None:
    registry, market = world.registry(world.admin), world.market(world.admin)
    outsider = world.signer()
    assert (registry.max_fee_bps(), market.max_fee_bps()) == (MAX_FEE_BPS, MAX_FEE_BPS)
    assert market.max_sponsor_bps() == MAX_SPONSOR_BPS
    assert registry.token_address() == market.token_address() == world.token_address
    assert market.fed_task_address() == world.fed_task.address
    for client, prefix in ((registry, "Registry"), (market, "Market")):
        err = revert(client.set_fee_bps, MAX_FEE_BPS + 1)
        assert (err.error_name, err.error_args) == (
            f"{prefix}FeeTooHigh",
            {"feeBps": MAX_FEE_BPS + 1, "maxFeeBps": MAX_FEE_BPS},
        )
        err = revert(client.as_signer(outsider).set_fee_bps, 1)
        assert (err.error_name, err.error_args) == (
            "AccessControlUnauthorizedAccount",
            {"account": outsider.address, "neededRole": FEE_ROLE},
        )
        world.record("setFeeBps", client.set_fee_bps(500))
        world.record("setFeeRecipient", client.set_fee_recipient(outsider.address))
        assert client.fee_config().fee_bps == 500
        assert client.fee_config().fee_recipient == outsider.address
        assert [e.fee_bps for e in client.fee_changed_events()] == [FEE_BPS, 500]
        assert [e.fee_recipient for e in client.fee_recipient_changed_events()] == [
            world.fee_recipient.address,
            outsider.address,
        ]
        assert client.role_admin(PAUSER_ROLE) == DEFAULT_ADMIN_ROLE
        assert client.has_role(PAUSER_ROLE, world.admin.address)
        client.grant_role(PAUSER_ROLE, outsider.address)
        assert client.has_role(PAUSER_ROLE, outsider.address)
        client.revoke_role(PAUSER_ROLE, outsider.address)
        granted = [(e.role, e.account, e.granted) for e in client.role_events(role=PAUSER_ROLE)]
        assert granted == [
            (PAUSER_ROLE, world.admin.address, True),
            (PAUSER_ROLE, outsider.address, True),
            (PAUSER_ROLE, outsider.address, False),
        ]


def test_a_pause_stops_sales_never_payouts(world: World) -> None:
    seller = world.signer()
    dataset_id, _ = world.registry(seller).list_dataset(
        keccak(b"data"), "bafkreidata", AccessMode.DOWNLOADABLE, TOKEN
    )
    sponsor, contributors, _, model_id = listed_model(world, 5, TOKEN)
    buyer = world.paid_buyer(2 * TOKEN, world.registry_address)
    world.token(buyer).approve(world.market_address, TOKEN)
    world.registry(buyer).buy_dataset(dataset_id, TOKEN)
    world.market(buyer).buy(model_id, TOKEN)
    late = world.paid_buyer(2 * TOKEN, world.registry_address)
    world.token(late).approve(world.market_address, TOKEN)
    world.record("pause", world.registry(world.admin).pause())
    world.market(world.admin).pause()
    assert world.registry().paused() and world.market().paused()
    assert revert(world.registry(late).buy_dataset, dataset_id, TOKEN).error_name == "EnforcedPause"
    assert revert(world.market(late).buy, model_id, TOKEN).error_name == "EnforcedPause"
    err = revert(world.registry(seller).list_dataset, keccak(b"new"), "bafkreinew")
    assert err.error_name == "EnforcedPause"
    # what pays out goes on
    world.registry(seller).withdraw()
    world.market(sponsor).withdraw()
    world.market(contributors[0]).claim_proceeds(model_id)
    err = revert(world.market(world.admin).as_signer(late).unpause)
    assert err.error_args == {"account": late.address, "neededRole": PAUSER_ROLE}
    world.registry(world.admin).unpause()
    world.registry(late).buy_dataset(dataset_id, TOKEN)
    events = world.registry().pause_events()
    assert [(e.paused, e.account) for e in events] == [
        (True, world.admin.address),
        (False, world.admin.address),
    ]


def test_minting_is_capped_and_role_gated(world: World) -> None:
    admin, token = world.token(world.admin), world.token()
    minter = world.signer()
    assert (token.name(), token.symbol(), token.decimals()) == ("FedMarket Token", "FMT", 18)
    assert token.cap() == CAP and token.total_supply() == 0
    assert token.is_minter(world.admin.address)
    assert token.has_role(DEFAULT_ADMIN_ROLE, world.admin.address)
    err = revert(world.token(minter).mint, minter.address, 1)
    assert (err.error_name, err.error_args) == (
        "AccessControlUnauthorizedAccount",
        {"account": minter.address, "neededRole": MINTER_ROLE},
    )
    world.record("grantRole", admin.grant_role(MINTER_ROLE, minter.address))
    world.record("mint", world.token(minter).mint(minter.address, CAP - 5))
    assert token.mintable() == 5
    err = revert(world.token(minter).mint, minter.address, 6)
    assert (err.error_name, err.error_args) == (
        "ERC20ExceededCap",
        {"increasedSupply": CAP + 1, "cap": CAP},
    )
    world.token(minter).mint(world.admin.address, 5)
    assert token.total_supply() == CAP
    world.record("revokeRole", admin.revoke_role(MINTER_ROLE, minter.address))
    assert not token.is_minter(minter.address)
    assert revert(world.token(minter).mint, minter.address, 0).error_name == (
        "AccessControlUnauthorizedAccount"
    )
    world.token(world.admin).renounce_role(MINTER_ROLE)
    assert not token.is_minter(world.admin.address)
    mints = token.transfer_events(sender="0x" + "00" * 20)
    assert [(e.recipient, e.value) for e in mints] == [
        (minter.address, CAP - 5),
        (world.admin.address, 5),
    ]
    assert [(e.account, e.granted) for e in token.role_events(role=MINTER_ROLE)] == [
        (world.admin.address, True),
        (minter.address, True),
        (minter.address, False),
        (world.admin.address, False),
    ]


def test_a_permit_approves_without_the_holders_gas(world: World) -> None:
    holder = new_account()  # holds tokens, no gas money
    world.token(world.admin).mint(holder.address, TOKEN)
    spender = world.signer()
    token = world.token(spender)
    request = PermitRequest(
        owner=holder.address,
        spender=spender.address,
        value=TOKEN,
        nonce=token.nonce(holder.address),
        deadline=world.now() + 3600,
    )
    signature = sign_permit(holder, world.backend.chain_id, token.address, request)
    typed = permit_typed_data(world.backend.chain_id, token.address, request)
    assert token.domain_separator() == encode_typed_data(full_message=typed).header
    world.record("permit", token.permit(request, signature))
    assert token.allowance(holder.address, spender.address) == TOKEN
    assert token.nonce(holder.address) == 1
    err = revert(token.permit, request, signature)
    assert err.error_name == "ERC2612InvalidSigner"
    assert err.error_args["owner"] == holder.address
    token.transfer_from(holder.address, spender.address, TOKEN)
    assert token.balance_of(spender.address) == TOKEN
    with pytest.raises(SignatureError):
        token.permit(request, signature[:64])
