"""The linear family: logistic regression (binary), softmax regression, linear regression."""

from __future__ import annotations

from torch import nn

from fl_node.models.spec import ModelSpec


def linear_body(spec: ModelSpec) -> nn.Module:
    """One linear layer from the (flattened) input to the outputs."""
    layers: list[nn.Module] = [nn.Flatten()] if spec.is_image else []
    return nn.Sequential(*layers, nn.Linear(spec.n_features, spec.outputs))
