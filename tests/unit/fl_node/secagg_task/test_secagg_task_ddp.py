"""Distributed DP under secure aggregation: every completed group sum carries ``sigma C`` of noise.

Each member of a group of threshold ``t`` adds ``N(0, (sigma C)^2 / t)`` per coordinate, so a sum
of ``s`` survivors carries ``sigma C sqrt(s / t)``: ``sigma C`` when as few survive as the group
allows. The statistical tests read the noise of a group sum of zero updates over 6,000
coordinates (independent draws), whose standard deviation estimates ``sigma C sqrt(s / t)`` to
about 0.9 % (``1 / sqrt(2 d)``); they allow 5 % (5.5 standard errors). The plain dp spec's hash
below is what the code of commit 6c32be2, before distributed DP, gives for the same spec.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace

import jsonschema
import numpy as np
import pytest
import torch

from fl_node.dp import DISTRIBUTED_MODE, SECAGG_RANGE_Z, DPConfig, epsilon
from fl_node.errors import SpecError
from fl_node.evidence import SCHEMA_PATH, PrivacyRecord, RoundEvidence
from fl_node.models import ModelSpec
from fl_node.reporting.horizontal import privacy_card
from fl_node.secagg import SecAggParams, Stage
from fl_node.secagg_task.board import MemoryBoard
from fl_node.secagg_task.groups import partition
from fl_node.secagg_task.noise import encode_member, member_dp, train_config
from fl_node.secagg_task.round import MemberInput, SecureRound, run_secure_round
from fl_node.task import TaskSpec
from fl_node.training import TrainConfig
from storage import canonical_json, content_hash
from tests.unit.fl_node.test_evidence import sample

MODEL = ModelSpec(n_features=2, feature_mean=(0.0, 0.0), feature_std=(1.0, 1.0))
PLAIN_DP_HASH = "0x2f2bd56a06570952f75999249cc130c2150f6c7622e6b8568cadf000ce06668a"
DP = DPConfig("dp-fedavg", clip_norm=0.5, noise_multiplier=1.2, delta=1e-5)
PARAMS = SecAggParams(group_size=4, dropout_tolerance=0.3, clip=4.0, max_samples=1000)
DIM = 6000
SEED = b"\x07" * 32
MEMBERS = ("0xa", "0xb", "0xc", "0xd")


def spec(**changes: object) -> TaskSpec:
    base: dict[str, object] = {
        "name": "t",
        "model": MODEL,
        "train": TrainConfig(),
        "rounds": 3,
        "feature_names": ("a", "b"),
    }
    return TaskSpec(**(base | changes))  # type: ignore[arg-type]


def secure(
    inputs: dict[str, MemberInput], dropouts: dict[str, Stage] | None = None, seed: int = 1
) -> SecureRound:
    return run_secure_round(
        inputs,
        PARAMS,
        task=1,
        round_=1,
        seed=SEED,
        board=MemoryBoard(),
        dropouts=dropouts,
        dp=DP,
        generator=torch.Generator().manual_seed(seed),
    )


def zeros() -> dict[str, MemberInput]:
    return {a: MemberInput(np.zeros(DIM), samples=10 * (i + 1)) for i, a in enumerate(MEMBERS)}


@pytest.mark.parametrize(("dropped", "survivors"), [(0, 4), (1, 3)])
def test_a_group_sums_noise_is_sigma_c_times_sqrt_survivors_over_threshold(
    dropped: int, survivors: int
) -> None:
    threshold = PARAMS.threshold(len(MEMBERS))
    assert threshold == 3  # a group of 4 completes with 3 survivors: one may drop
    dropouts = dict.fromkeys(MEMBERS[:dropped], Stage.SHARE)  # never sends its masked input
    (group,) = secure(zeros(), dropouts).groups
    assert group.decoded is not None and len(group.survivors) == survivors
    noise = group.decoded.weighted / PARAMS.max_samples  # w = 1: the plain sum of the members'
    expected = DP.noise_std * math.sqrt(survivors / threshold)
    assert np.std(noise) == pytest.approx(expected, rel=0.05)
    assert abs(float(np.mean(noise))) < 5 * expected / math.sqrt(DIM)
    assert np.std(noise) >= DP.noise_std * 0.95  # never below sigma C, whatever the dropouts


def test_with_too_many_dropouts_the_group_fails_rather_than_release_less_noise() -> None:
    dropouts = dict.fromkeys(MEMBERS[:2], Stage.SHARE)  # 2 survivors < threshold 3
    (group,) = secure(zeros(), dropouts).groups
    assert group.decoded is None and group.failure


def test_the_group_sum_is_the_equally_weighted_sum_of_each_members_noisy_clipped_update() -> None:
    rng = np.random.default_rng(3)
    inputs = {
        a: MemberInput(rng.normal(0, 1, 50), samples=1 + 300 * i) for i, a in enumerate(MEMBERS)
    }
    (group,) = secure(inputs, seed=11).groups
    assert group.decoded is not None
    gen = torch.Generator().manual_seed(11)  # the members draw in the group's order
    (order,) = partition(sorted(inputs), PARAMS.group_size, SEED)
    reference = np.zeros(51)
    for address in order:
        delta = inputs[address].delta
        clipped = delta * min(1.0, DP.clip_norm / float(np.linalg.norm(delta)))
        noise = (
            torch.randn(50, generator=gen, dtype=torch.float64).numpy()
            * DP.noise_std
            / math.sqrt(3)
        )
        reference += np.concatenate([clipped + noise, [PARAMS.clip]])
        got = encode_member(
            delta, 7, PARAMS, dp=DP, threshold=3, generator=torch.Generator().manual_seed(0)
        )
        assert got[-1] == PARAMS.clip  # equal weight whatever the sample count
    assert group.decoded.samples == 4 * PARAMS.max_samples
    assert np.max(np.abs(group.decoded.weighted / PARAMS.max_samples - reference[:-1])) < 1e-6


def test_without_dp_the_encoding_is_unchanged() -> None:
    delta = np.linspace(-2, 2, 9)
    assert np.array_equal(
        encode_member(delta, 40, PARAMS), encode_member(delta, 40, PARAMS, dp=None)
    )
    assert encode_member(delta, 40, PARAMS)[-1] == pytest.approx(PARAMS.clip * 40 / 1000)


def test_a_plain_dp_spec_keeps_its_bytes_and_local_noise() -> None:
    plain = spec(dp=DP)
    assert "0x" + bytes(content_hash(plain.to_bytes())).hex() == PLAIN_DP_HASH
    assert not plain.distributed_dp and member_dp(plain) is None
    assert train_config(plain, plain.train).dp == DP
    spent = plain.privacy_spent()
    assert spent is not None and spent.mode == "dp-fedavg" and plain.collusion_spent() is None


def test_a_distributed_dp_spec_round_trips_and_records_its_mode() -> None:
    chosen = spec(dp=DP, aggregation="secagg", secagg=PARAMS)
    again = TaskSpec.from_bytes(chosen.to_bytes())
    assert again == chosen and again.distributed_dp and member_dp(again) == DP
    assert train_config(again, again.train).dp is None  # no local noise: the members split it
    spent, colluded = again.privacy_spent(), again.collusion_spent()
    assert spent is not None and colluded is not None
    assert spent.mode == DISTRIBUTED_MODE
    assert spent.epsilon == pytest.approx(epsilon(1.2, 1.0, 3, 1e-5))  # same as local dp-fedavg
    assert colluded.noise_multiplier == pytest.approx(1.2 / math.sqrt(3))
    assert colluded.epsilon == pytest.approx(epsilon(1.2 / math.sqrt(3), 1.0, 3, 1e-5))
    assert colluded.epsilon > spent.epsilon
    evidence = replace(sample(), privacy=PrivacyRecord(**vars(spent)))
    doc = json.loads(canonical_json(evidence.to_dict()))
    schema = jsonschema.Draft202012Validator(json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))
    assert list(schema.iter_errors(doc)) == []
    assert RoundEvidence.from_dict(doc).privacy == evidence.privacy
    card = privacy_card(again, 3)["privacy"]
    assert card["mode"] == DISTRIBUTED_MODE and card["collusion_epsilon"] == colluded.epsilon
    assert "collusion_epsilon" not in privacy_card(spec(dp=DP), 3)["privacy"]


def test_a_secagg_range_too_narrow_for_the_noise_is_refused() -> None:
    need = DP.clip_norm + SECAGG_RANGE_Z * DP.noise_std / math.sqrt(PARAMS.min_threshold)
    with pytest.raises(SpecError, match="secagg clip"):
        spec(dp=DP, aggregation="secagg", secagg=SecAggParams(group_size=4, clip=need * 0.99))
    assert spec(
        dp=DP, aggregation="secagg", secagg=SecAggParams(group_size=4, clip=need)
    ).distributed_dp
    sgd = DPConfig("dp-sgd", 1.0, 1.0, 1e-5, sample_rate=0.1)  # example level: stays local
    assert not spec(dp=sgd, aggregation="secagg").distributed_dp
