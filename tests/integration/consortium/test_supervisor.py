"""The supervisor's parts on small real processes (``sh``, ``sleep``): no service needed, ~seconds.

- a process that ignores its stop signal is killed after its grace period, and whatever it left
  in its process group goes with it;
- services start in order and stop in reverse; one that fails its health check in time stops the
  ones already started (:class:`ServiceTimeoutError`, exit 8), one that exits while starting is a
  :class:`ServiceStartError` naming its log;
- a port in use is refused before anything starts; a folder held by another ``up`` is refused;
- bad options are exit 2 with one line.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fedmarket.cli.errors import exit_code
from fedmarket.consortium import (
    ConsortiumBusyError,
    ConsortiumConfig,
    ConsortiumConfigError,
    HealthCheck,
    ManagedProcess,
    Ports,
    ProcessSpec,
    Service,
    ServiceStartError,
    ServiceTimeoutError,
    Supervisor,
)
from fedmarket.consortium.config import hold

ROOT = Path(__file__).resolve().parents[3]


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_a_process_ignoring_its_stop_signal_is_killed_with_its_group(tmp_path: Path) -> None:
    script = "trap '' TERM; sleep 300 & echo $! > child; wait"
    argv = ("sh", "-c", script)
    spec = ProcessSpec("stubborn", argv, log=tmp_path / "log", cwd=tmp_path, stop_timeout=0.5)
    process = ManagedProcess(spec).start()
    deadline = time.monotonic() + 10
    while not (tmp_path / "child").exists() or not (tmp_path / "child").read_text().strip():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    grandchild = int((tmp_path / "child").read_text())
    began = time.monotonic()
    assert process.stop() == -signal.SIGKILL
    assert 0.5 <= time.monotonic() - began < 10
    deadline = time.monotonic() + 5
    while alive(grandchild):  # sleep ignored nothing: the group's SIGKILL took it
        assert time.monotonic() < deadline, "the grandchild outlived the stop"
        time.sleep(0.05)
    assert "start: sh -c" in (tmp_path / "log").read_text()


def _service(name: str, tmp_path: Path, probe_file: Path, order: list[str]) -> Service:
    script = f"echo started >> {tmp_path / 'events'}; trap 'echo {name} >> {tmp_path / 'events'}; exit 0' TERM; while :; do sleep 0.05; done"  # noqa: E501

    def probe() -> None:
        if not probe_file.exists():
            raise ServiceStartError(f"{name}: not yet")
        order.append(name)

    spec = ProcessSpec(name, ("sh", "-c", script), log=tmp_path / f"{name}.log", stop_timeout=5)
    return Service(spec, HealthCheck(f"{name} file", probe), "127.0.0.1", 0, startup_timeout=1.5)


def test_services_start_in_order_and_a_failing_health_check_stops_the_started_ones(
    tmp_path: Path,
) -> None:
    ok = tmp_path / "ok"
    ok.touch()
    order: list[str] = []
    services = [
        _service("first", tmp_path, ok, order),
        _service("second", tmp_path, ok, order),
        _service("never", tmp_path, tmp_path / "missing", order),
    ]
    supervisor = Supervisor(services)
    with pytest.raises(ServiceTimeoutError, match=r"never not healthy after 1.5s") as raised:
        supervisor.run(lambda pids: pytest.fail("not every service was healthy"))
    assert exit_code(raised.value) == 8
    assert order == ["first", "second"]
    events = (tmp_path / "events").read_text().split()
    assert events[:3] == ["started"] * 3
    assert events[3:] == ["never", "second", "first"]  # stopped in reverse order
    assert supervisor.pids == {}


def test_a_service_exiting_while_starting_names_its_log(tmp_path: Path) -> None:
    spec = ProcessSpec("broken", ("sh", "-c", "echo cannot bind >&2; exit 4"), log=tmp_path / "b")

    def never() -> None:
        raise ServiceStartError("not yet")

    check = HealthCheck("never", never)
    supervisor = Supervisor([Service(spec, check, "127.0.0.1", 0)])
    with pytest.raises(ServiceStartError, match=r"broken exited while starting \(status 4\)") as e:
        supervisor.run(lambda pids: None)
    assert "cannot bind" in str(e.value) and str(tmp_path / "b") in str(e.value)
    assert exit_code(e.value) == 3


def test_a_port_in_use_is_refused_before_anything_starts(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        spec = ProcessSpec("x", ("sleep", "30"), log=tmp_path / "x")
        service = Service(spec, HealthCheck("x", lambda: None), "127.0.0.1", port)
        with pytest.raises(ConsortiumConfigError, match=f"127.0.0.1:{port} is already in use"):
            Supervisor([service]).run(lambda pids: None)
    assert not (tmp_path / "x").exists()  # never started


def test_a_folder_held_by_another_up_is_refused(tmp_path: Path) -> None:
    with hold(tmp_path), pytest.raises(ConsortiumBusyError, match=f"pid {os.getpid()}") as e:
        with hold(tmp_path):
            pass
    assert exit_code(e.value) == 5
    with hold(tmp_path):  # released
        pass


@pytest.mark.parametrize(
    ("only", "ports", "message"),
    [
        (("chain", "bogus"), Ports(), "unknown service"),
        ((), Ports(), "unknown service"),
        (("chain", "api"), Ports(chain=9000, api=9000), "its own port"),
    ],
)
def test_bad_options_are_configuration_errors(
    tmp_path: Path, only: tuple[str, ...], ports: Ports, message: str
) -> None:
    with pytest.raises(ConsortiumConfigError, match=message) as e:
        ConsortiumConfig(tmp_path, only=only, ports=ports)
    assert exit_code(e.value) == 2


def test_up_with_an_unknown_service_exits_2_with_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "fedmarket", "up", "--dir", str(tmp_path), "--only", "chain,web"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: only: unknown service(s) web; choose among chain, ipfs, postgres, api"
    ]
