"""Differential privacy for horizontal tasks: settings, mechanisms and accounting.

- :mod:`~fl_node.dp.config`: :class:`DPConfig` (mode ``dp-fedavg`` or ``dp-sgd``, clip norm,
  noise multiplier, delta, accountant), with the guarantee each mode gives;
- :mod:`~fl_node.dp.mechanism`: client-side clipping and Gaussian noise of a round update, and
  the statistical check of an update's noise level;
- :mod:`~fl_node.dp.dpsgd`: DP-SGD in local training through Opacus;
- :mod:`~fl_node.dp.accountant`: epsilon from Opacus' RDP or PRV accountant, the noise multiplier
  for a target epsilon, a task's budget;
- :mod:`~fl_node.dp.rdp`: our own RDP of the subsampled Gaussian mechanism (pure maths), held to
  Opacus' reference by the tests; imported on its own (it loads SciPy).
"""

from fl_node.dp.accountant import (
    PrivacySpent,
    calibrate,
    collusion_budget,
    epsilon,
    noise_for_epsilon,
    task_budget,
)
from fl_node.dp.config import ACCOUNTANTS, DISTRIBUTED_MODE, DP_MODES, SECAGG_RANGE_Z, DPConfig
from fl_node.dp.errors import DPError, PrivacyBudgetError
from fl_node.dp.mechanism import (
    NoiseCheck,
    check_noise,
    clip_update,
    distributed_noise_std,
    privatize_update,
    secure_generator,
    update_norm,
)

__all__ = [
    "ACCOUNTANTS",
    "DISTRIBUTED_MODE",
    "DP_MODES",
    "DPConfig",
    "DPError",
    "NoiseCheck",
    "PrivacyBudgetError",
    "PrivacySpent",
    "SECAGG_RANGE_Z",
    "calibrate",
    "check_noise",
    "clip_update",
    "collusion_budget",
    "distributed_noise_std",
    "epsilon",
    "noise_for_epsilon",
    "privatize_update",
    "secure_generator",
    "task_budget",
    "update_norm",
]
