"""The dataset registry: verified local files, and a real download from an HTTP server."""

import hashlib
import http.server
import threading

import pytest

from fl_node.data import registry
from fl_node.errors import DataError, DataIntegrityError, DataUnavailableError
from tests.support.services import unavailable


@pytest.fixture
def served(tmp_path):
    """A local HTTP server serving one file; yields (url, bytes)."""
    payload = b"id,y,x0\n1,0,0.5\n"
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "tiny.csv").write_bytes(payload)
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(  # noqa: E731
        *a, directory=str(tmp_path / "www"), **k
    )
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/tiny.csv", payload
    server.shutdown()


def register(monkeypatch, url, sha):
    entry = registry.DatasetEntry(
        "tiny", (registry.RemoteFile("tiny.csv", url, sha, 16),), "CC0", "test"
    )
    monkeypatch.setitem(registry.REGISTRY, "tiny", entry)


def test_download_once_then_verify_from_cache(monkeypatch, tmp_path, served):
    url, payload = served
    monkeypatch.setenv("FEDMARKET_DATA_DIR", str(tmp_path / "cache"))
    register(monkeypatch, url, hashlib.sha256(payload).hexdigest())
    path = registry.fetch("tiny")["tiny.csv"]
    assert path.read_bytes() == payload
    assert registry.fetch("tiny", download=False)["tiny.csv"] == path
    path.write_bytes(b"tampered")
    with pytest.raises(DataIntegrityError, match="sha256"):
        registry.fetch("tiny")


def test_download_with_the_wrong_hash_is_refused(monkeypatch, tmp_path, served):
    url, _ = served
    monkeypatch.setenv("FEDMARKET_DATA_DIR", str(tmp_path / "cache"))
    register(monkeypatch, url, "0" * 64)
    with pytest.raises(DataIntegrityError, match="pinned sha256"):
        registry.fetch("tiny")
    assert not (tmp_path / "cache" / "tiny" / "tiny.csv").exists()


def test_missing_file_without_download_and_unknown_names(monkeypatch, tmp_path):
    monkeypatch.setenv("FEDMARKET_DATA_DIR", str(tmp_path))
    with pytest.raises(DataUnavailableError, match="missing"):
        registry.fetch("fate_breast_hetero", download=False)
    with pytest.raises(DataError, match="unknown dataset"):
        registry.fetch("nope")


def test_configured_copy_verifies():
    try:
        paths = registry.fetch("fate_breast_hetero")
    except DataUnavailableError as exc:
        unavailable(str(exc))
    assert set(paths) == {"breast_hetero_guest.csv", "breast_hetero_host.csv"}
