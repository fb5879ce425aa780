"""A party with the user's own table: SecureBoost or hetero LR, one guest and N hosts (private).

The party process reads its own CSV (:class:`~fl_node.vertical.runner.inputs.TableSource`) when
it starts and then answers the orchestrator's jobs: the preflight report (summaries only), the
preparation (its ids normalised and its columns encoded with the agreed rules, fitted on its
own rows), the PSI (the guest with each host in turn, keeping the rows every party shares:
:class:`~fl_node.vertical.runner._wire.KeepRowsMsg`), the guest's split or cross-validation
fold, SecureBoost training sessions (the guest holds the Paillier key; no arbiter) or
hetero-LR sessions (:mod:`~fl_node.vertical.runner._tables_lr`, with the arbiter holding the
key), federated prediction and the saving of its model part. Results carry sizes, timings,
metrics and hashes, never rows.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fl_node.vertical.crypto.paillier import encryption_mode
from fl_node.vertical.crypto.psi import intersection_commitment
from fl_node.vertical.data import (
    FloatArray,
    SplitIndices,
    aligned_order,
    make_fold_split,
    make_split,
)
from fl_node.vertical.protocol import psi_as_guest, psi_as_host, receive_split, send_split
from fl_node.vertical.protocol.boost import (
    BoostCipher,
    BoostConfig,
    GuestFit,
    HostBoostModel,
    SecureBoostGuest,
    SecureBoostHost,
    guest_predict,
    host_answer_predict,
    make_cipher,
)
from fl_node.vertical.runner import _tables_lr as lr
from fl_node.vertical.runner._errors import PartyProtocolError
from fl_node.vertical.runner._wire import KeepRowsMsg
from fl_node.vertical.runner.inputs import TableSource
from fl_node.vertical.runner.jobs import (
    AlignJob,
    BoostOutcome,
    BoostPredictJob,
    BoostTrainJob,
    LrPredictJob,
    LrTrainJob,
    PartRecord,
    PartyStats,
    PredictOutcome,
    PreflightJob,
    PreparedOutcome,
    PrepareJob,
    PsiOutcome,
    ReportOutcome,
    SaveJob,
    SplitJob,
    SplitOutcome,
    StatsJob,
    TrainOutcome,
)
from fl_node.vertical.tables import (
    IdRules,
    PreparedTable,
    PrepRules,
    party_report,
    prepare_party,
    read_table,
)
from fl_node.vertical.transport import NetworkTransport
from fl_node.vertical.transport.base import IdleWork

log = logging.getLogger(__name__)

SALT_BYTES = 32


class _HostView(NetworkTransport):
    """The guest's channel to one host, under the peer name ``"host"``."""

    def _wait(self, peers: Sequence[str], idle: IdleWork | None) -> str:
        super()._wait(peers, idle)
        return "host"


def host_view(transport: NetworkTransport, host: str) -> NetworkTransport:
    """The guest's channel to ``host`` seen as its one peer ``"host"`` (the PSI and split)."""
    channel = transport.channels[host]
    return _HostView(
        transport.role, {"host": channel}, transport.stats, transport.codec, transport.timer
    )


@dataclass
class _SharedRows:
    """The rows every party shares, in aligned order, and the current split."""

    ids: list[str]
    x: FloatArray
    split: SplitIndices | None = None


class TableParty:
    """What the guest and the hosts share: the table, its preparation, the aligned rows.

    Parameters
    ----------
    source : TableSource
        This party's file and schema.
    transport : NetworkTransport
        Channels to the other parties.
    """

    role: str

    def __init__(self, source: TableSource, transport: NetworkTransport) -> None:
        self.source = source
        self.transport = transport
        self.raw = read_table(source.path, source.schema, role=source.kind)
        self.prepared: PreparedTable | None = None
        self.aligned: _SharedRows | None = None
        self.commitment = b""
        self.lr_parts: dict[str, lr.LrPart] = {}

    def preflight(self, job: PreflightJob) -> ReportOutcome:
        """The preflight report of this party's table under the given id rules (no id leaves)."""
        rules = IdRules.parse(job.id_rules)
        return ReportOutcome(party_report(self.raw, rules, self.source.party))

    def prepare(self, job: PrepareJob) -> PreparedOutcome:
        """Normalise the ids and encode the columns with the agreed rules."""
        rules = IdRules.parse(job.id_rules)
        self.prepared = prepare_party(self.raw, rules, PrepRules.parse(job.prep_rules))
        return PreparedOutcome(self.prepared.rows, int(self.prepared.features.shape[1]))

    def stats(self, job: StatsJob) -> PartyStats:
        """The communication statistics and timer totals of this party."""
        return PartyStats(self.transport.stats.to_state(), self.transport.timer.snapshot())

    def _table(self) -> PreparedTable:
        if self.prepared is None:
            raise PartyProtocolError(f"{self.role}: prepare the table first")
        return self.prepared

    def _require_split(self) -> tuple[_SharedRows, SplitIndices]:
        if self.aligned is None or self.aligned.split is None:
            raise PartyProtocolError(f"{self.role}: run the PSI and the split first")
        return self.aligned, self.aligned.split

    def _align(self, ids: list[str], salt: bytes, peer_size: int, start: float) -> PsiOutcome:
        """Keep ``ids`` (aligned order) and commit to them with ``salt``."""
        table = self._table()
        where = {value: i for i, value in enumerate(table.ids)}
        self.aligned = _SharedRows(ids, table.features[[where[value] for value in ids]])
        self.commitment = intersection_commitment(ids, salt)
        return PsiOutcome(
            method="ecdh-oprf-secp256k1",
            intersection_size=len(ids),
            own_size=table.rows,
            peer_size=peer_size,
            commitment=self.commitment.hex(),
            seconds=time.perf_counter() - start,
        )

    def _write_part(self, job: SaveJob, document: dict[str, Any], features: int) -> PartRecord:
        from storage import LocalCidStore, content_hash

        _, split = self._require_split()
        folder = Path(job.folder)
        folder.mkdir(parents=True, exist_ok=True)
        data = json.dumps(document, indent=2, sort_keys=True).encode()
        path = folder / f"model_{self.role}.json"
        path.write_bytes(data)
        cid = LocalCidStore(folder / "store").put(data)
        return PartRecord(
            cid=str(cid),
            hash="0x" + bytes(content_hash(data)).hex(),
            bytes=len(data),
            file=str(path),
            samples=int(split.train.size),
            features=features,
        )

    def _save_lr(self, job: SaveJob) -> PartRecord:
        """Write this party's part of hetero-LR model ``job.name``."""
        _, split = self._require_split()
        part = self.lr_parts[job.name]
        document = {**self._prep_document(), **lr.lr_document(self.role, job.name, part, split)}
        return self._write_part(job, document, int(aligned_features(self)))

    def _prep_document(self) -> dict[str, Any]:
        table = self._table()
        return {
            "role": self.role,
            "feature_names": list(table.feature_names),
            "id_rules": table.id_rules.canonical(),
            "prep": table.prep.to_dict(),
        }


class TableGuest(TableParty):
    """The label holder with its own table: PSI with every host, split, SecureBoost's key."""

    role = "guest"

    def __init__(self, source: TableSource, transport: NetworkTransport) -> None:
        super().__init__(source, transport)
        self.fits: dict[str, tuple[GuestFit, tuple[str, ...]]] = {}
        self._ciphers: dict[tuple[str, int, str], BoostCipher] = {}

    def _labels(self) -> FloatArray:
        table = self._table()
        if self.aligned is None or table.labels is None:
            raise PartyProtocolError("guest: run the PSI first")
        where = {value: i for i, value in enumerate(table.ids)}
        labels: FloatArray = table.labels[[where[value] for value in self.aligned.ids]]
        return labels

    def align(self, job: AlignJob) -> PsiOutcome:
        """PSI with each host; keep the rows all share; tell each host which and the salt."""
        start, table = time.perf_counter(), self._table()
        pairwise: dict[str, list[str]] = {}
        peers = 0
        for host in job.hosts:
            exchange = psi_as_guest(host_view(self.transport, host), table.ids, workers=job.workers)
            pairwise[host] = aligned_order(exchange.intersection)
            peers += exchange.peer_size
        shared = set.intersection(*(set(ids) for ids in pairwise.values()))
        kept = aligned_order(list(shared))
        salt = secrets.token_bytes(SALT_BYTES)
        for host, ids in pairwise.items():
            keep = np.array([i for i, value in enumerate(ids) if value in shared], np.uint32)
            self.transport.send(host, KeepRowsMsg(n_pairwise=len(ids), salt=salt, keep=keep))
        return self._align(kept, salt, peers, start)

    def split(self, job: SplitJob) -> SplitOutcome:
        """Split the aligned rows (or take a fold) and send the positions to every host."""
        labels = self._labels()
        if job.folds:
            split = make_fold_split(
                labels, folds=job.folds, fold=job.fold, validation=job.validation, seed=job.seed
            )
        else:
            split = make_split(labels, validation=job.validation, test=job.test, seed=job.seed)
        for host in self.transport.channels:
            if host != "arbiter":
                view = host_view(self.transport, host)
                send_split(view, split.n_aligned, split.train, split.validation, split.test)
        assert self.aligned is not None
        self.aligned.split = split
        return SplitOutcome(split, positive_rate=float(labels.mean()))

    def _cipher(self, config: BoostConfig) -> BoostCipher:
        mode = encryption_mode(config.randomizer, key_holder=True)
        key = (config.cipher, config.key_bits, mode)
        if key not in self._ciphers:
            self._ciphers[key] = make_cipher(config.cipher, config.key_bits, mode=mode)
        return self._ciphers[key]

    def train_boost(self, job: BoostTrainJob) -> BoostOutcome:
        """Train one SecureBoost model with the job's hosts."""
        aligned, split = self._require_split()
        cpu, start = time.process_time(), time.perf_counter()
        trainer = SecureBoostGuest(
            aligned.x[split.train],
            self._labels()[split.train],
            job.config,
            self._cipher(job.config),
            hosts=job.hosts,
            session=job.name,
        )
        fit = trainer.fit(self.transport)
        if job.keep:
            self.fits[job.name] = (fit, job.hosts)
        return BoostOutcome(
            seconds=time.perf_counter() - start,
            cpu_seconds=time.process_time() - cpu,
            trees=len(fit.model.trees),
            tree_seconds=fit.tree_seconds,
        )

    def predict_boost(self, job: BoostPredictJob) -> PredictOutcome:
        """Score a split part by federated prediction; the metrics (labels stay here)."""
        from fl_node.evaluation import binary_metrics

        aligned, split = self._require_split()
        fit, hosts = self.fits[job.name]
        rows = split.part(job.part)
        prob = guest_predict(
            self.transport, fit.model, aligned.x[rows], hosts=hosts, session=job.name
        )
        return PredictOutcome(job.name, binary_metrics(self._labels()[rows], prob).to_dict())

    def train_lr(self, job: LrTrainJob) -> TrainOutcome:
        """Train one hetero-LR model with every host and the arbiter (the key holder)."""
        aligned, split = self._require_split()
        outcome, part = lr.train_guest(self.transport, aligned.x, self._labels(), split, job)
        if job.keep:
            self.lr_parts[job.name] = part
        return outcome

    def predict_lr(self, job: LrPredictJob) -> PredictOutcome:
        """Score a split part with a hetero-LR model; the metrics (labels stay here)."""
        aligned, split = self._require_split()
        part = self.lr_parts[job.name]
        return lr.predict_guest(self.transport, part, aligned.x, self._labels(), split, job)

    def save(self, job: SaveJob) -> PartRecord:
        """Write the guest's part (every tree; host nodes as record ids) into its own store."""
        if job.name in self.lr_parts:
            return self._save_lr(job)
        fit, hosts = self.fits[job.name]
        model = fit.model
        document = {
            "format": "fedmarket-vfl-secureboost-part/1",
            **self._prep_document(),
            "model": job.name,
            "hosts": list(hosts),
            "init_score": model.init_score,
            "max_depth": model.max_depth,
            "trees": [[_node(n) for n in tree] for tree in model.trees],
            "edges": [e.tolist() for e in fit.edges.edges],
            "output": "sigmoid(init_score + sum of the leaf weights the rows reach)",
        }
        return self._write_part(job, document, int(aligned_features(self)))


class TableHost(TableParty):
    """A feature holder with its own table: PSI with the guest, its SecureBoost records."""

    def __init__(self, source: TableSource, transport: NetworkTransport) -> None:
        super().__init__(source, transport)
        self.role = source.party
        self.models: dict[str, HostBoostModel] = {}

    def align(self, job: AlignJob) -> PsiOutcome:
        """PSI with the guest; keep the rows the guest says every party shares."""
        start, table = time.perf_counter(), self._table()
        exchange = psi_as_host(self.transport, table.ids, workers=job.workers)
        ids = aligned_order(exchange.intersection)
        msg = self.transport.recv_from("guest", KeepRowsMsg)
        if msg.n_pairwise != len(ids):
            raise PartyProtocolError(
                f"{self.role}: the guest kept rows of {msg.n_pairwise} shared ids, not {len(ids)}"
            )
        return self._align([ids[i] for i in msg.keep.tolist()], msg.salt, exchange.peer_size, start)

    def split(self, job: SplitJob) -> SplitOutcome:
        """Receive the guest's positions over the aligned rows."""
        if self.aligned is None:
            raise PartyProtocolError(f"{self.role}: run the PSI first")
        n = len(self.aligned.ids)
        train, validation, test = receive_split(self.transport, n)
        self.aligned.split = SplitIndices(train, validation, test, n_aligned=n)
        return SplitOutcome(self.aligned.split)

    def train_boost(self, job: BoostTrainJob) -> BoostOutcome:
        """Serve one SecureBoost session: histograms, and the records of the splits it wins."""
        aligned, split = self._require_split()
        cpu, start = time.process_time(), time.perf_counter()
        host = SecureBoostHost(aligned.x[split.train], job.config, session=job.name)
        model = host.fit(self.transport)
        if job.keep:
            self.models[job.name] = model
        return BoostOutcome(
            seconds=time.perf_counter() - start,
            cpu_seconds=time.process_time() - cpu,
            records=len(model.records),
        )

    def predict_boost(self, job: BoostPredictJob) -> PredictOutcome:
        """Answer the guest's branch queries on the part's rows only."""
        aligned, split = self._require_split()
        rows = split.part(job.part)
        host_answer_predict(self.transport, self.models[job.name], aligned.x[rows])
        return PredictOutcome(job.name)

    def train_lr(self, job: LrTrainJob) -> TrainOutcome:
        """Serve one hetero-LR session (with or without this host's features)."""
        aligned, split = self._require_split()
        outcome, part = lr.train_host(self.transport, self.role, aligned.x, split, job)
        if job.keep:
            self.lr_parts[job.name] = part
        return outcome

    def predict_lr(self, job: LrPredictJob) -> PredictOutcome:
        """Answer the guest's request for partial scores of the part's rows only."""
        aligned, split = self._require_split()
        return lr.predict_host(self.transport, self.lr_parts[job.name], aligned.x, split, job)

    def save(self, job: SaveJob) -> PartRecord:
        """Write the host's lookup table (its thresholds stay with it) into its own store."""
        if job.name in self.lr_parts:
            return self._save_lr(job)
        model = self.models[job.name]
        document = {
            "format": "fedmarket-vfl-secureboost-host-part/1",
            **self._prep_document(),
            "model": job.name,
            "records": [
                {"feature": r.feature, "bin": r.bin, "threshold": r.threshold}
                for r in model.records
            ],
            "edges": [e.tolist() for e in model.edges.edges],
        }
        return self._write_part(job, document, int(aligned_features(self)))


def aligned_features(party: TableParty) -> int:
    """The party's encoded feature columns."""
    return int(party._table().features.shape[1])


def _node(node: Any) -> dict[str, Any]:
    """A tree node as JSON (a threshold unknown to the guest is ``None``)."""
    threshold = None if np.isnan(node.threshold) else float(node.threshold)
    return {
        "id": node.node_id,
        "depth": node.depth,
        "weight": float(node.weight),
        "left": node.left,
        "right": node.right,
        "party": node.party,
        "feature": node.feature,
        "threshold": threshold,
        "record": node.record,
    }


def make_table_party(source: TableSource, transport: NetworkTransport) -> TableParty:
    """The guest or a host with its own table (the file is read here, in its own process)."""
    if source.kind == "guest":
        return TableGuest(source, transport)
    return TableHost(source, transport)


__all__ = ["TableGuest", "TableHost", "TableParty", "host_view", "make_table_party"]
