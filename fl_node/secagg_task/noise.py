"""Distributed DP in a secagg task: each member adds its share of the noise inside the sum.

In a task with ``dp`` mode dp-fedavg and ``aggregation: "secagg"``
(:attr:`~fl_node.task.TaskSpec.distributed_dp`) local training adds no noise
(:func:`train_config`); the member clips its update to ``C`` and adds
``N(0, (sigma C)^2 / t)`` per coordinate, ``t`` its group's threshold (the fewest survivors a
completed group sum can have, :meth:`~fl_node.secagg.SecAggParams.threshold`), then encodes it
with the weight of ``max_samples`` samples whatever its real count (:func:`encode_member`). Every
member then weighs the same inside the sum, so one member's data moves a group sum by at most
``C`` (a sample-weighted sum would let it move by ``C`` times its weight over the others'), and a
completed sum of ``s >= t`` survivors carries noise of standard deviation
``sigma C sqrt(s / t) >= sigma C``. The round's update is the plain mean of the survivors' noisy
clipped updates. The encoding's range must hold the noise (checked by the spec,
:data:`~fl_node.dp.SECAGG_RANGE_Z`), so the clipping to it is (but with negligible probability)
the identity.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch
from numpy.typing import ArrayLike, NDArray

from fl_node.dp import DPConfig, privatize_update
from fl_node.secagg import SecAggParams
from fl_node.secagg_task.encoding import member_values
from fl_node.task import TaskSpec
from fl_node.training import TrainConfig


def member_dp(spec: TaskSpec) -> DPConfig | None:
    """The DP settings a member applies inside the sum (``None`` unless distributed DP)."""
    return spec.dp if spec.distributed_dp else None


def train_config(spec: TaskSpec, config: TrainConfig) -> TrainConfig:
    """``config`` without dp-fedavg's local noise when the task's noise is distributed."""
    return replace(config, dp=None) if spec.distributed_dp else config


def encode_member(
    delta: ArrayLike,
    samples: int,
    params: SecAggParams,
    *,
    dp: DPConfig | None = None,
    threshold: int = 1,
    generator: torch.Generator | None = None,
) -> NDArray[np.float64]:
    """The values a member sends: :func:`member_values`, after its share of the noise under DP.

    Parameters
    ----------
    delta : array_like
        The member's flattened update (unclipped, unnoised under distributed DP).
    samples : int
        Its sample count (weighs the update without DP; replaced by ``max_samples`` with DP).
    params : SecAggParams
        The task's SecAgg settings.
    dp : DPConfig or None, default None
        :func:`member_dp` of the task.
    threshold : int, default 1
        The member's group threshold (the noise is split ``threshold`` ways).
    generator : torch.Generator or None, default None
        The noise source; ``None`` draws a secret one (tests pass a seeded one).
    """
    if dp is None:
        return member_values(delta, samples, params)
    flat = torch.from_numpy(np.asarray(delta, dtype=np.float64).ravel().copy())
    noisy = privatize_update({"delta": flat}, dp, generator, parts=threshold)["delta"]
    return member_values(noisy.numpy(), params.max_samples, params)


__all__ = ["encode_member", "member_dp", "train_config"]
