"""The marketplace tables and queries, one test class for every database backend.

Runs on SQLite (a temporary file) and a real PostgreSQL server, on a schema built by the Alembic
migrations; each test runs inside a transaction rolled back at the end.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from marketplace_api import crud
from marketplace_api.core.db import Database
from marketplace_api.models import (
    ChainDeployment,
    DatasetListing,
    DatasetTag,
    ModelContributor,
    ModelListing,
)

pytestmark = pytest.mark.slow

REGISTRY = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
FED_TASK = "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0"
TOKEN = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"
MARKET = "0xDc64a140Aa3E981100a9becA4E685f962f0cF6C9"
COURT = "0xCf7Ed3AccA5a467e9e704C703E8D87F634fB0Fc9"
OWNER_A = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
OWNER_B = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
BIG_WEI = 2**256 - 1


def identity(block_hash: str) -> crud.DeploymentIdentity:
    """A deployment at the usual dev-chain addresses; only the block hash differs."""
    return crud.DeploymentIdentity(31337, REGISTRY, FED_TASK, TOKEN, MARKET, COURT, 1, block_hash)


def add(
    session: Session,
    scope: crud.Scope,
    dataset_id: int,
    owner: str = OWNER_A,
    tags: tuple[str, ...] = (),
    *,
    metadata_hash: str | None = None,
    access_mode: str = "federated_only",
    price_wei: int = 0,
) -> None:
    """Insert a listing row as the indexer's rebuild does (only the indexer writes listings)."""
    document = {"name": f"dataset {dataset_id}", "statistics": {"mean": [0.1, 2.5e-7]}}
    row = DatasetListing(
        deployment_id=scope.deployment_id,
        dataset_id=dataset_id,
        owner=owner,
        name=document["name"],
        metadata_cid=f"bafkrei{dataset_id:052d}",
        metadata_hash=metadata_hash or "0x" + f"{dataset_id:064x}",
        document=document,
        tx_hash="0x" + "ab" * 32,
        block=dataset_id,
        created_at=datetime.now(UTC),
        access_mode=access_mode,
        price_wei=str(price_wei),
        active=True,
        document_status="ok",
        sales=0,
    )
    row.tags = [DatasetTag(tag=t, position=i) for i, t in enumerate(tags)]
    session.add(row)
    session.flush()


def add_model(
    session: Session,
    scope: crud.Scope,
    task_id: int,
    contributors: list[tuple[str, int]],
    model_id: int | None = None,
) -> int:
    row = crud.add_model(
        session,
        scope,
        crud.NewModel(
            model_id=model_id or task_id + 100,
            task_id=task_id,
            name="m",
            description="d",
            price_wei=BIG_WEI,
            sponsor_bps=1_000,
            model_cid="bafkreimodel",
            model_hash="0x" + "cd" * 32,
            card_cid="bafkreicard",
            card_hash="0x" + "ef" * 32,
            metrics={"accuracy": 0.97},
            listed_by=OWNER_A,
            contributors=contributors,
        ),
    )
    assert row.model_id is not None
    return row.model_id


def count(session: Session, table: type) -> int:
    return int(session.scalar(select(func.count()).select_from(table)) or 0)


class TestDatabase:
    """Every test runs once per backend (the ``database`` fixture is parametrised)."""

    @pytest.fixture
    def scope(self, database: Database) -> crud.Scope:
        with database.session() as session:
            scope = crud.ensure_deployment(session, identity("0x" + "01" * 32))
            session.commit()
        return scope

    def test_deployments_are_recorded_once(self, database: Database, scope: crud.Scope) -> None:
        with database.session() as session:
            again = crud.ensure_deployment(session, identity("0x" + "01" * 32))
            other = crud.ensure_deployment(session, identity("0x" + "02" * 32))
            assert again == scope
            assert other.deployment_id != scope.deployment_id
            assert (other.chain_id, other.registry, other.fed_task) == (31337, REGISTRY, FED_TASK)
            assert (other.market, other.court) == (MARKET, COURT)
            assert count(session, ChainDeployment) == 2

    def test_dataset_round_trip(self, database: Database, scope: crud.Scope) -> None:
        with database.session() as session:
            add(session, scope, 7, tags=("medical", "tabular"))
            session.commit()
        with database.session() as session:
            row = crud.get_dataset(session, scope, 7)
            assert row is not None
            assert row.owner == OWNER_A
            assert row.document == {"name": "dataset 7", "statistics": {"mean": [0.1, 2.5e-7]}}
            assert [t.tag for t in row.tags] == ["medical", "tabular"]
            assert row.created_at is not None
            assert (row.access_mode, row.price_wei) == ("federated_only", "0")
            assert crud.dataset_by_owner_hash(session, scope, OWNER_A, "0x" + f"{7:064x}")
            assert crud.dataset_by_owner_hash(session, scope, OWNER_B, "0x" + f"{7:064x}") is None
            assert crud.get_dataset(session, scope, 8) is None

    def test_each_test_starts_empty(self, database: Database, scope: crud.Scope) -> None:
        """The previous tests' rows were rolled back (the same ids are reused here)."""
        with database.session() as session:
            assert count(session, DatasetListing) == 0
            assert count(session, ModelListing) == 0
            assert count(session, ChainDeployment) == 1  # this test's own
            add(session, scope, 7)
            session.commit()

    def test_filters_and_pages(self, database: Database, scope: crud.Scope) -> None:
        with database.session() as session:
            add(session, scope, 1, OWNER_A, ("medical",))
            add(session, scope, 2, OWNER_B, ("medical", "credit"))
            add(session, scope, 3, OWNER_A, ("credit",))
            add(session, scope, 4, OWNER_B)
            session.commit()

            def ids(**filters: object) -> tuple[list[int], int]:
                rows, total = crud.list_datasets(session, scope, **filters)  # type: ignore[arg-type]
                return [r.dataset_id for r in rows], total

            assert ids() == ([1, 2, 3, 4], 4)
            assert ids(owner=OWNER_A) == ([1, 3], 2)
            assert ids(tag="credit") == ([2, 3], 2)
            assert ids(tag="credit", owner=OWNER_B) == ([2], 1)
            assert ids(limit=2, offset=1) == ([2, 3], 4)
            assert ids(tag="none") == ([], 0)

    def test_access_mode_and_price(self, database: Database, scope: crud.Scope) -> None:
        with database.session() as session:
            add(session, scope, 1, OWNER_A, ("x",))
            add(session, scope, 2, OWNER_B, ("x",), access_mode="downloadable", price_wei=BIG_WEI)
            session.commit()
            rows, total = crud.list_datasets(session, scope, access_mode="downloadable")
            assert [r.dataset_id for r in rows] == [2] and total == 1
            assert rows[0].price_wei == str(BIG_WEI)  # all 78 digits survive
            rows, _ = crud.list_datasets(session, scope, access_mode="federated_only", tag="x")
            assert [r.dataset_id for r in rows] == [1]

    def test_metadata_hash_is_unique_per_owner(self, database: Database, scope: crud.Scope) -> None:
        """Another owner's copy of a hash is its own listing; the same owner's is refused."""
        same = "0x" + f"{1:064x}"
        with database.session() as session:
            add(session, scope, 1, OWNER_A)
            add(session, scope, 2, OWNER_B, metadata_hash=same)
            session.commit()
            with pytest.raises(IntegrityError):
                add(session, scope, 3, OWNER_A, metadata_hash=same)
            session.rollback()
            assert crud.list_datasets(session, scope)[1] == 2

    def test_deployments_do_not_mix(self, database: Database, scope: crud.Scope) -> None:
        """A database outliving its chain: the same ids on another deployment stay apart."""
        with database.session() as session:
            old = crud.ensure_deployment(session, identity("0x" + "02" * 32))
            add(session, old, 1, OWNER_A, ("x",))
            add_model(session, old, 11, [], model_id=1)
            session.commit()
            assert crud.get_dataset(session, scope, 1) is None
            assert crud.list_datasets(session, scope) == ([], 0)
            assert crud.list_datasets(session, scope, tag="x") == ([], 0)
            assert crud.model_for_task(session, scope, 11) is None
            assert crud.list_models(session, scope) == ([], 0)
            add(session, scope, 1, OWNER_B, ("x",))  # same id and hash, current deployment
            model_id = add_model(session, scope, 11, [], model_id=2)
            session.commit()
            current, previous = (
                crud.get_dataset(session, scope, 1),
                crud.get_dataset(session, old, 1),
            )
            assert current is not None and current.owner == OWNER_B
            assert previous is not None and previous.owner == OWNER_A
            assert crud.get_model(session, old, model_id) is None
            assert crud.get_model(session, scope, 1) is None
            assert crud.list_datasets(session, scope, tag="x")[1] == 1

    def test_foreign_keys_are_enforced(self, database: Database, scope: crud.Scope) -> None:
        with database.session() as session:
            session.add(DatasetTag(listing_pk=424242, tag="orphan", position=0))
            with pytest.raises(IntegrityError):
                session.flush()
            session.rollback()

    def test_deleting_a_listing_deletes_its_tags(
        self, database: Database, scope: crud.Scope
    ) -> None:
        with database.session() as session:
            add(session, scope, 5, tags=("a", "b"))
            session.commit()
            session.delete(crud.get_dataset(session, scope, 5))
            session.commit()
            assert count(session, DatasetTag) == 0

    def test_model_listing_with_contributors(self, database: Database, scope: crud.Scope) -> None:
        contributors = [(OWNER_A, 6667), (OWNER_B, 3333)]
        with database.session() as session:
            model_id = add_model(session, scope, 11, contributors, model_id=7)
            session.commit()
        with database.session() as session:
            row = crud.get_model(session, scope, model_id)
            assert row is not None and row.model_id == 7
            assert row.price_wei == str(BIG_WEI)  # all 78 digits survive
            assert (row.sponsor_bps, row.card_hash) == (1_000, "0x" + "ef" * 32)
            assert [(c.address, c.share_bps) for c in row.contributors] == contributors
            assert row.metrics == {"accuracy": 0.97}
            assert crud.model_for_task(session, scope, 11) is not None
            rows, total = crud.list_models(session, scope, contributor=OWNER_B)
            assert [r.model_id for r in rows] == [model_id] and total == 1
            assert crud.list_models(session, scope, task_id=12) == ([], 0)

    def test_one_model_listing_per_task(self, database: Database, scope: crud.Scope) -> None:
        with database.session() as session:
            add_model(session, scope, 11, [], model_id=1)
            session.commit()
            with pytest.raises(IntegrityError):
                add_model(session, scope, 11, [], model_id=2)
            session.rollback()
            with pytest.raises(IntegrityError):  # one row per ModelMarket listing too
                add_model(session, scope, 12, [], model_id=1)
            session.rollback()
            assert count(session, ModelListing) == 1
            assert count(session, ModelContributor) == 0
