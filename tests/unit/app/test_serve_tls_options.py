"""``fedmarket serve``'s TLS options: checked before uvicorn starts, and the plain-http warning."""

from __future__ import annotations

import logging
import ssl
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fedmarket.cli.app import app
from fedmarket.cli.serve import _tls_options
from kernel.errors import ConfigurationError
from tests.support.tls import CertificateFiles, issue_certificates


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> CertificateFiles:
    return issue_certificates(tmp_path_factory.mktemp("tls"))


def test_certificates_become_uvicorn_options(certs: CertificateFiles) -> None:
    plain = _tls_options("127.0.0.1", certs.server_cert, certs.server_key, None)
    assert plain == {"ssl_certfile": str(certs.server_cert), "ssl_keyfile": str(certs.server_key)}
    mutual = _tls_options("0.0.0.0", certs.server_cert, certs.server_key, certs.ca)
    assert mutual["ssl_ca_certs"] == str(certs.ca)
    assert mutual["ssl_cert_reqs"] == ssl.CERT_REQUIRED


def test_incomplete_or_wrong_certificates_are_refused(
    certs: CertificateFiles, tmp_path: Path
) -> None:
    with pytest.raises(ConfigurationError):
        _tls_options("127.0.0.1", certs.server_cert, None, None)
    with pytest.raises(ConfigurationError, match="needs a certificate"):
        _tls_options("127.0.0.1", None, None, certs.ca)
    with pytest.raises(ConfigurationError, match="cannot load"):
        _tls_options("127.0.0.1", certs.server_cert, certs.client_key, None)


@pytest.mark.parametrize(("host", "warned"), [("127.0.0.1", False), ("0.0.0.0", True)])
def test_plain_http_off_loopback_warns(
    host: str, warned: bool, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="fedmarket.cli.serve")
    assert _tls_options(host, None, None, None) == {}
    messages = [r.getMessage() for r in caplog.records]
    assert bool(messages) is warned
    assert all("UNENCRYPTED" in m and host in m for m in messages)


def test_help_says_so() -> None:
    result = CliRunner().invoke(app, ["serve", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "--tls-cert" in result.output and "--tls-ca" in result.output
    assert "UNENCRYPTED" in result.output
