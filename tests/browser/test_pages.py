"""The catalogue, a dataset, the listing form and a task page, in Chromium, with a wallet.

Each page is also checked by axe-core (no serious or critical violation) and photographed.
"""

from __future__ import annotations

import httpx
import pytest

from tests.browser.conftest import Market, axe_violations

pytestmark = pytest.mark.slow


def test_catalogue_lists_the_seeded_datasets_and_search_narrows_them(
    market: Market, wallet_page, shots
):
    page, _ = wallet_page(market.funded())
    page.goto(market.url + "/")
    cards = page.locator("#datasets li.card")
    assert cards.count() == 4
    assert "hospital-1" in page.locator("#datasets").inner_text()
    shots(page, "catalogue")
    assert axe_violations(page) == []

    page.fill("#q", "hospital-3")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**/?q=hospital-3*")
    assert cards.count() == 1
    assert "hospital-3" in cards.first.inner_text()
    assert page.locator("#result-count").inner_text() == "1 dataset"

    page.goto(market.url + "/?q=no-such-dataset")
    assert page.locator("#datasets li.card").count() == 0
    assert "No dataset matches" in page.locator("main").inner_text()


def test_a_bad_filter_is_named_beside_its_field_not_a_server_error(market: Market, wallet_page):
    page, _ = wallet_page(market.funded())
    response = page.goto(market.url + "/?min_price=lots")
    assert response is not None and response.status == 400
    assert page.locator("#min_price").get_attribute("aria-invalid") == "true"
    assert "number of tokens" in page.locator("#min_price-error").inner_text()


def test_every_page_is_readable_on_a_phone(market: Market, wallet_page, shots):
    page, _ = wallet_page(market.funded(), phone=True)
    task = market.summary["task_id"]
    owner = market.role("hospital-1").address
    for path, name in (("/", "catalogue"), (f"/ui/tasks/{task}", "task"), ("/ui/models/1", "model"),
                       ("/ui/datasets/1", "dataset"), (f"/ui/participants/{owner}", "participant"),
                       ("/ui/list", "list-form")):  # fmt: skip
        page.goto(market.url + path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{path} scrolls sideways on a phone ({width}px)"
        if name in ("catalogue", "task"):
            shots(page, f"{name}-phone")


def test_dataset_page_shows_schema_statistics_checks_and_its_transaction(
    market: Market, wallet_page, shots
):
    page, _ = wallet_page(market.funded())
    page.goto(market.url + "/ui/datasets/1")
    text = page.locator("main").inner_text()
    for part in ("Schema", "Statistics", "Quality checks", "On-chain record", "Passed"):
        assert part in text
    tx_link = page.locator("a[href^='/ui/tx/']").first
    tx_link.click()
    page.wait_for_url("**/ui/tx/**")
    assert "succeeded" in page.locator("main").inner_text()
    assert "(registry)" in page.locator("main").inner_text()
    page.go_back()
    shots(page, "dataset")
    assert axe_violations(page) == []


def test_task_page_shows_the_loss_curve_leaderboard_and_audit(market: Market, wallet_page, shots):
    page, _ = wallet_page(market.funded())
    task = market.summary["task_id"]
    page.goto(f"{market.url}/ui/tasks/{task}")
    curve = page.locator("#loss-curve svg path.line")
    assert curve.count() == 2  # validation and test log-loss
    assert all(curve.nth(i).get_attribute("d").count("L") == 2 for i in range(2))  # 3 rounds
    board = page.locator("#leaderboard tbody tr")
    assert board.count() == market.summary["participants"]
    shares = market.summary["protocol"]["shares_bps"]
    best = max(shares, key=lambda a: shares[a])
    assert best in board.first.inner_html()  # ranked by cumulative contribution
    assert page.locator("table.round-board").count() == 3
    page.wait_for_selector("#audit-verdict", timeout=120_000)
    assert page.locator("#audit-verdict").inner_text().startswith("Passed")
    shots(page, "task")
    assert axe_violations(page) == []


def test_every_page_passes_axe_and_answers_html(market: Market, wallet_page, shots):
    page, _ = wallet_page(market.funded())
    for path, name in (("/ui/tasks", "tasks"), ("/ui/models", "models"), ("/ui/list", "list-form"),
                       ("/ui/account", "account")):  # fmt: skip
        response = page.goto(market.url + path)
        assert response is not None and response.status == 200, path
        shots(page, name)
        assert axe_violations(page) == [], path


def test_pages_use_no_asset_from_another_origin(market: Market, wallet_page):
    page, _ = wallet_page(market.funded())
    seen: list[str] = []
    page.on("request", lambda request: seen.append(request.url))
    for path in ("/", "/ui/datasets/1", f"/ui/tasks/{market.summary['task_id']}", "/ui/models/1"):
        page.goto(market.url + path)
        page.wait_for_load_state("networkidle")
    foreign = [u for u in seen if not u.startswith(market.url)]
    assert seen and foreign == []


def test_unknown_ids_answer_a_404_page(market: Market):
    for path in ("/ui/datasets/9999", "/ui/tasks/abc", "/ui/models/0", "/ui/participants/0x12"):
        response = httpx.get(market.url + path)
        assert response.status_code == 404, path
        assert "does not exist" in response.text


def test_pages_refuse_injected_inline_scripts(market: Market, wallet_page):
    page, _ = wallet_page(market.funded())
    response = page.goto(market.url + "/")
    assert response is not None
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    blocked = page.evaluate(
        """() => new Promise((resolve) => {
          document.addEventListener('securitypolicyviolation', () => resolve(true));
          const s = document.createElement('script');
          s.textContent = 'window.__injected = true';
          document.body.appendChild(s);
          setTimeout(() => resolve(false), 1000);
        })"""
    )
    assert blocked is True
    assert page.evaluate("window.__injected === undefined")
