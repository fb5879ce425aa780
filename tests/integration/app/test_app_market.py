"""``fedmarket buy`` and ``fedmarket proceeds`` through the real command line, on anvil.

A final task's model is listed on the ModelMarket, described and uploaded by its sponsor to an
API served from this process (SQLite, a local store). Buyers run ``fedmarket buy`` with their own
key: the file written is the exact model whose hash FedTask holds, and each refusal (price above
``--max-price``, content not uploaded, unknown model, too few tokens, the API down, an existing
``--out``, a missing key, no ether for gas) exits with its documented code, one line, and nothing
paid. Contributors then see and claim their proceeds with ``fedmarket proceeds``; the sponsor
withdraws its cut.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount

import fedmarket.cli.market as market_cli
from chain import RpcBackend, new_account
from chain.market import contributor_entitlement, sale_split
from chain.signer import Signer
from marketplace_api import MarketplaceClient, Services, create_app, serve_in_thread
from storage import content_hash
from tests.integration.app.app_cli import Ran, fedmarket
from tests.integration.marketplace_api.market_world import (
    TOKEN,
    ChainWorld,
    DrivenTask,
    drive_task,
    list_on_market,
    make_world,
)
from tests.unit.app.exit_table import ExitTable, readme_exit_codes

pytestmark = [pytest.mark.slow, pytest.mark.rpc]

PRICE = 7 * TOKEN + 3
SPONSOR_BPS = 2_000


@dataclass
class Shop:
    """A chain, a served API, and one model for sale (with its bytes)."""

    world: ChainWorld
    api_url: str
    deployment: Path
    task: DrivenTask
    model_id: int
    model: bytes

    def chain_args(self) -> list[str]:
        backend = self.world.backend
        assert isinstance(backend, RpcBackend)
        return ["--rpc", backend.url, "--deployment", str(self.deployment)]

    def buy_args(self, model_id: int | None = None, max_price: int = PRICE) -> list[str]:
        target = str(self.model_id if model_id is None else model_id)
        return ["buy", target, *self.chain_args(), "--api", self.api_url,
                "--max-price", str(max_price)]  # fmt: skip

    def buyer(self, tokens: int = PRICE, *, gas: bool = True) -> LocalAccount:
        account = self.world.funded() if gas else new_account()
        if tokens:
            self.world.deployment.token_client(self.world.backend, self.world.deployer).mint(
                account.address, tokens
            )
        return account

    def balance(self, account: LocalAccount) -> int:
        return int(self.world.token().balance_of(account.address))


def sold_model(world: ChainWorld, api: MarketplaceClient, model: bytes) -> tuple[DrivenTask, int]:
    """A final task with ``model`` as its last model, listed, described and uploaded."""
    task = drive_task(world, scores=[[1, 3], [2, 1]], n_participants=2, final_model=model)
    model_id = list_on_market(world, task, price=PRICE, sponsor_bps=SPONSOR_BPS)
    assert task.card_cid is not None
    api.list_model(task.sponsor, task_id=task.task_id, name="cli model", card_cid=task.card_cid)
    api.sign_in(task.sponsor)
    api.upload_content("model", model_id, model)
    return task, model_id


@pytest.fixture(scope="module")
def shop(anvil_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    tmp = tmp_path_factory.mktemp("shop")
    world = make_world(RpcBackend(anvil_url), tmp / "store")
    services = Services.embedded(
        backend=world.backend, deployment=world.deployment, relayer=world.relayer,
        store=world.store, database_url=f"sqlite:///{tmp / 'market.db'}", index_interval=None,
    )  # fmt: skip
    server = serve_in_thread(create_app(services=services))
    try:
        model = os.urandom(200_000)
        with MarketplaceClient(server.url) as api:
            task, model_id = sold_model(world, api, model)
        deployment = world.deployment.save(tmp / "deployment.json")
        yield Shop(world, server.url, deployment, task, model_id, model)
    finally:
        server.stop()
        services.close()


@pytest.fixture(scope="module")
def table() -> ExitTable:
    return readme_exit_codes()


def as_party(account: LocalAccount, name: str = "FEDMARKET_BUYER_KEY") -> dict[str, str]:
    return {name: "0x" + bytes(account.key).hex()}


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, cli: Callable[..., Ran]) -> Callable[..., Ran]:
    """``fedmarket ARGS`` in this process, with ``env`` set for the run."""

    def with_env(*args: str, env: dict[str, str] | None = None) -> Ran:
        for name, value in (env or {}).items():
            monkeypatch.setenv(name, value)
        return cli(*args)

    return with_env


def test_buy_pays_once_and_writes_the_exact_model(shop: Shop, tmp_path: Path, table) -> None:
    world = shop.world
    buyer = shop.buyer()
    contributors = shop.task.addresses
    before = {a: world.market().claimable_proceeds(shop.model_id, a) for a in contributors}
    target = tmp_path / "model.bin"

    # the console script itself, in its own process
    ran = fedmarket(*shop.buy_args(), "--out", str(target), env=as_party(buyer))
    assert ran.code == table.code_for("success") == 0, ran.stderr
    assert target.read_bytes() == shop.model
    assert content_hash(target.read_bytes()) == world.fed_task().task(shop.task.task_id).model_hash
    [line] = ran.stdout.splitlines()
    assert line.startswith(f"model {shop.model_id}: paid {PRICE} wei (tx 0x")
    assert f"{len(shop.model)} bytes" in line and str(target) in line
    assert shop.balance(buyer) == 0
    assert world.market().has_licence(shop.model_id, buyer.address)

    split = sale_split(PRICE, world.market().fee_config().fee_bps, SPONSOR_BPS)
    shares = world.fed_task().shares(shop.task.task_id)
    for address, share in zip(contributors, shares, strict=True):
        rise = world.market().claimable_proceeds(shop.model_id, address) - before[address]
        assert rise == contributor_entitlement(split.contributors_amount, share)

    # again: the licence is held, nothing is paid, and --out is not overwritten without --force
    world.deployment.token_client(world.backend, world.deployer).mint(buyer.address, PRICE)
    again = fedmarket(*shop.buy_args(), "--out", str(target), env=as_party(buyer))
    assert again.code == table.by_family["InvalidInputError"] == 2
    assert again.one_error_line() == f"error: --out {target} exists: give --force to overwrite it"
    target.write_bytes(b"stale")
    forced = fedmarket(*shop.buy_args(), "--out", str(target), "--force", env=as_party(buyer))
    assert forced.code == 0, forced.stderr
    assert "already licensed" in forced.stdout and "nothing paid" in forced.stdout
    assert target.read_bytes() == shop.model and shop.balance(buyer) == PRICE


def nothing_paid(shop: Shop, buyer: LocalAccount, tokens: int, target: Path) -> None:
    assert shop.balance(buyer) == tokens
    assert not shop.world.market().has_licence(shop.model_id, buyer.address)
    assert not target.exists()


@pytest.mark.parametrize(
    ("case", "family", "message"),
    [
        ("price above --max-price", "RefusedError",
         f"costs {PRICE} wei, above --max-price {PRICE - 1}: nothing was paid"),
        ("too few tokens", "RefusedError", f"less than model 1's price {PRICE}: nothing was paid"),
        ("unknown model", "NotFoundError", "model 99 is not listed on the ModelMarket"),
        ("API down", "ServiceUnavailableError", "cannot reach the marketplace API"),
        ("no key", "InvalidInputError", "environment variable FEDMARKET_BUYER_KEY is not set"),
        ("no gas", "InvalidInputError", "has too little ether to pay the gas of approve"),
    ],
    ids=["max-price", "tokens", "unknown", "api-down", "no-key", "no-gas"],
)  # fmt: skip
def test_buy_refuses_before_paying(
    shop, run, monkeypatch, tmp_path, table, case, family, message
) -> None:
    tokens = PRICE - 1 if case == "too few tokens" else PRICE
    buyer = shop.buyer(tokens, gas=case != "no gas")
    target = tmp_path / "model.bin"
    args = shop.buy_args(
        model_id=99 if case == "unknown model" else None,
        max_price=PRICE - 1 if case == "price above --max-price" else PRICE,
    )
    if case == "API down":
        args[args.index("--api") + 1] = "http://127.0.0.1:9"
    env = {} if case == "no key" else as_party(buyer)
    if case == "no key":
        monkeypatch.delenv("FEDMARKET_BUYER_KEY", raising=False)
    ran = run(*args, "--out", str(target), env=env)
    assert ran.code == table.by_family[family], ran.stderr
    line = ran.one_error_line()
    assert message.replace("model 1's", f"model {shop.model_id}'s") in line, line
    nothing_paid(shop, buyer, tokens, target)


def test_buy_refuses_a_model_whose_content_is_not_uploaded(shop, run, tmp_path, table) -> None:
    world = shop.world
    task = drive_task(world, scores=[[1, 1]], n_participants=2)
    model_id = list_on_market(world, task, price=PRICE)
    assert task.card_cid is not None
    with MarketplaceClient(shop.api_url) as api:
        api.list_model(task.sponsor, task_id=task.task_id, name="no bytes", card_cid=task.card_cid)
    buyer = shop.buyer()
    target = tmp_path / "model.bin"
    ran = run(*shop.buy_args(model_id=model_id), "--out", str(target), env=as_party(buyer))
    assert ran.code == table.by_family["NotFoundError"] == 4
    assert "has not uploaded its content yet: nothing was paid" in ran.one_error_line()
    assert shop.balance(buyer) == PRICE
    assert not world.market().has_licence(model_id, buyer.address)


def report(ran: Ran) -> dict[str, Any]:
    assert ran.code == 0, ran.stderr
    parsed: dict[str, Any] = json.loads(ran.stdout)
    return parsed


def test_proceeds_shows_and_claims_pull_balances(shop, run, tmp_path, table) -> None:
    world = shop.world
    buyer = shop.buyer()
    ran = run(*shop.buy_args(), "--out", str(tmp_path / "m.bin"), env=as_party(buyer))
    assert ran.code == 0, ran.stderr
    market = world.market()
    shares = world.fed_task().shares(shop.task.task_id)
    for participant, share in zip(shop.task.participants, shares, strict=True):
        claimable = int(market.claimable_proceeds(shop.model_id, participant.address))
        assert claimable > 0
        seen = report(run("proceeds", *shop.chain_args(), "--address", participant.address))
        [row] = seen["models"]
        assert (row["model_id"], row["task_id"], row["share_bps"]) == (
            shop.model_id, shop.task.task_id, share,
        )  # fmt: skip
        assert row["claimable_wei"] == seen["claimable_wei"] == str(claimable)
        held = shop.balance(participant)
        claimed = report(run("proceeds", *shop.chain_args(), "--claim",
                             env=as_party(participant, "FEDMARKET_PARTICIPANT_KEY")))  # fmt: skip
        assert [c["what"] for c in claimed["claimed"]] == [f"model {shop.model_id}"]
        assert shop.balance(participant) - held == claimable
        assert market.claimable_proceeds(shop.model_id, participant.address) == 0
        after = report(run("proceeds", *shop.chain_args(), "--address", participant.address))
        assert after["claimable_wei"] == "0" and after["models"][0]["claimed_wei"] != "0"

    # the sponsor's cut is a market pull balance: shown, then withdrawn
    sponsor = shop.task.sponsor
    cut = int(market.withdrawable(sponsor.address))
    seen = report(run("proceeds", *shop.chain_args(), "--address", sponsor.address))
    assert seen["models"] == [] and seen["balances_wei"]["market"] == str(cut) != "0"
    held = shop.balance(sponsor)
    done = report(run("proceeds", *shop.chain_args(), "--claim",
                      env=as_party(sponsor, "FEDMARKET_PARTICIPANT_KEY")))  # fmt: skip
    assert [(c["what"], c["wei"]) for c in done["claimed"]] == [("market", str(cut))]
    assert shop.balance(sponsor) - held == cut and market.withdrawable(sponsor.address) == 0

    refused = run("proceeds", *shop.chain_args(), "--claim", "--address", sponsor.address)
    assert refused.code == table.by_family["InvalidInputError"]
    assert "--claim needs the account's key" in refused.one_error_line()


def test_a_price_raised_after_the_check_reverts_on_chain(shop, run, monkeypatch, tmp_path, table):
    """The sponsor raises the price between ``buy``'s check and its payment: MarketPriceAboveMax."""
    buyer = shop.buyer(2 * PRICE)
    pay = market_cli._pay
    world = shop.world  # a signer of its own: the sponsor also sent from the CLI's processes
    sponsor_market = world.deployment.market_client(
        world.backend, Signer(world.backend, shop.task.sponsor)
    )

    def raised_meanwhile(*args: Any) -> Any:
        sponsor_market.set_price(shop.model_id, PRICE + 1)
        return pay(*args)

    monkeypatch.setattr(market_cli, "_pay", raised_meanwhile)
    target = tmp_path / "model.bin"
    try:
        ran = run(*shop.buy_args(max_price=2 * PRICE), "--out", str(target), env=as_party(buyer))
    finally:
        sponsor_market.set_price(shop.model_id, PRICE)
    assert ran.code == table.by_family["RefusedError"] == 5
    assert "MarketPriceAboveMax" in ran.one_error_line()
    nothing_paid(shop, buyer, 2 * PRICE, target)


def test_a_tampered_download_is_refused_and_a_rerun_pays_nothing(
    shop, run, monkeypatch, tmp_path, table
) -> None:
    buyer = shop.buyer()
    envelope = MarketplaceClient.content_envelope

    def tampered(self: MarketplaceClient, kind: str, item_id: int) -> bytes:
        data = bytearray(envelope(self, kind, item_id))  # type: ignore[arg-type]
        data[-1] ^= 1
        return bytes(data)

    monkeypatch.setattr(MarketplaceClient, "content_envelope", tampered)
    target = tmp_path / "model.bin"
    ran = run(*shop.buy_args(), "--out", str(target), env=as_party(buyer))
    assert ran.code == table.by_family["IntegrityError"] == 6
    assert ran.one_error_line() == "error: the envelope is not the CID granted"
    assert not target.exists() and shop.balance(buyer) == 0  # paid: the licence is held

    monkeypatch.setattr(MarketplaceClient, "content_envelope", envelope)
    again = run(*shop.buy_args(), "--out", str(target), env=as_party(buyer))
    assert again.code == 0, again.stderr
    assert "already licensed" in again.stdout and target.read_bytes() == shop.model
    assert shop.balance(buyer) == 0
