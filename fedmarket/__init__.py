"""fedmarket: paid, auditable federated learning.

The top-level package holds what every domain shares: meaning-carrying types
(:mod:`fedmarket.types`), the exception root (:mod:`fedmarket.errors`), content-addressed
storage (:mod:`fedmarket.storage`), and the command line (:mod:`fedmarket.cli`). The domains live
beside it: ``chain`` (contracts and chain backends), ``fl_node`` (training), ``incentives``
(contribution and rewards) and ``marketplace_api`` (the REST service).
"""

from fedmarket.errors import FedmarketError

__all__ = ["FedmarketError", "__version__"]

__version__ = "0.1.0"
