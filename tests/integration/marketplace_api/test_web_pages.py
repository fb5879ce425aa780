"""The server-rendered pages and ``/transactions``, over an in-process chain, SQLite and PostgreSQL.

The catalogue is checked against a Python filter and sort of the listings this module seeded
through ``POST /datasets`` (all carrying one random tag, so that other modules' listings on the
shared chain stay out); hostile text renders escaped; unknown ids and an unreachable chain give
pages, never a 5xx. Every ``/transactions`` plan is signed with the account's own key and sent,
and the chain's outcome checked: what the plan promises is what the chain does.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from html import unescape
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct, encode_typed_data
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient

from chain.fed_task import Schedule, TaskConfig
from marketplace_api.web import catalogue
from marketplace_api.web import tasks as tasks_page
from marketplace_api.web.evidence import Entry, RoundSummary
from storage import canonical_json, content_hash
from tests.integration.marketplace_api.market_world import (
    PERIOD,
    STAKE,
    TOKEN,
    ChainWorld,
    DrivenTask,
    dataset_metadata,
    drive_task,
    list_on_market,
)
from tests.integration.marketplace_api.test_market_datasets import signed_body
from tests.integration.marketplace_api.test_market_tasks_models import listing_body

pytestmark = pytest.mark.slow

TAG = f"t{os.urandom(4).hex()}"
"""The tag of every listing this module seeds: a catalogue filtered by it shows only those."""


def wei_text(wei: int) -> str:
    """``wei`` as an exact token amount a person would type."""
    return f"{wei // TOKEN}.{wei % TOKEN:018d}"


SEEDS: list[dict[str, Any]] = [
    {"name": f"{TAG} alpha 100% cardio", "tags": [TAG, "cardio"], "price": 3 * TOKEN},
    {"name": f"{TAG} Beta 1000 rows", "tags": [TAG, "oncology"], "price": 2**64 + 5},
    {"name": f"{TAG} gamma a_b", "tags": [TAG], "price": 2**70},
    {"name": f"{TAG} delta axb", "tags": [TAG, "cardio"], "price": 0},
    {"name": f"{TAG} epsilon big", "tags": [TAG], "price": 2**80 + 7},
    {"name": f"{TAG} zeta withdrawn", "tags": [TAG], "price": TOKEN, "delist": True},
]
_seeded: dict[int, tuple[ChainWorld, list[dict[str, Any]]]] = {}
"""The listings seeded on each module world (by the world's id, the world kept so the id is not
reused): pytest runs the SQLite tests of every module before the PostgreSQL ones, and a module's
world is made again for the second pass, on a new chain."""


def list_dataset(api: TestClient, owner: LocalAccount, **fields: Any) -> int:
    """List through ``POST /datasets`` (signed by ``owner``); the dataset id."""
    price = fields.pop("price", 0)
    meta = dataset_metadata(owner.address, downloadable=bool(price), **fields)
    mode = "downloadable" if price else "federated_only"
    body = signed_body(api, owner, meta, access_mode=mode, price=price)
    response = api.post("/datasets", json=body)
    assert response.status_code == 202, response.text
    return int(response.json()["id"])


@pytest.fixture
def seeded(api: TestClient, world: ChainWorld) -> list[dict[str, Any]]:
    """The module's listings, seeded through the API once.

    The chain keeps them; each test's database indexes them again.
    """
    known = _seeded.get(id(world))
    if known is not None and known[0] is world:
        return known[1]
    rows: list[dict[str, Any]] = []
    owner = world.funded()
    for seed in SEEDS:
        fields = {k: v for k, v in seed.items() if k != "delist"}
        dataset_id = list_dataset(api, owner, **fields)
        if seed.get("delist"):
            world.registry(owner).delist(dataset_id)
        rows.append({**seed, "id": dataset_id, "owner": owner.address})
    _seeded[id(world)] = (world, rows)
    return rows


def ids_on(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-dataset-id="(\d+)"', html)]


def catalogue_ids(api: TestClient, **params: Any) -> list[int]:
    response = api.get("/", params={"tag": TAG, **params})
    assert response.status_code == 200, response.text
    return ids_on(response.text)


def active(seeds: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [s for s in seeds if not s.get("delist")]


# ---- catalogue ----------------------------------------------------------------------------------
def test_catalogue_lists_the_active_listings_not_the_delisted(
    api: TestClient, seeded: list[dict[str, Any]]
) -> None:
    got = catalogue_ids(api)
    assert sorted(got) == sorted(s["id"] for s in active(seeded))
    assert next(s["id"] for s in seeded if s.get("delist")) not in got
    page = api.get("/", params={"tag": TAG}).text
    assert f"{len(active(seeded))} datasets" in page


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ("alpha", ["alpha"]),
        ("ALPHA", ["alpha"]),
        ("cardio", ["alpha", "delta"]),  # a word of a name, or a tag
        ("oncology", ["Beta"]),  # a tag only
        ("100%", ["alpha"]),  # not "1000 rows": % is a literal
        ("a_b", ["gamma"]),  # not "axb": _ is a literal
        ("%", ["alpha"]),
        ("_", ["gamma"]),
        ("cardio delta", ["delta"]),  # every word must match
        ("withdrawn", []),
        ("nothing-like-this", []),
    ],
)
def test_search_by_word_in_name_or_tag_escapes_like_wildcards(
    api: TestClient, seeded: list[dict[str, Any]], query: str, names: list[str]
) -> None:
    got = catalogue_ids(api, q=query)
    want = [s["id"] for s in active(seeded) if s["name"].split()[1] in names]
    assert sorted(got) == sorted(want)


def test_filters_by_tag_access_and_price(api: TestClient, seeded: list[dict[str, Any]]) -> None:
    rows = active(seeded)

    def check(want: list[dict[str, Any]], **params: Any) -> None:
        assert sorted(catalogue_ids(api, **params)) == sorted(s["id"] for s in want), params

    check([s for s in rows if "cardio" in s["tags"]], q="", tag="cardio", access="")
    check([s for s in rows if s["price"] == 0], access="federated_only")
    check([s for s in rows if s["price"] > 0], access="downloadable")
    for bound in [0, TOKEN, 3 * TOKEN, 2**64 + 5, 2**70, 2**80 + 7, 2**81]:
        check([s for s in rows if s["price"] >= bound], min_price=wei_text(bound))
        check([s for s in rows if s["price"] <= bound], max_price=wei_text(bound))
    check(
        [s for s in rows if 2**64 <= s["price"] <= 2**75],
        min_price=wei_text(2**64),
        max_price=wei_text(2**75),
    )
    check([], min_price="5", max_price="4")


def python_order(rows: list[dict[str, Any]], sort: str) -> list[int]:
    keys = {
        "newest": lambda s: -s["id"],
        "oldest": lambda s: s["id"],
        "price": lambda s: (s["price"], s["id"]),
        "price_desc": lambda s: (-s["price"], s["id"]),
        "name": lambda s: (s["name"].lower(), s["id"]),
    }
    return [s["id"] for s in sorted(rows, key=keys[sort])]


@pytest.mark.parametrize("sort", list(catalogue.SORT_LABELS))
def test_every_sort_order_matches_a_python_sort(
    api: TestClient, seeded: list[dict[str, Any]], sort: str
) -> None:
    assert catalogue_ids(api, sort=sort) == python_order(active(seeded), sort)


def test_default_order_is_newest_first(api: TestClient, seeded: list[dict[str, Any]]) -> None:
    assert catalogue_ids(api) == python_order(active(seeded), "newest")


def test_pages_and_pager_links(
    api: TestClient, seeded: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(catalogue, "PAGE_SIZE", 2)
    order = python_order(active(seeded), "price")
    pages = [catalogue_ids(api, sort="price", offset=o) for o in range(0, len(order) + 2, 2)]
    assert [i for p in pages for i in p] == order
    assert all(len(p) == 2 for p in pages[:2])
    html = api.get("/", params={"tag": TAG, "sort": "price", "offset": 2}).text
    found = re.findall(r'<a rel="(prev|next)" href="([^"]+)"', html)
    links = {rel: unescape(href) for rel, href in found}
    assert links["prev"] == f"?tag={TAG}&sort=price&offset=0"
    assert links["next"] == f"?tag={TAG}&sort=price&offset=4"
    assert f"3–4 of {len(order)}" in html
    first = api.get("/", params={"tag": TAG, "sort": "price"}).text
    assert 'rel="prev"' not in first and 'rel="next"' in first


BAD_FILTERS: list[tuple[dict[str, str], str]] = [
    ({"min_price": "abc"}, "min_price"),
    ({"max_price": "-1"}, "max_price"),
    ({"min_price": "0.0000000000000000001"}, "min_price"),
    ({"min_price": "1e999999"}, "min_price"),
    ({"max_price": "NaN"}, "max_price"),
    ({"sort": "cheapest"}, "sort"),
    ({"access": "everyone"}, "access"),
    ({"offset": "-1"}, "offset"),
    ({"offset": "²"}, "offset"),
    ({"offset": "9" * 5000}, "offset"),
    ({"q": "x" * 101}, "q"),
    ({"q": "a\x00b"}, "q"),
    ({"tag": "a\x7fb"}, "tag"),
]


def test_bad_filters_answer_the_page_400_naming_the_field(api: TestClient) -> None:
    for params, field in BAD_FILTERS:
        response = api.get("/", params=params)
        assert response.status_code == 400, (params, response.text)
        assert response.headers["content-type"].startswith("text/html")
        assert f'id="{field}-error"' in response.text, params
        assert 'aria-invalid="true"' in response.text or field == "offset"  # offset has no input


# ---- hostile text -------------------------------------------------------------------------------
HOSTILE = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>']


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_name_and_description_render_escaped(
    api: TestClient, world: ChainWorld, text: str
) -> None:
    owner = world.funded()
    tag = f"x{os.urandom(4).hex()}"
    dataset_id = list_dataset(
        api, owner, name=f"{text} {os.urandom(2).hex()}", description=text, tags=[tag]
    )
    for url in [f"/?tag={tag}", f"/ui/datasets/{dataset_id}", f"/?q={tag}"]:
        response = api.get(url)
        assert response.status_code == 200, url
        assert "<script>alert" not in response.text and "<img src=x" not in response.text, url
        assert "&lt;script&gt;" in response.text or "&#34;&gt;&lt;img" in response.text, url


@pytest.mark.parametrize("text", [*HOSTILE, "UPPER", "a" * 41])
def test_hostile_tags_are_refused_with_the_field(
    api: TestClient, world: ChainWorld, text: str
) -> None:
    owner = world.funded()
    meta = dataset_metadata(owner.address, tags=[text])
    body = {**meta, "deadline": 2**40, "signature": "0x" + "11" * 65}
    response = api.post("/datasets", json=body)
    assert response.status_code == 422
    assert any(e["loc"][:2] == ["body", "tags"] for e in response.json()["detail"])


UNKNOWN = [
    "/ui/datasets/1%3Cscript%3E",
    "/ui/datasets/0",
    "/ui/datasets/-1",
    "/ui/datasets/99999999",
    "/ui/datasets/1e3",
    "/ui/datasets/" + "9" * 30,
    "/ui/tasks/999999",
    "/ui/tasks/%3Cscript%3E",
    "/ui/tasks/999999/audit",
    "/ui/models/999999",
    "/ui/models/abc",
    "/ui/participants/not-an-address",
    "/ui/participants/0x123",
    "/ui/tx/0x1234",
    "/ui/tx/0x" + "ab" * 32,
]


def test_unknown_ids_are_404_pages(api: TestClient) -> None:
    for path in UNKNOWN:
        response = api.get(path)
        assert response.status_code == 404, (path, response.text)
        assert response.headers["content-type"].startswith("text/html")
        assert "does not exist here" in response.text, path
        assert "<script>" not in response.text, path


def test_dataset_page_shows_its_fields(api: TestClient, seeded: list[dict[str, Any]]) -> None:
    seed = next(s for s in seeded if s["price"] == 2**64 + 5)
    response = api.get(f"/ui/datasets/{seed['id']}")
    assert response.status_code == 200
    html = unescape(response.text)
    listed = api.get(f"/datasets/{seed['id']}").json()
    meta = dataset_metadata(seed["owner"])
    for text in [seed["name"], meta["description"], "CC-BY-4.0", "oncology", listed["tx_hash"],
                 *(c["name"] for c in meta["schema"])]:  # fmt: skip
        assert text in html, text
    assert seed["owner"] in html or seed["owner"].lower() in html.lower()
    assert f"/ui/tx/{listed['tx_hash']}" in html
    assert "14.1" in html and "28.1" in html  # statistics
    assert "0.37" in html  # quality


# ---- tasks --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def task(world: ChainWorld) -> DrivenTask:
    """A final two-round task of three participants, nothing claimed yet."""
    return drive_task(world, scores=[[1, 2, 3], [3, 0, 1]])


def test_task_page_without_losses_says_so(api: TestClient, task: DrivenTask) -> None:
    response = api.get(f"/ui/tasks/{task.task_id}")
    assert response.status_code == 200, response.text
    assert 'id="loss-curve"' not in response.text
    assert "<svg" not in response.text.split('id="loss-h"')[1].split("</section>")[0]
    assert "no loss figures" in response.text
    for p in task.addresses:
        assert p in response.text


def test_task_page_lists_rejected_updates_with_their_reasons(
    api: TestClient, task: DrivenTask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the evidence says of each update is on the page: losses, ranks, refusals and why."""
    cheat, honest, idle = task.addresses
    verdicts = (
        Entry(honest, True, None, "", 0.21, 120, 0.30),
        Entry(
            cheat, False, "hash_mismatch", "bytes differ <b>from</b> the commitment", None, 0, 0.0
        ),
        Entry(idle, False, "not_submitted", "", None, 0, 0.0),
    )

    numbers = {r["evidence_cid"]: i + 1 for i, r in enumerate(task.rounds)}

    def summary_of(_store: object, cid: str | None) -> RoundSummary | None:
        number = numbers[cid]
        return RoundSummary(number, 0.5 / number, 0.6 / number, 0.9, 0.8, 0.95,
                            "leave-one-out", verdicts, None, None)  # fmt: skip

    monkeypatch.setattr(tasks_page, "round_summary", summary_of)
    response = api.get(f"/ui/tasks/{task.task_id}")
    assert response.status_code == 200, response.text
    rejected = response.text.split('id="rejections"')[1].split("</ul>")[0]
    assert cheat in rejected and "hash mismatch" in rejected
    assert "bytes differ &lt;b&gt;from&lt;/b&gt; the commitment" in rejected  # escaped
    assert idle not in rejected  # not submitting is not a rejection
    board = response.text.split('id="leaderboard"')[1].split("</table>")[0]
    assert board.index(honest) < board.index(cheat)  # ranked by contribution
    assert response.text.count('class="round-board"') == len(task.rounds)
    assert 'id="loss-curve"' in response.text


def test_audit_of_a_task_whose_evidence_holds_only_rewards(
    api: TestClient, task: DrivenTask
) -> None:
    response = api.get(f"/ui/tasks/{task.task_id}/audit")
    assert response.status_code == 200, response.text
    assert "The audit could not run" in response.text


def test_participant_page_shows_its_claimable_rewards(api: TestClient, task: DrivenTask) -> None:
    who = task.participants[0]
    response = api.get(f"/ui/participants/{who.address.lower()}")
    assert response.status_code == 200
    assert who.address in response.text


# ---- the chain unreachable ----------------------------------------------------------------------
def break_chain(api: TestClient, world: ChainWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every request to the chain's node fails from now on (the index stays as it is)."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("connection refused")

    monkeypatch.setattr(api.app.state.services, "catch_up", lambda: None)  # type: ignore[attr-defined]
    monkeypatch.setattr(world.backend.w3.manager, "request_blocking", refuse)
    # the in-process chain reads its head from py-evm, not through a request: a node that does
    # not answer does not tell its head either (or cached reads of the last head would answer)
    monkeypatch.setattr(world.backend, "head", refuse)


@pytest.fixture
def chain_down(
    api: TestClient, world: ChainWorld, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    """``api`` once its index caught up, then every request to the chain's node failing."""
    api.get("/health")
    break_chain(api, world, monkeypatch)
    yield api


def test_catalogue_with_the_chain_unreachable_says_so(
    seeded: list[dict[str, Any]], chain_down: TestClient
) -> None:
    response = chain_down.get("/", params={"tag": TAG})
    assert response.status_code == 200, response.text
    assert "The chain cannot be reached" in response.text
    assert sorted(ids_on(response.text)) == sorted(s["id"] for s in active(seeded))


def test_model_page_with_the_chain_unreachable_is_503(
    api: TestClient, world: ChainWorld, task: DrivenTask, monkeypatch: pytest.MonkeyPatch
) -> None:
    model_id = sold_model(world, task)
    response = api.post("/models", json=listing_body(task.sponsor, task, price_wei=str(PRICE)))
    assert response.status_code == 201, response.text
    assert api.get(f"/ui/models/{model_id}").status_code == 200
    break_chain(api, world, monkeypatch)
    response = api.get(f"/ui/models/{model_id}")
    assert response.status_code == 503, response.text
    assert "needs the chain, which does not answer now" in response.text
    assert "Traceback" not in response.text
    assert api.get("/ui/models").status_code == 503
    audit = api.get(f"/ui/tasks/{task.task_id}/audit")
    assert audit.status_code == 200 and "The audit could not run" in audit.text
    assert api.get(f"/ui/tasks/{task.task_id}").status_code == 200  # from the index


# ---- /transactions ------------------------------------------------------------------------------
def send(world: ChainWorld, account: LocalAccount, plan: dict[str, Any], status: int = 1) -> None:
    """Sign every step of ``plan`` with ``account``'s key and send it, in order.

    Each must be mined with ``status`` (1: success, 0: reverted).
    """
    w3 = world.backend.w3
    assert plan["chain_id"] == world.backend.chain_id
    for step in plan["steps"]:
        base_fee = int(w3.eth.get_block("latest").get("baseFeePerGas", 0) or 0)
        tx = {
            "from": account.address,
            "to": step["to"],
            "data": step["data"],
            "value": 0,
            "nonce": w3.eth.get_transaction_count(account.address),
            "gas": 3_000_000,
            "chainId": world.backend.chain_id,
            "maxPriorityFeePerGas": 10**9,
            "maxFeePerGas": 2 * base_fee + 10**9,
        }
        signed = Account.sign_transaction(tx, account.key)
        tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
        assert w3.eth.wait_for_transaction_receipt(tx_hash)["status"] == status


def balance(world: ChainWorld, account: LocalAccount | str) -> int:
    address = account if isinstance(account, str) else account.address
    return int(world.token().balance_of(address))


def plan(api: TestClient, path: str, account: LocalAccount | str, status: int = 200) -> Any:
    address = account if isinstance(account, str) else account.address
    response = api.get(path, params={"account": address})
    assert response.status_code == status, response.text
    return response.json()


PRICE = 25 * TOKEN
_models: dict[tuple[int, int], tuple[ChainWorld, int]] = {}
"""Model listings by (world id, task id), as :data:`_seeded`."""


def sold_model(world: ChainWorld, task: DrivenTask) -> int:
    """The module task's model, listed once on the market."""
    known = _models.get((id(world), task.task_id))
    if known is None or known[0] is not world:
        listed = list_on_market(world, task, price=PRICE, sponsor_bps=1_000)
        known = _models[(id(world), task.task_id)] = (world, listed)
    return known[1]


@pytest.mark.parametrize("approved", [False, True], ids=["approve-and-buy", "buy-only"])
def test_buy_plan_buys_a_licence(
    api: TestClient, world: ChainWorld, task: DrivenTask, approved: bool
) -> None:
    model_id = sold_model(world, task)
    buyer = world.funded()
    world.tokens(buyer, PRICE + 7, *([world.deployment.market] if approved else []))
    got = plan(api, f"/transactions/models/{model_id}/buy", buyer)
    assert got["account"] == buyer.address
    assert len(got["steps"]) == (1 if approved else 2)
    before = balance(world, buyer)
    send(world, buyer, got)
    assert world.market().has_licence(model_id, buyer.address)
    assert balance(world, buyer) == before - PRICE
    plan(api, f"/transactions/models/{model_id}/buy", buyer, 409)  # already licensed


def test_claim_proceeds_and_withdraw_the_sponsors_cut(
    api: TestClient, world: ChainWorld, task: DrivenTask
) -> None:
    model_id = sold_model(world, task)
    buyer = world.funded()
    world.tokens(buyer, PRICE, world.deployment.market)
    send(world, buyer, plan(api, f"/transactions/models/{model_id}/buy", buyer))
    contributor = task.participants[0]
    owed = int(world.market().claimable_proceeds(model_id, contributor.address))
    assert owed > 0
    before = balance(world, contributor)
    send(world, contributor, plan(api, f"/transactions/models/{model_id}/claim-proceeds",
                                  contributor))  # fmt: skip
    assert balance(world, contributor) == before + owed
    plan(api, f"/transactions/models/{model_id}/claim-proceeds", contributor, 409)
    before = balance(world, task.sponsor)
    send(world, task.sponsor, plan(api, "/transactions/withdraw/market", task.sponsor))
    assert balance(world, task.sponsor) > before


def test_withdraw_a_dataset_sale_from_the_registry(api: TestClient, world: ChainWorld) -> None:
    owner, buyer = world.funded(), world.funded()
    dataset_id = list_dataset(api, owner, price=2 * TOKEN)
    world.tokens(buyer, 2 * TOKEN, world.deployment.registry)
    world.registry(buyer).buy_dataset(dataset_id, 2 * TOKEN)
    owed = int(world.registry().contract.functions.withdrawable(owner.address).call())
    assert 0 < owed <= 2 * TOKEN
    before = balance(world, owner)
    send(world, owner, plan(api, "/transactions/withdraw/registry", owner))
    assert balance(world, owner) - before == owed
    for contract in ["registry", "market", "court"]:  # nothing (left) to withdraw: refused
        plan(api, f"/transactions/withdraw/{contract}", owner, 409)
    plan(api, "/transactions/withdraw/treasury", owner, 422)
    plan(api, "/transactions/withdraw/market", "0xabc", 422)


def test_buy_refusals(api: TestClient, world: ChainWorld, task: DrivenTask) -> None:
    model_id = sold_model(world, task)
    plan(api, "/transactions/models/999999/buy", world.funded(), 404)
    plan(api, f"/transactions/models/{model_id}/buy", "0x1234", 422)
    plan(api, f"/transactions/models/{model_id}/buy", "not-an-address", 422)
    other = drive_task(world, scores=[[1, 1]], n_participants=2)
    unlisted = list_on_market(world, other, price=TOKEN)
    world.market(other.sponsor).set_active(unlisted, False)
    plan(api, f"/transactions/models/{unlisted}/buy", world.funded(), 409)


def test_claim_plan_pays_exactly_the_allocations_once(api: TestClient, world: ChainWorld) -> None:
    done = drive_task(world, scores=[[1, 2, 3], [2, 2, 0]])
    for who in done.participants:
        got = plan(api, f"/transactions/tasks/{done.task_id}/claim", who)
        assert len(got["steps"]) == 1
        before = balance(world, who)
        send(world, who, got)
        assert balance(world, who) - before == done.allocated[who.address]
        plan(api, f"/transactions/tasks/{done.task_id}/claim", who, 409)


def test_claim_plan_leaves_out_rounds_in_their_challenge_window(
    api: TestClient, world: ChainWorld
) -> None:
    pending = drive_task(world, scores=[[1, 1], [1, 3]], n_participants=2, final=False)
    world.travel(world.fed_task().round(pending.task_id, 1).claimable_at)
    assert (
        world.backend.latest_timestamp() < world.fed_task().round(pending.task_id, 2).claimable_at
    )
    who = pending.participants[1]
    before = balance(world, who)
    send(world, who, plan(api, f"/transactions/tasks/{pending.task_id}/claim", who))
    assert balance(world, who) - before == int(pending.rounds[0]["amounts"][1])
    plan(api, f"/transactions/tasks/{pending.task_id}/claim", who, 409)


def test_claim_plan_leaves_out_a_disputed_round(api: TestClient, world: ChainWorld) -> None:
    disputed = drive_task(world, scores=[[1, 1], [1, 3]], n_participants=2, final=False)
    challenger, who = disputed.participants
    court = world.deployment.court_client(world.backend, world.signer(challenger))
    world.tokens(challenger, int(court.challenge_bond()), world.deployment.court)
    court.challenge(disputed.task_id, 2, evidence_cid="bafkreiaudit")
    assert world.fed_task().round(disputed.task_id, 2).disputed
    world.travel(world.fed_task().round(disputed.task_id, 2).claimable_at + PERIOD)
    before = balance(world, who)
    send(world, who, plan(api, f"/transactions/tasks/{disputed.task_id}/claim", who))
    assert balance(world, who) - before == int(disputed.rounds[0]["amounts"][1])
    plan(api, f"/transactions/tasks/{disputed.task_id}/claim", who, 409)


def test_a_claim_plan_sent_by_another_account_is_refused_by_the_chain(
    api: TestClient, world: ChainWorld
) -> None:
    done = drive_task(world, scores=[[5, 1]], n_participants=2)
    victim, thief = done.participants[0], world.funded()
    got = plan(api, f"/transactions/tasks/{done.task_id}/claim", victim)
    send(world, thief, got, status=0)  # the leaves are bound to the caller: reverted
    assert balance(world, thief) == 0
    other = done.participants[1]  # a participant of the same task replays the victim's proofs
    before_other = balance(world, other)
    send(world, other, got, status=0)
    assert balance(world, other) == before_other
    before = balance(world, victim)
    send(world, victim, got)
    assert balance(world, victim) - before == done.allocated[victim.address]


def test_claim_refusals(api: TestClient, world: ChainWorld, task: DrivenTask) -> None:
    plan(api, "/transactions/tasks/999999/claim", world.funded(), 404)
    plan(api, f"/transactions/tasks/{task.task_id}/claim", world.funded(), 409)
    plan(api, f"/transactions/tasks/{task.task_id}/claim", "0xnope", 422)


def open_task(world: ChainWorld, *, permissioned: bool = False) -> int:
    """A task created and open for joining (nobody joined yet)."""
    sponsor, coordinator = world.funded(), world.funded()
    world.tokens(sponsor, 100 * TOKEN, world.deployment.fed_task)
    spec = canonical_json({"task": os.urandom(4).hex()})
    config = TaskConfig(
        spec_cid=world.store.put(spec),
        spec_hash=content_hash(spec),
        coordinator=coordinator.address,
        pool=100 * TOKEN,
        total_rounds=1,
        max_participants=3,
        schedule=Schedule.uniform(PERIOD),
        quorum=1,
        participant_stake=STAKE,
        coordinator_stake=STAKE,
        slash_bps=1_000,
        permissioned=permissioned,
    )
    task_id, _ = world.fed_task(sponsor).create_task(config)
    return int(task_id)


def test_join_plan_stakes_and_joins(api: TestClient, world: ChainWorld) -> None:
    task_id = open_task(world)
    joiner = world.funded()
    world.tokens(joiner, STAKE)
    got = plan(api, f"/transactions/tasks/{task_id}/join", joiner)
    assert len(got["steps"]) == 2  # approve, then join
    send(world, joiner, got)
    assert int(world.fed_task().stake_of(task_id, joiner.address)) == STAKE
    assert balance(world, joiner) == 0


def test_join_refusals(api: TestClient, world: ChainWorld, task: DrivenTask) -> None:
    plan(api, f"/transactions/tasks/{open_task(world, permissioned=True)}/join",
         world.funded(), 409)  # fmt: skip
    plan(api, f"/transactions/tasks/{task.task_id}/join", world.funded(), 409)  # completed
    plan(api, "/transactions/tasks/999999/join", world.funded(), 404)


def test_withdraw_stake_after_the_cooldown(api: TestClient, world: ChainWorld) -> None:
    done = drive_task(world, scores=[[1, 1]], n_participants=2)
    who = done.participants[0]
    world.travel(world.backend.latest_timestamp() + 20 * PERIOD)
    before = balance(world, who)
    send(world, who, plan(api, f"/transactions/tasks/{done.task_id}/withdraw-stake", who))
    assert balance(world, who) - before == STAKE
    plan(api, f"/transactions/tasks/{done.task_id}/withdraw-stake", who, 409)
    plan(api, "/transactions/tasks/999999/withdraw-stake", who, 404)


# ---- signing formats kept on the server ---------------------------------------------------------
def typed_data(api: TestClient, body: dict[str, Any]) -> dict[str, Any]:
    response = api.post("/datasets/typed-data", json=body)
    assert response.status_code == 200, response.text
    return dict(response.json())


def draft(api: TestClient, owner: LocalAccount, price: int = 0, **overrides: Any) -> dict[str, Any]:
    deadline = api.get("/datasets/signing-params", params={"owner": owner.address}).json()
    meta = dataset_metadata(owner.address, downloadable=bool(price), **overrides)
    mode = "downloadable" if price else "federated_only"
    return {**meta, "access_mode": mode, "price_wei": str(price), "deadline": deadline["deadline"]}


def wallet_sign(account: LocalAccount, typed: dict[str, Any]) -> str:
    """What ``eth_signTypedData_v4`` does with the JSON (big integers arrive as text)."""
    message = {k: int(v) if isinstance(v, str) and v.isdigit() else v
               for k, v in typed["message"].items()}  # fmt: skip
    full = {**typed, "message": message}
    return "0x" + bytes(account.sign_message(encode_typed_data(full_message=full)).signature).hex()


@pytest.mark.parametrize("price", [0, 2**53 + 1, 2**200])
def test_typed_data_signed_by_the_wallet_is_accepted(
    api: TestClient, world: ChainWorld, price: int
) -> None:
    owner = world.funded()
    body = draft(api, owner, price)
    typed = typed_data(api, body)
    big = [v for v in typed["message"].values() if isinstance(v, int) and abs(v) > 2**53]
    assert big == []
    if price > 2**53:
        assert str(price) in typed["message"].values()
    response = api.post("/datasets", json={**body, "signature": wallet_sign(owner, typed)})
    assert response.status_code == 202, response.text


ALTERED = {
    "name": "another name",
    "description": "changed after signing",
    "row_count": 121,
    "tags": ["medical"],
    "license": "MIT",
    "price_wei": str(2 * TOKEN),
}


def test_a_field_altered_after_signing_is_refused(api: TestClient, world: ChainWorld) -> None:
    owner = world.funded()
    body = draft(api, owner, TOKEN)
    signature = wallet_sign(owner, typed_data(api, body))
    for field, value in [*ALTERED.items(), ("deadline", body["deadline"] - 1)]:
        response = api.post("/datasets", json={**body, field: value, "signature": signature})
        assert response.status_code == 422, (field, response.text)
        assert ["body", "signature"] in [e["loc"] for e in response.json()["detail"]], field
    response = api.post("/datasets", json={**body, "signature": signature})
    assert response.status_code == 202, response.text  # the signature was good all along


@pytest.mark.parametrize(
    ("field", "value"),
    [("name", "a\x00b"), ("description", "\ud800"), ("name", "")],
)
def test_typed_data_text_faults_name_the_field(
    api: TestClient, world: ChainWorld, field: str, value: str
) -> None:
    owner = world.funded()
    body = json.dumps({**draft(api, owner), field: value})  # \ud800 escaped, as JSON allows
    response = api.post(
        "/datasets/typed-data", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert any(field in e["loc"] for e in response.json()["detail"])


def test_sign_in_message_verifies_for_its_signer_only(api: TestClient, world: ChainWorld) -> None:
    account, other = world.funded(), world.funded()
    for signer, status in [(account, 200), (other, 401)]:
        challenge = api.get("/auth/nonce", params={"address": account.address.lower()}).json()
        message = challenge["message"]
        assert account.address in message and challenge["nonce"] in message
        signature = signer.sign_message(encode_defunct(text=message)).signature
        body = {"message": message, "signature": "0x" + bytes(signature).hex()}
        answer = api.post("/auth/verify", json=body)
        assert answer.status_code == status, answer.text
        if status == 200:
            assert answer.json()["address"] == account.address
    for bad in ["0x1234", "not-an-address", "0x" + "g" * 40]:
        response = api.get("/auth/nonce", params={"address": bad})
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["query", "address"]


ODD_QUERIES = [
    {"offset": "²"},
    {"offset": "9" * 5000},
    {"offset": str(10**9 + 1)},
    {"offset": str(10**9)},
    {"status": "<script>"},
    {"status": "completed", "offset": "-1"},
    {"q": "%" * 100},
    {"q": "\\"},
    {"q": "' OR 1=1 --"},
    {"tag": "x" * 41},
    {"min_price": "1" * 200},
    {"max_price": "0x" + "f" * 64},
]


def test_no_page_answers_5xx_to_odd_queries(api: TestClient, task: DrivenTask) -> None:
    pages = ["/", "/ui/tasks", "/ui/models", f"/ui/tasks/{task.task_id}", "/ui/list"]
    for path in pages:
        for params in ODD_QUERIES:
            response = api.get(path, params=params)
            assert response.status_code < 500, (path, params, response.text)
            assert response.headers["content-type"].startswith("text/html"), (path, params)
