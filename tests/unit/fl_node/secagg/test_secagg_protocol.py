"""A SecAgg+ round end to end: exact sums under dropouts, and what an attacking server gets.

- Sums: with no dropouts and with 30 % dropouts at every stage, the server's sum equals the plain
  sum in ``Z_2^32`` of the survivors' quantised updates, and the decoded sum is within the stated
  bound of the float sum; with too many dropouts the round fails with TooFewSurvivorsError.
- (1) A server that asks one client for both shares of a peer, asks twice, lists the client itself
  as dropped or claims fewer than ``t`` survivors is refused.
- (2) A tampered, redirected or replayed envelope, and a forged key share, are rejected.
- (3) Nothing the server received holds a client's quantised update: no masked input equals or
  correlates with it, the masked inputs' bits and bytes are uniform (chi-square) although the
  updates are far from uniform, no client's b and s_sk shares are both revealed, and ``t - 1``
  shares of a seed do not rebuild it.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy.stats import chisquare

from fl_node.secagg import (
    SecAggClient,
    SecAggProtocolError,
    SecAggServer,
    ShareIntegrityError,
    Stage,
    TooFewSurvivorsError,
    UnmaskRefusedError,
    random_dropouts,
    round_config,
    run_secagg,
)
from fl_node.secagg.crypto import mask_words
from fl_node.secagg.messages import (
    Envelope,
    MaskedInput,
    Relay,
    RevealedShare,
    UnmaskRequest,
    UnmaskShares,
    decode,
)
from fl_node.secagg.shamir import SHARE_BYTES, Share, combine_int

D = 2000


def updates(n: int, seed: int = 0) -> np.ndarray:
    """Structured updates (small, smooth, far from uniform words)."""
    rng = np.random.default_rng(seed)
    return 0.01 * np.sin(np.arange(D) / 50.0)[None, :] + rng.normal(0, 0.02, (n, D))


def plain_words(result, values: np.ndarray) -> np.ndarray:
    fp = result.config.fixed_point
    total = sum(fp.encode(values[u]).astype(np.uint64) for u in result.aggregate.survivors)
    return (total % 2**32).astype(np.uint32)


@pytest.mark.parametrize(
    ("n", "dropouts"),
    [
        (10, {}),
        (10, {1: Stage.ADVERTISE, 4: Stage.SHARE, 8: Stage.MASK}),
        (10, {2: Stage.MASK, 5: Stage.MASK, 9: Stage.MASK}),
        (10, {0: Stage.SHARE, 3: Stage.SHARE, 6: Stage.SHARE}),
        (30, random_dropouts(30, 0.3, seed=4)),
    ],
)
def test_the_sum_is_the_plain_sum_of_the_survivors(n: int, dropouts: dict[int, Stage]) -> None:
    values = updates(n)
    result = run_secagg(values, dropouts=dropouts, seed=n)
    gone = {u for u, s in dropouts.items() if s in (Stage.ADVERTISE, Stage.SHARE)}
    assert set(result.aggregate.survivors) == set(range(n)) - gone
    assert np.array_equal(result.aggregate.words, plain_words(result, values))
    survivors = list(result.aggregate.survivors)
    error = np.abs(result.aggregate.total - values[survivors].sum(axis=0)).max()
    assert error <= result.aggregate.bound


def test_a_sparse_graph_sums_exactly_and_fails_by_name_when_a_neighbourhood_empties() -> None:
    values = updates(20, seed=1)
    result = run_secagg(values, dropouts=random_dropouts(20, 0.3, seed=1), neighbours=6, seed=3)
    assert result.config.degree == 6 and result.config.threshold == 4
    assert np.array_equal(result.aggregate.words, plain_words(result, values))
    with pytest.raises(TooFewSurvivorsError, match="shares of client"):
        run_secagg(values, dropouts=random_dropouts(20, 0.3, seed=2), neighbours=6, seed=3)


def test_the_default_graph_is_sparse_at_101_clients_and_survives_30_percent() -> None:
    values = np.random.default_rng(0).uniform(-1, 1, (101, 40))
    result = run_secagg(values, dropouts=random_dropouts(101, 0.3, seed=0), seed=1)
    assert result.config.degree < 100
    assert np.array_equal(result.aggregate.words, plain_words(result, values))


def test_too_many_dropouts_fail_with_a_named_error() -> None:
    with pytest.raises(TooFewSurvivorsError):
        run_secagg(updates(10), dropouts=dict.fromkeys(range(6), Stage.ADVERTISE))
    with pytest.raises(TooFewSurvivorsError):
        run_secagg(updates(10), dropouts=dict.fromkeys(range(6), Stage.MASK))


class Round:
    """A round driven by hand up to the unmask request, for the attacks."""

    def __init__(self, n: int = 6, round_: int = 0) -> None:
        config = round_config(n, D, round_=round_)
        self.config = config
        self.values = updates(n)
        self.server = SecAggServer(config)
        self.clients = [SecAggClient(config, u, self.values[u]) for u in range(n)]
        keys = self.server.receive_keys([c.advertise() for c in self.clients])
        self.shares = [c.share_keys(keys) for c in self.clients]
        self.relays = self.server.receive_shares(self.shares)

    def mask(self) -> bytes:
        masked = [c.masked_input(self.relays[c.id]) for c in self.clients]
        return self.server.receive_masked(masked)


def test_no_client_reveals_both_shares_of_a_peer_nor_answers_twice() -> None:
    r = Round()
    request = decode(r.mask(), UnmaskRequest)
    both = UnmaskRequest(request.round, request.survivors, (3,)).to_bytes()
    with pytest.raises(UnmaskRefusedError):
        r.clients[0].unmask(both)
    me_dropped = UnmaskRequest(request.round, (1, 2, 3, 4, 5), (0,)).to_bytes()
    with pytest.raises(UnmaskRefusedError):
        r.clients[0].unmask(me_dropped)
    too_few = UnmaskRequest(request.round, (1, 2), (0, 3, 4, 5)).to_bytes()
    with pytest.raises(UnmaskRefusedError):
        r.clients[1].unmask(too_few)
    answer = decode(r.clients[2].unmask(request.to_bytes()), UnmaskShares)
    assert {s.owner for s in answer.self_mask} == set(range(6)) and not answer.secret_key
    claims_3_dropped = UnmaskRequest(request.round, (0, 1, 2, 4, 5), (3,)).to_bytes()
    with pytest.raises(UnmaskRefusedError):
        r.clients[2].unmask(claims_3_dropped)


def test_a_tampered_redirected_or_replayed_envelope_is_rejected() -> None:
    r = Round()
    relay = decode(r.relays[0], Relay)
    first = relay.envelopes[0]
    flipped = bytearray(first.sealed)
    flipped[20] ^= 1
    forged = [
        Envelope(first.sender, first.recipient, bytes(flipped)),
        Envelope(relay.envelopes[1].sender, first.recipient, first.sealed),
    ]
    for bad in forged:
        envelopes = (bad, *relay.envelopes[1:]) if bad.sender == first.sender else (bad,)
        with pytest.raises(ShareIntegrityError):
            SecAggClient.masked_input(_rewound(r.clients[0]), Relay(0, 0, envelopes).to_bytes())
    twice = Relay(0, 0, (first, first)).to_bytes()
    with pytest.raises(ShareIntegrityError):
        _rewound(r.clients[0]).masked_input(twice)
    later = Round(round_=1)
    old = Relay(1, 0, (first,)).to_bytes()
    with pytest.raises(ShareIntegrityError):
        later.clients[0].masked_input(old)
    assert decode(_rewound(r.clients[0]).masked_input(r.relays[0]), MaskedInput).sender == 0


def test_messages_round_trip_and_malformed_bytes_are_refused() -> None:
    r = Round()
    relay = decode(r.relays[2], Relay)
    assert decode(relay.to_bytes(), Relay) == relay and relay.to_bytes() == r.relays[2]
    for bad in (r.relays[2][:-1], r.relays[2] + b"\0"):
        with pytest.raises(SecAggProtocolError):
            decode(bad, Relay)
    with pytest.raises(SecAggProtocolError):
        decode(r.relays[2], MaskedInput)
    with pytest.raises(SecAggProtocolError):
        r.server.receive_shares(r.shares[:1])


def _rewound(client: SecAggClient) -> SecAggClient:
    """A copy of ``client`` as it was before stage 2 (its keys, no shares received yet)."""
    copy = object.__new__(SecAggClient)
    copy.__dict__.update(client.__dict__)
    copy._held = {u: s for u, s in client._held.items() if u == client.id}
    copy._next = Stage.MASK
    return copy


def test_a_forged_key_share_is_caught_by_the_server() -> None:
    r = Round()
    r.clients = r.clients[:5]
    request = r.mask()
    answers = [decode(c.unmask(request), UnmaskShares) for c in r.clients]
    assert all(s.owner == 5 for a in answers for s in a.secret_key)
    first = answers[0]
    bad = RevealedShare(
        5, (int.from_bytes(first.secret_key[0].value, "big") ^ 1).to_bytes(SHARE_BYTES, "big")
    )
    answers[0] = dataclasses.replace(first, secret_key=(bad,))
    with pytest.raises(ShareIntegrityError):
        r.server.receive_unmask([a.to_bytes() for a in answers])


def test_the_server_view_holds_no_update() -> None:
    n = 10
    values = updates(n)
    result = run_secagg(values, dropouts={7: Stage.SHARE, 8: Stage.MASK}, seed=5)
    fp = result.config.fixed_point
    encoded = {u: fp.encode(values[u]) for u in range(n)}
    payloads = [m.payload for m in result.server_view]
    for words in encoded.values():
        assert not any(words[:16].tobytes() in p for p in payloads)
    masked = [decode(m.payload, MaskedInput) for m in result.server_view if m.stage is Stage.MASK]
    assert len(masked) == 9
    for m in masked:
        y = m.array().astype(np.float64)
        assert abs(np.corrcoef(y, encoded[m.sender].astype(np.float64))[0, 1]) < 0.1
    all_masked = np.concatenate([m.array() for m in masked])
    all_plain = np.concatenate([encoded[m.sender] for m in masked])
    assert uniform(all_masked) and not uniform(all_plain)
    unmask = [
        decode(m.payload, UnmaskShares) for m in result.server_view if m.stage is Stage.UNMASK
    ]
    b_owners = {s.owner for a in unmask for s in a.self_mask}
    s_owners = {s.owner for a in unmask for s in a.secret_key}
    assert b_owners == set(result.aggregate.survivors) and s_owners == {7}
    assert not b_owners & s_owners


def uniform(words: np.ndarray) -> bool:
    """Each of the 32 bits set about half the time and the bytes fit uniform (chi-square)."""
    bits = (words[:, None] >> np.arange(32, dtype=np.uint32)) & 1
    balanced = bool(np.all(np.abs(bits.mean(axis=0) - 0.5) < 0.02))
    counts = np.bincount(words.view(np.uint8), minlength=256)
    return balanced and chisquare(counts).pvalue > 1e-4


def test_fewer_than_t_revealed_shares_do_not_rebuild_a_seed() -> None:
    r = Round()
    request = r.mask()
    answers = [decode(c.unmask(request), UnmaskShares) for c in r.clients]
    t = r.config.threshold
    shares = [
        Share(a.sender + 1, int.from_bytes(s.value, "big"))
        for a in answers
        for s in a.self_mask
        if s.owner == 0
    ]
    seed = combine_int(shares[:t]).to_bytes(32, "big")
    assert np.array_equal(mask_words(seed, 8), mask_words(r.clients[0]._b, 8))
    assert combine_int(shares[: t - 1]) != int.from_bytes(r.clients[0]._b, "big")
