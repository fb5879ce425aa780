"""A consortium split over two ``fedmarket up --only`` processes, as deploy/compose.yaml runs it.

One ``up`` runs the chain, IPFS and PostgreSQL on this machine's own (non-loopback, where it has
one) address; another runs only the API, pointed at them with ``--rpc``, ``--ipfs-api``,
``--deployment`` and ``FEDMARKET_API_DATABASE_URL``: its relayer key is made and funded, the
database is reached over TCP with its password, and ``/health`` is 200 with the first one's
contracts. Both stop on SIGTERM with nothing left behind.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from chain import Deployment
from fedmarket.consortium.postgres import database_url
from tests.integration.consortium.up_process import (
    Up,
    consortium_folder,
    descendants,
    free_ports,
    require_services,
)

pytestmark = [pytest.mark.slow, pytest.mark.rpc, pytest.mark.postgres]


def own_address() -> str:
    """The machine's address on its default route, else 127.0.0.1 (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(("10.255.255.255", 1))
            return str(sock.getsockname()[0])
        except OSError:
            return "127.0.0.1"


@pytest.fixture
def folder() -> Iterator[Path]:
    require_services()
    made = consortium_folder()
    yield made
    shutil.rmtree(made, ignore_errors=True)


def test_an_api_only_up_serves_over_services_of_another_up(folder: Path) -> None:
    host = own_address()
    ports = free_ports(4)
    services = Up(folder / "services", ports, only="chain,ipfs,postgres", extra=["--host", host])
    api: Up | None = None
    try:
        ready = services.ready()
        assert ready["rpc"] == f"http://{host}:{ports[0]}"
        password = Path(ready["database_password_file"]).read_text().strip()
        env = dict(os.environ)
        env["FEDMARKET_API_DATABASE_URL"] = database_url(
            user="fedmarket", host=host, port=ports[2], database="fedmarket", password=password
        )
        extra = ["--rpc", ready["rpc"], "--ipfs-api", ready["ipfs_api"]]
        extra += ["--deployment", ready["deployment"]]
        api = Up(folder / "api", ports, only="api", extra=extra, env=env)
        served = api.ready()
        assert served["services"] == ["api"] and served["database_url"] is None
        health = httpx.get(f"{served['api']}/health", timeout=10).json()
        assert health["status"] == "ok" and health["database"] == "ok", health
        assert health["contracts"]["market"] == Deployment.load(ready["deployment"]).market
        assert (folder / "api" / "api" / "relayer.key").stat().st_mode & 0o777 == 0o600
        for up in (api, services):
            tree = descendants(up.proc.pid)
            up.proc.send_signal(signal.SIGTERM)
            assert up.wait() == 0, up.stderr()[-3000:]
            up.assert_nothing_left(tree)
    finally:
        for up in (api, services):
            if up is not None:
                up.stop()
