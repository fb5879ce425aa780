"""The access log: any edit, deletion, insertion or reordering breaks the chain; pruning does not.

A log of 50 entries spanning two months (so it holds a segment boundary and its checkpoint) is
tampered with in every way hypothesis picks: one field of one line changed, with or without the
line's hash recomputed. The hash itself is checked against a sha-256 computed here by hand.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storage import LocalCidStore
from storage.access_log import (
    CHECKPOINT,
    GENESIS,
    AccessEntry,
    AccessLog,
    LoggedStore,
    LogHead,
    entry_hash,
)
from storage.errors import AccessLogEntryError, AccessLogTamperedError

START = datetime(2026, 2, 1, tzinfo=UTC).timestamp()
DAY = 86_400.0
FIELDS = ("seq", "time", "actor", "action", "cid", "purpose", "prev", "hash")


class Clock:
    """A settable clock."""

    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def build(root: Path, n: int = 50, step: float = DAY) -> AccessLog:
    clock = Clock(START)
    log = AccessLog(root, clock=clock, durable=False)
    for i in range(n):
        log.append(f"0xactor{i % 3}", "get" if i % 2 else "put", f"bafk{i:04d}", f"purpose {i}")
        clock.t += step
    return log


def lines_of(log: AccessLog) -> list[tuple[Path, int, str]]:
    return [
        (path, number, line)
        for path in log.segments()
        for number, line in enumerate(path.read_text().splitlines())
    ]


def rewrite(log: AccessLog, rows: list[tuple[Path, str]]) -> None:
    """Write ``rows`` (segment, line) back into the segments, in order."""
    by_segment: dict[Path, list[str]] = {p: [] for p in log.segments()}
    for path, line in rows:
        by_segment[path].append(line)
    for path, lines in by_segment.items():
        path.write_text("".join(f"{line}\n" for line in lines))


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AccessLog]:
    log = build(tmp_path_factory.mktemp("log"))
    saved = {p: p.read_bytes() for p in log.segments()}
    yield log
    for path, data in saved.items():
        path.write_bytes(data)


@pytest.fixture
def fresh(pristine: AccessLog) -> Iterator[AccessLog]:
    """The module's log, restored after each use (hypothesis examples restore it themselves)."""
    saved = {p: p.read_bytes() for p in pristine.segments()}
    yield pristine
    for path, data in saved.items():
        path.write_bytes(data)


def test_the_hash_is_sha256_of_the_canonical_json_of_the_other_fields() -> None:
    body = {"seq": 3, "time": 1.5, "actor": "a", "action": "get", "cid": "c", "purpose": "p",
            "prev": GENESIS}  # fmt: skip
    by_hand = '{"action":"get","actor":"a","cid":"c","prev":"' + GENESIS + '","purpose":"p",'
    by_hand += '"seq":3,"time":1.5}'
    assert entry_hash(body) == hashlib.sha256(by_hand.encode()).hexdigest()


def test_an_untouched_log_verifies_and_spans_two_segments(fresh: AccessLog) -> None:
    report = fresh.verify(fresh.head())
    assert report.ok, report.problems
    assert report.entries == 51  # 50 accesses and one checkpoint
    assert report.segments == ("2026-02.jsonl", "2026-03.jsonl")
    entries = list(fresh.entries())
    assert [e.seq for e in entries] == list(range(51))
    assert entries[0].prev == GENESIS
    assert all(b.prev == a.hash for a, b in zip(entries, entries[1:], strict=False))
    checkpoints = [e for e in entries if e.action == CHECKPOINT]
    assert [(e.seq, e.purpose) for e in checkpoints] == [(28, "close 2026-02")]
    assert report.anchored_checked


def _changed(value: object, replacement: str) -> object:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, float):
        return value + 0.5
    changed = replacement if replacement != value else replacement + "x"
    return changed


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    index=st.integers(min_value=0, max_value=50),
    field=st.sampled_from(FIELDS),
    replacement=st.text(max_size=8),
    rehash=st.booleans(),
)
def test_editing_any_field_of_any_line_is_detected(
    fresh: AccessLog, index: int, field: str, replacement: str, rehash: bool
) -> None:
    rows = lines_of(fresh)
    originals = {p: p.read_bytes() for p in fresh.segments()}
    path, _, line = rows[index]
    data = json.loads(line)
    data[field] = _changed(data[field], replacement)
    if rehash and field != "hash":
        data["hash"] = entry_hash({k: v for k, v in data.items() if k != "hash"})
    edited = [(p, json.dumps(data) if i == index else text) for i, (p, _, text) in enumerate(rows)]
    try:
        rewrite(fresh, edited)
        anchored = LogHead(50, json.loads(rows[-1][2])["hash"])
        report = fresh.verify(anchored, alert=False)
    finally:
        for p, raw in originals.items():
            p.write_bytes(raw)
    assert not report.ok, (index, field, data)
    with pytest.raises(AccessLogTamperedError):
        report.check()


def test_an_edit_is_detected_without_an_anchor_unless_it_rehashes_the_last_line(
    fresh: AccessLog,
) -> None:
    rows = lines_of(fresh)
    last = json.loads(rows[-1][2])
    last["purpose"] = "nothing to see"
    rewrite(fresh, [(p, t) for p, _, t in rows[:-1]] + [(rows[-1][0], json.dumps(last))])
    assert not fresh.verify(alert=False).ok  # the stored hash no longer matches
    last["hash"] = entry_hash({k: v for k, v in last.items() if k != "hash"})
    rewrite(fresh, [(p, t) for p, _, t in rows[:-1]] + [(rows[-1][0], json.dumps(last))])
    assert fresh.verify(alert=False).ok  # the documented limit: only an anchor sees this
    assert not fresh.verify(LogHead(50, json.loads(rows[-1][2])["hash"]), alert=False).ok


@pytest.mark.parametrize("index", [0, 1, 17, 30, 49, 50])
def test_deleting_any_line_is_detected_against_the_anchored_head(
    fresh: AccessLog, index: int
) -> None:
    rows = lines_of(fresh)
    head = fresh.head()
    rewrite(fresh, [(p, t) for i, (p, _, t) in enumerate(rows) if i != index])
    assert not fresh.verify(head, alert=False).ok
    if index < 50:  # a hole in the middle breaks the links on its own
        assert not fresh.verify(alert=False).ok


@pytest.mark.parametrize("index", [0, 10, 33, 49])
def test_inserting_a_copied_or_forged_line_is_detected(fresh: AccessLog, index: int) -> None:
    rows = lines_of(fresh)
    copy = [(p, t) for p, _, t in rows[: index + 1]] + [(rows[index][0], rows[index][2])]
    rewrite(fresh, copy + [(p, t) for p, _, t in rows[index + 1 :]])
    assert not fresh.verify(alert=False).ok
    forged_body = json.loads(rows[index][2])
    forged_body.update(seq=forged_body["seq"] + 1, prev=forged_body["hash"], actor="intruder")
    del forged_body["hash"]
    forged = json.dumps({**forged_body, "hash": entry_hash(forged_body)})
    rewrite(fresh, [(p, t) for p, _, t in rows[: index + 1]] + [(rows[index][0], forged)]
            + [(p, t) for p, _, t in rows[index + 1 :]])  # fmt: skip
    assert not fresh.verify(alert=False).ok


@pytest.mark.parametrize("index", [0, 5, 20, 48, 49])
def test_swapping_two_neighbouring_lines_is_detected(fresh: AccessLog, index: int) -> None:
    rows = [(p, t) for p, _, t in lines_of(fresh)]
    (pa, a), (pb, b) = rows[index], rows[index + 1]
    rows[index], rows[index + 1] = (pa, b), (pb, a)
    rewrite(fresh, rows)
    assert not fresh.verify(alert=False).ok


def test_truncation_is_seen_only_against_an_anchored_head(fresh: AccessLog) -> None:
    anchored = LogHead(45, next(e.hash for e in fresh.entries() if e.seq == 45))
    rows = lines_of(fresh)
    rewrite(fresh, [(p, t) for p, _, t in rows[:48]])  # the tail after the anchor: unseen
    report = fresh.verify(anchored, alert=False)
    assert report.ok and report.head == LogHead(47, json.loads(rows[47][2])["hash"])
    assert "truncated undetected" in report.note
    rewrite(fresh, [(p, t) for p, _, t in rows[:40]])  # cut below the anchor: seen
    report = fresh.verify(anchored, alert=False)
    assert not report.ok and "truncated" in str(report.problems[0])


def test_appending_resumes_the_chain_after_reopening(tmp_path: Path) -> None:
    build(tmp_path, n=5)
    again = AccessLog(tmp_path, clock=Clock(START + 40 * DAY), durable=False)
    entry = again.append("0xnew", "get", "bafknew", "audit")
    assert entry.seq == 6  # 5 accesses, one checkpoint (January closed in February)
    assert again.verify().ok
    with pytest.raises(AccessLogEntryError):
        again.append("0xnew", CHECKPOINT, "", "forged boundary")
    with pytest.raises(AccessLogEntryError):
        again.append("", "get", "bafk", "anonymous")


def test_pruning_keeps_the_chain_verifiable_from_the_oldest_kept_segment(tmp_path: Path) -> None:
    log = build(tmp_path, n=60, step=5 * DAY)  # 295 days: ten monthly segments
    months = len(log.segments())
    now = START + 60 * 5 * DAY
    removed = log.prune(now)
    assert removed and len(log.segments()) == months - len(removed)
    kept = list(log.entries())
    assert all(e.time >= now - 183 * DAY for e in kept if e.action == CHECKPOINT)
    report = log.verify(log.head())
    assert report.ok, report.problems
    assert report.base_seq == kept[0].seq > 0
    assert log.prune(now) == ()  # nothing more is due
    rows = lines_of(log)
    rewrite(log, [(p, t) for p, _, t in rows[1:]])  # drop the oldest kept entry
    assert not log.verify(alert=False).ok
    rewrite(log, [(p, t) for p, _, t in rows])
    first = json.loads(rows[0][2])
    first["actor"] = "someone else"
    rewrite(log, [(rows[0][0], json.dumps(first))] + [(p, t) for p, _, t in rows[1:]])
    assert not log.verify(alert=False).ok


def test_an_anchor_in_a_pruned_segment_is_not_checked(tmp_path: Path) -> None:
    log = build(tmp_path, n=60, step=5 * DAY)
    early = LogHead(3, next(e.hash for e in log.entries() if e.seq == 3))
    log.prune(START + 300 * DAY)
    report = log.verify(early)
    assert report.ok and not report.anchored_checked


def test_the_open_segment_is_never_pruned(tmp_path: Path) -> None:
    log = build(tmp_path, n=3)
    assert log.prune(START + 1000 * DAY) == ()
    assert log.verify().ok


def test_a_logged_store_records_every_get_and_put(tmp_path: Path) -> None:
    log = AccessLog(tmp_path / "log", durable=False)
    store = LoggedStore(LocalCidStore(tmp_path / "cas"), log, actor="0xsponsor", purpose="upload")
    cid = store.put(b"model weights")
    reader = store.as_actor("0xbuyer", "licensed use")
    assert reader.get(cid) == b"model weights"
    assert reader.get_json(store.put_json({"a": 1})) == {"a": 1}
    entries = list(log.entries())
    second = entries[2].cid
    assert [(e.actor, e.action, e.cid, e.purpose) for e in entries] == [
        ("0xsponsor", "put", cid, "upload"),
        ("0xbuyer", "get", cid, "licensed use"),
        ("0xsponsor", "put", second, "upload"),
        ("0xbuyer", "get", second, "licensed use"),
    ]
    assert log.verify().ok
    assert store.has(cid) and not store.pinned()


def test_a_malformed_line_is_reported_not_raised(fresh: AccessLog) -> None:
    rows = lines_of(fresh)
    rewrite(fresh, [(p, "{not json" if i == 7 else t) for i, (p, _, t) in enumerate(rows)])
    report = fresh.verify(alert=False)
    assert not report.ok and any("not JSON" in p.reason for p in report.problems)
    with pytest.raises(AccessLogEntryError):
        AccessEntry.from_line('{"seq": 1}')
