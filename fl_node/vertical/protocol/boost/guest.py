"""The guest's side of SecureBoost: labels, its own features and the private key.

:class:`SecureBoostGuest` runs the boosting loop of :mod:`~fl_node.vertical.protocol.boost.tree`
through :class:`FederatedOracle`, which builds the guest's own histograms in plaintext and
obtains every host's through the protocol: per tree it encrypts the packed ``(g, h)`` of every
row once and sends them to each host; per level it sends each host the rows' nodes, decrypts
the host's compressed cumulative histograms (checked against the slot bounds and against the
node totals it knows), and after the split search tells each host the nodes it won and takes
back their partitions and record ids. The guest never sees a host's feature values or
thresholds; it does see every node's partition (as in FATE).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fl_node.vertical.protocol.boost._errors import BoostPeerError
from fl_node.vertical.protocol.boost.binning import BinArray, BinEdges, quantile_edges
from fl_node.vertical.protocol.boost.cipher import BoostCipher
from fl_node.vertical.protocol.boost.config import BoostConfig, FloatArray, IntArray
from fl_node.vertical.protocol.boost.gh import GHPacking
from fl_node.vertical.protocol.boost.histogram import SplitChoice, offsets_of, plain_histograms
from fl_node.vertical.protocol.boost.messages import (
    BOOST_VERSION,
    INACTIVE,
    BoostGradientsMsg,
    BoostHistogramMsg,
    BoostHostInfoMsg,
    BoostNodesMsg,
    BoostPartitionMsg,
    BoostSessionMsg,
    BoostSplitsMsg,
    expect,
)
from fl_node.vertical.protocol.boost.tree import BoostModel, LevelOracle, NodeSplit, TreeNode, boost
from fl_node.vertical.transport import Transport

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GuestFit:
    """What the guest keeps from training.

    Attributes
    ----------
    model : BoostModel
        Guest nodes with feature and threshold, host nodes with host and record id only.
    edges : BinEdges
        The guest's own bin edges.
    host_bins : tuple of tuple of int
        Bins per feature of every host (all the guest learns of their features).
    tree_seconds : tuple of float
        Wall seconds of every tree.
    """

    model: BoostModel
    edges: BinEdges
    host_bins: tuple[tuple[int, ...], ...]
    tree_seconds: tuple[float, ...]


class FederatedOracle(LevelOracle):
    """The guest's :class:`LevelOracle`: own histograms in plaintext, the hosts' encrypted.

    Parameters
    ----------
    transport : Transport
        Channels to every host.
    hosts : sequence of str
        Host roles, host ``k`` (1-based) is ``hosts[k - 1]``.
    binned : ndarray of shape (n, F_g)
        The guest's bin indices.
    edges : BinEdges
        The guest's edges.
    host_bins : sequence of tuple of int
        Every host's bins per feature.
    cipher : BoostCipher
        The guest's key pair.
    session : str
        Session name.
    packing : GHPacking
        Slot layout of the session.
    """

    def __init__(
        self,
        transport: Transport,
        hosts: Sequence[str],
        binned: BinArray,
        edges: BinEdges,
        host_bins: Sequence[tuple[int, ...]],
        cipher: BoostCipher,
        session: str,
        packing: GHPacking,
    ) -> None:
        self.t = transport
        self.hosts = list(hosts)
        self.binned = binned
        self.edges = edges
        self.host_bins = list(host_bins)
        self.cipher = cipher
        self.session = session
        self.packing = packing
        self.per = packing.per_plaintext(cipher.key_bits)
        self.gh = np.zeros((0, 3))
        self.tree_seconds: list[float] = []
        self._started: float | None = None

    def close_tree(self) -> None:
        """Record the wall time of the tree in progress."""
        if self._started is not None:
            self.tree_seconds.append(time.perf_counter() - self._started)
            self._started = None

    def start_tree(self, tree: int, gi: IntArray, hi: IntArray) -> None:
        """Encrypt the packed ``(g, h)`` of every row once; send them to every host."""
        self.close_tree()
        self._started = time.perf_counter()
        self.gh = np.stack([gi, hi, np.ones_like(gi)], axis=1).astype(np.float64)
        with self.t.timer("encryption"):
            data = self.cipher.dumps(self.cipher.encrypt_rows(self.packing.pack_rows(gi, hi)))
        for host in self.hosts:
            self.t.send(host, BoostGradientsMsg(session=self.session, tree=tree, data=data))

    def histograms(
        self, tree: int, depth: int, node_of_row: IntArray, n_nodes: int
    ) -> list[FloatArray]:
        """The guest's plaintext histograms, then every host's, decrypted and checked."""
        nodes_msg = BoostNodesMsg(
            session=self.session,
            tree=tree,
            depth=depth,
            n_nodes=n_nodes,
            node_of_row=np.where(node_of_row >= 0, node_of_row, INACTIVE).astype(np.uint32),
        )
        for host in self.hosts:
            self.t.send(host, nodes_msg)
        with self.t.timer("plaintext"):
            own = plain_histograms(self.binned, self.edges.n_bins, node_of_row, n_nodes, self.gh)
            active = node_of_row >= 0
            totals = np.stack(
                [np.bincount(node_of_row[active], self.gh[active, c], n_nodes) for c in range(3)],
                axis=1,
            ).astype(np.float64)
        out = [own]
        for k, host in enumerate(self.hosts):
            out.append(self._host_histogram(host, k, tree, depth, n_nodes, totals))
        return out

    def _host_histogram(
        self, host: str, k: int, tree: int, depth: int, n_nodes: int, totals: FloatArray
    ) -> FloatArray:
        bins = self.host_bins[k]
        n_sums = n_nodes * int(sum(bins))
        target = int(self.gh.shape[0])
        msg = self.t.recv_from(host, BoostHistogramMsg, idle=lambda: self.cipher.idle_step(target))
        expect(
            "guest", (msg.session, msg.tree, msg.depth), (self.session, tree, depth), "histogram"
        )
        if msg.n_sums != n_sums:
            raise BoostPeerError(f"guest: {host} sent {msg.n_sums} sums, expected {n_sums}")
        cts = self.cipher.loads(msg.data, -(-n_sums // self.per))
        with self.t.timer("decryption"):
            plain = self.cipher.decrypt(cts)
        with self.t.timer("plaintext"):
            sums = self.packing.split_compressed(plain, n_sums, self.per)
            hist = np.array([self.packing.unpack(s) for s in sums], dtype=np.float64)
            hist = hist.reshape(n_nodes, int(sum(bins)), 3)
            last = offsets_of(bins) + np.asarray(bins) - 1
            if not np.array_equal(hist[:, last, :], np.repeat(totals[:, None, :], len(bins), 1)):
                raise BoostPeerError(f"guest: {host}'s histograms do not add up to the nodes")
        return hist

    def partition(
        self,
        tree: int,
        depth: int,
        node_of_row: IntArray,
        chosen: Sequence[tuple[int, SplitChoice]],
    ) -> list[NodeSplit]:
        """Split the guest's nodes locally; ask each host for the partitions of its nodes."""
        result: dict[int, NodeSplit] = {}
        for i, c in chosen:
            if c.party == 0:
                rows = np.flatnonzero(node_of_row == i)
                node = TreeNode(
                    0,
                    depth,
                    0.0,
                    party=0,
                    feature=c.feature,
                    bin=c.bin,
                    threshold=self.edges.threshold(c.feature, c.bin),
                    gain=c.gain,
                )
                result[i] = NodeSplit(node, self.binned[rows, c.feature] <= c.bin)
        for k, host in enumerate(self.hosts, start=1):
            won = [(i, c) for i, c in chosen if c.party == k]
            self.t.send(
                host,
                BoostSplitsMsg(
                    session=self.session,
                    tree=tree,
                    depth=depth,
                    nodes=[i for i, _ in won],
                    features=[c.feature for _, c in won],
                    bins=[c.bin for _, c in won],
                ),
            )
        for k, host in enumerate(self.hosts, start=1):
            won = [(i, c) for i, c in chosen if c.party == k]
            result.update(self._host_partition(host, k, tree, depth, node_of_row, won))
        return [result[i] for i, _ in chosen]

    def _host_partition(
        self,
        host: str,
        k: int,
        tree: int,
        depth: int,
        node_of_row: IntArray,
        won: Sequence[tuple[int, SplitChoice]],
    ) -> dict[int, NodeSplit]:
        msg = self.t.recv_from(host, BoostPartitionMsg)
        expect(
            "guest", (msg.session, msg.tree, msg.depth), (self.session, tree, depth), "partition"
        )
        sizes = [int((node_of_row == i).sum()) for i, _ in won]
        if len(msg.records) != len(won) or msg.left.size != sum(sizes):
            raise BoostPeerError(f"guest: {host}'s partition does not match its splits")
        if any(r < 0 for r in msg.records) or len(set(msg.records)) != len(msg.records):
            raise BoostPeerError(f"guest: {host} sent invalid record ids")
        out = {}
        start = 0
        for (i, c), size, record in zip(won, sizes, msg.records, strict=True):
            left = msg.left[start : start + size].astype(bool)
            start += size
            if left.all() or not left.any():
                raise BoostPeerError(f"guest: {host} sent an empty child")
            out[i] = NodeSplit(TreeNode(0, depth, 0.0, party=k, record=record, gain=c.gain), left)
        return out

    def end_tree(self, tree: int, depth: int) -> None:
        """Tell every host that this tree has nothing left to split."""
        done = BoostNodesMsg(
            session=self.session,
            tree=tree,
            depth=depth,
            n_nodes=0,
            node_of_row=np.zeros(0, dtype=np.uint32),
        )
        for host in self.hosts:
            self.t.send(host, done)


class SecureBoostGuest:
    """The label holder's side of one SecureBoost training session.

    Parameters
    ----------
    x : ndarray of shape (n, F_g)
        The guest's training features (aligned rows).
    y : ndarray of shape (n,)
        0/1 labels.
    config : BoostConfig
        Agreed hyper-parameters.
    cipher : BoostCipher
        The guest's Paillier key pair (ours or phe).
    hosts : sequence of str
        Host roles in order (host ``k`` is ``hosts[k - 1]``).
    session : str
        Session name.
    edges : BinEdges or None
        The guest's bin edges (default: quantiles of ``x``).
    """

    def __init__(
        self,
        x: FloatArray,
        y: FloatArray,
        config: BoostConfig,
        cipher: BoostCipher,
        *,
        hosts: Sequence[str],
        session: str,
        edges: BinEdges | None = None,
    ) -> None:
        self.x = np.asarray(x, dtype=np.float64)
        self.y = np.asarray(y, dtype=np.float64)
        self.config = config
        self.cipher = cipher
        self.hosts = list(hosts)
        self.session = session
        self.edges = edges if edges is not None else quantile_edges(self.x, config.max_bins)
        config.check_rows(self.y.size)
        self.packing = GHPacking(config.precision_bits, self.y.size)
        self.packing.check_key(cipher.key_bits)

    def open(self, transport: Transport) -> tuple[tuple[int, ...], ...]:
        """Send every host the session and the public key; return their bins per feature.

        Parameters
        ----------
        transport : Transport
            Channels to the hosts.
        """
        for k, host in enumerate(self.hosts, start=1):
            transport.send(
                host,
                BoostSessionMsg(
                    session=self.session,
                    version=BOOST_VERSION,
                    host=k,
                    cipher=self.cipher.name,
                    n_rows=int(self.y.size),
                    n_trees=self.config.n_trees,
                    max_depth=self.config.max_depth,
                    precision_bits=self.config.precision_bits,
                    key_bits=self.cipher.key_bits,
                    fingerprint=self.cipher.fingerprint,
                    key=self.cipher.public_key_bytes(),
                ),
            )
        bins = []
        for k, host in enumerate(self.hosts, start=1):
            info = transport.recv_from(host, BoostHostInfoMsg)
            if info.session != self.session or info.host != k:
                raise BoostPeerError(f"guest: {host} answered for another session or host")
            bins.append(tuple(info.bins))
        return tuple(bins)

    def fit(self, transport: Transport) -> GuestFit:
        """Run the whole training session.

        Parameters
        ----------
        transport : Transport
            Channels to the hosts.
        """
        host_bins = self.open(transport)
        oracle = FederatedOracle(
            transport,
            self.hosts,
            self.edges.transform(self.x),
            self.edges,
            host_bins,
            self.cipher,
            self.session,
            self.packing,
        )
        bins = [self.edges.n_bins, *host_bins]
        model = boost(oracle, self.y, bins, self.config)
        oracle.close_tree()
        log.info("fit: %s trees with %s hosts", len(model.trees), len(self.hosts))
        return GuestFit(model, self.edges, host_bins, tuple(oracle.tree_seconds))
