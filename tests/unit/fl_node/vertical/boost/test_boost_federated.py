"""SecureBoost over threads: 1 guest + 2 hosts equal the twin; malicious peers are refused."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from conftest import run_parties

from fl_node.vertical.protocol.boost import (
    BOOST_CODEC,
    BoostCipher,
    BoostConfig,
    BoostGradientsMsg,
    BoostHistogramMsg,
    BoostHostInfoMsg,
    BoostNodesMsg,
    BoostPeerError,
    BoostPredictMsg,
    BoostSessionMsg,
    BoostSplitsMsg,
    GHPacking,
    HostBoostModel,
    HostRecord,
    SecureBoostGuest,
    SecureBoostHost,
    fit_twin,
    guest_predict,
    host_answer_predict,
    make_cipher,
    predict_twin,
    quantile_edges,
)
from fl_node.vertical.protocol.boost.messages import BOOST_VERSION
from fl_node.vertical.transport import LocalNetwork, Transport

HOSTS = ["host1", "host2"]
CFG = BoostConfig(n_trees=3, max_depth=3, max_bins=8, key_bits=512)


@pytest.fixture(scope="module")
def ours() -> BoostCipher:
    return make_cipher("ours", 512)


def _federate(
    parts: list[np.ndarray],
    y: np.ndarray,
    cfg: BoostConfig,
    cipher: BoostCipher,
    timeout: float = 10.0,
    **hosts: Any,
) -> dict[str, Any]:
    def guest(t: Transport) -> Any:
        fit = SecureBoostGuest(parts[0], y, cfg, cipher, hosts=HOSTS, session="s1").fit(t)
        return fit, guest_predict(t, fit.model, parts[0], hosts=HOSTS, session="s1")

    def host(k: int) -> Any:
        def run(t: Transport) -> HostBoostModel:
            cls = hosts.get(f"host{k}", SecureBoostHost)
            model: HostBoostModel = cls(parts[k], cfg, session="s1").fit(t)
            host_answer_predict(t, model, parts[k])
            return model

        return run

    return run_parties({"guest": guest, "host1": host(1), "host2": host(2)}, timeout=timeout)


def _check_equal_to_twin(
    out: dict[str, Any], parts: list[np.ndarray], y: np.ndarray, cfg: BoostConfig
) -> None:
    twin = fit_twin(parts, y, cfg)
    fit, prob = out["guest"]
    assert len(fit.tree_seconds) == cfg.n_trees
    host_models = {1: out["host1"], 2: out["host2"]}
    owners = set()
    for fed_tree, twin_tree in zip(fit.model.trees, twin.model.trees, strict=True):
        assert len(fed_tree) == len(twin_tree)
        for a, b in zip(fed_tree, twin_tree, strict=True):
            assert (a.left, a.right, a.party, a.weight) == (b.left, b.right, b.party, b.weight)
            if a.is_leaf:
                continue
            owners.add(a.party)
            if a.party == 0:
                assert (a.feature, a.bin, a.threshold) == (b.feature, b.bin, b.threshold)
            else:  # the guest holds a record id only; the host holds the split
                assert a.feature == -1 and math.isnan(a.threshold)
                rec = host_models[a.party].records[a.record]
                assert rec == HostRecord(b.feature, b.bin, b.threshold)
    assert owners == {0, 1, 2}
    np.testing.assert_array_equal(prob, predict_twin(twin.model, parts))


def test_federated_run_equals_the_twin_with_our_paillier(parties: Any, ours: BoostCipher) -> None:
    parts, y = parties
    out = _federate(parts, y, CFG, ours)
    _check_equal_to_twin(out, parts, y, CFG)


def test_federated_run_equals_the_twin_with_phe(parties: Any) -> None:
    parts, y = parties
    cfg = BoostConfig(n_trees=2, max_depth=2, max_bins=6, key_bits=512, cipher="phe")
    out = _federate(parts, y, cfg, make_cipher("phe", 512))
    _check_equal_to_twin(out, parts, y, cfg)


class _WrongShapeHost(SecureBoostHost):
    """Sends one histogram sum fewer than the level needs."""

    def _send_histogram(
        self, transport: Transport, cipher: Any, packing: Any, cts: Any, node_of_row: Any, key: Any
    ) -> None:
        n_sums = (int(node_of_row.max()) + 1) * int(sum(self.edges.n_bins)) - 1
        data = cipher.dumps(cipher.compress(cts[:n_sums], packing.slot_bits, 1))
        transport.send(
            self.guest,
            BoostHistogramMsg(session=key[0], tree=key[1], depth=key[2], n_sums=n_sums, data=data),
        )


class _ReplayingHost(SecureBoostHost):
    """Replays its depth-0 histogram at depth 1."""

    first: Any = None

    def _send_histogram(self, transport: Transport, *args: Any) -> None:
        if self.first is None:
            inner = _Recorder(transport)
            super()._send_histogram(inner, *args)  # type: ignore[arg-type]
            self.first = inner.sent
        transport.send(self.guest, self.first)


class _TamperingHost(SecureBoostHost):
    """Adds one row to the count of the level's last cumulative sum (a node's total)."""

    def _send_histogram(self, transport: Transport, cipher: Any, *args: Any) -> None:
        original = cipher.compress

        def compress(sums: Any, slot_bits: int, per: int) -> Any:
            out = original(sums, slot_bits, per)
            shift = ((len(sums) - 1) % per) * slot_bits
            out[-1] = cipher.add(out[-1], cipher.public_key.raw_encrypt(1 << shift))
            return out

        cipher.compress = compress
        try:
            super()._send_histogram(transport, cipher, *args)
        finally:
            cipher.compress = original


class _Recorder:
    """A transport stand-in that keeps the message instead of sending it."""

    def __init__(self, real: Transport) -> None:
        self.timer = real.timer
        self.sent: Any = None

    def send(self, peer: str, message: Any) -> None:
        self.sent = message


@pytest.mark.parametrize(
    ("bad_host", "words"),
    [
        (_WrongShapeHost, "sums, expected"),
        (_ReplayingHost, "expected ('s1', 0, 1)"),
        (_TamperingHost, "histogram"),
    ],
)
def test_guest_refuses_a_malicious_host_histogram(
    parties: Any, ours: BoostCipher, bad_host: Any, words: str
) -> None:
    parts, y = parties
    out = _federate(parts, y, CFG, ours, 2.0, host2=bad_host)  # honest parties time out
    assert isinstance(out["guest"], BoostPeerError)
    assert words in str(out["guest"])


def _scripted_host(
    parts: list[np.ndarray], ours: BoostCipher, session: str = "s1"
) -> tuple[LocalNetwork, Transport, Any]:
    """A real host in a thread, with the test playing the guest through ``t``."""
    import threading

    net = LocalNetwork(["guest", "host1"], codec=BOOST_CODEC, timeout=3.0)
    result: dict[str, Any] = {}
    host = SecureBoostHost(parts[1], CFG, session="s1")

    def run() -> None:
        try:
            result["model"] = host.fit(net.transport("host1"))
        except Exception as exc:  # noqa: BLE001 - the test reads it
            result["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    t = net.transport("guest")
    t.send(
        "host1",
        BoostSessionMsg(
            session=session,
            version=BOOST_VERSION,
            host=1,
            cipher="ours",
            n_rows=parts[1].shape[0],
            n_trees=CFG.n_trees,
            max_depth=CFG.max_depth,
            precision_bits=CFG.precision_bits,
            key_bits=ours.key_bits,
            fingerprint=ours.fingerprint,
            key=ours.public_key_bytes(),
        ),
    )
    return net, t, (thread, result)


def test_host_refuses_a_foreign_session(parties: Any, ours: BoostCipher) -> None:
    parts, _ = parties
    _, _, (thread, result) = _scripted_host(parts, ours, session="other")
    thread.join()
    assert isinstance(result["error"], BoostPeerError)


def test_host_refuses_split_bins_and_nodes_out_of_range(parties: Any, ours: BoostCipher) -> None:
    parts, y = parties
    _, t, (thread, result) = _scripted_host(parts, ours)
    info = t.recv_from("host1", BoostHostInfoMsg)
    n = parts[1].shape[0]
    packing = GHPacking(CFG.precision_bits, n)
    gi, hi = packing.quantise(np.full(n, 0.1), np.full(n, 0.2))
    data = ours.dumps(ours.encrypt_rows(packing.pack_rows(gi, hi)))
    t.send("host1", BoostGradientsMsg(session="s1", tree=0, data=data))
    t.send(
        "host1",
        BoostNodesMsg(
            session="s1", tree=0, depth=0, n_nodes=1, node_of_row=np.zeros(n, dtype=np.uint32)
        ),
    )
    t.recv_from("host1", BoostHistogramMsg)
    t.send(
        "host1",
        BoostSplitsMsg(
            session="s1", tree=0, depth=0, nodes=[0], features=[0], bins=[info.bins[0] - 1]
        ),
    )
    thread.join()
    assert "bin out of range" in str(result["error"])


def test_host_refuses_record_ids_it_never_made_and_foreign_predictions(parties: Any) -> None:
    parts, _ = parties
    edges = quantile_edges(parts[1], 8)
    model = HostBoostModel("s1", (HostRecord(0, 1, edges.threshold(0, 1)),), edges)
    for bad in (
        BoostPredictMsg(
            session="s1",
            query="q",
            done=False,
            records=np.array([1], np.uint32),
            rows=np.array([0], np.uint32),
        ),
        BoostPredictMsg(
            session="s1",
            query="q",
            done=False,
            records=np.array([0], np.uint32),
            rows=np.array([10**6], np.uint32),
        ),
        BoostPredictMsg(
            session="s0",
            query="q",
            done=False,
            records=np.array([0], np.uint32),
            rows=np.array([0], np.uint32),
        ),
    ):
        net = LocalNetwork(["guest", "host1"], codec=BOOST_CODEC, timeout=3.0)
        net.transport("guest").send("host1", bad)
        with pytest.raises(BoostPeerError):
            host_answer_predict(net.transport("host1"), model, parts[1])
    net = LocalNetwork(["guest", "host1"], codec=BOOST_CODEC, timeout=3.0)
    g = net.transport("guest")
    g.send(
        "host1",
        BoostPredictMsg(
            session="s1",
            query="q",
            done=False,
            records=np.array([0, 0], np.uint32),
            rows=np.array([0, 1], np.uint32),
        ),
    )
    g.send(
        "host1",
        BoostPredictMsg(
            session="s1",
            query="end",
            done=True,
            records=np.zeros(0, np.uint32),
            rows=np.zeros(0, np.uint32),
        ),
    )
    assert host_answer_predict(net.transport("host1"), model, parts[1]) == 1
