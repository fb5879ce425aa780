"""Aggregation strategies, one per file; the arithmetic lives in ``_utils``.

A task spec names its strategy and hyperparameters (``"strategy": "fedadam"``,
``"strategy_params": {"server_lr": 0.1, "tau": 0.001}``); :func:`make_strategy` builds it,
refusing unknown names, unknown parameters and values out of range with :class:`SpecError`.
``make_strategy(s.name, **s.params())`` rebuilds ``s``.
"""

import inspect
from collections.abc import Mapping

from fl_node.errors import SpecError
from fl_node.strategies.base import AggregateResult, ClientUpdate, Strategy
from fl_node.strategies.fedadagrad import FedAdagrad
from fl_node.strategies.fedadam import FedAdam
from fl_node.strategies.fedavg import FedAvg
from fl_node.strategies.fedopt import FedOpt
from fl_node.strategies.fedprox import FedProx, proximal_penalty
from fl_node.strategies.fedsgd import FedSGD
from fl_node.strategies.fedyogi import FedYogi
from fl_node.strategies.sampling import ClientSampling, mix_seed, sample_clients, sample_size
from fl_node.strategies.state import ServerState

STRATEGIES: dict[str, type[Strategy]] = {
    cls.name: cls for cls in (FedAvg, FedSGD, FedProx, FedAdam, FedYogi, FedAdagrad)
}

PARAMETERS: Mapping[str, tuple[str, ...]] = {
    name: tuple(inspect.signature(cls).parameters) for name, cls in STRATEGIES.items()
}
"""The hyperparameters each strategy takes (their constructors' arguments, all numbers;
omitted ones take their defaults)."""


def make_strategy(name: str, server_lr: float | None = None, **params: object) -> Strategy:
    """The strategy called ``name`` with the given hyperparameters.

    Parameters
    ----------
    name : str
        A key of :data:`STRATEGIES`.
    server_lr : float, optional
        The server learning rate (every strategy has one); its default when omitted.
    **params : float
        The other hyperparameters, by the names of :data:`PARAMETERS`.

    Raises
    ------
    SpecError
        An unknown strategy or parameter, or a value that is not a finite number in range.
    """
    try:
        cls = STRATEGIES[name]
    except (KeyError, TypeError):
        raise SpecError(f"make_strategy: unknown strategy {name!r}") from None
    if server_lr is not None:
        params["server_lr"] = server_lr
    unknown = sorted(set(params) - set(PARAMETERS[name]))
    if unknown:
        raise SpecError(f"make_strategy: {name} takes no parameter {', '.join(unknown)}")
    return cls(**params)


__all__ = [
    "PARAMETERS",
    "STRATEGIES",
    "AggregateResult",
    "ClientSampling",
    "ClientUpdate",
    "FedAdagrad",
    "FedAdam",
    "FedAvg",
    "FedOpt",
    "FedProx",
    "FedSGD",
    "FedYogi",
    "ServerState",
    "Strategy",
    "make_strategy",
    "mix_seed",
    "proximal_penalty",
    "sample_clients",
    "sample_size",
]
