"""Hetero LR: protocol = plaintext Taylor-LR, what each role receives, message validation.

Parties run as threads over an in-memory network that encodes, counts and decodes every
message exactly as the TLS transport does; every received message is recorded.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import gmpy2
import numpy as np
import pytest

from fl_node.vertical.crypto.paillier import CipherVector, generate_keypair
from fl_node.vertical.data import PartyTable
from fl_node.vertical.protocol import (
    CODEC,
    CipherSuiteError,
    HeteroLRArbiter,
    HeteroLRConfig,
    HeteroLRGuest,
    HeteroLRHost,
    HostModel,
    OursSuite,
    PheSuite,
    host_answer_predict,
    run_session,
    schedule,
    taylor_lr_reference,
    unmask,
)
from fl_node.vertical.protocol.messages import (
    EpochPlanMsg,
    EpochResultMsg,
    ForwardMsg,
    GradientMsg,
    HostInfoMsg,
    MaskedMsg,
    PartialScoresMsg,
    PredictRequestMsg,
    PsiBlindedMsg,
    PsiEvaluatedMsg,
    PsiHostSetMsg,
    PsiIndicesMsg,
    PsiKeyMsg,
    PsiSaltMsg,
    PublicKeyMsg,
    ResidualMsg,
    SessionMsg,
    SplitMsg,
)
from fl_node.vertical.runner import (
    ArbiterParty,
    GuestParty,
    HostParty,
    PredictJob,
    PsiJob,
    SplitJob,
    TrainJob,
)
from fl_node.vertical.transport import LocalNetwork, LocalTransport, Message, MessageError
from kernel.errors import ProtocolError
from tests.support.threads import run_parties as threads

KEY_BITS = 512  # tests only: far below 112-bit security, but the arithmetic is the same
pytestmark = pytest.mark.filterwarnings("ignore")


def synthetic(n: int = 160, fg: int = 3, fh: int = 4, seed: int = 0) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    xg = np.clip(rng.normal(size=(n, fg)), -3, 3)
    xh = np.clip(rng.normal(size=(n, fh)), -3, 3)
    logit = xg @ rng.normal(size=fg) + xh @ rng.normal(size=fh) + 0.3 * rng.normal(size=n)
    y = (logit > 0).astype(np.float64)
    return xg, xh, y


CFG = HeteroLRConfig(
    batch_size=48,
    learning_rate=0.3,
    lr_decay=0.5,
    l2=1e-3,
    max_epochs=3,
    tol=0.0,
    key_bits=KEY_BITS,
    window_bits=8,
)


def train_threads(
    xg: np.ndarray,
    xh: np.ndarray,
    y: np.ndarray,
    cfg: HeteroLRConfig,
    *,
    cipher: str = "ours",
    use_guest: bool = True,
    use_host: bool = True,
    max_batches: int = 0,
) -> tuple[HeteroLRGuest, HeteroLRHost, HeteroLRArbiter, list[Any], LocalNetwork]:
    net = LocalNetwork(["guest", "host", "arbiter"], codec=CODEC, timeout=60)
    tg, th, ta = (net.transport(r) for r in ("guest", "host", "arbiter"))
    g = HeteroLRGuest(
        xg,
        y,
        cfg,
        session="s",
        cipher=cipher,
        use_features=use_guest,  # type: ignore[arg-type]
        max_batches=max_batches,
        timer=tg.timer,
    )
    h = HeteroLRHost(xh, cfg, session="s", cipher=cipher, use_features=use_host, timer=th.timer)  # type: ignore[arg-type]
    a = HeteroLRArbiter(cfg, session="s", cipher=cipher, timer=ta.timer)  # type: ignore[arg-type]
    res = threads(
        lambda: run_session(tg, g), lambda: run_session(th, h), lambda: run_session(ta, a)
    )
    return g, h, a, res, net


# --------------------------------------------------------------------------- correctness


@pytest.mark.parametrize("cipher", ["ours", "phe"])
def test_encrypted_protocol_equals_plaintext_taylor_lr(cipher: str) -> None:
    xg, xh, y = synthetic()
    cfg = CFG if cipher == "ours" else replace(CFG, max_epochs=2)
    g, h, a, (rg, rh, ra), _ = train_threads(xg, xh, y, cfg, cipher=cipher)
    wg, wh, losses = taylor_lr_reference(xg, xh, y, cfg, session="s", epochs=cfg.max_epochs)
    # ours: encrypted values have 2**-32 resolution, plaintext factors 2**-17 rounding error
    tol = 1e-5 if cipher == "ours" else 1e-9
    np.testing.assert_allclose(g.w, wg, atol=tol)
    np.testing.assert_allclose(h.w, wh, atol=tol)
    np.testing.assert_allclose(a.losses, losses, atol=tol)
    assert rg.losses == a.losses and rg.epochs == rh.epochs == ra.epochs == cfg.max_epochs
    assert rg.batches == len(list(schedule(len(y), cfg.batch_size, cfg.max_epochs, 0)))
    assert not np.allclose(g.w, 0) and not np.allclose(h.w, 0)


@pytest.mark.parametrize(("use_guest", "use_host"), [(True, False), (False, True)])
def test_feature_group_coalitions_match_the_reference(use_guest: bool, use_host: bool) -> None:
    xg, xh, y = synthetic(seed=1)
    g, h, _, _, net = train_threads(xg, xh, y, CFG, use_guest=use_guest, use_host=use_host)
    ref_g = xg if use_guest else np.zeros((len(y), 0))
    ref_h = xh if use_host else np.zeros((len(y), 0))
    wg, wh, _ = taylor_lr_reference(ref_g, ref_h, y, CFG, session="s", epochs=CFG.max_epochs)
    np.testing.assert_allclose(g.w, wg, atol=1e-5)
    np.testing.assert_allclose(h.w, wh, atol=1e-5)
    if not use_host:  # the host took no part in the batches
        kinds = {type(m).__name__ for _, m in net.transport("host").received}
        assert kinds == {"SessionMsg", "PublicKeyMsg", "EpochPlanMsg", "EpochResultMsg"}


def test_batch_limit_and_convergence_stop() -> None:
    xg, xh, y = synthetic(seed=2)
    _, _, a, (rg, rh, _), _ = train_threads(xg, xh, y, CFG, max_batches=5)
    assert rg.batches == rh.batches == 5 and rg.epochs == 2  # 4 batches per epoch
    assert rg.rows == 160 + 48  # one full epoch (48, 48, 48, 16) and one batch
    converge = replace(CFG, max_epochs=20, tol=0.05)
    _, _, a, (rg, _, _), _ = train_threads(xg, xh, y, converge)
    assert rg.converged and rg.epochs < 20
    assert abs(a.losses[-1] - a.losses[-2]) < 0.05


def test_timers_cover_the_phases() -> None:
    xg, xh, y = synthetic(seed=3)
    _, _, _, (rg, rh, ra), _ = train_threads(xg, xh, y, replace(CFG, max_epochs=1))
    assert rg.timer["encryption"] > 0 and rg.timer["homomorphic"] > 0
    assert rh.timer["encryption"] > 0 and rh.timer["homomorphic"] > 0
    assert ra.timer["decryption"] > 0 and ra.timer["encryption"] == 0
    for r in (rg, rh, ra):
        assert sum(r.timer.values()) <= r.seconds * 1.05 + 0.05


# --------------------------------------------------------------------------- privacy


def tables(
    n_guest: int = 150, n_host: int = 140, shared: int = 120, seed: int = 4
) -> tuple[PartyTable, PartyTable]:
    rng = np.random.default_rng(seed)
    ids = [f"c{i:05d}" for i in rng.permutation(100_000)[: n_guest + n_host - shared]]
    g_ids = ids[:n_guest]
    h_ids = ids[n_guest - shared :]
    xg, xh, y = synthetic(len(ids), seed=seed)
    return (
        PartyTable(g_ids, xg[:n_guest] * 3 + 1, ("a", "b", "c"), y[:n_guest]),
        PartyTable(h_ids, xh[n_guest - shared :] * 2 - 1, ("p", "q", "r", "s")),
    )


@pytest.fixture(scope="module")
def full_run() -> dict[str, Any]:
    """PSI, split, training and prediction with every received message recorded."""
    guest_table, host_table = tables()
    net = LocalNetwork(["guest", "host", "arbiter"], codec=CODEC, timeout=60)
    guest = GuestParty(guest_table, net.transport("guest"))
    host = HostParty(host_table, net.transport("host"))
    arbiter = ArbiterParty(net.transport("arbiter"))
    cfg = replace(CFG, batch_size=32, max_epochs=2)
    threads(lambda: guest.psi(PsiJob(workers=1)), lambda: host.psi(PsiJob(workers=1)))
    threads(
        lambda: guest.split(SplitJob(clip=3.0, validation=0.15, test=0.2, seed=0)),
        lambda: host.split(SplitJob(clip=3.0)),
    )
    job = TrainJob("m", cfg)
    threads(lambda: guest.train(job), lambda: host.train(job), lambda: arbiter.train(job))
    metrics = {}
    for part in ("test", "validation"):
        metrics[part] = threads(
            lambda p=part: guest.predict(PredictJob("m", p)), lambda: host.predict(PredictJob())
        )[0].metrics
    return {
        "net": net,
        "guest": guest,
        "host": host,
        "guest_table": guest_table,
        "host_table": host_table,
        "metrics": metrics,
    }


def received(run: dict[str, Any], role: str) -> list[tuple[str, Message]]:
    transport: LocalTransport = run["net"].transport(role)
    return transport.received


def windows(values: np.ndarray, size: int = 8) -> list[bytes]:
    """Byte patterns of consecutive values as float64, float32 and (for 0/1) uint8/uint32."""
    out = []
    flat = np.asarray(values, dtype=np.float64).ravel()
    for start in range(0, max(1, flat.size - size), size):
        chunk = flat[start : start + size]
        out += [chunk.astype("<f8").tobytes(), chunk.astype("<f4").tobytes()]
        if set(np.unique(chunk)) <= {0.0, 1.0}:
            out += [chunk.astype("u1").tobytes(), chunk.astype("<u4").tobytes()]
            out.append(",".join(str(int(v)) for v in chunk).encode())
    return out


def test_psi_and_training_results(full_run: dict[str, Any]) -> None:
    assert full_run["guest"].commitment == full_run["host"].commitment
    assert full_run["guest"].aligned.ids == full_run["host"].aligned.ids
    assert len(full_run["guest"].aligned.ids) == 120
    assert full_run["metrics"]["test"]["auc"] > 0.8


def test_host_receives_no_label_residual_or_plaintext_gradient(full_run: dict[str, Any]) -> None:
    msgs = received(full_run, "host")
    allowed = {
        PsiBlindedMsg,
        PsiIndicesMsg,
        PsiSaltMsg,  # uniformly random points, positions, salt
        SplitMsg,
        EpochPlanMsg,
        PredictRequestMsg,  # positions (batch indices)
        SessionMsg,
        PublicKeyMsg,
        EpochResultMsg,  # public parameters, stop flag
        ResidualMsg,  # ciphertexts
        MaskedMsg,  # masked integers
    }
    assert {type(m) for _, m in msgs} <= allowed
    guest = full_run["guest"]
    labels = full_run["guest_table"].labels[guest.aligned.rows]
    blobs = b"".join(m.encode() for _, m in msgs)
    for pattern in windows(labels):
        assert pattern not in blobs, "a label window appears in what the host received"
    for _, m in msgs:
        if isinstance(m, EpochResultMsg):
            assert m.loss is None
        if isinstance(m, MaskedMsg):
            # gradient sums at 48 fractional bits are < 2**58 here; every mask adds >= 40 bits
            assert min(abs(v) for v in m.values).bit_length() > 80
            assert m.base == 2 and set(m.exponents) == {-48}


def test_residuals_are_rerandomised_ciphertexts(full_run: dict[str, Any]) -> None:
    """[[d]] = [[z_h/4]] * [[v]]: without fresh randomness the host could read v (labels)."""
    forwards = {
        (m.epoch, m.batch): m for _, m in received(full_run, "guest") if isinstance(m, ForwardMsg)
    }
    residuals = [m for _, m in received(full_run, "host") if isinstance(m, ResidualMsg)]
    key = next(m for _, m in received(full_run, "host") if isinstance(m, PublicKeyMsg))
    suite = OursSuite.from_public_bytes(key.key)
    n, nsq = int(suite.public_key.n), int(suite.public_key.nsquare)
    assert residuals
    for res in residuals:
        d = CipherVector.from_bytes(res.residuals, suite.public_key).raw_ciphertexts
        zh = CipherVector.from_bytes(
            forwards[(res.epoch, res.batch)].scores, suite.public_key
        ).raw_ciphertexts
        for cd, cz in zip(d, zh, strict=True):
            ratio = int(cd) * int(gmpy2.invert(cz, nsq)) % nsq
            assert (ratio - 1) % n != 0, (
                "residual is a deterministic function of the host's own ciphertext"
            )


def test_guest_receives_no_host_features_or_training_partial_scores(
    full_run: dict[str, Any],
) -> None:
    msgs = received(full_run, "guest")
    allowed = {
        PsiKeyMsg,
        PsiEvaluatedMsg,
        PsiHostSetMsg,
        HostInfoMsg,
        PublicKeyMsg,
        ForwardMsg,  # ciphertexts
        MaskedMsg,
        EpochResultMsg,
        PartialScoresMsg,  # validation / test rows only
    }
    assert {type(m) for _, m in msgs} <= allowed
    guest, host = full_run["guest"], full_run["host"]
    x_raw = full_run["host_table"].features[host.aligned.rows]
    x_std = host.aligned.x_all
    train = host.aligned.split.train
    z_train = host.models["m"].partial_scores(x_std[train])
    blobs = b"".join(m.encode() for _, m in msgs)
    for matrix in (x_raw, x_std, x_raw.T, x_std.T):
        for row in matrix[:20]:
            for pattern in windows(row, size=min(4, row.size)):
                assert pattern not in blobs, "host feature values appear in what the guest received"
    for pattern in windows(z_train, size=4):
        assert pattern not in blobs, "host training-row partial scores reached the guest"
    requests = [m for _, m in received(full_run, "host") if isinstance(m, PredictRequestMsg)]
    allowed_rows = set(guest.aligned.split.validation) | set(guest.aligned.split.test)
    for req in requests:
        assert set(req.positions.tolist()) <= allowed_rows
    for _, m in msgs:
        if isinstance(m, ForwardMsg):
            key = next(k for _, k in msgs if isinstance(k, PublicKeyMsg))
            CipherVector.from_bytes(m.scores, OursSuite.from_public_bytes(key.key).public_key)
        if isinstance(m, HostInfoMsg):
            assert m.n_features == 4


def test_arbiter_receives_only_ciphertexts_and_sizes(full_run: dict[str, Any]) -> None:
    msgs = received(full_run, "arbiter")
    assert {type(m) for _, m in msgs} <= {SessionMsg, HostInfoMsg, GradientMsg}
    assert any(isinstance(m, GradientMsg) and m.has_loss for _, m in msgs)


def test_host_refuses_to_score_training_rows() -> None:
    net = LocalNetwork(["guest", "host"], codec=CODEC, timeout=5)
    tg, th = net.transport("guest"), net.transport("host")
    tg.send(
        "host",
        PredictRequestMsg(model="m", part="test", positions=np.array([3, 7], dtype=np.uint32)),
    )
    models = {"m": HostModel(np.ones(2))}
    allowed = {"validation": np.array([1, 2]), "test": np.array([5, 7])}
    with pytest.raises(ProtocolError, match="refused"):
        host_answer_predict(th, models, np.zeros((10, 2)), allowed)


# --------------------------------------------------------------------------- validation


def test_messages_round_trip_and_reject_malformed_payloads() -> None:
    msg = MaskedMsg(epoch=1, batch=2, base=2, values=[2**100, -5], exponents=[-48, -48])
    assert MaskedMsg.decode(msg.encode()) == msg
    plan = EpochPlanMsg(epoch=0, order=np.array([2, 0, 1], dtype=np.uint32))
    assert EpochPlanMsg.decode(plan.encode()).order.tolist() == [2, 0, 1]
    bad = [
        EpochPlanMsg(
            epoch=0, order=np.array([0, 0, 1], dtype=np.uint32)
        ).encode(),  # not a permutation
        MaskedMsg(epoch=1, batch=2, base=3, values=[1], exponents=[0]).encode(),  # bad base
        msg.encode()[:-3],  # truncated
        msg.encode() + b"\x00",  # trailing bytes
    ]
    for payload in bad:
        cls = EpochPlanMsg if payload.startswith(plan.encode()[:20]) else MaskedMsg
        with pytest.raises(MessageError):
            cls.decode(payload)
    with pytest.raises(MessageError):
        SplitMsg.decode(
            SplitMsg(
                n_aligned=5,
                train=np.array([0, 1], dtype=np.uint32),
                validation=np.array([1], dtype=np.uint32),
                test=np.array([4], dtype=np.uint32),
            ).encode()
        )
    scores = PartialScoresMsg(model="m", part="test", scores=np.array([np.nan]))
    with pytest.raises(MessageError, match="non-finite"):
        PartialScoresMsg.decode(scores.encode())
    # a bool where an int is declared, an extra field
    import json
    import struct

    meta = json.dumps({"epoch": True, "order": 1}).encode()
    with pytest.raises(MessageError):
        EpochPlanMsg.decode(
            struct.pack(">I", len(meta)) + meta + struct.pack(">H", 1) + struct.pack(">I", 0)
        )


def test_cipher_suites_validate_ciphertext_messages() -> None:
    pk, sk = generate_keypair(KEY_BITS)
    ours = OursSuite(pk, sk)
    vec = ours.encrypt(np.array([0.5, -1.0]), bound=2.0)
    data = ours.dumps(vec)
    assert len(ours.loads(data, count=2, bound=2.0)) == 2
    with pytest.raises(CipherSuiteError, match="expected 3"):
        ours.loads(data, count=3)
    with pytest.raises(CipherSuiteError, match="bound"):
        ours.loads(data, count=2, bound=0.25)  # the sender declared more than the public bound
    other = OursSuite(generate_keypair(KEY_BITS)[0])
    with pytest.raises(CipherSuiteError):
        other.loads(data, count=2)
    phe_suite = PheSuite.generate(KEY_BITS)
    pv = phe_suite.encrypt(np.array([1.5]), bound=2.0)
    assert len(phe_suite.loads(phe_suite.dumps(pv), count=1)) == 1
    with pytest.raises(CipherSuiteError):
        PheSuite.generate(KEY_BITS).loads(phe_suite.dumps(pv), count=1)
    masked, state = ours.mask(ours.dot(vec, np.array([[1.0], [2.0]]), x_bound=2.0))
    dec = ours.decrypt_for_party(ours.for_arbiter(masked), 1)
    np.testing.assert_allclose(
        unmask(dec.values, dec.exponents, dec.base, state), [-1.5], atol=1e-4
    )


def test_guest_rejects_a_forward_with_an_inflated_bound() -> None:
    xg, xh, y = synthetic(n=40)
    pk, sk = generate_keypair(KEY_BITS)
    ours = OursSuite(pk, sk)
    key = PublicKeyMsg(
        session="s",
        cipher="ours",
        key_bits=pk.n_bits,
        fingerprint=ours.fingerprint,
        key=ours.public_key_bytes(),
    )
    g = HeteroLRGuest(xg, y, CFG, session="s")
    g.receive_public_key(key)
    g.epoch_plan(0)
    g.begin_batch(0, 0, 0, 40)
    big = ours.encrypt(np.full(40, 1000.0), bound=1000.0)  # above score_bound / 4 = 64
    q = ours.encrypt(np.array([1.0]), bound=1.0)
    with pytest.raises(ProtocolError, match="bound"):
        g.receive_forward(
            ForwardMsg(epoch=0, batch=0, scores=ours.dumps(big), loss_term=ours.dumps(q))
        )
    with pytest.raises(ProtocolError, match="epoch/batch"):
        g.receive_forward(ForwardMsg(epoch=0, batch=1, scores=b"", loss_term=b""))
    wrong = replace(key, fingerprint=b"\x00" * 16)
    with pytest.raises(ProtocolError, match="fingerprint"):
        g.receive_public_key(wrong)


def test_one_session_loop_drives_any_role_to_the_arbiters_stop() -> None:
    from fl_node.vertical.protocol import EpochEnd, SessionPlan, SessionRole

    class Counting(SessionRole):
        role, session = "guest", "s"

        def __init__(self, stop_after: int) -> None:
            self.losses: list[float] = []
            self.calls: list[tuple[str, int]] = []
            self.stop_after = stop_after

        def open(self, transport: Any) -> SessionPlan:
            return SessionPlan(n_train=10, batch_size=4, max_epochs=3, max_batches=0)

        def start_epoch(self, transport: Any, epoch: int) -> None:
            self.calls.append(("epoch", epoch))

        def run_batch(self, transport: Any, epoch: int, batch: int, start: int, stop: int) -> None:
            self.calls.append(("batch", stop - start))

        def end_epoch(self, transport: Any, epoch: int, *, last_scheduled: bool) -> EpochEnd:
            self.losses.append(float(epoch))
            return EpochEnd(stop=epoch + 1 >= self.stop_after, converged=False)

    transport = LocalNetwork(["guest"], codec=CODEC).transport("guest")
    party = Counting(stop_after=2)
    result = run_session(transport, party)
    one_epoch = [("batch", 4), ("batch", 4), ("batch", 2)]
    assert party.calls == [("epoch", 0), *one_epoch, ("epoch", 1), *one_epoch]
    assert (result.epochs, result.batches, result.rows, result.losses) == (2, 6, 20, [0.0, 1.0])
    with pytest.raises(ProtocolError, match="without the arbiter's stop"):
        run_session(transport, Counting(stop_after=99))
