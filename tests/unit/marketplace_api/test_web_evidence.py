"""What the task page reads of a round's evidence, over a real :class:`LocalCidStore`.

``round_summary`` reads a real-shaped document (built by ``fl_node.evidence``) and answers
``None``, without raising, for anything else a coordinator could have stored; a summary (or the
knowledge that a CID will never be evidence) is remembered, a store that cannot answer is not.
``cumulative_standings`` is checked against a brute-force sum over the rounds.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from marketplace_api.web import evidence
from marketplace_api.web.evidence import Entry, RoundSummary, round_summary
from marketplace_api.web.tasks import cumulative_standings
from storage import LocalCidStore, StoreUnavailableError, canonical_json
from storage.base import MAX_JSON_DEPTH
from tests.unit.fl_node.test_evidence import METRICS, sample


class FlakyStore(LocalCidStore):
    """A local store that counts its reads and can be made unreachable."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.reads = 0
        self.down = False

    def _read(self, cid: Any, max_bytes: int) -> bytes:
        self.reads += 1
        if self.down:
            raise StoreUnavailableError("the daemon does not answer")
        return super()._read(cid, max_bytes)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[FlakyStore]:
    evidence._cache.clear()
    yield FlakyStore(tmp_path / "store")
    evidence._cache.clear()


def real_doc(shares: bool = True) -> dict[str, Any]:
    return cast(dict[str, Any], sample(shares=shares).to_dict())


def test_a_real_document_is_summarised(store: FlakyStore) -> None:
    doc = real_doc()
    summary = round_summary(store, store.put_json(doc))
    assert summary is not None
    assert summary.round == doc["round"] == 2
    assert (summary.validation_loss, summary.test_loss) == (METRICS.log_loss, METRICS.log_loss)
    assert (summary.accuracy, summary.f1, summary.auc) == (
        METRICS.accuracy,
        METRICS.f1,
        METRICS.auc,
    )
    assert summary.method == "leave-one-out"
    assert [e.participant for e in summary.entries] == [u["participant"] for u in doc["updates"]]
    assert [e.accepted for e in summary.entries] == [True, False, False]
    assert [e.contribution for e in summary.entries] == [0.5, 0.0, 0.0]
    assert [(e.reason, e.detail) for e in summary.rejected] == [("hash_mismatch", "bytes differ")]
    assert summary.cumulative == (0.5, 0.0, 0.0) and summary.shares_bps == (10_000, 0, 0)
    without = round_summary(store, store.put_json(real_doc(shares=False)))
    assert without is not None and without.cumulative is None and without.shares_bps is None


def test_the_rewards_only_document_of_the_api_tests_reads_without_losses(
    store: FlakyStore,
) -> None:
    """``market_world.drive_task`` publishes only the rewards part: no metrics, no verdicts."""
    doc = {"kind": "fedmarket/round-evidence", "version": 2, "round": 1,
           "participants": ["0x" + "a" * 40], "rewards": {"leaves": []}}  # fmt: skip
    summary = round_summary(store, store.put_json(doc))
    assert summary is not None
    assert summary.validation_loss is None and summary.test_loss is None
    assert summary.entries == ()


def nested(depth: int) -> bytes:
    return b'{"round": 1, "participants": [], "x": ' + b"[" * depth + b"]" * depth + b"}"


def mutated(path: list[Any], value: Any) -> bytes:
    doc = real_doc()
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return canonical_json(doc)


HOSTILE: dict[str, bytes] = {
    "not json": b"this is not json",
    "not utf-8": b"\xff\xfe{}",
    "empty": b"",
    "a list": b"[1, 2, 3]",
    "a string": b'"evidence"',
    "null": b"null",
    "deeply nested": nested(MAX_JSON_DEPTH + 10),
    "very deeply nested": nested(200_000),
    "round zero": mutated(["round"], 0),
    "round as text": mutated(["round"], "two"),
    "participants not a list": mutated(["participants"], "0xabc"),
    "bad address": mutated(["participants"], ["0x1234"]),
    "verdicts not objects": mutated(["updates"], [1, 2]),
    "accepted as text": mutated(["updates", 0, "accepted"], "maybe"),
    "negative samples": mutated(["updates", 0, "samples"], -1),
    "huge reason": mutated(["updates", 1, "detail"], "x" * 10_000),
    "scores as text": mutated(["contribution", "scores"], "high"),
    "metrics as a list": mutated(["metrics"], [1]),
    "loss as text": mutated(["metrics", "test", "log_loss"], "low"),
    "100k participants": mutated(["participants"], ["0x" + "a" * 40] * 100_000),
    "100k scores": mutated(["contribution", "scores"], [0.1] * 100_000),
    "NaN score": json.dumps({**real_doc(), "contribution": {"scores": [float("nan")]}}).encode(),
    "infinite loss": json.dumps(
        {**real_doc(), "metrics": {"test": {"log_loss": float("inf")}}}
    ).encode(),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_documents_give_none_without_raising(store: FlakyStore, name: str) -> None:
    cid = store.put(HOSTILE[name])
    assert round_summary(store, cid) is None
    reads = store.reads
    assert round_summary(store, cid) is None  # remembered: it will never be evidence
    assert store.reads == reads


@pytest.mark.parametrize(
    "cid", [None, "", "not-a-cid", "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"]
)
def test_absent_or_invalid_cids_give_none(store: FlakyStore, cid: str | None) -> None:
    assert round_summary(store, cid) is None


def test_a_missing_object_is_asked_again_once_stored(store: FlakyStore) -> None:
    data = canonical_json(real_doc())
    cid = LocalCidStore(store.root / "elsewhere").put(data)  # its CID, not stored here yet
    assert round_summary(store, cid) is None
    assert store.put(data) == cid
    assert round_summary(store, cid) is not None


def test_summaries_are_cached_by_cid(store: FlakyStore) -> None:
    cid = store.put_json(real_doc())
    first = round_summary(store, cid)
    reads = store.reads
    store.path_of(cid).unlink()  # gone from the store: the summary stays
    store.down = True
    assert round_summary(store, cid) is first
    assert store.reads == reads


def test_an_unavailable_store_is_not_cached(store: FlakyStore) -> None:
    cid = store.put_json(real_doc())
    store.down = True
    assert round_summary(store, cid) is None
    assert round_summary(store, cid) is None
    assert store.reads == 2  # asked each time
    store.down = False
    assert round_summary(store, cid) is not None


def test_a_corrupted_object_is_none(store: FlakyStore) -> None:
    cid = store.put_json(real_doc())
    store.path_of(cid).write_bytes(canonical_json(real_doc(shares=False)))
    assert round_summary(store, cid) is None


# cumulative standings ---------------------------------------------------------------------------


def summary_of(
    number: int,
    scores: list[float | None],
    accepted: list[bool],
    participants: list[str],
    cumulative: list[float] | None = None,
) -> RoundSummary:
    entries = tuple(
        Entry(
            p, a, None if a else ("not_submitted" if s is None else "loss_spike"), "", None, 0, s
        )  # fmt: skip
        for p, s, a in zip(participants, scores, accepted, strict=True)
    )
    return RoundSummary(number, None, None, None, None, None, "loo", entries,
                        tuple(cumulative) if cumulative else None, None)  # fmt: skip


def task_of(participants: list[str], bps: list[int]) -> Any:
    return SimpleNamespace(participants=participants, shares_bps=bps)


def brute_force(participants: list[str], rounds: list[RoundSummary]) -> dict[str, float]:
    totals = dict.fromkeys(participants, 0.0)
    for r in rounds:
        for e in r.entries:
            totals[e.participant] += e.contribution or 0.0
    return totals


@pytest.mark.parametrize("seed", range(20))
def test_cumulative_standings_sum_the_rounds(seed: int) -> None:
    rng = random.Random(seed)
    n = rng.randint(1, 7)
    participants = [f"0x{rng.getrandbits(160):040x}" for _ in range(n)]
    rounds = []
    for number in range(1, rng.randint(1, 6)):
        accepted = [rng.random() < 0.7 for _ in range(n)]
        scores = [round(rng.uniform(-1, 3), 3) if a else rng.choice([None, 0.0]) for a in accepted]
        rounds.append(summary_of(number, scores, accepted, participants))
    bps = [rng.randint(0, 10_000) for _ in range(n)]
    got = cumulative_standings(task_of(participants, bps), rounds)
    want = brute_force(participants, rounds)
    assert {s.participant: s.contribution for s in got} == pytest.approx(want)
    assert [s.participant for s in got] == sorted(participants, key=lambda p: (-want[p], p))
    for s in got:
        i = participants.index(s.participant)
        assert s.share_bps == bps[i]
        assert s.accepted == sum(r.entries[i].accepted for r in rounds)
        assert s.rejected == sum(
            not r.entries[i].accepted and r.entries[i].reason != "not_submitted" for r in rounds
        )


def test_the_last_rounds_published_cumulative_wins() -> None:
    people = ["0x" + "a" * 40, "0x" + "b" * 40]
    rounds = [
        summary_of(1, [1.0, 2.0], [True, True], people),
        summary_of(2, [1.0, 2.0], [True, True], people, cumulative=[9.0, 1.0]),
    ]
    got = cumulative_standings(task_of(people, [9000, 1000]), rounds)
    assert [(s.participant, s.contribution) for s in got] == [(people[0], 9.0), (people[1], 1.0)]


def test_no_rounds_ranks_everyone_at_zero_by_address() -> None:
    people = ["0x" + "c" * 40, "0x" + "a" * 40]
    got = cumulative_standings(task_of(people, []), [])
    assert [(s.participant, s.contribution, s.share_bps) for s in got] == [
        (people[1], 0.0, None),
        (people[0], 0.0, None),
    ]
    assert all(math.isfinite(s.contribution) for s in got)


def test_standings_follow_the_participant_not_the_position() -> None:
    """A round whose verdicts are listed in another order still credits each to its author."""
    people = ["0x" + "a" * 40, "0x" + "b" * 40, "0x" + "c" * 40]
    rounds = [
        summary_of(1, [1.0, 2.0, 3.0], [True, True, True], people),
        summary_of(2, [5.0, 0.5], [True, True], [people[2], people[0]]),  # b silent, order differs
    ]
    got = {s.participant: s for s in cumulative_standings(task_of(people, [0, 0, 0]), rounds)}
    want = brute_force(people, rounds)
    assert {p: s.contribution for p, s in got.items()} == want
    assert [got[p].accepted for p in people] == [2, 1, 2]
