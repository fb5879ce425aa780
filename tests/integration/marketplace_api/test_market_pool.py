"""A pool task's bundle through the marketplace API: described, shown, bought, paid out.

The pool runs on the API's own chain and store; its sponsor lists the bundle on ModelMarket,
describes it through ``POST /models`` (the card names the bundle as the task's final model), a
buyer buys it, and the proceeds go to the participants by their summed contributions.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from chain import provision
from chain.fed_task import Schedule
from fedmarket.pool import POOL, list_bundle, pool_task
from fl_node.pool.assignment import seed_commitment
from fl_node.pool.audit import audit_pool
from fl_node.pool.convergence import ConvergenceRule
from fl_node.pool.ledger import COORDINATOR, SPONSOR, FedTaskLedger, participant_role
from fl_node.pool.run import PoolParty, PoolRunner
from marketplace_api.listing import sign_model_listing
from marketplace_api.schemas import ModelBase
from tests.integration.marketplace_api.market_world import TOKEN, ChainWorld

pytestmark = pytest.mark.slow

SECRET = bytes(range(32, 64))
CLIENTS = 3


def test_a_pool_bundle_is_described_bought_and_pays_its_contributors(
    api: TestClient, world: ChainWorld
) -> None:
    spec, split = pool_task(
        "digits",
        clients=CLIENTS,
        rounds=3,
        convergence=ConvergenceRule(window=2, band=0.05),
        secret=SECRET,
    )
    assert spec.seed_commitment == "0x" + seed_commitment(SECRET).hex()
    roles = [SPONSOR, COORDINATOR, *(participant_role(i) for i in range(CLIENTS))]
    keys = {role: world.funded() for role in roles}
    parties = provision(world.backend, roles, deployment=world.deployment, keys=keys)
    world.tokens(keys[SPONSOR], POOL)
    ledger = FedTaskLedger(parties, world.store)
    ledger.create(spec, pool=POOL, schedule=Schedule.uniform(600), n_participants=CLIENTS)
    nodes = [PoolParty(a, d) for a, d in zip(ledger.participants, split.hospitals, strict=True)]
    result = PoolRunner(
        spec, nodes, split.validation, split.test, SECRET, ledger, world.store
    ).run()
    assert audit_pool(world.fed_task(), world.store, ledger.task_id).ok
    model_id, card_cid = list_bundle(ledger, spec, result, 20 * TOKEN, sponsor_bps=500)

    fields = ModelBase.model_validate(
        {
            "task_id": ledger.task_id,
            "name": "Digits pool",
            "description": "The shared pool of a random model sharing pool task.",
            "price_wei": str(20 * TOKEN),
            "card_cid": card_cid,
        }
    )
    deployment = world.deployment
    signature = sign_model_listing(
        keys[SPONSOR],
        fields,
        chain_id=world.backend.chain_id,
        fed_task=deployment.fed_task,
        market=deployment.market,
    )
    body = {**fields.message_fields(), "signer": keys[SPONSOR].address, "signature": signature}
    response = api.post("/models", json=body)
    assert response.status_code == 201, response.text
    listed = response.json()
    assert listed["id"] == model_id and listed["model_cid"] == result.bundle_cid
    shares = world.fed_task().shares(ledger.task_id)
    assert listed["contributors"] == [
        {"address": a, "share_bps": s}
        for a, s in zip(ledger.participants, shares, strict=True)
        if s
    ]
    assert set(listed["metrics"]) == {"best_accuracy", "worst_accuracy"}

    buyer = world.funded()
    world.tokens(buyer, 20 * TOKEN, deployment.market)
    bought, _ = world.market(buyer).buy(model_id, 20 * TOKEN)
    shown = api.get(f"/models/{model_id}").json()
    assert shown["proceeds_wei"] == str(bought.contributors_amount) != "0"
    for contributor in listed["contributors"]:
        assert world.market().claimable_proceeds(model_id, contributor["address"]) > 0
