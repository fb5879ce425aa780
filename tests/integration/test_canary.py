"""Canary test (issue 14): no canary value and no raw record leaves a participant, in any mode.

Every participant's real data gets canary rows (values ``1234.56789`` plus random offsets, and
ids ``CANARY-<hex>`` where rows have ids; ``tests/support/canary.py``), planted *before* anything
is derived from the data (listing statistics, the spec's input scaling), so the canaries are
legal rows. A few real rows are kept as raw records. Then every byte that leaves a participant
is captured and searched (float64/float32 bytes, decimal text at any precision, row text, ids):

- horizontal tasks on the in-process chain (plain FedAvg, differential privacy, sealed updates)
  and the pool task: every object of the content store, the calldata of every transaction and
  the topics and data of every log on the chain, every mailbox envelope, every log record;
- vertical FL (PSI + Paillier hetero LR), federated transfer learning and secure aggregation:
  every message a party sends, as the bytes that cross the wire.

PSI reveals the intersection to both parties by design; canary ids in the other party's set may
cross only blinded, and canary ids outside it never cross in any form (text or SHA-256).
Each scanner and each capture is checked on bytes that do carry a canary.

A listing's statistics and a party's schema summary once published every feature's exact
minimum and maximum (and quantiles), cell values of some row: this test found it, and they are
now published to three significant digits, ranges rounded outward (``fl_node.data.stats``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from chain import InProcessBackend, demo_account
from fedmarket.bench._fl_task import bench_task
from fedmarket.demo import TOKEN, build_world, design_task, make_participants, sponsor_task
from fedmarket.demo.task import describe_dataset
from fedmarket.demo.world import COORDINATOR, ballot_source, make_coordinator, step_all
from fedmarket.design import pooled_model
from fedmarket.pool import run_pool_task
from fl_node.data import FederatedSplit, LocalDataset, breast_cancer_hospitals
from fl_node.data.derive import numeric_summary
from fl_node.data.registry import fetch
from fl_node.dp import DPConfig
from fl_node.errors import DataUnavailableError
from fl_node.pool.acceptance import AcceptanceRule
from fl_node.pool.assignment import seed_commitment
from fl_node.pool.convergence import ConvergenceRule
from fl_node.pool.spec import PoolSpec
from fl_node.sealed import holder_id
from fl_node.secagg import random_dropouts, run_secagg
from fl_node.transfer import (
    Coordinator,
    Domain,
    MFConfig,
    Ratings,
    Wire,
    load_domains,
    run_protocol,
    split_target,
)
from fl_node.transfer.experiment import parties
from fl_node.vertical.data import PartyTable, dataset_files, load_party
from fl_node.vertical.protocol import CODEC, HeteroLRConfig
from fl_node.vertical.runner import (
    ArbiterParty,
    GuestParty,
    HostParty,
    PredictJob,
    PsiJob,
    SplitJob,
    TrainJob,
)
from fl_node.vertical.transport import LocalNetwork
from storage import LocalCidStore
from storage.sealing import public_key_of
from tests.support.canary import (
    CANARY_BASE,
    Blob,
    Canaries,
    Needle,
    canary_id,
    chain_blobs,
    describe,
    log_blobs,
    plant_rows,
    record_blobs,
    scan,
    store_blobs,
)
from tests.support.services import unavailable

POOL = 300 * TOKEN
DP = DPConfig("dp-fedavg", clip_norm=0.05, noise_multiplier=1.2, delta=1e-5, target_epsilon=None)
SECRET = bytes(range(32))  # the pool coordinator's draw secret
COORDINATOR_KEY = bytes(demo_account(2024, COORDINATOR).key)  # build_world's default seed
VFL_CONFIG = HeteroLRConfig(
    batch_size=64, learning_rate=0.3, lr_decay=0.5, l2=1e-3, max_epochs=1, tol=0.0, key_bits=512
)  # 512-bit Paillier: tests only, the arithmetic (and so the bytes' shape) is the same
FTL_CONFIG = MFConfig(rank=3, lr=0.05, reg=0.5, epochs=12, patience=0)

log = logging.getLogger(__name__)


def plant_split(split: FederatedSplit, seed: int) -> tuple[FederatedSplit, Canaries]:
    """Each participant's rows plus two canary rows (one per class); what to look for."""
    rng = np.random.default_rng(seed)
    hospitals, found = [], Canaries(np.empty(0))
    for data in split.hospitals:
        x, canaries = plant_rows(data.x, rng)
        labels = np.arange(len(x) - data.rows) % max(2, int(data.y.max()) + 1)
        y = np.concatenate([data.y, labels.astype(data.y.dtype)])
        hospitals.append(LocalDataset(data.name, x, y))
        found = found + canaries
    return replace(split, hospitals=tuple(hospitals)), found


def assert_clean(blobs: list[Blob], canaries: Canaries) -> None:
    """No canary, raw record or id in ``blobs`` (and there were bytes to search)."""
    assert blobs and sum(len(b.data) for b in blobs) > 0
    hits = scan(blobs, canaries)
    assert not hits, "leaked:\n" + describe(hits)


# --------------------------------------------------------------------------- the scanner


def test_the_scanner_finds_each_encoding_and_nothing_in_clean_bytes() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(10, 3, (20, 5)).astype(np.float32)
    _, canaries = plant_rows(x, rng)
    canaries = replace(canaries, ids=("CANARY-0123456789abcdef",))
    value = float(canaries.values[3])
    record = canaries.records[1]
    leaks = {
        "float64": b"x" + np.float64(value).tobytes(),
        "float32": b"abc" + np.float32(value).tobytes(),  # at an odd offset
        "repr": f"loss={value!r} done".encode(),
        "%.6g": f"mean {value:.6g}".encode(),
        "%.4f": f"{value:.4f}".encode(),
        "row bytes": np.asarray(record, dtype=np.float32).tobytes(),
        "row text": ", ".join(repr(v) for v in record).encode(),
        "row prefix": ",".join(f"{v:.4f}" for v in record[:4]).encode() + b",...",
        "id": b'{"id": "CANARY-0123456789abcdef"}',
    }
    for name, data in leaks.items():
        assert scan([Blob("test", name, data)], canaries), name
    envelope = {"signed": (b"sig", np.asarray(record, dtype=np.float32)), "note": "ok"}
    assert scan(record_blobs("mailbox", [envelope, Blob("x", "y", b"")]), canaries)
    clean = b"".join(
        [np.arange(1000, 1400, 0.37).astype("<f8").tobytes(), b"1234.5 1300.0 0.1234567 CANARY"]
    )
    assert scan([Blob("test", "clean", clean)], canaries) == []


# --------------------------------------------------------------------------- horizontal


def run_horizontal(tmp_path: Path, changes: dict[str, object]) -> tuple[list[Blob], Canaries]:
    """One round of the demo's task over planted hospitals; every byte that left them."""
    split, canaries = plant_split(breast_cancer_hospitals(4, seed=2024), seed=7)
    backend = InProcessBackend()
    world = build_world(tmp_path / "store", backend=backend, split=split)
    world.mint(world.sponsor, POOL)
    stats = [h.stats() for h in split.hospitals]  # after planting: the canaries are legal rows
    spec = replace(design_task(stats, split.feature_names, rounds=1), **changes)  # type: ignore[arg-type]
    task_id = sponsor_task(world, spec, pool=POOL, max_participants=4)
    nodes = make_participants(world, task_id)
    assert all(float(node.data.x.max()) >= CANARY_BASE for node in nodes)  # they hold canaries
    coordinator = make_coordinator(world, task_id)
    coordinator.ballots = ballot_source(nodes)
    reports = coordinator.run(between=step_all(nodes, task_id))
    assert sum(v.accepted for v in reports[-1].verdicts) >= 3  # the planted rows trained
    assert world.mailbox is not None
    envelopes = [e for r in range(1, spec.rounds + 1) for e in world.mailbox.collect(task_id, r)]
    assert len(envelopes) == 4
    blobs = store_blobs(tmp_path / "store") + chain_blobs(backend)
    return blobs + record_blobs("mailbox", envelopes), canaries


HORIZONTAL: dict[str, dict[str, object]] = {
    "fedavg": {},
    "dp": {"dp": DP},
    "sealed": {"sealed_updates": (holder_id(public_key_of(COORDINATOR_KEY)),)},
}


@pytest.mark.slow
@pytest.mark.parametrize("mode", list(HORIZONTAL))
def test_no_canary_leaves_a_hospital(
    mode: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    blobs, canaries = run_horizontal(tmp_path, HORIZONTAL[mode])
    assert {b.channel for b in blobs} >= {"store", "chain calldata", "chain log", "mailbox"}
    assert_clean(blobs + log_blobs(caplog.records), canaries)
    if mode == "fedavg":  # the captures see a canary that does leave, in each channel
        row = np.asarray(canaries.records[0], dtype=np.float32)
        log.debug("a careless participant logs a row: %s", row.tolist())
        LocalCidStore(tmp_path / "store").put(b"model" + row.tobytes())
        careless = [r for r in caplog.records if r.getMessage().startswith("a careless")]
        found = scan(log_blobs(careless) + store_blobs(tmp_path / "store"), canaries)
        assert {h.channel for h in found} == {"log", "store"}


# --------------------------------------------------------------------------- pool task


@pytest.mark.slow
def test_no_canary_leaves_a_pool_participant(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    task = bench_task("digits", clients=4, rounds=2)
    split, canaries = plant_split(task.split, seed=8)
    stats = [h.stats() for h in split.hospitals]  # after planting
    model = pooled_model(stats, kind="mlp", hidden=(32,), seed=7, task="multiclass", classes=10)
    spec = PoolSpec(
        name="canary-pool",
        base_models=(model, replace(model, kind="linear", hidden=())),
        train=task.spec.train,
        rounds=2,
        convergence=ConvergenceRule(window=2, band=0.05),
        acceptance=AcceptanceRule(),
        seed_commitment="0x" + seed_commitment(SECRET).hex(),
        feature_names=split.feature_names,
    )
    backend = InProcessBackend()
    done = run_pool_task(spec, split, tmp_path / "store", secret=SECRET, backend=backend)
    assert done.audit.ok and len(done.result.rounds) == 2
    blobs = store_blobs(tmp_path / "store") + chain_blobs(backend)
    assert_clean(blobs + log_blobs(caplog.records), canaries)


# --------------------------------------------------------------------------- vertical FL


class RecordingNetwork(LocalNetwork):
    """The in-memory network of the vertical tests, keeping every frame's exact bytes."""

    def __init__(self, roles: list[str]) -> None:
        super().__init__(roles, codec=CODEC, timeout=60)
        self.frames: list[tuple[str, str, int, bytes]] = []

    def deliver(self, sender: str, receiver: str, tag: int, payload: bytes) -> None:
        self.frames.append((sender, receiver, tag, payload))
        super().deliver(sender, receiver, tag, payload)


def threads(*work: Callable[[], object]) -> list[object]:
    """Run the parties concurrently; re-raise the first failure."""
    with ThreadPoolExecutor(max_workers=len(work)) as pool:
        return [f.result(timeout=120) for f in [pool.submit(w) for w in work]]


def plant_table(
    table: PartyTable, rng: np.random.Generator, ids: list[str]
) -> tuple[PartyTable, Canaries]:
    """``table`` (its first 150 rows) plus one canary row per id in ``ids``."""
    table = table.subset(np.arange(150))
    x, canaries = plant_rows(table.features, rng, rows=len(ids))
    labels = None
    if table.labels is not None:
        labels = np.concatenate([table.labels, np.arange(len(ids)) % 2.0])
    planted = PartyTable([*table.ids, *ids], x, table.feature_names, labels)
    return planted, replace(canaries, ids=tuple(ids))


def vertical_tables(rng: np.random.Generator) -> tuple[PartyTable, PartyTable, Canaries, Canaries]:
    """FATE breast parties with canaries: two shared ids, one each that the other lacks."""
    guest_csv, host_csv = dataset_files("breast")
    shared = [canary_id(rng), canary_id(rng)]
    guest, in_guest = plant_table(load_party(guest_csv, "guest"), rng, [*shared, canary_id(rng)])
    host, in_host = plant_table(
        load_party(host_csv, "host", seed=1), rng, [*shared, canary_id(rng)]
    )
    return guest, host, in_guest, in_host


@pytest.fixture(scope="module")
def breast_data() -> None:
    """The FATE breast files, verified (downloaded once where they are not local)."""
    try:
        fetch("fate_breast_hetero")
    except DataUnavailableError as exc:
        unavailable(str(exc))


@pytest.mark.slow
def test_no_canary_leaves_a_vertical_party(
    breast_data: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    guest_table, host_table, in_guest, in_host = vertical_tables(np.random.default_rng(9))
    net = RecordingNetwork(["guest", "host", "arbiter"])
    guest = GuestParty(guest_table, net.transport("guest"))
    host = HostParty(host_table, net.transport("host"))
    arbiter = ArbiterParty(net.transport("arbiter"))
    threads(lambda: guest.psi(PsiJob()), lambda: host.psi(PsiJob()))
    assert guest.aligned is not None and host.aligned is not None
    shared = set(guest.aligned.ids)
    assert set(in_guest.ids[:2]) <= shared and not set(in_guest.ids[2:] + in_host.ids[2:]) & shared
    threads(
        lambda: guest.split(SplitJob(clip=3.0, validation=0.15, test=0.2, seed=0)),
        lambda: host.split(SplitJob(clip=3.0)),
    )
    job = TrainJob("m", VFL_CONFIG)
    threads(lambda: guest.train(job), lambda: host.train(job), lambda: arbiter.train(job))
    threads(lambda: guest.predict(PredictJob("m", "test")), lambda: host.predict(PredictJob()))
    for role, canaries in (("guest", in_guest), ("host", in_host)):
        sent = [
            Blob(f"{role} -> {to}", f"frame {i} tag {tag}", payload)
            for i, (sender, to, tag, payload) in enumerate(net.frames)
            if sender == role
        ]
        assert_clean(sent, canaries)  # ids in clear included: PSI sends them blinded only
    assert_clean(log_blobs(caplog.records), in_guest + in_host)
    leaked = Blob("guest -> host", "planted", in_guest.ids[2].encode() + b"|")
    assert scan([leaked], in_guest)  # an id sent in the clear is caught


# --------------------------------------------------------------------------- transfer learning


def plant_domain(
    domain: Domain, rng: np.random.Generator, users: list[int]
) -> tuple[Domain, Canaries]:
    """``domain`` plus three canary ratings by each of ``users`` (new ids, above every real one)."""
    per_user = 3
    values = rng.uniform(1.5, 4.5, len(users) * per_user)  # legal ratings, every digit random
    local = len(domain.user_ids) + np.repeat(np.arange(len(users)), per_user)
    items = rng.choice(len(domain.item_ids), len(values), replace=False)
    r = domain.ratings
    ratings = Ratings(
        np.concatenate([r.users, local]),
        np.concatenate([r.items, items]),
        np.concatenate([r.values, values]),
    )
    user_ids = np.concatenate([domain.user_ids, np.array(users, dtype=domain.user_ids.dtype)])
    real = [r.values[r.users == u][:4] for u in np.unique(r.users)]
    records = tuple(tuple(float(v) for v in seq) for seq in real if len(seq) == 4)[:3]
    ids = [
        Needle(f"user id {u} as {form}", data)
        for u in users
        for form, data in (("int64", np.int64(u).tobytes()), ("text", str(u).encode()))
    ]
    return Domain(domain.name, user_ids, domain.item_ids, ratings), Canaries(
        values, records, extra=tuple(ids)
    )


@pytest.fixture(scope="module")
def xwines_data() -> None:
    """X-Wines (slim), verified (downloaded once where it is not local)."""
    try:
        fetch("xwines_slim")
    except DataUnavailableError as exc:
        unavailable(str(exc))


@pytest.mark.slow
def test_no_canary_leaves_a_transfer_party(
    xwines_data: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    target, source = load_domains(max_users=300, seed=0)
    rng = np.random.default_rng(10)
    shared_canary, alone = 987_654_321_012, [987_654_321_013]
    target, in_target = plant_domain(target, rng, [shared_canary, *alone])
    source, in_source = plant_domain(source, rng, [shared_canary, 987_654_321_014])
    shared = np.intersect1d(target.user_ids, source.user_ids)  # the PSI's output, by design
    assert shared_canary in shared and len(shared) > 10
    t, s = parties(target, split_target(target.ratings, 0), source, shared, FTL_CONFIG, 0)
    wire = Wire(keep=True)
    run_protocol(t, s, Coordinator(FTL_CONFIG, 2), wire=wire)
    for role, canaries in (("target", in_target), ("source", in_source)):
        sent = [
            Blob(f"{role} -> {r.receiver}", f"message {i} {r.kind}", r.data)
            for i, r in enumerate(wire.records)
            if r.sender == role and r.data is not None
        ]
        assert_clean(sent, canaries)
    assert_clean(log_blobs(caplog.records), in_target + in_source)
    leaked = Blob("target -> coordinator", "planted", b"\x03" + in_target.values.tobytes())
    assert scan([leaked], in_target)  # a message carrying the ratings is caught


# --------------------------------------------------------------------------- secure aggregation


def test_no_canary_reaches_the_secagg_server() -> None:
    rng = np.random.default_rng(11)
    n, width = 10, 300
    updates = rng.normal(0.0, 0.02, (n, width))
    spots = np.stack([rng.choice(width, 3, replace=False) for _ in range(n)])
    for client, where in enumerate(spots):
        updates[client, where] = rng.uniform(0.6, 0.7, 3)  # canaries inside the clip range
    result = run_secagg(list(updates), dropouts=random_dropouts(n, 0.2, seed=3), seed=5)
    assert len(result.aggregate.survivors) < n  # the unmasking of dropped clients ran too
    words = result.config.fixed_point
    for client in range(n):
        values = updates[client, spots[client]]
        window = updates[client, :8]
        encoded = [*words.encode(values), words.encode(window)]
        canaries = Canaries(
            values,
            records=(tuple(float(v) for v in window),),
            extra=tuple(
                Needle(f"fixed-point words {i}", w.tobytes()) for i, w in enumerate(encoded)
            ),
        )
        sent = [
            Blob(f"client {client} -> server", f"message {i} {m.stage}", m.payload)
            for i, m in enumerate(result.server_view)
            if m.sender == client
        ]
        assert_clean(sent, canaries)
        leaked = Blob("client -> server", "planted", b"\x01" + encoded[-1].tobytes())
        assert scan([leaked], canaries)  # a plain fixed-point update is caught


# --------------------------------------------------------------------------- published statistics


def published_statistics() -> tuple[list[Blob], Canaries]:
    """What a hospital publishes about its planted rows: its listing and its schema summary."""
    split, canaries = plant_split(breast_cancer_hospitals(4, seed=2024), seed=12)
    data = split.hospitals[0]
    listing = describe_dataset(data, split.feature_names, name="canary listing")
    summaries = [numeric_summary(column.astype(np.float64)).to_dict() for column in data.x.T]
    blobs = [
        Blob("listing", "statistics", json.dumps(listing).encode()),
        Blob("schema summary", "numeric columns", json.dumps(summaries).encode()),
    ]
    return blobs, replace(canaries, values=data.x[-2:].astype(np.float64).ravel())


def test_no_canary_in_published_statistics() -> None:
    # ranges and quantiles are published to three significant digits (fl_node.data.stats): with
    # exact minima and maxima this found 84 canary hits in one hospital's listing and summary
    blobs, canaries = published_statistics()
    assert_clean(blobs, canaries)
