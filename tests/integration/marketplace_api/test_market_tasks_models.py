"""``/tasks`` and ``/models`` over FedTask v2 tasks driven on an in-process chain.

The chain is shared by the module (time only moves forward on it), the database rolled back per
test; every test that lists a model on the ModelMarket drives its own task (one listing per task).
"""

from __future__ import annotations

from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient

from chain import ChainRevertError
from marketplace_api.listing import sign_model_listing
from marketplace_api.schemas import ModelBase
from storage import canonical_json, compute_cid, content_hash
from tests.integration.marketplace_api.market_world import (
    STAKE,
    TOKEN,
    ChainWorld,
    DrivenTask,
    drive_task,
    list_on_market,
    model_card,
    open_round,
    start_task,
)

pytestmark = pytest.mark.slow

SCORES = [[10**18, 2 * 10**18, 3 * 10**18], [5 * 10**17, 0, 15 * 10**17]]


@pytest.fixture(scope="module")
def done(world: ChainWorld) -> DrivenTask:
    """A final two-round task with three participants; two rewards claimed."""
    return drive_task(
        world, scores=SCORES, submit=[[True] * 3, [True, False, True]], claims=[(0, 1), (2, 2)]
    )


@pytest.fixture(scope="module")
def training(world: ChainWorld) -> DrivenTask:
    """A task with round 1 finalised and round 2 open."""
    task = drive_task(world, scores=[[1, 1]], n_participants=2, total_rounds=3)
    cid, digest = open_round(world, task, 2)
    task.rounds.append({"round": 2, "opened_model_cid": cid, "opened_model_hash": digest})
    return task


def listing_body(
    account: LocalAccount,
    task: DrivenTask,
    *,
    card_cid: str | None = None,
    price_wei: str | None = None,
    claim: str | None = None,
    market: str | None = None,
) -> dict[str, Any]:
    fields = ModelBase.model_validate(
        {
            "task_id": task.task_id,
            "name": "Diagnosis MLP",
            "description": "FedAvg across three clinics.",
            "price_wei": price_wei,
            "card_cid": card_cid or task.card_cid,
        }
    )
    signature = sign_model_listing(
        account,
        fields,
        chain_id=task.chain_id,
        fed_task=task.fed_task,
        market=market or task.market,
    )
    return {**fields.message_fields(), "signer": claim or account.address, "signature": signature}


def locs(response: Any) -> list[list[Any]]:
    return [e["loc"] for e in response.json()["detail"]]


# ---- tasks ---------------------------------------------------------------------------------------
def test_final_task_reports_rounds_rewards_stakes_and_shares(
    api: TestClient, world: ChainWorld, done: DrivenTask
) -> None:
    response = api.get(f"/tasks/{done.task_id}")
    assert response.status_code == 200, response.text
    task = response.json()
    addresses = done.addresses
    assert task["task_id"] == done.task_id
    assert (task["status"], task["final"]) == ("completed", True)
    assert (task["sponsor"], task["coordinator"]) == (
        done.sponsor.address,
        done.coordinator.address,
    )
    assert task["participants"] == addresses
    assert task["pool_wei"] == str(done.pool)
    assert task["unallocated_wei"] == "0"  # the last round's cap is all that was left
    assert (task["total_rounds"], task["current_round"], task["round_open"]) == (2, 2, False)
    assert task["open_by"] is None and task["ended_at"] >= task["created_at"]
    assert task["schedule"]["challenge_period"] == 600
    assert (task["quorum"], task["slash_bps"], task["permissioned"]) == (1, 1_000, False)
    assert task["stakes"] == {a: str(STAKE) for a in [*addresses, done.coordinator.address]}
    assert (task["participant_stake_wei"], task["coordinator_staked"]) == (str(STAKE), True)
    assert (task["model_cid"], task["model_hash"]) == (done.model_cid, done.model_hash)
    assert task["shares_bps"] == done.shares and sum(done.shares) == 10_000
    assert task["allocated"] == {a: str(done.allocated[a]) for a in addresses}
    assert task["claimed"] == {a: str(done.claimed.get(a, 0)) for a in addresses}
    assert len(task["rounds"]) == 2
    for got, want in zip(task["rounds"], done.rounds, strict=True):
        number = want["round"]
        assert got["round"] == number
        assert (got["finalized"], got["claimable"], got["disputed"]) == (True, True, False)
        assert got["opened_model_cid"] == want["opened_model_cid"]
        assert got["opened_model_hash"] == want["opened_model_hash"]
        assert (got["model_cid"], got["evidence_cid"]) == (want["model_cid"], want["evidence_cid"])
        assert got["budget_wei"] == str(want["budget"])
        assert got["rewards_root"] == "0x" + bytes(want["tree"].root).hex()
        assert got["evidence_status"] == "verified"
        assert got["reveal_start"] < got["reveal_deadline"] < got["finalize_deadline"]
        assert got["claimable_at"] > got["reveal_deadline"]
        assert got["flagged"] == []
        assert got["rewards"] == [
            {
                "participant": a,
                "allocated_wei": str(amount),
                "claimed_wei": str(amount if (i, number) in ((0, 1), (2, 2)) else 0),
            }
            for i, (a, amount) in enumerate(zip(addresses, want["amounts"], strict=True))
        ]
        # all submitters but the last came in the batch; the last committed directly
        submitters = [u["participant"].address for u in want["updates"]]
        assert [b["count"] for b in got["batches"]] == [len(submitters) - 1]
        assert [c["participant"] for c in got["direct_commitments"]] == submitters[-1:]
        assert got["commitments"] == got["accepted"] == len(submitters)
    claimed = task["rounds"][0]["claimed_wei"]
    assert claimed == str(done.rounds[0]["amounts"][0])
    # every wei amount is a decimal string (they exceed 2^53)
    assert isinstance(task["rounds"][0]["rewards"][2]["allocated_wei"], str)


def test_task_in_training_shows_the_open_round(api: TestClient, training: DrivenTask) -> None:
    task = api.get(f"/tasks/{training.task_id}").json()
    assert (task["status"], task["final"]) == ("training", False)
    assert (task["current_round"], task["round_open"]) == (2, True)
    assert task["open_by"] is None and task["ended_at"] is None
    assert task["shares_bps"] == []
    assert [r["finalized"] for r in task["rounds"]] == [True, False]
    open_round_ = task["rounds"][1]
    assert open_round_["opened_model_cid"] == training.rounds[1]["opened_model_cid"]
    # round 2 opens from the model round 1 finalised
    assert open_round_["opened_model_cid"] == task["rounds"][0]["model_cid"]
    assert open_round_["model_cid"] is None and open_round_["evidence_cid"] is None
    assert open_round_["budget_wei"] is None and open_round_["claimable_at"] is None
    assert open_round_["evidence_status"] == "not_finalized"
    assert [r["allocated_wei"] for r in open_round_["rewards"]] == [None, None]
    assert open_round_["batches"] == [] and open_round_["direct_commitments"] == []
    assert open_round_["commit_deadline"] > 0
    assert task["allocated"] == {a: str(training.allocated[a]) for a in training.addresses}


def test_evidence_that_does_not_match_the_chain_is_not_shown(
    api: TestClient, world: ChainWorld
) -> None:
    """A coordinator publishes other amounts than it paid, or nothing: the chain's figures stand."""
    task = drive_task(
        world,
        scores=[[1, 3], [2, 2]],
        n_participants=2,
        evidence=["tampered", "missing"],
        claims=[(1, 1)],
    )
    view = api.get(f"/tasks/{task.task_id}").json()
    assert [r["evidence_status"] for r in view["rounds"]] == ["mismatch", "unavailable"]
    for r in view["rounds"]:
        assert [x["allocated_wei"] for x in r["rewards"]] == [None, None]
    assert view["allocated"] is None
    paid = task.claimed[task.addresses[1]]
    assert view["claimed"] == {task.addresses[0]: "0", task.addresses[1]: str(paid)}
    assert view["rounds"][0]["claimed_wei"] == str(paid)


def test_nothing_paid_means_no_rewards_and_equal_shares(api: TestClient, world: ChainWorld) -> None:
    task = drive_task(world, scores=[[0, 0, 0]])
    view = api.get(f"/tasks/{task.task_id}").json()
    assert view["rounds"][0]["evidence_status"] == "no_rewards"
    assert view["rounds"][0]["budget_wei"] == "0"
    assert view["allocated"] == dict.fromkeys(task.addresses, "0")
    assert view["shares_bps"] == [3334, 3333, 3333]
    assert view["unallocated_wei"] == str(task.pool)


def test_an_aborted_task(api: TestClient, world: ChainWorld) -> None:
    task = start_task(world, n_participants=2, pool=100 * TOKEN, total_rounds=2)
    open_round(world, task, 1)
    fed_task = world.fed_task()
    world.travel(fed_task.round(task.task_id, 1).finalize_deadline)  # the coordinator stalled
    world.fed_task(task.sponsor).abort_task(task.task_id)
    view = api.get(f"/tasks/{task.task_id}").json()
    assert (view["status"], view["final"], view["open_by"]) == ("aborted", False, None)
    assert view["ended_at"] is not None
    assert view["unallocated_wei"] == "0"
    # the pool back, plus the stalling coordinator's slashed stake (slash_bps of it)
    assert view["refunded_wei"] == str(task.pool + STAKE * 1_000 // 10_000)
    assert view["rounds"][0]["finalized"] is False


def test_a_task_in_its_last_window_is_not_final(api: TestClient, world: ChainWorld) -> None:
    task = drive_task(world, scores=[[1, 1]], n_participants=2, final=False)
    view = api.get(f"/tasks/{task.task_id}").json()
    assert (view["status"], view["final"]) == ("completed", False)
    assert view["rounds"][0]["claimable"] is False
    assert view["rounds"][0]["evidence_status"] == "verified"  # checked, claimable later


def test_unknown_task_is_404(api: TestClient) -> None:
    response = api.get("/tasks/987654")
    assert response.status_code == 404
    assert response.json() == {"detail": "task 987654 does not exist"}
    assert locs(api.get("/tasks/0")) == [["path", "task_id"]]


# ---- models --------------------------------------------------------------------------------------
def test_sponsor_describes_the_model_it_listed_on_chain(api: TestClient, world: ChainWorld) -> None:
    task = drive_task(world, scores=SCORES, submit=[[True] * 3, [True, False, True]])
    model_id = list_on_market(world, task, price=25 * TOKEN, sponsor_bps=1_500)
    response = api.post("/models", json=listing_body(task.sponsor, task, price_wei=str(25 * TOKEN)))
    assert response.status_code == 201, response.text
    listed = response.json()
    assert listed["id"] == model_id
    assert (listed["task_id"], listed["market"], listed["fed_task"]) == (
        task.task_id,
        task.market,
        task.fed_task,
    )
    assert (listed["price_wei"], listed["active"], listed["proceeds_wei"]) == (
        str(25 * TOKEN),
        True,
        "0",
    )
    assert listed["sponsor_bps"] == 1_500
    shares = world.fed_task().shares(task.task_id)
    assert listed["contributors"] == [
        {"address": a, "share_bps": s} for a, s in zip(task.addresses, shares, strict=True) if s
    ]
    assert sum(c["share_bps"] for c in listed["contributors"]) == 10_000
    assert (listed["model_cid"], listed["model_hash"]) == (task.model_cid, task.model_hash)
    assert (listed["card_cid"], listed["card_hash"]) == (task.card_cid, "0x" + task.card_hash.hex())
    assert listed["metrics"] == {"accuracy": 0.95, "f1": 0.93, "auc": 0.98}
    assert listed["listed_by"] == task.sponsor.address
    detail = api.get(f"/models/{model_id}").json()
    assert {k: v for k, v in detail.items() if k in listed} == listed
    assert detail["content"] is None  # no sealed content uploaded yet
    assert {p["address"] for p in detail["proceeds"]} == {
        c["address"] for c in listed["contributors"]
    }
    assert api.get("/models").json()["items"] == [listed]
    assert api.get("/models", params={"contributor": task.addresses[0]}).json()["total"] == 1
    assert api.get("/models", params={"contributor": task.sponsor.address}).json()["total"] == 0
    assert api.get("/models", params={"task_id": task.task_id}).json()["total"] == 1

    # the market is the truth for the price and the proceeds: shown live
    world.market(task.sponsor).set_price(model_id, 30 * TOKEN)
    buyer = world.funded()
    world.tokens(buyer, 30 * TOKEN, task.market)
    bought, _ = world.market(buyer).buy(model_id, 30 * TOKEN)
    again = api.get(f"/models/{model_id}").json()
    assert again["price_wei"] == str(30 * TOKEN)
    assert again["proceeds_wei"] == str(bought.contributors_amount) != "0"

    second = api.post("/models", json=listing_body(task.sponsor, task))
    assert second.status_code == 409
    assert "already recorded as model" in second.json()["detail"]


def test_only_the_on_chain_lister_may_describe_it(api: TestClient, world: ChainWorld) -> None:
    task = drive_task(world, scores=[[1, 2]], n_participants=2)
    model_id = list_on_market(world, task)
    for account in (task.coordinator, task.participants[0]):
        response = api.post("/models", json=listing_body(account, task))
        assert response.status_code == 403
        assert f"(model {model_id}), may describe it" in response.json()["detail"]


def test_a_task_that_is_not_final_cannot_be_listed(
    api: TestClient, world: ChainWorld, training: DrivenTask
) -> None:
    pending = drive_task(world, scores=[[1, 1]], n_participants=2, final=False)
    with pytest.raises(ChainRevertError) as reverted:  # nor can it be on-chain
        list_on_market(world, pending)
    assert reverted.value.error_name == "MarketTaskNotFinal"
    response = api.post("/models", json=listing_body(pending.sponsor, pending))
    assert response.status_code == 409
    assert "completed but its last round is in its challenge window" in response.json()["detail"]

    card = world.store.put_json(model_card(training.task_id, training.model_cid, "0x" + "00" * 32))
    response = api.post("/models", json=listing_body(training.sponsor, training, card_cid=card))
    assert response.status_code == 409
    assert response.json()["detail"].startswith(f"task {training.task_id} is training:")


def test_a_model_not_listed_on_chain_is_refused(api: TestClient, world: ChainWorld) -> None:
    task = drive_task(world, scores=[[1, 2]], n_participants=2)
    response = api.post("/models", json=listing_body(task.sponsor, task))
    assert response.status_code == 409
    assert "is not listed on the ModelMarket" in response.json()["detail"]


def test_a_description_unlike_the_on_chain_listing_is_refused(
    api: TestClient, world: ChainWorld
) -> None:
    task = drive_task(world, scores=[[1, 2]], n_participants=2)
    model_id = list_on_market(world, task, price=7 * TOKEN)
    other_card = world.store.put_json({"kind": "fedmarket/model-card", "note": "another card"})
    response = api.post("/models", json=listing_body(task.sponsor, task, card_cid=other_card))
    assert response.status_code == 422
    assert locs(response) == [["body", "card_cid"]]
    assert (
        f"listing {model_id} carries the card {task.card_cid}"
        in response.json()["detail"][0]["msg"]
    )
    response = api.post("/models", json=listing_body(task.sponsor, task, price_wei=str(6 * TOKEN)))
    assert locs(response) == [["body", "price_wei"]]
    assert f"sells at {7 * TOKEN} wei" in response.json()["detail"][0]["msg"]


@pytest.mark.parametrize(
    ("card", "message"),
    [
        ("hash", "not to the card hash"),
        ({"model_hash": "0x" + "ab" * 32}, "final model on-chain"),
        ({"task_id": 1}, "about task 1"),
        ({"kind": "something-else"}, "model card field kind"),
    ],
)
def test_the_card_must_be_the_listed_one_and_describe_the_final_model(
    api: TestClient, world: ChainWorld, card: Any, message: str
) -> None:
    """The card listed on-chain: its bytes hash to the listing's hash, it describes the model.

    The final model is the one FedTask recorded for the task.
    """
    task = drive_task(world, scores=[[1, 2]], n_participants=2)
    if card == "hash":  # the on-chain hash is of other bytes than the stored card
        list_on_market(world, task, card_hash=content_hash(b"other bytes"))
    else:
        bad = canonical_json({**model_card(task.task_id, task.model_cid, task.model_hash), **card})
        task.card_cid, task.card_hash = str(world.store.put(bad)), content_hash(bad)
        list_on_market(world, task)
    response = api.post("/models", json=listing_body(task.sponsor, task))
    assert response.status_code == 422, response.text
    assert locs(response) == [["body", "card_cid"]]
    assert message in response.json()["detail"][0]["msg"]


def test_signature_must_be_by_the_claimed_signer_for_this_deployment(
    api: TestClient, done: DrivenTask
) -> None:
    body = listing_body(done.participants[0], done, claim=done.sponsor.address)
    response = api.post("/models", json=body)
    assert response.status_code == 422
    assert locs(response) == [["body", "signature"]]
    tampered = {**listing_body(done.sponsor, done), "name": "Another name"}
    assert locs(api.post("/models", json=tampered)) == [["body", "signature"]]
    other_market = listing_body(done.sponsor, done, market="0x" + "12" * 20)
    assert locs(api.post("/models", json=other_market)) == [["body", "signature"]]


def test_unknown_task_is_404_for_models(api: TestClient, done: DrivenTask) -> None:
    ghost = DrivenTask(123456, done.sponsor, done.coordinator, [], 0, card_cid=done.card_cid)
    ghost.chain_id, ghost.fed_task, ghost.market = done.chain_id, done.fed_task, done.market
    response = api.post("/models", json=listing_body(done.sponsor, ghost))
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("override", "loc"),
    [
        ({"price_wei": "-1"}, ["body", "price_wei"]),
        ({"price_wei": "007"}, ["body", "price_wei"]),
        ({"price_wei": str(2**256)}, ["body", "price_wei"]),
        ({"price_wei": 5}, ["body", "price_wei"]),
        ({"card_cid": "Qmnotacidv1"}, ["body", "card_cid"]),
        ({"signer": "0xabc"}, ["body", "signer"]),
        ({"task_id": 0}, ["body", "task_id"]),
        ({"extra": True}, ["body", "extra"]),
    ],
)
def test_invalid_model_listing_names_the_field(
    api: TestClient, done: DrivenTask, override: dict[str, Any], loc: list[Any]
) -> None:
    body = {**listing_body(done.sponsor, done), **override}
    response = api.post("/models", json=body)
    assert response.status_code == 422
    assert locs(response) == [loc]


def test_unknown_model_is_404(api: TestClient) -> None:
    response = api.get("/models/4242")
    assert response.status_code == 404
    assert response.json() == {"detail": "model 4242 is not listed"}
    assert locs(api.get("/models/0")) == [["path", "model_id"]]
    assert api.get("/models").json() == {"items": [], "total": 0, "limit": 50, "offset": 0}


def test_signing_params_bind_the_market(api: TestClient, world: ChainWorld) -> None:
    params = api.get("/models/signing-params").json()
    assert params == {
        "chain_id": world.backend.chain_id,
        "fed_task": world.deployment.fed_task,
        "market": world.deployment.market,
    }
    assert compute_cid(b"x")  # CIDs used above are CIDv1
