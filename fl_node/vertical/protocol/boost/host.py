"""A host's side of SecureBoost: features only, never labels, gradients or the private key.

Per tree :class:`SecureBoostHost` receives every row's encrypted packed ``(g, h)``; per level it
sums them by bin for every node being split (:meth:`BoostCipher.bin_sums`), makes the sums
cumulative within each feature, compresses several sums per ciphertext and sends them. For
every node it wins it keeps ``(feature, bin, threshold)`` under a fresh record id in its private
lookup table and returns the node's partition. In prediction it answers, for its own record
ids only, whether given rows go left. It refuses any message of another session, tree or
depth, node ids, features or bins out of range, and record ids it never made.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from fl_node.vertical.protocol.boost._errors import BoostPeerError
from fl_node.vertical.protocol.boost.binning import BinArray, BinEdges, quantile_edges
from fl_node.vertical.protocol.boost.cipher import BoostCipher, load_public
from fl_node.vertical.protocol.boost.config import BoostConfig, FloatArray
from fl_node.vertical.protocol.boost.gh import GHPacking
from fl_node.vertical.protocol.boost.histogram import offsets_of
from fl_node.vertical.protocol.boost.messages import (
    INACTIVE,
    BoostBranchesMsg,
    BoostGradientsMsg,
    BoostHistogramMsg,
    BoostHostInfoMsg,
    BoostNodesMsg,
    BoostPartitionMsg,
    BoostPredictMsg,
    BoostSessionMsg,
    BoostSplitsMsg,
    expect,
)
from fl_node.vertical.transport import Transport

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HostRecord:
    """One split a host owns (private to the host).

    Attributes
    ----------
    feature : int
        The host's feature.
    bin : int
        Split bin.
    threshold : float
        ``x <= threshold`` goes left.
    """

    feature: int
    bin: int
    threshold: float


@dataclass(frozen=True)
class HostBoostModel:
    """A host's part of a trained ensemble: its lookup table.

    Attributes
    ----------
    session : str
        Session that made it.
    records : tuple of HostRecord
        By record id.
    edges : BinEdges
        The host's bin edges.
    """

    session: str
    records: tuple[HostRecord, ...]
    edges: BinEdges


class SecureBoostHost:
    """A feature holder's side of one SecureBoost training session.

    Parameters
    ----------
    x : ndarray of shape (n, F_h)
        The host's training features (aligned rows).
    config : BoostConfig
        Agreed hyper-parameters (``key_bits`` is the smallest key accepted).
    session : str
        Session name.
    guest : str, default "guest"
        The guest's role.
    edges : BinEdges or None
        The host's bin edges (default: quantiles of ``x``).
    """

    def __init__(
        self,
        x: FloatArray,
        config: BoostConfig,
        *,
        session: str,
        guest: str = "guest",
        edges: BinEdges | None = None,
    ) -> None:
        self.x = np.asarray(x, dtype=np.float64)
        self.config = config
        self.session = session
        self.guest = guest
        self.edges = edges if edges is not None else quantile_edges(self.x, config.max_bins)
        self.binned: BinArray = self.edges.transform(self.x)
        self.records: list[HostRecord] = []
        self.host = 0

    def open(self, transport: Transport) -> tuple[BoostCipher, GHPacking]:
        """Check the guest's session against the agreed configuration; send the bins.

        Parameters
        ----------
        transport : Transport
            Channel to the guest.
        """
        msg = transport.recv_from(self.guest, BoostSessionMsg)
        cfg = self.config
        agreed = (self.session, cfg.cipher, self.x.shape[0], cfg.n_trees, cfg.max_depth)
        got = (msg.session, msg.cipher, msg.n_rows, msg.n_trees, msg.max_depth)
        if got != agreed or msg.precision_bits != cfg.precision_bits:
            raise BoostPeerError(f"host: session {got} differs from the agreed {agreed}")
        cipher = load_public(msg.cipher, msg.key)
        if cipher.fingerprint != msg.fingerprint or cipher.key_bits != msg.key_bits:
            raise BoostPeerError("host: public key fingerprint or size mismatch")
        if cipher.key_bits < cfg.key_bits:
            raise BoostPeerError(f"host: a {cipher.key_bits}-bit key, need {cfg.key_bits}")
        packing = GHPacking(cfg.precision_bits, msg.n_rows)
        packing.check_key(cipher.key_bits)
        self.host = msg.host
        transport.send(
            self.guest,
            BoostHostInfoMsg(session=self.session, host=msg.host, bins=list(self.edges.n_bins)),
        )
        return cipher, packing

    def fit(self, transport: Transport) -> HostBoostModel:
        """Serve the whole training session.

        Parameters
        ----------
        transport : Transport
            Channel to the guest.
        """
        cipher, packing = self.open(transport)
        n_rows = self.x.shape[0]
        for tree in range(self.config.n_trees):
            msg = transport.recv_from(self.guest, BoostGradientsMsg)
            expect("host", (msg.session, msg.tree, 0), (self.session, tree, 0), "gradients")
            cts = cipher.loads(msg.data, n_rows)
            for depth in range(self.config.max_depth):
                nodes = transport.recv_from(self.guest, BoostNodesMsg)
                key = (nodes.session, nodes.tree, nodes.depth)
                expect("host", key, (self.session, tree, depth), "nodes")
                if nodes.n_nodes == 0:
                    break
                if nodes.node_of_row.size != n_rows:
                    raise BoostPeerError("host: node assignment of the wrong length")
                node_of_row = np.where(
                    nodes.node_of_row == INACTIVE, -1, nodes.node_of_row.astype(np.int64)
                )
                self._send_histogram(transport, cipher, packing, cts, node_of_row, key)
                self._split(transport, node_of_row, nodes.n_nodes, key)
        log.info("fit: %s records", len(self.records))
        return HostBoostModel(self.session, tuple(self.records), self.edges)

    def _send_histogram(
        self,
        transport: Transport,
        cipher: BoostCipher,
        packing: GHPacking,
        cts: list[Any],
        node_of_row: Any,
        key: tuple[str, int, int],
    ) -> None:
        n_bins = self.edges.n_bins
        total = int(sum(n_bins))
        n_nodes = int(node_of_row.max()) + 1
        active = np.flatnonzero(node_of_row >= 0)
        keys = node_of_row[active, None] * total + offsets_of(n_bins)[None, :] + self.binned[active]
        rows = np.repeat(active, len(n_bins))
        with transport.timer("homomorphic"):
            sums = cipher.bin_sums(cts, rows, keys.ravel(), n_nodes * total)
            sums = cipher.cumulate(sums, n_bins, n_nodes)
            packed = cipher.compress(
                sums, packing.slot_bits, packing.per_plaintext(cipher.key_bits)
            )
            data = cipher.dumps(packed)
        transport.send(
            self.guest,
            BoostHistogramMsg(
                session=key[0], tree=key[1], depth=key[2], n_sums=n_nodes * total, data=data
            ),
        )

    def _split(
        self, transport: Transport, node_of_row: Any, n_nodes: int, key: tuple[str, int, int]
    ) -> None:
        msg = transport.recv_from(self.guest, BoostSplitsMsg)
        expect("host", (msg.session, msg.tree, msg.depth), key, "splits")
        n_bins = self.edges.n_bins
        flags = []
        records = []
        for node, feature, b in zip(msg.nodes, msg.features, msg.bins, strict=True):
            if not (0 <= node < n_nodes and 0 <= feature < len(n_bins)):
                raise BoostPeerError("host: split node or feature out of range")
            if not 0 <= b < n_bins[feature] - 1:
                raise BoostPeerError("host: split bin out of range")
            rows = np.flatnonzero(node_of_row == node)
            flags.append((self.binned[rows, feature] <= b).astype(np.uint32))
            records.append(len(self.records))
            self.records.append(HostRecord(feature, b, self.edges.threshold(feature, b)))
        left = np.concatenate(flags) if flags else np.zeros(0, dtype=np.uint32)
        transport.send(
            self.guest,
            BoostPartitionMsg(
                session=key[0], tree=key[1], depth=key[2], records=records, left=left
            ),
        )


def host_answer_predict(
    transport: Transport, model: HostBoostModel, x: FloatArray, *, guest: str = "guest"
) -> int:
    """Answer the guest's branch queries on the rows of ``x`` until it says done.

    Parameters
    ----------
    transport : Transport
        Channel to the guest.
    model : HostBoostModel
        The host's lookup table.
    x : ndarray of shape (m, F_h)
        The host's features of the rows the host agreed to have scored (aligned with the guest).
    guest : str, default "guest"
        The guest's role.

    Returns
    -------
    int
        Queries answered.

    Raises
    ------
    BoostPeerError
        Another session, a record id the host never made, a row out of range.
    """
    features = np.array([r.feature for r in model.records], dtype=np.int64)
    thresholds = np.array([r.threshold for r in model.records], dtype=np.float64)
    answered = 0
    while True:
        msg = transport.recv_from(guest, BoostPredictMsg)
        if msg.session != model.session:
            raise BoostPeerError(f"host: prediction for session {msg.session!r}")
        if msg.done:
            return answered
        records = msg.records.astype(np.int64)
        rows = msg.rows.astype(np.int64)
        if records.size and int(records.max()) >= len(model.records):
            raise BoostPeerError("host: unknown record id")
        if rows.size and int(rows.max()) >= x.shape[0]:
            raise BoostPeerError("host: row out of range")
        with transport.timer("plaintext"):
            left = x[rows, features[records]] <= thresholds[records]
        transport.send(
            guest,
            BoostBranchesMsg(session=msg.session, query=msg.query, left=left.astype(np.uint32)),
        )
        answered += 1
