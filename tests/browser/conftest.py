"""The browser tests' world: the demo run on anvil, served, and Chromium driven by Playwright.

Module by module the tests share one marketplace: :func:`market` runs ``fedmarket demo``'s story
(three rounds) on a real anvil node and leaves its service running (the demo's ``hold`` hook,
as ``fedmarket demo --serve`` does), so the pages show a task that really trained. The browser is
Debian's Chromium, driven through Playwright's ``executable_path`` (a Playwright browser download
cannot be fetched here); a page gets a wallet with :func:`wallet_page`, an EIP-1193 provider whose
key stays in Python (:mod:`tests.support.browser_wallet`).

Screenshots go to ``$FEDMARKET_SCREENSHOT_DIR`` when it is set (``scripts/screenshots`` sets it to
``docs/screenshots``), else to the test's temporary folder.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount

from chain import ChainBackend, Deployment, RpcBackend, fund, new_account, signer_for
from chain.keys import demo_account
from fedmarket.demo import run_demo
from tests.support.browser_wallet import TestWallet, install_wallet
from tests.support.services import unavailable

pytestmark = pytest.mark.slow

CHROMIUM = os.environ.get("FEDMARKET_CHROMIUM", "/usr/bin/chromium")
AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
DEMO_SEED = 2024
GAS = 10**18
TOKEN = 10**18
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="package")
def chromium() -> Iterator[Any]:
    """Debian's Chromium under Playwright (headless), for this package's tests only.

    Playwright's sync API runs an event loop in the calling thread while it is open: kept past
    this package, it would break every later test that starts a loop of its own (asyncio.run).
    """
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the playwright package is not installed")
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        unavailable(f"no Chromium at {CHROMIUM}")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        yield browser
        browser.close()


@dataclass
class Market:
    """The demo's marketplace, still running over its chain and store."""

    url: str
    out: Path
    backend: ChainBackend
    deployment: Deployment
    summary: dict[str, Any]

    def role(self, name: str) -> LocalAccount:
        """The demo key of ``name`` (``sponsor``, ``hospital-1``, ...)."""
        return demo_account(DEMO_SEED, name)

    def funded(self, tokens: int = 0) -> LocalAccount:
        """A fresh account with gas money and ``tokens`` whole tokens minted to it."""
        account = new_account()
        fund(self.backend, account.address, GAS)
        if tokens:
            minter = self.backend.faucet_account()
            assert minter is not None
            token = self.deployment.token_client(self.backend, signer_for(self.backend, minter))
            token.mint(account.address, tokens * TOKEN)
        return account


@pytest.fixture(scope="module")
def market(anvil_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Market]:
    """The demo story on anvil (3 rounds), its marketplace left running for the module."""
    out = tmp_path_factory.mktemp("demo")
    backend = RpcBackend(anvil_url)
    served: dict[str, Any] = {}
    ready, done = threading.Event(), threading.Event()

    def hold(url: str) -> None:
        served["url"] = url
        ready.set()
        done.wait()

    def story() -> None:
        try:
            served["summary"] = run_demo(out, rounds=3, backend=backend, hold=hold)
        except BaseException as exc:  # handed to the test thread below
            served["error"] = exc
            ready.set()

    thread = threading.Thread(target=story, name="demo", daemon=True)
    thread.start()
    assert ready.wait(900), "the demo did not finish within 15 minutes"
    if "error" in served:
        raise served["error"]
    deployment = Deployment.load(out / "deployment.json")
    summary = json.loads((out / "summary.json").read_text())
    yield Market(served["url"], out, backend, deployment, summary)
    done.set()
    thread.join(60)


@pytest.fixture
def wallet_page(chromium: Any, market: Market) -> Iterator[Callable[..., tuple[Any, TestWallet]]]:
    """Open pages with a wallet: ``wallet_page(account, phone=False)`` -> (page, wallet)."""
    contexts: list[Any] = []

    def open_page(account: LocalAccount, *, phone: bool = False) -> tuple[Any, TestWallet]:
        context = chromium.new_context(viewport=PHONE if phone else DESKTOP, accept_downloads=True)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(60_000)
        wallet = TestWallet(account=account, w3=market.backend.w3)
        install_wallet(page, wallet)
        return page, wallet

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def shots(tmp_path: Path) -> Callable[[Any, str], Path]:
    """``shots(page, name)``: a full-page screenshot, named for docs/screenshots."""
    folder = Path(os.environ.get("FEDMARKET_SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)

    def take(page: Any, name: str) -> Path:
        path = folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """The serious and critical accessibility violations axe-core finds on ``page``."""
    if not AXE.exists():
        unavailable(f"axe-core is not installed ({AXE}); run scripts/setup --all")
    # evaluated through the devtools protocol: the pages' CSP refuses inline <script> tags
    page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
