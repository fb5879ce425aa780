"""Hetero LR with one guest and N hosts: equal to plaintext Taylor-LR, and the hosts' attacks.

Parties run as threads over the in-memory network (every message encoded, counted and
decoded as over TLS). The attacks are replayed against the real roles: the messages a
dishonest host would send are queued on its own channel before the honest party reads them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from fl_node.vertical.protocol import (
    CODEC,
    HeteroLRArbiter,
    HeteroLRConfig,
    HeteroLRGuest,
    HeteroLRHost,
    ReferenceFit,
    host_names,
    multihost_reference,
    run_session,
)
from fl_node.vertical.protocol.messages import CrossTermMsg, ResidualMsg
from fl_node.vertical.transport import LocalNetwork, LocalTransport

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


def threads(*fns: Callable[[], Any]) -> list[Any]:
    """Run the parties concurrently; re-raise the first failure."""
    results: list[Any] = [None] * len(fns)
    errors: list[BaseException] = []

    def run(i: int, fn: Callable[[], Any]) -> None:
        try:
            results[i] = fn()
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            errors.append(exc)

    ts = [threading.Thread(target=run, args=(i, f), daemon=True) for i, f in enumerate(fns)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    if errors:
        raise errors[0]
    return results


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
) -> tuple[HeteroLRGuest, list[HeteroLRHost], HeteroLRArbiter, LocalNetwork]:
    """Train a guest (``groups[0]``) and ``len(groups) - 1`` hosts to the arbiter's stop."""
    names = host_names(len(groups) - 1)
    flags = list(use) if use is not None else [True] * len(groups)
    net = LocalNetwork(["guest", *names, "arbiter"], codec=CODEC, timeout=60)
    tg, ta = net.transport("guest"), net.transport("arbiter")
    guest = HeteroLRGuest(
        groups[0], y, cfg, session="s", use_features=flags[0], hosts=names, timer=tg.timer
    )
    hosts = [
        HeteroLRHost(x, cfg, session="s", use_features=u, name=name)
        for x, u, name in zip(groups[1:], flags[1:], names, strict=True)
    ]
    arbiter = HeteroLRArbiter(cfg, session="s", hosts=names, timer=ta.timer)
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
