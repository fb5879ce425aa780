"""``/tasks`` and ``/models`` over tasks driven on an in-process chain (DB rolled back per test)."""

from __future__ import annotations

import os
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient

from chain import signer_for
from incentives.rewards import split_proportional
from marketplace_api.listing import sign_model_listing
from marketplace_api.schemas import ModelBase
from storage import compute_cid, content_hash
from tests.integration.marketplace_api.market_world import (
    TOKEN,
    ChainWorld,
    DrivenTask,
    drive_task,
    model_card,
)

pytestmark = pytest.mark.slow

SCORES = [[10**18, 2 * 10**18, 3 * 10**18], [5 * 10**17, 0, 15 * 10**17]]


@pytest.fixture(scope="module")
def done(world: ChainWorld) -> DrivenTask:
    """A completed two-round task with three participants and a stored model card."""
    return drive_task(world, scores=SCORES, submit=[[True] * 3, [True, False, True]])


@pytest.fixture(scope="module")
def unpaid(world: ChainWorld) -> DrivenTask:
    """A completed task whose every score was zero: nothing paid."""
    return drive_task(world, scores=[[0, 0, 0]])


@pytest.fixture(scope="module")
def training(world: ChainWorld) -> DrivenTask:
    """A task with round 1 finalised and round 2 open."""
    task = drive_task(world, scores=[[1, 1]], n_participants=2, total_rounds=3)
    coordinator = world.fed_task(signer_for(world.backend, task.coordinator))
    model = b"round two start " + os.urandom(4)
    cid = world.store.put(model)
    coordinator.open_round(task.task_id, 2, cid, content_hash(model))
    task.rounds.append({"round": 2, "opened_model_cid": cid})
    return task


def listing_body(
    account: LocalAccount,
    task: DrivenTask,
    *,
    card_cid: str | None = None,
    price_wei: str = str(25 * TOKEN),
    claim: str | None = None,
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
    return {
        **fields.message_fields(),
        "signer": claim or account.address,
        "signature": sign_model_listing(
            account, fields, chain_id=task.chain_id, fed_task=task.fed_task
        ),
    }


def locs(response: Any) -> list[list[Any]]:
    return [e["loc"] for e in response.json()["detail"]]


# ---- tasks ---------------------------------------------------------------------------------------
def test_completed_task_reports_rounds_rewards_and_totals(
    api: TestClient, done: DrivenTask
) -> None:
    response = api.get(f"/tasks/{done.task_id}")
    assert response.status_code == 200, response.text
    task = response.json()
    addresses = [p.address for p in done.participants]
    assert task["task_id"] == done.task_id
    assert task["status"] == "completed"
    assert task["sponsor"] == done.sponsor.address
    assert task["coordinator"] == done.coordinator.address
    assert task["participants"] == addresses
    assert task["pool_wei"] == str(done.pool)
    paid = sum(r["paid"] for r in done.rounds)
    assert task["escrow_wei"] == str(done.pool - paid)
    assert (task["total_rounds"], task["current_round"], task["round_open"]) == (2, 2, False)
    assert task["model_cid"] == done.model_cid
    assert task["model_hash"] == done.model_hash
    assert len(task["rounds"]) == 2
    for got, want in zip(task["rounds"], done.rounds, strict=True):
        assert got["round"] == want["round"]
        assert got["finalized"] is True
        assert got["opened_model_cid"] == want["opened_model_cid"]
        assert got["model_cid"] == want["model_cid"]
        assert got["evidence_cid"] == want["evidence_cid"]
        assert got["budget_wei"] == str(want["budget"])
        assert got["paid_wei"] == str(want["paid"])
        assert [(u["participant"], u["cid"], u["samples"]) for u in got["updates"]] == [
            (u["participant"], u["cid"], u["samples"]) for u in want["updates"]
        ]
        assert all(u["update_hash"].startswith("0x") for u in got["updates"])
        assert got["rewards"] == [
            {"participant": a, "score": str(s), "amount_wei": str(m)}
            for a, s, m in zip(addresses, want["scores"], want["amounts"], strict=True)
        ]
    assert task["totals"] == {a: str(done.totals[a]) for a in addresses}
    # round 2 skipped participant 2 (score 0): only two anchored updates
    assert len(task["rounds"][1]["updates"]) == 2
    # every wei amount is a decimal string, scores too (they exceed 2^53)
    assert isinstance(task["rounds"][0]["rewards"][2]["score"], str)


def test_task_in_training_shows_the_open_round(api: TestClient, training: DrivenTask) -> None:
    task = api.get(f"/tasks/{training.task_id}").json()
    assert task["status"] == "training"
    assert (task["current_round"], task["round_open"]) == (2, True)
    assert [r["finalized"] for r in task["rounds"]] == [True, False]
    open_round = task["rounds"][1]
    assert open_round["opened_model_cid"] == training.rounds[1]["opened_model_cid"]
    assert open_round["model_cid"] is None
    assert open_round["budget_wei"] is None and open_round["paid_wei"] is None
    assert open_round["updates"] == [] and open_round["rewards"] == []


def test_unknown_task_is_404(api: TestClient) -> None:
    response = api.get("/tasks/987654")
    assert response.status_code == 404
    assert response.json() == {"detail": "task 987654 does not exist"}
    assert locs(api.get("/tasks/0")) == [["path", "task_id"]]


# ---- models --------------------------------------------------------------------------------------
def test_coordinator_lists_the_model_with_shares_from_the_chain(
    api: TestClient, done: DrivenTask
) -> None:
    response = api.post("/models", json=listing_body(done.coordinator, done))
    assert response.status_code == 201, response.text
    listed = response.json()
    addresses = [p.address for p in done.participants]
    paid = [done.totals[a] for a in addresses]
    shares = split_proportional(10_000, paid)
    assert listed["contributors"] == [
        {"address": a, "share_bps": s, "paid_wei": str(p)}
        for a, s, p in zip(addresses, shares, paid, strict=True)
    ]
    assert sum(c["share_bps"] for c in listed["contributors"]) == 10_000
    assert listed["task_id"] == done.task_id
    assert listed["price_wei"] == str(25 * TOKEN)
    assert listed["model_cid"] == done.model_cid
    assert listed["model_hash"] == done.model_hash
    assert listed["card_cid"] == done.card_cid
    assert listed["metrics"] == {"accuracy": 0.95, "f1": 0.93, "auc": 0.98}
    assert listed["listed_by"] == done.coordinator.address
    assert api.get(f"/models/{listed['id']}").json() == listed
    assert api.get("/models").json()["items"] == [listed]
    mine = api.get("/models", params={"contributor": addresses[0]}).json()
    assert mine["total"] == 1
    assert api.get("/models", params={"contributor": done.sponsor.address}).json()["total"] == 0
    assert api.get("/models", params={"task_id": done.task_id}).json()["total"] == 1

    second = api.post("/models", json=listing_body(done.sponsor, done))
    assert second.status_code == 409
    assert "already listed" in second.json()["detail"]


def test_sponsor_may_list_too(api: TestClient, done: DrivenTask) -> None:
    response = api.post("/models", json=listing_body(done.sponsor, done))
    assert response.status_code == 201, response.text
    assert response.json()["listed_by"] == done.sponsor.address


def test_nothing_paid_means_equal_shares(api: TestClient, unpaid: DrivenTask) -> None:
    response = api.post("/models", json=listing_body(unpaid.coordinator, unpaid))
    assert response.status_code == 201, response.text
    contributors = response.json()["contributors"]
    assert [c["share_bps"] for c in contributors] == [3333, 3333, 3334]
    assert [c["paid_wei"] for c in contributors] == ["0", "0", "0"]


def test_participant_may_not_list(api: TestClient, done: DrivenTask) -> None:
    response = api.post("/models", json=listing_body(done.participants[0], done))
    assert response.status_code == 403
    assert "coordinator or sponsor" in response.json()["detail"]


def test_signature_must_be_by_the_claimed_signer(api: TestClient, done: DrivenTask) -> None:
    body = listing_body(done.participants[0], done, claim=done.coordinator.address)
    response = api.post("/models", json=body)
    assert response.status_code == 422
    assert locs(response) == [["body", "signature"]]
    tampered = {**listing_body(done.coordinator, done), "price_wei": "1"}
    assert locs(api.post("/models", json=tampered)) == [["body", "signature"]]


def test_unfinished_task_conflicts(api: TestClient, training: DrivenTask) -> None:
    card = model_card(training.task_id, training.model_cid, training.model_hash)
    body = listing_body(training.coordinator, training, card_cid=compute_cid(b"x"))
    body_with_card = listing_body(training.coordinator, training, card_cid=api_store_put(api, card))
    for attempt in (body, body_with_card):
        response = api.post("/models", json=attempt)
        assert response.status_code == 409
        assert "training" in response.json()["detail"]


def test_unknown_task_is_404_for_models(api: TestClient, done: DrivenTask) -> None:
    ghost = DrivenTask(
        123456,
        done.sponsor,
        done.coordinator,
        [],
        0,
        card_cid=done.card_cid,
        chain_id=done.chain_id,
        fed_task=done.fed_task,
    )
    response = api.post("/models", json=listing_body(done.coordinator, ghost))
    assert response.status_code == 404


def api_store_put(api: TestClient, obj: Any) -> str:
    """Store ``obj`` as a card in the app's content store."""
    store = api.app.state.services.store  # type: ignore[attr-defined]
    return str(store.put_json(obj))


@pytest.mark.parametrize(
    ("card", "message"),
    [
        (None, "no model card is stored"),
        ("not-json", "cannot be read"),
        ([1, 2], "not a JSON object"),
        ({"kind": "something-else"}, "model card field kind"),
        ({"task_id": "1"}, "model card field task_id"),
        ({"task_id": -1}, "about task -1"),
        (
            {"model_cid": "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"},
            "final model on-chain",
        ),
        ({"model_hash": "0x" + "ab" * 32}, "final model on-chain"),
        ({"metrics": {"accuracy": "high"}}, "model card field metrics.accuracy"),
    ],
)
def test_card_must_describe_the_final_model(
    api: TestClient, done: DrivenTask, card: Any, message: str
) -> None:
    store = api.app.state.services.store  # type: ignore[attr-defined]
    if card is None:
        cid = compute_cid(b"a card nobody stored")
    elif card == "not-json":
        cid = store.put(b"\x00\x01 not json")
    elif isinstance(card, list):
        cid = store.put_json(card)
    else:
        cid = store.put_json({**model_card(done.task_id, done.model_cid, done.model_hash), **card})
    response = api.post("/models", json=listing_body(done.coordinator, done, card_cid=cid))
    assert response.status_code == 422, response.text
    assert locs(response) == [["body", "card_cid"]]
    assert message in response.json()["detail"][0]["msg"]


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
    body = {**listing_body(done.coordinator, done), **override}
    response = api.post("/models", json=body)
    assert response.status_code == 422
    assert locs(response) == [loc]


def test_unknown_model_is_404(api: TestClient) -> None:
    response = api.get("/models/4242")
    assert response.status_code == 404
    assert response.json() == {"detail": "model 4242 is not listed"}
    assert api.get("/models").json() == {"items": [], "total": 0, "limit": 50, "offset": 0}
