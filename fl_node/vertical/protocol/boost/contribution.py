"""Training on a coalition of feature groups, for Shapley values per party.

The guest (labels) is in every coalition; any subset of hosts joins it. The value of a
coalition is the validation AUC of the twin trained on the guest's and the members' features
(the federated run equals the twin, so the twin is what a coalition would have trained).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from fl_node.evaluation import roc_auc
from fl_node.vertical.protocol.boost._errors import BoostConfigError
from fl_node.vertical.protocol.boost.config import BoostConfig, FloatArray
from fl_node.vertical.protocol.boost.twin import TwinFit, fit_twin, predict_twin


def _members(n_parties: int, hosts: Collection[int]) -> list[int]:
    chosen = sorted(set(hosts))
    if any(not 1 <= k < n_parties for k in chosen):
        raise BoostConfigError(f"hosts must be in 1..{n_parties - 1}, got {chosen}")
    return [0, *chosen]


def fit_coalition(
    parts: Sequence[FloatArray], y: FloatArray, hosts: Collection[int], config: BoostConfig
) -> TwinFit:
    """The twin trained on the guest's features and those of ``hosts`` only.

    Parameters
    ----------
    parts : sequence of ndarray
        Every party's training features (guest first).
    y : ndarray
        Labels.
    hosts : collection of int
        Host numbers (1-based) in the coalition.
    config : BoostConfig
        Hyper-parameters.
    """
    return fit_twin([parts[k] for k in _members(len(parts), hosts)], y, config)


def coalition_value(
    parts: Sequence[FloatArray],
    y: FloatArray,
    valid_parts: Sequence[FloatArray],
    y_valid: FloatArray,
    hosts: Collection[int],
    config: BoostConfig,
) -> float:
    """Validation AUC of the coalition ``{guest} + hosts``.

    Parameters
    ----------
    parts, valid_parts : sequence of ndarray
        Every party's training and validation features (guest first).
    y, y_valid : ndarray
        Training and validation labels.
    hosts : collection of int
        Host numbers (1-based) in the coalition.
    config : BoostConfig
        Hyper-parameters.
    """
    members = _members(len(parts), hosts)
    fit = fit_twin([parts[k] for k in members], y, config)
    return roc_auc(y_valid, predict_twin(fit.model, [valid_parts[k] for k in members]))
