"""``run_ftl``: the whole federated transfer-learning task, its deliverables and on-chain record.

Nothing in :mod:`fl_node.transfer` imports this sub-package; ``fedmarket ftl`` does.
"""

from fl_node.transfer.runner.run import (
    DATASETS,
    Contributions,
    FtlRecord,
    ModelTrained,
    SharedUsersFound,
    contributions,
    run_ftl,
)
from fl_node.transfer.runner.settings import FtlSettings

__all__ = [
    "DATASETS",
    "Contributions",
    "FtlRecord",
    "FtlSettings",
    "ModelTrained",
    "SharedUsersFound",
    "contributions",
    "run_ftl",
]
