"""Flower's deployment engine on 127.0.0.1: a SuperLink, SuperNodes and ``flwr run``, as processes.

Each process runs from this environment (runtime dependency installation off: the app's
dependencies are fedmarket's own), with ``FLWR_HOME`` in the test's folder, on free ports, its
output in a log file the failure message quotes; :class:`FlowerDeployment` stops them all.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

BIN = Path(sys.executable).parent


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, timeout: float) -> bool:
    """Whether something accepts connections on ``port`` within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.2)
    return False


@dataclass
class FlowerDeployment:
    """Processes of one deployment, their logs, and their environment."""

    folder: Path
    env: dict[str, str]
    processes: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        """Start ``BIN/args[0] args[1:]`` in its own process group, logging to ``name.log``."""
        log = (self.folder / f"{name}.log").open("wb")
        process = subprocess.Popen(
            [str(BIN / args[0]), *args[1:]],
            env=self.env,
            cwd=self.folder,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes.append((name, process))
        return process

    def run(self, name: str, *args: str, timeout: float) -> subprocess.CompletedProcess[bytes]:
        """Run ``BIN/args[0]`` to completion (output in ``name.log``)."""
        with (self.folder / f"{name}.log").open("wb") as log:
            return subprocess.run(
                [str(BIN / args[0]), *args[1:]],
                env=self.env,
                cwd=self.folder,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                check=False,
            )

    def logs(self, tail: int = 3000) -> str:
        """The end of every log, for failure messages."""
        parts = []
        for path in sorted(self.folder.glob("*.log")):
            parts.append(f"---- {path.name}\n{path.read_text(errors='replace')[-tail:]}")
        return "\n".join(parts)

    def stop(self) -> None:
        """SIGTERM every process group, then SIGKILL what is left after 10 s."""
        for _, process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for _, process in self.processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)


def start_deployment(
    folder: Path, env: Mapping[str, str], partitions: int
) -> tuple[FlowerDeployment, int]:
    """A SuperLink and ``partitions`` SuperNodes; the deployment and the SuperLink's port."""
    folder.mkdir(parents=True, exist_ok=True)
    home = folder / "flwr-home"
    home.mkdir(exist_ok=True)
    deployment = FlowerDeployment(folder, {**env, "FLWR_HOME": str(home)})
    link = free_port()
    deployment.start(
        "superlink",
        "flower-superlink",
        "--insecure",
        "--disable-runtime-dependency-installation",
        "--port",
        str(link),
    )
    if not wait_for_port(link, 60):
        deployment.stop()
        raise RuntimeError(f"the SuperLink did not listen on {link}\n{deployment.logs()}")
    for partition in range(partitions):
        deployment.start(
            f"supernode-{partition}",
            "flower-supernode",
            "--insecure",
            "--superlink",
            f"127.0.0.1:{link}",
            "--port",
            str(free_port()),
            "--node-config",
            f"partition-id={partition} num-partitions={partitions}",
        )
    (home / "config.toml").write_text(
        f'[superlink]\ndefault = "local"\n\n[superlink.local]\n'
        f'address = "127.0.0.1:{link}"\ninsecure = true\n'
    )
    return deployment, link


def app_copy(source: Path, folder: Path) -> Path:
    """The app's folder copied to ``folder`` (``flwr run`` builds its FAB there)."""
    target = folder / source.name
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target
