"""Faults injected into a consortium on its own network; each test ends with the same checks.

Every party runs on its own host (a network namespace) as the command an operator types: the
chain node, the IPFS daemon, the sponsor, the coordinator, each participant. A fault is injected
(a process killed, a service restarted or stopped, a link cut, a clock skewed, a process frozen
past a deadline), the consortium recovers, and :func:`check_recovered` asserts 0 lost anchored
updates, 0 double payments, 0 orphaned evidence and a passing audit. Recovery times are printed
(``-s``) for docs/benchmarks.md.
"""

from __future__ import annotations

import json
import shutil
import signal
import time
from pathlib import Path

import httpx
import pytest

from chain.fed_task import RoundFinalizedEvent
from tests.faults.consortium import Consortium, check_recovered, wait_for
from tests.integration.consortium.up_process import consortium_folder

pytestmark = [pytest.mark.faults, pytest.mark.slow, pytest.mark.rpc, pytest.mark.timeout(1200)]

PARTIES = 3
ROUNDS = 2


def _start(c: Consortium, hospitals: Path, parties: int = PARTIES, quorum: int = 2) -> int:
    c.setup_chain(parties)
    return c.create_task(hospitals, rounds=ROUNDS, quorum=quorum, parties=parties)


def _finalized(c: Consortium, task_id: int) -> list[int]:
    return [e.round for e in c.client().events(RoundFinalizedEvent, task_id=task_id)]


def _task_listed(api: str, task_id: int) -> bool:
    answer = httpx.get(f"{api}/tasks/{task_id}", timeout=5)
    if answer.status_code != 200:
        return False
    task = answer.json()
    return bool(task["task_id"] == task_id and task["status"] == "completed")


def _report(name: str, **figures: object) -> None:
    print(f"\nFAULT {name}: " + json.dumps(figures, default=str))  # noqa: T201 - the suite's figures


@pytest.mark.smoke
def test_a_consortium_on_separate_hosts_trains_pays_and_audits(
    consortium: Consortium, hospitals: Path
):
    c = consortium
    task_id = _start(c, hospitals)
    shared = consortium_folder()
    try:
        api = c.start_marketplace(shared)
        coordinator = c.coordinator(task_id, hospitals, PARTIES)
        nodes = [c.participant(task_id, hospitals, i) for i in range(1, PARTIES + 1)]
        outputs = [json.loads(p.finish(600)) for p in nodes]
        # the API on its own host indexes the chain on another: the task shows there
        wait_for(lambda: _task_listed(api, task_id), 120, "the task in the API's index")
    finally:
        shutil.rmtree(shared, ignore_errors=True)
    summary = json.loads(coordinator.finish(300))
    assert summary["rounds"] == ROUNDS and summary["rejected"] == []
    assert all(o["rounds"] == [1, 2] for o in outputs)
    recovery = check_recovered(c, task_id, ROUNDS)
    assert recovery.updates_anchored == PARTIES * ROUNDS
    assert recovery.claimed == sum(int(b) for b in summary["budgets_wei"])
    addresses = {h.address for h in c.net.hosts.values()}
    assert len(addresses) == len(c.net.hosts) >= PARTIES + 6  # + chain, ipfs, database, api,
    # sponsor, coordinator
    _report("none", rounds=recovery.rounds, anchored=recovery.updates_anchored)


def test_a_participant_killed_mid_round_is_not_paid_for_it_and_rejoins(
    consortium: Consortium, hospitals: Path
):
    c = consortium
    task_id = _start(c, hospitals)
    coordinator = c.coordinator(task_id, hospitals, PARTIES)
    killed = {"FEDMARKET_FAILPOINTS": "participant.after_commit"}  # dies once it committed
    doomed = c.participant(task_id, hospitals, 3, env=killed)
    others = [c.participant(task_id, hospitals, i) for i in (1, 2)]
    assert doomed.wait_exit(300) == -signal.SIGKILL, doomed.tail()
    wait_for(lambda: 1 in _finalized(c, task_id), 300, "round 1 with the quorum")
    back = time.monotonic()
    restarted = c.participant(task_id, hospitals, 3)
    again = json.loads(restarted.finish(600))
    for node in others:
        node.finish(420)
    coordinator.finish(300)
    assert again["rounds"] == [2] and again["commitments"] == ["direct"]
    recovery = check_recovered(c, task_id, ROUNDS)
    dead = c.keys["p3"].address  # type: ignore[attr-defined]
    assert 1 not in recovery.paid_rounds.get(dead, [])
    assert recovery.updates_anchored == PARTIES * ROUNDS  # its round-1 commitment is on-chain
    _report("participant killed", recovery=recovery, rejoin_s=round(time.monotonic() - back))


COORDINATOR_POINTS = [
    "coordinator.after_open",  # round 1 anchored, nothing trained yet
    "coordinator.after_evidence",  # evidence stored, the round not finalised on-chain
    "coordinator.after_finalize",  # round 1 finalised: rewards claimable, round 2 not opened
    "coordinator.before_open@2",  # before anchoring round 2
    "coordinator.before_withdraw",  # the task ended, its stake not taken back
]


@pytest.mark.parametrize("point", COORDINATOR_POINTS)
def test_the_coordinator_killed_anywhere_resumes_from_the_chain_and_the_store(
    consortium: Consortium, hospitals: Path, point: str
):
    c = consortium
    task_id = _start(c, hospitals)
    doomed = c.coordinator(task_id, hospitals, PARTIES, env={"FEDMARKET_FAILPOINTS": point})
    nodes = [c.participant(task_id, hospitals, i) for i in range(1, PARTIES + 1)]
    assert doomed.wait_exit(600) == -signal.SIGKILL, doomed.tail()
    assert f"failpoint {point.split('@')[0]}" in doomed.tail()
    restarted_at = time.monotonic()
    again = c.coordinator(task_id, hospitals, PARTIES)
    again.finish(420)
    outputs = [json.loads(n.finish(420)) for n in nodes]
    assert all(o["rounds"] == [1, 2] for o in outputs)
    recovery = check_recovered(c, task_id, ROUNDS)
    assert recovery.updates_anchored == PARTIES * ROUNDS
    stake = c.client().stake_of(task_id, c.keys["coordinator"].address)  # type: ignore[attr-defined]
    assert int(stake) == 0  # taken back exactly once
    _report(f"coordinator killed at {point}", recovery=recovery,
            done_after_restart_s=round(time.monotonic() - restarted_at))  # fmt: skip


def test_the_chain_node_restarted_every_party_reconnects(consortium: Consortium, hospitals: Path):
    c = consortium
    task_id = _start(c, hospitals)
    coordinator = c.coordinator(task_id, hospitals, PARTIES)
    nodes = [c.participant(task_id, hospitals, i) for i in range(1, PARTIES + 1)]
    wait_for(lambda: len(c.client().updates_committed(task_id, round=1)) >= 1, 300, "a commitment")
    blocks = c.client().backend.head()[0]
    c.stop_chain()
    time.sleep(5)  # every party finds the node gone
    restarted = time.monotonic()
    c.start_chain()
    assert c.client().backend.head()[0] >= blocks  # the state file kept the chain
    wait_for(lambda: 1 in _finalized(c, task_id), 300, "round 1 after the restart")
    recovered_s = time.monotonic() - restarted
    outputs = [json.loads(n.finish(420)) for n in nodes]
    coordinator.finish(300)
    assert all(o["rounds"] == [1, 2] for o in outputs)
    recovery = check_recovered(c, task_id, ROUNDS)
    assert recovery.updates_anchored == PARTIES * ROUNDS
    _report(
        "chain node restarted",
        recovery=recovery,
        round_finalised_after_restart_s=round(recovered_s),
    )


def test_the_ipfs_daemon_down_is_ridden_out_and_a_one_shot_command_fails_clearly(
    consortium: Consortium, hospitals: Path
):
    c = consortium
    task_id = _start(c, hospitals)
    coordinator = c.coordinator(task_id, hospitals, PARTIES)
    nodes = [c.participant(task_id, hospitals, i) for i in range(1, PARTIES + 1)]
    wait_for(lambda: c.client().task(task_id).round_open, 300, "round 1 open")
    c.stop_ipfs()
    down = time.monotonic()
    audit = c.fedmarket("auditor", "audit", "audit", *c.common(), "--task", str(task_id),
                        env={"FEDMARKET_STORE_RETRY_S": "3"})  # fmt: skip
    assert audit.wait_exit(60) == 3, audit.tail()
    failed_after = time.monotonic() - down
    line = audit.tail().strip().splitlines()[-1]
    assert line.startswith("error:") and "5001" in line, line
    time.sleep(max(0.0, 10 - (time.monotonic() - down)))
    c.start_ipfs()
    back = time.monotonic()
    outputs = [json.loads(n.finish(420)) for n in nodes]
    coordinator.finish(300)
    assert all(o["rounds"] == [1, 2] for o in outputs)
    recovery = check_recovered(c, task_id, ROUNDS)
    from storage import IpfsStore

    with IpfsStore(c.store_url) as store:
        for cid in store.pinned():
            store.get(cid)  # every object re-hashes to its CID: nothing corrupted
    _report("IPFS daemon down 10 s", recovery=recovery, one_shot_error_s=round(failed_after, 1),
            down_s=round(back - down), after_restart_s=round(time.monotonic() - back))  # fmt: skip


def test_a_partitioned_participant_misses_the_round_and_recovers(
    consortium: Consortium, hospitals: Path
):
    c = consortium
    task_id = _start(c, hospitals)
    nodes = [c.participant(task_id, hospitals, i) for i in range(1, PARTIES + 1)]
    client = c.client()
    wait_for(lambda: len(client.participants(task_id)) == PARTIES, 300, "every join", nodes[2])
    c.net.partition(c.host("p3"))  # cut off before round 1 opens
    coordinator = c.coordinator(task_id, hospitals, PARTIES)
    wait_for(lambda: client.task(task_id).round_open, 300, "round 1 open")
    reveal = client.round(task_id, 1).reveal_start
    wait_for(lambda: client.backend.chain_time() > reveal, 300, "round 1's reveal start")
    c.net.heal(c.host("p3"))
    healed = time.monotonic()
    outputs = [json.loads(n.finish(420)) for n in nodes]
    coordinator.finish(300)
    assert outputs[2]["rounds"] == [2] and all(o["rounds"] == [1, 2] for o in outputs[:2])
    recovery = check_recovered(c, task_id, ROUNDS)
    cut = c.keys["p3"].address  # type: ignore[attr-defined]
    assert 1 not in recovery.paid_rounds.get(cut, [])
    _report(
        "participant partitioned",
        recovery=recovery,
        done_after_heal_s=round(time.monotonic() - healed),
    )


FAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")


def test_a_late_participant_gets_a_clear_revert_and_goes_on(
    consortium: Consortium, hospitals: Path
):
    """Frozen between training and committing until past the deadline: the chain says no."""
    c = consortium
    task_id = _start(c, hospitals)
    frozen = {"FEDMARKET_FAILPOINTS": "participant.before_commit=stop"}
    late = c.participant(task_id, hospitals, 3, env=frozen)
    others = [c.participant(task_id, hospitals, i) for i in (1, 2)]
    coordinator = c.coordinator(task_id, hospitals, PARTIES)
    client = c.client()
    wait_for(lambda: client.task(task_id).round_open, 300, "round 1 open", coordinator)
    reveal = client.round(task_id, 1).reveal_start
    wait_for(lambda: client.backend.chain_time() > reveal + 1, 300, "round 1's commit deadline")
    wait_for(lambda: "failpoint participant.before_commit" in late.tail(), 60, "the freeze", late)
    late.signal(signal.SIGCONT)  # it commits now, after the deadline
    outputs = json.loads(late.finish(420))
    for node in others:
        node.finish(420)
    coordinator.finish(300)
    log = late.tail(10**6)
    assert "too late for round 1" in log and "TaskDeadlinePassed" in log, log[-2000:]
    assert outputs["rounds"] == [2]
    recovery = check_recovered(c, task_id, ROUNDS)
    member = c.keys["p3"].address  # type: ignore[attr-defined]
    assert 1 not in recovery.paid_rounds.get(member, [])
    _report("late participant", recovery=recovery)


@pytest.mark.parametrize("skew", ["-10m", "+10m"], ids=["slow", "fast"])
def test_a_participant_whose_clock_is_skewed_follows_the_chain_s_time(
    consortium: Consortium, hospitals: Path, skew: str
):
    """Its clock 10 minutes off (libfaketime): deadlines are the chain node's, it misses nothing.

    A clock running ahead used to be the dangerous one: the participant took the later of the
    chain's last block and its own clock as the time, believed each deadline had passed, and
    skipped both rounds without a word. It now reads the node's clock (its pending block).
    """
    if not FAKETIME.exists():
        pytest.fail("libfaketime is missing: run scripts/setup --all")
    c = consortium
    task_id = _start(c, hospitals)
    env = {"LD_PRELOAD": str(FAKETIME), "FAKETIME": skew}  # its monotonic clock skewed too
    skewed = c.participant(task_id, hospitals, 3, env=env)
    others = [c.participant(task_id, hospitals, i) for i in (1, 2)]
    coordinator = c.coordinator(task_id, hospitals, PARTIES)
    outputs = json.loads(skewed.finish(420))
    for node in others:
        node.finish(420)
    coordinator.finish(300)
    assert outputs["rounds"] == [1, 2], skewed.tail()
    recovery = check_recovered(c, task_id, ROUNDS)
    assert recovery.updates_anchored == PARTIES * ROUNDS
    _report(f"participant clock {skew} off", recovery=recovery)
