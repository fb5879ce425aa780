"""What a vertical run reports while it works: typed events, one per step.

:func:`~fl_node.vertical.runner.run_vfl` calls its :data:`~fl_node.events.EventSink` with
these and with the events every task shares (:class:`~fl_node.events.ChainReady`,
:class:`~fl_node.events.TaskCreated`, :class:`~fl_node.events.RewardsPaid`,
:class:`~fl_node.events.Finished`). They carry figures and names only, never rows or keys.
"""

from __future__ import annotations

from dataclasses import dataclass

from fl_node.events import Event


@dataclass(frozen=True)
class PartiesStarted(Event):
    """Guest, host and arbiter run as processes and are connected to each other."""

    roles: tuple[str, ...]
    transport: str


@dataclass(frozen=True)
class PsiDone(Event):
    """The guest and the host found their shared customers."""

    method: str
    intersection_size: int
    seconds: float


@dataclass(frozen=True)
class SplitDone(Event):
    """The guest split the aligned rows (sizes of each part)."""

    aligned: int
    train: int
    validation: int
    test: int


@dataclass(frozen=True)
class TrainingStarted(Event):
    """A training session starts (``max_batches`` 0: no batch limit)."""

    model: str
    cipher: str
    max_epochs: int
    max_batches: int = 0


@dataclass(frozen=True)
class TrainingFinished(Event):
    """A training session ended; the AUCs are set where the model was scored."""

    model: str
    epochs: int
    seconds: float
    losses: tuple[float, ...] = ()
    test_auc: float | None = None
    validation_auc: float | None = None


@dataclass(frozen=True)
class BaselineDone(Event):
    """The centralised logistic regression on the joined data, on the anchored split."""

    auc: float
    ks: float


@dataclass(frozen=True)
class PheCompared(Event):
    """The same protocol timed with python-paillier (``ratio`` = ours / phe)."""

    seconds_per_epoch: float
    ratio: float


@dataclass(frozen=True)
class DeadlineReached(Event):
    """The task's clock reached one of its deadlines, travelling there or waiting for it."""

    deadline: str
    timestamp: int
    mode: str
    waited_seconds: float


__all__ = [
    "BaselineDone",
    "DeadlineReached",
    "PartiesStarted",
    "PheCompared",
    "PsiDone",
    "SplitDone",
    "TrainingFinished",
    "TrainingStarted",
]
