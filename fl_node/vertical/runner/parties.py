"""The three vertical-FL parties as long-lived objects that run the orchestrator's jobs.

A party holds only its own data and secrets: the guest its CSV (labels included), the host its
CSV, the arbiter nothing but the Paillier private keys it generates per session. Each job
(:mod:`~fl_node.vertical.runner.jobs`) returns a typed record of *reportable* results
(sizes, timings, metrics, hashes; never rows). The same classes run in the party processes
(:mod:`~fl_node.vertical.runner._process`) and, in tests, as threads over a
:class:`~fl_node.vertical.transport.LocalNetwork`.
"""

from __future__ import annotations

import json
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from fl_node.vertical.crypto.psi import intersection_commitment
from fl_node.vertical.data import (
    FloatArray,
    PartyTable,
    SplitIndices,
    Standardizer,
    aligned_order,
    make_fold_split,
    make_split,
)
from fl_node.vertical.protocol import (
    GuestModel,
    HeteroLRArbiter,
    HeteroLRConfig,
    HeteroLRGuest,
    HeteroLRHost,
    HostModel,
    PsiExchange,
    SessionRole,
    guest_predict,
    host_answer_predict,
    psi_as_guest,
    psi_as_host,
    receive_split,
    run_session,
    send_split,
)
from fl_node.vertical.runner._errors import PartyProtocolError
from fl_node.vertical.runner.jobs import (
    AlignJob,
    BoostPredictJob,
    BoostTrainJob,
    Job,
    JobResult,
    LrPredictJob,
    LrTrainJob,
    PartRecord,
    PartyStats,
    PredictJob,
    PredictOutcome,
    PreflightJob,
    PrepareJob,
    PsiJob,
    PsiOutcome,
    SaveJob,
    SplitJob,
    SplitOutcome,
    StatsJob,
    TrainJob,
    TrainOutcome,
)
from fl_node.vertical.transport import Transport

log = logging.getLogger(__name__)

ROLES = ("guest", "host", "arbiter")
"""The three parties, in the order the orchestrator starts them."""


class Party(ABC):
    """What every party does: train (one shared path for the three roles) and report stats.

    Parameters
    ----------
    transport : Transport
        Channels to the two other roles.
    """

    role: str

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    @abstractmethod
    def _trainer(self, job: TrainJob) -> SessionRole:
        """The role's state for the session ``job`` asks for."""

    def _trained(self, job: TrainJob, trainer: SessionRole, outcome: TrainOutcome) -> TrainOutcome:
        """Keep what the session produced; return the report (hook)."""
        return outcome

    def train(self, job: TrainJob) -> TrainOutcome:
        """Run a training session as this role.

        Parameters
        ----------
        job : TrainJob
            Name, configuration, cipher and coalition of the session.
        """
        start = time.perf_counter()
        trainer = self._trainer(job)
        keygen = time.perf_counter() - start
        result = run_session(self.transport, trainer)
        return self._trained(job, trainer, TrainOutcome(result, keygen))

    def stats(self, job: StatsJob) -> PartyStats:
        """Return this party's communication statistics and timer totals.

        Parameters
        ----------
        job : StatsJob
            The request.
        """
        return PartyStats(self.transport.stats.to_state(), self.transport.timer.snapshot())


@dataclass
class _Aligned:
    """A data party's view after PSI and split: aligned standardised features."""

    ids: list[str]
    rows: np.ndarray
    split: SplitIndices | None = None
    scaler: Standardizer | None = None
    x_all: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))


class DataParty(Party):
    """Shared state of the guest and the host: the table, the alignment, the model parts.

    Parameters
    ----------
    table : PartyTable
        This party's own rows.
    transport : Transport
        Channels to the two other roles.
    """

    def __init__(self, table: PartyTable, transport: Transport) -> None:
        super().__init__(transport)
        self.table = table
        self.aligned: _Aligned | None = None
        self.commitment: bytes | None = None
        self.models: dict[str, GuestModel | HostModel] = {}
        self.configs: dict[str, HeteroLRConfig] = {}

    def _require_aligned_rows(self) -> _Aligned:
        if self.aligned is None:
            raise PartyProtocolError(f"{self.role}: run psi first")
        return self.aligned

    def _require_split(self) -> tuple[_Aligned, SplitIndices]:
        aligned = self._require_aligned_rows()
        if aligned.split is None:
            raise PartyProtocolError(f"{self.role}: run psi and split first")
        return aligned, aligned.split

    def _finish_psi(self, exchange: PsiExchange) -> PsiOutcome:
        ids = aligned_order(exchange.intersection)
        self.aligned = _Aligned(ids=ids, rows=self.table.rows_of(ids))
        self.commitment = intersection_commitment(ids, exchange.salt)
        return PsiOutcome(
            method=exchange.method,
            intersection_size=len(ids),
            own_size=self.table.rows,
            peer_size=exchange.peer_size,
            commitment=self.commitment.hex(),
            seconds=exchange.seconds,
        )

    def _standardize(self, split: SplitIndices, clip: float) -> None:
        aligned = self._require_aligned_rows()
        x = self.table.features[aligned.rows]
        scaler = Standardizer.fit(x[split.train], clip=clip)
        aligned.split = split
        aligned.scaler = scaler
        aligned.x_all = scaler.transform(x)

    def _trained(self, job: TrainJob, trainer: SessionRole, outcome: TrainOutcome) -> TrainOutcome:
        if job.keep:
            assert isinstance(trainer, HeteroLRGuest | HeteroLRHost)
            self.models[job.name] = trainer.model()
            self.configs[job.name] = job.config
        return outcome

    def save(self, job: SaveJob) -> PartRecord:
        """Write this party's model part as JSON into its own content store.

        Parameters
        ----------
        job : SaveJob
            The model and this party's output folder.
        """
        from storage import LocalCidStore, content_hash

        aligned, split = self._require_split()
        model = self.models[job.name]
        folder = Path(job.folder)
        folder.mkdir(parents=True, exist_ok=True)
        data = json.dumps(self._part_document(job.name), indent=2, sort_keys=True).encode()
        path = folder / f"model_{self.role}.json"
        path.write_bytes(data)
        cid = LocalCidStore(folder / "store").put(data)
        return PartRecord(
            cid=str(cid),
            hash="0x" + bytes(content_hash(data)).hex(),
            bytes=len(data),
            file=str(path),
            samples=int(split.train.size),
            features=len(model.weights),
        )

    def _part_document(self, name: str) -> dict[str, Any]:
        aligned, split = self._require_split()
        model = self.models[name]
        assert aligned.scaler is not None
        doc: dict[str, Any] = {
            "format": "fedmarket-vfl-lr-part/1",
            "role": self.role,
            "model": name,
            "feature_names": list(self.table.feature_names),
            "weights": [float(w) for w in model.weights],
            "uses_features": bool(model.use_features),
            "standardizer": aligned.scaler.to_dict(),
            "config": self.configs[name].to_dict(),
            "training_rows": int(split.train.size),
            "score": "partial score = standardised features . weights"
            + (" + intercept" if self.role == "guest" else ""),
        }
        if isinstance(model, GuestModel):
            doc["intercept"] = model.intercept
            doc["output"] = "sigmoid(guest partial score + host partial score)"
        return doc


class GuestParty(DataParty):
    """The label holder.

    Parameters
    ----------
    table : PartyTable
        The guest's own rows (with labels).
    transport : Transport
        Channels to ``"host"`` and ``"arbiter"``.
    """

    role = "guest"

    def psi(self, job: PsiJob) -> PsiOutcome:
        """Run the DH-OPRF PSI as the learning side; tell the host; share the salt.

        Parameters
        ----------
        job : PsiJob
            Processes for the elliptic-curve work.
        """
        return self._finish_psi(psi_as_guest(self.transport, self.table.ids, workers=job.workers))

    def _labels(self) -> FloatArray:
        aligned = self._require_aligned_rows()
        assert self.table.labels is not None
        labels: FloatArray = self.table.labels[aligned.rows]
        return labels

    def split(self, job: SplitJob) -> SplitOutcome:
        """Split the aligned rows (or take a cross-validation fold), tell the host, standardise.

        Parameters
        ----------
        job : SplitJob
            Shares, seed, clip, and for cross-validation the fold.
        """
        labels = self._labels()
        if job.folds:
            split = make_fold_split(
                labels, folds=job.folds, fold=job.fold, validation=job.validation, seed=job.seed
            )
        else:
            split = make_split(labels, validation=job.validation, test=job.test, seed=job.seed)
        send_split(self.transport, split.n_aligned, split.train, split.validation, split.test)
        self._standardize(split, job.clip)
        return SplitOutcome(split, positive_rate=float(labels.mean()))

    def _trainer(self, job: TrainJob) -> HeteroLRGuest:
        aligned, split = self._require_split()
        return HeteroLRGuest(
            aligned.x_all[split.train],
            self._labels()[split.train],
            job.config,
            session=job.name,
            cipher=job.cipher,
            use_features=job.use_guest,
            max_batches=job.max_batches,
            timer=self.transport.timer,
        )

    def predict(self, job: PredictJob) -> PredictOutcome:
        """Score a split part with a trained model; return the metrics (labels stay here).

        Parameters
        ----------
        job : PredictJob
            The model and the part (``"validation"`` or ``"test"``).
        """
        from fl_node.evaluation import binary_metrics

        aligned, split = self._require_split()
        model = self.models[job.name]
        assert isinstance(model, GuestModel)
        positions = split.part(job.part)
        prob = guest_predict(
            self.transport, model, aligned.x_all, positions, model_name=job.name, part=job.part
        )
        metrics = binary_metrics(self._labels()[positions], prob).to_dict()
        return PredictOutcome(job.name, metrics)


class HostParty(DataParty):
    """The feature-only party.

    Parameters
    ----------
    table : PartyTable
        The host's own rows.
    transport : Transport
        Channels to ``"guest"`` and ``"arbiter"``.
    """

    role = "host"

    def psi(self, job: PsiJob) -> PsiOutcome:
        """Run the DH-OPRF PSI as the key holder; learn the intersection and the salt.

        Parameters
        ----------
        job : PsiJob
            Processes for the elliptic-curve work.
        """
        return self._finish_psi(psi_as_host(self.transport, self.table.ids, workers=job.workers))

    def split(self, job: SplitJob) -> SplitOutcome:
        """Receive the guest's split positions and standardise on the training rows.

        Parameters
        ----------
        job : SplitJob
            Only ``clip`` is read.
        """
        aligned = self._require_aligned_rows()
        train, validation, test = receive_split(self.transport, len(aligned.ids))
        split = SplitIndices(train, validation, test, n_aligned=len(aligned.ids))
        self._standardize(split, job.clip)
        return SplitOutcome(split)

    def _trainer(self, job: TrainJob) -> HeteroLRHost:
        aligned, split = self._require_split()
        return HeteroLRHost(
            aligned.x_all[split.train],
            job.config,
            session=job.name,
            cipher=job.cipher,
            use_features=job.use_host,
            timer=self.transport.timer,
        )

    def predict(self, job: PredictJob) -> PredictOutcome:
        """Answer one prediction request (validation / test rows only).

        Parameters
        ----------
        job : PredictJob
            The request (the guest's message says which model and part).
        """
        aligned, split = self._require_split()
        host_models = {k: m for k, m in self.models.items() if isinstance(m, HostModel)}
        allowed = {"validation": split.validation, "test": split.test}
        return PredictOutcome(
            host_answer_predict(self.transport, host_models, aligned.x_all, allowed)
        )


class ArbiterParty(Party):
    """The coordinator holding the Paillier private keys (one per session).

    Parameters
    ----------
    transport : Transport
        Channels to ``"guest"`` and ``"host"``.
    """

    role = "arbiter"

    def _trainer(self, job: TrainJob) -> HeteroLRArbiter:
        return HeteroLRArbiter(
            job.config, session=job.name, cipher=job.cipher, timer=self.transport.timer
        )

    def _trained(self, job: TrainJob, trainer: SessionRole, outcome: TrainOutcome) -> TrainOutcome:
        assert isinstance(trainer, HeteroLRArbiter)
        return replace(outcome, batch_losses=tuple(trainer.batch_losses))

    def train_lr(self, job: LrTrainJob) -> TrainOutcome:
        """Hold the key of one session with the guest and ``job.hosts`` (users' tables).

        Parameters
        ----------
        job : LrTrainJob
            Name, configuration and the hosts, in the agreed order.
        """
        start = time.perf_counter()
        trainer = HeteroLRArbiter(
            job.config, session=job.name, hosts=job.hosts, timer=self.transport.timer
        )
        keygen = time.perf_counter() - start
        result = run_session(self.transport, trainer)
        return TrainOutcome(result, keygen, tuple(trainer.batch_losses))


_OPERATIONS: dict[type, str] = {
    PsiJob: "psi",
    SplitJob: "split",
    TrainJob: "train",
    PredictJob: "predict",
    SaveJob: "save",
    StatsJob: "stats",
    PreflightJob: "preflight",
    PrepareJob: "prepare",
    AlignJob: "align",
    BoostTrainJob: "train_boost",
    BoostPredictJob: "predict_boost",
    LrTrainJob: "train_lr",
    LrPredictJob: "predict_lr",
}


def handle(party: object, job: Job) -> JobResult:
    """Run one job on a party.

    Parameters
    ----------
    party : Party or TableParty
        The guest, a host or the arbiter (with a preset's file or the user's own table).
    job : Job
        What to do.

    Raises
    ------
    PartyProtocolError
        When this party does not run that kind of job.
    """
    name = _OPERATIONS.get(type(job))
    method: Callable[[Job], JobResult] | None = getattr(party, name, None) if name else None
    if method is None:
        role = getattr(party, "role", type(party).__name__)
        raise PartyProtocolError(f"{role}: cannot run {type(job).__name__}")
    return method(job)


__all__ = ["ROLES", "ArbiterParty", "DataParty", "GuestParty", "HostParty", "Party", "handle"]
