"""Hyperparameters of the matrix factorisation, shared by every method (a frozen dataclass)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from fl_node.transfer.errors import TransferInputError


@dataclass(frozen=True)
class MFConfig:
    """One setting for target-only, centralised pooled and federated training alike.

    Attributes
    ----------
    rank : int, default 8
        Latent factors per user and item.
    lr : float, default 0.03
        Adam step size (full batch: one step per epoch).
    reg : float, default 10.0
        L2 penalty ``0.5 * reg * ||theta||^2`` on every factor and bias.
    epochs : int, default 600
        Most full-batch steps.
    patience : int, default 30
        Stop after this many steps without a better target validation RMSE (0: never).
    init_scale : float, default 0.1
        Standard deviation of the initial factors (biases start at 0).
    """

    rank: int = 8
    lr: float = 0.03
    reg: float = 10.0
    epochs: int = 600
    patience: int = 30
    init_scale: float = 0.1

    def __post_init__(self) -> None:
        """Refuse impossible settings."""
        if self.rank < 1 or self.epochs < 1 or self.patience < 0:
            raise TransferInputError(f"MFConfig: rank, epochs >= 1, patience >= 0: {self}")
        if not (self.lr > 0 and self.reg >= 0 and self.init_scale > 0):
            raise TransferInputError(f"MFConfig: lr, init_scale > 0, reg >= 0: {self}")

    def to_dict(self) -> dict[str, Any]:
        """The settings as a JSON-able dict."""
        return asdict(self)


__all__ = ["MFConfig"]
