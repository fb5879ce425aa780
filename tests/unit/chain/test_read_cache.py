"""The per-head read cache against reading every time: same answers, fewer reads, reorgs seen."""

from __future__ import annotations

from typing import Any

import pytest

from chain._cache import ReadCache, matches
from chain.errors import ChainError


class FakeChain:
    """A chain of numbered blocks whose hashes a test can rewrite (a reorg)."""

    cache_reads = True

    def __init__(self) -> None:
        self.hashes = [b"h0"]
        self.logs: dict[int, list[dict[str, Any]]] = {}
        self.fetched: list[tuple[int, int]] = []

    def mine(self, *logs: dict[str, Any]) -> None:
        number = len(self.hashes)
        self.hashes.append(f"h{number}".encode())
        self.logs[number] = [
            {"blockNumber": number, "logIndex": i, "args": args} for i, args in enumerate(logs)
        ]

    def head(self) -> tuple[int, bytes]:
        return len(self.hashes) - 1, self.hashes[-1]

    def block_hash(self, number: int) -> bytes | None:
        return self.hashes[number] if number < len(self.hashes) else None

    def fetch(self, first: int, last: int) -> list[dict[str, Any]]:
        self.fetched.append((first, last))
        return [e for n in range(first, last + 1) for e in reversed(self.logs.get(n, []))]

    def every_log(self) -> list[dict[str, Any]]:
        return [e for n in sorted(self.logs) for e in self.logs[n]]


def test_logs_scan_only_new_blocks_and_match_a_full_scan() -> None:
    chain = FakeChain()
    cache = ReadCache(chain)  # type: ignore[arg-type]
    key = ("0xc", "Ev", 0)
    chain.mine({"round": 1})
    assert cache.logs(key, chain.fetch) == chain.every_log()
    chain.mine({"round": 2}, {"round": 3})
    chain.mine()
    assert cache.logs(key, chain.fetch) == chain.every_log()  # oldest first, as a full scan
    assert cache.logs(key, chain.fetch) == chain.every_log()
    assert chain.fetched == [(0, 1), (2, 3)]  # nothing scanned twice, nothing at an unmoved head


def test_logs_are_scanned_again_when_the_last_scanned_block_left_the_chain() -> None:
    chain = FakeChain()
    cache = ReadCache(chain)  # type: ignore[arg-type]
    key = ("0xc", "Ev", 0)
    chain.mine({"round": 1})
    chain.mine({"round": 2})
    cache.logs(key, chain.fetch)
    # a reorg replaces block 2, then the chain grows past it
    chain.hashes[2] = b"other"
    chain.logs[2] = [{"blockNumber": 2, "logIndex": 0, "args": {"round": 9}}]
    chain.mine()
    assert cache.logs(key, chain.fetch) == chain.every_log()
    assert chain.fetched[-1] == (0, 3)
    # a revert to a shorter chain
    del chain.hashes[2:]
    del chain.logs[2], chain.logs[3]
    assert cache.logs(key, chain.fetch) == chain.every_log()
    assert chain.fetched[-1] == (0, 1)


def test_a_rescan_reads_logs_again_that_the_node_served_late() -> None:
    chain = FakeChain()
    cache = ReadCache(chain)  # type: ignore[arg-type]
    key = ("0xc", "Ev", 0)
    chain.mine({"round": 1})
    late = chain.logs.pop(1)  # the node answers block 1 before it indexed its logs
    assert cache.logs(key, chain.fetch) == []
    chain.logs[1] = late
    assert cache.logs(key, chain.fetch) == []  # kept: the head did not move
    cache.rescan(key)
    assert cache.logs(key, chain.fetch) == chain.every_log() == late
    assert chain.fetched == [(0, 1), (0, 1)]
    cache.rescan(("0xc", "Other", 0))  # nothing kept for it: nothing to drop


def test_views_are_kept_for_one_head_only() -> None:
    chain = FakeChain()
    cache = ReadCache(chain)  # type: ignore[arg-type]
    reads: list[int] = []

    def read(block: int) -> int:
        reads.append(block)
        return len(chain.hashes)

    assert cache.view(("0xc", "0x01"), read) == 1
    assert cache.view(("0xc", "0x01"), read) == 1
    assert len(reads) == 1 and cache.hits == 1
    chain.mine()
    assert cache.view(("0xc", "0x01"), read) == 2
    assert len(reads) == 2


def test_a_failed_read_is_not_kept() -> None:
    chain = FakeChain()
    cache = ReadCache(chain)  # type: ignore[arg-type]

    def fail(block: int) -> int:
        raise ChainError("reverted")

    with pytest.raises(ChainError):
        cache.view(("0xc", "0x02"), fail)
    assert cache.view(("0xc", "0x02"), lambda block: 5) == 5


def test_matches_compares_as_a_node_filters() -> None:
    args = {"account": "0xAbC", "round": 3, "root": b"\x01\x02"}
    assert matches(args, {"account": "0xabc", "round": 3})
    assert matches(args, {"root": bytearray(b"\x01\x02")})
    assert matches(args, {"round": [1, 3]})
    assert not matches(args, {"round": 4})
    assert not matches(args, {"account": "0xabd"})
    assert matches(args, {})
    with pytest.raises(ChainError):
        matches(args, {"nope": 1})


def test_a_pinned_block_of_reads_looks_at_the_head_once_until_the_chain_moves() -> None:
    chain = FakeChain()
    looks: list[int] = []
    head = chain.head

    def counted_head() -> tuple[int, bytes]:
        looks.append(1)
        return head()

    chain.head = counted_head  # type: ignore[method-assign]
    cache = ReadCache(chain)  # type: ignore[arg-type]
    with cache.pinned():
        cache.view(("0xc", "a"), lambda block: 1)
        cache.view(("0xc", "b"), lambda block: 2)
        cache.logs(("0xc", "Ev", 0), chain.fetch)
        assert len(looks) == 1
        chain.mine({"round": 1})  # another party's block: the pinned snapshot does not see it
        assert cache.logs(("0xc", "Ev", 0), chain.fetch) == []
        cache.moved()  # this thread's own transaction was mined
        assert cache.logs(("0xc", "Ev", 0), chain.fetch) == chain.every_log()
        assert len(looks) == 2
    cache.view(("0xc", "a"), lambda block: 1)
    cache.view(("0xc", "a"), lambda block: 1)
    assert len(looks) == 4  # unpinned: one look per read


def test_a_pinned_view_is_read_at_the_pinned_block_as_the_logs_are() -> None:
    """Another party's block mined inside a step shows in neither the views nor the logs.

    A view read at "latest" saw a round opened in a block the log scan had not reached: the
    participant found the round open and its ``RoundOpened`` event missing (a CI failure).
    """
    chain = FakeChain()
    cache = ReadCache(chain)  # type: ignore[arg-type]
    asked: list[int] = []

    def read(block: int) -> int:
        asked.append(block)
        return block

    with cache.pinned():
        pinned = cache.view(("0xc", "a"), read)
        chain.mine({"round": 1})
        assert cache.view(("0xc", "b"), read) == pinned  # not the new block
        assert cache.logs(("0xc", "Ev", 0), chain.fetch) == []  # consistent with the views
    assert asked == [pinned, pinned]
    assert cache.view(("0xc", "b"), read) == pinned + 1  # unpinned: the new head
