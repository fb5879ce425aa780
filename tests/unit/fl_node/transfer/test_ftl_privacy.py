"""What leaves each party: no rating, masked words uniform whatever the ratings, only the sum.

Every message of a run is captured as the bytes that crossed the :class:`Wire`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import stats

from fl_node.transfer import (
    Coordinator,
    Domain,
    DomainParty,
    MFConfig,
    Ratings,
    TargetParty,
    Wire,
    run_protocol,
    split_target,
)
from fl_node.transfer.experiment import parties
from fl_node.transfer.masking import decode, encode, unmasked_sum
from fl_node.transfer.messages import MaskedGradient, from_bytes
from fl_node.transfer.mf import Factors, gradients

MakeDomains = Callable[..., tuple[Domain, Domain]]
CONFIG = MFConfig(rank=3, lr=0.05, reg=0.5, epochs=12, patience=0)


def _run(target: Domain, source: Domain, seed: int = 0) -> tuple[Wire, TargetParty, DomainParty]:
    split = split_target(target.ratings, 0)
    shared = np.intersect1d(target.user_ids, source.user_ids)
    t, s = parties(target, split, source, shared, CONFIG, seed)
    wire = Wire(keep=True)
    run_protocol(t, s, Coordinator(CONFIG, seed + 2), wire=wire)
    return wire, t, s


def _sent_by(wire: Wire, sender: str) -> list[bytes]:
    return [r.data for r in wire.records if r.sender == sender and r.data is not None]


def _sequences(domain: Domain) -> list[bytes]:
    """Each user's and each item's ratings (at least two), and every rating, as a leak could."""
    r = domain.ratings
    out = [
        r.values.astype("<f8").tobytes(),
        r.values.astype("<f4").tobytes(),
        encode(r.values).tobytes(),
    ]
    for index in (r.users, r.items):
        for k in np.unique(index):
            values = r.values[index == k]
            if len(values) >= 2:
                out += [values.astype("<f8").tobytes(), encode(values).tobytes()]
    return out


def test_no_message_carries_a_rating_sequence(make_domains: MakeDomains) -> None:
    target, source = make_domains(1, ratings=500)
    wire, _, _ = _run(target, source)
    kinds = {r.kind for r in wire.records}
    assert kinds == {"PublicKey", "SharedShape", "SharedFactors", "MaskedGradient", "Control"}
    for domain in (target, source):
        sent = _sent_by(wire, domain.name)
        assert sent, domain.name
        for blob in sent:
            for sequence in _sequences(domain):
                assert sequence not in blob
    # the sanity check of the search itself: a message that did carry the ratings is caught
    leaky = b"header" + target.ratings.values.astype("<f8").tobytes()
    assert any(seq in leaky for seq in _sequences(target))


def test_masked_words_are_uniform_and_do_not_depend_on_the_ratings(
    make_domains: MakeDomains,
) -> None:
    target, source = make_domains(2, ratings=600)
    changed = Domain(
        "target",
        target.user_ids,
        target.item_ids,
        Ratings(target.ratings.users, target.ratings.items, 6.0 - target.ratings.values),
    )
    tops = []
    for domain in (target, changed):
        wire, _, _ = _run(domain, source)
        words = np.concatenate([from_bytes(b).words for b in _sent_by(wire, "target") if b[4] == 3])  # type: ignore[union-attr]
        top = (words >> np.uint64(56)).astype(np.int64)  # the top byte of each word
        counts = np.bincount(top, minlength=256)
        assert stats.chisquare(counts).pvalue > 1e-4
        tops.append(top)
    assert stats.ks_2samp(tops[0], tops[1]).pvalue > 1e-4
    # unmasked, the same words are far from uniform: the test can tell the difference
    plain = encode(np.random.default_rng(0).normal(0, 1, len(tops[0])))
    assert (
        stats.chisquare(
            np.bincount((plain >> np.uint64(56)).astype(np.int64), minlength=256)
        ).pvalue
        < 1e-6
    )


def test_the_coordinator_learns_the_sum_and_not_a_part(make_domains: MakeDomains) -> None:
    target, source = make_domains(3)
    wire, t, s = _run(target, source)
    first = [from_bytes(b) for b in _sent_by(wire, "target") if b[4] == 3]
    second = [from_bytes(b) for b in _sent_by(wire, "source") if b[4] == 3]
    assert isinstance(first[0], MaskedGradient) and isinstance(second[0], MaskedGradient)
    # recompute step 0's true gradients from each party's initial state
    fresh_t, fresh_s = (_fresh(p, target if p is t else source) for p in (t, s))
    total = decode(unmasked_sum(first[0].words, second[0].words))
    np.testing.assert_allclose(total[:-1], (fresh_t + fresh_s).ravel(), atol=1e-8)
    # one message alone decodes to noise of the size of the whole ring, not to the gradient
    alone = decode(first[0].words)[:-1]
    assert np.abs(alone).mean() > 1e6 * np.abs(fresh_t).mean()
    assert not np.allclose(alone, fresh_t.ravel(), atol=1.0)


def _fresh(party: DomainParty, domain: Domain) -> np.ndarray:
    """Step 0's gradient of the shared rows, recomputed from the party's seeds."""
    rng = np.random.default_rng({"target": 0, "source": 1}[party.name])
    local = Factors.init(len(party.local_rows), CONFIG.rank, rng, CONFIG.init_scale).stacked()
    items = Factors.init(len(domain.item_ids), CONFIG.rank, rng, CONFIG.init_scale).stacked()
    shared = Factors.init(
        party.n_shared, CONFIG.rank, np.random.default_rng(2), CONFIG.init_scale
    ).stacked()
    users = party.users(shared, local)
    g = gradients(users, Factors.from_stacked(items), party.mu, party.train)
    out = np.zeros((party.n_shared, CONFIG.rank + 1))
    out[party.shared_index] = g.users[party.shared_rows]
    return out
