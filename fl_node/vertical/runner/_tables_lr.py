"""Hetero LR on the users' own tables, one guest and N hosts: each data party's steps (private).

The party processes of :mod:`~fl_node.vertical.runner._tables_parties` call these with their
aligned prepared rows. Each session standardises the party's aligned rows on the split's
training rows and clips them at ``config.x_bound`` (the protocol's bounds need it); the
scaler is kept with the model part, so prediction and the saved part use the same one.
Every host takes part in every session; a coalition drops a party's features
(``use_features=False``), never its process.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from fl_node.vertical.data import FloatArray, SplitIndices, Standardizer
from fl_node.vertical.protocol import (
    GuestModel,
    HeteroLRConfig,
    HeteroLRGuest,
    HeteroLRHost,
    HostModel,
    guest_predict,
    host_answer_predict,
    run_session,
)
from fl_node.vertical.runner.jobs import LrPredictJob, LrTrainJob, PredictOutcome, TrainOutcome
from fl_node.vertical.transport import NetworkTransport


@dataclass(frozen=True)
class LrPart:
    """A data party's part of a trained hetero-LR model, with the scaler it was trained on."""

    model: GuestModel | HostModel
    scaler: Standardizer
    config: HeteroLRConfig
    hosts: tuple[str, ...]


def _scaled(x: FloatArray, split: SplitIndices, config: HeteroLRConfig) -> Standardizer:
    return Standardizer.fit(x[split.train], clip=config.x_bound)


def train_guest(
    transport: NetworkTransport,
    x: FloatArray,
    labels: FloatArray,
    split: SplitIndices,
    job: LrTrainJob,
) -> tuple[TrainOutcome, LrPart]:
    """Run one session as the guest with every host and the arbiter."""
    start = time.perf_counter()
    scaler = _scaled(x, split, job.config)
    trainer = HeteroLRGuest(
        scaler.transform(x[split.train]),
        labels[split.train],
        job.config,
        session=job.name,
        use_features="guest" in job.features,
        hosts=job.hosts,
        timer=transport.timer,
    )
    keygen = time.perf_counter() - start
    result = run_session(transport, trainer)
    part = LrPart(trainer.model(), scaler, job.config, job.hosts)
    return TrainOutcome(result, keygen), part


def train_host(
    transport: NetworkTransport, role: str, x: FloatArray, split: SplitIndices, job: LrTrainJob
) -> tuple[TrainOutcome, LrPart]:
    """Run one session as host ``role`` (without features when the coalition drops them)."""
    scaler = _scaled(x, split, job.config)
    trainer = HeteroLRHost(
        scaler.transform(x[split.train]),
        job.config,
        session=job.name,
        use_features=role in job.features,
        name=role,
        timer=transport.timer,
    )
    result = run_session(transport, trainer)
    return TrainOutcome(result), LrPart(trainer.model(), scaler, job.config, job.hosts)


def predict_guest(
    transport: NetworkTransport,
    part: LrPart,
    x: FloatArray,
    labels: FloatArray,
    split: SplitIndices,
    job: LrPredictJob,
) -> PredictOutcome:
    """Federated prediction of a split part; the metrics (the labels stay with the guest)."""
    from fl_node.evaluation import binary_metrics

    assert isinstance(part.model, GuestModel)
    rows = split.part(job.part)
    prob = guest_predict(
        transport,
        part.model,
        part.scaler.transform(x),
        rows,
        model_name=job.name,
        part=job.part,
        hosts=part.hosts,
    )
    return PredictOutcome(job.name, binary_metrics(labels[rows], prob).to_dict())


def predict_host(
    transport: NetworkTransport, part: LrPart, x: FloatArray, split: SplitIndices, job: LrPredictJob
) -> PredictOutcome:
    """Answer the guest's request for this model's partial scores (validation / test only)."""
    assert isinstance(part.model, HostModel)
    allowed = {"validation": split.validation, "test": split.test}
    models = {job.name: part.model}
    return PredictOutcome(host_answer_predict(transport, models, part.scaler.transform(x), allowed))


def lr_document(role: str, name: str, part: LrPart, split: SplitIndices) -> dict[str, Any]:
    """The model-part document of a hetero-LR model (weights, scaler, configuration)."""
    model = part.model
    doc: dict[str, Any] = {
        "format": "fedmarket-vfl-lr-part/1",
        "model": name,
        "hosts": list(part.hosts),
        "weights": [float(w) for w in model.weights],
        "uses_features": bool(model.use_features),
        "standardizer": part.scaler.to_dict(),
        "config": part.config.to_dict(),
        "training_rows": int(split.train.size),
        "score": "partial score = standardised prepared features . weights"
        + (" + intercept" if role == "guest" else ""),
    }
    if isinstance(model, GuestModel):
        doc["intercept"] = model.intercept
        doc["output"] = "sigmoid(guest partial score + every host's partial score)"
    return doc


__all__ = ["LrPart", "lr_document", "predict_guest", "predict_host", "train_guest", "train_host"]
