"""Federated learning: participant nodes, coordinator, strategies, models, data, vertical FL.

Public surface (imported lazily: ``import fl_node.vertical.crypto.psi`` does not pull in PyTorch)::

    ParticipantNode, Coordinator, RoundReport, Phase            # the two roles
    Mailbox, InMemoryMailbox                                    # signed commitments off-chain
    RoundEvidence, UpdateVerdict                                # what a round publishes
    audit_task, AuditReport                                     # recomputing a task
    TaskSpec, ModelSpec, TrainConfig                            # what a task asks for
    FedAvg, FedSGD, Strategy, make_strategy                     # aggregation
    LocalDataset, breast_cancer_hospitals, load_csv, save_csv   # data
    binary_metrics, BinaryMetrics                               # evaluation
    FlError, SpecError, ModelIntegrityError, UpdateRejectedError, DataError, EvidenceError
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fl_node.audit import AuditReport, audit_task
    from fl_node.coordinator import Coordinator, Phase, RoundReport
    from fl_node.data import LocalDataset, breast_cancer_hospitals, load_csv, save_csv
    from fl_node.errors import (
        DataError,
        EvidenceError,
        FlError,
        ModelIntegrityError,
        SpecError,
        UpdateRejectedError,
    )
    from fl_node.evaluation import BinaryMetrics, binary_metrics
    from fl_node.evidence import RoundEvidence, UpdateVerdict
    from fl_node.mailbox import InMemoryMailbox, Mailbox
    from fl_node.models import ModelSpec
    from fl_node.participant import ParticipantNode
    from fl_node.strategies import FedAvg, FedSGD, Strategy, make_strategy
    from fl_node.task import TaskSpec
    from fl_node.training import TrainConfig

_EXPORTS = {
    "AuditReport": "fl_node.audit",
    "audit_task": "fl_node.audit",
    "Coordinator": "fl_node.coordinator",
    "Phase": "fl_node.coordinator",
    "RoundReport": "fl_node.coordinator",
    "InMemoryMailbox": "fl_node.mailbox",
    "Mailbox": "fl_node.mailbox",
    "LocalDataset": "fl_node.data",
    "breast_cancer_hospitals": "fl_node.data",
    "load_csv": "fl_node.data",
    "save_csv": "fl_node.data",
    "DataError": "fl_node.errors",
    "EvidenceError": "fl_node.errors",
    "FlError": "fl_node.errors",
    "ModelIntegrityError": "fl_node.errors",
    "SpecError": "fl_node.errors",
    "UpdateRejectedError": "fl_node.errors",
    "BinaryMetrics": "fl_node.evaluation",
    "binary_metrics": "fl_node.evaluation",
    "RoundEvidence": "fl_node.evidence",
    "UpdateVerdict": "fl_node.evidence",
    "ModelSpec": "fl_node.models",
    "ParticipantNode": "fl_node.participant",
    "FedAvg": "fl_node.strategies",
    "FedSGD": "fl_node.strategies",
    "Strategy": "fl_node.strategies",
    "make_strategy": "fl_node.strategies",
    "TaskSpec": "fl_node.task",
    "TrainConfig": "fl_node.training",
}

__all__ = [
    "AuditReport",
    "BinaryMetrics",
    "Coordinator",
    "DataError",
    "EvidenceError",
    "FedAvg",
    "FedSGD",
    "FlError",
    "InMemoryMailbox",
    "LocalDataset",
    "Mailbox",
    "ModelIntegrityError",
    "ModelSpec",
    "ParticipantNode",
    "Phase",
    "RoundEvidence",
    "RoundReport",
    "SpecError",
    "Strategy",
    "TaskSpec",
    "TrainConfig",
    "UpdateRejectedError",
    "UpdateVerdict",
    "audit_task",
    "binary_metrics",
    "breast_cancer_hospitals",
    "load_csv",
    "make_strategy",
    "save_csv",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'fl_node' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
