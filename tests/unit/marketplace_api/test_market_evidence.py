"""What the API shows of a round's evidence and a model card: only what the chain confirms."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chain.commitments import RewardTree
from chain.fed_task import RoundInfo
from kernel.types import Address, Hash32, Round, TaskId, Wei
from marketplace_api.api.routes.models import check_card, read_card
from marketplace_api.errors import FieldError
from marketplace_api.task_view import read_allocation
from storage import LocalCidStore, canonical_json, compute_cid, content_hash

A = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
B = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
AMOUNTS = {A: 700, B: 300}


def round_info(tree: RewardTree | None, *, finalized: bool = True) -> RoundInfo:
    return RoundInfo(
        task_id=TaskId(5),
        round=Round(2),
        commit_deadline=10,
        reveal_start=20,
        reveal_deadline=30,
        finalize_deadline=40,
        commit_root=Hash32(b"\x00" * 32),
        commitments=2,
        accepted=2,
        claimable_at=50 if finalized else 0,
        finalizer=Address(A),
        rewards_root=tree.root if tree else Hash32(b"\x00" * 32),
        budget=tree.budget if tree else Wei(0),
        claimed=Wei(0),
        disputed=False,
        flags_cleared=False,
        flag_count=0,
    )


def evidence(**overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "kind": "fedmarket/round-evidence",
        "version": 2,
        "task_id": 5,
        "round": 2,
        "rewards": {"leaves": [{"account": a.lower(), "amount": w} for a, w in AMOUNTS.items()]},
        "anything": "else is not read",
    }
    doc.update(overrides)
    return doc


@pytest.fixture
def store(tmp_path: Path) -> LocalCidStore:
    return LocalCidStore(tmp_path / "store")


TREE = RewardTree.build(5, 2, AMOUNTS)


def test_leaves_that_rebuild_the_root_are_shown(store: LocalCidStore) -> None:
    cid = store.put_json(evidence())
    allocation = read_allocation(store, 5, round_info(TREE), cid)
    assert allocation.status == "verified"
    assert allocation.amounts == AMOUNTS  # checksummed, whatever the document's case


@pytest.mark.parametrize(
    ("doc", "status"),
    [
        (evidence(rewards={"leaves": [{"account": A, "amount": 1000}]}), "mismatch"),
        (evidence(rewards={"leaves": [{"account": A, "amount": 700}]}), "mismatch"),
        (
            evidence(
                rewards={"leaves": [{"account": A, "amount": 350}, {"account": A, "amount": 350}]}
            ),
            "mismatch",
        ),
        (evidence(round=1), "unavailable"),
        (evidence(task_id=6), "unavailable"),
        (evidence(kind="fedmarket/model-card"), "unavailable"),
        (evidence(rewards={"leaves": [{"account": A, "amount": 0}]}), "unavailable"),
        (evidence(rewards={"leaves": [{"account": "0x12", "amount": 1}]}), "unavailable"),
        (evidence(rewards={"amounts": [700, 300]}), "unavailable"),  # a v1 document
        ([1, 2], "unavailable"),
    ],
)
def test_anything_else_is_not_shown(store: LocalCidStore, doc: Any, status: str) -> None:
    allocation = read_allocation(store, 5, round_info(TREE), store.put_json(doc))
    assert (allocation.status, allocation.amounts) == (status, None)


def test_missing_or_unreadable_evidence(store: LocalCidStore) -> None:
    missing = compute_cid(b"never stored")
    assert read_allocation(store, 5, round_info(TREE), missing).status == "unavailable"
    garbage = store.put(b"\x00 not json")
    assert read_allocation(store, 5, round_info(TREE), garbage).status == "unavailable"


def test_rounds_without_rewards_or_not_finalised(store: LocalCidStore) -> None:
    cid = store.put_json(evidence())
    assert read_allocation(store, 5, round_info(None), cid).status == "no_rewards"
    assert read_allocation(store, 5, round_info(None), cid).amounts == {}
    open_round = read_allocation(store, 5, round_info(TREE, finalized=False), None)
    assert (open_round.status, open_round.amounts) == ("not_finalized", None)


# ---- model cards ---------------------------------------------------------------------------------
MODEL_CID = compute_cid(b"final model")
MODEL_HASH = "0x" + content_hash(b"final model").hex()


def card(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "kind": "fedmarket/model-card",
        "task_id": 3,
        "model_cid": MODEL_CID,
        "model_hash": MODEL_HASH,
        "metrics": {"accuracy": 0.9},
    }
    base.update(overrides)
    return base


class Completed:
    """What ``check_card`` reads of ``TaskCompleted``."""

    final_model_cid = MODEL_CID
    final_model_hash = bytes.fromhex(MODEL_HASH[2:])


def test_the_listed_card_is_read(store: LocalCidStore) -> None:
    data = canonical_json(card())
    cid = store.put(data)
    read = read_card(store, cid, content_hash(data))
    check_card(read, 3, Completed())
    assert read.metrics == {"accuracy": 0.9}


@pytest.mark.parametrize(
    ("stored", "message"),
    [
        (None, "no model card is stored"),
        (b"\x00\x01 not json", "not JSON"),
        (canonical_json([1, 2]), "not a JSON object"),
        (canonical_json(card(kind="other")), "model card field kind"),
        (canonical_json(card(task_id="3")), "model card field task_id"),
        (canonical_json(card(metrics={"accuracy": "high"})), "model card field metrics.accuracy"),
    ],
)
def test_unreadable_cards(store: LocalCidStore, stored: bytes | None, message: str) -> None:
    cid = compute_cid(b"never stored") if stored is None else store.put(stored)
    with pytest.raises(FieldError) as exc:
        read_card(store, cid, content_hash(stored or b"never stored"))
    assert exc.value.errors[0]["loc"] == ["body", "card_cid"]
    assert message in exc.value.errors[0]["msg"]


def test_a_card_that_is_not_the_listed_one(store: LocalCidStore) -> None:
    cid = store.put(canonical_json(card()))
    with pytest.raises(FieldError, match="not to the card hash"):
        read_card(store, cid, content_hash(b"the bytes the sponsor listed"))


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"task_id": 4}, "about task 4, not 3"),
        ({"model_cid": compute_cid(b"another model")}, "final model on-chain"),
        ({"model_hash": "0x" + "ab" * 32}, "final model on-chain"),
    ],
)
def test_a_card_about_another_model(
    store: LocalCidStore, override: dict[str, Any], message: str
) -> None:
    data = canonical_json(card(**override))
    read = read_card(store, store.put(data), content_hash(data))
    with pytest.raises(FieldError, match=message):
        check_card(read, 3, Completed())
