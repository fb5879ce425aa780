"""A small convolutional network for 28x28 and 32x32 images.

Per entry of ``spec.channels``: a 3x3 convolution (padding 1), ReLU and a 2x2 max-pool; then the
feature map is flattened into ``spec.hidden`` dense layers with ReLU, and a linear layer to the
outputs. With the defaults (16, 32) and (64,) it has about 100k parameters on MNIST.
"""

from __future__ import annotations

from torch import nn

from fl_node.errors import SpecError
from fl_node.models.spec import ModelSpec


def cnn_body(spec: ModelSpec) -> nn.Module:
    """The convolutional stack and its dense head."""
    channels, height, width = spec.input_shape
    layers: list[nn.Module] = []
    for out in spec.channels:
        layers += [nn.Conv2d(channels, out, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
        channels, height, width = out, height // 2, width // 2
    if height < 1 or width < 1:
        raise SpecError("cnn: the image is too small for that many pooling stages")
    layers.append(nn.Flatten())
    features = channels * height * width
    for h in spec.hidden:
        layers += [nn.Linear(features, h), nn.ReLU()]
        features = h
    layers.append(nn.Linear(features, spec.outputs))
    return nn.Sequential(*layers)
