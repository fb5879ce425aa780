"""Tests of the PSI protocols: correctness, what crosses the wire, what each side learns."""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Callable
from typing import Any, Literal

import gmpy2
import pytest

from fl_node.vertical.crypto.psi import (
    BlindedSet,
    EcdhOprfPsiGuest,
    EcdhOprfPsiHost,
    EcdhPsiParty,
    EcPublicKey,
    IntersectionIndices,
    Loopback,
    PsiError,
    PsiProtocolError,
    PsiResult,
    RsaPsiGuest,
    RsaPsiHost,
    RsaPublicKey,
    SetKind,
    _rsa,
    _secp,
    digest_width,
    ecdh_psi,
    encode_id,
    intersection_commitment,
    make_executor,
    rsa_psi,
)
from fl_node.vertical.crypto.psi._common import match_positions

RSA_BITS = 1024  # the smallest accepted size keeps the suite fast; production default is 2048

Runner = Callable[..., PsiResult]


def _oprf(guest: Any, host: Any, **kw: Any) -> PsiResult:
    return ecdh_psi(guest, host, variant="oprf", **kw)


def _commutative(guest: Any, host: Any, **kw: Any) -> PsiResult:
    return ecdh_psi(guest, host, variant="commutative", **kw)


def _rsa_run(guest: Any, host: Any, **kw: Any) -> PsiResult:
    kw.setdefault("seed", b"rsa-test-key")
    return rsa_psi(guest, host, bits=RSA_BITS, **kw)


PROTOCOLS = [
    pytest.param(_oprf, id="ecdh-oprf"),
    pytest.param(_commutative, id="ecdh-commutative"),
    pytest.param(_rsa_run, id="rsa"),
]


def _overlapping(
    rng: random.Random, n_guest: int, n_host: int, shared: int
) -> tuple[list[str], ...]:
    universe = [f"cust-{rng.getrandbits(64):016x}" for _ in range(n_guest + n_host)]
    common = universe[:shared]
    guest = common + universe[shared:n_guest]
    host = common + universe[n_guest : n_guest + n_host - shared]
    rng.shuffle(guest)
    rng.shuffle(host)
    return guest, host


# --------------------------------------------------------------------- correctness


@pytest.mark.parametrize("run", PROTOCOLS)
@pytest.mark.parametrize(("n_guest", "n_host", "shared"), [(300, 500, 120), (257, 64, 64)])
def test_random_sets_with_controlled_overlap(
    run: Runner, n_guest: int, n_host: int, shared: int
) -> None:
    guest, host = _overlapping(random.Random(n_guest * 7 + shared), n_guest, n_host, shared)
    expected = set(guest) & set(host)
    assert len(expected) == shared

    result = run(guest, host)

    assert set(result.intersection) == expected
    assert len(result.intersection) == shared  # no duplicates
    assert result.host_intersection is not None and set(result.host_intersection) == expected
    # returned in the guest's (resp. host's) input order
    assert result.intersection == [x for x in guest if x in expected]
    assert result.host_intersection == [y for y in host if y in expected]
    assert result.messages >= 4 and result.seconds > 0
    assert result.bytes_sent["guest"] > 0 and result.bytes_sent["host"] > 0


@pytest.mark.parametrize("run", PROTOCOLS)
def test_duplicates_are_set_semantics(run: Runner) -> None:
    guest = ["a", "b", "b", "c", "a", 7, 7]
    host = ["b", "b", "c", "d", 7, "a", "a"]
    result = run(guest, host)
    assert result.intersection == ["a", "b", "c", 7]
    assert result.host_intersection == ["b", "c", 7, "a"]


@pytest.mark.parametrize("run", PROTOCOLS)
@pytest.mark.parametrize(
    ("guest", "host"),
    [([], []), ([], ["x", "y"]), (["x", "y"], []), (["a", "b", "c"], ["d", "e"])],
    ids=["both-empty", "guest-empty", "host-empty", "disjoint"],
)
def test_empty_and_disjoint(run: Runner, guest: list[str], host: list[str]) -> None:
    result = run(guest, host)
    assert result.intersection == []
    assert result.host_intersection == []


@pytest.mark.parametrize("run", PROTOCOLS)
def test_unicode_int_and_bytes_ids_are_typed(run: Runner) -> None:
    guest: list[Any] = ["naïve", "東京", "🙂", "1", 1, -5, 2**200, b"\x00raw", "e\u0301", 0]
    host: list[Any] = ["🙂", 1, "東京", b"\x00raw", -5, 2**200, "é", "naive", "0", b"1"]
    result = run(guest, host)
    # "1" != 1, "e\u0301" != "\u00e9" (no normalisation), 0 != "0"
    assert set(result.intersection) == {"🙂", 1, "東京", b"\x00raw", -5, 2**200}
    assert result.intersection == [x for x in guest if x in result.intersection]


def test_brute_force_reference_on_small_universes() -> None:
    rng = random.Random(2024)
    universe: list[Any] = [*range(12), *(f"id{i}" for i in range(12))]
    for trial in range(25):
        guest = rng.sample(universe, rng.randint(0, 12))
        host = rng.sample(universe, rng.randint(0, 12))
        reference = [g for g in guest if any(type(g) is type(h) and g == h for h in host)]
        variant: Literal["oprf", "commutative"] = "oprf" if trial % 2 else "commutative"
        assert ecdh_psi(guest, host, variant=variant).intersection == reference
        if trial < 4:
            assert _rsa_run(guest, host).intersection == reference


def test_parallel_workers_match_single_process() -> None:
    guest, host = _overlapping(random.Random(5), 2600, 2300, 900)
    expected = set(guest) & set(host)
    with make_executor(2) as pool:
        for variant in ("oprf", "commutative"):
            result = ecdh_psi(guest, host, variant=variant, workers=2, executor=pool)
            assert set(result.intersection) == expected, variant
    single = ecdh_psi(guest, host, workers=1, seed=b"s")
    owned_pool = ecdh_psi(guest, host, workers=2, seed=b"s")
    assert single.intersection == owned_pool.intersection


def test_seeded_runs_are_reproducible_and_unseeded_are_not() -> None:
    guest, host = _overlapping(random.Random(1), 50, 60, 20)
    t1: list[tuple[str, bytes]] = []
    t2: list[tuple[str, bytes]] = []
    t3: list[tuple[str, bytes]] = []
    ecdh_psi(guest, host, seed=b"fixed", transcript=t1)
    ecdh_psi(guest, host, seed=b"fixed", transcript=t2)
    ecdh_psi(guest, host, transcript=t3)
    assert t1 == t2
    assert [raw for _, raw in t1] != [raw for _, raw in t3]


# --------------------------------------------------------------------- what crosses the wire


def _plain_forms(value: Any) -> list[bytes]:
    enc = encode_id(value)
    forms = [enc, enc[1:]] if len(enc) > 4 else [enc]
    if isinstance(value, str):
        forms.append(value.encode("utf-16-le"))
    return forms


def _ec_hash_forms(value: Any) -> list[bytes]:
    point = _secp.hash_to_curve(value)
    ell = hashlib.sha512(_secp._DST_H2C + encode_id(value)).digest()
    return [point, point[1:33], point[1:11], point[33:], ell[:16], ell[32:48]]


@pytest.mark.parametrize("variant", ["oprf", "commutative"])
def test_ecdh_transcript_has_no_plaintext_and_no_unblinded_hash(
    variant: Literal["oprf", "commutative"],
) -> None:
    guest, host = _overlapping(random.Random(9), 120, 150, 40)
    transcript: list[tuple[str, bytes]] = []
    result = ecdh_psi(guest, host, variant=variant, transcript=transcript)
    assert {sender for sender, _ in transcript} == {"guest", "host"}
    wire = b"".join(raw for _, raw in transcript)
    assert len(transcript) == result.messages
    assert sum(len(raw) for _, raw in transcript) == sum(result.bytes_sent.values())
    for value in set(guest) | set(host):
        for form in _plain_forms(value) + _ec_hash_forms(value):
            assert form not in wire, (value, form)


def test_rsa_transcript_has_no_plaintext_no_fdh_and_no_unblinded_signature() -> None:
    guest, host = _overlapping(random.Random(10), 60, 80, 25)
    transcript: list[tuple[str, bytes]] = []
    seed = b"rsa-test-key"
    rsa_psi(guest, host, bits=RSA_BITS, seed=seed, transcript=transcript)
    # the same seed regenerates the host's key, so we can recompute what must stay hidden
    key = RsaPsiHost([], bits=RSA_BITS, seed=seed)._key
    wire = b"".join(raw for _, raw in transcript)
    for value in set(guest) | set(host):
        h = _rsa.fdh([value], key.n)[0]
        sig = int(gmpy2.powmod(h, _private_exponent(key), key.n))
        for form in _plain_forms(value):
            assert form not in wire
        assert int(h).to_bytes(key.size, "big") not in wire
        assert sig.to_bytes(key.size, "big") not in wire
    # the guest's non-shared ids do not appear even as signature digests
    guest_only = set(guest) - set(host)
    for value in guest_only:
        h = _rsa.fdh([value], key.n)[0]
        sig = gmpy2.powmod(h, _private_exponent(key), key.n)
        digest = _rsa._digest(sig, key.size, digest_width(len(guest), len(host)))
        assert digest not in wire


def _private_exponent(key: _rsa.RsaPrivateKey) -> int:
    return int(gmpy2.invert(key.e, (key.p - 1) * (key.q - 1)))


def test_blinded_sets_are_shuffled() -> None:
    ids = [f"row-{i}" for i in range(200)]
    party = EcdhPsiParty(ids, "guest", seed=b"shuffle")
    sent = party.blinded_ids()
    order = party._order
    assert order is not None and sorted(order.tolist()) == list(range(200))
    assert order.tolist() != list(range(200))
    in_input_order = _secp.task_hash_mul(ids, party._scalar, 0)
    assert sent.data != in_input_order
    rows = [in_input_order[i * 65 : (i + 1) * 65] for i in range(200)]
    assert sent.data == b"".join(rows[i] for i in order.tolist())
    other = EcdhPsiParty(ids, "guest")
    other.blinded_ids()
    assert other._order is not None and other._order.tolist() != order.tolist()


def test_oprf_guest_points_are_additively_blinded() -> None:
    ids = ["alice", "bob", "carol"]
    guest = EcdhOprfPsiGuest(ids, seed=b"g")
    sent = guest.blinded_ids()
    assert sent.kind is SetKind.EC_POINT and sent.count == 3
    hashes = {_secp.hash_to_curve(x) for x in ids}
    rows = {sent.data[i * 65 : (i + 1) * 65] for i in range(3)}
    assert not rows & hashes
    assert guest._blinding is not None
    factors = [guest._blinding[i * 32 : (i + 1) * 32] for i in range(3)]
    assert len(set(factors)) == 3


# --------------------------------------------------------------------- who learns what


def test_host_learns_nothing_without_reveal() -> None:
    guest, host = _overlapping(random.Random(3), 40, 40, 10)
    transcript: list[tuple[str, bytes]] = []
    result = ecdh_psi(guest, host, reveal_to_host=False, transcript=transcript)
    assert result.host_intersection is None
    assert len(result.intersection) == 10
    # the guest sent exactly one message: its blinded points, nothing derived from the result
    guest_msgs = [raw for sender, raw in transcript if sender == "guest"]
    assert len(guest_msgs) == 1
    assert BlindedSet.from_bytes(guest_msgs[0]).count == 40


def test_host_side_state_and_output() -> None:
    guest, host = _overlapping(random.Random(4), 30, 50, 12)
    expected = set(guest) & set(host)
    loopback = Loopback()
    h = EcdhOprfPsiHost(host, seed=b"h")
    g = EcdhOprfPsiGuest(guest, seed=b"g")
    public = loopback.send("host", h.public_key())
    evaluated = loopback.send("host", h.evaluate(loopback.send("guest", g.blinded_ids())))
    host_set = loopback.send("host", h.blinded_ids())
    assert set(g.intersect(evaluated, host_set, public)) == expected
    # before the reveal the host holds only its own ids and the guest's random points
    assert set(h._table.ids) == set(host)
    assert h._matched_peer_positions is None
    message = g.intersection_message()
    assert len(message.positions) == len(expected)
    revealed = h.receive_intersection(loopback.send("guest", message))
    assert set(revealed) == expected and set(revealed) <= set(host)
    with pytest.raises(PsiError):
        EcdhOprfPsiGuest(["x"]).intersection_message()


def test_commutative_party_steps() -> None:
    guest = EcdhPsiParty(["a", "b", "c"], "guest", seed=b"1")
    host = EcdhPsiParty(["c", "a", "z", "y"], "host", seed=b"2")
    g1, h1 = guest.blinded_ids(), host.blinded_ids()
    assert guest.blinded_ids() is g1  # blinded once
    g2 = host.double_blind(g1)
    h2 = guest.double_blind(h1)
    assert g2.kind is SetKind.DIGEST and g2.width == digest_width(3, 4) and g2.count == 3
    assert guest.intersect(g2, h2) == ["a", "c"]
    assert host.receive_intersection(guest.intersection_message()) == ["c", "a"]
    with pytest.raises(ValueError):
        EcdhPsiParty([], "referee")


# --------------------------------------------------------------------- RSA specifics


def test_rsa_blinding_factors_are_invertible_and_distinct() -> None:
    ids = [f"acct-{i}" for i in range(64)]
    host = RsaPsiHost(["acct-1"], bits=RSA_BITS, seed=b"k")
    public = host.public_key()
    guest = RsaPsiGuest(ids, seed=b"g")
    blinded = guest.blinded_ids(public)
    factors = guest._blinding_factors()
    assert len(factors) == len(ids) == blinded.count
    assert len({int(r) for r in factors}) == len(ids)
    assert all(gmpy2.gcd(r, public.n) == 1 and r > 1 for r in factors)
    assert guest._order is not None
    sent_ids = [ids[i] for i in guest._order.tolist()]
    size = public.size
    for i, (value, r) in enumerate(zip(sent_ids, factors, strict=True)):
        y = int.from_bytes(blinded.data[i * size : (i + 1) * size], "big")
        h = _rsa.fdh([value], public.n)[0]
        assert y == h * gmpy2.powmod(r, public.e, public.n) % public.n
        assert y != h
        assert gmpy2.invert(r, public.n) * r % public.n == 1


def test_rsa_key_and_signature_checks() -> None:
    host = RsaPsiHost(["a", "b"], bits=RSA_BITS, seed=b"k")
    public = host.public_key()
    assert public.n.bit_length() == RSA_BITS and public.e == 65537
    guest = RsaPsiGuest(["a", "q"], seed=b"g")
    signed = host.sign_blinded(guest.blinded_ids(public))
    host_set = host.blinded_ids()
    # a tampered signature does not verify on the guest side
    bad = bytearray(signed.data)
    bad[5] ^= 1
    with pytest.raises(PsiProtocolError):
        guest.intersect(BlindedSet(SetKind.RSA_RESIDUE, signed.width, bytes(bad)), host_set)
    assert guest.intersect(signed, host_set) == ["a"]
    # a value >= n is rejected by the signer
    too_big = BlindedSet(SetKind.RSA_RESIDUE, public.size, b"\xff" * public.size)
    with pytest.raises(PsiProtocolError):
        host.sign_blinded(too_big)
    with pytest.raises(PsiProtocolError):
        RsaPublicKey(public.n, 4)
    with pytest.raises(PsiProtocolError):
        RsaPublicKey(2**511 + 1, 65537)
    assert RsaPublicKey.from_bytes(public.to_bytes()) == public


# --------------------------------------------------------------------- messages


def test_message_roundtrips_and_validation() -> None:
    points = b"".join(_secp.hash_to_curve(f"p{i}") for i in range(3))
    msg = BlindedSet(SetKind.EC_POINT, 65, points)
    assert BlindedSet.from_bytes(msg.to_bytes()) == msg
    raw = msg.to_bytes()
    with pytest.raises(PsiProtocolError):
        BlindedSet.from_bytes(raw[:-1])  # truncated
    with pytest.raises(PsiProtocolError):
        BlindedSet.from_bytes(b"BADMAG" + raw[6:])  # bad magic
    with pytest.raises(PsiProtocolError):
        IntersectionIndices.from_bytes(raw)  # wrong message type
    with pytest.raises(PsiProtocolError):
        BlindedSet(SetKind.EC_POINT, 65, b"\x02" + points[1:])  # compressed prefix
    with pytest.raises(PsiProtocolError):
        BlindedSet(SetKind.DIGEST, 2, b"abcd")  # width too small
    digests = BlindedSet(SetKind.DIGEST, 10, bytes(range(30)))
    assert BlindedSet.from_bytes(digests.to_bytes()) == digests
    indices = IntersectionIndices((0, 5, 9))
    assert IntersectionIndices.from_bytes(indices.to_bytes()) == indices
    with pytest.raises(PsiProtocolError):
        IntersectionIndices((3, 1))
    key = EcPublicKey(_secp.base_multiple(12345))
    assert EcPublicKey.from_bytes(key.to_bytes()) == key
    with pytest.raises(PsiProtocolError):
        EcPublicKey(key.point[:-1] + bytes([key.point[-1] ^ 1]))


@pytest.mark.parametrize("variant", ["oprf", "commutative"])
def test_off_curve_points_are_rejected(variant: str) -> None:
    points = bytearray(b"".join(_secp.hash_to_curve(f"p{i}") for i in range(4)))
    points[65 * 2 + 64] ^= 1  # flip a bit of the third point's y
    bad = BlindedSet(SetKind.EC_POINT, 65, bytes(points))
    party: Any = EcdhOprfPsiHost(["x"]) if variant == "oprf" else EcdhPsiParty(["x"], "host")
    step = party.evaluate if variant == "oprf" else party.double_blind
    with pytest.raises(PsiProtocolError, match="#2"):
        step(bad)


def test_host_rejects_out_of_range_indices() -> None:
    host = EcdhOprfPsiHost(["a", "b"])
    host.evaluate(EcdhOprfPsiGuest(["a"]).blinded_ids())
    host.blinded_ids()
    with pytest.raises(PsiProtocolError):
        host.receive_intersection(IntersectionIndices((0, 2)))


def test_mismatched_widths_and_counts_are_errors() -> None:
    guest = EcdhPsiParty(["a", "b"], "guest")
    guest.blinded_ids()
    good = BlindedSet(SetKind.DIGEST, digest_width(2, 3), bytes(digest_width(2, 3) * 3))
    with pytest.raises(PsiError):
        guest.intersect(BlindedSet(SetKind.DIGEST, 12, bytes(24)), good)
    with pytest.raises(PsiProtocolError):
        guest.intersect(good, good)  # 3 rows where 2 were expected


# --------------------------------------------------------------------- helpers


def test_digest_width_follows_the_collision_bound() -> None:
    assert digest_width(100_000, 100_000) == 10
    assert digest_width(1_000_000, 1_000_000) == 11
    assert digest_width(0, 0) == 8
    for a, b in [(10, 10), (10**5, 10**6), (10**7, 10**7), (2**31, 2**31)]:
        width = digest_width(a, b)
        assert (a + b) ** 2 / 2 * 2.0 ** (-8 * width) <= 2.0**-40 or width == 32
        assert width <= 32


def test_match_positions_numpy_and_fallback_agree() -> None:
    rng = random.Random(8)
    peer_rows = [rng.randbytes(10) for _ in range(500)]
    mine_rows = [rng.randbytes(10) for _ in range(300)] + peer_rows[100:150]
    rng.shuffle(mine_rows)
    mine, peer = b"".join(mine_rows), b"".join(peer_rows)
    got = match_positions(mine, peer, 10)
    expected = [(i, peer_rows.index(r)) for i, r in enumerate(mine_rows) if r in peer_rows]
    assert list(zip(*got, strict=True)) == expected
    # two peer rows sharing an 8-byte prefix force the dictionary path
    peer_rows[1] = peer_rows[0][:8] + b"zz"
    got = match_positions(b"".join(mine_rows), b"".join(peer_rows), 10)
    expected = [(i, peer_rows.index(r)) for i, r in enumerate(mine_rows) if r in peer_rows]
    assert list(zip(*got, strict=True)) == expected


def test_encode_id_is_typed_and_rejects_bool() -> None:
    assert encode_id("1") != encode_id(1) != encode_id(b"1")
    assert encode_id(-1) == b"i\xff" and encode_id(255) == b"i\x00\xff"
    numpy = pytest.importorskip("numpy")
    assert encode_id(numpy.int64(7)) == encode_id(7)
    for bad in (True, 1.5, None, ("a",)):
        with pytest.raises(TypeError):
            encode_id(bad)
    with pytest.raises(TypeError):
        ecdh_psi([1, True], [1])


def test_intersection_commitment() -> None:
    salt = bytes(range(16))
    c1 = intersection_commitment(["b", "a", 3], salt)
    assert len(c1) == 32
    assert c1 == intersection_commitment([3, "a", "b", "a"], salt)
    assert c1 != intersection_commitment(["b", "a", "3"], salt)
    assert c1 != intersection_commitment(["b", "a", 3], bytes(16))
    assert intersection_commitment([], salt) != intersection_commitment([""], salt)
    with pytest.raises(ValueError):
        intersection_commitment(["a"], b"short")
    result = ecdh_psi(["x", "y", "z"], ["z", "x"])
    assert result.host_intersection is not None
    assert intersection_commitment(result.intersection, salt) == intersection_commitment(
        result.host_intersection, salt
    )


def test_floor_kernel_reports_a_positive_time() -> None:
    per_mult = _secp.task_floor(50)
    assert 0 < per_mult < 0.01
    assert math.isfinite(per_mult)
