"""A marketplace API in a process of its own, over an in-process chain: what an attacker reaches.

A crash of this server (a segmentation fault) ends its process, not the test's, so the tests can
see it die. Run it by hand with::

    python -m tests.integration.marketplace_api.live_server PORT FOLDER
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import uvicorn

READY_S = 120.0


def free_port() -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main(port: int, folder: Path) -> None:
    """Deploy the contracts on an in-process chain and serve the API on ``port`` until killed."""
    from chain import InProcessBackend
    from marketplace_api import Services, create_app
    from tests.integration.marketplace_api.market_world import make_world

    world = make_world(InProcessBackend(), folder / "store")
    services = Services.embedded(
        backend=world.backend,
        deployment=world.deployment,
        relayer=world.relayer,
        store=world.store,
        database_url=f"sqlite:///{folder / 'market.db'}",
    )
    uvicorn.run(create_app(services=services), host="127.0.0.1", port=port, log_level="warning")


@contextmanager
def live_server(folder: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Start the server in a child process; yield its URL and the process once it answers."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", __name__, str(port), str(folder)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + READY_S
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the server exited: {process.stderr.read()!r}")  # type: ignore[union-attr]
            try:
                httpx.get(f"{url}/health", timeout=2).raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield url, process
    finally:
        process.kill()
        process.wait(timeout=30)


if __name__ == "__main__":
    main(int(sys.argv[1]), Path(sys.argv[2]))
