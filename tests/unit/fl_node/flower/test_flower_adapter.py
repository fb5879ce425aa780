"""fl_node.flower's records, tamper check, strategy equivalence and Flower-vs-fedmarket FedAvg."""

from __future__ import annotations

import pytest
import torch
from flwr.app import ArrayRecord, ConfigRecord, Message, MetricRecord, RecordDict
from flwr.serverapp.strategy import FedAvg, FedMedian, FedProx

from chain import demo_account
from chain.commitments import recover_commitment_signer
from fl_node.audit import AGGREGATION_TOLERANCE
from fl_node.errors import SpecError, UpdateRejectedError
from fl_node.flower import (
    RoundAnchor,
    SignedUpdate,
    equivalent_strategy,
    sign_update,
    tamper_reason,
)
from fl_node.flower.coordinator import max_gap
from fl_node.flower.strategy import AnchoredStrategy
from fl_node.serialization import decode_update
from fl_node.strategies import ClientUpdate
from fl_node.strategies import FedAvg as FedmarketFedAvg

ANCHOR = RoundAnchor(
    task_id=3,
    round=2,
    base_model_hash="0x" + "ab" * 32,
    chain_id=31337,
    verifying_contract="0x" + "11" * 20,
    strategy="fedavg",
    trainable=("w", "b"),
)


def _delta(seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {"w": torch.randn(4, 3, generator=g), "b": torch.randn(4, generator=g)}


def test_round_anchor_survives_its_config_record() -> None:
    assert RoundAnchor.from_record(ANCHOR.to_record()) == ANCHOR


def test_round_anchor_with_a_missing_field_is_malformed() -> None:
    record = ANCHOR.to_record()
    del record["chain-id"]
    with pytest.raises(UpdateRejectedError) as err:
        RoundAnchor.from_record(record)
    assert err.value.reason == "malformed"


def test_signed_update_is_signed_by_the_participant_and_survives_its_record() -> None:
    account = demo_account(1, "hospital-1")
    signed = sign_update(account, ANCHOR, _delta(0), samples=40, train_loss=0.5)

    again = SignedUpdate.from_record(signed.to_record())
    assert again == signed
    assert recover_commitment_signer(ANCHOR.domain, again.signed) == account.address
    delta, meta = decode_update(again.blob, {"w": (4, 3), "b": (4,)})
    assert torch.equal(delta["w"], _delta(0)["w"])
    assert (meta.participant, meta.samples, meta.round) == (account.address, 40, 2)
    assert tamper_reason(again, ANCHOR) is None


def test_tamper_reason_names_bytes_cid_and_round_that_differ_from_the_commitment() -> None:
    signed = sign_update(demo_account(1, "hospital-1"), ANCHOR, _delta(0), 40, 0.5)
    other = sign_update(demo_account(1, "hospital-1"), ANCHOR, _delta(1), 40, 0.5)

    assert tamper_reason(SignedUpdate(signed.signed, signed.cid, other.blob), ANCHOR) == (
        "hash_mismatch"
    )
    assert tamper_reason(SignedUpdate(signed.signed, other.cid, signed.blob), ANCHOR) == (
        "cid_mismatch"
    )
    later = RoundAnchor(**{**ANCHOR.__dict__, "round": 3})
    assert tamper_reason(signed, later) == "wrong_round"


def test_only_flowers_exact_fedavg_has_an_equivalent_the_audit_recomputes() -> None:
    assert equivalent_strategy(FedAvg()) == "fedavg"
    for other in (FedProx(proximal_mu=0.1), FedMedian()):
        with pytest.raises(SpecError):
            equivalent_strategy(other)


@pytest.fixture
def in_a_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """Flower's task identity (a ServerApp sets it): messages can be made."""
    from flwr.supercore.task_identity import TaskIdentity

    for name in ("_run_id", "_task_id", "_node_id"):
        monkeypatch.setattr(TaskIdentity, name, 1, raising=False)


def _reply(arrays: dict[str, torch.Tensor]) -> Message:
    instruction = Message(RecordDict({"config": ConfigRecord()}), 7, "train")
    content = RecordDict(
        {
            "arrays": ArrayRecord(torch_state_dict=arrays),
            "metrics": MetricRecord({"train_loss": 0.1, "num-examples": 1}),
        }
    )
    return Message(content, reply_to=instruction)


@pytest.mark.usefixtures("in_a_run")
def test_flowers_fedavg_of_committed_updates_matches_fedmarkets_fedavg() -> None:
    base = {"w": torch.randn(4, 3), "b": torch.randn(4), "mean": torch.ones(3)}
    updates = [ClientUpdate(_delta(i), samples) for i, samples in enumerate((30, 55, 17))]
    replies = [
        AnchoredStrategy._committed_reply(base, _reply(base), u)  # arrays from the commitment
        for u in updates
    ]
    arrays, _ = FedAvg().aggregate_train(1, replies)
    assert arrays is not None
    flower = arrays.to_torch_state_dict()

    params = {k: base[k] for k in ("w", "b")}
    reference = FedmarketFedAvg().aggregate(params, updates)
    assert max_gap(reference, {k: flower[k] for k in reference}) <= AGGREGATION_TOLERANCE
    assert torch.allclose(flower["mean"], base["mean"])  # buffers average to themselves
    assert [r.content["metrics"]["num-examples"] for r in replies] == [30, 55, 17]
