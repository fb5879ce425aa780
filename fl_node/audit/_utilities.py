"""Re-measuring the published coalition utilities and validation metrics, given the validation set.

The coordinator's validation set is private, so by default the audit only checks that the scores
follow from the published utilities. An auditor given the same rows (the sponsor that supplied
them, a court validator trusted with them) re-measures every published utility the way the
coordinator must have: the strategy's aggregate of the coalition's accepted updates from the
round's base model and server state, loaded into the task's freshly built model, scored on the
validation set (:data:`fl_node.coordinator.UTILITY_DESCRIPTION`). A coordinator that publishes
utilities other than what the coalitions' aggregates measure, or validation metrics other than
the published model's, then fails the ``utilities`` check.
"""

from __future__ import annotations

import math

from fl_node.audit._checks import accepted_updates
from fl_node.audit._records import RoundInputs
from fl_node.coordinator import coalition_utility, utility_description
from fl_node.data import LocalDataset
from fl_node.evaluation import task_metrics
from fl_node.models import build_model, trainable_state
from fl_node.objectives import predict
from fl_node.strategies import ServerState
from incentives.contribution import Utility, make_estimator
from storage import content_hash

UTILITY_TOLERANCE = 1e-6
"""Largest relative difference allowed between a re-measured and a published utility."""


def dataset_hash(data: LocalDataset) -> str:
    """The 0x-hex hash the evidence names a validation set by (its features' then targets' bytes).

    Parameters
    ----------
    data : LocalDataset
        The validation set.
    """
    return "0x" + content_hash(data.x.tobytes() + data.y.tobytes()).hex()


def _same(published: float, measured: float) -> bool:
    """Equal within :data:`UTILITY_TOLERANCE` (two NaNs, an undefined metric, are equal)."""
    if math.isnan(published) or math.isnan(measured):
        return math.isnan(published) and math.isnan(measured)
    return math.isclose(published, measured, rel_tol=UTILITY_TOLERANCE, abs_tol=1e-12)


def _coalition(key: str, n: int) -> frozenset[int] | None:
    """The accepted-update indices a coalition key names, or ``None`` when it names others."""
    try:
        members = frozenset(int(i) for i in key.split(",")) if key else frozenset()
    except ValueError:
        return None
    return members if all(0 <= i < n for i in members) else None


def _described(r: RoundInputs, validation: LocalDataset) -> list[str]:
    """What in the evidence's description of the utility differs from what the audit measures."""
    record = r.evidence.contribution
    problems = []
    if record.validation_data_hash != dataset_hash(validation):
        problems.append("the evidence names another validation set than the auditor's")
    if record.validation_rows != validation.rows:
        problems.append(f"{record.validation_rows} rows published, {validation.rows} held")
    if record.utility != utility_description(r.task.spec.model.task):
        problems.append(f"unknown utility {record.utility!r}")
    return problems


def _measurer(r: RoundInputs, validation: LocalDataset, state: ServerState) -> Utility:
    """The coordinator's utility of a coalition of the round's accepted updates, re-measured."""
    spec = r.task.spec
    return coalition_utility(
        spec.model, r.task.strategy, r.params, accepted_updates(r), state, validation
    )


def check_utilities(r: RoundInputs) -> tuple[bool, str]:
    """Every published coalition utility is what its aggregate measures on the validation set."""
    validation = r.task.validation
    if validation is None:
        return True, "no validation set to re-measure on"
    problems = _described(r, validation)
    if problems or r.state_before is None:
        return False, "; ".join(problems or [r.state_problem])
    measure, n = _measurer(r, validation, r.state_before), len(accepted_updates(r))
    wrong = []
    for key, published in sorted(r.evidence.contribution.utilities.items()):
        members = _coalition(key, n)
        if members is None:
            wrong.append(f"{{{key}}} is not a coalition of the accepted updates")
            continue
        measured = measure(members)
        if not _same(published, measured):
            wrong.append(f"{{{key}}} published {published:.6g}, measured {measured:.6g}")
    wrong += _metrics_problems(r, validation)
    count = len(r.evidence.contribution.utilities)
    return not wrong, "; ".join(wrong) or f"{count} coalition utilities re-measured"


def _metrics_problems(r: RoundInputs, validation: LocalDataset) -> list[str]:
    """Whether the published model's validation metrics are what the evidence publishes."""
    model = build_model(r.task.spec.model)
    model.load_state_dict(trainable_state(r.new.module), strict=False)
    measured = task_metrics(model.spec.task, validation.y, predict(model, validation.x)).values()
    published = r.evidence.metrics.validation.values()
    wrong = [
        name for name, value in published.items() if not _same(value, measured.get(name, math.nan))
    ]
    return [f"published validation {', '.join(wrong)} differ from the model's"] if wrong else []


def remeasured_scores(r: RoundInputs) -> list[float] | None:
    """The accepted updates' scores on re-measured utilities, when the published ones are wrong.

    The spec's estimator, with the round's recorded seed, scores the accepted updates on the
    utilities the auditor measures itself. ``None`` when the auditor holds no validation set (or
    not the coordinator's), or when every published utility re-measures as published (the
    published record then stands, so auditors with and without the data correct alike).

    Parameters
    ----------
    r : RoundInputs
        The round.
    """
    validation = r.task.validation
    if validation is None or r.state_before is None or _described(r, validation):
        return None
    if check_utilities(r)[0]:
        return None
    estimator = make_estimator(r.task.spec.contribution)
    measure = _measurer(r, validation, r.state_before)
    seed = r.evidence.contribution.seed
    return list(estimator.estimate(len(accepted_updates(r)), measure, seed=seed).scores)


__all__ = ["UTILITY_TOLERANCE", "check_utilities", "dataset_hash", "remeasured_scores"]
