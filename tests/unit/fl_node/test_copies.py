"""Round-level screening: replays, empty updates and sample counts (fl_node.copies, .screening)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from fl_node.copies import (
    COPY_TOLERANCE,
    GLOBAL,
    SampleBounds,
    check_samples,
    find_copy,
    relative_distance,
    screen_update,
    step_print,
)
from fl_node.evidence import REJECTION_REASONS, UpdateVerdict
from fl_node.screening import SCREEN_REASONS, RoundScreen, global_step
from fl_node.strategies import ClientUpdate
from kernel.types import Address

A, B, C = "0x" + "a" * 40, "0x" + "b" * 40, "0x" + "c" * 40


def _delta(seed: int, scale: float = 1.0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {
        "w": scale * torch.randn(4, 3, generator=g),
        "b": scale * torch.randn(3, generator=g),
    }


def _noisy(delta: dict[str, torch.Tensor], rel: float, seed: int) -> dict[str, torch.Tensor]:
    """``delta`` plus noise of relative norm ``rel``."""
    g = torch.Generator().manual_seed(seed)
    noise = {k: torch.randn(v.shape, generator=g) for k, v in delta.items()}
    n_norm = math.sqrt(sum(float((v.double() ** 2).sum()) for v in noise.values()))
    d_norm = math.sqrt(sum(float((v.double() ** 2).sum()) for v in delta.values()))
    return {k: delta[k] + noise[k] * (rel * d_norm / n_norm) for k in delta}


def _brute_distance(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    """The relative distance by a plain loop over every number (the reference)."""
    diff = sq_a = sq_b = 0.0
    for name in sorted(a):
        xs, ys = a[name].double().reshape(-1).tolist(), b[name].double().reshape(-1).tolist()
        for x, y in zip(xs, ys, strict=True):
            diff, sq_a, sq_b = diff + (x - y) ** 2, sq_a + x * x, sq_b + y * y
    scale = max(math.sqrt(sq_a), math.sqrt(sq_b))
    return 0.0 if scale == 0 else math.sqrt(diff) / scale


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(0, 10_000), st.floats(0.01, 100.0))
def test_relative_distance_matches_a_plain_loop_and_is_symmetric(sa: int, sb: int, scale: float):
    a, b = _delta(sa), _delta(sb, scale)
    pa, pb = step_print(1, A, a), step_print(2, B, b)
    assert relative_distance(pa, pb) == pytest.approx(_brute_distance(a, b), rel=1e-9)
    assert relative_distance(pa, pb) == relative_distance(pb, pa)
    assert relative_distance(pa, step_print(3, C, a)) == 0.0


def test_tensor_order_does_not_matter_but_shapes_do():
    delta = _delta(1)
    reordered = {"b": delta["b"], "w": delta["w"]}
    assert relative_distance(step_print(1, A, delta), step_print(2, B, reordered)) == 0.0
    other = {"w": delta["w"], "b": torch.zeros(4)}
    assert relative_distance(step_print(1, A, delta), step_print(2, B, other)) == math.inf


def test_a_replay_of_any_earlier_step_is_found_even_slightly_blurred():
    history = [
        step_print(1, A, _delta(1)),
        step_print(1, GLOBAL, _delta(2)),
        step_print(2, B, _delta(3)),
    ]
    for original in history:
        exact = step_print(3, C, {k: v.clone() for k, v in _delta_of(original).items()})
        assert find_copy(exact, history) == original
        blurred = step_print(3, C, _noisy(_delta_of(original), COPY_TOLERANCE / 2, seed=9))
        assert find_copy(blurred, history) == original
        far = step_print(3, C, _noisy(_delta_of(original), COPY_TOLERANCE * 3, seed=9))
        assert find_copy(far, history) is None


def _delta_of(p) -> dict[str, torch.Tensor]:  # noqa: ANN001
    seeds = {(1, A): 1, (1, GLOBAL): 2, (2, B): 3}
    return _delta(seeds[(p.round, p.participant)])


def test_steps_of_the_same_round_are_never_copies_of_each_other():
    same = step_print(2, B, _delta(1))
    assert find_copy(step_print(2, C, _delta(1)), [same]) is None
    assert find_copy(step_print(3, C, _delta(1)), [same]) == same


def test_an_empty_update_is_refused_first():
    empty = step_print(2, A, {"w": torch.zeros(4, 3), "b": torch.zeros(3)})
    found = screen_update(empty, 10, [], SampleBounds({}, {}))
    assert found is not None and found.reason == "empty_update"
    tiny = step_print(2, A, {"w": torch.full((4, 3), 1e-30), "b": torch.zeros(3)})
    assert screen_update(tiny, 10, [], SampleBounds({}, {})) is None


@pytest.mark.parametrize(
    ("samples", "declared", "listed", "require", "reason"),
    [
        (100, {}, {}, False, None),
        (100, {A: 100}, {A: 100}, False, None),
        (101, {A: 100}, {}, False, "samples_changed"),
        (500, {}, {A: 100}, False, "samples_exceed_listing"),
        (100, {}, {}, True, "samples_exceed_listing"),
        (100, {}, {B: 1000}, True, "samples_exceed_listing"),
        (100, {}, {A: 150}, True, None),
    ],
)
def test_sample_counts_are_bounded_by_the_first_declaration_and_the_listings(
    samples: int, declared: dict, listed: dict, require: bool, reason: str | None
):
    found = check_samples(
        A.upper().replace("0X", "0x"), samples, SampleBounds(declared, listed, require)
    )
    assert (found.reason if found else None) == reason


def test_every_screening_reason_is_a_rejection_reason_of_the_evidence():
    assert set(SCREEN_REASONS) <= set(REJECTION_REASONS)


def _verdict(p: str) -> UpdateVerdict:
    return UpdateVerdict(Address(p), accepted=True, reason=None, samples=10)


def test_round_screen_rejects_a_replayer_and_a_copy_of_the_global_step_across_rounds():
    participants = [Address(A), Address(B), Address(C)]
    screen = RoundScreen()
    first = [(0, ClientUpdate(_delta(1), 10)), (1, ClientUpdate(_delta(2), 10))]
    verdicts, kept = screen.screen(1, participants, [_verdict(p) for p in participants], first)
    assert [i for i, _ in kept] == [0, 1] and all(v.accepted for v in verdicts)
    before = {"w": torch.zeros(4, 3), "b": torch.zeros(3)}
    screen.record(1, participants, first, kept, global_step(before, _delta(7)))
    second = [
        (0, ClientUpdate(_delta(4), 10)),  # honest
        (1, ClientUpdate(_delta(1), 10)),  # B replays A's step of round 1
        (2, ClientUpdate(_delta(7), 10)),  # C sends the last global step
    ]
    verdicts, kept = screen.screen(2, participants, [_verdict(p) for p in participants], second)
    assert [i for i, _ in kept] == [0]
    assert [v.reason for v in verdicts] == [None, "replayed_update", "replayed_update"]
    assert A in verdicts[1].detail and "global model" in verdicts[2].detail


def test_round_screen_holds_each_participant_to_its_first_sample_count():
    participants = [Address(A)]
    screen = RoundScreen()
    update = [(0, ClientUpdate(_delta(1), 10))]
    _, kept = screen.screen(1, participants, [_verdict(A)], update)
    screen.record(1, participants, update, kept, _delta(5))
    inflated = [(0, ClientUpdate(_delta(2), 50))]
    verdicts, kept = screen.screen(2, participants, [_verdict(A)], inflated)
    assert not kept and verdicts[0].reason == "samples_changed"


def test_prints_are_float64_whatever_the_update_dtype():
    p = step_print(1, A, {"w": torch.ones(3, dtype=torch.float16)})
    assert p.vector.dtype == np.float64 and p.norm == pytest.approx(math.sqrt(3))
