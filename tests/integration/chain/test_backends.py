"""The chain client over every backend: in-process py-evm, anvil and a Hardhat node.

Each test deploys fresh contracts; reverts must surface as ChainRevertError with the same name and
arguments whichever backend raised them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest

from chain import (
    ChainBackend,
    ChainRevertError,
    DatasetRegistryClient,
    Deployment,
    FedTaskClient,
    ListingRequest,
    RewardTokenClient,
    Signer,
    TaskStatus,
    deploy,
    fund,
    new_account,
    sign_listing,
    signer_for,
)
from storage import content_hash

pytestmark = pytest.mark.slow

POOL = 10**21


@dataclass
class World:
    backend: ChainBackend
    deployment: Deployment
    owner: Signer
    sponsor: Signer
    coordinator: Signer
    parties: list[Signer]

    def fed_task(self, signer: Signer | None = None) -> FedTaskClient:
        client = FedTaskClient(
            self.backend, self.deployment.fed_task, from_block=self.deployment.block
        )
        return client.as_signer(signer) if signer else client

    def token(self, signer: Signer | None = None) -> RewardTokenClient:
        client = RewardTokenClient(self.backend, self.deployment.token)
        return client.as_signer(signer) if signer else client


@pytest.fixture
def world(backend: ChainBackend) -> World:
    owner = signer_for(backend, backend.faucet_account())
    deployment = deploy(owner)
    signers = []
    for _ in range(5):
        account = new_account()
        fund(backend, account.address, 10**19)
        signers.append(signer_for(backend, account))
    sponsor, coordinator, *parties = signers
    RewardTokenClient(backend, deployment.token, owner).mint(sponsor.address, POOL)
    return World(backend, deployment, owner, sponsor, coordinator, parties)


def create_task(world: World, rounds: int = 2) -> int:
    world.token(world.sponsor).approve(world.deployment.fed_task, POOL)
    task_id, _ = world.fed_task(world.sponsor).create_task(
        spec_cid="bafkreispec",
        spec_hash=content_hash(b"spec"),
        coordinator=world.coordinator.address,
        pool=POOL,
        total_rounds=rounds,
        max_participants=3,
    )
    return task_id


def test_full_task_pays_by_score_and_balances_add_up(world: World) -> None:
    task_id = create_task(world)
    for p in world.parties:
        world.fed_task(p).join(task_id)
    coord = world.fed_task(world.coordinator)
    for round_ in (1, 2):
        coord.open_round(task_id, round_, f"bafkreimodel{round_}", content_hash(b"m%d" % round_))
        for i, p in enumerate(world.parties[:2]):
            world.fed_task(p).submit_update(
                task_id, round_, content_hash(b"u%d%d" % (round_, i)), f"bafkreiu{i}", 100 + i
            )
        coord.finalize_round(
            task_id,
            round_,
            model_cid=f"bafkreinew{round_}",
            model_hash=content_hash(b"n%d" % round_),
            evidence_cid="bafkreievidence",
            scores=[1, 2, 0],
            budget=POOL // 2,
        )
    info = world.fed_task().task(task_id)
    assert info.status is TaskStatus.COMPLETED
    assert info.escrow == 0
    assert info.model_cid == "bafkreinew2"
    anchors = world.fed_task().update_anchors(task_id, 1)
    assert [a.samples for a in anchors] == [100, 101]
    assert anchors[0].update_hash == content_hash(b"u10")
    rewards = world.fed_task().rewards(task_id)
    assert len(rewards) == 6
    per_round = POOL // 2
    assert [r.amount for r in rewards[:3]] == [per_round // 3, per_round - per_round // 3, 0]
    rounds = world.fed_task().finalized_rounds(task_id)
    assert [r.paid for r in rounds] == [per_round, per_round]
    paid = 0
    for p in world.parties[:2]:
        owed = world.fed_task().owed(p.address)
        world.fed_task(p).claim_rewards()
        assert world.token().balance_of(p.address) == owed
        paid += owed
    assert paid == POOL
    assert world.token().balance_of(world.deployment.fed_task) == 0


REVERTS = [
    ("TaskNotParticipant", "outsider submits"),
    ("TaskRoundNotOpen", "submit for a round not open"),
    ("TaskUpdateAlreadySubmitted", "submit twice"),
    ("TaskScoresLengthMismatch", "finalize with too few scores"),
    ("TaskEscrowExceeded", "finalize spending more than the escrow"),
    ("TaskRoundAlreadyFinalized", "finalize twice"),
]


def test_reverts_surface_with_name_and_arguments(world: World) -> None:
    task_id = create_task(world, rounds=3)
    a, b, outsider = world.parties
    world.fed_task(a).join(task_id)
    world.fed_task(b).join(task_id)
    coord = world.fed_task(world.coordinator)
    coord.open_round(task_id, 1, "bafkreim1", content_hash(b"m1"))

    with pytest.raises(ChainRevertError) as err:
        world.fed_task(outsider).submit_update(task_id, 1, content_hash(b"x"), "bafkreix", 1)
    assert err.value.error_name == "TaskNotParticipant"
    assert err.value.error_args == {"taskId": task_id, "caller": outsider.address}

    with pytest.raises(ChainRevertError) as err:
        world.fed_task(a).submit_update(task_id, 2, content_hash(b"x"), "bafkreix", 1)
    assert err.value.error_name == "TaskRoundNotOpen"
    assert err.value.error_args == {"taskId": task_id, "round": 2}

    world.fed_task(a).submit_update(task_id, 1, content_hash(b"x"), "bafkreix", 1)
    with pytest.raises(ChainRevertError) as err:
        world.fed_task(a).submit_update(task_id, 1, content_hash(b"x"), "bafkreix", 1)
    assert err.value.error_name == "TaskUpdateAlreadySubmitted"
    assert err.value.error_args["participant"] == a.address

    kwargs = {"model_cid": "bafkreim2", "model_hash": content_hash(b"m2"), "evidence_cid": "e"}
    with pytest.raises(ChainRevertError) as err:
        coord.finalize_round(task_id, 1, scores=[1], budget=1, **kwargs)
    assert err.value.error_name == "TaskScoresLengthMismatch"
    assert err.value.error_args == {"taskId": task_id, "expected": 2, "given": 1}

    with pytest.raises(ChainRevertError) as err:
        coord.finalize_round(task_id, 1, scores=[1, 0], budget=POOL + 1, **kwargs)
    assert err.value.error_name == "TaskEscrowExceeded"
    assert err.value.error_args["budget"] == POOL + 1

    coord.finalize_round(task_id, 1, scores=[1, 0], budget=10, **kwargs)
    with pytest.raises(ChainRevertError) as err:
        coord.finalize_round(task_id, 1, scores=[1, 0], budget=10, **kwargs)
    assert err.value.error_name == "TaskRoundAlreadyFinalized"
    assert str(err.value) == f"TaskRoundAlreadyFinalized(taskId={task_id}, round=1)"


def test_view_reverts_and_token_errors_decode(world: World) -> None:
    with pytest.raises(ChainRevertError) as err:
        world.fed_task().task(999)
    assert err.value.error_name == "TaskUnknown"
    # no approval: the token's own custom error bubbles up through FedTask
    with pytest.raises(ChainRevertError) as err:
        world.fed_task(world.sponsor).create_task(
            spec_cid="s",
            spec_hash=content_hash(b"s"),
            coordinator=world.coordinator.address,
            pool=5,
            total_rounds=1,
            max_participants=1,
        )
    assert err.value.error_name == "ERC20InsufficientAllowance"
    assert err.value.error_args["needed"] == 5


def test_signed_listing_is_recorded_for_the_owner(world: World) -> None:
    owner = new_account()
    registry = DatasetRegistryClient(world.backend, world.deployment.registry, world.owner)
    request = ListingRequest(
        owner=owner.address,
        metadata_hash=content_hash(b"metadata"),
        metadata_cid="bafkreimeta",
        nonce=registry.nonce(owner.address),
        deadline=int(time.time()) + 3600,
    )
    signature = sign_listing(owner, world.backend.chain_id, registry.address, request)
    dataset_id, _ = registry.list_dataset_for(request, signature)
    listing = registry.listing(dataset_id)
    assert listing.owner == owner.address
    assert listing.metadata_cid == "bafkreimeta"
    assert registry.nonce(owner.address) == 1
    # replaying the same signature fails: the nonce moved on
    with pytest.raises(ChainRevertError) as err:
        registry.list_dataset_for(request, signature)
    assert err.value.error_name in ("RegistryDuplicateListing", "RegistryInvalidSigner")
    forged = sign_listing(new_account(), world.backend.chain_id, registry.address, request)
    other = ListingRequest(**{**request.__dict__, "metadata_hash": content_hash(b"other")})
    with pytest.raises(ChainRevertError) as err:
        registry.list_dataset_for(other, forged)
    assert err.value.error_name == "RegistryInvalidSigner"
    assert err.value.error_args["owner"] == owner.address


def test_deployment_file_round_trip_and_check(world: World, tmp_path) -> None:
    path = world.deployment.save(tmp_path / "deployment.json")
    loaded = Deployment.load(path)
    assert loaded == world.deployment
    loaded.check(world.backend)
