"""Aggregation strategies, one per file; the arithmetic lives in ``_utils``."""

from fl_node.errors import SpecError
from fl_node.strategies.base import ClientUpdate, Strategy
from fl_node.strategies.fedavg import FedAvg
from fl_node.strategies.fedsgd import FedSGD

STRATEGIES: dict[str, type[Strategy]] = {"fedavg": FedAvg, "fedsgd": FedSGD}


def make_strategy(name: str, server_lr: float | None = None) -> Strategy:
    """The strategy called ``name`` (``"fedavg"`` or ``"fedsgd"``)."""
    try:
        cls = STRATEGIES[name]
    except KeyError:
        raise SpecError(f"make_strategy: unknown strategy {name!r}") from None
    return cls() if server_lr is None else cls(server_lr=server_lr)  # type: ignore[call-arg]


__all__ = ["STRATEGIES", "ClientUpdate", "FedAvg", "FedSGD", "Strategy", "make_strategy"]
