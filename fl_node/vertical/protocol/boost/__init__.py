"""SecureBoost: hetero (vertical) gradient-boosted trees, one guest and N hosts, no arbiter.

FATE's SecureBoost. The **guest** holds the labels, its own features and the Paillier private
key; each **host** holds features of the same aligned rows. Per tree the guest encrypts every
training row's packed ``(g, h)`` once and sends them to every host; per level each host sums
the ciphertexts of its bins (cumulative histograms of the nodes being split) and sends them;
the guest decrypts, finds the best split over its own and every host's bins, and tells the
owning host only which (node, feature, bin) won; that host keeps the threshold in a private
lookup table and returns the node's left/right partition and a record id. Prediction walks the
trees at the guest, asking each host for the branches at its records, one batch per level.
What each party sees is listed in ``docs/secureboost.md``. Modules:

``config``, ``binning``, ``gh``
    :class:`BoostConfig`; per-feature quantile bins; fixed-point ``(g, h)`` and their packing.
``histogram``, ``tree``, ``twin``
    Cumulative histograms and the split search; the grower and boosting loop shared by the
    twin and the guest; the centralised plaintext twin.
``contribution``
    Training on a coalition of feature groups (for Shapley values per party).
"""

from fl_node.vertical.protocol.boost._errors import (
    BoostConfigError,
    BoostPeerError,
    SecureBoostError,
)
from fl_node.vertical.protocol.boost.binning import BinArray, BinEdges, quantile_edges
from fl_node.vertical.protocol.boost.config import BoostCipherName, BoostConfig
from fl_node.vertical.protocol.boost.gh import GHPacking
from fl_node.vertical.protocol.boost.histogram import (
    SplitChoice,
    best_splits,
    cumulate,
    leaf_weight,
    plain_histograms,
    split_gains,
)
from fl_node.vertical.protocol.boost.tree import (
    BoostModel,
    LevelOracle,
    NodeSplit,
    TreeNode,
    boost,
    grow_tree,
    sigmoid,
    walk,
)
from fl_node.vertical.protocol.boost.twin import TwinFit, TwinOracle, fit_twin, predict_twin

__all__ = [
    "BinArray",
    "BinEdges",
    "BoostCipherName",
    "BoostConfig",
    "BoostConfigError",
    "BoostModel",
    "BoostPeerError",
    "GHPacking",
    "LevelOracle",
    "NodeSplit",
    "SecureBoostError",
    "SplitChoice",
    "TreeNode",
    "TwinFit",
    "TwinOracle",
    "best_splits",
    "boost",
    "cumulate",
    "fit_twin",
    "grow_tree",
    "leaf_weight",
    "plain_histograms",
    "predict_twin",
    "quantile_edges",
    "sigmoid",
    "split_gains",
    "walk",
]
