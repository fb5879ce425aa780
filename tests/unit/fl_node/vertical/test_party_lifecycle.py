"""The orchestrator's side of liveness: a party silent on its pipe is named, and nothing survives.

The "parties" here are small spawned processes running the real pieces a party runs (its
:class:`ControlPipe` and :class:`Heartbeat`), so each case takes a second, not a full run;
``tests/integration/fl_node/vertical/test_vfl_liveness.py`` does the same with real runs.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import time
from collections import deque
from multiprocessing.connection import Connection

import pytest

from fl_node.vertical.runner import PartyStalledError, PartyTimeoutError
from fl_node.vertical.runner._lifecycle import (
    ControlPipe,
    alive,
    descendants,
    process_state,
    stop_processes,
)
from fl_node.vertical.runner._process import PartyProcesses
from fl_node.vertical.transport import Heartbeat

CTX = multiprocessing.get_context("spawn")


def _beating_party(conn: Connection, interval: float) -> None:
    """Beat on the pipe like a party, and wait for a job that never comes."""
    pipe = ControlPipe(conn)
    with Heartbeat(interval) as beat:
        beat.add(pipe.beat)
        conn.recv()


def _stubborn_party(conn: Connection) -> None:
    """Ignore SIGTERM and leave a child behind that ignores its parent's death."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    child = subprocess.Popen(["sleep", "60"])
    conn.send(child.pid)
    time.sleep(60)


@pytest.mark.slow
def test_a_party_silent_on_its_pipe_is_named_within_the_timeout() -> None:
    parent, child = CTX.Pipe()
    proc = CTX.Process(target=_beating_party, args=(child, 0.25), name="vfl-host")
    proc.start()
    child.close()
    assert parent.poll(30)  # the first heartbeat (left in the pipe)
    procs = PartyProcesses({}, party_timeout=1.0, grace=1.0)
    procs._procs, procs._pipes = {"host": proc}, {"host": parent}
    procs._inbox, procs._seen = {"host": deque()}, {"host": time.monotonic()}
    try:
        # alive (heartbeats): only the job's own deadline ends the wait, after 2x the timeout
        with pytest.raises(PartyTimeoutError, match="host: no 'result' within 2 s") as waited:
            procs._expect("host", "result", 2.0)
        assert not isinstance(waited.value, PartyStalledError)
        assert proc.pid is not None
        os.kill(proc.pid, signal.SIGSTOP)
        stopped = time.monotonic()
        with pytest.raises(PartyStalledError) as caught:
            procs._expect("host", "result", 30.0)
        assert time.monotonic() - stopped <= 1.0 + 0.6
        assert caught.value.party == "host"
        assert str(caught.value).startswith("host stopped answering: no heartbeat on its control")
        assert str(caught.value).endswith("its process is stopped")
        assert process_state(proc.pid) == "stopped"
    finally:
        procs.close(abort=True)
    assert proc.exitcode == -signal.SIGTERM  # continued, then the SIGTERM ended it
    assert not alive(proc.pid)


@pytest.mark.slow
def test_shutdown_escalates_to_sigkill_and_reaps_what_the_party_left() -> None:
    parent, child = CTX.Pipe()
    proc = CTX.Process(target=_stubborn_party, args=(child,), name="vfl-guest")
    proc.start()
    assert parent.poll(30)
    grandchild = parent.recv()
    assert proc.pid is not None and grandchild in descendants(proc.pid)
    os.kill(proc.pid, signal.SIGSTOP)  # stopped, and deaf to SIGTERM once continued
    started = time.monotonic()
    stop_processes({"guest": proc}, wait=0.0, grace=0.5)
    assert time.monotonic() - started < 5.0
    assert proc.exitcode == -signal.SIGKILL
    assert not alive(proc.pid) and not alive(grandchild)


def test_liveness_errors_travel_whole_and_map_to_their_exit_codes() -> None:
    import pickle

    from fedmarket.cli.errors import exit_code
    from fl_node.vertical.runner import PartyCrashedError
    from fl_node.vertical.transport import PeerSilentError

    silent = PeerSilentError("host stopped", peer="host", silent_for=2.5)
    silent = pickle.loads(pickle.dumps(silent))
    assert (silent.peer, silent.silent_for, str(silent)) == ("host", 2.5, "host stopped")
    stalled = pickle.loads(pickle.dumps(PartyStalledError("host stopped", party="host")))
    assert stalled.party == "host" and isinstance(stalled, PartyTimeoutError)
    crashed = pickle.loads(pickle.dumps(PartyCrashedError("host exited", party="host")))
    assert crashed.party == "host"
    assert [exit_code(e) for e in (silent, stalled, crashed)] == [8, 8, 3]
