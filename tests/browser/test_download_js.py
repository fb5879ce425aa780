"""download.js and keccak.js in Debian's Chromium, against the Python that made the bytes.

The static folder is served on 127.0.0.1 (a secure context, so WebCrypto is there) by a small
HTTP server; Playwright's sync API drives conftest's ``chromium`` (no demo is run). Checked:
keccak-256 against eth_utils on known vectors, every length around the 136-byte block and a
megabyte; EIP-55, the purpose and the key context against the server's functions; the P-256
unwrap and the envelope open against :func:`storage.sealing.wrap_key_p256` and
:func:`storage.sealing.seal`, with a changed byte and a wrong context refused; and
``downloadItem`` end to end against routes answered by the server's own message, signature check
and wrap (an EIP-1193 provider backed by a test key signs), with a wrong hash, a text that is not
a browser-key text and a refused signature reported as readable errors.
"""

from __future__ import annotations

import functools
import json
import os
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import keccak, to_checksum_address

pytest.importorskip("playwright.sync_api")
from playwright.sync_api import Browser, Page, Route  # noqa: E402

from kernel.errors import FedmarketError  # noqa: E402
from marketplace_api.content import ArtifactRef, browser_key_context, browser_key_message  # noqa: E402
from marketplace_api.content.browser import check_browser_signature  # noqa: E402
from storage.sealing import new_content_key, seal, wrap_key_p256  # noqa: E402

pytestmark = pytest.mark.slow

STATIC = Path(__file__).resolve().parents[2] / "marketplace_api" / "web" / "static"
CONTRACT = "0x5fbdb2315678afecb367f032d93f642f64180aa3"
CHAIN_ID = 31337


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """No access log on stderr."""


@pytest.fixture(scope="module")
def origin() -> Iterator[str]:
    """The static folder, served on a free loopback port."""
    handler = functools.partial(_Quiet, directory=str(STATIC))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def page(chromium: Browser, origin: str) -> Iterator[Page]:
    """A page on the static origin, keccak.js and download.js imported as ``k`` and ``d``."""
    context = chromium.new_context()
    tab = context.new_page()
    tab.route(f"{origin}/blank.html", lambda route: route.fulfill(
        status=200, content_type="text/html", body="<!doctype html><title>t</title><body></body>"
    ))  # fmt: skip
    tab.goto(f"{origin}/blank.html")
    tab.evaluate(
        """async () => {
            window.k = await import("/keccak.js");
            window.d = await import("/download.js");
        }"""
    )
    yield tab
    context.close()


def test_keccak_matches_eth_utils(page: Page) -> None:
    vectors = {
        "": "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470",
        "abc": "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45",
    }
    for text, digest in vectors.items():
        assert keccak(text.encode()).hex() == digest
        got = page.evaluate("t => k.keccak256Hex(new TextEncoder().encode(t))", text)
        assert got == "0x" + digest
    samples = [os.urandom(n) for n in (*range(0, 300), 1_000_003)]
    got = page.evaluate(
        "hexes => hexes.map(h => k.keccak256Hex(Uint8Array.from(h.match(/../g) || [],"
        " b => parseInt(b, 16))))",
        [sample.hex() for sample in samples],
    )
    assert got == ["0x" + keccak(sample).hex() for sample in samples]


def test_addresses_purpose_and_context_match_the_server(page: Page) -> None:
    account = Account.create().address.lower()
    for address in (CONTRACT, account, "0x" + "ff" * 20, "0x" + "00" * 20):
        got = page.evaluate("a => d.checksumAddress(a)", address)
        assert got == to_checksum_address(address)
    ref = ArtifactRef("model", CHAIN_ID, to_checksum_address(CONTRACT), 7)
    purpose = page.evaluate("a => d.purposeOf('model', 31337, a, 7)", CONTRACT)
    assert purpose == ref.purpose
    context = page.evaluate("([p, a]) => d.browserKeyContext(p, a)", [purpose, account])
    assert context == browser_key_context(ref, to_checksum_address(account))
    refused = page.evaluate(
        "() => { try { d.checksumAddress('0x12'); } catch (e) { return e.name } }"
    )
    assert refused == "DownloadError"


OPEN = """async ([wrapped, envelope, context, purpose]) => {
    const bytes = h => Uint8Array.from(h.match(/../g), b => parseInt(b, 16));
    try {
        const key = await d.unwrapContentKey(window.bk.privateKey, window.bk.publicKey,
                                             bytes(wrapped), context);
        const plain = await d.openEnvelope(key, bytes(envelope), purpose);
        return {ok: k.toHex(plain)};
    } catch (e) { return {error: e.name + ": " + e.message}; }
}"""


def test_the_browser_opens_what_python_wrapped_and_sealed(page: Page) -> None:
    public_hex = page.evaluate("async () => { window.bk = await d.newBrowserKey(); "
                               "return window.bk.publicKeyHex; }")  # fmt: skip
    extractable = page.evaluate("() => window.bk.privateKey.extractable")
    assert extractable is False and len(public_hex) == 2 + 130 and public_hex.startswith("0x04")
    ref = ArtifactRef("model", CHAIN_ID, to_checksum_address(CONTRACT), 7)
    context = browser_key_context(ref, to_checksum_address(Account.create().address))
    plaintext = os.urandom(70_001)
    key = new_content_key()
    wrapped = wrap_key_p256(key, bytes.fromhex(public_hex[2:]), context=context)
    envelope = seal(plaintext, key, purpose=ref.purpose)

    def run(w: bytes, e: bytes, c: str, p: str) -> dict[str, str]:
        return dict(page.evaluate(OPEN, [w.hex(), e.hex(), c, p]))

    assert run(wrapped, envelope, context, ref.purpose) == {"ok": "0x" + plaintext.hex()}
    for offset in (0, 5, 69, 75, 100, 129):
        bad = bytearray(wrapped)
        bad[offset] ^= 1
        assert "DownloadError" in run(bytes(bad), envelope, context, ref.purpose)["error"]
    for offset in (0, 4, 10, 20, 30, len(envelope) - 1):
        bad = bytearray(envelope)
        bad[offset] ^= 1
        assert "DownloadError" in run(wrapped, bytes(bad), context, ref.purpose)["error"]
    wrong = run(wrapped, envelope, context + "x", ref.purpose)["error"]
    assert "does not open with this browser's key" in wrong
    assert "does not open" in run(wrapped, envelope, context, ref.purpose + "8")["error"]


class FakeService:
    """The two content routes, answered with the server's own message, check and wrap."""

    def __init__(self, account: Any, model_id: int, plaintext: bytes) -> None:
        self.account = account
        self.ref = ArtifactRef("model", CHAIN_ID, to_checksum_address(CONTRACT), model_id)
        self.key = new_content_key()
        self.envelope = seal(plaintext, self.key, purpose=self.ref.purpose)
        self.expires = 2_000_000_000
        self.seen_headers: list[dict[str, str]] = []
        self.other_text: str | None = None

    def message(self, route: Route) -> None:
        self.seen_headers.append(route.request.headers)
        key_hex = route.request.url.split("public_key=")[1].split("&")[0]
        text = browser_key_message(self.account.address, self.ref, bytes.fromhex(key_hex[2:]),
                                   self.expires)  # fmt: skip
        body = {"message": self.other_text or text, "account": self.account.address,
                "public_key": key_hex, "expires": self.expires}  # fmt: skip
        route.fulfill(status=200, content_type="application/json", body=json.dumps(body))

    def grant(self, route: Route) -> None:
        self.seen_headers.append(route.request.headers)
        sent = json.loads(route.request.post_data or "{}")
        point = bytes.fromhex(sent["public_key"][2:])
        text = browser_key_message(self.account.address, self.ref, point, sent["expires"])
        try:
            check_browser_signature(text, sent["signature"], self.account.address)
        except FedmarketError as refused:
            route.fulfill(status=403, content_type="application/json",
                          body=json.dumps({"detail": str(refused)}))  # fmt: skip
            return
        context = browser_key_context(self.ref, self.account.address)
        wrapped = wrap_key_p256(self.key, point, context=context)
        body = {"wrap": "p256-browser-v1", "public_key": sent["public_key"],
                "recipient": self.account.address, "wrapped_key": "0x" + wrapped.hex()}  # fmt: skip
        route.fulfill(status=200, content_type="application/json", body=json.dumps(body))

    def serve(self, page: Page, origin: str) -> None:
        base = f"{origin}/models/{self.ref.item_id}/content"
        page.route(lambda url: url.startswith(f"{base}/browser-message?"), self.message)
        page.route(f"{base}/browser", self.grant)
        page.route(f"{base}/envelope", self.sealed)

    def sealed(self, route: Route) -> None:
        self.seen_headers.append(route.request.headers)
        route.fulfill(status=200, content_type="application/octet-stream", body=self.envelope)


PROVIDER = """account => {
    window.ethereum = {
        request: async ({method, params}) => {
            if (method !== "personal_sign" || params[1] !== account) throw new Error(method);
            if (window.refuse) throw Object.assign(new Error("User rejected"), {code: 4001});
            return await window.pySign(params[0]);
        },
    };
}"""

DOWNLOAD = """async ([account, expectedHash]) => {
    try {
        const {bytes, hash} = await d.downloadItem({provider: window.ethereum, account,
            kind: "model", id: 5, expectedHash, chainId: 31337,
            contract: "0x5FBDB2315678AFECB367F032D93F642F64180AA3",
            token: "fms_test", headers: {"X-Test": "1"}});
        return {hash, hex: k.toHex(bytes)};
    } catch (e) { return {error: e.name + ": " + e.message}; }
}"""


def test_download_item_end_to_end_against_the_servers_checks(page: Page, origin: str) -> None:
    account = Account.create()
    plaintext = os.urandom(5_000)
    service = FakeService(account, 5, plaintext)
    service.serve(page, origin)

    def py_sign(message_hex: str) -> str:
        signed = Account.sign_message(encode_defunct(hexstr=message_hex), account.key)
        return "0x" + bytes(signed.signature).hex()

    page.expose_function("pySign", py_sign)
    page.evaluate(PROVIDER, account.address)
    digest = "0x" + keccak(plaintext).hex()
    done = page.evaluate(DOWNLOAD, [account.address, digest])
    assert done == {"hash": digest, "hex": "0x" + plaintext.hex()}
    assert len(service.seen_headers) == 3  # message, grant, envelope: each with the token
    assert all(h.get("authorization") == "Bearer fms_test" for h in service.seen_headers)
    assert all(h.get("x-test") == "1" for h in service.seen_headers)

    wrong = page.evaluate(DOWNLOAD, [account.address, "0x" + "11" * 32])
    assert "hashes to " + digest in wrong["error"] and "not to 0x1111" in wrong["error"]
    service.other_text = "example.com wants you to sign in with your Ethereum account"
    tricked = page.evaluate(DOWNLOAD, [account.address, digest])
    assert "unexpected text: not signed" in tricked["error"]
    service.other_text = None
    page.evaluate("() => { window.refuse = true; }")
    refused = page.evaluate(DOWNLOAD, [account.address, digest])
    assert refused["error"].startswith("DownloadError: The wallet did not sign")
    assert "rejected" in refused["error"]


def test_save_bytes_hands_the_browser_a_file(page: Page, tmp_path: Path) -> None:
    with page.expect_download() as started:
        page.evaluate("() => d.saveBytes(new Uint8Array([1, 2, 3, 250]), 'model-5.bin')")
    download = started.value
    assert download.suggested_filename == "model-5.bin"
    target = tmp_path / "model-5.bin"
    download.save_as(target)
    assert target.read_bytes() == bytes([1, 2, 3, 250])
