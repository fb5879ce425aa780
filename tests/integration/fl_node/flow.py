"""A horizontal task on the in-process chain, ready to run: the world, the task, the nodes.

The coordinator moves the chain's clock from deadline to deadline (the only party that does) and
hands over to the hospitals at each :class:`~fl_node.coordinator.Phase`; a test adds its own
actions at the phases it cares about with :func:`hook`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from fedmarket.demo import TOKEN, World, build_world, design_task, make_participants, sponsor_task
from fedmarket.demo.world import DEMO_TERMS, make_coordinator
from fl_node.coordinator import Coordinator, Phase
from fl_node.participant import ParticipantNode
from fl_node.sponsor import TaskTerms
from fl_node.task import TaskSpec

POOL = 300 * TOKEN
STAKE = DEMO_TERMS.participant_stake


@dataclass
class Flow:
    """A task with its world, its participants and its coordinator."""

    world: World
    task_id: int
    spec: TaskSpec
    nodes: list[ParticipantNode]
    coordinator: Coordinator

    @property
    def ft(self):  # noqa: ANN201 - a read-only FedTask client
        return self.world.fed_task()

    def run(self, *, extra: Callable[[int, Phase], None] | None = None, settle: bool = True):
        """Run every round, stepping the nodes at each phase, then ``extra``."""
        return self.coordinator.run(between=hook(self.nodes, self.task_id, extra), settle=settle)


def hook(
    nodes: list[ParticipantNode], task_id: int, extra: Callable[[int, Phase], None] | None = None
) -> Callable[[int, Phase], None]:
    """Step every node at each phase, then call ``extra``."""

    def step(round_: int, phase: Phase) -> None:
        for node in nodes:
            node.step(task_id)
        if extra is not None:
            extra(round_, phase)

    return step


def start(
    tmp_path: Path,
    *,
    rounds: int = 2,
    terms: TaskTerms = DEMO_TERMS,
    batched: bool = True,
    nodes: Callable[[World, int], list[ParticipantNode]] | None = None,
    coordinator: type[Coordinator] | None = None,
    spec_changes: dict[str, object] | None = None,
) -> Flow:
    """A world, a task with ``terms``, its four hospitals joined and its coordinator attached."""
    world = build_world(tmp_path / "store")
    world.mint(world.sponsor, POOL)
    stats = [h.stats() for h in world.split.hospitals]
    spec = design_task(stats, world.split.feature_names, rounds=rounds)
    if spec_changes:
        spec = replace(spec, **spec_changes)
    task_id = sponsor_task(world, spec, pool=POOL, max_participants=4, terms=terms)
    joined = nodes(world, task_id) if nodes else make_participants(world, task_id, batched=batched)
    if coordinator is None:
        coord = make_coordinator(world, task_id, batched=batched)
    else:
        coord = coordinator(
            signer=world.coordinator,
            fed_task=world.fed_task(),
            store=world.store,
            validation=world.split.validation,
            test=world.split.test,
            mailbox=world.mailbox if batched else None,
            travel=True,
        )
        coord.attach(task_id)
    return Flow(world, task_id, spec, joined, coord)


def swap(index: int, kind: type[ParticipantNode], **attrs: object):  # noqa: ANN201
    """A ``nodes`` factory for :func:`start`: hospital ``index`` runs ``kind`` instead.

    ``victim=i`` in ``attrs`` gives the node hospital ``i``'s node; other attributes are set as
    given.
    """

    def nodes(world: World, task_id: int) -> list[ParticipantNode]:
        made = make_participants(world, task_id, join=False, batched=world.mailbox is not None)
        old = made[index]
        made[index] = kind(
            signer=old.signer,
            fed_task=world.fed_task(),
            store=world.store,
            data=old.data,
            mailbox=old.mailbox,
            court=old.court,
        )
        for name, value in attrs.items():
            setattr(made[index], name, made[value] if name == "victim" else value)  # type: ignore[index]
        for node in made:
            node.join(task_id)
        return made

    return nodes


def direct_terms(**changes: object) -> TaskTerms:
    """The demo's terms with ``changes``."""
    return replace(DEMO_TERMS, **changes)  # type: ignore[arg-type]
