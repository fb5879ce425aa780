"""The round screen's noise check for dp-fedavg updates (:class:`fl_node.screening.RoundScreen`).

With ``d = 20,000`` coordinates, ``s = sigma C = 0.1`` and ``C = 1`` the band on ``||u||^2`` is
``200 -/+ 13.2`` (plus 1 above), about 6.6 % either side at ``z = 6``: an honest update falls
outside with probability at most 2.4e-9 (the chi-square tails of ``||n||^2``), while one with no
noise (``||u||^2 <= 1``) or 90 % of the promised standard deviation (``||u||^2 ~ 162``) falls far
below it.
"""

from __future__ import annotations

import pytest
import torch

from fl_node.dp import DPConfig, clip_update, privatize_update
from fl_node.evidence import REJECTION_REASONS, UpdateVerdict
from fl_node.screening import DP_NOISE_MISSING, SCREEN_REASONS, RoundScreen
from fl_node.strategies import ClientUpdate
from fl_node.validation import FLAG_REASONS
from kernel.types import Address

DP = DPConfig("dp-fedavg", clip_norm=1.0, noise_multiplier=0.1, delta=1e-5)
DIM = 20_000
PEOPLE = [Address(f"0x{i:040x}") for i in range(1, 4)]


def raw_update(seed: int) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return {"w": torch.randn(DIM - 10, generator=gen) * 0.01, "b": torch.ones(10)}


def screened(
    updates: list[dict[str, torch.Tensor]], dp: DPConfig | None = DP
) -> list[UpdateVerdict]:
    verdicts = [UpdateVerdict(p, accepted=True, reason=None, samples=10) for p in PEOPLE]
    accepted = [(i, ClientUpdate(u, 10)) for i, u in enumerate(updates)]
    out, kept = RoundScreen(dp=dp).screen(1, PEOPLE, verdicts, accepted)
    assert [i for i, _ in kept] == [i for i, v in enumerate(out) if v.accepted]
    return out


def noised(
    update: dict[str, torch.Tensor], std_factor: float, seed: int
) -> dict[str, torch.Tensor]:
    dp = DPConfig("dp-fedavg", DP.clip_norm, DP.noise_multiplier * std_factor, DP.delta)
    return privatize_update(update, dp, torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("seed", range(5))
def test_honest_noised_updates_pass_and_unnoised_or_undernoised_ones_are_rejected(
    seed: int,
) -> None:
    honest = noised(raw_update(seed), 1.0, 100 + seed)
    bare, _ = clip_update(raw_update(seed), DP.clip_norm)  # clipped, noise skipped
    thin = noised(raw_update(seed), 0.9, 200 + seed)
    out = screened([honest, bare, thin])
    assert out[0].accepted
    for verdict in out[1:]:
        assert (verdict.accepted, verdict.reason) == (False, DP_NOISE_MISSING)
        assert "outside" in verdict.detail


def test_an_unclipped_update_with_its_noise_is_rejected_too() -> None:
    huge = {k: v * 300 for k, v in raw_update(7).items()}  # norm ~ 30: C^2 is 1 of the band
    noise = noised({k: torch.zeros_like(v) for k, v in huge.items()}, 1.0, 8)
    cheat = {k: huge[k] + noise[k] for k in huge}
    out = screened([noised(raw_update(9), 1.0, 10), cheat, noised(raw_update(11), 1.0, 12)])
    assert out[0].accepted and out[2].accepted
    assert out[1].reason == DP_NOISE_MISSING


def test_no_check_without_dp_fedavg() -> None:
    bare = raw_update(1)
    assert screened([bare, raw_update(2), raw_update(3)], dp=None)[0].accepted
    sgd = DPConfig("dp-sgd", 1.0, 1.0, 1e-5, sample_rate=0.1)
    assert screened([bare, raw_update(2), raw_update(3)], dp=sgd)[0].accepted


def test_the_reason_is_a_screen_rejection_not_a_flag() -> None:
    assert DP_NOISE_MISSING in SCREEN_REASONS and DP_NOISE_MISSING in REJECTION_REASONS
    assert DP_NOISE_MISSING not in FLAG_REASONS  # a statistical test (3e-8 false), not a proof
