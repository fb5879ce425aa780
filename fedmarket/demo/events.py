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
    """The coordinator finalised round ``round``: its budget is claimable after the window."""

    round: int
    accuracy: float
    f1: float
    rejected: int
    paid_wei: int
    gas_used: int


@dataclass(frozen=True)
class StakesReturned(Event):
    """The task ended and its cooldown passed: every party took its stake back."""

    task_id: int
    returned_wei: dict[str, int]


@dataclass(frozen=True)
class ModelListed(Event):
    """The sponsor listed the final model on ModelMarket as model ``model_id``."""

    model_id: int
    card_cid: str
    price_wei: int


@dataclass(frozen=True)
class ModelSold(Event):
    """A buyer bought the model; the contributors claimed their shares of the proceeds."""

    model_id: int
    price_wei: int
    contributors_wei: int
    claimed_wei: dict[str, int]


__all__ = [
    "ApiStarted",
    "DatasetListed",
    "ModelListed",
    "ModelSold",
    "RoundFinished",
    "StakesReturned",
]
