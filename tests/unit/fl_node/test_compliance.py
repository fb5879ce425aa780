"""Forgetting data and anchoring the access log, on the in-process chain.

The deletion record verifies; any field of it changed, its signature swapped or its anchor
pointed at another record fails verification. The access log's anchored head catches the
truncation the chain alone cannot, and a forged anchor file is caught on-chain.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import pytest
from eth_account.messages import encode_defunct

from chain.anchor import anchor, anchor_kind
from chain.backends import InProcessBackend
from chain.errors import AnchorMismatchError
from chain.keys import new_account
from chain.signer import Signer, fund, signer_for
from fl_node.compliance import (
    ANCHORS_FILE,
    DeletionRecord,
    SignedDeletion,
    anchor_deletion,
    anchor_if_due,
    anchor_log_head,
    forget,
    log_anchors,
    verify_deletion,
    verify_log,
)
from fl_node.errors import DeletionRecordError, ForgetTargetError
from storage.access_log import AccessLog


@pytest.fixture(scope="module")
def chain() -> InProcessBackend:
    return InProcessBackend()


@pytest.fixture
def participant(chain: InProcessBackend) -> Signer:
    account = new_account()
    fund(chain, account.address, 10**17)
    return signer_for(chain, account)


def make_files(root: Path) -> tuple[list[Path], list[Path], dict[str, bytes]]:
    data = [root / "hospital.csv", root / "copy.npz"]
    data[0].write_bytes(b"age,label\n63,1\n" * 100)
    data[1].write_bytes(bytes(range(256)) * 10)
    cache = root / "cache"
    (cache / "nested").mkdir(parents=True)
    (cache / "a.bin").write_bytes(b"features" * 10)
    (cache / "nested" / "b.bin").write_bytes(b"")
    contents = {str(p.resolve()): p.read_bytes() for p in [*data, *cache.rglob("*.bin")]}
    return data, [cache], contents


def test_forget_deletes_and_records_what_it_deleted(
    tmp_path: Path, chain: InProcessBackend, participant: Signer
) -> None:
    data, caches, contents = make_files(tmp_path)
    signed = forget(data, caches, participant.account, task_id=7)
    assert not any(p.exists() for p in [*data, *caches])
    recorded = {f.path: (f.sha256, f.size, f.kind) for f in signed.record.files}
    assert recorded == {
        path: (hashlib.sha256(raw).hexdigest(), len(raw), "cache" if "cache" in path else "data")
        for path, raw in contents.items()
    }
    assert signed.record.task_id == 7 and signed.record.participant == participant.address
    anchored = anchor_deletion(signed, participant)
    check = verify_deletion(anchored, chain)
    assert check.ok and check.signer == participant.address
    assert check.anchor_time == chain.latest_timestamp()
    again = SignedDeletion.load(_save(tmp_path / "record.json", anchored))
    assert again == anchored and verify_deletion(again, chain).ok


def _save(path: Path, signed: SignedDeletion) -> Path:
    path.write_text(signed.to_json())
    return path


def test_a_file_still_present_is_reported(tmp_path: Path, participant: Signer) -> None:
    data, _, contents = make_files(tmp_path)
    signed = forget(data[:1], [], participant.account)
    data[0].write_bytes(b"restored from a backup")
    check = verify_deletion(signed)
    assert not check.ok and check.remaining == (str(data[0].resolve()),)
    assert check.note == "not anchored"


@pytest.mark.parametrize(
    "change",
    [
        {"task_id": 8},
        {"time": 1.0},
        {"caches": ("/elsewhere",)},
        {"participant": "0x0000000000000000000000000000000000000001"},
        {"files": ()},
    ],
)
def test_a_changed_record_fails_its_signature(
    tmp_path: Path, participant: Signer, change: dict[str, object]
) -> None:
    data, _, _ = make_files(tmp_path)
    signed = forget(data, [], participant.account)
    with pytest.raises(DeletionRecordError):
        verify_deletion(replace(signed, record=replace(signed.record, **change)))  # type: ignore[arg-type]


def test_any_edit_of_the_record_file_is_refused(tmp_path: Path, participant: Signer) -> None:
    data, caches, _ = make_files(tmp_path)
    path = _save(tmp_path / "r.json", anchor_deletion(forget(data, caches, participant.account),
                                                       participant))  # fmt: skip
    original = json.loads(path.read_text())
    edits = [("size", 1), ("sha256", "00" * 32), ("path", "/tmp/other")]
    for index in range(len(original["record"]["files"])):
        for key, value in edits:
            doc = json.loads(json.dumps(original))
            doc["record"]["files"][index][key] = value
            path.write_text(json.dumps(doc))
            with pytest.raises(DeletionRecordError):
                verify_deletion(SignedDeletion.load(path), check_files=False)
    doc = json.loads(json.dumps(original))
    doc["signature"] = doc["signature"][:-4] + "abcd"
    path.write_text(json.dumps(doc))
    with pytest.raises(DeletionRecordError):
        verify_deletion(SignedDeletion.load(path))


def test_an_anchor_of_another_record_is_refused(
    tmp_path: Path, chain: InProcessBackend, participant: Signer
) -> None:
    data, _, _ = make_files(tmp_path)
    signed = forget(data, [], participant.account)
    other = anchor(participant, anchor_kind("fedmarket.deletion.v1"), b"\x07" * 32)
    with pytest.raises(DeletionRecordError):
        verify_deletion(replace(signed, anchor=other), chain)
    real = anchor_deletion(signed, participant)
    assert real.anchor is not None
    with pytest.raises(AnchorMismatchError):
        verify_deletion(replace(real, anchor=replace(real.anchor, block=real.anchor.block - 1)),
                        chain)  # fmt: skip


def test_forget_refuses_bad_targets_before_deleting_anything(
    tmp_path: Path, participant: Signer
) -> None:
    data, caches, _ = make_files(tmp_path)
    for bad in ([*data, tmp_path / "missing.csv"], [caches[0]]):
        with pytest.raises(ForgetTargetError):
            forget(bad, [], participant.account)
    with pytest.raises(ForgetTargetError):
        forget(data, [data[0]], participant.account)
    with pytest.raises(ForgetTargetError):
        forget([], [Path("/")], participant.account)
    with pytest.raises(ForgetTargetError):
        forget([], [], participant.account)
    assert all(p.exists() for p in data)


def test_a_record_from_another_key_is_refused(tmp_path: Path, participant: Signer) -> None:
    data, _, _ = make_files(tmp_path)
    signed = forget(data, [], participant.account)
    stranger = new_account()
    forged_sig = stranger.sign_message(encode_defunct(primitive=signed.record.message()))
    with pytest.raises(DeletionRecordError):
        verify_deletion(replace(signed, signature="0x" + bytes(forged_sig.signature).hex()))
    assert DeletionRecord.from_dict(json.loads(signed.to_json())["record"]) == signed.record


def _log(tmp_path: Path, n: int) -> AccessLog:
    log = AccessLog(tmp_path / "log", durable=False)
    for i in range(n):
        log.append("0xreader", "get", f"bafk{i}", "training")
    return log


def test_the_anchored_head_catches_truncation(
    tmp_path: Path, chain: InProcessBackend, participant: Signer
) -> None:
    log = _log(tmp_path, 10)
    first = anchor_log_head(log, participant)
    assert first is not None and log_anchors(log) == [first]
    assert verify_log(log, chain).ok
    segment = log.segments()[0]
    lines = segment.read_text().splitlines()
    segment.write_text("".join(f"{line}\n" for line in lines[:6]))
    report = verify_log(log, chain)
    assert not report.ok and "truncated" in str(report.problems[0])
    assert log.verify(alert=False).ok  # the chain alone cannot see it


def test_a_forged_anchor_file_is_caught_on_chain(
    tmp_path: Path, chain: InProcessBackend, participant: Signer
) -> None:
    log = _log(tmp_path, 5)
    anchor_log_head(log, participant)
    path = log.root / ANCHORS_FILE
    doc = json.loads(path.read_text())
    doc["head"]["seq"] = 2
    doc["head"]["hash"] = next(e.hash for e in log.entries() if e.seq == 2)
    path.write_text(json.dumps(doc) + "\n")
    report = verify_log(log, chain)
    assert not report.ok and report.problems[0].segment == ANCHORS_FILE


def test_anchor_if_due_waits_for_the_period_and_a_moved_head(
    tmp_path: Path, chain: InProcessBackend, participant: Signer
) -> None:
    log = AccessLog(tmp_path / "log", durable=False)
    assert anchor_if_due(log, participant) is None  # empty
    log.append("0xreader", "get", "bafk", "p")
    first = anchor_if_due(log, participant)
    assert first is not None
    assert anchor_if_due(log, participant) is None  # the head did not move
    log.append("0xreader", "get", "bafk2", "p")
    block_time = chain.w3.eth.get_block(first.anchor.block)["timestamp"]
    assert anchor_if_due(log, participant, now=block_time + 10) is None  # too soon
    second = anchor_if_due(log, participant, now=block_time + 86_401)
    assert second is not None and second.head.seq == 1
    assert verify_log(log, chain).ok


def test_the_keepers_transactions_catch_a_removed_anchor_list(
    tmp_path: Path, chain: InProcessBackend, participant: Signer
) -> None:
    """Cutting the log's tail and deleting anchors.jsonl passes every check but the keeper's."""
    keeper = participant  # a fresh account, used for nothing but anchoring this log
    log = _log(tmp_path, 6)
    anchor_log_head(log, keeper)
    log.append("0xreader", "get", "bafk-late", "training")
    anchor_log_head(log, keeper)
    assert verify_log(log, chain, keeper=keeper.address).ok
    segment = log.segments()[0]
    segment.write_text("".join(f"{x}\n" for x in segment.read_text().splitlines()[:4]))
    (log.root / ANCHORS_FILE).unlink()
    assert verify_log(log, chain).ok  # nothing listed, nothing to compare with
    report = verify_log(log, chain, keeper=keeper.address)
    assert not report.ok
    assert "sent 2 anchor transactions, 0 are listed" in str(report.problems[0])


def test_an_anchor_sent_by_another_account_is_not_the_keepers(
    tmp_path: Path, chain: InProcessBackend, participant: Signer
) -> None:
    log = _log(tmp_path, 3)
    anchor_log_head(log, participant)
    keeper = new_account()
    report = verify_log(log, chain, keeper=keeper.address)
    assert not report.ok and "not by the keeper" in str(report.problems[0])
