"""Part 3: the marketplace API under concurrent buyers, with and without a task running beside it.

Real parts only, on this machine: a throw-away PostgreSQL server, an anvil node and the API served
as ``fedmarket serve --workers W`` with production settings
(:func:`fedmarket.bench.api.server_env`: fresh secrets, the response cache on), over an index
seeded with ``listings`` dataset listings and ``tasks`` tasks
(:func:`fedmarket.bench.api.build_world`).

Before the load:

1. a task ended on this chain (the processes part's, when it ran; otherwise a small one run to
   its end as processes: two participants, one round) has its final model listed by its sponsor
   on the ModelMarket with a model card, described to the API (``POST /models``) and uploaded
   (the API seals it);
2. the largest number of buyers asked for each get a key, tokens, and buy a licence on-chain,
   then sign in to the API (the sign-in rate limit per IP is raised for the bench: every buyer
   comes from 127.0.0.1).

Then for each concurrency C, C buyers walk the buyer's flow in a loop
(:mod:`fedmarket.bench.loadtest._buyers`: browse, model, quote, grant, download) for ``duration``
seconds: first with nothing else running ("idle"), then while a task runs on the same chain and
machine ("busy": ``task_participants`` participant processes and a coordinator, from its first
round open to the end of the last measurement; the API's indexer follows its events as they come).
The background task is stopped afterwards; its rounds finalised during the load, and its lost
updates, are reported with the figures.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from chain import (
    Deployment,
    DevNode,
    RewardTokenClient,
    RpcBackend,
    fund,
    new_account,
    signer_for,
)
from chain.devnode import die_with_parent
from chain.fed_task import TaskCompletedEvent
from fedmarket.bench.api import BenchOptions, World, _free_port, _wait_healthy, build_world
from fedmarket.bench.api import server_env as api_server_env
from fedmarket.bench.loadtest._buyers import Buyer, BuyerLoad, buyer_load
from fedmarket.bench.loadtest._children import Children
from fedmarket.bench.loadtest._data import prepare_split
from fedmarket.bench.loadtest._figures import ProcessesResult, task_figures
from fedmarket.bench.loadtest._task import GAS_WEI, ChainPlace, ProcessTask, TaskSchedule
from fedmarket.consortium.postgres import running_postgres
from kernel.errors import OperationTimeoutError, ServiceUnavailableError
from marketplace_api import MarketplaceClient
from storage import LocalCidStore, content_hash

log = logging.getLogger(__name__)

PRICE = 5 * 10**18
"""The model's price (token wei)."""


@dataclass(frozen=True)
class ApiOptions:
    """Part 3's size.

    Parameters
    ----------
    concurrency : tuple of int
        Buyers of each measurement.
    duration_s : float
        Measured seconds per measurement (after one unmeasured second).
    listings, tasks : int
        Dataset listings and tasks seeded in the index.
    workers : int
        The API's worker processes.
    task_participants : int
        Participants of the task running beside the API.
    commit_s, reveal_s : int or None
        The periods of that task (and of the small task whose model is on sale, when one runs);
        ``None``: :meth:`TaskSchedule.for_parties`.
    """

    concurrency: tuple[int, ...] = (1, 10, 50)
    duration_s: float = 10.0
    listings: int = 2_000
    tasks: int = 50
    workers: int = 2
    task_participants: int = 4
    commit_s: int | None = None
    reveal_s: int | None = None

    def schedule(self, parties: int) -> TaskSchedule:
        """The schedule of a task of ``parties`` participants run by this part."""
        return TaskSchedule.for_parties(parties, commit_s=self.commit_s, reveal_s=self.reveal_s)


@dataclass(frozen=True)
class ApiLevel:
    """One concurrency: the figures without and with the task running."""

    concurrency: int
    idle: BuyerLoad
    busy: BuyerLoad


@dataclass(frozen=True)
class ApiResult:
    """Part 3's figures: each concurrency side by side, and the background task meanwhile."""

    levels: tuple[ApiLevel, ...]
    background: ProcessesResult
    model_id: int
    workers: int


@contextmanager
def serving(world: World, workers: int, log_path: Path) -> Iterator[str]:
    """``fedmarket serve`` in a child process (its log in ``log_path``); yield its URL."""
    port = _free_port()
    env = api_server_env(world, cache=True)
    env.update(
        FEDMARKET_API_SIGN_IN_IP_PER_MINUTE="1000000",
        FEDMARKET_API_SIGN_IN_IP_BURST="1000000",
    )
    cmd = [sys.executable, "-m", "fedmarket", "serve", "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--workers", str(workers), "--no-access-log"]
    with log_path.open("wb") as out:
        proc = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            cmd, env=env, stdout=out, stderr=subprocess.STDOUT, preexec_fn=die_with_parent
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(proc, url, workers)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def sell_a_model(
    place: ChainPlace, options: ApiOptions, work: Path, console: Console
) -> ProcessTask:
    """A two-participant, one-round task run to its end (its sponsor then owns a final model)."""
    split = prepare_split(work / "seller-data", 2, 1)
    with Children(work / "seller-logs") as children:
        task = ProcessTask(place, split, options.schedule(2), children, name="seller")
        task.create()
        task.launch()
        with console.status("api: a small task runs to its end (the model on sale)"):
            task.wait(lambda _: None, task.schedule.longest_s(1))
    return task


def list_the_model(url: str, seller: ProcessTask) -> int:
    """The sponsor lists the final model on-chain and on the API, and uploads it; its id."""
    backend, store = seller.backend, LocalCidStore(seller.place.store_dir)
    (final,) = seller.fed_task().events(TaskCompletedEvent, task_id=seller.task_id)
    model_cid = final.final_model_cid
    card = {
        "kind": "fedmarket/model-card",
        "task_id": seller.task_id,
        "name": "load-bench-model",
        "model_cid": model_cid,
        "model_hash": "0x" + bytes(final.final_model_hash).hex(),
        "metrics": {},
    }
    data = json.dumps(card, sort_keys=True).encode()
    card_cid = store.put(data)
    market = seller.deployment.market_client(backend, signer_for(backend, seller.sponsor))
    model_id, _ = market.list_model(seller.task_id, PRICE, 1_000, card_cid, content_hash(data))
    with MarketplaceClient(url) as client:
        client.list_model(seller.sponsor, task_id=seller.task_id, name="load-bench-model",
                          card_cid=card_cid)  # fmt: skip
        client.upload_content("model", model_id, store.get(model_cid))
    return model_id


def make_buyers(url: str, place: ChainPlace, model_id: int, count: int) -> list[Buyer]:
    """``count`` buyers, each with a licence bought on-chain and an API session."""
    backend = RpcBackend(place.rpc_url)
    deployment = Deployment.load(place.deployment_file)
    faucet = backend.faucet_account()
    if faucet is None:
        raise ServiceUnavailableError("bench-load: the chain has no funded account")
    minter = RewardTokenClient(backend, deployment.token, signer_for(backend, faucet))
    buyers = []
    with MarketplaceClient(url) as client:
        for _ in range(count):
            account = new_account()
            fund(backend, account.address, GAS_WEI)
            minter.mint(account.address, PRICE)
            signer = signer_for(backend, account)
            RewardTokenClient(backend, deployment.token, signer).approve(deployment.market, PRICE)
            deployment.market_client(backend, signer).buy(model_id, PRICE)
            session = client.sign_in(account)
            buyers.append(Buyer(str(session["token"]), new_account().address))
    return buyers


def _measure(
    url: str, model_id: int, buyers: list[Buyer], options: ApiOptions, label: str, console: Console
) -> list[BuyerLoad]:
    found = []
    for c in options.concurrency:
        with console.status(f"api: {c} buyers for {options.duration_s:g} s ({label})"):
            found.append(
                buyer_load(url, model_id, buyers[:c], warmup_s=1.0, duration_s=options.duration_s)
            )
    return found


def _wait_round(task: ProcessTask, finalized: int, timeout: float) -> int:
    """Once round ``finalized + 1`` is open (0: the first), or finalised (> 0); the open round."""
    deadline = time.monotonic() + timeout
    while True:
        info = task.fed_task().task(task.task_id)
        done = int(info.last_round) - (1 if info.round_open else 0)
        if (finalized == 0 and info.round_open) or (finalized > 0 and done >= finalized):
            return int(info.last_round)
        task.children.sample()
        if time.monotonic() > deadline:
            raise OperationTimeoutError(f"bench-load: the background task stalled at {done}")
        time.sleep(1.0)


def busy_run(
    url: str, place: ChainPlace, buyers: list[Buyer], model_id: int, options: ApiOptions,
    work: Path, console: Console,
) -> tuple[list[BuyerLoad], ProcessesResult]:  # fmt: skip
    """The measurements while a task runs (see the module docstring); the task's figures.

    The task's figures are taken once the round open at the end of the load is finalised: the
    rounds reported are those that ran while the buyers were served.
    """
    n = options.task_participants
    split = prepare_split(work / "busy-data", n, 50)
    with Children(work / "busy-logs") as children:
        task = ProcessTask(place, split, options.schedule(n), children, name="busy")
        task.create()
        started = time.monotonic()
        task.launch()
        schedule = task.schedule
        with console.status(f"api: a task of {n} participants starts beside the API"):
            _wait_round(task, 0, schedule.join_s + 60)
        loads = _measure(url, model_id, buyers, options, "task running", console)
        last = int(task.fed_task().task(task.task_id).last_round)
        with console.status(f"api: the background task finishes round {last}"):
            _wait_round(task, last, schedule.longest_s(1))
        return loads, task_figures(task, time.monotonic() - started)


@contextmanager
def market_world(options: ApiOptions, work: Path) -> Iterator[World]:
    """PostgreSQL, anvil, the contracts and the seeded index (see the module docstring)."""
    seed = BenchOptions(listings=options.listings, tasks=options.tasks, workers=options.workers)
    pg_settings = {"max_connections": "200"}
    work.mkdir(parents=True, exist_ok=True)
    with running_postgres("fedmarket_bench", settings=pg_settings) as postgres, DevNode() as node:
        yield build_world(node.url, postgres.url, work, seed)


def place_of(world: World) -> ChainPlace:
    """Where the market world's tasks run."""
    return ChainPlace(world.chain_url, world.deployment_file, world.store_dir)


def run_api(
    world: World,
    options: ApiOptions,
    console: Console,
    work: Path,
    seller: ProcessTask | None = None,
) -> ApiResult:
    """Part 3 (see the module docstring) in ``world``.

    Parameters
    ----------
    world : World
        The market world (:func:`market_world`).
    options : ApiOptions
        Concurrencies, duration, the background task's size.
    console : Console
        Where the progress goes.
    work : Path
        Where the files go.
    seller : ProcessTask or None, default None
        An ended task of ``world`` whose model goes on sale; ``None`` runs a small one first.
    """
    place = place_of(world)
    work.mkdir(parents=True, exist_ok=True)
    seller = seller or sell_a_model(place, options, work, console)
    with serving(world, options.workers, work / "api-server.log") as url:
        model_id = list_the_model(url, seller)
        buyers = make_buyers(url, place, model_id, max(options.concurrency))
        idle = _measure(url, model_id, buyers, options, "no task", console)
        busy, background = busy_run(url, place, buyers, model_id, options, work, console)
    levels = tuple(
        ApiLevel(c, i, b) for c, i, b in zip(options.concurrency, idle, busy, strict=True)
    )
    return ApiResult(levels, background, model_id, options.workers)


__all__ = ["ApiLevel", "ApiOptions", "ApiResult", "market_world", "place_of", "run_api"]
