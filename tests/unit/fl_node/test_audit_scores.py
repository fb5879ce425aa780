"""The audit's score recomputation replays every estimator from a round's published record.

Each estimator of the registry scores a small game with a seed; the audit, given only the record
(method, parameters, seed, utilities), recomputes the very scores, bit for bit. A record that
lacks a coalition the replay asks for, an unknown method, or bad parameters give ``None``.
"""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from fl_node.audit._scores import estimator_problems, recompute_scores
from fl_node.evidence import ContributionRecord
from fl_node.models import ModelSpec
from fl_node.task import TaskSpec
from fl_node.training import TrainConfig
from incentives.contribution import ESTIMATORS, Coalition, make_estimator

WEIGHTS = (0.30, 0.10, 0.25, 0.0, 0.05, 0.20)
"""A game of six players with diminishing returns (one null player)."""


def utility(coalition: Coalition) -> float:
    return math.sqrt(sum(WEIGHTS[i] for i in coalition)) - 0.01 * len(coalition) ** 0.5


def record_of(method: str, seed: int, **params: float) -> ContributionRecord:
    result = make_estimator(method, **params).estimate(len(WEIGHTS), utility, seed=seed)
    return ContributionRecord(
        method=result.method,
        utility="a test game",
        validation_rows=1,
        validation_data_hash="0x" + "00" * 32,
        utilities=dict(result.utilities),
        scores=tuple(result.scores),
        seed=result.seed,
        params=dict(result.params),
    )


@pytest.mark.parametrize("method", sorted(ESTIMATORS))
@pytest.mark.parametrize("seed", [0, 7, 2**40 + 3])
def test_every_estimator_replays_bit_for_bit_from_its_record(method, seed):
    record = record_of(method, seed)
    assert recompute_scores(record, len(WEIGHTS)) == list(record.scores)


@pytest.mark.parametrize("method", sorted(ESTIMATORS))
def test_a_record_missing_a_coalition_cannot_be_replayed(method):
    record = record_of(method, 3)
    utilities = dict(record.utilities)
    del utilities[max(utilities, key=len)]  # drop the grand coalition (every method asks it)
    assert recompute_scores(_with(record, utilities=utilities), len(WEIGHTS)) is None


def test_an_unknown_method_or_bad_parameters_cannot_be_replayed():
    record = record_of("leave-one-out", 0)
    assert recompute_scores(_with(record, method="shapley-oracle"), len(WEIGHTS)) is None
    assert recompute_scores(_with(record, params={"nonsense": 1.0}), len(WEIGHTS)) is None


def test_a_sampled_estimator_under_another_seed_gives_other_scores():
    record = record_of("shapley-tmc", 11)
    other = recompute_scores(_with(record, seed=12), len(WEIGHTS))
    assert other != list(record.scores)  # the seed is part of what the record commits to


def test_no_accepted_update_scores_nothing():
    assert recompute_scores(record_of("shapley-exact", 0), 0) == []


def _spec(contribution: str) -> TaskSpec:
    model = ModelSpec(n_features=2, feature_mean=(0.0, 0.0), feature_std=(1.0, 1.0))
    return TaskSpec(
        name="t",
        model=model,
        train=TrainConfig(),
        rounds=3,
        feature_names=("a", "b"),
        contribution=contribution,
    )


def test_the_estimator_and_its_parameters_must_be_the_specs():
    spec = _spec("shapley-exact")
    assert estimator_problems(record_of("shapley-exact", 0), spec) == []
    other = estimator_problems(record_of("leave-one-out", 0), spec)
    assert other == ["the spec names shapley-exact, not leave-one-out"]
    loose = estimator_problems(_with(record_of("shapley-exact", 0), params={"eps": 0.5}), spec)
    assert len(loose) == 1 and "are not the spec's" in loose[0]


def _with(record: ContributionRecord, **changes: object) -> ContributionRecord:
    return replace(record, **changes)  # type: ignore[arg-type]
