"""``fedmarket status`` on real tasks on anvil: every phase, the overdue verdict, a party's view.

Tasks are driven on-chain with the chain client as their parties would (``market_world``), the
clock travelling from deadline to deadline; at each step ``status task`` (in this process) must
say the phase, the round's commitments and reveals, the deadlines and the money. Whether a task
is abortable, and by whom, is held to FedTask itself: an abort the report calls premature
reverts, one it allows succeeds. ``status party`` reports a participant's stake, the rewards it
claimed and those due now (the same as ``fedmarket proceeds``), the sponsor's remainder and the
coordinator's stake.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from chain import CommitmentBatch, RpcBackend, UpdateCommitment, sign_commitment
from chain.errors import ChainRevertError
from fedmarket.demo import (
    build_world,
    design_task,
    make_coordinator,
    make_participants,
    sponsor_task,
    step_all,
)
from fl_node.commitments import BatchDocument
from kernel.types import Cid
from storage import compute_cid, content_hash
from tests.integration.app.app_cli import Ran
from tests.integration.marketplace_api.market_world import (
    STAKE,
    TOKEN,
    ChainWorld,
    DrivenTask,
    commit_round,
    drive_task,
    finalize_round,
    make_world,
    open_round,
    start_task,
)

pytestmark = [pytest.mark.slow, pytest.mark.rpc]


@dataclass
class Here:
    """The world and the files the command line reads."""

    world: ChainWorld
    deployment: Path
    store: Path

    def args(self) -> list[str]:
        backend = self.world.backend
        assert isinstance(backend, RpcBackend)
        return ["--rpc", backend.url, "--deployment", str(self.deployment)]


@pytest.fixture(scope="module")
def here(anvil_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Here]:
    tmp = tmp_path_factory.mktemp("status")
    world = make_world(RpcBackend(anvil_url), tmp / "store")
    yield Here(world, world.deployment.save(tmp / "deployment.json"), tmp / "store")


@pytest.fixture
def status(here: Here, cli: Callable[..., Ran]) -> Callable[..., dict[str, Any]]:
    """``fedmarket status KIND WHAT --json`` (with the store), parsed."""

    def run(kind: str, what: object, *extra: str) -> dict[str, Any]:
        ran = cli("status", kind, str(what), *here.args(), "--store", str(here.store), "--json",
                  *extra)  # fmt: skip
        assert ran.code == 0, ran.stderr
        parsed: dict[str, Any] = json.loads(ran.stdout)
        return parsed

    return run


def deadline(report: dict[str, Any], name: str) -> dict[str, Any]:
    [found] = [d for d in report["deadlines"] if d["name"] == name]
    return found


def commit_three_ways(here: Here, task: DrivenTask, round_: int) -> list[str]:
    """Participant 0 in the coordinator's batch, 1 directly, 2 directly to bytes never published.

    The batch document is the coordinator's (:class:`~fl_node.commitments.BatchDocument`, each
    leaf with its update's CID); 0's and 1's updates are in the store (revealed), 2's is not.
    """
    world, (p0, p1, p2) = here.world, task.participants
    blobs = [b"update %d " % i + os.urandom(8) for i in range(3)]
    cids = [str(world.store.put(b)) for b in blobs[:2]] + [str(compute_cid(blobs[2]))]
    signed = sign_commitment(
        p0, world.fed_task().domain(),
        UpdateCommitment(task.task_id, round_, content_hash(blobs[0]), 10),
    )  # fmt: skip
    document = BatchDocument(CommitmentBatch.build([signed]), {p0.address: Cid(cids[0])})
    world.fed_task(task.coordinator).post_batch(
        document.batch, world.store.put_json(document.to_dict())
    )
    for who, blob, cid in ((p1, blobs[1], cids[1]), (p2, blobs[2], cids[2])):
        world.fed_task(who).commit_update(task.task_id, round_, content_hash(blob), 10, cid)
    return cids


def test_a_task_through_its_phases_until_anyone_aborts_it(here: Here, status, cli) -> None:
    world = here.world
    task = start_task(world, n_participants=3, pool=300 * TOKEN, total_rounds=2)
    seen = status("task", task.task_id)
    assert (seen["status"], seen["phase"], seen["current_round"]) == ("joining", "join", None)
    assert seen["participants_joined"] == 3 and seen["overdue"] is None
    assert [(s["role"], s["amount_wei"]) for s in seen["stakes"]] == [
        ("coordinator", str(STAKE)), *[("participant", str(STAKE))] * 3,
    ]  # fmt: skip
    assert deadline(seen, "open_by")["seconds_left"] > 0

    base = open_round(world, task, 1)
    seen = status("task", task.task_id)
    assert seen["phase"] == "commit"
    assert seen["current_round"] == {
        "round": 1, "open": True, "quorum": 1, "committed": 0, "revealed": 0, "accepted": 0,
        "quorum_met": False,
    }  # fmt: skip
    updates = commit_three_ways(here, task, 1)
    seen = status("task", task.task_id)
    assert (seen["current_round"]["committed"], seen["current_round"]["revealed"]) == (3, 2)
    rinfo = world.fed_task().round(task.task_id, 1)
    for moment, phase in [
        (rinfo.commit_deadline, "inclusion"),
        (rinfo.reveal_start, "reveal"),
        (rinfo.reveal_deadline, "finalize"),
    ]:
        world.travel(moment)
        seen = status("task", task.task_id)
        assert seen["phase"] == phase and seen["overdue"] is None
        left = deadline(seen, "finalize")["seconds_left"]
        assert left == rinfo.finalize_deadline - seen["chain_time"] > 0

    finalized = finalize_round(world, task, 1, base=base, scores=[1, 1, 0], updates=updates,
                               last=False)  # fmt: skip
    seen = status("task", task.task_id)
    assert (seen["phase"], seen["rounds_finalized"]) == ("next_round", 1)
    assert seen["money"]["allocated_wei"] == str(finalized["budget"]) != "0"
    assert seen["current_round"]["accepted"] == len(updates)
    assert [r["round"] for r in seen["rounds"]] == [1]

    _overdue_until_anyone_aborts(here, task, status, cli)


def _overdue_until_anyone_aborts(here: Here, task: DrivenTask, status, cli) -> None:
    """Past the deadline to open round 2: the sponsor may abort, anyone after the grace."""
    world = here.world
    outsider = world.funded()
    world.travel(world.fed_task().task(task.task_id).deadline)
    seen = status("task", task.task_id)
    late = seen["overdue"]
    assert late["missed"] == "open round 2"
    assert late["abortable_by_sponsor"] and not late["abortable_by_anyone"]
    with pytest.raises(ChainRevertError) as early:  # FedTask agrees: not anyone's yet
        world.fed_task(outsider).abort_task(task.task_id)
    assert early.value.error_name == "TaskNotAbortable"
    text = cli("status", "task", str(task.task_id), *here.args())
    assert text.code == 0 and "OVERDUE: open round 2 was due at" in text.stdout

    world.travel(late["anyone_may_abort_at"])
    seen = status("task", task.task_id)
    assert seen["overdue"]["abortable_by_anyone"]
    world.fed_task(outsider).abort_task(task.task_id)  # FedTask agrees: anyone's now
    seen = status("task", task.task_id)
    assert (seen["status"], seen["phase"], seen["overdue"]) == ("aborted", "ended", None)
    assert int(seen["money"]["refunded_wei"]) > 0 and seen["money"]["unallocated_wei"] == "0"


def test_a_round_not_finalised_in_time_is_the_sponsors_to_abort(here: Here, status) -> None:
    world = here.world
    task = start_task(world, n_participants=2, pool=100 * TOKEN, total_rounds=3)
    open_round(world, task, 1)
    commit_round(world, task, 1, [True, True])  # its batch document lacks the updates' CIDs
    world.travel(world.fed_task().round(task.task_id, 1).finalize_deadline)
    seen = status("task", task.task_id)
    assert seen["phase"] == "finalize" and deadline(seen, "finalize")["passed"]
    assert (seen["current_round"]["committed"], seen["current_round"]["revealed"]) == (2, None)
    assert seen["notes"][0].startswith("reveals of round 1 not counted: batch")
    assert seen["overdue"]["missed"] == "finalize round 1"
    assert seen["overdue"]["abortable_by_sponsor"] and not seen["overdue"]["abortable_by_anyone"]
    world.fed_task(task.sponsor).abort_task(task.task_id)
    seen = status("task", task.task_id)
    assert (seen["status"], seen["phase"], seen["rounds_finalized"]) == ("aborted", "ended", 0)
    assert [d["name"] for d in seen["deadlines"]] == ["stakes_withdrawable"]


def test_an_unknown_task_is_exit_4(here: Here, cli) -> None:
    ran = cli("status", "task", "999999", *here.args())
    assert ran.code == 4 and "task 999999 does not exist" in ran.one_error_line()


def test_a_party_sees_its_roles_stakes_and_rewards_claimed(here: Here, status) -> None:
    world = here.world
    task = drive_task(world, scores=[[1, 3], [2, 1]], n_participants=2, claims=[(0, 1)],
                      final=False, with_card=False)  # fmt: skip
    first = task.rounds[0]["tree"]
    p0 = task.participants[0].address
    seen = status("task", task.task_id)
    assert (seen["status"], seen["phase"]) == ("completed", "challenge")

    party = status("party", p0)
    [entry] = [t for t in party["tasks"] if t["task_id"] == task.task_id]
    assert entry["roles"] == ["participant"] and entry["stake_wei"] == str(STAKE)
    assert entry["rewards_claimed_wei"] == str(first.amount_of(p0)) != "0"
    assert (entry["rewards_claimable_wei"], entry["waiting_rounds"]) == ("0", 1)  # window runs
    assert entry["share_bps"] == task.shares[0]
    assert party["balances"]["fmt_wei"] == str(world.token().balance_of(p0))
    assert party["stakes_wei"] == str(STAKE)
    world.travel(world.fed_task().round(task.task_id, 2).claimable_at)
    assert status("task", task.task_id)["phase"] == "ended"
    _sponsor_and_coordinator(here, task, status)


def _sponsor_and_coordinator(here: Here, task: DrivenTask, status) -> None:
    world = here.world
    left = world.fed_task().task(task.task_id).unallocated
    sponsor = status("party", task.sponsor.address)
    [entry] = sponsor["tasks"]
    assert entry["roles"] == ["sponsor"] and entry["remainder_wei"] == str(left)
    assert entry["rewards_claimable_wei"] is None  # not a participant: no rewards to rebuild
    assert int(sponsor["claimable_wei"]) >= left
    coordinator = status("party", task.coordinator.address)
    [entry] = coordinator["tasks"]
    assert entry["roles"] == ["coordinator"] and entry["stake_wei"] == str(STAKE)


def test_a_trained_task_s_rewards_due_are_what_the_rounds_paid(anvil_url, tmp_path, cli) -> None:
    """Real rounds (the demo's hospitals, real evidence): claimed plus due is what each earned."""
    world = build_world(tmp_path / "store", backend=RpcBackend(anvil_url))
    world.token(world.deployer).mint(world.sponsor.address, 40 * TOKEN)
    spec = design_task([h.stats() for h in world.split.hospitals], world.split.feature_names,
                       rounds=2)  # fmt: skip
    task_id = sponsor_task(world, spec, pool=40 * TOKEN, max_participants=4)
    nodes = make_participants(world, task_id)
    coordinator = make_coordinator(world, task_id)
    coordinator.run(between=step_all(nodes, task_id), settle=False)
    world.backend.travel_to(world.fed_task().round(task_id, 2).claimable_at)
    chain = ["--rpc", anvil_url, "--deployment", str(world.deployment.save(tmp_path / "d.json"))]
    store = ["--store", str(tmp_path / "store")]
    earned = [sum(r.rewards.amounts[i] for r in coordinator.reports) for i in range(len(nodes))]
    assert sum(1 for e in earned if e) >= 2
    for node, total in zip(nodes, earned, strict=True):
        ran = cli("status", "party", node.address, *chain, *store, "--json")
        assert ran.code == 0, ran.stderr
        [entry] = json.loads(ran.stdout)["tasks"]
        assert entry["roles"] == ["participant"] and entry["waiting_rounds"] == 0
        claimed, due = int(entry["rewards_claimed_wei"]), int(entry["rewards_claimable_wei"])
        assert claimed + due == total
        proceeds = json.loads(cli("proceeds", *chain, *store, "--address", node.address).stdout)
        assert proceeds["task_rewards"][0]["claimable_wei"] == str(due)  # one computation
    table = cli("status", "party", nodes[0].address, *chain, *store)
    assert table.code == 0 and f"account {nodes[0].address}" in table.stdout
