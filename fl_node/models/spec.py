"""The model specification: a small JSON record from which every party builds the same module.

A :class:`ModelSpec` is saved with every model artifact (as nanoGPT saves its config with each
checkpoint): anyone holding the spec and the weights can rebuild the exact module. It names the
task kind (what the output means), the input (a row of ``n_features`` or an image ``C x H x W``),
the input standardisation, and the family with its few hyperparameters. A declared architecture
is a list of :class:`LayerSpec` from a fixed vocabulary: a spec never carries code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from fl_node.errors import SpecError

TASK_KINDS = ("binary", "multiclass", "regression")
"""What a model predicts: one logit, one logit per class, or one value."""

MODEL_KINDS = ("logreg", "linear", "mlp", "cnn", "declared")
"""Model families (``logreg`` is the linear family's historical name)."""

LAYER_OPS = (
    "linear",
    "conv2d",
    "maxpool2d",
    "avgpool2d",
    "flatten",
    "relu",
    "tanh",
    "gelu",
    "sigmoid",
    "dropout",
)
"""The vocabulary of a declared architecture."""

MAX_LAYERS = 32
MAX_WIDTH = 4096
MAX_KERNEL = 11
MAX_CLASSES = 1000
MAX_INPUT = 3 * 64 * 64 * 4
MAX_PARAMS = 20_000_000


@dataclass(frozen=True)
class LayerSpec:
    """One layer of a declared architecture: an operation from :data:`LAYER_OPS` and its sizes.

    ``size`` is the output width (``linear``) or channels (``conv2d``); ``kernel``, ``stride`` and
    ``padding`` apply to convolutions and pools; ``p`` is the dropout probability.
    """

    op: str
    size: int = 0
    kernel: int = 0
    stride: int = 1
    padding: int = 0
    p: float = 0.0

    def __post_init__(self) -> None:
        if self.op not in LAYER_OPS:
            raise SpecError(f"LayerSpec: op must be one of {LAYER_OPS}, not {self.op!r}")
        if self.op in ("linear", "conv2d") and not 1 <= self.size <= MAX_WIDTH:
            raise SpecError(f"LayerSpec: {self.op} size must be in 1..{MAX_WIDTH}")
        if self.op in ("conv2d", "maxpool2d", "avgpool2d") and not 1 <= self.kernel <= MAX_KERNEL:
            raise SpecError(f"LayerSpec: {self.op} kernel must be in 1..{MAX_KERNEL}")
        if not (1 <= self.stride <= MAX_KERNEL and 0 <= self.padding <= MAX_KERNEL):
            raise SpecError("LayerSpec: stride must be in 1..11 and padding in 0..11")
        if not (0.0 <= self.p < 1.0):
            raise SpecError("LayerSpec: dropout p must be in [0, 1)")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "op": self.op,
            "size": self.size,
            "kernel": self.kernel,
            "stride": self.stride,
            "padding": self.padding,
            "p": self.p,
        }

    @classmethod
    def from_dict(cls, raw: Any) -> LayerSpec:
        """Parse :meth:`to_dict` output."""
        if not isinstance(raw, dict) or set(raw) - {
            "op",
            "size",
            "kernel",
            "stride",
            "padding",
            "p",
        }:
            raise SpecError(
                "LayerSpec: a layer is an object with op, size, kernel, stride, padding, p"
            )
        return cls(
            op=str(raw["op"]),
            size=int(raw.get("size", 0)),
            kernel=int(raw.get("kernel", 0)),
            stride=int(raw.get("stride", 1)),
            padding=int(raw.get("padding", 0)),
            p=float(raw.get("p", 0.0)),
        )


@dataclass(frozen=True)
class ModelSpec:
    """What to build.

    Parameters
    ----------
    n_features : int
        Input width (``C * H * W`` for images).
    feature_mean, feature_std : tuple of float
        Standardisation of the inputs: one pair per feature, or per channel for images (std > 0).
    kind : str, default "mlp"
        The family: ``linear`` (alias ``logreg``), ``mlp``, ``cnn`` or ``declared``.
    hidden : tuple of int, default (16,)
        Hidden widths of the MLP, or of the CNN's dense part.
    seed : int, default 0
        Seed of the initial weights, so every party builds the same initial model.
    task : str, default "binary"
        ``binary`` (one logit), ``multiclass`` (``classes`` logits) or ``regression`` (one value).
    classes : int, default 0
        Number of classes of a multi-class task (0 otherwise).
    target_mean, target_std : float, default 0.0 and 1.0
        Regression: the network predicts the standardised target; the module returns it rescaled.
    input_shape : tuple of int, default ()
        ``(C, H, W)`` for images; empty for a row of ``n_features``.
    channels : tuple of int, default (16, 32)
        Convolution channels of the CNN (each followed by ReLU and a 2x2 max-pool).
    layers : tuple of LayerSpec, default ()
        A declared architecture; a final linear layer to the outputs is appended.
    """

    n_features: int
    feature_mean: tuple[float, ...]
    feature_std: tuple[float, ...]
    kind: str = "mlp"
    hidden: tuple[int, ...] = field(default=(16,))
    seed: int = 0
    task: str = "binary"
    classes: int = 0
    target_mean: float = 0.0
    target_std: float = 1.0
    input_shape: tuple[int, ...] = ()
    channels: tuple[int, ...] = (16, 32)
    layers: tuple[LayerSpec, ...] = ()

    def __post_init__(self) -> None:
        self._check_kinds()
        self._check_input()
        self._check_statistics()
        if len(self.hidden) > MAX_LAYERS or not all(1 <= h <= MAX_WIDTH for h in self.hidden):
            raise SpecError(f"ModelSpec: at most {MAX_LAYERS} hidden widths, each 1..{MAX_WIDTH}")
        if len(self.channels) > 4 or not all(1 <= c <= 512 for c in self.channels):
            raise SpecError("ModelSpec: at most 4 convolution channel counts, each 1..512")
        if len(self.layers) > MAX_LAYERS:
            raise SpecError(f"ModelSpec: at most {MAX_LAYERS} declared layers")

    def _check_kinds(self) -> None:
        if self.kind not in MODEL_KINDS:
            raise SpecError(f"ModelSpec: kind must be one of {MODEL_KINDS}, not {self.kind!r}")
        if self.task not in TASK_KINDS:
            raise SpecError(f"ModelSpec: task must be one of {TASK_KINDS}, not {self.task!r}")
        multi = self.task == "multiclass"
        if multi and not 2 <= self.classes <= MAX_CLASSES or not multi and self.classes != 0:
            raise SpecError(f"ModelSpec: classes must be 2..{MAX_CLASSES} for multiclass, else 0")
        if self.kind == "cnn" and not self.input_shape:
            raise SpecError("ModelSpec: a cnn needs an image input_shape (C, H, W)")
        if self.kind == "declared" and not self.layers:
            raise SpecError("ModelSpec: a declared model needs layers")

    def _check_input(self) -> None:
        if not 1 <= self.n_features <= MAX_INPUT:
            raise SpecError(f"ModelSpec: n_features must be in 1..{MAX_INPUT}")
        if self.input_shape:
            if len(self.input_shape) != 3 or not all(1 <= d <= 512 for d in self.input_shape):
                raise SpecError("ModelSpec: input_shape is (C, H, W), each 1..512")
            c, h, w = self.input_shape
            if c * h * w != self.n_features:
                raise SpecError("ModelSpec: n_features must equal C * H * W")

    def _check_statistics(self) -> None:
        width = self.input_shape[0] if self.input_shape else self.n_features
        if len(self.feature_mean) != width or len(self.feature_std) != width:
            raise SpecError(
                "ModelSpec: feature_mean/feature_std need one entry per feature "
                "(per channel for images)"
            )
        values = (*self.feature_mean, *self.feature_std, self.target_mean, self.target_std)
        if not all(math.isfinite(v) for v in values) or min(self.feature_std) <= 0:
            raise SpecError("ModelSpec: statistics must be finite and std > 0")
        if self.target_std <= 0:
            raise SpecError("ModelSpec: target_std must be > 0")

    @property
    def outputs(self) -> int:
        """Width of the network's last layer."""
        return self.classes if self.task == "multiclass" else 1

    @property
    def is_image(self) -> bool:
        """Whether the input is an image."""
        return bool(self.input_shape)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "n_features": self.n_features,
            "feature_mean": list(self.feature_mean),
            "feature_std": list(self.feature_std),
            "kind": self.kind,
            "hidden": list(self.hidden),
            "seed": self.seed,
            "task": self.task,
            "classes": self.classes,
            "target_mean": self.target_mean,
            "target_std": self.target_std,
            "input_shape": list(self.input_shape),
            "channels": list(self.channels),
            "layers": [layer.to_dict() for layer in self.layers],
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ModelSpec:
        """Parse :meth:`to_dict` output (raises :class:`SpecError` on anything malformed)."""
        try:
            return cls(
                n_features=int(raw["n_features"]),
                feature_mean=_floats(raw["feature_mean"]),
                feature_std=_floats(raw["feature_std"]),
                kind=str(raw.get("kind", "mlp")),
                hidden=_ints(raw.get("hidden", (16,))),
                seed=int(raw.get("seed", 0)),
                task=str(raw.get("task", "binary")),
                classes=int(raw.get("classes", 0)),
                target_mean=float(raw.get("target_mean", 0.0)),
                target_std=float(raw.get("target_std", 1.0)),
                input_shape=_ints(raw.get("input_shape", ())),
                channels=_ints(raw.get("channels", (16, 32))),
                layers=tuple(LayerSpec.from_dict(v) for v in _bounded(raw.get("layers", ()))),
            )
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise SpecError(f"ModelSpec: malformed specification: {exc}") from None


def _bounded(values: Any) -> list[Any]:
    if not isinstance(values, (list, tuple)) or len(values) > MAX_INPUT:
        raise SpecError("ModelSpec: expected a list of bounded length")
    return list(values)


def _floats(values: Any) -> tuple[float, ...]:
    return tuple(float(v) for v in _bounded(values))


def _ints(values: Any) -> tuple[int, ...]:
    return tuple(int(v) for v in _bounded(values))
