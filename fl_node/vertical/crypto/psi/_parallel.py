"""Run PSI batch kernels inline or over a process pool, chunk by chunk.

The heavy steps are CPU-bound C calls issued from Python, so threads would serialize on the
GIL; a process pool over contiguous chunks uses every core. Workers start with the
``forkserver`` method where available (``spawn`` elsewhere), which is safe in a parent that
runs threads (web servers, torch); the start-up cost, a few hundred milliseconds, is paid
once per parent process (the fork server preloads the kernels), and
:func:`~fl_node.vertical.crypto.psi.ecdh.ecdh_psi` shares one pool between both parties.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from typing import Any, TypeVar

from ._common import PsiUsageError

logger = logging.getLogger(__name__)

R = TypeVar("R")

MIN_PARALLEL = 2048
"""Below this many elements a step runs inline: a pool round trip would cost more."""

_CHUNKS_PER_WORKER = 4
_KERNEL_PACKAGE = __name__.rpartition(".")[0]


def make_executor(workers: int, start_method: str | None = None) -> ProcessPoolExecutor:
    """Create a process pool for the PSI kernels.

    Parameters
    ----------
    workers : int
        Number of worker processes.
    start_method : str or None
        ``multiprocessing`` start method; default ``forkserver`` where available, else
        ``spawn``.

    Returns
    -------
    ProcessPoolExecutor
        The pool; the caller shuts it down.
    """
    if start_method is None:
        methods = multiprocessing.get_all_start_methods()
        start_method = "forkserver" if "forkserver" in methods else "spawn"
    context = multiprocessing.get_context(start_method)
    if start_method == "forkserver":
        # The fork server (one per parent process, started with the first pool) imports the
        # kernels once; every worker forked from it then starts in ~10 ms instead of ~200 ms.
        # "__main__" keeps the standard library's default preload.
        context.set_forkserver_preload(["__main__", _KERNEL_PACKAGE])
    logger.debug("starting a %d-process PSI pool (%s)", workers, start_method)
    return ProcessPoolExecutor(max_workers=workers, mp_context=context)


def split(total: int, parts: int) -> list[tuple[int, int]]:
    """Split ``range(total)`` into ``parts`` near-equal ``(start, stop)`` slices (none empty)."""
    parts = max(1, min(parts, total))
    bounds = [total * k // parts for k in range(parts + 1)]
    return [(bounds[k], bounds[k + 1]) for k in range(parts) if bounds[k + 1] > bounds[k]]


class Runner:
    """Dispatches kernels for one party: inline, or over its own or a shared process pool.

    Parameters
    ----------
    workers : int
        Processes to use; 1 runs everything in the calling process.
    executor : Executor or None
        A pool to share (not shut down by :meth:`close`); by default one is created on first
        use when ``workers > 1``.
    """

    def __init__(self, workers: int, executor: Executor | None) -> None:
        if workers < 1:
            raise PsiUsageError("workers must be >= 1")
        self.workers = workers
        self._executor = executor
        self._owned: ProcessPoolExecutor | None = None

    def _pool(self) -> Executor | None:
        if self._executor is not None:
            return self._executor
        if self.workers > 1:
            if self._owned is None:
                self._owned = make_executor(self.workers)
            return self._owned
        return None

    def chunks(self, total: int) -> list[tuple[int, int]]:
        """Slices to cut a step of ``total`` elements into."""
        if total == 0:
            return []
        if total < MIN_PARALLEL or (self.workers == 1 and self._executor is None):
            return [(0, total)]
        return split(total, self.workers * _CHUNKS_PER_WORKER)

    def map(self, fn: Callable[..., R], argsets: Sequence[tuple[Any, ...]]) -> list[R]:
        """Run ``fn(*args)`` for every argument tuple, in order; results in the same order."""
        pool = self._pool() if len(argsets) > 1 else None
        if pool is None:
            return [fn(*args) for args in argsets]
        futures = [pool.submit(fn, *args) for args in argsets]
        return [future.result() for future in futures]

    def close(self) -> None:
        """Shut down the pool this runner created, if any."""
        if self._owned is not None:
            self._owned.shutdown(wait=True, cancel_futures=True)
            self._owned = None
