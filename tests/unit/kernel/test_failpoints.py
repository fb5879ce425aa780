"""Failpoints kill the process only where the environment arms them, on the hit it names."""

from __future__ import annotations

import subprocess
import sys

import pytest

SCRIPT = """
import sys
from kernel.failpoints import failpoint
for i in range(3):
    print("before", i, flush=True)
    failpoint("role.moment")
    failpoint("role.other")
print("done", flush=True)
"""


def run(armed: str | None) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin"}
    if armed is not None:
        env["FEDMARKET_FAILPOINTS"] = armed
    return subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=60,
        cwd=str(__import__("pathlib").Path(__file__).resolve().parents[3]),
    )  # fmt: skip


@pytest.mark.parametrize("armed", [None, "", "role.elsewhere", "role.momentum"])
def test_an_unarmed_point_does_nothing(armed):
    done = run(armed)
    assert done.returncode == 0 and done.stdout.count("before") == 3 and "done" in done.stdout


@pytest.mark.parametrize(
    ("armed", "befores"),
    [("role.moment", 1), ("role.moment@2", 2), ("x.y, role.other@3", 3), ("role.moment@0", 1)],
)
def test_an_armed_point_kills_the_process_outright_on_the_named_hit(armed, befores):
    done = run(armed)
    assert done.returncode == -9  # SIGKILL: no cleanup, like a power cut
    assert done.stdout.count("before") == befores and "done" not in done.stdout
    assert "failpoint role." in done.stderr


def test_a_stop_point_freezes_the_process_until_it_is_continued():
    import signal
    import time

    env = {"PATH": "/usr/bin:/bin", "FEDMARKET_FAILPOINTS": "role.other@2=stop"}
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, cwd=str(__import__("pathlib").Path(__file__).resolve().parents[3]),
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while open(f"/proc/{proc.pid}/stat").read().split()[2] != "T":  # stopped
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)
    proc.send_signal(signal.SIGCONT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and out.count("before") == 3 and "done" in out
    assert "failpoint role.other (hit 2): stop" in err
