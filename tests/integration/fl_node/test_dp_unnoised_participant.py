"""The coordinator checks every dp-fedavg update's noise: one sent without it is rejected, unpaid.

:func:`fl_node.dp.check_noise` bands ``||u||^2`` at ``d s^2 -/+ z (s^2 sqrt(2d) + 2 s C)`` (plus
``C^2`` above), ``z = 6``: an honest update falls outside with probability at most 3.3e-8 at ``d =
513`` (the chi-square tails of ``||n||^2`` at 6 standard deviations, computed with SciPy; the
cross-term's margin only lowers it). The demo's model has ``d = 513`` parameters; with ``s = 1.2 *
0.05`` the band on the norm is ``[1.06, 1.61]``, where an unnoised update's norm is at most ``C =
0.05``.
The audit recomputes the rejection from the chain and the store.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from chain.fed_task import TaskInfo
from fl_node.audit import audit_task
from fl_node.dp import DPConfig, clip_update
from fl_node.participant import ParticipantNode, PendingUpdate
from fl_node.screening import DP_NOISE_MISSING
from fl_node.training import train_local
from incentives.rewards import RewardPolicy
from tests.integration.fl_node.attackers import rebuilt
from tests.integration.fl_node.flow import start, swap

pytestmark = pytest.mark.slow

DP = DPConfig("dp-fedavg", clip_norm=0.05, noise_multiplier=1.2, delta=1e-5)
PAYS = RewardPolicy(budget="even", floor_bps=5000)
"""Every round pays its limit, half as an equal floor to accepted updates with a positive score
(with the default policy the noisy round often improves nothing, and nobody is paid)."""


class Unnoised(ParticipantNode):
    """Trains and clips as the spec says, but sends its update without the noise."""

    def _train(self, info: TaskInfo) -> PendingUpdate:
        pending = super()._train(info)  # honest bytes, for their metadata
        spec = self.spec(int(info.task_id))
        loaded, _ = self._global_model(info, int(info.last_round))
        config = replace(spec.make_strategy().configure_train(spec.train), dp=None)
        result = train_local(loaded.module, self.data, config, round=int(info.last_round))
        clipped, _ = clip_update(result.delta, DP.clip_norm)
        return rebuilt(pending, clipped, pending.update.samples)


def test_an_update_without_its_noise_is_rejected_unpaid_and_the_audit_agrees(tmp_path) -> None:
    flow = start(
        tmp_path, rounds=1, nodes=swap(0, Unnoised), spec_changes={"dp": DP, "rewards": PAYS}
    )
    [report] = flow.run(settle=False)
    assert flow.spec.screened_dp == DP
    cheat = report.verdicts[0]
    assert (cheat.accepted, cheat.reason) == (False, DP_NOISE_MISSING), cheat
    assert "outside" in cheat.detail
    assert report.rewards.amounts[0] == 0 and report.flagged == ()
    assert all(v.accepted for v in report.verdicts[1:])  # the honest noised updates pass
    paid = [amount > 0 for amount in report.rewards.amounts[1:]]
    assert paid == [score > 0 for score in report.contributions[1:]]  # the floor's rule
    assert report.contributions[0] == 0.0 and report.budget > 0
    audit = audit_task(flow.ft, flow.world.store, flow.task_id)
    assert audit.ok, audit
