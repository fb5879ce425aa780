"""The walking skeleton's story, end to end, on the embedded default (protocol v2).

``fedmarket demo --out DIR`` (or ``scripts/demo``) runs it: four hospitals list their datasets
through the marketplace API (a real uvicorn server; each listing signed by the hospital and
recorded on-chain for its address), a sponsor designs a task from the listings' statistics and
escrows a reward pool with a schedule of deadlines, a quorum and stakes; the hospitals join with
their stakes and train ten rounds of FedAvg, each round committing to their updates through the
coordinator's batch (one signed message each, one transaction per round) and revealing the bytes
only after the commit phase; the coordinator scores them by GTG-Shapley and pays each round a
budget that follows the global model's measured improvement (what a round does not earn goes back
to the sponsor), through a rewards Merkle tree; the hospitals claim by proof after each challenge
window and take their stakes back after the cooldown; the final model is published and listed on
ModelMarket with the contributors' shares, a buyer buys it and the contributors claim their part of
the payment; the task is audited from the chain, the store, the mailbox and the coordinator's
validation set (every published utility re-measured), its verdict recorded in the summary, and
:func:`run_demo` raises :class:`~fl_node.audit.AuditFailedError` (``fedmarket demo`` exits 6 with
one line) when a check fails. The coordinator crosses the deadlines by travelling in time on the
in-process chain.

Layout: ``world`` (the parties, provisioned with keys derived from the seed, and the steps each
takes), ``task`` (the breast-cancer task: listings and spec), ``events`` (the demo's own
progress events), ``deliverables`` (model files, reports, model card), ``sale`` (ModelMarket),
``summary`` (``summary.json``) and ``run`` (:func:`run_demo`, the story step by step). The
tests build the same world to drive a task step by step.

Public surface (imported lazily, so the command line can render the demo's events without
loading PyTorch)::

    run_demo(out, *, rounds, pool_tokens, seed, on_event) -> summary dict
    World, build_world, sponsor_task, make_participants, make_coordinator, step_all, TOKEN
    DEMO_SCHEDULE, DEMO_TERMS                                   # the task's deadlines and terms
    design_task, dataset_metadata, ACCEPTANCE                  # the breast-cancer task
    ApiStarted, DatasetListed, RoundFinished, StakesReturned,  # the demo's own events
    ModelListed, ModelSold
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fedmarket.demo.events import (
        ApiStarted,
        DatasetListed,
        ModelListed,
        ModelSold,
        RoundFinished,
        StakesReturned,
    )
    from fedmarket.demo.run import run_demo
    from fedmarket.demo.task import ACCEPTANCE, dataset_metadata, design_task
    from fedmarket.demo.world import (
        DEMO_SCHEDULE,
        DEMO_TERMS,
        TOKEN,
        World,
        build_world,
        make_coordinator,
        make_participants,
        sponsor_task,
        step_all,
    )

_EXPORTS = {
    "ApiStarted": "fedmarket.demo.events",
    "DatasetListed": "fedmarket.demo.events",
    "ModelListed": "fedmarket.demo.events",
    "ModelSold": "fedmarket.demo.events",
    "RoundFinished": "fedmarket.demo.events",
    "StakesReturned": "fedmarket.demo.events",
    "run_demo": "fedmarket.demo.run",
    "ACCEPTANCE": "fedmarket.demo.task",
    "dataset_metadata": "fedmarket.demo.task",
    "design_task": "fedmarket.demo.task",
    "DEMO_SCHEDULE": "fedmarket.demo.world",
    "DEMO_TERMS": "fedmarket.demo.world",
    "TOKEN": "fedmarket.demo.world",
    "World": "fedmarket.demo.world",
    "build_world": "fedmarket.demo.world",
    "make_coordinator": "fedmarket.demo.world",
    "make_participants": "fedmarket.demo.world",
    "sponsor_task": "fedmarket.demo.world",
    "step_all": "fedmarket.demo.world",
}

__all__ = [
    "ACCEPTANCE",
    "DEMO_SCHEDULE",
    "DEMO_TERMS",
    "TOKEN",
    "ApiStarted",
    "DatasetListed",
    "ModelListed",
    "ModelSold",
    "RoundFinished",
    "StakesReturned",
    "World",
    "build_world",
    "dataset_metadata",
    "design_task",
    "make_coordinator",
    "make_participants",
    "run_demo",
    "sponsor_task",
    "step_all",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'fedmarket.demo' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
