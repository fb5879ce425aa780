"""A trained hetero-LR model, split: each party keeps its own part and scores its own rows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fl_node.vertical.protocol.config import FloatArray


def sigmoid(z: FloatArray) -> FloatArray:
    """Numerically stable logistic function.

    Parameters
    ----------
    z : ndarray
        Scores.
    """
    out = np.empty_like(z, dtype=np.float64)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])
    out[~pos] = ez / (1.0 + ez)
    return out


@dataclass
class GuestModel:
    """The guest's part of a trained model.

    Attributes
    ----------
    weights : ndarray
        Weights of the guest's features (empty when the guest used none).
    intercept : float
        The intercept.
    use_features : bool
        Whether the guest's features were used.
    """

    weights: FloatArray
    intercept: float
    use_features: bool = True

    def partial_scores(self, x: FloatArray) -> FloatArray:
        """``x . w + intercept`` for standardised guest rows.

        Parameters
        ----------
        x : ndarray of shape (n, F_g)
            Standardised guest features.
        """
        if not self.use_features:
            return np.full(x.shape[0], self.intercept)
        return x @ self.weights + self.intercept


@dataclass
class HostModel:
    """The host's part of a trained model.

    Attributes
    ----------
    weights : ndarray
        Weights of the host's features (empty when the host used none).
    use_features : bool
        Whether the host's features were used.
    """

    weights: FloatArray
    use_features: bool = True

    def partial_scores(self, x: FloatArray) -> FloatArray:
        """``x . w`` for standardised host rows.

        Parameters
        ----------
        x : ndarray of shape (n, F_h)
            Standardised host features.
        """
        if not self.use_features:
            return np.zeros(x.shape[0])
        return x @ self.weights
