"""Money from the user's wallet: a buyer buys a model and downloads it, a participant claims.

The page asks the service for the transactions (``/transactions``), the injected wallet signs and
sends them to anvil, and the tests read the outcome from the chain itself, not from the page.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_utils.crypto import keccak

from chain import signer_for
from marketplace_api import MarketplaceClient
from storage import LocalCidStore
from tests.browser.conftest import Market, axe_violations
from tests.integration.marketplace_api.market_world import ChainWorld, drive_task

pytestmark = pytest.mark.slow

MODEL_ID = 1


def _upload_model(market: Market) -> str:
    """The sponsor uploads the final model (sealed by the service); returns its on-chain hash."""
    listing = MarketplaceClient(market.url).model(MODEL_ID)
    model = LocalCidStore(market.out / "store").get(listing["model_cid"])
    with MarketplaceClient(market.url) as sponsor:
        sponsor.sign_in(market.role("sponsor"))
        sponsor.upload_content("model", MODEL_ID, model)
    on_chain = market.deployment.fed_task_client(market.backend).task(listing["task_id"])
    return "0x" + bytes(on_chain.model_hash).hex()


def test_a_buyer_buys_the_model_and_downloads_the_bytes_recorded_on_chain(
    market: Market, wallet_page, shots, tmp_path: Path
):
    recorded = _upload_model(market)
    buyer = market.funded(tokens=500)
    token = market.deployment.token_client(market.backend)
    before = token.balance_of(buyer.address)
    page, wallet = wallet_page(buyer)
    page.goto(f"{market.url}/ui/models/{MODEL_ID}")
    price = int(page.locator("#buybox").get_attribute("data-price"))
    shots(page, "model")
    assert axe_violations(page) == []

    page.click("#buy")  # signs in first, then approve + buy from the wallet
    page.wait_for_selector("#download:not([hidden])", timeout=60_000)
    assert token.balance_of(buyer.address) == before - price
    market_client = market.deployment.market_client(market.backend)
    assert market_client.has_licence(MODEL_ID, buyer.address)
    assert len(wallet.sent) == 2  # the approval, then the purchase, both from the buyer

    with page.expect_download(timeout=60_000) as download:
        page.click("#download")
    saved = tmp_path / "model.bin"
    download.value.save_as(saved)
    data = saved.read_bytes()
    assert data and "0x" + keccak(data).hex() == recorded
    assert "matches the recorded hash" in page.locator("#notice").inner_text()
    shots(page, "model-bought")


def test_a_stranger_cannot_download_without_a_licence(market: Market, wallet_page):
    _upload_model(market)
    page, _ = wallet_page(market.funded())
    page.goto(f"{market.url}/ui/models/{MODEL_ID}")
    page.click("#connect")
    page.wait_for_selector("#licence-state:has-text('do not hold')")
    assert page.locator("#download").is_hidden()
    outcome = page.evaluate(
        """async () => {
          const { downloadItem } = await import('/static/download.js');
          const box = document.getElementById('buybox');
          const s = JSON.parse(sessionStorage.getItem('fedmarket.session'));
          try {
            await downloadItem({provider: window.ethereum, account: s.address, token: s.token,
              kind: 'model', id: 1, contract: box.dataset.market,
              chainId: Number(document.body.dataset.chainId), expectedHash: box.dataset.hash});
            return 'downloaded';
          } catch (e) { return e.message; }
        }"""
    )
    assert "403" in outcome


def _indexed(market: Market) -> None:
    """Wait until the service's index has read every block the test made."""
    with MarketplaceClient(market.url) as client:
        client.wait_indexed(int(market.backend.w3.eth.block_number), timeout=60)


def _claim_world(market: Market) -> ChainWorld:
    faucet = market.backend.faucet_account()
    assert faucet is not None
    deployer = signer_for(market.backend, faucet)
    return ChainWorld(
        backend=market.backend,
        deployment=market.deployment,
        deployer=deployer,
        relayer=deployer,
        store=LocalCidStore(market.out / "store"),
    )


def test_a_participant_claims_its_rewards_and_its_balance_grows(market: Market, wallet_page, shots):
    driven = drive_task(_claim_world(market), scores=[[3, 1], [1, 1]], n_participants=2)
    participant = driven.participants[0]
    token = market.deployment.token_client(market.backend)
    before = token.balance_of(participant.address)
    owed = driven.allocated[participant.address]
    assert owed > 0
    _indexed(market)
    page, wallet = wallet_page(participant)
    page.goto(f"{market.url}/ui/participants/{participant.address}")
    assert page.locator(f"[data-action=claim][data-task='{driven.task_id}']").count() == 1, (
        MarketplaceClient(market.url).participant(participant.address)
    )
    shots(page, "participant")
    assert axe_violations(page) == []

    page.click(f"[data-action=claim][data-task='{driven.task_id}']")
    page.wait_for_selector("#claims", state="detached", timeout=60_000)  # reloaded: none left
    assert token.balance_of(participant.address) == before + owed
    assert len(wallet.sent) == 1  # one claimMany of both rounds
    claimed = market.deployment.fed_task_client(market.backend)
    assert all(claimed.has_claimed(driven.task_id, r, participant.address) for r in (1, 2))
    shots(page, "participant-claimed")


def test_a_page_of_another_account_does_not_send_from_the_wrong_wallet(market: Market, wallet_page):
    driven = drive_task(_claim_world(market), scores=[[2, 2]], n_participants=2)
    owner, intruder = driven.participants[0], market.funded()
    _indexed(market)
    page, wallet = wallet_page(intruder)
    page.goto(f"{market.url}/ui/participants/{owner.address}")
    page.click(f"[data-action=claim][data-task='{driven.task_id}']")
    notice = page.wait_for_selector("#notice:not([hidden])")
    assert "another account" in notice.inner_text()
    assert wallet.sent == []
