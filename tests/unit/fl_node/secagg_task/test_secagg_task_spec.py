"""A task chooses SecAgg in its spec: the choice is in the bytes whose hash goes on-chain.

A spec without it hashes as before the field existed (the hash below is the one the code of
commit 7c82af4, before ``aggregation``, gives for the same spec).
"""

from __future__ import annotations

import json

import pytest

from fl_node.errors import SpecError
from fl_node.models import ModelSpec
from fl_node.secagg import SecAggParams
from fl_node.task import TaskSpec
from fl_node.training import TrainConfig
from storage import content_hash

MODEL = ModelSpec(n_features=2, feature_mean=(0.0, 0.0), feature_std=(1.0, 1.0))
PLAIN_HASH = "0x39f3badc19490d1d7f343f8a6e965290960e21f3d90cc0a411ee6bb8ed40a681"


def spec(**changes: object) -> TaskSpec:
    base: dict[str, object] = {
        "name": "t",
        "model": MODEL,
        "train": TrainConfig(),
        "rounds": 3,
        "feature_names": ("a", "b"),
    }
    return TaskSpec(**(base | changes))  # type: ignore[arg-type]


def spec_hash(s: TaskSpec) -> str:
    return "0x" + bytes(content_hash(s.to_bytes())).hex()


def test_a_spec_without_secagg_keeps_its_bytes_and_hash() -> None:
    assert spec_hash(spec()) == PLAIN_HASH
    assert spec_hash(spec(aggregation="plain")) == PLAIN_HASH
    assert b"secagg" not in spec().to_bytes() and b"aggregation" not in spec().to_bytes()


def test_secagg_is_written_into_the_hashed_bytes_and_round_trips() -> None:
    chosen = spec(aggregation="secagg", secagg=SecAggParams(group_size=5, clip=0.25))
    raw = chosen.to_bytes()
    assert b'"aggregation":"secagg"' in raw and b'"group_size":5' in raw
    assert spec_hash(chosen) != PLAIN_HASH
    again = TaskSpec.from_bytes(raw)
    assert again == chosen and again.secagg == SecAggParams(group_size=5, clip=0.25)
    defaulted = spec(aggregation="secagg")
    assert defaulted.secagg == SecAggParams()  # the defaults, written down
    assert spec_hash(defaulted) != spec_hash(chosen)


@pytest.mark.parametrize(
    "changes",
    [
        {"aggregation": "homomorphic"},
        {"secagg": SecAggParams()},  # parameters without choosing secagg
        {"aggregation": "secagg", "defence": "median"},  # no per-update rule can run
    ],
)
def test_inconsistent_aggregation_choices_are_refused(changes: dict[str, object]) -> None:
    with pytest.raises(SpecError):
        spec(**changes)


@pytest.mark.parametrize(
    "params",
    [
        {"group_size": 2},
        {"dropout_tolerance": 0.5},
        {"clip": 0.0},
        {"max_samples": 0},
        {"group_size": 4, "dropout_tolerance": 0.3, "clip": 1.0, "max_samples": 1, "x": 1},
    ],
)
def test_bad_secagg_parameters_in_stored_bytes_are_refused(params: dict[str, object]) -> None:
    good = spec(aggregation="secagg").to_dict()
    bad = good | {"secagg": good["secagg"] | params}
    with pytest.raises(SpecError):
        TaskSpec.from_bytes(json.dumps(bad).encode())


def test_the_report_and_the_model_card_say_the_task_used_secure_aggregation() -> None:
    from fl_node.reporting.horizontal import _aggregation_section, aggregation_card

    chosen = spec(aggregation="secagg", secagg=SecAggParams(group_size=5))
    card = aggregation_card(chosen)
    assert card["aggregation"]["mode"] == "secagg" and card["aggregation"]["group_size"] == 5
    text = "\n".join(_aggregation_section(chosen))
    assert "## Secure aggregation" in text and "at least 5 participants" in text
    assert aggregation_card(spec()) == {} and _aggregation_section(spec()) == []
