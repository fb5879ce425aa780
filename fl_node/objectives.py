"""What each task kind optimises and predicts: the loss, the prediction and the utility.

- binary: binary cross-entropy on the logit; predictions are probabilities of class 1;
- multi-class: cross-entropy on the logits; predictions are class probabilities (rows, k);
- regression: mean squared error on the standardised target; predictions are values.

The contribution utility of a model is the negative of its validation loss in the same terms
(log loss, or the MSE of the standardised target), so that higher is better for every kind.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import torch
from torch.nn import functional as F

from fl_node.models import FedModel, ModelSpec


def task_loss(model: FedModel, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The training loss of ``model`` on a batch, by the task kind of its spec."""
    spec: ModelSpec = model.spec
    out = model.raw(x)
    if spec.task == "multiclass":
        return F.cross_entropy(out.float(), y.long())
    if spec.task == "regression":
        target = (y - spec.target_mean) / spec.target_std
        return F.mse_loss(out.float(), target)
    return F.binary_cross_entropy_with_logits(out.float(), y)


@torch.no_grad()
def predict(
    model: FedModel, x: npt.NDArray[np.float32], batch: int = 4096
) -> npt.NDArray[np.float64]:
    """Probabilities (binary ``(n,)``, multi-class ``(n, k)``) or values (regression ``(n,)``)."""
    model.eval()
    parts: list[torch.Tensor] = []
    tensor = torch.from_numpy(np.ascontiguousarray(x))
    for start in range(0, len(tensor), batch):
        out = model(tensor[start : start + batch])
        if model.spec.task == "binary":
            out = torch.sigmoid(out)
        elif model.spec.task == "multiclass":
            out = torch.softmax(out, dim=-1)
        parts.append(out)
    joined = torch.cat(parts) if parts else torch.empty(0)
    return joined.numpy().astype(np.float64)
