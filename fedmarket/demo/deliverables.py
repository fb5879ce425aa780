"""The finished task's deliverables: model files, training log, loss curve, report, model card.

Written into the output folder, each also stored in the content store; the model card names
them all by CID and is itself stored, to be listed in the marketplace.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chain.fed_task import TaskCompletedEvent
from fedmarket.demo.task import MODEL_OUTPUT
from fedmarket.demo.world import World
from fl_node.adversarial import report_attacks
from fl_node.coordinator import RoundReport
from fl_node.models import FedModel
from fl_node.reporting import (
    communication_stats,
    dump_json,
    evaluation_report,
    model_card,
    plot_loss_curve,
    training_log,
    write_training_log,
)
from fl_node.serialization import decode_model
from fl_node.task import TaskSpec
from kernel.types import Cid

ARTIFACT_FILES = (
    "model_config.json",
    "training_log.csv",
    "communication.json",
    "loss_curve.png",
    "evaluation_report.md",
)
"""The files the model card names by CID (besides the model itself)."""


@dataclass(frozen=True)
class Deliverables:
    """What :func:`publish_deliverables` stored.

    Attributes
    ----------
    card : dict
        The model card.
    card_cid : str
        Its CID in the content store.
    artifacts : dict of str to str
        ``file name -> CID`` of each of :data:`ARTIFACT_FILES`.
    """

    card: dict[str, Any]
    card_cid: Cid
    artifacts: dict[str, Cid]


def publish_deliverables(
    world: World, task_id: int, spec: TaskSpec, reports: list[RoundReport], out: Path
) -> Deliverables:
    """Write the model files, training log, loss curve and report; store them and the card.

    Parameters
    ----------
    world : World
        The parties (the chain names the final model) and the content store.
    task_id : int
        The completed task.
    spec : TaskSpec
        Its specification.
    reports : list of RoundReport
        The coordinator's report of every round.
    out : Path
        Output folder.
    """
    (completed,) = world.fed_task().events(TaskCompletedEvent, task_id=task_id)
    model_cid, model_hash = completed.final_model_cid, "0x" + completed.final_model_hash.hex()
    (out / "model.safetensors").write_bytes(world.store.get(model_cid))
    _write_model_config(spec, task_id, model_cid, model_hash, out)
    _write_reports(world, spec, reports, task_id, model_cid, out)
    artifacts = {name: world.store.put((out / name).read_bytes()) for name in ARTIFACT_FILES}
    card = model_card(
        spec,
        reports,
        task_id=task_id,
        model_cid=model_cid,
        model_hash=model_hash,
        artifacts=artifacts,
    )
    return Deliverables(card=card, card_cid=world.store.put_json(card), artifacts=artifacts)


def _write_model_config(
    spec: TaskSpec, task_id: int, model_cid: str, model_hash: str, out: Path
) -> None:
    dump_json(
        {
            "task_id": task_id,
            "model_cid": model_cid,
            "model_hash": model_hash,
            "model": spec.model.to_dict(),
            "feature_names": list(spec.feature_names),
            "train": spec.train.to_dict(),
            "strategy": spec.strategy,
            "rounds": spec.rounds,
            "output": MODEL_OUTPUT,
        },
        out / "model_config.json",
    )


def _write_reports(
    world: World,
    spec: TaskSpec,
    reports: list[RoundReport],
    task_id: int,
    model_cid: str,
    out: Path,
) -> None:
    rows = training_log(reports, world.names)
    write_training_log(rows, out / "training_log.csv")
    comm = communication_stats(rows)
    dump_json(comm, out / "communication.json")
    plot_loss_curve(reports, rows, out / "loss_curve.png", f"{spec.name} (task {task_id})")
    final = decode_model(world.store.get(model_cid)).module
    attacks = report_attacks(final, world.split.test) if isinstance(final, FedModel) else []
    report = evaluation_report(
        spec,
        reports,
        comm,
        task_id=task_id,
        model_cid=model_cid,
        names=world.names,
        adversarial=attacks,
    )
    (out / "evaluation_report.md").write_text(report, encoding="utf-8")


__all__ = ["ARTIFACT_FILES", "Deliverables", "publish_deliverables"]
