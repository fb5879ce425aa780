"""Reads cached per block, shared by every client of one backend.

A view's answer and a contract's logs change only when a block is mined, yet every party of a
process (ten participants and a coordinator in a simulation) reads the same task and round again
at each step: on py-evm each ``eth_call`` costs 6-9 ms and each ``eth_getLogs`` scans every block
from the deployment on. So, per backend:

- **views**: an answer is kept for the chain head it was read at, keyed by contract and call;
  a new head drops them all;
- **logs**: every log of one event of one contract is kept, and a later read only scans the
  blocks mined since (one scan per event, whatever the filters: they are applied here, as the
  node would). When the block last scanned is no longer on the chain (a dev chain reverted to a
  snapshot, a reorg), the event is scanned again from the start.

The head is read once per read (:meth:`~chain.backends.ChainBackend.head`: no JSON-RPC round trip
on the in-process chain), or once for a whole block of reads with :func:`pinned_reads` (a node's
step: one round trip to a JSON-RPC node instead of one per read; a transaction this thread sends,
or a move of the clock, reads the head again). A backend whose
:attr:`~chain.backends.ChainBackend.cache_reads` is ``False`` is read directly.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar
from weakref import WeakKeyDictionary

from chain.errors import ChainError

if TYPE_CHECKING:
    from chain.backends import ChainBackend

T = TypeVar("T")


@dataclass
class _Scan:
    """The logs of one event of one contract, scanned up to block ``to`` (hash ``to_hash``)."""

    to: int
    to_hash: bytes = b""
    logs: list[Any] = field(default_factory=list)


def matches(args: Mapping[str, Any], filters: Mapping[str, Any]) -> bool:
    """Whether a decoded log's ``args`` have every value of ``filters``.

    Addresses compare case-insensitively, bytes by value; a list or tuple of values matches any
    of them (as JSON-RPC topic filters do).

    Parameters
    ----------
    args : mapping
        The log's decoded arguments.
    filters : mapping
        Wanted values by argument name.

    Raises
    ------
    ChainError
        A filter names an argument the event does not have.
    """
    for name, wanted in filters.items():
        if name not in args:
            raise ChainError(f"event filter: no argument {name!r}")
        options = wanted if isinstance(wanted, list | tuple) else (wanted,)
        if not any(_same(args[name], w) for w in options):
            return False
    return True


def _same(value: Any, wanted: Any) -> bool:
    if isinstance(value, str) and isinstance(wanted, str):
        return value.lower() == wanted.lower()
    if isinstance(value, bytes | bytearray) and isinstance(wanted, bytes | bytearray):
        return bytes(value) == bytes(wanted)
    return bool(value == wanted)


class ReadCache:
    """Views per head and incremental event scans of one backend (thread-safe).

    Parameters
    ----------
    backend : ChainBackend
        The chain read.

    Attributes
    ----------
    hits, misses : int
        View answers served from the cache, and read from the chain.
    """

    def __init__(self, backend: ChainBackend) -> None:
        self._backend = backend
        self._lock = threading.RLock()
        self._head: bytes | None = None
        self._views: dict[tuple[str, str], Any] = {}
        self._scans: dict[tuple[str, str, int], _Scan] = {}
        self.hits = 0
        self.misses = 0
        self._pins = threading.local()

    def _current_head(self) -> tuple[int, bytes]:
        """The chain's head, or the one this thread pinned (:meth:`pinned`)."""
        if not getattr(self._pins, "depth", 0):
            return self._backend.head()
        head: tuple[int, bytes] | None = getattr(self._pins, "head", None)
        if head is None:
            head = self._pins.head = self._backend.head()
        return head

    @contextmanager
    def pinned(self) -> Iterator[None]:
        """Read the head once for every read of this thread inside the block."""
        self._pins.depth = getattr(self._pins, "depth", 0) + 1
        try:
            yield
        finally:
            self._pins.depth -= 1
            if not self._pins.depth:
                self._pins.head = None

    def moved(self) -> None:
        """The chain moved (this thread's transaction was mined, or its clock): read it again."""
        self._pins.head = None

    def view(self, key: tuple[str, str], read: Callable[[int], T]) -> T:
        """The answer of the view ``key`` (contract, calldata) at the current head.

        The view is read at the head's block number, not at "latest": a block mined since the
        head was read (another process's transaction) would otherwise show in a view while the
        logs, scanned up to the head, do not show it yet (a round open in the task's view whose
        ``RoundOpened`` event is not in the scan).

        Parameters
        ----------
        key : tuple of str
            The contract's address and the call (signature and arguments).
        read : callable
            ``read(block)`` reads it from the chain at ``block`` (its errors are not cached).
        """
        number, head = self._current_head()
        with self._lock:
            if head != self._head:
                self._views.clear()
                self._head = head
            elif key in self._views:
                self.hits += 1
                return self._views[key]  # type: ignore[no-any-return]
        value = read(number)
        with self._lock:
            self.misses += 1
            if self._head == head:
                self._views[key] = value
        return value

    def logs(self, key: tuple[str, str, int], fetch: Callable[[int, int], list[Any]]) -> list[Any]:
        """Every log of one event of one contract from block ``key[2]`` to the head.

        Parameters
        ----------
        key : tuple
            The contract's address, the event's name and the first block to scan.
        fetch : callable
            ``(from_block, to_block) -> logs`` over an inclusive range.
        """
        number, head = self._current_head()
        with self._lock:
            scan = self._scans.get(key)
            if scan is None or not self._canonical(scan, number, head):
                scan = self._scans[key] = _Scan(to=key[2] - 1)
            if number > scan.to:
                found = fetch(scan.to + 1, number)
                scan.logs.extend(sorted(found, key=lambda e: (e["blockNumber"], e["logIndex"])))
                scan.to, scan.to_hash = number, head
            return list(scan.logs)

    def rescan(self, key: tuple[str, str, int]) -> None:
        """Drop what is kept of one event's logs: the next read scans them again from the start.

        For a caller whose views show what the kept logs do not (a node that indexes logs after
        it serves the block, or a load balancer in front of nodes at different heights).

        Parameters
        ----------
        key : tuple
            The contract's address, the event's name and the first block scanned.
        """
        with self._lock:
            self._scans.pop(key, None)

    def _canonical(self, scan: _Scan, number: int, head: bytes) -> bool:
        """Whether the block ``scan`` ends at is still on the chain whose head is given."""
        if scan.to < 0 or not scan.to_hash:
            return True
        if number < scan.to:
            return False
        if number == scan.to:
            return head == scan.to_hash
        return self._backend.block_hash(scan.to) == scan.to_hash


_CACHES: WeakKeyDictionary[ChainBackend, ReadCache] = WeakKeyDictionary()
_CACHES_LOCK = threading.Lock()


def read_cache(backend: ChainBackend) -> ReadCache | None:
    """The backend's shared :class:`ReadCache`, or ``None`` when it reads directly.

    Parameters
    ----------
    backend : ChainBackend
        The chain.
    """
    if not backend.cache_reads:
        return None
    with _CACHES_LOCK:
        found = _CACHES.get(backend)
        if found is None:
            found = _CACHES[backend] = ReadCache(backend)
        return found


@contextmanager
def pinned_reads(backend: ChainBackend) -> Iterator[None]:
    """Serve this thread's cached reads inside the block from one read of the head.

    The answers are those of the chain when the block began, as one consistent snapshot, except
    that a transaction this thread sends (or a move of the clock) reads the head again.

    Parameters
    ----------
    backend : ChainBackend
        The chain.
    """
    cache = read_cache(backend)
    if cache is None:
        yield
        return
    with cache.pinned():
        yield


def chain_moved(backend: ChainBackend) -> None:
    """Tell the backend's read cache that this thread moved the chain (a mined transaction)."""
    cache = read_cache(backend)
    if cache is not None:
        cache.moved()
