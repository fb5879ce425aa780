"""Model families and the PyTorch modules a :class:`ModelSpec` describes.

One file per family (``linear``, ``mlp``, ``cnn``, ``declared``); ``_base`` holds the frame they
share (input standardisation in front, the task's head behind). :func:`build_model` is the only
way a party makes a model, so every party holds the same module with the same initial weights.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from fl_node.errors import SpecError
from fl_node.models._base import FedModel, Standardize
from fl_node.models.cnn import cnn_body
from fl_node.models.declared import check_layers, declared_body
from fl_node.models.linear import linear_body
from fl_node.models.mlp import mlp_body
from fl_node.models.spec import LAYER_OPS, MODEL_KINDS, TASK_KINDS, LayerSpec, ModelSpec

_BODIES: dict[str, Callable[[ModelSpec], nn.Module]] = {
    "logreg": linear_body,
    "linear": linear_body,
    "mlp": mlp_body,
    "cnn": cnn_body,
    "declared": declared_body,
}

TabularClassifier = FedModel
"""The historical name of :class:`FedModel`."""


def build_model(spec: ModelSpec) -> FedModel:
    """The module ``spec`` describes, with deterministic initial weights from ``spec.seed``."""
    try:
        body = _BODIES[spec.kind]
    except KeyError:
        raise SpecError(f"build_model: unknown model kind {spec.kind!r}") from None
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(spec.seed)
        return FedModel(spec, body(spec))


def parameter_count(spec: ModelSpec) -> int:
    """Trainable parameters of the model ``spec`` describes."""
    if spec.kind == "declared":
        return check_layers(spec)
    return sum(p.numel() for p in build_model(spec).parameters())


def trainable_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The trainable parameters by name (detached CPU float32 copies): what an update carries."""
    return {n: p.detach().to("cpu", torch.float32).clone() for n, p in model.named_parameters()}


def full_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """Parameters and buffers by name (detached CPU copies): what a model artifact carries."""
    return {n: t.detach().to("cpu").clone().contiguous() for n, t in model.state_dict().items()}


__all__ = [
    "LAYER_OPS",
    "MODEL_KINDS",
    "TASK_KINDS",
    "FedModel",
    "LayerSpec",
    "ModelSpec",
    "Standardize",
    "TabularClassifier",
    "build_model",
    "full_state",
    "parameter_count",
    "trainable_state",
]
