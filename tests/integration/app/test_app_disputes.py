"""A dispute through the command line on anvil: audit, challenge, court, claim.

A coordinator rejects a valid update; ``fedmarket audit --challenge-out`` exits 1 and writes the
challenge; the victim runs ``fedmarket challenge`` with its own key; two validators run
``fedmarket court register`` and ``court vote`` (each auditing the task itself); anyone runs
``court resolve``; after the window the victim's ``fedmarket claim`` takes the corrected reward.
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from eth_account.signers.local import LocalAccount

import fl_node.coordinator as coordinator_module
from chain import RpcBackend, fund, new_account, signer_for
from fedmarket.demo import (
    TOKEN,
    build_world,
    design_task,
    make_coordinator,
    make_participants,
    sponsor_task,
    step_all,
)
from fl_node.validation import check_update as real_check_update
from storage.access_log import AccessLog
from tests.integration.app.app_cli import fedmarket

pytestmark = [pytest.mark.slow, pytest.mark.rpc]

POOL = 60 * TOKEN


def key_env(account: LocalAccount, name: str = "FEDMARKET_KEY") -> dict[str, str]:
    return {name: "0x" + bytes(account.key).hex()}


def test_a_wrongful_rejection_is_disputed_through_the_command_line(
    anvil_url, tmp_path, monkeypatch
):
    world = build_world(tmp_path / "store", backend=RpcBackend(anvil_url))
    world.mint(world.sponsor, POOL)
    spec = design_task([h.stats() for h in world.split.hospitals], world.split.feature_names,
                       rounds=1)  # fmt: skip
    task_id = sponsor_task(world, spec, pool=POOL, max_participants=4)
    nodes = make_participants(world, task_id, batched=False)
    victim = nodes[1]

    def reject_the_victim(store, commitment, context):
        verdict, update = real_check_update(store, commitment, context)
        if commitment.participant == victim.address:
            return replace(verdict, accepted=False, reason="malformed", detail="no"), None
        return verdict, update

    validators = [new_account() for _ in range(2)]
    stake = world.court().min_validator_stake()
    for account in validators:
        fund(world.backend, account.address, 10**19)
        world.mint(signer_for(world.backend, account), stake)
    world.mint(victim.signer, world.court().challenge_bond())
    world.deployment.save(tmp_path / "dep.json")
    common = ["--rpc", anvil_url, "--deployment", str(tmp_path / "dep.json")]
    with_store = [*common, "--store", str(tmp_path / "store")]
    for account in validators:  # registered before the challenge opens
        ran = fedmarket("court", "register", *common, "--amount", str(stake),
                        env=key_env(account, "FEDMARKET_VALIDATOR_KEY"))  # fmt: skip
        assert ran.code == 0, ran.stderr

    coordinator = make_coordinator(world, task_id, batched=False)
    monkeypatch.setattr(coordinator_module, "check_update", reject_the_victim)
    coordinator.run(between=step_all(nodes, task_id), settle=False)
    monkeypatch.undo()

    challenges = tmp_path / "challenges.json"
    access = tmp_path / "access-log"
    audited = fedmarket("audit", *with_store, "--task", str(task_id), "--json",
                        "--challenge-out", str(challenges),
                        env={"FEDMARKET_ACCESS_LOG": str(access)})  # fmt: skip
    assert audited.code == 1 and "error:" not in audited.stderr  # a verdict, not an error
    # the auditor's every read (and the evidence it writes) is in the access log, which verifies
    read = list(AccessLog(access).entries())
    assert {(e.actor, e.purpose) for e in read} == {("auditor", f"audit:task:{task_id}")}
    assert "get" in {e.action for e in read} and {e.action for e in read} <= {"get", "put"}
    assert AccessLog(access).verify(alert=False).ok
    [entry] = json.loads(challenges.read_text())
    assert entry["round"] == 1 and "updates" in entry["failed"]

    opened = fedmarket("challenge", *with_store, "--task", str(task_id), "--round", "1",
                       "--challenge-file", str(challenges),
                       env=key_env(victim.signer.account, "FEDMARKET_PARTICIPANT_KEY"))  # fmt: skip
    assert opened.code == 0, opened.stderr
    challenge_id = json.loads(opened.stdout)["challenge_id"]
    for account in validators:
        voted = fedmarket("court", "vote", *with_store, "--challenge", str(challenge_id),
                          env=key_env(account, "FEDMARKET_VALIDATOR_KEY"))  # fmt: skip
        assert voted.code == 0, voted.stderr
        assert json.loads(voted.stdout)["uphold_bps"] == 10_000
    resolved = fedmarket("court", "resolve", *common, "--challenge", str(challenge_id),
                         env=key_env(world.accounts["buyer"]))  # fmt: skip
    assert json.loads(resolved.stdout)["status"] == "upheld"

    world.backend.travel_to(world.fed_task().round(task_id, 1).claimable_at)
    victim_key = key_env(victim.signer.account, "FEDMARKET_PARTICIPANT_KEY")
    claimed = fedmarket("claim", *with_store, "--task", str(task_id), env=victim_key)
    assert claimed.code == 0, claimed.stderr
    result = json.loads(claimed.stdout)
    assert result["rounds"] == [1] and int(result["claimed_wei"]) > 0
    assert world.token().balance_of(victim.address) == int(result["claimed_wei"])
