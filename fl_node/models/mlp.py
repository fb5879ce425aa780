"""The multi-layer perceptron: linear layers with ReLU between them."""

from __future__ import annotations

from torch import nn

from fl_node.models.spec import ModelSpec


def mlp_body(spec: ModelSpec) -> nn.Module:
    """``Linear -> ReLU`` per hidden width, then a linear layer to the outputs."""
    layers: list[nn.Module] = [nn.Flatten()] if spec.is_image else []
    width = spec.n_features
    for h in spec.hidden:
        layers += [nn.Linear(width, h), nn.ReLU()]
        width = h
    layers.append(nn.Linear(width, spec.outputs))
    return nn.Sequential(*layers)
