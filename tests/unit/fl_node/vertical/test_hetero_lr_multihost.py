"""Hetero LR with one guest and N hosts: equal to plaintext Taylor-LR, and the hosts' attacks.

Parties run as threads over the in-memory network (every message encoded, counted and
decoded as over TLS). The attacks are replayed against the real roles: the messages a
dishonest host would send are queued on its own channel before the honest party reads them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from fl_node.vertical.protocol import (
    CODEC,
    CipherName,
    GuestModel,
    HeteroLRArbiter,
    HeteroLRConfig,
    HeteroLRConfigError,
    HeteroLRGuest,
    HeteroLRHost,
    HostModel,
    OursSuite,
    PeerMessageError,
    ReferenceFit,
    guest_predict,
    host_answer_predict,
    host_names,
    multihost_reference,
    run_session,
)
from fl_node.vertical.protocol.messages import (
    CrossTermMsg,
    ForwardMsg,
    GradientMsg,
    HostInfoMsg,
    ResidualMsg,
)
from fl_node.vertical.transport import LocalNetwork, LocalTransport
from tests.support.threads import run_parties as threads

KEY_BITS = 512  # tests only: far below 112-bit security, but the arithmetic is the same
TOL = 4e-6  # the federated weights against the plaintext reference (as for one host)
pytestmark = pytest.mark.filterwarnings("ignore")

CFG = HeteroLRConfig(
    batch_size=48,
    learning_rate=0.3,
    lr_decay=0.5,
    l2=1e-3,
    max_epochs=2,
    tol=0.0,
    key_bits=KEY_BITS,
    window_bits=8,
)


def synthetic(
    n: int = 120, widths: Sequence[int] = (3, 2, 2), seed: int = 0
) -> tuple[list[np.ndarray], np.ndarray]:
    """Feature groups (guest first) of a logistic model over all of them, and its labels."""
    rng = np.random.default_rng(seed)
    groups = [np.clip(rng.normal(size=(n, f)), -3, 3) for f in widths]
    logit = sum(g @ rng.normal(size=g.shape[1]) for g in groups) + 0.3 * rng.normal(size=n)
    return groups, (np.asarray(logit) > 0).astype(np.float64)


def train(
    groups: list[np.ndarray],
    y: np.ndarray,
    cfg: HeteroLRConfig = CFG,
    *,
    use: Sequence[bool] | None = None,
    cipher: CipherName = "ours",
) -> tuple[HeteroLRGuest, list[HeteroLRHost], HeteroLRArbiter, LocalNetwork]:
    """Train a guest (``groups[0]``) and ``len(groups) - 1`` hosts to the arbiter's stop."""
    names = host_names(len(groups) - 1)
    flags = list(use) if use is not None else [True] * len(groups)
    net = LocalNetwork(["guest", *names, "arbiter"], codec=CODEC, timeout=60)
    tg, ta = net.transport("guest"), net.transport("arbiter")
    guest = HeteroLRGuest(
        groups[0],
        y,
        cfg,
        session="s",
        cipher=cipher,
        use_features=flags[0],
        hosts=names,
        timer=tg.timer,
    )
    hosts = [
        HeteroLRHost(x, cfg, session="s", cipher=cipher, use_features=u, name=name)
        for x, u, name in zip(groups[1:], flags[1:], names, strict=True)
    ]
    arbiter = HeteroLRArbiter(cfg, session="s", cipher=cipher, hosts=names, timer=ta.timer)
    parties: list[tuple[LocalTransport, Any]] = [(tg, guest), (ta, arbiter)]
    parties += [(net.transport(h.role), h) for h in hosts]
    threads(*(lambda t=t, p=p: run_session(t, p) for t, p in parties))
    return guest, hosts, arbiter, net


def reference(
    groups: list[np.ndarray], y: np.ndarray, use: Sequence[bool], cfg: HeteroLRConfig
) -> ReferenceFit:
    """The plaintext reference on the groups in use (the others with no column)."""
    used = [g if u else g[:, :0] for g, u in zip(groups, use, strict=True)]
    return multihost_reference(used[0], used[1:], y, cfg, session="s", epochs=cfg.max_epochs)


# --------------------------------------------------------------------------- correctness


@pytest.mark.parametrize("n_hosts", [1, 2, 3])
def test_every_partys_weights_equal_the_plaintext_reference(n_hosts: int) -> None:
    groups, y = synthetic(widths=(3, 2, 2, 2)[: n_hosts + 1], seed=n_hosts)
    guest, hosts, arbiter, _ = train(groups, y)
    ref = reference(groups, y, [True] * len(groups), CFG)
    np.testing.assert_allclose(guest.w, ref.guest, atol=TOL)
    for host, w in zip(hosts, ref.hosts, strict=True):
        np.testing.assert_allclose(host.w, w, atol=TOL)
        assert not np.allclose(host.w, 0)
    # the loss includes every host's z_h^2 / 8 and the cross-host terms z_j z_k / 4
    np.testing.assert_allclose(arbiter.losses, ref.losses, atol=TOL)
    assert guest.losses == arbiter.losses and len(arbiter.losses) == CFG.max_epochs
    assert [h.role for h in hosts] == list(host_names(n_hosts))


def test_two_hosts_with_phe_equal_the_reference() -> None:
    """The same protocol with phe doing the cryptography (exact up to float rounding)."""
    cfg = replace(CFG, max_epochs=1)
    groups, y = synthetic(n=96, widths=(2, 2, 1), seed=11)
    guest, hosts, arbiter, _ = train(groups, y, cfg, cipher="phe")
    ref = reference(groups, y, [True] * 3, cfg)
    np.testing.assert_allclose(guest.w, ref.guest, atol=1e-9)
    for host, w in zip(hosts, ref.hosts, strict=True):
        np.testing.assert_allclose(host.w, w, atol=1e-9)
    np.testing.assert_allclose(arbiter.losses, ref.losses, atol=1e-9)


def test_feature_group_coalitions_of_three_hosts() -> None:
    """Any subset of the N + 1 feature groups trains as the reference on those groups."""
    cfg = replace(CFG, max_epochs=1)
    groups, y = synthetic(widths=(3, 2, 2, 2), seed=7)
    use = [False, True, False, True]  # host-1 and host-3 only (the guest: intercept)
    guest, hosts, arbiter, net = train(groups, y, cfg, use=use)
    ref = reference(groups, y, use, cfg)
    np.testing.assert_allclose(guest.w, ref.guest, atol=TOL)
    for host, w in zip(hosts, ref.hosts, strict=True):
        np.testing.assert_allclose(host.w, w, atol=TOL)
    np.testing.assert_allclose(arbiter.losses, ref.losses, atol=TOL)
    off = {type(m).__name__ for _, m in net.transport("host-2").received}
    assert off == {"SessionMsg", "PublicKeyMsg", "EpochPlanMsg", "EpochResultMsg"}
    # host-3 is the second host with features: it alone gets peer scores and answers them
    got = {
        name: [m for _, m in net.transport(name).received if isinstance(m, ResidualMsg)]
        for name in ("host-1", "host-3")
    }
    assert got["host-1"] and not any(m.peer_scores for m in got["host-1"])
    assert got["host-3"] and all(m.peer_scores for m in got["host-3"])
    crosses = {s for s, m in net.transport("guest").received if isinstance(m, CrossTermMsg)}
    assert crosses == {"host-3"}


def test_the_only_host_keeps_its_name_and_sends_no_cross_term() -> None:
    """N = 1 is today's protocol: role "host", no peer scores, no cross term."""
    groups, y = synthetic(widths=(2, 2), seed=3)
    _, (host,), _, net = train(groups, y, replace(CFG, max_epochs=1))
    assert host.role == "host"
    residuals = [m for _, m in net.transport("host").received if isinstance(m, ResidualMsg)]
    assert residuals and not any(m.peer_scores for m in residuals)
    assert not any(isinstance(m, CrossTermMsg) for _, m in net.transport("guest").received)


# --------------------------------------------------------------------------- attacks

NAMES = ("host-1", "host-2")


def two_host_setup(
    features: Sequence[int] = (2, 2),
) -> tuple[HeteroLRGuest, HeteroLRArbiter, OursSuite, LocalNetwork]:
    """A guest and an arbiter of a two-host session, set up; a host's view of the key."""
    groups, y = synthetic(n=60, widths=(3,))
    net = LocalNetwork(["guest", *NAMES, "host-9", "arbiter"], codec=CODEC, timeout=5)
    guest = HeteroLRGuest(groups[0], y, CFG, session="s", hosts=NAMES)
    arbiter = HeteroLRArbiter(CFG, session="s", hosts=NAMES)
    key = arbiter.public_key_message()
    arbiter.receive_session(guest.session_message())
    for name, width in zip(NAMES, features, strict=True):
        info = HostInfoMsg(session="s", n_features=width, party=name)
        guest.receive_host_info(info, name)
        arbiter.receive_host_info(info, name)
    guest.receive_public_key(key)
    guest.start_epoch(net.transport("guest"), 0)
    return guest, arbiter, OursSuite.from_public_bytes(key.key), net


def forward(suite: OursSuite, party: str, rows: int = 48, batch: int = 0) -> ForwardMsg:
    """An honest-looking forward of ``rows`` encrypted scores."""
    scores = suite.dumps(suite.encrypt(np.full(rows, 0.25), bound=CFG.score_bound / 4))
    term = suite.dumps(suite.encrypt(np.array([1.0]), bound=CFG.loss_term_bound()))
    return ForwardMsg(epoch=0, batch=batch, scores=scores, loss_term=term, party=party)


def test_a_host_claiming_another_hosts_name_is_refused_at_set_up() -> None:
    groups, y = synthetic(n=60, widths=(3,))
    net = LocalNetwork(["guest", *NAMES, "arbiter"], codec=CODEC, timeout=5)
    guest = HeteroLRGuest(groups[0], y, CFG, session="s", hosts=NAMES)
    arbiter = HeteroLRArbiter(CFG, session="s", hosts=NAMES)
    net.transport("host-1").send("guest", HostInfoMsg(session="s", n_features=2, party="host-1"))
    net.transport("host-2").send("guest", HostInfoMsg(session="s", n_features=2, party="host-1"))
    net.transport("arbiter").send("guest", arbiter.public_key_message())
    with pytest.raises(PeerMessageError, match="host-2 sent a host info claiming .*'host-1'"):
        guest.open(net.transport("guest"))


def test_a_host_impersonating_another_in_training_is_refused() -> None:
    guest, arbiter, suite, _ = two_host_setup()
    guest.begin_batch(0, 0, 0, 48)
    with pytest.raises(PeerMessageError, match="host-2 sent a forward claiming .*'host-1'"):
        guest.receive_forward(forward(suite, "host-1"), "host-2")
    with pytest.raises(PeerMessageError, match="'host-9', which is not a host"):
        guest.receive_forward(forward(suite, "host-9"), "host-9")
    masked, _ = suite.mask(suite.encrypt(np.zeros(2), bound=1.0))
    grad = GradientMsg(
        epoch=0, batch=0, n_values=2, has_loss=False, data=suite.for_arbiter(masked), party="host-1"
    )
    with pytest.raises(PeerMessageError, match="host-2 sent a gradient claiming .*'host-1'"):
        arbiter.receive_gradient("host-2", grad, (0, 0))
    with pytest.raises(PeerMessageError, match="guest sent a gradient claiming"):
        arbiter.receive_gradient("guest", grad, (0, 0))
    with pytest.raises(PeerMessageError, match="'host-9', which is not a host"):
        arbiter.receive_gradient("host-9", replace(grad, party="host-9"), (0, 0))


def test_a_duplicated_host_message_is_refused_naming_the_host() -> None:
    guest, arbiter, suite, net = two_host_setup()
    host1 = net.transport("host-1")
    host1.send("guest", forward(suite, "host-1"))
    host1.send("guest", forward(suite, "host-1"))  # a second forward in the same batch
    with pytest.raises(PeerMessageError, match="host-1 sent a second forward in this batch"):
        guest.run_batch(net.transport("guest"), 0, 0, 0, 48)
    masked, _ = suite.mask(suite.encrypt(np.zeros(2), bound=1.0))
    grad = GradientMsg(
        epoch=0, batch=0, n_values=2, has_loss=False, data=suite.for_arbiter(masked), party="host-1"
    )
    assert len(arbiter.receive_gradient("host-1", grad, (0, 0)).values) == 2
    with pytest.raises(PeerMessageError, match="host-1 sent a second gradient in this batch"):
        arbiter.receive_gradient("host-1", grad, (0, 0))
    info = HostInfoMsg(session="s", n_features=2, party="host-2")
    with pytest.raises(PeerMessageError, match="host-2 sent a second host info"):
        arbiter.receive_host_info(info, "host-2")


def test_short_or_unasked_vectors_are_refused_naming_the_host() -> None:
    guest, arbiter, suite, _ = two_host_setup(features=(2, 3))
    guest.begin_batch(0, 0, 0, 48)
    with pytest.raises(PeerMessageError, match="from host-2: expected 48 ciphertexts, got 47"):
        guest.receive_forward(forward(suite, "host-2", rows=47), "host-2")
    masked, _ = suite.mask(suite.encrypt(np.zeros(2), bound=1.0))
    short = GradientMsg(
        epoch=0, batch=0, n_values=2, has_loss=False, data=suite.for_arbiter(masked), party="host-2"
    )
    with pytest.raises(PeerMessageError, match="host-2 sent 2 values, want 3"):
        arbiter.receive_gradient("host-2", short, (0, 0))
    term = suite.dumps(suite.encrypt(np.array([0.0]), bound=1.0))
    cross = CrossTermMsg(epoch=0, batch=0, party="host-1", term=term)
    with pytest.raises(PeerMessageError, match="host-1 sent a cross term it was not asked for"):
        guest.receive_cross_term(cross, "host-1")
    host = HeteroLRHost(np.zeros((60, 2)), CFG, session="s", name="host-2")
    host.receive_session(guest.session_message())
    host.suite = suite
    host.receive_epoch_plan(guest.epoch_plan(0), 0)
    host.forward_message(0, 0, 0, 48)
    peers = suite.dumps(suite.encrypt(np.zeros(47), bound=1.0))
    residual = ResidualMsg(epoch=0, batch=0, residuals=b"", peer_scores=peers)
    with pytest.raises(PeerMessageError, match="host-2: bad peer scores .*got 47"):
        host.cross_term_message(residual)


def test_a_host_without_features_and_a_wrong_host_count_are_refused() -> None:
    guest, arbiter, suite, _ = two_host_setup(features=(0, 2))
    guest.begin_batch(0, 0, 0, 48)
    with pytest.raises(PeerMessageError, match="host-1 sent a forward but announced no features"):
        guest.receive_forward(forward(suite, "host-1"), "host-1")
    lone = HeteroLRGuest(np.zeros((60, 1)), np.zeros(60), CFG, session="s")
    with pytest.raises(PeerMessageError, match="announced 1 hosts, this session has 2"):
        HeteroLRArbiter(CFG, session="s", hosts=NAMES).receive_session(lone.session_message())
    with pytest.raises(HeteroLRConfigError, match="say which"):
        guest.receive_forward(forward(suite, "host-2"))


@pytest.mark.parametrize(
    "hosts", [(), ("host-1", "host-1"), ("guest",), ("",), ("arbiter", "host")]
)
def test_host_lists_are_checked(hosts: tuple[str, ...]) -> None:
    with pytest.raises(HeteroLRConfigError):
        HeteroLRArbiter(CFG, session="s", hosts=hosts)


def test_prediction_adds_every_hosts_partial_scores() -> None:
    rng = np.random.default_rng(5)
    x = [rng.normal(size=(30, f)) for f in (3, 2, 4)]
    w = [rng.normal(size=f) for f in (3, 2, 4)]
    net = LocalNetwork(["guest", *NAMES], codec=CODEC, timeout=10)
    allowed = {"validation": np.arange(0, 10), "test": np.arange(10, 30)}
    positions = np.arange(12, 25)

    def host(k: int) -> str:
        models = {"m": HostModel(w[k])}
        return host_answer_predict(net.transport(NAMES[k - 1]), models, x[k], allowed)

    prob, *_ = threads(
        lambda: guest_predict(
            net.transport("guest"),
            GuestModel(w[0], 0.5),
            x[0],
            positions,
            model_name="m",
            part="test",
            hosts=NAMES,
        ),
        lambda: host(1),
        lambda: host(2),
    )
    z = sum(xi[positions] @ wi for xi, wi in zip(x, w, strict=True)) + 0.5
    np.testing.assert_allclose(prob, 1 / (1 + np.exp(-z)), rtol=1e-12)
