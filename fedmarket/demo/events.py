"""The demo's own progress events (the ones every task shares are in :mod:`fl_node.events`).

Like every event they carry figures and identifiers only; ``fedmarket demo`` renders them as
they arrive and tests collect them.
"""

from __future__ import annotations

from dataclasses import dataclass

from fl_node.events import Event


@dataclass(frozen=True)
class ApiStarted(Event):
    """The marketplace API (a real uvicorn server) accepts connections at ``url``."""

    url: str


@dataclass(frozen=True)
class DatasetListed(Event):
    """A hospital's signed listing was relayed on-chain as dataset ``dataset_id``."""

    name: str
    dataset_id: int
    rows: int


@dataclass(frozen=True)
class RoundFinished(Event):
    """The coordinator finalised round ``round`` and the contract paid it."""

    round: int
    accuracy: float
    f1: float
    rejected: int
    paid_wei: int


@dataclass(frozen=True)
class ModelListed(Event):
    """The final model's card was listed in the marketplace as model ``model_id``."""

    model_id: int
    card_cid: str


__all__ = ["ApiStarted", "DatasetListed", "ModelListed", "RoundFinished"]
