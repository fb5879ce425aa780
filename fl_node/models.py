"""Model specifications and the PyTorch modules they build.

A :class:`ModelSpec` is a small JSON-serialisable dataclass saved with every model artifact (as
nanoGPT saves its config with each checkpoint): anyone holding the spec and the weights can rebuild
the exact module. Inputs are standardised inside the model with the pooled statistics of the task's
datasets, so a buyer of the model feeds it raw features.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn

from fl_node.errors import SpecError

MODEL_KINDS = ("mlp", "logreg")


@dataclass(frozen=True)
class ModelSpec:
    """What to build.

    Parameters
    ----------
    n_features : int
        Input width.
    feature_mean, feature_std : tuple of float
        Standardisation applied to inputs (length ``n_features``; std > 0).
    kind : {"mlp", "logreg"}, default "mlp"
        A multi-layer perceptron with ReLU, or logistic regression (no hidden layer).
    hidden : tuple of int, default (16,)
        Hidden widths of the MLP (ignored for ``logreg``).
    seed : int, default 0
        Seed of the initial weights, so every party builds the same initial model.
    """

    n_features: int
    feature_mean: tuple[float, ...]
    feature_std: tuple[float, ...]
    kind: str = "mlp"
    hidden: tuple[int, ...] = field(default=(16,))
    seed: int = 0

    def __post_init__(self) -> None:
        if self.kind not in MODEL_KINDS:
            raise SpecError(f"ModelSpec: kind must be one of {MODEL_KINDS}, not {self.kind!r}")
        if self.n_features < 1 or not all(h >= 1 for h in self.hidden):
            raise SpecError("ModelSpec: n_features and hidden widths must be >= 1")
        if len(self.feature_mean) != self.n_features or len(self.feature_std) != self.n_features:
            raise SpecError("ModelSpec: feature_mean/feature_std must have n_features entries")
        values = (*self.feature_mean, *self.feature_std)
        if not all(math.isfinite(v) for v in values) or min(self.feature_std) <= 0:
            raise SpecError("ModelSpec: statistics must be finite and std > 0")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        out = asdict(self)
        out["feature_mean"] = list(self.feature_mean)
        out["feature_std"] = list(self.feature_std)
        out["hidden"] = list(self.hidden)
        return out

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ModelSpec:
        """Parse :meth:`to_dict` output (raises :class:`SpecError` on anything malformed)."""
        try:
            return cls(
                n_features=int(raw["n_features"]),
                feature_mean=tuple(float(v) for v in raw["feature_mean"]),
                feature_std=tuple(float(v) for v in raw["feature_std"]),
                kind=str(raw.get("kind", "mlp")),
                hidden=tuple(int(v) for v in raw.get("hidden", (16,))),
                seed=int(raw.get("seed", 0)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise SpecError(f"ModelSpec: malformed specification: {exc}") from None


class Standardize(nn.Module):
    """``(x - mean) / std`` with fixed buffers (not trained, not part of updates)."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, mean: tuple[float, ...], std: tuple[float, ...]) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Standardise ``x``."""
        return (x - self.mean) / self.std


class TabularClassifier(nn.Module):
    """Standardisation followed by an MLP (or a single linear layer) giving one logit per row."""

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__()
        self.spec = spec
        self.scale = Standardize(spec.feature_mean, spec.feature_std)
        layers: list[nn.Module] = []
        width = spec.n_features
        if spec.kind == "mlp":
            for h in spec.hidden:
                layers += [nn.Linear(width, h), nn.ReLU()]
                width = h
        layers.append(nn.Linear(width, 1))
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of shape ``(rows,)``."""
        out: torch.Tensor = self.body(self.scale(x)).squeeze(-1)
        return out


def build_model(spec: ModelSpec) -> TabularClassifier:
    """The module ``spec`` describes, with deterministic initial weights from ``spec.seed``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(spec.seed)
        return TabularClassifier(spec)


def trainable_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The trainable parameters by name (detached CPU float32 copies): what an update carries."""
    return {n: p.detach().to("cpu", torch.float32).clone() for n, p in model.named_parameters()}


def full_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """Parameters and buffers by name (detached CPU copies): what a model artifact carries."""
    return {n: t.detach().to("cpu").clone().contiguous() for n, t in model.state_dict().items()}
