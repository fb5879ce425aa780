"""Typed wire messages of SecureBoost and their :data:`BOOST_CODEC`.

Frame types 60-69 (the hetero-LR protocol uses 10-41, so one codec can carry both). Every
message names its session; the training messages name their tree and depth, so a replayed or
foreign message is refused by the receiver (:func:`expect`). Ciphertext blobs are validated by
the receiver's :class:`~fl_node.vertical.protocol.boost.cipher.BoostCipher` (key fingerprint,
count, range); shapes and ids by each message's ``validate`` and by the receiving role, which
alone knows the bounds (rows, bins, record ids).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from fl_node.vertical.protocol.boost._errors import BoostPeerError
from fl_node.vertical.transport import Message, MessageCodec, require, u32_field

U32Array = npt.NDArray[np.uint32]

BOOST_VERSION = 1
#: ``node_of_row`` value of a row that is not in a node being split.
INACTIVE = 0xFFFFFFFF


class BoostMsgType(enum.IntEnum):
    """Frame types of SecureBoost."""

    BOOST_SESSION = 60
    BOOST_HOST_INFO = 61
    BOOST_GRADIENTS = 62
    BOOST_NODES = 63
    BOOST_HISTOGRAM = 64
    BOOST_SPLITS = 65
    BOOST_PARTITION = 66
    BOOST_PREDICT = 67
    BOOST_BRANCHES = 68


@dataclass(frozen=True)
class BoostSessionMsg(Message):
    """Guest -> host: the session's public parameters and the guest's Paillier public key."""

    TAG = BoostMsgType.BOOST_SESSION
    session: str
    version: int
    host: int
    cipher: str
    n_rows: int
    n_trees: int
    max_depth: int
    precision_bits: int
    key_bits: int
    fingerprint: bytes
    key: bytes

    def validate(self) -> None:
        """Check ranges (the key is parsed by the host's cipher)."""
        require(self.version == BOOST_VERSION, "BoostSessionMsg: version mismatch")
        require(self.cipher in ("ours", "phe"), "BoostSessionMsg: unknown cipher")
        require(self.host >= 1 and self.n_rows >= 1, "BoostSessionMsg: bad host or rows")
        require(1 <= self.n_trees <= 10000, "BoostSessionMsg: bad tree count")
        require(1 <= self.max_depth <= 16, "BoostSessionMsg: bad depth")
        require(8 <= self.precision_bits <= 40, "BoostSessionMsg: bad precision")
        require(512 <= self.key_bits <= 16384, "BoostSessionMsg: bad key size")
        require(len(self.fingerprint) == 16, "BoostSessionMsg: bad fingerprint")


@dataclass(frozen=True)
class BoostHostInfoMsg(Message):
    """Host -> guest: the number of bins of each of the host's features (nothing else)."""

    TAG = BoostMsgType.BOOST_HOST_INFO
    session: str
    host: int
    bins: list[int]

    def validate(self) -> None:
        """Every feature has 1..256 bins."""
        require(len(self.bins) <= 4096, "BoostHostInfoMsg: too many features")
        require(all(1 <= b <= 256 for b in self.bins), "BoostHostInfoMsg: bad bin count")


@dataclass(frozen=True)
class BoostGradientsMsg(Message):
    """Guest -> host: one tree's encrypted packed ``(g, h)`` of every training row."""

    TAG = BoostMsgType.BOOST_GRADIENTS
    session: str
    tree: int
    data: bytes


@dataclass(frozen=True)
class BoostNodesMsg(Message):
    """Guest -> host: the level's nodes to split and every row's node (``INACTIVE``: none).

    ``n_nodes == 0`` ends the tree before ``max_depth``.
    """

    TAG = BoostMsgType.BOOST_NODES
    session: str
    tree: int
    depth: int
    n_nodes: int
    node_of_row: U32Array = u32_field()

    def validate(self) -> None:
        """Node ids below ``n_nodes``; a non-empty level has a row in every node."""
        require(0 <= self.n_nodes <= 1 << 16, "BoostNodesMsg: bad node count")
        active = self.node_of_row[self.node_of_row != INACTIVE]
        require(bool((active < self.n_nodes).all()), "BoostNodesMsg: node id out of range")
        require(np.unique(active).size == self.n_nodes, "BoostNodesMsg: empty node")


@dataclass(frozen=True)
class BoostHistogramMsg(Message):
    """Host -> guest: compressed cumulative histograms of the level's nodes (ciphertexts)."""

    TAG = BoostMsgType.BOOST_HISTOGRAM
    session: str
    tree: int
    depth: int
    n_sums: int
    data: bytes


@dataclass(frozen=True)
class BoostSplitsMsg(Message):
    """Guest -> host: the level's nodes this host won, with the winning feature and bin."""

    TAG = BoostMsgType.BOOST_SPLITS
    session: str
    tree: int
    depth: int
    nodes: list[int]
    features: list[int]
    bins: list[int]

    def validate(self) -> None:
        """Equal lengths, distinct ascending nodes."""
        n = len(self.nodes)
        require(len(self.features) == n and len(self.bins) == n, "BoostSplitsMsg: lengths")
        require(
            all(a < b for a, b in zip(self.nodes, self.nodes[1:], strict=False)),
            "BoostSplitsMsg: order",
        )


@dataclass(frozen=True)
class BoostPartitionMsg(Message):
    """Host -> guest: a record id per won node and the node's rows' branches (1: left)."""

    TAG = BoostMsgType.BOOST_PARTITION
    session: str
    tree: int
    depth: int
    records: list[int]
    left: U32Array = u32_field()

    def validate(self) -> None:
        """Flags are 0 or 1."""
        require(bool((self.left <= 1).all()), "BoostPartitionMsg: flags must be 0 or 1")


@dataclass(frozen=True)
class BoostPredictMsg(Message):
    """Guest -> host: branch these (record, row) pairs; ``done`` ends the prediction."""

    TAG = BoostMsgType.BOOST_PREDICT
    session: str
    query: str
    done: bool
    records: U32Array = u32_field()
    rows: U32Array = u32_field()

    def validate(self) -> None:
        """One record per row."""
        require(self.records.size == self.rows.size, "BoostPredictMsg: lengths differ")
        require(not self.done or self.rows.size == 0, "BoostPredictMsg: rows with done")


@dataclass(frozen=True)
class BoostBranchesMsg(Message):
    """Host -> guest: 1 where a queried row goes left."""

    TAG = BoostMsgType.BOOST_BRANCHES
    session: str
    query: str
    left: U32Array = u32_field()

    def validate(self) -> None:
        """Flags are 0 or 1."""
        require(bool((self.left <= 1).all()), "BoostBranchesMsg: flags must be 0 or 1")


BOOST_MESSAGES: tuple[type[Message], ...] = (
    BoostSessionMsg,
    BoostHostInfoMsg,
    BoostGradientsMsg,
    BoostNodesMsg,
    BoostHistogramMsg,
    BoostSplitsMsg,
    BoostPartitionMsg,
    BoostPredictMsg,
    BoostBranchesMsg,
)

BOOST_CODEC = MessageCodec(BOOST_MESSAGES)
"""SecureBoost's messages, for the transports."""


def expect(who: str, got: tuple[str, int, int], want: tuple[str, int, int], what: str) -> None:
    """Refuse a message of another session, tree or depth (replayed or foreign).

    Parameters
    ----------
    who : str
        The receiving role (named in the error).
    got, want : tuple
        ``(session, tree, depth)`` of the message and the one in progress.
    what : str
        The message (named in the error).

    Raises
    ------
    BoostPeerError
        When they differ.
    """
    if got != want:
        raise BoostPeerError(f"{who}: {what} for {got}, expected {want}")
