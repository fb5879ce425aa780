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
``cipher``, ``messages``
    :class:`BoostCipher` (ours or phe); the wire messages and :data:`BOOST_CODEC`.
``guest``, ``host``, ``predict``
    The two roles over a :class:`~fl_node.vertical.transport.Transport`; federated prediction.
``contribution``
    Training on a coalition of feature groups (for Shapley values per party).
"""

from fl_node.vertical.protocol.boost._errors import (
    BoostConfigError,
    BoostPeerError,
    SecureBoostError,
)
from fl_node.vertical.protocol.boost.binning import BinArray, BinEdges, quantile_edges
from fl_node.vertical.protocol.boost.cipher import (
    BoostCipher,
    OursBoostCipher,
    PheBoostCipher,
    load_public,
    make_cipher,
)
from fl_node.vertical.protocol.boost.config import BoostCipherName, BoostConfig
from fl_node.vertical.protocol.boost.contribution import coalition_value, fit_coalition
from fl_node.vertical.protocol.boost.gh import GHPacking
from fl_node.vertical.protocol.boost.guest import FederatedOracle, GuestFit, SecureBoostGuest
from fl_node.vertical.protocol.boost.histogram import (
    SplitChoice,
    best_splits,
    cumulate,
    leaf_weight,
    plain_histograms,
    split_gains,
)
from fl_node.vertical.protocol.boost.host import (
    HostBoostModel,
    HostRecord,
    SecureBoostHost,
    host_answer_predict,
)
from fl_node.vertical.protocol.boost.messages import (
    BOOST_CODEC,
    BOOST_MESSAGES,
    BOOST_VERSION,
    BoostBranchesMsg,
    BoostGradientsMsg,
    BoostHistogramMsg,
    BoostHostInfoMsg,
    BoostMsgType,
    BoostNodesMsg,
    BoostPartitionMsg,
    BoostPredictMsg,
    BoostSessionMsg,
    BoostSplitsMsg,
)
from fl_node.vertical.protocol.boost.predict import guest_predict
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
    "BOOST_CODEC",
    "BOOST_MESSAGES",
    "BOOST_VERSION",
    "BinArray",
    "BinEdges",
    "BoostBranchesMsg",
    "BoostCipher",
    "BoostCipherName",
    "BoostConfig",
    "BoostConfigError",
    "BoostGradientsMsg",
    "BoostHistogramMsg",
    "BoostHostInfoMsg",
    "BoostModel",
    "BoostMsgType",
    "BoostNodesMsg",
    "BoostPartitionMsg",
    "BoostPeerError",
    "BoostPredictMsg",
    "BoostSessionMsg",
    "BoostSplitsMsg",
    "FederatedOracle",
    "GHPacking",
    "GuestFit",
    "HostBoostModel",
    "HostRecord",
    "LevelOracle",
    "NodeSplit",
    "OursBoostCipher",
    "PheBoostCipher",
    "SecureBoostError",
    "SecureBoostGuest",
    "SecureBoostHost",
    "SplitChoice",
    "TreeNode",
    "TwinFit",
    "TwinOracle",
    "best_splits",
    "boost",
    "coalition_value",
    "cumulate",
    "fit_coalition",
    "fit_twin",
    "grow_tree",
    "guest_predict",
    "host_answer_predict",
    "leaf_weight",
    "load_public",
    "make_cipher",
    "plain_histograms",
    "predict_twin",
    "quantile_edges",
    "sigmoid",
    "split_gains",
    "walk",
]
