"""A model trained by federated learning, bought and paid out through the command line, on anvil.

Four hospitals train one round with the real coordinator and participant nodes (the demo's
parties, their rewards left unclaimed); the sponsor lists the final model on the ModelMarket,
describes it and uploads it to an API served from this process. A buyer runs ``fedmarket buy``:
the file is the trained model (a safetensors file that loads) whose hash FedTask holds. Each
hospital then runs ``fedmarket proceeds --store ... --claim`` (in this process): one command
claims its round reward by proof and its share of the sale, and its balance rises by exactly both.
"""

from __future__ import annotations

import json

import pytest
from safetensors.numpy import load as load_safetensors

from chain import RpcBackend, fund, new_account
from chain.market import contributor_entitlement
from fedmarket.demo import (
    TOKEN,
    build_world,
    design_task,
    make_coordinator,
    make_participants,
    sponsor_task,
    step_all,
)
from fedmarket.demo.deliverables import publish_deliverables
from fedmarket.demo.sale import MODEL_PRICE, list_model
from marketplace_api import MarketplaceClient, Services, create_app, serve_in_thread
from storage import content_hash
from tests.integration.app.app_cli import fedmarket

pytestmark = [pytest.mark.slow, pytest.mark.rpc]

POOL = 40 * TOKEN


def key_env(account, name: str) -> dict[str, str]:
    return {name: "0x" + bytes(account.key).hex()}


def test_a_trained_model_is_bought_and_its_contributors_paid(anvil_url, tmp_path, cli, monkeypatch):
    world = build_world(tmp_path / "store", backend=RpcBackend(anvil_url))
    world.token(world.deployer).mint(world.sponsor.address, POOL)
    stats = [h.stats() for h in world.split.hospitals]
    spec = design_task(stats, world.split.feature_names, rounds=1)
    task_id = sponsor_task(world, spec, pool=POOL, max_participants=4)
    nodes = make_participants(world, task_id)
    coordinator = make_coordinator(world, task_id)
    coordinator.run(between=step_all(nodes, task_id), settle=False)
    world.backend.travel_to(world.fed_task().round(task_id, 1).claimable_at)
    assert world.fed_task().is_final(task_id)
    info = world.fed_task().task(task_id)
    model = world.store.get(coordinator.reports[-1].model_cid)
    assert content_hash(model) == info.model_hash

    out = tmp_path / "deliverables"
    out.mkdir()
    card_cid = publish_deliverables(world, task_id, spec, coordinator.reports, out).card_cid
    model_id, _ = list_model(world, task_id, card_cid)
    relayer = new_account()
    fund(world.backend, relayer.address, 10**19)
    services = Services.embedded(
        backend=world.backend, deployment=world.deployment, relayer=relayer, store=world.store,
        database_url=f"sqlite:///{tmp_path / 'market.db'}", index_interval=None,
    )  # fmt: skip
    deployment = world.deployment.save(tmp_path / "deployment.json")
    chain = ["--rpc", anvil_url, "--deployment", str(deployment)]
    with serve_in_thread(create_app(services=services)) as server:
        with MarketplaceClient(server.url) as api:
            sponsor = world.accounts["sponsor"]
            api.list_model(sponsor, task_id=task_id, name="breast-cancer mlp", card_cid=card_cid)
            api.sign_in(sponsor)
            api.upload_content("model", model_id, model)

        buyer = new_account()
        fund(world.backend, buyer.address, 10**19)
        world.token(world.deployer).mint(buyer.address, MODEL_PRICE)
        target = tmp_path / "bought.safetensors"
        ran = fedmarket("buy", str(model_id), *chain, "--api", server.url,
                        "--max-price", str(MODEL_PRICE), "--out", str(target),
                        env=key_env(buyer, "FEDMARKET_BUYER_KEY"))  # fmt: skip
        assert ran.code == 0, ran.stderr
    services.close()
    assert target.read_bytes() == model
    assert load_safetensors(target.read_bytes())  # the trained weights, by name
    assert world.token().balance_of(buyer.address) == 0

    market = world.market()
    shares = world.fed_task().shares(task_id)
    amounts = coordinator.reports[-1].rewards.amounts  # join order, as the shares
    proceeds = int(market.model(model_id).proceeds)
    assert sum(1 for a in amounts if a) >= 2 and proceeds > 0
    store = ["--store", str(tmp_path / "store")]
    for node, share, reward in zip(nodes, shares, amounts, strict=True):
        seen = cli("proceeds", *chain, *store, "--address", node.address)
        assert seen.code == 0, seen.stderr
        shown = json.loads(seen.stdout)
        sale = int(contributor_entitlement(proceeds, share))
        [rewards] = shown["task_rewards"]
        assert (rewards["task_id"], rewards["rounds"]) == (task_id, [1] if reward else [])
        assert int(rewards["claimable_wei"]) == reward
        assert [int(m["claimable_wei"]) for m in shown["models"]] == ([sale] if share else [])
        assert int(shown["claimable_wei"]) == reward + sale

        held = world.token().balance_of(node.address)
        monkeypatch.setenv("FEDMARKET_PARTICIPANT_KEY", "0x" + bytes(node.signer.account.key).hex())
        claimed = cli("proceeds", *chain, *store, "--claim")
        assert claimed.code == 0, claimed.stderr
        assert world.token().balance_of(node.address) - held == reward + sale
        what = [c["what"] for c in json.loads(claimed.stdout)["claimed"]]
        assert what == [f"model {model_id}"] * bool(sale) + [f"task {task_id}"] * bool(reward)
