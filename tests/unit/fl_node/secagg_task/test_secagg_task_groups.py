"""Group-level secure aggregation inside a task, on numpy updates (no training).

- The grouping is public and recomputable: every member in exactly one group of at least ``g``.
- The round's update equals the plain sample-weighted FedAvg of the clipped updates within the
  fixed-point bound; nothing the coordinator (or the board) saw holds one member's update.
- 30 % of a group dropping after sharing: the group still completes, with the survivors' sum;
  the dropped members earn nothing. A group left below its threshold fails alone.
- The audit replays each group's transcript (through JSON) to the same sum; a masked input that
  differs from its commitment is caught.
"""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from fl_node.secagg import FixedPoint, SecAggParams, Stage
from fl_node.secagg.messages import MaskedInput, decode
from fl_node.secagg_task import (
    GroupingError,
    GroupSumError,
    GroupTranscript,
    MemberInput,
    MemoryBoard,
    Message,
    decode_group,
    member_contributions,
    member_values,
    partition,
    replay,
    run_secure_round,
    survived,
)

PARAMS = SecAggParams(group_size=3, clip=0.5, max_samples=1000)


def addresses(n: int) -> list[str]:
    return [f"0x{i + 1:040x}" for i in range(n)]


def inputs(n: int, length: int = 300, seed: int = 0) -> dict[str, MemberInput]:
    rng = np.random.default_rng(seed)
    return {
        a: MemberInput(rng.normal(0.02 * i, 0.2, length), int(rng.integers(5, 400)))
        for i, a in enumerate(addresses(n))
    }


def plain_fedavg(given: dict[str, MemberInput], who: list[str], clip: float) -> np.ndarray:
    """The reference: sum_i n_i clip(d_i) / sum_i n_i, in float64."""
    total = sum(np.clip(given[a].delta, -clip, clip) * given[a].samples for a in who)
    return total / sum(given[a].samples for a in who)


def slack(groups, params: SecAggParams, samples: int) -> float:  # noqa: ANN001
    """The fixed-point bound of the round's mean: each group's weighted-sum bound over samples."""
    return sum(g.decoded.bound for g in groups if g.decoded is not None) / samples


@pytest.mark.parametrize("n, g", [(3, 3), (7, 3), (10, 4), (11, 5), (25, 3)])
def test_every_member_is_in_exactly_one_group_of_at_least_g(n: int, g: int) -> None:
    members = addresses(n)
    groups = partition(members, g, b"seed")
    assert Counter(m for grp in groups for m in grp) == Counter(members)
    assert all(len(grp) >= g for grp in groups) and len(groups) == n // g
    assert max(map(len, groups)) - min(map(len, groups)) <= 1
    assert partition(list(reversed(members)), g, b"seed") == groups  # order-free, recomputable
    assert any(partition(members, g, bytes([s])) != groups for s in range(5)) or n == g


def test_too_few_members_or_a_member_twice_is_refused() -> None:
    with pytest.raises(GroupingError):
        partition(addresses(2), 3, b"s")
    with pytest.raises(GroupingError):
        partition([*addresses(3), addresses(1)[0].upper()], 3, b"s")
    with pytest.raises(GroupingError):
        member_values(np.zeros(3), 1001, PARAMS)


def test_the_round_update_is_the_plain_weighted_fedavg_within_the_bound() -> None:
    given = inputs(10)
    secure = run_secure_round(given, PARAMS, task=7, round_=2, seed=b"r", board=MemoryBoard())
    assert [len(g.members) for g in secure.groups] == [4, 3, 3]
    reference = plain_fedavg(given, list(given), PARAMS.clip)
    assert secure.samples == sum(m.samples for m in given.values())
    error = np.abs(secure.mean_update() - reference).max()
    assert 0 < error <= slack(secure.groups, PARAMS, secure.samples)
    for group in secure.groups:  # each group sum is its members' sum, nothing finer
        assert group.decoded is not None and len(group.survivors) >= PARAMS.group_size
        mine = plain_fedavg(given, list(group.members), PARAMS.clip)
        assert np.abs(group.decoded.mean - mine).max() <= group.decoded.bound / 5


def test_nothing_the_coordinator_saw_holds_one_members_update() -> None:
    given = inputs(9, length=400, seed=3)
    board = MemoryBoard()
    secure = run_secure_round(given, PARAMS, task=1, round_=1, seed=b"v", board=board)
    seen = [p.payload for _, p in board.everything()]
    assert len(seen) > 4 * 9
    for group in secure.groups:
        fp = FixedPoint(PARAMS.clip, len(group.members))
        for index, address in enumerate(group.members):
            m = given[address]
            words = fp.encode(member_values(m.delta, m.samples, PARAMS))
            assert not any(words[:64].tobytes() in payload for payload in seen)
            masked = [
                decode(x.payload, MaskedInput)
                for x in group.transcript.messages
                if x.stage is Stage.MASK and x.sender == index
            ]
            assert len(masked) == 1
            as_one = fp.decode_sum(masked[0].array(), 1)[:-1]
            assert abs(np.corrcoef(as_one, np.clip(m.delta, -0.5, 0.5))[0, 1]) < 0.25
            assert np.mean(masked[0].array() == words) < 0.01


def test_thirty_percent_of_a_group_dropping_after_sharing_leaves_the_survivors_sum() -> None:
    given = inputs(10, seed=5)
    params = SecAggParams(group_size=10, dropout_tolerance=0.3, clip=0.5, max_samples=1000)
    dropped = addresses(10)[2:5]
    secure = run_secure_round(
        given,
        params,
        task=3,
        round_=1,
        seed=b"d",
        board=MemoryBoard(),
        dropouts=dict.fromkeys(dropped, Stage.SHARE),
    )
    (group,) = secure.groups
    survivors = [a for a in addresses(10) if a not in dropped]
    assert group.decoded is not None and sorted(group.survivors) == sorted(survivors)
    reference = plain_fedavg(given, survivors, params.clip)
    assert np.abs(secure.mean_update() - reference).max() <= slack(
        secure.groups, params, secure.samples
    )
    scores = member_contributions([0.7], secure.groups, addresses(10))
    assert [s > 0 for s in scores] == [a in survivors for a in addresses(10)]
    assert sum(scores) == pytest.approx(0.7)
    assert survived(secure.groups, addresses(10)) == [a in survivors for a in addresses(10)]


def test_a_group_below_its_threshold_fails_alone_and_earns_nothing() -> None:
    given = inputs(6, seed=2)
    groups = partition(sorted(given), 3, b"f")
    dropped = dict.fromkeys(groups[0][:2], Stage.ADVERTISE)
    secure = run_secure_round(
        given, PARAMS, task=1, round_=1, seed=b"f", board=MemoryBoard(), dropouts=dropped
    )
    failed, ok = secure.groups
    assert failed.decoded is None and failed.failure and ok.decoded is not None
    reference = plain_fedavg(given, list(ok.members), PARAMS.clip)
    assert np.abs(secure.mean_update() - reference).max() <= slack([ok], PARAMS, secure.samples)
    scores = member_contributions([1.0], secure.groups, sorted(given))
    assert [s > 0 for s in scores] == [a in ok.members for a in sorted(given)]


def test_the_audit_replays_each_group_sum_from_its_transcript() -> None:
    given = inputs(7, seed=9)
    dropped = {addresses(7)[0]: Stage.SHARE}
    secure = run_secure_round(
        given, PARAMS, task=4, round_=3, seed=b"a", board=MemoryBoard(), dropouts=dropped
    )
    for group in secure.groups:
        assert group.decoded is not None
        transcript = GroupTranscript.from_dict(json.loads(json.dumps(group.transcript.to_dict())))
        aggregate = replay(transcript)
        again = decode_group(aggregate.total, aggregate.count, aggregate.bound, PARAMS)
        assert np.array_equal(again.weighted, group.decoded.weighted)
        assert again.samples == group.decoded.samples
        assert tuple(group.members[i] for i in aggregate.survivors) == group.survivors
    for address, commitment in secure.commitments.items():
        assert commitment.startswith("0x") and address != addresses(7)[0]
    group = secure.groups[0]
    mask = next(i for i, m in enumerate(group.transcript.messages) if m.stage is Stage.MASK)
    original = group.transcript.messages[mask]
    forged = bytearray(original.payload)
    forged[-1] ^= 1
    messages = list(group.transcript.messages)
    messages[mask] = Message(original.stage, original.sender, bytes(forged))
    tampered = GroupTranscript(**{**group.transcript.__dict__, "messages": tuple(messages)})
    with pytest.raises(GroupSumError):
        replay(tampered)


def test_a_sum_out_of_the_encodings_range_is_rejected() -> None:
    ok = member_values(np.full(4, 0.3), 10, PARAMS) + member_values(np.full(4, -0.1), 20, PARAMS)
    decoded = decode_group(ok, 2, 1e-9, PARAMS)
    assert decoded.samples == 30
    assert np.allclose(decoded.mean, (0.3 * 10 - 0.1 * 20) / 30)
    too_big = ok.copy()
    too_big[0] = 0.9  # a weighted coordinate beyond samples * clip
    with pytest.raises(GroupSumError):
        decode_group(too_big, 2, 1e-9, PARAMS)
    with pytest.raises(GroupSumError):
        decode_group(ok, 31, 1e-9, PARAMS)  # fewer samples than members
