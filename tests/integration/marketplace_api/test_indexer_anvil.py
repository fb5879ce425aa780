"""The chain indexer on a real node (anvil), as its own process and behind the served API.

- ``fedmarket index`` killed with SIGKILL twice part-way through a busy chain, then run again
  with ``--once``: the database equals an uninterrupted run's, table by table;
- a reorg (``evm_snapshot``, blocks indexed, ``evm_revert``, other blocks mined, shorter or
  longer than the replaced ones): the replaced blocks' rows are gone, the new ones are there,
  and the index equals a fresh one;
- the staleness the issue found: a dataset delisted on-chain leaves ``GET /datasets``, one listed
  on-chain without the API enters it;
- concurrent relayed listings while the API's indexer runs: every listing the relayer paid for
  shows exactly once, the chain's count is the index's, no 5xx, and an owner's retry is a 409
  naming an id that ``GET`` shows.

Each test that moves the chain backwards has a node of its own (signers cache their nonces).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from chain import DevNode, RpcBackend
from chain.devnode import find_tool
from chain.errors import ChainConnectionError
from marketplace_api import (
    MarketplaceApiError,
    MarketplaceClient,
    Services,
    create_app,
    serve_in_thread,
)
from marketplace_api.core.db import Database, create_db_engine
from marketplace_api.indexer import IndexerOptions, open_index
from marketplace_api.models import DatasetListing, IndexCursor
from tests.integration.marketplace_api.index_support import (
    BusyChain,
    busy_chain,
    cursor_block,
    dump_index,
    fresh_database_url,
    index_dump,
    list_directly,
)
from tests.integration.marketplace_api.market_world import (
    DB_KINDS,
    ChainWorld,
    dataset_metadata,
    make_world,
)
from tests.support.services import unavailable

pytestmark = [pytest.mark.slow, pytest.mark.rpc]

REPO = Path(__file__).resolve().parents[3]
PROCESS_S = 180.0
"""Longest a ``fedmarket index`` process may take (imports included, on a loaded machine)."""


def _node() -> DevNode:
    try:
        find_tool("anvil")
    except ChainConnectionError as exc:
        unavailable(str(exc))
    return DevNode("anvil").start()


@pytest.fixture
def own_node() -> Iterator[str]:
    """An anvil node of this test's own."""
    node = _node()
    try:
        yield node.url
    finally:
        node.stop()


def index_command(
    rpc: str, deployment: Path, store: Path, database_url: str, *flags: str
) -> list[str]:
    """The ``fedmarket index`` command line."""
    return [
        sys.executable,
        "-m",
        "fedmarket",
        "index",
        *("--rpc", rpc, "--deployment", str(deployment)),
        *("--database", database_url, "--store", str(store)),
        *flags,
    ]


@dataclass
class Busy:
    """A node with a busy chain: its URL, the world, what was done, the deployment's file."""

    url: str
    world: ChainWorld
    done: BusyChain
    deployment: Path
    store: Path

    def command(self, database_url: str, *flags: str) -> list[str]:
        """The ``fedmarket index`` command line over this chain and ``database_url``."""
        return index_command(self.url, self.deployment, self.store, database_url, *flags)

    def run_once(self, database_url: str, *flags: str) -> dict[str, Any]:
        """``fedmarket index --once``: its exit 0 and its JSON summary."""
        done = subprocess.run(
            self.command(database_url, "--once", *flags),
            capture_output=True,
            text=True,
            timeout=PROCESS_S,
            cwd=REPO,
        )
        assert done.returncode == 0, done.stderr
        summary: dict[str, Any] = json.loads(done.stdout)
        return summary


@pytest.fixture(scope="module")
def busy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Busy]:
    """A node of the module's own with a busy chain."""
    node = _node()
    try:
        folder = tmp_path_factory.mktemp("busy")
        world = make_world(RpcBackend(node.url), folder / "store")
        done = busy_chain(world)
        deployment = world.deployment.save(folder / "deployment.json")
        yield Busy(node.url, world, done, deployment, folder / "store")
    finally:
        node.stop()


@pytest.fixture(params=DB_KINDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with fresh_database_url(request.param, request, tmp_path) as url:
        yield url


@pytest.fixture(params=DB_KINDS)
def two_db_urls(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    with (
        fresh_database_url(request.param, request, tmp_path) as one,
        fresh_database_url(request.param, request, tmp_path) as two,
    ):
        yield one, two


# ---- fedmarket index as a process --------------------------------------------------------------
def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


def test_killed_mid_range_and_restarted_equals_an_uninterrupted_run(
    busy: Busy, two_db_urls: tuple[str, str]
) -> None:
    world = busy.world
    killed_url, reference_url = two_db_urls
    head = int(world.backend.w3.eth.block_number)
    reference = busy.run_once(reference_url)
    assert reference["end_block"] == head and not reference["stopped"]
    assert reference["events"] == len(index_dump(reference_url)["chain_events"])

    engine = create_db_engine(killed_url)
    try:
        first = world.deployment.block
        for fraction in (1 / 3, 2 / 3):  # one block per range: many commits to land between
            process = subprocess.Popen(
                busy.command(killed_url, "--batch-blocks", "1", "--poll", "60"),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                cwd=REPO,
            )
            mark = first + int((head - first) * fraction)
            try:
                wait_for(lambda m=mark: (cursor_block(engine) or -1) >= m, PROCESS_S, "the cursor")
                process.send_signal(signal.SIGKILL)
            finally:
                process.kill()
                process.wait()
            assert process.returncode == -signal.SIGKILL
            assert mark <= (cursor_block(engine) or -1) < head  # killed part-way
    finally:
        engine.dispose()
    resumed = busy.run_once(killed_url)
    assert resumed["start_block"] > first and resumed["end_block"] == head
    assert index_dump(killed_url) == index_dump(reference_url)


def test_a_replayed_range_changes_nothing(busy: Busy, db_url: str) -> None:
    world = busy.world
    busy.run_once(db_url, "--batch-blocks", "9")
    before = index_dump(db_url)
    engine = create_db_engine(db_url)
    try:
        with engine.begin() as conn:
            block = world.backend.w3.eth.get_block(world.deployment.block)
            conn.execute(
                DatasetListing.__table__.update().values(active=False)  # tampered: replay heals
            )
            conn.execute(
                IndexCursor.__table__.update().values(
                    block=world.deployment.block, block_hash="0x" + bytes(block["hash"]).hex()
                )
            )
    finally:
        engine.dispose()
    replay = busy.run_once(db_url, "--batch-blocks", "4")
    assert (replay["events"], replay["rollbacks"]) == (0, 0)
    assert index_dump(db_url) == before


# ---- reorgs ----------------------------------------------------------------------------------
def _rpc(world: ChainWorld, method: str, *params: Any) -> Any:
    response = world.backend.w3.provider.make_request(method, list(params))  # type: ignore[arg-type]
    assert "error" not in response, response
    return response["result"]


def _owners(database: Database) -> dict[int, tuple[str, bool]]:
    with database.session() as s:
        rows = s.scalars(select(DatasetListing)).all()
        return {r.dataset_id: (r.owner, r.active) for r in rows}


@pytest.mark.parametrize("longer", [False, True], ids=["shorter", "longer"])
def test_a_reorg_rolls_back_the_replaced_blocks(
    own_node: str, two_db_urls: tuple[str, str], tmp_path: Path, longer: bool
) -> None:
    world = make_world(RpcBackend(own_node), tmp_path / "store")
    kept_owner = world.funded()
    kept = list_directly(world, kept_owner)
    database = Database.from_url(two_db_urls[0])
    options = IndexerOptions(batch_blocks=3)
    try:
        indexer = open_index(
            database=database,
            backend=world.backend,
            deployment=world.deployment,
            store=world.store,
            options=options,
        )
        indexer.sync()
        snapshot = _rpc(world, "evm_snapshot")
        gone = [world.funded() for _ in range(3)]
        for owner in gone:
            list_directly(world, owner)
        world.registry(kept_owner).delist(kept)
        indexer.sync()
        assert _owners(database) == {
            kept: (kept_owner.address, False),
            **{kept + 1 + i: (o.address, True) for i, o in enumerate(gone)},
        }
        assert _rpc(world, "evm_revert", snapshot) is True

        # the other branch, on a backend whose signers know nothing of the replaced blocks
        world = make_world_on(world, RpcBackend(own_node))
        newcomer = world.funded()
        replacement = list_directly(world, newcomer)
        if longer:
            for _ in range(12):
                _rpc(world, "evm_mine")
        indexer.backend = world.backend
        report = indexer.sync()
        assert report.rollbacks == 1
        assert _owners(database) == {
            kept: (kept_owner.address, True),
            replacement: (newcomer.address, True),
        }
        fresh = Database.from_url(two_db_urls[1])
        try:
            open_index(
                database=fresh,
                backend=world.backend,
                deployment=world.deployment,
                store=world.store,
            ).sync()
            reorged, clean = dump_index(database.engine), dump_index(fresh.engine)
            # what a CID holds never changes: documents read for replaced listings stay cached
            kept_documents = set(reorged.pop("content_documents"))
            assert set(clean.pop("content_documents")) < kept_documents
            assert reorged == clean
        finally:
            fresh.dispose()
    finally:
        database.dispose()


def make_world_on(world: ChainWorld, backend: RpcBackend) -> ChainWorld:
    """``world``'s deployment and store over another backend object (fresh signers)."""
    from chain import signer_for

    faucet = backend.faucet_account()
    assert faucet is not None
    return ChainWorld(
        backend=backend,
        deployment=world.deployment,
        deployer=signer_for(backend, faucet),
        relayer=signer_for(backend, faucet),
        store=world.store,
    )


# ---- behind the served API -------------------------------------------------------------------
@dataclass
class Served:
    """The API served over a node of its own and a fresh database, its indexer following."""

    world: ChainWorld
    url: str
    node_url: str
    database_url: str
    folder: Path


@pytest.fixture
def served(own_node: str, db_url: str, tmp_path: Path) -> Iterator[Served]:
    world = make_world(RpcBackend(own_node), tmp_path / "store")
    services = Services.embedded(
        backend=world.backend,
        deployment=world.deployment,
        relayer=world.relayer,
        store=world.store,
        database_url=db_url,
        index_interval=0.1,
    )
    server = serve_in_thread(create_app(services=services))
    try:
        yield Served(world, server.url, own_node, db_url, tmp_path)
    finally:
        server.stop()
        services.close()


def _active_ids(api: MarketplaceClient) -> list[int]:
    return [int(d["id"]) for d in api.datasets(status="active", limit=100)]


def test_the_api_follows_what_happens_on_chain_without_it(served: Served) -> None:
    world, url = served.world, served.url
    with MarketplaceClient(url, timeout=30) as api:
        owner = world.funded()
        via_api = api.list_dataset(owner, dataset_metadata(owner.address))["id"]
        assert _active_ids(api) == [via_api]

        world.registry(owner).delist(via_api)  # on-chain, not through the API
        wait_for(lambda: _active_ids(api) == [], 30, "the delisting to show")
        assert api.dataset(via_api)["active"] is False
        assert [d["id"] for d in api.datasets(status="delisted")] == [via_api]

        direct_owner = world.funded()
        direct = list_directly(world, direct_owner, tags=["direct"])
        wait_for(lambda: _active_ids(api) == [direct], 30, "the direct listing to show")
        shown = api.dataset(direct)
        assert (shown["owner"], shown["document_status"], shown["tags"]) == (
            direct_owner.address,
            "ok",
            ["direct"],
        )
        world.registry(owner).relist(via_api)
        wait_for(lambda: _active_ids(api) == [via_api, direct], 30, "the relisting to show")


CONCURRENCY = 8
LISTINGS = 32


def test_concurrent_relayed_listings_all_show_exactly_once(
    served: Served, record_property: Callable[[str, object], None]
) -> None:
    """The API's indexer thread and a ``fedmarket index`` process both index meanwhile."""
    world, url = served.world, served.url
    owners = [world.funded() for _ in range(LISTINGS)]
    metadata = [dataset_metadata(o.address) for o in owners]
    statuses: list[int] = []
    deployment = world.deployment.save(served.folder / "deployment.json")
    second_indexer = subprocess.Popen(
        index_command(
            served.node_url,
            deployment,
            served.folder / "store",
            served.database_url,
            *("--poll", "0.05", "--batch-blocks", "2"),
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )

    assert second_indexer.stderr is not None
    assert "indexing" in second_indexer.stderr.readline()  # it follows the chain now

    def post(i: int) -> dict[str, Any]:
        with MarketplaceClient(url, timeout=60) as api:
            try:
                return api.list_dataset(owners[i], metadata[i], wait=None)
            except MarketplaceApiError as exc:
                statuses.append(exc.status)
                raise

    try:
        started = time.monotonic()
        with ThreadPoolExecutor(CONCURRENCY) as pool:
            relayed = list(pool.map(post, range(LISTINGS)))
        record_property("relayed_listings_per_second", LISTINGS / (time.monotonic() - started))
    finally:
        second_indexer.send_signal(signal.SIGTERM)
        out, err = second_indexer.communicate(timeout=60)
    assert second_indexer.returncode == 0, err
    assert json.loads(out)["stopped"] is True
    assert statuses == []
    ids = [r["id"] for r in relayed]
    registry = world.registry()
    assert sorted(ids) == list(range(1, LISTINGS + 1))
    assert registry.dataset_count() == LISTINGS

    with MarketplaceClient(url, timeout=30) as api:
        # the owner retries: 409 naming the listing, which GET shows
        with pytest.raises(MarketplaceApiError) as again:
            api.list_dataset(owners[5], metadata[5], wait=None)
        assert again.value.status == 409
        assert f"dataset {ids[5]}" in again.value.detail
        assert api.dataset(ids[5])["owner"] == owners[5].address

        def indexed() -> list[int]:
            page = api.datasets_page(status="all", limit=100)
            assert page["total"] == len(page["items"])
            return [int(d["id"]) for d in page["items"]]

        wait_for(lambda: len(indexed()) >= LISTINGS, 30, "every listing to be indexed")
        assert indexed() == sorted(ids)  # each exactly once
        assert registry.dataset_count() == api.datasets_page(status="all")["total"]
        for relay, owner in zip(relayed, owners, strict=True):
            shown = api.dataset(relay["id"])
            assert (shown["owner"], shown["tx_hash"]) == (owner.address, relay["tx_hash"])


def test_the_index_command_follows_until_sigterm(busy: Busy, db_url: str) -> None:
    world = busy.world
    process = subprocess.Popen(
        busy.command(db_url, "--poll", "0.1"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    head = int(world.backend.w3.eth.block_number)
    engine = create_db_engine(db_url)
    try:
        wait_for(lambda: (cursor_block(engine) or -1) >= head, PROCESS_S, "the head")
    finally:
        engine.dispose()
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    summary = json.loads(stdout)
    assert (summary["end_block"], summary["stopped"]) == (head, True)
    assert summary["events"] == len(index_dump(db_url)["chain_events"]) > 0


def test_the_index_command_reports_an_unreachable_chain(tmp_path: Path) -> None:
    deployment = tmp_path / "deployment.json"
    deployment.write_text("{}")
    done = subprocess.run(
        [sys.executable, "-m", "fedmarket", "index", "--rpc", "http://127.0.0.1:9"]
        + ["--deployment", str(deployment), "--database", f"sqlite:///{tmp_path}/x.db", "--once"],
        capture_output=True,
        text=True,
        timeout=PROCESS_S,
        cwd=REPO,
    )
    assert done.returncode == 3, done.stderr
    assert done.stderr.startswith("error: ") and "127.0.0.1:9" in done.stderr
