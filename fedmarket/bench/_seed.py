"""Seed the chain index with realistic listings and tasks, as the indexer would have written them.

The benchmark measures the API's reads, so the index is filled directly (bulk inserts), with what
the indexer writes for real events: listings whose metadata documents were validated by the API's
own :class:`~marketplace_api.schemas.DatasetBase` (schema, statistics, quality, licence, tags),
their tags, a few owners with many listings each, delisted and downloadable ones; and tasks whose
``detail`` is a :class:`~marketplace_api.indexer.TaskSnapshot` with finalized rounds,
commitments, allocations and claims. The index cursor is put at the chain's head, so the
server's own indexer finds nothing to redo.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from sqlalchemy import insert
from sqlalchemy.orm import Session

from marketplace_api.indexer import TaskSnapshot
from marketplace_api.listing import metadata_document
from marketplace_api.models import DatasetListing, DatasetTag, IndexCursor, IndexedTask
from marketplace_api.schemas import DatasetBase

log = logging.getLogger(__name__)

TAGS = (
    "medical",
    "tabular",
    "imaging",
    "genomics",
    "finance",
    "retail",
    "iot",
    "text",
    "time-series",
    "survey",
    "energy",
    "mobility",
)
"""Tag vocabulary; ``medical`` is on about a third of the listings, the others rarer."""

EPOCH = 1_767_225_600
"""2026-01-01T00:00:00Z: listings are spread over the following months."""


@dataclass(frozen=True)
class Seeded:
    """What was seeded: ids the load generator asks for.

    Parameters
    ----------
    dataset_ids : list of int
        Every listing's id.
    task_ids : list of int
        Every task's id.
    busy_owner : str
        The owner with the most listings.
    """

    dataset_ids: list[int]
    task_ids: list[int]
    busy_owner: str


def address(n: int) -> str:
    """A deterministic checksummed address (not anyone's key)."""
    return to_checksum_address(keccak(b"fedmarket bench %d" % n)[-20:])


def _hex32(*parts: object) -> str:
    return "0x" + keccak(repr(parts).encode()).hex()


def listing_metadata(n: int, owner: str, rng: random.Random) -> dict[str, Any]:
    """A listing's metadata as an owner would sign it (five columns, statistics, quality)."""
    tags = ["medical"] if rng.random() < 0.33 else []
    tags += rng.sample(TAGS[1:], rng.randint(1, 3))
    rows = rng.randint(100, 50_000)
    return {
        "name": f"clinic {n:05d}: diagnoses {rng.choice(['2024', '2025', '2026'])}",
        "description": "Fine-needle aspirate features from a regional clinic; label 1 = malignant. "
        "Collected under consent for federated training; rows never leave the site.",
        "owner": owner,
        "schema": [
            {"name": "radius", "dtype": "float"},
            {"name": "texture", "dtype": "float"},
            {"name": "visits", "dtype": "int"},
            {"name": "site", "dtype": "category"},
            {"name": "label", "dtype": "bool"},
        ],
        "row_count": rows,
        "statistics": {
            "count": rows,
            "mean": [round(rng.uniform(10, 18), 3), round(rng.uniform(15, 22), 3), 3],
            "std": [3.5, 4.3, 1.25],
            "min": [6.98, 9.71, 1],
            "max": [28.1, 39.28, 9],
        },
        "quality": {
            "missing_rate": round(rng.uniform(0, 0.05), 4),
            "duplicate_rate": 0.01,
            "label_positive_rate": round(rng.uniform(0.2, 0.5), 3),
        },
        "license": rng.choice(["CC-BY-4.0", "CC-BY-NC-4.0", "ODbL-1.0"]),
        "tags": tags,
        "downloadable": False,
    }


def listing_rows(
    deployment_id: int, count: int, rng: random.Random
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], str]:
    """Rows of ``dataset_listings``, and of ``dataset_tags`` by dataset id (not yet by row)."""
    owners = [address(i) for i in range(max(1, count // 10))]
    busy = owners[0]
    listings: list[dict[str, Any]] = []
    tags: list[dict[str, Any]] = []
    for n in range(1, count + 1):
        owner = busy if n % 20 == 0 else rng.choice(owners)
        meta = listing_metadata(n, owner, rng)
        downloadable = rng.random() < 0.2
        meta["downloadable"] = downloadable
        fields = DatasetBase.model_validate(meta)
        doc = metadata_document(fields)
        document = fields.document_fields()
        listings.append(
            {
                "deployment_id": deployment_id,
                "dataset_id": n,
                "owner": owner,
                "name": document["name"],
                "metadata_cid": doc.cid,
                "metadata_hash": doc.hash_hex,
                "document": document,
                "tx_hash": _hex32("tx", n),
                "block": 10 + n,
                "created_at": datetime.fromtimestamp(EPOCH + 600 * n, UTC),
                "access_mode": "downloadable" if downloadable else "federated_only",
                "price_wei": str(10**18 * rng.randint(1, 50)) if downloadable else "0",
                "active": rng.random() >= 0.05,
                "document_status": "ok",
                "document_error": None,
                "row_count": document["row_count"],
                "sales": rng.randint(0, 12) if downloadable else 0,
            }
        )
        tags += [{"dataset_id": n, "tag": t, "position": i} for i, t in enumerate(document["tags"])]
    return listings, tags, busy


BENCH_SCHEDULE = {
    "join_period": 86_400,
    "commit_period": 3600,
    "inclusion_period": 600,
    "reveal_period": 600,
    "finalize_period": 600,
    "challenge_period": 600,
    "open_period": 3600,
    "abort_grace": 86_400,
    "stake_cooldown": 3600,
}
"""The schedule of every benchmark task."""


def _round_record(
    task_id: int,
    r: int,
    participants: list[str],
    coordinator: str,
    created: int,
    rng: random.Random,
) -> dict[str, Any]:
    """Round ``r`` of a benchmark task: finalised with allocations unless it is the fourth."""
    finalized = r < 4
    allocations = {p: 10**18 * rng.randint(1, 9) for p in participants} if finalized else None
    return {
        "round": r,
        "opened_model_cid": f"bafkbench{task_id}r{r}",
        "opened_model_hash": _hex32("model", task_id, r - 1),
        "commit_deadline": created + 3600 * r,
        "reveal_start": created + 3600 * r + 600,
        "reveal_deadline": created + 3600 * r + 1200,
        "finalize_deadline": created + 3600 * r + 1800,
        "direct_count": len(participants),
        "commitments": len(participants),
        "direct_commitments": [
            {
                "participant": p,
                "update_hash": _hex32("update", task_id, r, p),
                "samples": rng.randint(100, 5000),
                "update_cid": f"bafkupdate{task_id}r{r}p{i}",
                "block": 100 + r,
                "tx_hash": _hex32("commit", task_id, r, p),
            }
            for i, p in enumerate(participants)
        ],
        "finalized": finalized,
        "finalizer": coordinator if finalized else None,
        "model_cid": f"bafkbench{task_id}r{r}" if finalized else None,
        "model_hash": _hex32("model", task_id, r) if finalized else None,
        "evidence_cid": f"bafkevidence{task_id}r{r}" if finalized else None,
        "rewards_root": _hex32("root", task_id, r),
        "budget": sum(allocations.values()) if allocations else 0,
        "accepted": len(participants),
        "claimable_at": created + 3600 * r + 2400 if finalized else 0,
        "claims": {participants[0]: allocations[participants[0]]} if allocations else {},
        "evidence_status": "verified" if finalized else "not_finalized",
        "allocations": allocations,
    }


def task_snapshot(task_id: int, rng: random.Random, now: int) -> TaskSnapshot:
    """A training task four rounds in: eight participants, direct commitments, allocations."""
    sponsor, coordinator = address(10_000 + task_id), address(20_000 + task_id)
    participants = [address(30_000 + 10 * task_id + i) for i in range(8)]
    created = now - 86_400
    rounds = [
        _round_record(task_id, r, participants, coordinator, created, rng) for r in range(1, 5)
    ]
    return TaskSnapshot.model_validate(
        {
            "task_id": task_id,
            "sponsor": sponsor,
            "coordinator": coordinator,
            "status": "training",
            "created_at": created,
            "total_rounds": 10,
            "last_round": 4,
            "round_open": True,
            "max_participants": 16,
            "quorum": 4,
            "slash_bps": 1000,
            "permissioned": False,
            "coordinator_staked": True,
            "deadline": created + 86_400 * 30,
            "pool": 1000 * 10**18,
            "unallocated": 700 * 10**18,
            "participant_stake": 10**18,
            "coordinator_stake": 5 * 10**18,
            "spec_cid": f"bafkspec{task_id}",
            "spec_hash": _hex32("spec", task_id),
            "schedule": BENCH_SCHEDULE,
            "participants": participants,
            "stakes": dict.fromkeys(participants, 10**18) | {coordinator: 5 * 10**18},
            "rounds": rounds,
        }
    )


def task_rows(deployment_id: int, count: int, rng: random.Random, now: int) -> list[dict[str, Any]]:
    """Rows of the ``tasks`` table."""
    rows = []
    for task_id in range(1, count + 1):
        snap = task_snapshot(task_id, rng, now)
        rows.append(
            {
                "deployment_id": deployment_id,
                "task_id": task_id,
                "sponsor": snap.sponsor,
                "coordinator": snap.coordinator,
                "status": snap.status,
                "created_at": snap.created_at,
                "ended_at": None,
                "total_rounds": snap.total_rounds,
                "current_round": snap.last_round,
                "participant_count": len(snap.participants),
                "pool_wei": str(snap.pool),
                "spec_cid": snap.spec_cid,
                "block": 50 + task_id,
                "tx_hash": _hex32("task", task_id),
                "updated_block": 60 + task_id,
                "detail": snap.model_dump(mode="json"),
            }
        )
    return rows


def seed_index(
    session: Session,
    deployment_id: int,
    *,
    listings: int,
    tasks: int,
    head: tuple[int, str, int],
    seed: int = 8,
) -> Seeded:
    """Fill the index of ``deployment_id`` and put its cursor at ``head`` (flushed, not committed).

    Parameters
    ----------
    session : Session
        An open session on the migrated database.
    deployment_id : int
        The deployment's row (see :func:`marketplace_api.crud.ensure_deployment`).
    listings : int
        Dataset listings to add (ids 1 to ``listings``).
    tasks : int
        Tasks to add (ids 1 to ``tasks``).
    head : tuple of (int, str, int)
        The chain's latest block: number, ``0x`` hash, timestamp.
    seed : int, default 8
        Seed of the random choices (the same seed gives the same index).
    """
    rng = random.Random(seed)
    rows, tags, busy = listing_rows(deployment_id, listings, rng)
    pks: dict[int, int] = {}
    for start in range(0, len(rows), 1000):
        added = session.execute(
            insert(DatasetListing).returning(DatasetListing.dataset_id, DatasetListing.pk),
            rows[start : start + 1000],
        )
        pks.update((int(d), int(p)) for d, p in added)
    tag_rows = [
        {"listing_pk": pks[t["dataset_id"]], "tag": t["tag"], "position": t["position"]}
        for t in tags
    ]
    for start in range(0, len(tag_rows), 2000):
        session.execute(insert(DatasetTag), tag_rows[start : start + 2000])
    if tasks:
        session.execute(insert(IndexedTask), task_rows(deployment_id, tasks, rng, head[2]))
    session.add(
        IndexCursor(
            deployment_id=deployment_id, block=head[0], block_hash=head[1], block_timestamp=head[2]
        )
    )
    session.flush()
    log.info("seed_index: %d listings (%d tags), %d tasks", len(rows), len(tags), tasks)
    return Seeded(
        dataset_ids=[r["dataset_id"] for r in rows],
        task_ids=list(range(1, tasks + 1)),
        busy_owner=busy,
    )


__all__ = ["TAGS", "Seeded", "address", "seed_index"]
