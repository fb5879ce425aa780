"""Progress events: what a long run reports while it works, as typed records, to one sink.

A runner (the horizontal demo, the vertical runner, a coordinator loop) takes an
:data:`EventSink` and calls it with an :class:`Event` at each step; the command line renders
them, tests collect them, and the default sink logs them at DEBUG. Events carry figures and
identifiers only, never keys or raw rows.

Each runner declares the events of its own steps as frozen dataclasses deriving from
:class:`Event`; the ones every task shares are here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Event:
    """Base of every progress event."""


EventSink = Callable[[Event], None]
"""Receives each event as it happens; must return quickly and never raise."""


def log_sink(event: Event) -> None:
    """The default sink: log ``event`` at DEBUG.

    Parameters
    ----------
    event : Event
        What happened.
    """
    log.debug("event: %s", event)


@dataclass(frozen=True)
class ChainReady(Event):
    """The contracts are deployed or attached and every party has its key."""

    backend: str
    fed_task: str


@dataclass(frozen=True)
class TaskCreated(Event):
    """A sponsor escrowed the pool of a new task."""

    task_id: int
    pool_wei: int
    rounds: int


@dataclass(frozen=True)
class RewardsPaid(Event):
    """The participants claimed what the contract owed them."""

    task_id: int
    paid_wei: dict[str, int]
    remainder_wei: int


@dataclass(frozen=True)
class Audited(Event):
    """A task was recomputed from the chain and the content store."""

    task_id: int
    ok: bool
    checks: int


@dataclass(frozen=True)
class Finished(Event):
    """A run wrote its summary and deliverables."""

    summary_path: str
    seconds: float


__all__ = [
    "Audited",
    "ChainReady",
    "Event",
    "EventSink",
    "Finished",
    "RewardsPaid",
    "TaskCreated",
    "log_sink",
]
