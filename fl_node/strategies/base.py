"""The strategy interface: what participants run locally, and how their updates are combined."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch

from fl_node.training import TrainConfig


@dataclass(frozen=True)
class ClientUpdate:
    """An accepted update: its parameter deltas and its sample count."""

    delta: Mapping[str, torch.Tensor]
    samples: int


class Strategy(ABC):
    """A federated optimisation rule.

    ``configure_train`` turns the task's base training configuration into what each participant
    runs; ``aggregate`` combines accepted updates into the next global parameters. Both are pure.
    """

    name: str = "abstract"

    @abstractmethod
    def configure_train(self, base: TrainConfig) -> TrainConfig:
        """The local training configuration participants use."""

    @abstractmethod
    def aggregate(
        self, params: Mapping[str, torch.Tensor], updates: Sequence[ClientUpdate]
    ) -> dict[str, torch.Tensor]:
        """Next global parameters from the current ones and the accepted updates.

        With no updates the parameters are returned unchanged.
        """
