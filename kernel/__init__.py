"""The kernel: what every layer of fedmarket shares, and nothing else.

- :mod:`kernel.errors`: the exception root :class:`FedmarketError` and its families;
- :mod:`kernel.types`: meaning-carrying types (``Cid``, ``Address``, ``TaskId``, ``Wei``...).
- :mod:`kernel.runtime`: interpreter settings kept whatever dependencies do (the recursion limit).
- :mod:`kernel.alerts`: breach alerts (``raise_alert``) and the webhook or command they go to.

The kernel imports nothing from the project; every other package may import it.
"""

from kernel.errors import (
    FAMILIES,
    ConfigurationError,
    FedmarketError,
    IntegrityError,
    InvalidInputError,
    NotFoundError,
    OperationTimeoutError,
    ProtocolError,
    RefusedError,
    ServiceUnavailableError,
    families_of,
    family_of,
)
from kernel.types import Address, Cid, Hash32, Round, TaskId, Wei

__all__ = [
    "FAMILIES",
    "Address",
    "Cid",
    "ConfigurationError",
    "FedmarketError",
    "Hash32",
    "IntegrityError",
    "InvalidInputError",
    "NotFoundError",
    "OperationTimeoutError",
    "ProtocolError",
    "RefusedError",
    "Round",
    "ServiceUnavailableError",
    "TaskId",
    "Wei",
    "families_of",
    "family_of",
]
