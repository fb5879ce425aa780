"""Client sampling: exact sizes, determinism, order independence, uniformity, fresh rounds."""

import itertools
import math
import random
from collections import Counter

import pytest
from Crypto.Hash import keccak as pycryptodome_keccak
from eth_abi.packed import encode_packed

from fl_node.errors import SpecError
from fl_node.strategies import ClientSampling, mix_seed, sample_clients, sample_size
from fl_node.strategies.sampling import MIX_TAG, TAG


def addresses(n, salt=0):
    rng = random.Random(1000 + salt)
    return [f"0x{rng.getrandbits(160):040x}" for _ in range(n)]


def reference_sample(participants, k, seed, round):
    """Solidity's ``keccak256(abi.encodePacked(TAG, seed, round, participant))``, k smallest."""

    def score(address):
        packed = encode_packed(
            ["bytes32", "uint256", "uint256", "address"], [TAG, seed, round, address]
        )
        return pycryptodome_keccak.new(digest_bits=256, data=packed).digest()

    ranked = sorted(participants, key=lambda a: score(a.lower()))
    return sorted(a.lower() for a in ranked[:k])


@pytest.mark.parametrize(("seed", "round"), [(0, 0), (42, 3), (2**256 - 1, 2**40)])
def test_matches_the_abi_encoded_keccak_reference(seed, round):
    people = addresses(12)
    chosen = sample_clients(people, 0.25, seed, round)
    assert [a.lower() for a in chosen] == reference_sample(people, 3, seed, round)


@pytest.mark.parametrize(
    ("num", "den"), [(1, 20), (1, 10), (1, 4), (3, 10), (1, 2), (7, 10), (1, 1)]
)
def test_the_size_is_the_exact_ceiling_and_at_least_one(num, den):
    fraction = num / den
    for n in range(0, 31):
        want = 0 if n == 0 else max(1, -(-num * n // den))  # integer ceiling of num * n / den
        assert sample_size(n, fraction) == want
        assert len(sample_clients(addresses(n), fraction, 5, 1)) == want


def test_a_tiny_fraction_still_chooses_one_and_the_whole_fraction_everyone():
    people = addresses(9)
    assert len(sample_clients(people, 1e-9, 0, 0)) == 1
    assert sorted(sample_clients(people, 1.0, 0, 0)) == sorted(people)
    assert sample_clients([], 0.5, 0, 0) == ()


def test_deterministic_and_independent_of_order_and_case():
    people = addresses(15)
    first = sample_clients(people, 0.4, 77, 9)
    shuffled = list(people)
    random.Random(3).shuffle(shuffled)
    upper = ["0x" + a[2:].upper() for a in shuffled]
    assert sample_clients(people, 0.4, 77, 9) == first
    assert sample_clients(shuffled, 0.4, 77, 9) == first
    assert [a.lower() for a in sample_clients(upper, 0.4, 77, 9)] == [a.lower() for a in first]
    assert list(first) == sorted(first)  # returned in address order
    assert set(first) <= set(people)


def test_rounds_and_seeds_give_different_choices():
    people = addresses(10)
    per_round = [sample_clients(people, 0.3, 11, r) for r in range(60)]
    changed = sum(a != b for a, b in itertools.pairwise(per_round))
    assert changed >= 55  # the same 3 of 10 again has probability 1/120 per pair
    assert len(set(per_round)) >= 40
    per_seed = {sample_clients(people, 0.3, s, 0) for s in range(60)}
    assert len(per_seed) >= 40


def test_each_participant_is_chosen_about_fraction_of_the_rounds():
    people = addresses(10, salt=1)
    rounds = 4000
    counts = Counter(a for r in range(rounds) for a in sample_clients(people, 0.3, 2024, r))
    mean, sd = rounds * 0.3, math.sqrt(rounds * 0.3 * 0.7)  # Binomial(4000, 0.3): 1200 +- 29
    assert set(counts) == set(people)
    assert all(abs(c - mean) < 5 * sd for c in counts.values()), counts
    # chi-square over the 10 participants (9 degrees of freedom; 0.1 % critical value 27.9)
    chi2 = sum((c - mean) ** 2 / mean for c in counts.values())
    assert chi2 < 27.9


def test_every_subset_is_about_equally_likely():
    people = addresses(5, salt=2)
    rounds = 5000
    subsets = Counter(sample_clients(people, 0.4, 9, r) for r in range(rounds))
    assert len(subsets) == math.comb(5, 2)
    expected = rounds / 10  # 500 each, sd about 21
    assert all(abs(c - expected) < 5 * math.sqrt(expected * 0.9) for c in subsets.values())


@pytest.mark.parametrize(
    ("people", "fraction", "seed", "round"),
    [
        (addresses(3), 0.0, 0, 0),
        (addresses(3), 1.5, 0, 0),
        (addresses(3), float("nan"), 0, 0),
        (addresses(3), True, 0, 0),
        (addresses(3), 0.5, -1, 0),
        (addresses(3), 0.5, 2**256, 0),
        (addresses(3), 0.5, 0, -1),
        (addresses(3), 0.5, 0, True),
        (addresses(3), 0.5, 1.0, 0),
        (["0x1234"], 0.5, 0, 0),
        (["not an address" + "0" * 40], 0.5, 0, 0),
        ([addresses(1)[0], addresses(1)[0].upper().replace("0X", "0x")], 0.5, 0, 0),
    ],
)
def test_bad_inputs_are_refused(people, fraction, seed, round):
    with pytest.raises(SpecError):
        sample_clients(people, fraction, seed, round)


def test_mix_seed_is_the_abi_encoded_keccak_and_changes_with_the_entropy():
    block = bytes(range(32))
    packed = encode_packed(["bytes32", "uint256", "bytes32"], [MIX_TAG, 99, block])
    want = int.from_bytes(pycryptodome_keccak.new(digest_bits=256, data=packed).digest(), "big")
    assert mix_seed(99, block) == want
    assert mix_seed(99, block[:-1] + b"\xff") != want
    assert mix_seed(98, block) != want
    for bad_seed, entropy in [(-1, block), (2**256, block), (1, b""), (1, "0xab")]:
        with pytest.raises(SpecError):
            mix_seed(bad_seed, entropy)


def test_the_spec_record_round_trips_and_refuses_junk():
    rule = ClientSampling(fraction=0.3, seed=2**255 + 1)
    assert ClientSampling.from_dict(rule.to_dict()) == rule
    assert rule.to_dict() == {"fraction": 0.3, "seed": str(2**255 + 1)}
    people = addresses(10)
    assert rule.choose(people, 4) == sample_clients(people, 0.3, 2**255 + 1, 4)
    assert ClientSampling().choose(people, 0) == tuple(sorted(people))
    junk = [
        {"fraction": 0.3},
        {"fraction": 0.3, "seed": 5},
        {"fraction": 0.3, "seed": "007"},
        {"fraction": 0.3, "seed": "-1"},
        {"fraction": 0.3, "seed": str(2**256)},
        {"fraction": "0.3", "seed": "1"},
        {"fraction": 0.3, "seed": "1", "extra": 1},
        [0.3, "1"],
    ]
    for raw in junk:
        with pytest.raises(SpecError):
            ClientSampling.from_dict(raw)
    with pytest.raises(SpecError):
        ClientSampling(fraction=float("nan"))
