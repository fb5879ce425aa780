"""Benchmark of the marketplace API's reads on PostgreSQL: ``scripts/bench-api``.

Run it as::

    scripts/bench-api                 # 10,000 listings, 200 tasks, 10 s per query shape
    scripts/bench-api --quick         # 500 listings, 20 tasks, 2 s per shape (a smoke run)
    scripts/bench-api --json out.json # the figures as JSON too

What it does, with real parts only:

1. starts a throw-away PostgreSQL server and an anvil chain, deploys the five contracts;
2. migrates the database and seeds the chain index with ``--listings`` dataset listings and
   ``--tasks`` tasks, as the indexer writes them (:mod:`fedmarket.bench._seed`);
3. serves the real app as ``fedmarket serve --workers W --no-access-log`` would, with production
   settings (a fresh relayer key, a content master key, an https public URL), in a child process;
4. drives each query shape with the asyncio load generator (:mod:`fedmarket.bench._load`) for
   ``--duration`` seconds over ``--concurrency`` keep-alive connections, and prints requests/s,
   p50, p90, p99 and errors side by side; with ``--compare`` (the default) once with the response
   cache off and once with it on.

The load generator runs on the same machine as the server and the database: every figure includes
its CPU cost.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from eth_account import Account
from rich.console import Console
from rich.table import Table

from chain import DevNode, connect, deploy, fund, signer_for
from fedmarket.bench._load import LoadResult, load
from fedmarket.bench._seed import TAGS, Seeded, seed_index
from fedmarket.consortium.postgres import running_postgres
from kernel.errors import ServiceUnavailableError
from marketplace_api.core.db import Database
from marketplace_api.crud import DeploymentIdentity, ensure_deployment
from marketplace_api.services import prepare_database

log = logging.getLogger(__name__)
console = Console(width=120)


@dataclass(frozen=True)
class BenchOptions:
    """What to measure.

    Parameters
    ----------
    listings : int
        Dataset listings seeded.
    tasks : int
        Tasks seeded.
    duration_s : float
        Measured seconds per query shape.
    concurrency : int
        Keep-alive connections of the load generator.
    workers : int
        Server worker processes.
    compare : bool
        Measure with the response cache off too.
    """

    listings: int = 10_000
    tasks: int = 200
    duration_s: float = 10.0
    concurrency: int = 16
    workers: int = 2
    compare: bool = True


def shapes(seeded: Seeded, listings: int) -> dict[str, list[str]]:
    """The query shapes measured, each a list of paths asked for in turn."""
    ids = seeded.dataset_ids
    step = max(1, len(ids) // 500)
    deep = max(0, int(listings * 0.9))
    pages = max(1, min(200, listings // 50))
    return {
        "GET /datasets (first page)": ["/datasets"],
        f"GET /datasets?tag={TAGS[0]}": [f"/datasets?tag={TAGS[0]}"],
        "GET /datasets?owner=<busiest>": [f"/datasets?owner={seeded.busy_owner}"],
        f"GET /datasets?offset={deep} (deep)": [f"/datasets?offset={deep}"],
        f"GET /datasets?offset=0..{50 * (pages - 1)} (paging)": [
            f"/datasets?offset={50 * k}" for k in range(pages)
        ],
        "GET /datasets/{id}": [f"/datasets/{i}" for i in ids[::step]],
        "GET /tasks/{id}": [f"/tasks/{i}" for i in seeded.task_ids] or ["/tasks"],
        "page / (catalogue)": ["/"],
        f"page /?q=…&sort=price (search {TAGS[0]}, by price)": [f"/?q={TAGS[0]}&sort=price"],
        "page /ui/datasets/{id}": [f"/ui/datasets/{i}" for i in ids[::step]],
        "page /ui/tasks/{id}": [f"/ui/tasks/{i}" for i in seeded.task_ids] or ["/ui/tasks"],
    }


_TICKS = os.sysconf("SC_CLK_TCK")


def _process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (Linux ``/proc``)."""
    found = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in children:
            found += _process_tree(int(child))
    return found


def _cpu_seconds(pid: int) -> float:
    """User and system CPU seconds of ``pid`` and its descendants, living or reaped."""
    total = 0
    for p in _process_tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # utime, stime, and cutime, cstime: a child that exited moves its time to its parent's
        total += sum(int(f) for f in fields[11:15])
    return total / _TICKS


def cpu_reader(server_pid: int, database_pid: int) -> Callable[[], dict[str, float]]:
    """CPU seconds so far of the server's processes, the database's, and the load generator."""

    def read() -> dict[str, float]:
        return {
            "server": _cpu_seconds(server_pid),
            "db": _cpu_seconds(database_pid),
            "client": time.process_time(),
        }

    return read


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class World:
    """The chain, the database and the seeded index the server runs against."""

    chain_url: str
    deployment_file: Path
    database_url: str
    store_dir: Path
    seeded: Seeded
    relayer_key: str


def build_world(chain_url: str, database_url: str, work: Path, options: BenchOptions) -> World:
    """Deploy the contracts, migrate the database, seed the index at the chain's head."""
    backend = connect(chain_url)
    try:
        faucet = backend.faucet_account()
        if faucet is None:
            raise ServiceUnavailableError("bench: the dev chain has no funded account")
        deployment = deploy(signer_for(backend, faucet))
        deployment_file = deployment.save(work / "deployment.json")
        relayer_key = "0x" + secrets.token_hex(32)
        fund(backend, Account.from_key(relayer_key).address, 10**18)
        first = backend.w3.eth.get_block(deployment.block)
        latest = backend.w3.eth.get_block("latest")
        head = (int(latest["number"]), "0x" + bytes(latest["hash"]).hex(), int(latest["timestamp"]))
        identity = DeploymentIdentity.of(deployment, bytes(first["hash"]))
    finally:
        backend.close()
    database = Database.from_url(database_url)
    try:
        prepare_database(database)
        with database.session() as session:
            scope = ensure_deployment(session, identity)
            started = time.perf_counter()
            seeded = seed_index(
                session,
                scope.deployment_id,
                listings=options.listings,
                tasks=options.tasks,
                head=head,
            )
            session.commit()
        autocommit = database.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        with autocommit as conn:  # VACUUM: statistics, and the visibility map for index scans
            conn.exec_driver_sql("VACUUM ANALYZE")
        log.info("build_world: seeded in %.1f s", time.perf_counter() - started)
    finally:
        database.dispose()
    store_dir = work / "store"
    store_dir.mkdir(exist_ok=True)
    return World(chain_url, deployment_file, database_url, store_dir, seeded, relayer_key)


def server_env(world: World, *, cache: bool) -> dict[str, str]:
    """Production settings for the server (fresh secrets), the response cache on or off."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEDMARKET_API_")}
    env.update(
        FEDMARKET_API_ENVIRONMENT="production",
        FEDMARKET_API_DATABASE_URL=world.database_url,
        FEDMARKET_API_CHAIN_URL=world.chain_url,
        FEDMARKET_API_DEPLOYMENT_FILE=str(world.deployment_file),
        FEDMARKET_API_RELAYER_KEY=world.relayer_key,
        FEDMARKET_API_CONTENT_MASTER_KEY=secrets.token_hex(32),
        FEDMARKET_API_PUBLIC_URL="https://market.bench.invalid",
        FEDMARKET_API_STORE_DIR=str(world.store_dir),
        FEDMARKET_API_RESPONSE_CACHE="1024" if cache else "0",
    )
    return env


@contextmanager
def serving(world: World, workers: int, *, cache: bool) -> Iterator[tuple[str, int]]:
    """``fedmarket serve`` in a child process; yield its URL and pid once ``/health`` is 200."""
    port = _free_port()
    cmd = [sys.executable, "-m", "fedmarket", "serve", "--host", "127.0.0.1"]
    cmd += ["--port", str(port), "--workers", str(workers), "--no-access-log"]
    log_path = world.store_dir.parent / f"server-{port}.log"
    with log_path.open("wb") as server_log:
        proc = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            cmd, env=server_env(world, cache=cache), stdout=server_log, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        try:
            _wait_healthy(proc, url, workers)
        except ServiceUnavailableError:
            console.print(log_path.read_text(errors="replace")[-4000:])
            raise
        yield url, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_healthy(proc: subprocess.Popen[bytes], url: str, workers: int) -> None:
    deadline = time.monotonic() + 90
    ready = 0
    with httpx.Client(timeout=5) as client:
        while ready < 4 * workers:  # several answers: every worker has started
            if proc.poll() is not None:
                raise ServiceUnavailableError(f"bench: the server exited with {proc.returncode}")
            if time.monotonic() > deadline:
                raise ServiceUnavailableError(f"bench: {url}/health not ready in 90 s")
            try:
                ready += client.get(f"{url}/health").status_code == 200
            except httpx.TransportError:
                time.sleep(0.2)


def measure(
    url: str,
    paths: dict[str, list[str]],
    options: BenchOptions,
    cpu: Callable[[], dict[str, float]] | None = None,
) -> list[LoadResult]:
    """Each query shape in turn (``cpu``: see :func:`fedmarket.bench._load.run_load`)."""
    results = []
    for name, shape_paths in paths.items():
        result = load(
            name,
            url,
            shape_paths,
            concurrency=options.concurrency,
            duration_s=options.duration_s,
            warmup_s=min(1.0, options.duration_s / 2),
            warmup_rounds=2 * options.workers,
            cpu=cpu,
        )
        log.info("measure: %s", result.summary())
        results.append(result)
    return results


def report(runs: dict[str, list[LoadResult]], options: BenchOptions) -> Table:
    """The figures side by side: for each query shape, one row per run."""
    table = Table(
        title=f"marketplace API on PostgreSQL: {options.listings} listings, {options.tasks} tasks, "
        f"{options.workers} workers, {options.concurrency} connections, "
        f"{options.duration_s:g} s per shape (load generator on the same {os.cpu_count()} cores)"
    )
    columns = ("query", "run", "req/s", "p50 ms", "p90 ms", "p99 ms", "errors", "CPU ms/req")
    for column in columns:
        table.add_column(column, justify="left" if column in ("query", "run") else "right")
    names = [r.name for r in next(iter(runs.values()))]
    for i, name in enumerate(names):
        for j, (run, results) in enumerate(runs.items()):
            s = results[i].summary()
            table.add_row(
                name if j == 0 else "",
                run,
                f"{s['rps']:.0f}",
                f"{s['p50_ms']:.1f}",
                f"{s['p90_ms']:.1f}",
                f"{s['p99_ms']:.1f}",
                str(s["errors"]),
                _cpu_cell(s),
                end_section=j == len(runs) - 1,
            )
    return table


def _cpu_cell(summary: dict[str, float | int | str]) -> str:
    """``server + db + client`` CPU ms per request."""
    parts = [summary.get(f"cpu_ms_per_req_{k}") for k in ("server", "db", "client")]
    if any(p is None for p in parts):
        return "-"
    return " + ".join(f"{float(p or 0):.2f}" for p in parts)


def run_bench(options: BenchOptions) -> dict[str, list[LoadResult]]:
    """Start everything, measure every shape (cache off, then on), stop everything."""
    runs: dict[str, list[LoadResult]] = {}
    with (
        tempfile.TemporaryDirectory(prefix="fedmarket-bench-") as tmp,
        running_postgres("fedmarket_bench", settings={"max_connections": "200"}) as postgres,
        DevNode("anvil") as node,
    ):
        world = build_world(node.url, postgres.url, Path(tmp), options)
        paths = shapes(world.seeded, options.listings)
        modes = [False, True] if options.compare else [True]
        for cache in modes:
            with serving(world, options.workers, cache=cache) as (url, pid):
                cpu = cpu_reader(pid, postgres.pid())
                runs["cache on" if cache else "cache off"] = measure(url, paths, options, cpu)
    return runs


def parse_args(argv: Sequence[str] | None) -> tuple[BenchOptions, Path | None]:
    """Options from the command line."""
    parser = argparse.ArgumentParser(prog="scripts/bench-api", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small and short (a smoke run)")
    parser.add_argument("--listings", type=int, default=None)
    parser.add_argument("--tasks", type=int, default=None)
    parser.add_argument("--duration", type=float, default=None, help="seconds per shape")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-compare", action="store_true", help="skip the cache-off run")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    quick = args.quick
    options = BenchOptions(
        listings=args.listings or (500 if quick else 10_000),
        tasks=args.tasks if args.tasks is not None else (20 if quick else 200),
        duration_s=args.duration or (2.0 if quick else 10.0),
        concurrency=args.concurrency,
        workers=args.workers,
        compare=not args.no_compare,
    )
    return options, args.json


def figures(runs: dict[str, list[LoadResult]], options: BenchOptions) -> dict[str, Any]:
    """The JSON record of a run."""
    return {
        "options": options.__dict__,
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "runs": {run: [r.summary() for r in results] for run, results in runs.items()},
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; print the table (and write the JSON when asked). Exit 1 on errors."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    options, json_out = parse_args(argv)
    runs = run_bench(options)
    console.print(report(runs, options))
    record = figures(runs, options)
    if json_out is not None:
        json_out.write_text(json.dumps(record, indent=2) + "\n")
    errors = sum(r.errors for results in runs.values() for r in results)
    return 1 if errors else 0
