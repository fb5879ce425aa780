"""A two-hospital breast-cancer task for the fedquick app: world, task, joined participants."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from chain import ChainBackend
from fedmarket.demo import TOKEN, World, build_world, make_participants, sponsor_task
from fedmarket.demo.world import DEMO_TERMS
from fl_node.participant import ParticipantNode

POOL = 100 * TOKEN
TERMS = replace(DEMO_TERMS, quorum=1)
"""One accepted update pays a round (the attack test leaves one honest hospital)."""


@dataclass
class FlowerTask:
    """The world, the task and its joined participants (who claim their rewards)."""

    world: World
    task_id: int
    nodes: list[ParticipantNode]


def make_task(store_dir: Path, *, rounds: int, backend: ChainBackend | None = None) -> FlowerTask:
    """Deploy, sponsor fedquick's task and join both hospitals with their stakes."""
    from fedquick.task import N_HOSPITALS, SEED, task_spec

    world = build_world(store_dir, backend=backend, n_hospitals=N_HOSPITALS, seed=SEED)
    world.mint(world.sponsor, POOL)
    task_id = sponsor_task(
        world, task_spec(rounds), pool=POOL, max_participants=N_HOSPITALS, terms=TERMS
    )
    nodes = make_participants(world, task_id, batched=True)
    return FlowerTask(world, task_id, nodes)


def claim_all(task: FlowerTask) -> list[int]:
    """Each hospital claims what it is due; the tokens each one received."""
    token = task.world.token()
    before = [token.balance_of(n.address) for n in task.nodes]
    for node in task.nodes:
        node.claim_due(task.task_id, force=True)
    return [token.balance_of(n.address) - b for n, b in zip(task.nodes, before, strict=True)]
