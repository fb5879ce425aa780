"""Federated transfer learning (FTL) for cross-domain recommendation.

Two parties rate items of different domains (on X-Wines: red wines, the *source*, and every
other type, the *target*) and share part of their users. The users they share, found by the
DH-OPRF PSI (:mod:`~fl_node.transfer.alignment`), get one latent row learned from both
domains' ratings; every rating, item factor and unshared user stays with its party. The
target's ratings are then predicted better than from its own data alone.

Modules (maths first, each importing only those above it in this list):

``errors``, ``config``, ``mf``
    The exception root, the hyperparameters and the matrix factorisation (predictions,
    gradients, Adam): pure numpy.
``data``, ``alignment``
    The two domains of X-Wines and the seed-controlled split; the PSI.
``masking``, ``identity``, ``messages``
    X25519 mask agreement, ChaCha20 masks and fixed point in Z_2^64; mask keys signed with the
    parties' on-chain keys; the typed wire messages.
``central``, ``protocol``
    Centralised training (the target alone or both pooled) and the federated protocol (target
    party, source party, coordinator) that reproduces the pooled training step for step.
``experiment``
    One seed of target-only, centralised and federated training, scored alike.
``runner``
    ``run_ftl``: PSI, training, contribution, deliverables and the on-chain record.

See ``docs/ftl.md`` for the protocol, its messages and the threat model.
"""

from fl_node.transfer.alignment import Alignment, align
from fl_node.transfer.central import Fit, Problem, evaluate, fit, pooled_problem, target_problem
from fl_node.transfer.config import MFConfig
from fl_node.transfer.data import Domain, TargetSplit, load_domains, split_target
from fl_node.transfer.errors import (
    TransferError,
    TransferInputError,
    TransferIntegrityError,
    TransferProtocolError,
)
from fl_node.transfer.experiment import MethodResult, SeedResult, compare, federated, recovered
from fl_node.transfer.mf import Factors, Ratings
from fl_node.transfer.protocol import (
    Coordinator,
    DomainParty,
    ProtocolRun,
    TargetParty,
    Wire,
    WireRecord,
    pooled_view,
    run_protocol,
)

__all__ = [
    "Alignment",
    "Coordinator",
    "Domain",
    "DomainParty",
    "Factors",
    "Fit",
    "MFConfig",
    "MethodResult",
    "Problem",
    "ProtocolRun",
    "Ratings",
    "SeedResult",
    "TargetParty",
    "TargetSplit",
    "TransferError",
    "TransferInputError",
    "TransferIntegrityError",
    "TransferProtocolError",
    "Wire",
    "WireRecord",
    "align",
    "compare",
    "evaluate",
    "federated",
    "fit",
    "load_domains",
    "pooled_problem",
    "pooled_view",
    "recovered",
    "run_protocol",
    "split_target",
    "target_problem",
]
