"""An architecture declared in the task spec, from a vetted vocabulary of layers.

The spec lists :class:`~fl_node.models.spec.LayerSpec` records (``linear``, ``conv2d``, pools,
``flatten``, activations, ``dropout``); this module checks the shapes they imply and builds them
with PyTorch's own layers. Nothing in a spec is executed: an unknown operation, a shape that does
not fit, or a model above :data:`~fl_node.models.spec.MAX_PARAMS` parameters is refused before
any tensor is allocated.
"""

from __future__ import annotations

from torch import nn

from fl_node.errors import SpecError
from fl_node.models.spec import MAX_PARAMS, LayerSpec, ModelSpec

Shape = tuple[int, ...]

_ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "gelu": nn.GELU,
    "sigmoid": nn.Sigmoid,
}


def _pooled(size: int, layer: LayerSpec) -> int:
    return (size + 2 * layer.padding - layer.kernel) // layer.stride + 1


def _next_shape(layer: LayerSpec, shape: Shape) -> tuple[Shape, int]:
    """The output shape of ``layer`` on ``shape`` and its parameter count (no allocation)."""
    if layer.op in _ACTIVATIONS or layer.op == "dropout":
        return shape, 0
    if layer.op == "flatten":
        flat = 1
        for d in shape:
            flat *= d
        return (flat,), 0
    if layer.op == "linear":
        if len(shape) != 1:
            raise SpecError("declared: linear needs a flat input (add a flatten layer)")
        return (layer.size,), shape[0] * layer.size + layer.size
    if len(shape) != 3:
        raise SpecError(f"declared: {layer.op} needs an image input (C, H, W)")
    c, h, w = shape
    out = (layer.size if layer.op == "conv2d" else c, _pooled(h, layer), _pooled(w, layer))
    if min(out[1:]) < 1:
        raise SpecError(f"declared: {layer.op} shrinks the image below 1x1")
    params = c * layer.size * layer.kernel**2 + layer.size if layer.op == "conv2d" else 0
    return out, params


def _module(layer: LayerSpec, shape: Shape) -> nn.Module:
    """PyTorch's layer for ``layer`` on an input of ``shape`` (already checked)."""
    if layer.op in _ACTIVATIONS:
        return _ACTIVATIONS[layer.op]()
    if layer.op == "dropout":
        return nn.Dropout(layer.p)
    if layer.op == "flatten":
        return nn.Flatten()
    if layer.op == "linear":
        return nn.Linear(shape[0], layer.size)
    if layer.op == "conv2d":
        return nn.Conv2d(shape[0], layer.size, layer.kernel, layer.stride, layer.padding)
    pool = nn.MaxPool2d if layer.op == "maxpool2d" else nn.AvgPool2d
    return pool(layer.kernel, layer.stride, layer.padding)


def check_layers(spec: ModelSpec) -> int:
    """Check that the declared layers fit the input and the size limit; return the parameters."""
    shape: Shape = spec.input_shape or (spec.n_features,)
    total = 0
    for layer in spec.layers:
        shape, params = _next_shape(layer, shape)
        total += params
        if total > MAX_PARAMS:
            raise SpecError(f"declared: more than {MAX_PARAMS} parameters")
    if len(shape) != 1:
        raise SpecError("declared: the layers must end flat (add a flatten layer)")
    total += shape[0] * spec.outputs + spec.outputs
    if total > MAX_PARAMS:
        raise SpecError(f"declared: more than {MAX_PARAMS} parameters")
    return total


def declared_body(spec: ModelSpec) -> nn.Module:
    """The declared layers, then a linear layer to the outputs."""
    check_layers(spec)
    shape: Shape = spec.input_shape or (spec.n_features,)
    modules: list[nn.Module] = []
    for layer in spec.layers:
        modules.append(_module(layer, shape))
        shape, _ = _next_shape(layer, shape)
    modules.append(nn.Linear(shape[0], spec.outputs))
    return nn.Sequential(*modules)
