"""The relayer flood, measured against a served API: what the relay guard lets through.

Attackers (``--threads`` of them, all from one client IP) loop as fast as they can: a fresh key
signs in (``POST /auth/nonce``, ``/auth/verify``) and posts a listing. Meanwhile an honest owner,
from other IPs, signs in and lists every two seconds. The API runs over an in-process chain and
a SQLite file, behind a trusted proxy at 127.0.0.1 that names the client in ``X-Forwarded-For``,
with the default relay policy (``--unlimited``: no limits, as before the guard). Printed: what
the attackers and the honest owner got, the honest owner's latency, the relayer's gas, and the
chain's listing count against the index's.

Run it::

    scripts/relay-flood                  # 30 s under the default policy
    scripts/relay-flood --unlimited      # the same flood without the guard
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
from eth_account.signers.local import LocalAccount

from chain import InProcessBackend, new_account, sign_listing
from marketplace_api import Services, create_app, crud, serve_in_thread
from marketplace_api.auth import sign_challenge
from marketplace_api.listing import metadata_document
from marketplace_api.relay import RelayPolicy, parse_networks
from marketplace_api.schemas import DatasetBase
from tests.integration.marketplace_api.market_world import (
    ChainWorld,
    dataset_metadata,
    make_world,
)

ATTACKER_IP = "198.51.100.66"


@dataclass
class Outcomes:
    """What each side got: ``(step, status, seconds)`` per attempt."""

    attacker: list[tuple[str, int, float]] = field(default_factory=list)
    honest: list[tuple[str, int, float]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def listing_body(world: ChainWorld, account: LocalAccount, lock: threading.Lock) -> dict[str, Any]:
    meta = dataset_metadata(account.address)
    doc = metadata_document(DatasetBase.model_validate(meta))
    registry = world.registry()
    with lock:
        deadline = world.backend.latest_timestamp() + 3600
        nonce = registry.nonce(account.address)
    request = doc.request(account.address, nonce=nonce, deadline=deadline)
    signature = sign_listing(account, world.backend.chain_id, registry.address, request)
    return {
        **meta,
        "access_mode": "federated_only",
        "price_wei": "0",
        "deadline": deadline,
        "signature": "0x" + signature.hex(),
    }


def attempt(
    http: httpx.Client, world: ChainWorld, ip: str, lock: threading.Lock
) -> tuple[str, int]:
    """A fresh key signs in from ``ip`` and lists: the step reached and its status."""
    account, headers = new_account(), {"X-Forwarded-For": ip}
    nonce = http.post("/auth/nonce", headers=headers)
    if nonce.status_code != 201:
        return "nonce", nonce.status_code
    message = sign_challenge(account, nonce.json(), now=time.time())
    verified = http.post("/auth/verify", json=message, headers=headers)
    if verified.status_code != 200:
        return "verify", verified.status_code
    headers["Authorization"] = f"Bearer {verified.json()['token']}"
    listed = http.post("/datasets", json=listing_body(world, account, lock), headers=headers)
    return "datasets", listed.status_code


def flood(url: str, world: ChainWorld, seconds: float, threads: int) -> Outcomes:
    outcomes, stop = Outcomes(), time.time() + seconds

    def attacker() -> None:
        with httpx.Client(base_url=url, timeout=60) as http:
            while time.time() < stop:
                started = time.perf_counter()
                step, code = attempt(http, world, ATTACKER_IP, outcomes.lock)
                with outcomes.lock:
                    outcomes.attacker.append((step, code, time.perf_counter() - started))

    def honest() -> None:
        with httpx.Client(base_url=url, timeout=60) as http:
            for i in range(10**6):
                if time.time() >= stop:
                    return
                started = time.perf_counter()
                step, code = attempt(http, world, f"203.0.113.{i % 250 + 1}", outcomes.lock)
                outcomes.honest.append((step, code, time.perf_counter() - started))
                time.sleep(2)

    workers = [threading.Thread(target=attacker) for _ in range(threads)]
    workers.append(threading.Thread(target=honest))
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return outcomes


def report(outcomes: Outcomes, elapsed: float, gas: int, chain: int, indexed: int) -> None:
    def ms(values: list[float]) -> str:
        return f"median {statistics.median(values) * 1000:.0f} ms, max {max(values) * 1000:.0f} ms"

    attacks = outcomes.attacker
    relayed = [s for s, c, _ in attacks if s == "datasets" and c == 202]
    refused = [d for _, c, d in attacks if c == 429]
    honest_ok = [d for s, c, d in outcomes.honest if s == "datasets" and c == 202]
    lines = [
        f"{elapsed:.1f} s; attacker attempts {len(attacks)} ({len(attacks) / elapsed:.1f}/s): "
        f"{dict(Counter((s, c) for s, c, _ in attacks))}",
        f"attacker listings relayed {len(relayed)}; 429s {len(refused)}"
        + (f" ({ms(refused)})" if refused else ""),
        f"honest: {dict(Counter((s, c) for s, c, _ in outcomes.honest))}"
        + (f"; listed {len(honest_ok)} ({ms(honest_ok)}, sign-in + relay)" if honest_ok else ""),
        f"relayer gas {gas} for {chain} listings ({gas / max(chain, 1):.0f} each), "
        f"{gas / elapsed * 3600 / 1e6:.0f} Mgas/h",
        f"chain listings {chain}, indexed {indexed}",
    ]
    sys.stdout.write("\n".join(lines) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--unlimited", action="store_true", help="no relay limits (before)")
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="relay-flood-"))
    world = make_world(InProcessBackend(), tmp / "store")
    proxies = parse_networks(["127.0.0.1"])
    base = RelayPolicy.unlimited() if args.unlimited else RelayPolicy()
    services = Services.embedded(
        backend=world.backend,
        deployment=world.deployment,
        relayer=world.relayer,
        store=world.store,
        database_url=f"sqlite:///{tmp / 'market.db'}",
        index_interval=1.0,
        relay_policy=replace(base, trusted_proxies=proxies),
    )
    with serve_in_thread(create_app(services=services)) as server:
        gas_before, started = world.relayer.gas_used, time.time()
        outcomes = flood(server.url, world, args.seconds, args.threads)
        elapsed = time.time() - started
        services.catch_up(timeout=60)
        with services.database.session() as session:
            _, indexed = crud.list_datasets(session, services.scope, active=None)
        chain = world.registry().dataset_count()
        report(outcomes, elapsed, world.relayer.gas_used - gas_before, chain, indexed)
    services.close()
    return 0 if chain == indexed else 1


if __name__ == "__main__":
    raise SystemExit(main())
