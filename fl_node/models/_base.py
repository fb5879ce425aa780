"""What every family shares: input standardisation, the output head, and the module's frame.

A family only builds the ``body`` (standardised input to ``spec.outputs`` raw outputs); the frame
standardises the input in front of it and shapes the output behind it, so a buyer of the model
feeds it raw features and reads logits (binary, multi-class) or values on the target's scale.
"""

from __future__ import annotations

import torch
from torch import nn

from fl_node.models.spec import ModelSpec


class Standardize(nn.Module):
    """``(x - mean) / std`` with fixed buffers (not trained, not part of updates).

    For images the statistics are per channel and broadcast over height and width.
    """

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(
        self, mean: tuple[float, ...], std: tuple[float, ...], image: bool = False
    ) -> None:
        super().__init__()
        shape = (-1, 1, 1) if image else (-1,)
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).reshape(shape))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).reshape(shape))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Standardise ``x``."""
        return (x - self.mean) / self.std


class FedModel(nn.Module):
    """Standardisation, a family's body, and the task's head.

    ``forward`` returns logits of shape ``(rows,)`` (binary), ``(rows, classes)`` (multi-class),
    or predicted values of shape ``(rows,)`` on the target's own scale (regression).
    """

    def __init__(self, spec: ModelSpec, body: nn.Module) -> None:
        super().__init__()
        self.spec = spec
        self.scale = Standardize(spec.feature_mean, spec.feature_std, image=spec.is_image)
        self.body = body

    def raw(self, x: torch.Tensor) -> torch.Tensor:
        """The network's outputs before the head: what the loss is computed on."""
        if self.spec.is_image:
            x = x.reshape(x.shape[0], *self.spec.input_shape)
        out: torch.Tensor = self.body(self.scale(x))
        return out if self.spec.task == "multiclass" else out.squeeze(-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits, or values on the target's scale for regression."""
        out = self.raw(x)
        if self.spec.task == "regression":
            return out * self.spec.target_std + self.spec.target_mean
        return out
