"""Common state of a PSI party: its ids, randomness, shuffle, worker pool and phase timing."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor
from contextlib import contextmanager
from types import TracebackType
from typing import Any, Self

import numpy as np
import numpy.typing as npt

from ._common import (
    IdTable,
    PsiId,
    PsiProtocolError,
    PsiResult,
    PsiUsageError,
    Rng,
    digest_width,
    ids_at,
)
from ._messages import BlindedSet, IntersectionIndices, Loopback, SetKind
from ._parallel import Runner, make_executor

logger = logging.getLogger(__name__)


class PartyBase:
    """Shared machinery of the protocol parties (not public API).

    Parameters
    ----------
    ids : Iterable[PsiId]
        The party's ids (deduplicated).
    label : str
        Names the party in logs and separates seeded random streams.
    workers : int
        Processes for the heavy steps.
    seed : bytes or None
        Tests only: makes scalars, blinding factors and shuffles reproducible.
    executor : Executor or None
        A shared process pool.
    """

    method: str = ""
    """Protocol name reported in results (set by each party class)."""

    def __init__(
        self,
        ids: Iterable[PsiId],
        *,
        label: str,
        workers: int,
        seed: bytes | None,
        executor: Executor | None,
    ) -> None:
        self._table = IdTable(ids)
        self._label = label
        self._rng = Rng(seed, label)
        self._runner = Runner(workers, executor)
        self._order: npt.NDArray[np.intp] | None = None
        self._matched_peer_positions: list[int] | None = None

    def __len__(self) -> int:
        return len(self._table)

    @property
    def size(self) -> int:
        """Number of distinct ids this party holds."""
        return len(self._table)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Shut down the worker pool this party created (a shared one is left alone)."""
        self._runner.close()

    # ---------------------------------------------------------------- shuffling and mapping

    def _shuffled_ids(self) -> list[PsiId]:
        """Fix this party's random send order and return its ids in that order."""
        if self._order is None:
            self._order = self._rng.permutation(len(self._table))
        return self._table.take(self._order)

    def _own_digest_width(self, peer_count: int | None, first_step: str) -> int:
        """Digest width of this (host) party's own set, given the guest's set size.

        ``peer_count`` defaults to the size seen in the host's first step (``first_step``).
        """
        count = getattr(self, "_peer_count", None) if peer_count is None else peer_count
        if count is None:
            raise PsiUsageError(f"{self._label}: call {first_step}() first or pass peer_count")
        return digest_width(count, len(self))

    def _require_order(self) -> npt.NDArray[np.intp]:
        if self._order is None:
            raise PsiUsageError(f"{self._label}: blinded_ids() has not been called yet")
        return self._order

    def _ids_at(self, positions: list[int]) -> list[PsiId]:
        return ids_at(self._table, self._require_order(), positions)

    def _record_matches(self, mine: list[int], peer: list[int]) -> list[PsiId]:
        self._matched_peer_positions = sorted(peer)
        result = self._ids_at(mine)
        logger.info("%s: intersection of %d ids", self._label, len(result))
        return result

    def intersection_message(self) -> IntersectionIndices:
        """Tell the peer which of its elements matched (positions in its shuffled set).

        Sending it is optional: it is how the host learns the intersection.

        Returns
        -------
        IntersectionIndices
            Positions in the set the peer sent last (its digests).

        Raises
        ------
        PsiUsageError
            If ``intersect`` has not run.
        """
        if self._matched_peer_positions is None:
            raise PsiUsageError(f"{self._label}: intersect() has not run")
        return IntersectionIndices(tuple(self._matched_peer_positions))

    def receive_intersection(self, message: IntersectionIndices) -> list[PsiId]:
        """Map the peer's :class:`IntersectionIndices` back to this party's ids.

        Parameters
        ----------
        message : IntersectionIndices
            Positions into the set this party sent.

        Returns
        -------
        list[PsiId]
            The matched ids, in this party's input order.

        Raises
        ------
        PsiProtocolError
            If a position is outside the set this party sent.
        """
        order = self._require_order()
        if message.positions and message.positions[-1] >= len(order):
            raise PsiProtocolError("intersection position beyond the set this party sent")
        result = self._ids_at(list(message.positions))
        logger.info("%s: told an intersection of %d ids", self._label, len(result))
        return result

    # ---------------------------------------------------------------- chunked kernels

    def _run_items(self, fn: Callable[..., bytes], items: list[Any], *extra: Any) -> bytes:
        """Run ``fn(items[a:b], *extra)`` per chunk and join the results."""
        parts = self._runner.chunks(len(items))
        return b"".join(self._runner.map(fn, [(items[a:b], *extra) for a, b in parts]))

    def _run_rows(
        self,
        fn: Callable[..., bytes],
        data: bytes,
        width: int,
        per_row: tuple[bytes, int] | None,
        *extra: Any,
    ) -> bytes:
        """Run ``fn(rows, [per_row slice], *extra, offset)`` per chunk of fixed-width rows."""
        total = len(data) // width
        argsets: list[tuple[Any, ...]] = []
        for a, b in self._runner.chunks(total):
            head: tuple[Any, ...] = (data[a * width : b * width],)
            if per_row is not None:
                blob, size = per_row
                head += (blob[a * size : b * size],)
            argsets.append((*head, *extra, a))
        return b"".join(self._runner.map(fn, argsets))


def expect_set(message: BlindedSet, kind: SetKind, what: str, count: int | None = None) -> None:
    """Check a received set's kind (and count); raise :class:`PsiProtocolError` otherwise."""
    if not isinstance(message, BlindedSet) or message.kind is not kind:
        raise PsiProtocolError(f"{what}: expected a set of {kind.name}")
    if count is not None and message.count != count:
        raise PsiProtocolError(f"{what}: expected {count} elements, got {message.count}")


class Phases:
    """Wall-clock seconds per named phase of a local run."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        """Time the enclosed block under ``name``."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start
            logger.debug("phase %s: %.3f s", name, self.seconds[name])


@contextmanager
def shared_pool(workers: int, executor: Executor | None) -> Iterator[Executor | None]:
    """The pool both local parties share: ``executor``, else one created (and shut down) here.

    Parameters
    ----------
    workers : int
        Processes; no pool is created for 1.
    executor : Executor or None
        A caller's pool, left running on exit.
    """
    owned = make_executor(workers) if executor is None and workers > 1 else None
    try:
        yield executor if executor is not None else owned
    finally:
        if owned is not None:
            owned.shutdown(wait=True, cancel_futures=True)


def reveal(guest: PartyBase, host: PartyBase, loopback: Loopback, phases: Phases) -> list[PsiId]:
    """The guest tells the host which of its elements matched; return what the host learns."""
    with phases("reveal"):
        indices = loopback.send("guest", guest.intersection_message())
        return host.receive_intersection(indices)


def local_result(
    method: str,
    parties: tuple[PartyBase, PartyBase],
    intersection: list[PsiId],
    host_intersection: list[PsiId] | None,
    *,
    start: float,
    workers: int,
    loopback: Loopback,
    phases: Phases,
) -> PsiResult:
    """Log and package the outcome of a local two-party run started at ``start``."""
    seconds = time.perf_counter() - start
    logger.info(
        "%s: %d x %d -> %d in %.2f s (%d workers)",
        method,
        parties[0].size,
        parties[1].size,
        len(intersection),
        seconds,
        workers,
    )
    return PsiResult(
        method=method,
        intersection=intersection,
        seconds=seconds,
        bytes_sent=dict(loopback.bytes_sent),
        messages=loopback.messages,
        host_intersection=host_intersection,
        phases=dict(phases.seconds),
    )
