"""The typed records mirror the ABIs exactly: every event and struct, every field, in order."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import pytest

from chain._records import camel, event_name, from_log, from_struct
from chain.artifacts import load_artifact
from chain.court import COURT_EVENTS, ChallengeInfo, ChallengeStatus, ValidatorInfo, Vote
from chain.fed_task import (
    FED_TASK_EVENTS,
    RoundInfo,
    Schedule,
    TaskCompletedEvent,
    TaskInfo,
    TaskStatus,
)

INHERITED = {"RoleAdminChanged", "RoleGranted", "RoleRevoked", "Paused", "Unpaused"}
"""OpenZeppelin's events, read by ``PausableClient`` (``role_events``, ``pause_events``)."""


def abi_item(contract: str, kind: str, name: str) -> dict[str, Any]:
    [found] = [i for i in load_artifact(contract).abi if i["type"] == kind and i["name"] == name]
    return found


def record_names(kind: type[Any], skip: tuple[str, ...] = ("meta",)) -> list[str]:
    return [camel(f.name) for f in fields(kind) if f.name not in skip]


@pytest.mark.parametrize(
    ("contract", "records"), [("FedTask", FED_TASK_EVENTS), ("ChallengeCourt", COURT_EVENTS)]
)
def test_every_event_has_a_record_with_its_arguments_in_order(contract, records):
    events = {i["name"] for i in load_artifact(contract).abi if i["type"] == "event"}
    mirrored = {event_name(r) for r in records}
    assert mirrored == events - INHERITED - {"EIP712DomainChanged"}
    for record in records:
        inputs = abi_item(contract, "event", event_name(record))["inputs"]
        assert record_names(record) == [i["name"] for i in inputs], record.__name__
        assert fields(record)[-1].name == "meta"


@pytest.mark.parametrize(
    ("contract", "function", "record", "known"),
    [
        ("FedTask", "getTask", TaskInfo, ("task_id",)),
        ("FedTask", "getRound", RoundInfo, ("task_id", "round")),
        ("FedTask", "getSchedule", Schedule, ()),
        ("ChallengeCourt", "getChallenge", ChallengeInfo, ("challenge_id",)),
        ("ChallengeCourt", "getValidator", ValidatorInfo, ()),
        ("ChallengeCourt", "getVotes", Vote, ()),
    ],
)
def test_struct_records_list_the_members_in_abi_order(contract, function, record, known):
    [output] = abi_item(contract, "function", function)["outputs"]
    members = [c["name"] for c in output["components"]]
    assert record_names(record, skip=known) == members


def test_struct_fields_are_normalised():
    raw = (1, 2, 3, 4, bytearray(b"\x01" * 32), 5, 6, 7, "0xF", b"\x02" * 32, 8, 9, True, False, 1)
    info = from_struct(RoundInfo, raw, task_id=4, round=2)
    assert type(info.commit_root) is bytes and info.round == 2
    task_raw = [0] * 27
    task_raw[2] = 5
    assert from_struct(TaskInfo, task_raw, task_id=1).status is TaskStatus.ABORTED
    challenge = [0] * 14
    challenge[4] = 2
    assert from_struct(ChallengeInfo, challenge, challenge_id=1).status is ChallengeStatus.UPHELD


def test_events_are_read_by_name_with_their_place():
    log = {
        "args": {
            "taskId": 3,
            "finalModelCid": "bafkrei",
            "finalModelHash": bytearray(32),
            "shares": b"\x13\x88\x13\x88",
        },
        "blockNumber": 12,
        "transactionHash": bytes.fromhex("ab" * 32),
        "logIndex": 4,
    }
    event = from_log(TaskCompletedEvent, log)
    assert (event.task_id, event.bps, event.meta.block, event.meta.log_index) == (
        3,
        [5_000, 5_000],
        12,
        4,
    )
    assert event.meta.tx_hash == "0x" + "ab" * 32
    assert camel("final_model_cid") == "finalModelCid" and event_name(TaskCompletedEvent) == (
        "TaskCompleted"
    )
