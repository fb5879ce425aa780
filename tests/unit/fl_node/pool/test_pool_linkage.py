"""The linkage attack, with and without the pool.

- Fixed lineages (no pool): a participant's revealed openings give the rest away.
- The pool with uninformative side channels: the attack falls to chance (binomial bound).
- The pool with side channels that reveal the model: the attack still wins, so it is not
  crippled by construction and the pool's gain is measured, not assumed.
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fl_node.pool import LinkageError, Sighting, draw, round_seed, run_linkage

SECRET = b"linkage test secret, 32 bytes..."
PEOPLE = tuple(f"0x{i:040x}" for i in range(1, 41))
MODELS = 4
ROUNDS = 12


def fixed_lineages(seed: int) -> list[Sighting]:
    rng = np.random.default_rng(seed)
    return [
        Sighting(p, r, i % MODELS, (float(rng.random()), float(rng.normal())))
        for r in range(ROUNDS)
        for i, p in enumerate(PEOPLE)
    ]


def pooled(seed: int, revealing: bool = False) -> list[Sighting]:
    rng = np.random.default_rng(seed)
    out = []
    for r in range(ROUNDS):
        d = draw(round_seed(SECRET, seed, r), r, MODELS, PEOPLE, min_models=2)
        for p, m in d.assignment:
            size = float(m * 1000 + rng.integers(0, 50)) if revealing else float(rng.random())
            out.append(Sighting(p, r, m, (size, float(rng.normal()))))
    return out


def within_binomial(success: float, chance: float, n: int) -> bool:
    return abs(success - chance) <= 4 * math.sqrt(chance * (1 - chance) / n)


def test_fixed_lineages_are_linked() -> None:
    result = run_linkage(fixed_lineages(1), leak=0.2, seed=1)
    assert result.chance == pytest.approx(1 / MODELS)
    assert result.strategy == "lineage"
    # participants with no revealed opening (about 0.8**12 = 7 % of them) fall back to chance
    assert result.success >= 0.9
    assert result.n == len(PEOPLE) * ROUNDS - round(0.2 * len(PEOPLE) * ROUNDS)


@pytest.mark.parametrize("seed", [2, 3])
def test_the_pool_with_uninformative_channels_is_at_chance(seed: int) -> None:
    result = run_linkage(pooled(seed), leak=0.2, seed=seed)
    assert 1 / MODELS <= result.chance <= 1 / 2
    assert within_binomial(result.success, result.chance, result.n), result


def test_side_channels_that_reveal_the_model_still_link_through_the_pool() -> None:
    result = run_linkage(pooled(4, revealing=True), leak=0.2, seed=4)
    assert result.strategy.startswith("features")
    assert result.success >= 0.98


def test_without_any_leak_the_attack_can_only_guess_or_use_no_lineage() -> None:
    result = run_linkage(fixed_lineages(5), leak=0.0, seed=5)
    assert result.n == len(PEOPLE) * ROUNDS
    assert within_binomial(result.success, result.chance, result.n)


def test_the_attack_is_deterministic_in_its_seed() -> None:
    sightings = pooled(6)
    assert run_linkage(sightings, 0.3, 7) == run_linkage(sightings, 0.3, 7)


@pytest.mark.parametrize(
    ("sightings", "leak"),
    [
        ([], 0.1),
        ([Sighting("a", 0, 0, (1.0,)), Sighting("b", 0, 1, (1.0, 2.0))], 0.1),
        ([Sighting("a", 0, 0, (math.nan,))], 0.0),
        ([Sighting("a", 0, 0, ())], 1.0),
        ([Sighting("a", 0, 0, ())], -0.1),
    ],
)
def test_unusable_inputs_are_named_errors(sightings: list[Sighting], leak: float) -> None:
    with pytest.raises(LinkageError):
        run_linkage(sightings, leak, 0)


def test_the_attack_only_names_models_the_round_drew() -> None:
    """Lineage says model 0, but round 4 drew model 1 alone: the attack must say 1 there."""
    sightings = [
        Sighting(f"p{i}", r, 0 if r < 4 else 1, (float(i),)) for r in range(5) for i in range(4)
    ]
    result = run_linkage(sightings, leak=0.5, seed=3)
    assert result.chance == 1.0 and result.success == 1.0


def test_the_benchmark_runs_its_smoke_setting() -> None:
    script = Path(__file__).resolve().parents[4] / "benchmarks" / "bench_pool_linkage.py"
    done = subprocess.run(
        [sys.executable, str(script), "--quick"], capture_output=True, text=True, check=True
    )
    lines = done.stdout.splitlines()
    assert [line.split()[0] for line in lines[2:]] == ["no_pool", "pool", "pool_leaky_channel"]
