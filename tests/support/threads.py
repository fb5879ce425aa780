"""Run protocol parties as threads of the test process (over a LocalNetwork), failures re-raised."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


def run_parties(*fns: Callable[[], Any], timeout: float = 120.0) -> list[Any]:
    """Run the parties concurrently and return their results in order; re-raise the first failure.

    Parameters
    ----------
    *fns : callable
        One per party, each running that party's side to the end.
    timeout : float, default 120.0
        Seconds each thread is waited for.
    """
    results: list[Any] = [None] * len(fns)
    errors: list[BaseException] = []

    def run(i: int, fn: Callable[[], Any]) -> None:
        try:
            results[i] = fn()
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            errors.append(exc)

    ts = [threading.Thread(target=run, args=(i, f), daemon=True) for i, f in enumerate(fns)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(timeout)
    if errors:
        raise errors[0]
    return results
