"""The robustness benchmark's attack harness and bookkeeping, on small hand-made inputs.

Fast (no dataset files): the label flip's mapping, ALIE's ``z`` and update against hand-computed
values, IPM, the colluders' identical updates, the free-rider's zero update, the boosted and
flipped updates against the honest one they come from, the Gaussian noise's scale, the backdoor
trigger and poisoning, the backdoor success rate against a model whose answer the trigger
decides, the flag counts, the choice of attackers and the MET/MISSED verdict.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from fedmarket.bench._robust_attacks import (
    BACKDOOR_TARGET,
    BOOST,
    IPM_EPSILON,
    NOISE_FACTOR,
    SIGN_SCALE,
    AttackView,
    Trigger,
    alie,
    alie_z,
    apply_trigger,
    attacker_updates,
    backdoor_success,
    coordinate_stats,
    flip_labels,
    gaussian_noise,
    image_trigger,
    ipm,
    norm,
    poison,
    tabular_trigger,
    train_from,
)
from fedmarket.bench._robust_figures import verdict
from fedmarket.bench._robust_rounds import (
    CellFigures,
    FlagCounts,
    choose_attackers,
    flag_counts,
)
from fedmarket.design import pooled_model
from fl_node.data import LocalDataset
from fl_node.errors import SpecError
from fl_node.models import build_model, trainable_state
from fl_node.training import TrainConfig


def tiny(seed: int, rows: int = 40) -> LocalDataset:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 3)).astype(np.float32)
    y = (x[:, 0] + 0.3 * rng.normal(size=rows) > 0).astype(np.float32)
    return LocalDataset(f"tiny-{seed}", x, y)


def view(attack_parties: int = 3, honest: int = 3) -> AttackView:
    own = tuple(tiny(k) for k in range(attack_parties))
    spec = pooled_model([d.stats() for d in own], kind="mlp", hidden=(4,), seed=1)
    params = trainable_state(build_model(spec))
    config = TrainConfig(local_epochs=1, batch_size=8, lr=0.1)
    base = AttackView(spec, params, config, 1, own, attack_parties + honest, 2)
    deltas = tuple(train_from(base, tiny(10 + k)) for k in range(honest))
    return AttackView(spec, params, config, 1, own, attack_parties + honest, 2, honest=deltas)


def same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_label_flip_maps_every_class_to_its_mirror() -> None:
    y = np.array([0, 3, 9, 5], dtype=np.int64)
    assert flip_labels(y, 10).tolist() == [9, 6, 0, 4]
    binary = np.array([0.0, 1.0, 1.0], dtype=np.float32)
    flipped = flip_labels(binary, 2)
    assert flipped.tolist() == [1.0, 0.0, 0.0] and flipped.dtype == np.float32
    with pytest.raises(SpecError):
        flip_labels(y, 1)


def test_alie_z_is_the_papers_formula() -> None:
    # n = 10, 3 attackers: s = floor(6) - 3 = 3, z = Phi^-1(7/10) = 0.5244 (normal table).
    assert alie_z(10, 3) == pytest.approx(0.524401, abs=1e-6)
    # 4 attackers: s = 2, Phi^-1(0.8) = 0.8416; 1 attacker of 10 or 4: (n - s)/n = 1/2, z = 0.
    assert alie_z(10, 4) == pytest.approx(0.841621, abs=1e-6)
    assert alie_z(10, 1) == 0.0 and alie_z(4, 1) == 0.0
    assert alie_z(6, 3) == pytest.approx(0.967422, abs=1e-6)  # s = 1: Phi^-1(5/6)
    with pytest.raises(SpecError):
        alie_z(5, 3)  # s = 0: a majority on their own
    with pytest.raises(SpecError):
        alie_z(4, 4)


def test_alie_and_ipm_against_hand_computed_updates() -> None:
    honest = [{"w": torch.tensor([1.0, 2.0])}, {"w": torch.tensor([3.0, 6.0])}]
    mean, std = coordinate_stats(honest)
    assert mean["w"].tolist() == [2.0, 4.0] and std["w"].tolist() == [1.0, 2.0]  # population
    assert alie(mean, std, 0.5)["w"].tolist() == [1.5, 3.0]
    assert ipm(mean, 0.5)["w"].tolist() == [-1.0, -2.0]


@pytest.mark.parametrize("attack", ["alie", "ipm", "collude"])
def test_colluders_send_identical_updates(attack: str) -> None:
    v = view()
    updates = attacker_updates(attack, v)
    assert len(updates) == 3
    first = dict(updates[0].delta)
    assert all(same(first, dict(u.delta)) for u in updates[1:])
    assert [u.samples for u in updates] == [d.rows for d in v.own]
    mean, std = coordinate_stats(v.honest)
    if attack == "ipm":
        assert same(first, ipm(mean, IPM_EPSILON))
    if attack == "alie":
        assert same(first, alie(mean, std, alie_z(6, 3)))
    if attack == "collude":
        pooled, _ = coordinate_stats([train_from(v, d) for d in v.own])
        assert all(torch.allclose(first[k], -SIGN_SCALE * pooled[k]) for k in first)


def test_free_riders_send_zero_with_their_sample_count() -> None:
    v = view()
    for update, data in zip(attacker_updates("free_ride", v), v.own, strict=True):
        assert norm(dict(update.delta)) == 0.0 and update.samples == data.rows


def test_flipped_boosted_and_noisy_updates_come_from_the_honest_one() -> None:
    v = view(attack_parties=1)
    honest = train_from(v, v.own[0])
    assert norm(honest) > 0
    (flipped,) = attacker_updates("sign_flip", v)
    (boosted,) = attacker_updates("scaled", v)
    assert all(torch.allclose(flipped.delta[k], -SIGN_SCALE * honest[k]) for k in honest)
    assert all(torch.allclose(boosted.delta[k], BOOST * honest[k]) for k in honest)
    (noisy,) = attacker_updates("gaussian", v)
    assert not any(torch.allclose(noisy.delta[k], honest[k]) for k in honest)
    (label,) = attacker_updates("label_flip", v)
    assert not same(dict(label.delta), honest)  # trained on other labels


def test_gaussian_noise_has_the_asked_scale_and_is_seeded() -> None:
    like = {"w": torch.zeros(200, 100)}
    noise = gaussian_noise(like, 0.5, seed=3)
    assert float(noise["w"].std()) == pytest.approx(0.5, rel=0.03)
    assert same(noise, gaussian_noise(like, 0.5, seed=3))
    sigma = NOISE_FACTOR * 2.0 / math.sqrt(20_000)  # an honest norm of 2
    assert norm(gaussian_noise(like, sigma, seed=4)) == pytest.approx(NOISE_FACTOR * 2.0, rel=0.03)


def test_triggers_and_poisoning() -> None:
    trigger = image_trigger()
    assert len(trigger.features) == 9 and 27 * 28 + 27 in trigger.features
    assert 25 * 28 + 25 in trigger.features and 24 * 28 + 27 not in trigger.features
    data = tiny(0)
    table = tabular_trigger(data.x, count=2)
    assert all(
        v > float(data.x[:, j].max()) for j, v in zip(table.features, table.values, strict=True)
    )
    poisoned = poison(data, table, target=1, share=0.25, seed=0)
    extra = poisoned.rows - data.rows
    assert extra == 10 and np.all(poisoned.y[data.rows :] == 1)
    added = poisoned.x[data.rows :]
    assert np.all(added[:, list(table.features)] == np.asarray(table.values, dtype=np.float32))
    np.testing.assert_array_equal(poisoned.x[: data.rows], data.x)


def test_backdoor_success_counts_triggered_non_target_rows_predicted_as_target() -> None:
    data = tiny(1, rows=60)
    spec = pooled_model([data.stats()], kind="linear", hidden=(), seed=1)
    model = build_model(spec)
    with torch.no_grad():  # the logit is 50 x (standardised) feature 2, nothing else
        for p in model.parameters():
            p.zero_()
            if p.ndim == 2:
                p[0, 2] = 50.0
    high = Trigger((2,), (100.0,))
    low = Trigger((2,), (-100.0,))
    assert backdoor_success(model, data, high, target=1) == 1.0
    assert backdoor_success(model, data, low, target=1) == 0.0
    assert backdoor_success(model, data, low, target=0) == 1.0
    rows = np.flatnonzero(data.y != 1)
    stamped = apply_trigger(data.x[rows], high)
    assert np.all(stamped[:, 2] == 100.0) and BACKDOOR_TARGET == 0


def test_flag_counts_against_a_hand_count() -> None:
    counts = flag_counts([(1, 2), (2,), ()], attackers={2, 3})
    assert counts == FlagCounts(3, 2, 6, 1, 2 / 3, 1 / 3)
    none = flag_counts([(), ()], attackers=())
    assert math.isnan(none.precision) and math.isnan(none.recall) and none.flagged_rounds == 0


def test_attackers_are_seeded_and_nested() -> None:
    picks = [choose_attackers(10, pct, seed=0) for pct in (10, 20, 30, 40)]
    assert [len(p) for p in picks] == [1, 2, 3, 4]
    assert all(set(a) <= set(b) for a, b in zip(picks, picks[1:], strict=False))
    assert choose_attackers(10, 30, seed=0) == picks[2] and choose_attackers(4, 25, 0) != ()


def cell(defence: str, attack: str, acc: float, recall: float, honest: int) -> CellFigures:
    hits = 0 if math.isnan(recall) else round(3 * recall)
    flags = FlagCounts(hits + honest, hits, 3, honest, 1.0, recall)
    pct = 0.0 if attack == "none" else 30.0
    return CellFigures("mnist", defence, attack, pct, (1, 2, 3), 3, acc, math.nan, flags, 0, 0.1)


def test_the_target_needs_a_small_drop_high_recall_and_no_honest_flag() -> None:
    base = cell("none", "none", 0.90, math.nan, 0)
    runs = [base, cell("median", "ipm", 0.88, 1.0, 1), cell("krum", "ipm", 0.80, 1.0, 0)]
    missed = verdict(runs, "mnist", "ipm", 30.0)
    assert missed is not None and not missed.met
    assert missed.defence == "median" and missed.drop_pts == pytest.approx(2.0)
    runs.append(cell("fltrust", "ipm", 0.86, 0.9, 0))
    met = verdict(runs, "mnist", "ipm", 30.0)
    assert met is not None and met.met and met.defence == "fltrust"
    assert verdict(runs, "mnist", "alie", 30.0) is None
