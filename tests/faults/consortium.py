"""A consortium on its own test network: services, parties and the checks every fault ends with.

Each party and service runs on its own host (:mod:`tests.faults.netns`) as the command a real
operator types (``fedmarket chain node``, ``fedmarket up --only ipfs``, ``fedmarket coordinator``,
``fedmarket participant``); they reach each other only through the network: the chain's JSON-RPC
at ``http://<chain host>:8545`` and the store at the IPFS daemon's RPC API
``http://<ipfs host>:5001``. The test itself sits on the network's gateway address.

After a fault, :func:`check_recovered` asserts what the issue asks: no anchored update lost, no
reward paid twice, no evidence left unanchored, and the audit passing.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

from chain import RewardTokenClient, RpcBackend, deploy, fund, new_account, signer_for
from chain.deployment import Deployment
from chain.fed_task import FedTaskClient, RewardsClaimedEvent, TaskStatus
from fedmarket.consortium.config import DB_NAME, DB_USER
from fedmarket.consortium.errors import ServiceNotReadyError
from fedmarket.consortium.health import HealthCheck, http_check, ipfs_check, rpc_check
from fedmarket.consortium.postgres import database_url
from fl_node.evidence import EVIDENCE_KIND, RoundEvidence
from storage import IpfsStore
from tests.faults.netns import Host, TestNetwork

TOKEN = 10**18
POOL = 90 * TOKEN
STAKE = 5 * TOKEN
CHAIN_PORT, IPFS_PORT = 8545, 5001
SCHEDULE = {
    "--join-period": "10m",
    "--commit-period": "40s",
    "--inclusion-period": "0",
    "--reveal-period": "15s",
    "--finalize-period": "90s",
    "--challenge-period": "2s",
    "--open-period": "90s",
    "--abort-grace": "2m",
    "--stake-cooldown": "2s",
}
"""Real time on two shared cores: each participant process imports torch and trains in time."""


@dataclass
class Proc:
    """A process on a test host, its log in a file."""

    name: str
    popen: subprocess.Popen[str]
    log: IO[str]

    def tail(self, size: int = 3000) -> str:
        """The end of its log."""
        self.log.seek(0)
        return self.log.read()[-size:]

    def finish(self, timeout: float) -> str:
        """Its stdout once it exits 0 (an assertion with its log otherwise)."""
        try:
            out, _ = self.popen.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.communicate()
            raise AssertionError(f"{self.name}: no exit in {timeout} s: ...{self.tail()}") from None
        assert self.popen.returncode == 0, (
            f"{self.name}: exit {self.popen.returncode}: {self.tail()}"
        )
        return out

    def wait_exit(self, timeout: float) -> int:
        """Its exit code (it must exit within ``timeout``)."""
        self.popen.communicate(timeout=timeout)
        return self.popen.returncode

    def signal(self, number: int) -> None:
        """Send ``number`` to the process (``ip netns exec`` execs: the pid is the program's)."""
        if self.popen.poll() is None:
            os.kill(self.popen.pid, number)


@dataclass
class Consortium:
    """Services and parties of one test, each on its own host."""

    net: TestNetwork
    root: Path
    procs: list[Proc] = field(default_factory=list)
    keys: dict[str, object] = field(default_factory=dict)
    chain_proc: Proc | None = None
    ipfs_proc: Proc | None = None
    deployment: Deployment | None = None

    # ---- hosts and processes ------------------------------------------------------------------
    def host(self, name: str) -> Host:
        """The host called ``name`` (made on first use)."""
        return self.net.hosts.get(name) or self.net.add(name)

    @property
    def rpc(self) -> str:
        return f"http://{self.host('chain').address}:{CHAIN_PORT}"

    @property
    def store_url(self) -> str:
        return f"http://{self.host('ipfs').address}:{IPFS_PORT}"

    def run(self, host: str, name: str, argv: list[str], env: dict[str, str] | None = None) -> Proc:
        """Start ``argv`` on ``host``; stdout is piped, stderr goes to a log file."""
        log = tempfile.TemporaryFile(mode="w+")
        popen = subprocess.Popen(  # noqa: S603 - fixed argv
            self.host(host).argv(*argv),
            env={**os.environ, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        proc = Proc(name, popen, log)
        self.procs.append(proc)
        return proc

    def fedmarket(self, host: str, name: str, *args: str, key: object = None, env=None) -> Proc:
        """``python -m fedmarket --verbose ARGS`` on ``host``, with ``key`` in FEDMARKET_KEY."""
        extra = {"FEDMARKET_DEBUG": "1", **(env or {})}
        if key is not None:
            extra["FEDMARKET_KEY"] = "0x" + bytes(key.key).hex()  # type: ignore[attr-defined]
        return self.run(host, name, [sys.executable, "-m", "fedmarket", "--verbose", *args], extra)

    # ---- services -----------------------------------------------------------------------------
    def start_chain(self) -> None:
        """``fedmarket chain node`` on the chain host, its state kept in a file across restarts."""
        state = self.root / "chain" / "state.json"
        state.parent.mkdir(parents=True, exist_ok=True)
        args = ("chain", "node", "--host", self.host("chain").address, "--port", str(CHAIN_PORT))
        self.chain_proc = self.fedmarket("chain", "chain", *args, "--state", str(state))
        wait_for(lambda: _healthy(rpc_check(self.rpc)), 60, "the chain node", self.chain_proc)

    def stop_chain(self) -> None:
        """SIGTERM the chain node (it writes its state on the way out)."""
        assert self.chain_proc is not None
        self.chain_proc.signal(signal.SIGTERM)
        assert self.chain_proc.wait_exit(30) == 0, self.chain_proc.tail()

    def start_ipfs(self) -> None:
        """``fedmarket up --only ipfs`` on the IPFS host (its repository kept across starts)."""
        args = ("up", "--only", "ipfs", "--host", self.host("ipfs").address)
        args += ("--ipfs-port", str(IPFS_PORT), "--dir", str(self.root / "ipfs-host"))
        self.ipfs_proc = self.fedmarket("ipfs", "ipfs", *args)
        wait_for(
            lambda: _healthy(ipfs_check(self.store_url)), 120, "the IPFS daemon", self.ipfs_proc
        )

    def start_marketplace(self, shared: Path) -> str:
        """PostgreSQL and the marketplace API, each on its own host; return the API's URL.

        ``shared`` is a folder the ``postgres`` user can enter (pytest's are root's alone).
        """
        db_host, api_host = self.host("database"), self.host("api")
        db_args = ("up", "--only", "postgres", "--host", db_host.address)
        db = self.fedmarket("database", "database", *db_args, "--dir", str(shared / "db"))
        password_file = shared / "db" / "postgres" / "password"
        wait_for(password_file.exists, 120, "the database's password", db)
        time.sleep(0.5)
        url = database_url(
            user=DB_USER, host=db_host.address, port=5432, database=DB_NAME,
            password=password_file.read_text(encoding="utf-8").splitlines()[0],
        )  # fmt: skip
        api_url = f"http://{api_host.address}:8000"
        api = self.fedmarket(
            "api", "api", "up", "--only", "api", "--host", api_host.address, "--rpc", self.rpc,
            "--ipfs-api", self.store_url, "--deployment", str(self.root / "deployment.json"),
            "--dir", str(shared / "api"), env={"FEDMARKET_API_DATABASE_URL": url},
        )  # fmt: skip
        wait_for(lambda: _healthy(http_check(f"{api_url}/health")), 240, "the marketplace API", api)
        return api_url

    def stop_ipfs(self) -> None:
        """Stop the IPFS daemon (SIGTERM, then SIGKILL)."""
        assert self.ipfs_proc is not None
        self.ipfs_proc.signal(signal.SIGTERM)
        try:
            self.ipfs_proc.wait_exit(20)
        except subprocess.TimeoutExpired:
            self.ipfs_proc.signal(signal.SIGKILL)
            self.ipfs_proc.wait_exit(20)

    def close(self) -> None:
        """Kill every process, close the logs, remove the network."""
        for proc in self.procs:
            if proc.popen.poll() is None:
                proc.popen.kill()
                proc.popen.communicate()
            proc.log.close()
        self.net.close()

    # ---- a task -------------------------------------------------------------------------------
    def setup_chain(self, parties: int) -> None:
        """Deploy the contracts; fund the sponsor, the coordinator and ``parties`` participants."""
        backend = RpcBackend(self.rpc)
        deployer = signer_for(backend, backend.faucet_account())
        self.deployment = deploy(deployer)
        self.deployment.save(self.root / "deployment.json")
        minter = RewardTokenClient(backend, self.deployment.token, deployer)
        names = ["sponsor", "coordinator", *(f"p{i}" for i in range(1, parties + 1))]
        for name in names:
            account = self.keys[name] = new_account()
            fund(backend, account.address, 10**19)
            minter.mint(account.address, STAKE)
        minter.mint(self.keys["sponsor"].address, POOL)  # type: ignore[attr-defined]

    def common(self) -> list[str]:
        return [
            *("--rpc", self.rpc, "--deployment", str(self.root / "deployment.json")),
            *("--store", self.store_url),
        ]

    def create_task(self, data: Path, *, rounds: int, quorum: int, parties: int) -> int:
        """Design and create a task from the sponsor's host; return its id."""
        spec = str(self.root / "spec.json")
        stats = [
            a for i in range(parties) for a in ("--stats-from", str(data / f"hospital-{i + 1}.csv"))
        ]
        design = ("task", "design", *stats, "--rounds", str(rounds), "--out", spec)
        self.fedmarket("sponsor", "design", *design).finish(120)
        terms = [
            *("--quorum", str(quorum), "--participant-stake", str(STAKE)),
            *("--coordinator-stake", str(STAKE), "--slash-bps", "5000"),
            *(arg for pair in SCHEDULE.items() for arg in pair),
        ]
        coordinator = self.keys["coordinator"].address  # type: ignore[attr-defined]
        created = self.fedmarket(
            "sponsor", "create", "task", "create", *self.common(), "--spec", spec,
            "--coordinator", coordinator, "--pool", str(POOL),
            "--max-participants", str(parties), *terms, "--key-env", "FEDMARKET_KEY",
            key=self.keys["sponsor"],
        )  # fmt: skip
        return int(created.finish(180).strip())

    def coordinator(self, task_id: int, data: Path, parties: int, env=None) -> Proc:
        """The coordinator's process on its host."""
        return self.fedmarket(
            "coordinator", "coordinator", "coordinator", *self.common(), "--task", str(task_id),
            "--participants", str(parties), "--validation", str(data / "validation.csv"),
            "--test", str(data / "test.csv"), "--key-env", "FEDMARKET_KEY", "--poll", "0.5",
            "--outage-limit", "180", key=self.keys["coordinator"], env=env,
        )  # fmt: skip

    def participant(self, task_id: int, data: Path, i: int, env=None) -> Proc:
        """Participant ``i`` (from 1) on its own host, training on hospital ``i``."""
        return self.fedmarket(
            f"p{i}", f"p{i}", "participant", *self.common(), "--task", str(task_id),
            "--data", str(data / f"hospital-{i}.csv"), "--key-env", "FEDMARKET_KEY",
            "--outage-limit", "180", "--poll", "0.5", key=self.keys[f"p{i}"], env=env,
        )  # fmt: skip

    def client(self) -> FedTaskClient:
        assert self.deployment is not None
        backend = RpcBackend(self.rpc)
        return FedTaskClient(backend, self.deployment.fed_task, from_block=self.deployment.block)


def _healthy(check: HealthCheck) -> bool:
    """Whether the service answers ``fedmarket up``'s own health check now."""
    try:
        check.probe()
    except (httpx.TransportError, ValueError, ServiceNotReadyError):
        return False
    return True


def wait_for(ready, timeout: float, what: str, proc: Proc | None = None) -> float:  # noqa: ANN001
    """Poll ``ready()`` until true; return the seconds it took (assertion after ``timeout``)."""
    began = time.monotonic()
    while not ready():
        if proc is not None and proc.popen.poll() is not None:
            raise AssertionError(f"{what} exited {proc.popen.returncode}: {proc.tail()}")
        if time.monotonic() - began > timeout:
            raise AssertionError(f"{what} not ready in {timeout} s")
        time.sleep(0.2)
    return time.monotonic() - began


# ---- what every fault ends with --------------------------------------------------------------
@dataclass(frozen=True)
class Recovery:
    """The figures of one recovered task."""

    rounds: int
    updates_anchored: int
    updates_lost: int
    double_payments: int
    orphaned_evidence: int
    claimed: int
    paid_rounds: dict[str, list[int]]


def check_recovered(c: Consortium, task_id: int, rounds: int) -> Recovery:
    """The task completed with nothing lost, nothing paid twice, nothing orphaned; audit passes."""
    client = c.client()
    info = client.task(task_id)
    assert info.status is TaskStatus.COMPLETED, info.status
    finals = client.rounds_finalized(task_id)
    assert [f.round for f in finals] == list(range(1, rounds + 1))
    with IpfsStore(c.store_url) as store:
        lost, anchored = _lost_updates(client, store, task_id, finals)
        orphans = _orphaned_evidence(store, {f.evidence_cid for f in finals})
    claims = client.events(RewardsClaimedEvent, task_id=task_id)
    twice = sum(n - 1 for n in Counter((e.round, e.account) for e in claims).values() if n > 1)
    claimed = sum(int(e.amount) for e in claims)
    assert claimed + int(info.unallocated) <= POOL
    audit = c.fedmarket("auditor", "audit", "audit", *c.common(), "--task", str(task_id), "--json")
    audited = json.loads(audit.finish(300))
    assert audited["ok"], audited
    paid: dict[str, list[int]] = {}
    for e in claims:
        paid.setdefault(str(e.account), []).append(int(e.round))
    result = Recovery(rounds, anchored, lost, twice, orphans, claimed, paid)
    assert (lost, twice, orphans) == (0, 0, 0), result
    return result


def _lost_updates(client: FedTaskClient, store: IpfsStore, task_id: int, finals) -> tuple[int, int]:  # noqa: ANN001
    """(lost, anchored) over the finalised rounds.

    An update is anchored when its commitment is on-chain; it is lost when its bytes were
    published in the store and the round's evidence still does not count it: no verdict for that
    commitment, or one that says it was missing or never submitted.
    """
    lost = anchored = 0
    for final in finals:
        evidence = RoundEvidence.from_dict(store.get_json(final.evidence_cid))
        verdicts = {str(v.participant).lower(): v for v in evidence.updates}
        for event in client.updates_committed(task_id, round=final.round):
            anchored += 1
            if not store.has(event.update_cid):
                continue  # never published (its party died or was cut off): not paid, not lost
            verdict = verdicts.get(str(event.participant).lower())
            counted = (
                verdict is not None
                and verdict.update_hash == "0x" + bytes(event.update_hash).hex()
                and verdict.reason not in ("missing", "not_submitted")
            )
            lost += not counted
    return lost, anchored


def _orphaned_evidence(store: IpfsStore, anchored: set[str]) -> int:
    """Evidence documents in the store that no finalised round anchors.

    Every object a party stores is pinned (``--store`` URL stores pin on put), so the pin set is
    the whole store; the anchored evidence must be among what is found (the scan is real).
    """
    found = set()
    for cid in store.pinned():
        try:
            doc = json.loads(store.get(cid))
        except (ValueError, UnicodeDecodeError):
            continue
        if isinstance(doc, dict) and doc.get("kind") == EVIDENCE_KIND:
            found.add(cid)
    assert anchored <= found, "the scan missed anchored evidence"
    return len(found - anchored)
