"""A SecAgg task run in-process with real training: it completes, aggregates right and pays.

Eight hospitals in groups of at least three, two rounds, Shapley over groups. The coordinator's
next model is the plain FedAvg of the same (clipped) updates within the fixed-point bound; in
the round where one member drops after sharing, its group still completes and it earns nothing
while its group's survivors are paid.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from fedmarket.demo import design_task
from fl_node.data.hospitals import breast_cancer_hospitals
from fl_node.models import trainable_state
from fl_node.secagg import SecAggParams, Stage
from fl_node.secagg_task.runner import Party, SecAggTask, flatten

pytestmark = pytest.mark.slow

POOL = 100 * 10**18


@pytest.fixture(scope="module")
def task() -> SecAggTask:
    split = breast_cancer_hospitals(8, seed=11)
    spec = design_task([h.stats() for h in split.hospitals], split.feature_names, rounds=2)
    spec = replace(
        spec,
        aggregation="secagg",
        secagg=SecAggParams(group_size=3, clip=0.5, max_samples=1000),
        contribution="shapley-exact",
    )
    parties = [Party(f"0x{i + 1:040x}", d) for i, d in enumerate(split.hospitals)]
    return SecAggTask(spec, parties, validation=split.validation, test=split.test, pool=POOL)


def test_a_secagg_task_runs_to_completion_aggregates_like_fedavg_and_pays(task) -> None:  # noqa: ANN001
    before = trainable_state(task.model)
    names = list(before)
    plain = task.member_inputs(1)
    first = task.run_round(1, inputs=plain)
    assert first.secure.samples == sum(m.samples for m in plain.values())
    clip = 0.5
    weighted = sum(np.clip(m.delta, -clip, clip) * m.samples for m in plain.values())
    reference = weighted / first.secure.samples  # FedAvg, server_lr 1, of the clipped updates
    step = flatten(trainable_state(task.model), names) - flatten(before, names)
    bound = sum(g.decoded.bound for g in first.secure.groups if g.decoded) / first.secure.samples
    assert np.abs(step - reference).max() <= bound + 1e-6  # + float32 storage of the model
    assert first.paid > 0 and all(a > 0 for a in first.amounts)
    assert len(first.group_scores) == len(first.secure.groups) == 2

    victim = first.secure.groups[0].members[0]
    second = task.run_round(2, {victim: Stage.SHARE})
    index = [p.address for p in task.parties].index(victim)
    assert second.amounts[index] == 0 and second.contributions[index] == 0.0
    group = next(g for g in second.secure.groups if victim in g.members)
    assert group.decoded is not None and victim not in group.survivors
    assert all(second.amounts[[p.address for p in task.parties].index(m)] > 0
               for m in group.survivors) or second.group_scores[group.group] <= 0  # fmt: skip
    assert task.escrow == POOL - first.paid - second.paid >= 0
    assert second.test_loss < first.test_loss + 0.05
