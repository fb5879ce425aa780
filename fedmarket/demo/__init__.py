"""The walking skeleton's story, end to end, on the embedded default.

``fedmarket demo --out DIR`` (or ``scripts/demo``) runs it: four hospitals list their datasets
through the marketplace API (a real uvicorn server; each listing signed by the hospital and
recorded on-chain for its address), a sponsor designs a task from the listings' statistics and
escrows a reward pool, four participant nodes train ten rounds of FedAvg with every update
anchored, the coordinator pays each round by leave-one-out contribution, the participants claim
their rewards, the final model is published and listed in the marketplace, and the task is
audited from the chain and the store.

Layout: ``world`` (the parties, provisioned with keys derived from the seed, and the steps each
takes), ``task`` (the breast-cancer task: listings and spec), ``events`` (the demo's own
progress events), ``deliverables`` (model files, reports, model card), ``summary``
(``summary.json``) and ``run`` (:func:`run_demo`, the story step by step). The tests build the
same world to drive a task step by step.

Public surface (imported lazily, so the command line can render the demo's events without
loading PyTorch)::

    run_demo(out, *, rounds, pool_tokens, seed, on_event) -> summary dict
    World, build_world, sponsor_task, make_participants, make_coordinator, TOKEN
    design_task, dataset_metadata, ACCEPTANCE                  # the breast-cancer task
    ApiStarted, DatasetListed, RoundFinished, ModelListed      # the demo's own events
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fedmarket.demo.events import ApiStarted, DatasetListed, ModelListed, RoundFinished
    from fedmarket.demo.run import run_demo
    from fedmarket.demo.task import ACCEPTANCE, dataset_metadata, design_task
    from fedmarket.demo.world import (
        TOKEN,
        World,
        build_world,
        make_coordinator,
        make_participants,
        sponsor_task,
    )

_EXPORTS = {
    "ApiStarted": "fedmarket.demo.events",
    "DatasetListed": "fedmarket.demo.events",
    "ModelListed": "fedmarket.demo.events",
    "RoundFinished": "fedmarket.demo.events",
    "run_demo": "fedmarket.demo.run",
    "ACCEPTANCE": "fedmarket.demo.task",
    "dataset_metadata": "fedmarket.demo.task",
    "design_task": "fedmarket.demo.task",
    "TOKEN": "fedmarket.demo.world",
    "World": "fedmarket.demo.world",
    "build_world": "fedmarket.demo.world",
    "make_coordinator": "fedmarket.demo.world",
    "make_participants": "fedmarket.demo.world",
    "sponsor_task": "fedmarket.demo.world",
}

__all__ = [
    "ACCEPTANCE",
    "TOKEN",
    "ApiStarted",
    "DatasetListed",
    "ModelListed",
    "RoundFinished",
    "World",
    "build_world",
    "dataset_metadata",
    "design_task",
    "make_coordinator",
    "make_participants",
    "run_demo",
    "sponsor_task",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'fedmarket.demo' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
