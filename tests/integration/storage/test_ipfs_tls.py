"""IpfsStore over https: the js-ipfs daemon behind a TLS-terminating proxy, real certificates."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from kernel.tls import TlsConfig
from storage import IpfsStore
from storage.errors import StoreUnavailableError
from tests.integration.storage.conftest import LOOKUP_TIMEOUT, TEST_RETRY
from tests.support.ipfs import IpfsDaemon
from tests.support.tls import CertificateFiles, TlsProxy, issue_certificates

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> CertificateFiles:
    return issue_certificates(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def mutual_url(ipfs_daemon: IpfsDaemon, certs: CertificateFiles) -> Iterator[str]:
    """The daemon's RPC API behind mutual TLS."""
    with TlsProxy(ipfs_daemon.api_url, certs.mutual_server_config.server_context()) as proxy:
        yield proxy.url


def _store(url: str, tls: TlsConfig) -> IpfsStore:
    return IpfsStore(url, retry=TEST_RETRY, lookup_timeout=LOOKUP_TIMEOUT, tls=tls)


def test_ipfs_over_mutual_tls_puts_and_gets(mutual_url: str, certs: CertificateFiles) -> None:
    with _store(mutual_url, certs.mutual_client_config) as store:
        data = b"sealed over TLS " * 1000
        cid = store.put(data)
        assert store.get(cid) == data


@pytest.mark.parametrize("case", ["another CA", "no client certificate"])
def test_ipfs_over_tls_fails_at_once_with_the_tls_reason(
    mutual_url: str, certs: CertificateFiles, case: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="storage.ipfs")
    tls = TlsConfig(ca_file=certs.other_ca) if case == "another CA" else certs.client_config
    expected = "not accepted" if case == "another CA" else "requires a client certificate"
    with _store(mutual_url, tls) as store, pytest.raises(StoreUnavailableError, match=expected):
        store.version()
    assert not [r for r in caplog.records if "try" in r.getMessage()]  # not retried
