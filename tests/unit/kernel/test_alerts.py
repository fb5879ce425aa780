"""The breach hook delivers to a real local web server and a real command, and never raises.

Also checked here: the detection points wired in storage (a CID mismatch, a ciphertext opened
with the wrong key, a tampered access log) fire the configured hook.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from kernel.alerts import (
    COMMAND_ENV,
    WEBHOOK_ENV,
    AlertHook,
    BreachAlert,
    raise_alert,
    scrub,
)
from storage import LocalCidStore
from storage.access_log import AccessLog
from storage.errors import ContentIntegrityError, SealedDataError
from storage.sealing import new_content_key, open_sealed, seal


class Receiver:
    """A local HTTP server that keeps what is POSTed to it."""

    def __init__(self, status: int = 200) -> None:
        self.bodies: list[dict[str, object]] = []
        self.paths: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers["Content-Length"])
                receiver.bodies.append(json.loads(self.rfile.read(length)))
                receiver.paths.append(self.path)
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook/s3cr3t-token"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.close()


@pytest.fixture(autouse=True)
def no_hook_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(WEBHOOK_ENV, raising=False)
    monkeypatch.delenv(COMMAND_ENV, raising=False)


def writer(target: Path) -> str:
    """A command that copies its stdin into ``target``."""
    script = f"import sys; open({str(target)!r}, 'wb').write(sys.stdin.buffer.read())"
    return f"{sys.executable} -c {json.dumps(script)}"


def test_the_webhook_receives_the_alert_as_json(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    hook = AlertHook(webhook=receiver.url, timeout_s=5)
    with caplog.at_level(logging.WARNING):
        alert = raise_alert("tampered_log", "seq 4 edited", source="tests", hook=hook)
    assert receiver.bodies == [
        {"kind": "tampered_log", "detail": "seq 4 edited", "time": alert.time, "source": "tests",
         "version": 1}
    ]  # fmt: skip
    assert receiver.paths == ["/hook/s3cr3t-token"]
    assert "tampered_log" in caplog.text and "s3cr3t" not in caplog.text


def test_the_command_gets_the_alert_on_stdin(tmp_path: Path) -> None:
    target = tmp_path / "alert.json"
    hook = AlertHook.from_env({COMMAND_ENV: writer(target)})
    assert hook.fire(BreachAlert("unexpected_key_use", "wrong key", 12.5, "tests"))
    expected = {"kind": "unexpected_key_use", "detail": "wrong key", "time": 12.5,
                "source": "tests", "version": 1}  # fmt: skip
    assert json.loads(target.read_text()) == expected


def test_failing_hooks_are_logged_and_never_raise(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    closed = Receiver()
    url = closed.url
    closed.close()  # nothing listens there any more
    failing = AlertHook(webhook=url, command=("false",), timeout_s=2)
    with caplog.at_level(logging.ERROR):
        assert not failing.fire(BreachAlert("integrity_failure", "x", 0.0))
        raise_alert("integrity_failure", "x", hook=failing)
        raise_alert("integrity_failure", "x", hook=AlertHook(command=("/no/such/command",)))
        raise_alert("integrity_failure", "x", hook=AlertHook(webhook="ftp://example.org/h"))
    assert "webhook http://127.0.0.1 failed" in caplog.text
    assert "exited 1" in caplog.text
    assert "not an http(s) URL" in caplog.text
    assert "s3cr3t" not in caplog.text


def test_a_server_error_counts_as_a_failed_delivery() -> None:
    angry = Receiver(status=500)
    try:
        assert not AlertHook(webhook=angry.url, timeout_s=5).fire(
            BreachAlert("tampered_log", "x", 0)
        )
        assert len(angry.bodies) == 1
    finally:
        angry.close()


def test_secrets_in_the_environment_are_blanked_out_of_the_detail() -> None:
    key = "0x" + "ab" * 32
    env = {"FEDMARKET_PARTICIPANT_KEY": key, "HOME": "/home/someone-long"}
    text = f"opened with {key} and {key[2:]}\n in /home/someone-long"
    assert scrub(text, env) == "opened with [redacted] and [redacted] in /home/someone-long"
    assert len(scrub("y" * 5000, {})) == 1000


def test_an_unknown_kind_is_reported_as_an_integrity_failure() -> None:
    alert = raise_alert("weird", "x", hook=AlertHook())  # type: ignore[arg-type]
    assert alert.kind == "integrity_failure"


def test_storage_detection_points_fire_the_configured_hook(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, receiver: Receiver
) -> None:
    monkeypatch.setenv(WEBHOOK_ENV, receiver.url)
    store = LocalCidStore(tmp_path / "cas")
    cid = store.put(b"genuine")
    store.path_of(cid).write_bytes(b"swapped")
    with pytest.raises(ContentIntegrityError):
        store.get(cid)
    envelope = seal(b"secret rows", new_content_key(), purpose="p")
    with pytest.raises(SealedDataError):
        open_sealed(envelope, new_content_key(), purpose="p")
    log = AccessLog(tmp_path / "log", durable=False)
    for i in range(3):
        log.append("0xa", "get", f"c{i}", "p")
    segment = log.segments()[0]
    segment.write_text(segment.read_text().replace('"c1"', '"c9"'))
    assert not log.verify().ok
    assert [b["kind"] for b in receiver.bodies] == [
        "integrity_failure",
        "unexpected_key_use",
        "tampered_log",
    ]
    assert [b["source"] for b in receiver.bodies] == [
        "storage.base",
        "storage.sealing",
        "storage.access_log",
    ]
