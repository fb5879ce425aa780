"""The Paillier randomiser setting: agreed in the config, announced, checked, and both kinds exact.

Both settings (``"short-exponent"``, ``"textbook"``) must decrypt to the plaintext a brute-force
search finds (the only ``m`` for which ``c * (1 + n)**-m`` is an ``n``-th residue), whether the
encrypting party holds the key or not; the guest announces the setting in ``SessionMsg`` and
a host or arbiter configured otherwise refuses the session.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import gmpy2
import numpy as np
import pytest

from fl_node.vertical.crypto.paillier import (
    DEFAULT_RANDOMIZER,
    RANDOMIZERS,
    PaillierInputError,
    PaillierPrivateKey,
    PaillierPublicKey,
    encryption_mode,
    generate_keypair,
)
from fl_node.vertical.protocol import (
    CODEC,
    CipherUsageError,
    HeteroLRArbiter,
    HeteroLRConfig,
    HeteroLRConfigError,
    HeteroLRGuest,
    HeteroLRHost,
    OursSuite,
    PheSuite,
    run_session,
    taylor_lr_reference,
)
from fl_node.vertical.protocol.messages import MsgType, PublicKeyMsg
from fl_node.vertical.protocol.session import check_public_key
from fl_node.vertical.transport import LocalNetwork, MessageError
from kernel.errors import ProtocolError
from tests.support.threads import run_parties as run_roles

KEY_BITS = 512  # tests only: far below 112-bit security, but the arithmetic is the same
ROOT = Path(__file__).resolve().parents[4]
pytestmark = pytest.mark.filterwarnings("ignore")


@pytest.fixture(scope="module")
def keys() -> tuple[PaillierPublicKey, PaillierPrivateKey]:
    return generate_keypair(KEY_BITS)


def brute_force_plaintext(c: int, pk: PaillierPublicKey, sk: PaillierPrivateKey, span: int) -> int:
    """The unique ``m`` in ``[-span, span]`` with ``c * (1 + n)**-m`` an ``n``-th residue.

    ``x`` is an ``n``-th residue mod ``n**2`` iff ``x**lambda == 1`` (``lambda = lcm(p-1, q-1)``):
    no CRT, no ``L`` function, no fixed-point decoding: a reference independent of decryption.
    """
    n, nsq = int(pk.n), int(pk.nsquare)
    lam = int(gmpy2.lcm(int(sk.p) - 1, int(sk.q) - 1))
    found = [
        m for m in range(-span, span + 1) if pow(c * (1 - m * n) % nsq, lam, nsq) == 1
    ]  # (1 + n)**-m == 1 - m n (mod n**2)
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize("randomizer", RANDOMIZERS)
@pytest.mark.parametrize("key_holder", [False, True])
def test_each_randomizer_decrypts_to_the_brute_force_plaintext(
    keys: tuple[PaillierPublicKey, PaillierPrivateKey], randomizer: str, key_holder: bool
) -> None:
    pk, sk = keys
    suite = OursSuite(pk, sk if key_holder else None, randomizer=randomizer)  # type: ignore[arg-type]
    want = {"short-exponent": "fixed_base", "textbook": "crt" if key_holder else "textbook"}
    assert suite.encryptor.mode == want[randomizer]
    assert suite.randomizer == suite.encryptor.randomizer == randomizer
    values = [0, 1, -1, 7, -12, 12, 3]
    cv = suite.encryptor.encrypt_encoded(values, 0)
    cts = [int(c) for c in cv.raw_ciphertexts]
    assert [brute_force_plaintext(c, pk, sk, 12) for c in cts] == values
    assert sk.decrypt_vector_ints(cv) == values
    assert len(set(cts)) == len(cts)  # fresh randomness: equal plaintexts never collide
    again = suite.encryptor.encrypt_encoded([0, 0], 0).raw_ciphertexts
    assert int(again[0]) != int(again[1]) and int(again[0]) != cts[0]


def test_the_mode_mapping_refuses_unknown_names() -> None:
    assert encryption_mode("short-exponent", key_holder=True) == "fixed_base"
    assert encryption_mode("textbook") == "textbook"
    with pytest.raises(PaillierInputError):
        encryption_mode("fixed_base")
    with pytest.raises(CipherUsageError):
        OursSuite(generate_keypair(KEY_BITS)[0], randomizer="none")  # type: ignore[arg-type]
    with pytest.raises(HeteroLRConfigError, match="randomizer"):
        HeteroLRConfig(randomizer="r**n")  # type: ignore[arg-type]
    assert HeteroLRConfig().randomizer == DEFAULT_RANDOMIZER == "short-exponent"
    assert PheSuite.randomizer == "textbook"


CFG = HeteroLRConfig(batch_size=32, max_epochs=2, tol=0.0, key_bits=KEY_BITS, window_bits=6)


@pytest.mark.parametrize("randomizer", RANDOMIZERS)
def test_the_encrypting_parties_build_the_agreed_randomizer(
    keys: tuple[PaillierPublicKey, PaillierPrivateKey], randomizer: str
) -> None:
    pk, sk = keys
    ours = OursSuite(pk, sk)
    msg = PublicKeyMsg(
        session="s",
        cipher="ours",
        key_bits=pk.n_bits,
        fingerprint=ours.fingerprint,
        key=ours.public_key_bytes(),
    )
    cfg = replace(CFG, randomizer=randomizer)  # type: ignore[arg-type]
    suite = check_public_key(msg, "ours", cfg)
    assert isinstance(suite, OursSuite) and suite.private_key is None
    assert suite.encryptor.mode == encryption_mode(randomizer)
    assert suite.encryptor.randomizer == randomizer


def synthetic(n: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    xg = np.clip(rng.normal(size=(n, 2)), -3, 3)
    xh = np.clip(rng.normal(size=(n, 3)), -3, 3)
    y = ((xg.sum(axis=1) - xh.sum(axis=1) + 0.3 * rng.normal(size=n)) > 0).astype(np.float64)
    return xg, xh, y


def test_a_textbook_session_trains_the_plaintext_reference_weights() -> None:
    xg, xh, y = synthetic()
    cfg = replace(CFG, randomizer="textbook")
    net = LocalNetwork(["guest", "host", "arbiter"], codec=CODEC, timeout=60)
    tg, th, ta = (net.transport(r) for r in ("guest", "host", "arbiter"))
    g = HeteroLRGuest(xg, y, cfg, session="s")
    h = HeteroLRHost(xh, cfg, session="s")
    a = HeteroLRArbiter(cfg, session="s")
    run_roles(lambda: run_session(tg, g), lambda: run_session(th, h), lambda: run_session(ta, a))
    for party in (g, h):
        assert party.suite is not None and party.suite.randomizer == "textbook"
        assert isinstance(party.suite, OursSuite) and party.suite.encryptor.mode == "textbook"
    wg, wh, _ = taylor_lr_reference(xg, xh, y, cfg, session="s", epochs=cfg.max_epochs)
    np.testing.assert_allclose(g.w, wg, atol=1e-5)
    np.testing.assert_allclose(h.w, wh, atol=1e-5)


def test_a_peer_announcing_another_randomizer_is_refused() -> None:
    xg, xh, y = synthetic()
    fast = HeteroLRGuest(xg, y, CFG, session="s").session_message()
    assert fast.randomizer == CFG.randomizer == "short-exponent"
    cautious = replace(CFG, randomizer="textbook")
    host = HeteroLRHost(xh, cautious, session="s")
    arbiter = HeteroLRArbiter(cautious, session="s", suite=OursSuite(*generate_keypair(KEY_BITS)))
    with pytest.raises(ProtocolError, match="short-exponent"):
        host.receive_session(fast)
    with pytest.raises(ProtocolError, match="short-exponent"):
        arbiter.receive_session(fast)
    agreed = replace(fast, randomizer="textbook")
    assert host.receive_session(agreed).n_features == xh.shape[1]
    arbiter.receive_session(agreed)
    # On the wire: a setting outside the known ones never reaches the roles.
    forged = replace(fast, randomizer="none").encode()
    with pytest.raises(MessageError, match="randomizer"):
        CODEC.decode(int(MsgType.SESSION), forged)
    assert CODEC.decode(int(MsgType.SESSION), agreed.encode()) == agreed


def test_the_quick_paillier_benchmark_prints_both_randomizers() -> None:
    out = subprocess.run(
        [sys.executable, "benchmarks/bench_paillier.py", "--quick", "--bits", "1024"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    rows = {line.split("  ")[0] for line in out.splitlines()}
    for name in (
        "encrypt: short-exponent",
        "encrypt: textbook",
        "encrypt: CRT",
        "mini-batch step, short-exponent",
        "mini-batch step, textbook",
    ):
        assert any(r.startswith(name) for r in rows), (name, out)
