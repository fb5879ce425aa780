"""RpcBackend over https: anvil behind a TLS-terminating proxy, with real certificates."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account

from chain import RpcBackend
from chain.backends import _request_kwargs
from chain.errors import ChainConnectionError
from kernel.errors import ConfigurationError, ServiceUnavailableError
from kernel.tls import TlsConfig
from tests.support.tls import CertificateFiles, TlsProxy, issue_certificates

pytestmark = [pytest.mark.slow, pytest.mark.rpc]


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> CertificateFiles:
    return issue_certificates(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def https_url(anvil_url: str, certs: CertificateFiles) -> Iterator[str]:
    """The session anvil behind TLS, no client certificate required."""
    with TlsProxy(anvil_url, certs.server_config.server_context()) as proxy:
        yield proxy.url


@pytest.fixture(scope="module")
def mutual_url(anvil_url: str, certs: CertificateFiles) -> Iterator[str]:
    """The session anvil behind mutual TLS: client certificates signed by the CA required."""
    with TlsProxy(anvil_url, certs.mutual_server_config.server_context()) as proxy:
        yield proxy.url


def _send_ether(backend: RpcBackend) -> None:
    """Send 1 wei from the faucet to a fresh address and check that it arrived."""
    faucet = backend.faucet_account()
    assert faucet is not None
    w3 = backend.w3
    to = Account.create().address
    tx = {
        "to": to,
        "value": 1,
        "gas": 21_000,
        "gasPrice": w3.eth.gas_price,
        "nonce": w3.eth.get_transaction_count(faucet.address, "pending"),
        "chainId": backend.chain_id,
    }
    tx_hash = w3.eth.send_raw_transaction(faucet.sign_transaction(tx).raw_transaction)
    assert w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)["status"] == 1
    assert w3.eth.get_balance(to) == 1


def test_rpc_over_https_with_the_ca_reads_and_sends(
    https_url: str, certs: CertificateFiles
) -> None:
    backend = RpcBackend(https_url, tls=certs.client_config)
    assert backend.chain_id == 31337
    number, block_hash = backend.head()
    assert number >= 0 and len(block_hash) == 32
    _send_ether(backend)


@pytest.mark.parametrize("who", ["no CA (system trust store)", "another CA"])
def test_rpc_over_https_refuses_an_untrusted_server(
    https_url: str, certs: CertificateFiles, who: str
) -> None:
    tls = TlsConfig() if who.startswith("no CA") else TlsConfig(ca_file=certs.other_ca)
    with pytest.raises(ChainConnectionError, match="certificate was not accepted") as exc:
        RpcBackend(https_url, tls=tls)
    assert isinstance(exc.value, ServiceUnavailableError)
    assert https_url in str(exc.value)


def test_mutual_tls_rpc_needs_the_client_certificate(
    mutual_url: str, certs: CertificateFiles
) -> None:
    with pytest.raises(ChainConnectionError, match="requires a client certificate"):
        RpcBackend(mutual_url, tls=certs.client_config)
    backend = RpcBackend(mutual_url, tls=certs.mutual_client_config)
    _send_ether(backend)


def test_rpc_tls_settings_come_from_the_environment(
    https_url: str, certs: CertificateFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FEDMARKET_TLS_CA", str(certs.ca))
    assert RpcBackend(https_url).chain_id == 31337
    monkeypatch.setenv("FEDMARKET_TLS_CA", str(certs.other_ca))
    with pytest.raises(ChainConnectionError):
        RpcBackend(https_url)


def test_a_missing_certificate_file_is_a_configuration_error(
    https_url: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigurationError, match="FEDMARKET_TLS_CA"):
        RpcBackend(https_url, tls=TlsConfig(ca_file=tmp_path / "absent.pem"))


def test_plain_http_off_this_machine_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="kernel.tls")
    remote = "http://192.0.2.7:8545"  # TEST-NET-1: never routed
    for _ in range(2):
        assert _request_kwargs(remote, 1.0, TlsConfig()) == {"timeout": 1.0}
    _request_kwargs("http://127.0.0.1:8545", 1.0, TlsConfig())
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1
    assert "chain RPC" in warnings[0] and "UNENCRYPTED" in warnings[0] and remote in warnings[0]
