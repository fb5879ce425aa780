"""A stalled or killed party ends a real run quickly, with its name, and leaves nothing behind.

A real :func:`~fl_node.vertical.runner.run_vfl` on breast (1024-bit keys, in-process chain,
one split, no Shapley models) with a 10 s liveness timeout: half a second after the training
has started, the host is frozen with SIGSTOP (alive but silent) or killed with SIGKILL. The run
must fail naming the host, within the timeout for the frozen one and at once for the dead
one, and no party process (the frozen host included) nor any of their children may be left.
The same holds when the orchestrator itself is interrupted (Ctrl-C) once the parties run.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from fl_node.events import Event

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore")]

TIMEOUT = 10.0
SLACK = 3.0
"""Seconds allowed beyond the timeout (polling, the report's trip, a loaded machine)."""


def _party_tree() -> dict[str, dict[int, str]]:
    """``role -> {pid: start time}`` of every party process and its descendants."""
    from fl_node.vertical.runner._lifecycle import descendants

    tree: dict[str, dict[int, str]] = {}
    for proc in multiprocessing.active_children():
        if proc.name.startswith("vfl-") and proc.pid is not None:
            fields = Path(f"/proc/{proc.pid}/stat").read_text().rpartition(")")[2].split()
            tree[proc.name.removeprefix("vfl-")] = {proc.pid: fields[19]} | descendants(proc.pid)
    return tree


def _run_and_hit_host(tmp_path: Path, sig: int) -> tuple[BaseException, float, dict]:
    """Run until the training starts, send ``sig`` to the host 0.5 s later; return the error."""
    from fl_node.vertical.runner import TrainingStarted, VflSettings, run_vfl

    hit: dict = {}

    def strike() -> None:
        hit["tree"] = _party_tree()
        [host] = [p.pid for p in _children() if p.name == "vfl-host" and p.pid is not None]
        os.kill(host, sig)
        hit["at"] = time.monotonic()

    def on_event(event: Event) -> None:
        if isinstance(event, TrainingStarted) and "timer" not in hit:
            hit["timer"] = threading.Timer(0.5, strike)
            hit["timer"].start()

    settings = VflSettings(
        key_bits=1024, epochs=30, cv_folds=1, shapley=False, party_timeout_s=TIMEOUT
    )
    with pytest.raises(Exception) as caught:
        run_vfl("breast", tmp_path, settings=settings, on_event=on_event)
    elapsed = time.monotonic() - hit["at"]
    return caught.value, elapsed, hit["tree"]


def _children() -> list[multiprocessing.process.BaseProcess]:
    return [p for p in multiprocessing.active_children() if p.name.startswith("vfl-")]


def _assert_nothing_left(tree: dict[str, dict[int, str]]) -> None:
    from fl_node.vertical.runner._lifecycle import alive

    assert set(tree) == {"guest", "host", "arbiter"}
    left = {pid for pids in tree.values() for pid, started in pids.items() if alive(pid, started)}
    assert not left, f"left behind: {left}"
    assert not _children()


def test_a_stopped_host_fails_the_run_within_the_timeout(tmp_path: Path, breast_data: None) -> None:
    from fl_node.vertical.runner import PartyStalledError

    error, elapsed, tree = _run_and_hit_host(tmp_path, signal.SIGSTOP)
    assert isinstance(error, PartyStalledError), repr(error)
    assert error.party == "host"
    assert str(error).startswith("host stopped answering: no ")
    assert "its process is stopped" in str(error)
    # heartbeats go every 2.5 s: the last one came at most that long before the stop
    assert TIMEOUT - TIMEOUT / 4 - 0.5 <= elapsed <= TIMEOUT + SLACK
    _assert_nothing_left(tree)


def test_a_killed_host_fails_the_run_at_once(tmp_path: Path, breast_data: None) -> None:
    from fl_node.vertical.runner import PartyCrashedError

    error, elapsed, tree = _run_and_hit_host(tmp_path, signal.SIGKILL)
    assert isinstance(error, PartyCrashedError), repr(error)
    assert error.party == "host"
    assert str(error).startswith(f"host process exited (code -{int(signal.SIGKILL)})")
    assert elapsed <= SLACK
    _assert_nothing_left(tree)


# Timing: the interrupt must land while the parties are busy. Once in a whole idle suite it did
# not surface as KeyboardInterrupt (cause not found yet: the run may have been in its shutdown);
# rerun once, a deterministic failure fails both times.
@pytest.mark.flaky(reruns=1, reruns_delay=2)
def test_an_interrupted_orchestrator_stops_busy_parties_at_once(
    tmp_path: Path, breast_data: None
) -> None:
    """Ctrl-C (SIGINT to the orchestrator only) mid-training: no waiting for the jobs to end."""
    from fl_node.vertical.runner import TrainingStarted, VflSettings, run_vfl

    hit: dict = {}

    def interrupt() -> None:
        hit["tree"] = _party_tree()
        hit["at"] = time.monotonic()
        os.kill(os.getpid(), signal.SIGINT)

    def on_event(event: Event) -> None:
        if isinstance(event, TrainingStarted) and "timer" not in hit:
            hit["timer"] = threading.Timer(0.5, interrupt)
            hit["timer"].start()

    settings = VflSettings(
        key_bits=1024, epochs=30, cv_folds=1, shapley=False, party_timeout_s=TIMEOUT
    )
    with pytest.raises(KeyboardInterrupt):
        run_vfl("breast", tmp_path, settings=settings, on_event=on_event)
    assert time.monotonic() - hit["at"] <= SLACK  # the parties were busy: terminated
    _assert_nothing_left(hit["tree"])
