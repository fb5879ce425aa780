"""What only the user's wallet may do, done from the pages: sign in, list, and the honest errors.

The wallet is the injected test provider (a real key, a real anvil node); the page's own code
asks it to sign, and the service relays or the wallet sends.
"""

from __future__ import annotations

import json

import httpx
import pytest

from fedmarket.demo.task import describe_dataset
from fl_node.data import breast_cancer_hospitals
from tests.browser.conftest import Market, axe_violations

pytestmark = pytest.mark.slow


def test_an_owner_lists_a_dataset_through_the_form_and_sees_it(market: Market, wallet_page, shots):
    owner = market.funded()
    page, wallet = wallet_page(owner)
    page.goto(market.url + "/ui/list")
    page.fill("#name", "clinic-7 blood panels")
    page.fill("#description", "Anonymised blood panels of 540 patients.")
    page.fill("#row_count", "540")
    page.fill("#tags", "medical, Blood")
    page.click("#list-submit")
    link = page.wait_for_selector("#listed-link", timeout=60_000)
    assert link.inner_text().startswith("Listed: see dataset")
    shots(page, "list-done")
    # the wallet signed in (EIP-4361) and signed the listing (EIP-712); the service relayed it
    assert "personal_sign" in wallet.calls and "eth_signTypedData_v4" in wallet.calls
    assert "eth_sendTransaction" not in wallet.calls
    link.click()
    page.wait_for_url("**/ui/datasets/**")
    assert page.locator("h1").inner_text() == "clinic-7 blood panels"
    assert owner.address in page.locator("main").inner_text()
    dataset_id = int(page.url.rsplit("/", 1)[1])
    listed = httpx.get(f"{market.url}/datasets/{dataset_id}").json()
    assert listed["owner"] == owner.address and listed["tags"] == ["medical", "blood"]
    page.goto(market.url + "/?q=clinic-7")
    assert page.locator("#datasets li.card").count() == 1


def test_a_listing_the_service_refuses_names_the_field(market: Market, wallet_page):
    page, _ = wallet_page(market.funded())
    page.goto(market.url + "/ui/list")
    page.fill("#name", "bad columns")
    page.fill("#row_count", "10")
    page.fill("#columns", "age,integer")  # not a type the schema knows
    page.click("#list-submit")
    error = page.wait_for_selector("#schema-error:not([hidden])")
    assert "dtype" in error.inner_text() or "schema" in error.inner_text()
    assert page.locator("#notice").get_attribute("class").strip().endswith("error")


def test_a_rejected_signature_signs_nobody_in(market: Market, wallet_page, shots):
    page, wallet = wallet_page(market.funded())
    wallet.approve = False
    page.goto(market.url + "/")
    page.click("#connect")
    notice = page.wait_for_selector("#notice:not([hidden])")
    assert "rejected the request in your wallet" in notice.inner_text()
    assert page.evaluate("sessionStorage.getItem('fedmarket.session')") is None
    assert page.locator("#connect").inner_text() == "Connect wallet"
    shots(page, "rejected-signature")


def test_a_wallet_on_another_chain_is_told_to_switch(market: Market, wallet_page):
    page, wallet = wallet_page(market.funded())
    wallet.chain_id = 1  # mainnet, which the wallet refuses to leave
    page.goto(market.url + "/")
    page.click("#connect")
    notice = page.wait_for_selector("#notice:not([hidden])")
    assert "Wrong network" in notice.inner_text()
    assert f"chain {market.deployment.chain_id}" in notice.inner_text()
    assert "personal_sign" not in wallet.calls


def test_without_a_wallet_the_page_says_what_to_install(market: Market, chromium):
    context = chromium.new_context()
    page = context.new_page()
    page.goto(market.url + "/")
    page.click("#connect")
    notice = page.wait_for_selector("#notice:not([hidden])")
    assert "No wallet found" in notice.inner_text()
    assert axe_violations(page) == []
    context.close()


def test_sign_in_then_sign_out(market: Market, wallet_page):
    account = market.funded()
    page, _ = wallet_page(account)
    page.goto(market.url + "/ui/account")
    page.click("#connect")
    page.wait_for_url(f"**/ui/participants/{account.address}")
    assert page.locator("#wallet-account").get_attribute("title") == account.address
    token = page.evaluate("JSON.parse(sessionStorage.getItem('fedmarket.session')).token")
    auth = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{market.url}/auth/session", headers=auth).status_code == 200
    with page.expect_response(lambda r: r.url.endswith("/auth/session")) as signed_out:
        page.click("#connect")  # now "Sign out"
    assert signed_out.value.status == 204
    assert page.evaluate("sessionStorage.getItem('fedmarket.session')") is None
    assert httpx.get(f"{market.url}/auth/session", headers=auth).status_code == 401


def test_an_owner_uploads_the_metadata_its_node_computed_and_lists_it(
    market: Market, wallet_page, tmp_path
):
    """``fedmarket data describe`` output, uploaded in the form: statistics travel, rows do not."""
    split = breast_cancer_hospitals(2, seed=7)
    data = split.hospitals[0]
    metadata = describe_dataset(
        data, split.feature_names, name="clinic-9 biopsies", tags=["medical", "biopsy"]
    )
    path = tmp_path / "metadata.json"
    path.write_text(json.dumps(metadata))
    page, _ = wallet_page(market.funded())
    page.goto(market.url + "/ui/list")
    page.set_input_files("#metadata-file", str(path))
    page.wait_for_selector("#metadata-loaded:not([hidden])")
    assert page.input_value("#name") == "clinic-9 biopsies"
    assert page.input_value("#row_count") == str(data.rows)
    page.click("#list-submit")
    page.wait_for_selector("#listed-link", timeout=60_000).click()
    page.wait_for_url("**/ui/datasets/**")
    dataset_id = int(page.url.rsplit("/", 1)[1])
    listed = httpx.get(f"{market.url}/datasets/{dataset_id}").json()
    assert listed["statistics"]["count"] == data.rows
    assert listed["statistics"]["mean"] == pytest.approx(metadata["statistics"]["mean"])
    assert listed["quality_checks"]["passed"] is True
    assert page.locator("#stats ~ div table tbody tr").count() == len(split.feature_names)


def test_a_file_that_is_not_metadata_is_refused_beside_its_input(
    market: Market, wallet_page, tmp_path
):
    path = tmp_path / "rows.csv"
    path.write_text("a,b,label\n1,2,0\n")
    page, wallet = wallet_page(market.funded())
    page.goto(market.url + "/ui/list")
    page.set_input_files("#metadata-file", str(path))
    error = page.wait_for_selector("#metadata-error:not([hidden])")
    assert "Not a metadata file" in error.inner_text()
    assert page.get_attribute("#metadata-file", "aria-invalid") == "true"
    assert wallet.calls == []
