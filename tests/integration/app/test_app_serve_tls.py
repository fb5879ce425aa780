"""``fedmarket serve`` over mutual TLS, its own chain channel over mutual TLS too.

The command runs as a subprocess, configured as in a deployment: the API's certificate on the
command line (``--tls-cert/--tls-key``, ``--tls-ca`` to require client certificates), and the
process's client identity for the chain node in ``FEDMARKET_TLS_*``; anvil sits behind a
TLS-terminating proxy that requires a client certificate.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from chain import RpcBackend
from kernel.tls import TlsConfig
from marketplace_api import MarketplaceClient
from marketplace_api.errors import MarketplaceConnectionError
from tests.integration.marketplace_api.market_world import make_world
from tests.support.tls import CertificateFiles, TlsProxy, issue_certificates

pytestmark = [pytest.mark.slow, pytest.mark.rpc]

START_TIMEOUT = 60.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _environment(
    chain_url: str, certs: CertificateFiles, tmp_path: Path, anvil: str
) -> dict[str, str]:
    world = make_world(RpcBackend(anvil), tmp_path / "store")
    relayer = world.funded()
    return {
        **os.environ,
        "FEDMARKET_API_RELAYER_KEY": "0x" + bytes(relayer.key).hex(),
        "FEDMARKET_API_CHAIN_URL": chain_url,
        "FEDMARKET_API_DEPLOYMENT_FILE": str(world.deployment.save(tmp_path / "deployment.json")),
        "FEDMARKET_API_DATABASE_URL": f"sqlite:///{tmp_path / 'served.db'}",
        "FEDMARKET_API_STORE_DIR": str(tmp_path / "store"),
        "FEDMARKET_TLS_CA": str(certs.ca),
        "FEDMARKET_TLS_CERT": str(certs.client_cert),
        "FEDMARKET_TLS_KEY": str(certs.client_key),
    }


def _wait_healthy(process: subprocess.Popen[bytes], url: str, tls: TlsConfig) -> dict[str, object]:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            with MarketplaceClient(url, tls=tls, timeout=5) as api:
                return api.health()
        except MarketplaceConnectionError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.fixture
def served(
    anvil_url: str, tmp_path: Path
) -> Iterator[tuple[str, CertificateFiles, dict[str, object]]]:
    """``fedmarket serve --tls-cert --tls-key --tls-ca`` on a free port; its URL and health."""
    certs = issue_certificates(tmp_path / "tls")
    with TlsProxy(anvil_url, certs.mutual_server_config.server_context()) as chain:
        port = _free_port()
        command = [sys.executable, "-m", "fedmarket", "serve", "--port", str(port)]
        command += ["--tls-cert", str(certs.server_cert), "--tls-key", str(certs.server_key)]
        command += ["--tls-ca", str(certs.ca), "--no-access-log"]
        env = _environment(chain.url, certs, tmp_path, anvil_url)
        process = subprocess.Popen(command, env=env, cwd=tmp_path, stderr=subprocess.PIPE)
        try:
            url = f"https://127.0.0.1:{port}"
            yield url, certs, _wait_healthy(process, url, certs.mutual_client_config)
        finally:
            process.terminate()
            _, stderr = process.communicate(timeout=15)
            print(stderr.decode(errors="replace")[-3000:])  # noqa: T201 - shown on failure


def test_serve_over_mutual_tls(served: tuple[str, CertificateFiles, dict[str, object]]) -> None:
    url, certs, health = served
    assert health["status"] == "ok"
    chain = health["chain"]
    assert isinstance(chain, dict) and chain["backend"] == "json-rpc"  # over TLS to the proxy

    # uvicorn drops a client without a certificate before its alert is read: no reason to match
    with (
        MarketplaceClient(url, tls=certs.client_config) as api,
        pytest.raises(MarketplaceConnectionError, match="cannot reach"),
    ):
        api.health()
    with (
        MarketplaceClient(url, tls=TlsConfig(ca_file=certs.other_ca)) as api,
        pytest.raises(MarketplaceConnectionError, match="not accepted"),
    ):
        api.health()
    plain = url.replace("https://", "http://")
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{plain}/health", timeout=5)
