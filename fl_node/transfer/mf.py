"""Biased matrix factorisation: predictions, loss, gradients and full-batch Adam (pure numpy).

The model of one domain predicts ``r_hat(u, i) = mu + b_u + b_i + <p_u, q_i>`` with ``mu`` a
fixed offset (the domain's mean training rating). The objective summed over a domain's ratings
is ``0.5 * sum (r_hat - r)^2``; the L2 penalty ``0.5 * reg * ||theta||^2`` is added once per
parameter by whoever owns it (:func:`penalised`). Because the objective is a sum over ratings,
the gradient of a parameter shared by two domains (a user's factors and bias) is the sum of the
two domains' gradients, which is what the federated protocol aggregates.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from fl_node.transfer.errors import TransferInputError

Floats = NDArray[np.float64]
Ints = NDArray[np.int64]


@dataclass(frozen=True)
class Ratings:
    """Ratings of one domain as index arrays: ``values[j]`` is user ``users[j]`` on ``items[j]``."""

    users: Ints
    items: Ints
    values: Floats

    def __post_init__(self) -> None:
        """Refuse arrays of different lengths."""
        if not len(self.users) == len(self.items) == len(self.values):
            raise TransferInputError("Ratings: users, items and values differ in length")

    def __len__(self) -> int:
        """Number of ratings."""
        return len(self.values)

    def subset(self, rows: Ints) -> Ratings:
        """The ratings at positions ``rows``."""
        return Ratings(self.users[rows], self.items[rows], self.values[rows])


@dataclass
class Factors:
    """User or item parameters: one factor row and one bias per entity."""

    vectors: Floats
    bias: Floats

    @classmethod
    def init(cls, n: int, rank: int, rng: np.random.Generator, scale: float = 0.1) -> Factors:
        """Normal(0, ``scale``) factors and zero biases for ``n`` entities."""
        return cls(rng.normal(0.0, scale, size=(n, rank)), np.zeros(n))

    def stacked(self) -> Floats:
        """``[vectors | bias]`` as one ``(n, rank + 1)`` array (a copy)."""
        return np.hstack([self.vectors, self.bias[:, None]])

    @classmethod
    def from_stacked(cls, array: Floats) -> Factors:
        """The inverse of :meth:`stacked` (copies)."""
        return cls(np.array(array[:, :-1]), np.array(array[:, -1]))

    def copy(self) -> Factors:
        """A deep copy."""
        return Factors(self.vectors.copy(), self.bias.copy())


def predict(users: Factors, items: Factors, mu: float, ratings: Ratings) -> Floats:
    """``mu + b_u + b_i + <p_u, q_i>`` for every rating's ``(u, i)``, clipped to [1, 5]."""
    raw = _raw(users, items, mu, ratings)
    return np.clip(raw, 1.0, 5.0)


def _raw(users: Factors, items: Factors, mu: float, ratings: Ratings) -> Floats:
    u, i = ratings.users, ratings.items
    dots: Floats = np.einsum("ij,ij->i", users.vectors[u], items.vectors[i])
    out: Floats = mu + users.bias[u] + items.bias[i] + dots
    return out


@dataclass(frozen=True)
class Gradients:
    """Gradients of ``0.5 * sum (r_hat - r)^2`` over one domain's ratings (no penalty)."""

    users: Floats
    items: Floats
    loss: float


def gradients(users: Factors, items: Factors, mu: float, ratings: Ratings) -> Gradients:
    """Gradients of one domain's squared error with respect to ``[p_u | b_u]`` and ``[q_i | b_i]``.

    Parameters
    ----------
    users, items : Factors
        The current parameters (every user and item the ratings index).
    mu : float
        The domain's offset.
    ratings : Ratings
        The domain's training ratings.

    Returns
    -------
    Gradients
        ``(n_users, rank + 1)`` and ``(n_items, rank + 1)`` arrays, the last column the bias's.
    """
    err = _raw(users, items, mu, ratings) - ratings.values
    u, i = ratings.users, ratings.items
    g_users = _scatter(u, err[:, None] * items.vectors[i], err, len(users.bias))
    g_items = _scatter(i, err[:, None] * users.vectors[u], err, len(items.bias))
    return Gradients(g_users, g_items, float(0.5 * err @ err))


def _scatter(index: Ints, rows: Floats, err: Floats, n: int) -> Floats:
    """Sum ``[rows | err]`` by ``index`` into ``n`` rows."""
    out = np.empty((n, rows.shape[1] + 1))
    for col in range(rows.shape[1]):
        out[:, col] = np.bincount(index, weights=rows[:, col], minlength=n)
    out[:, -1] = np.bincount(index, weights=err, minlength=n)
    return out


def penalised(gradient: Floats, params: Floats, reg: float) -> Floats:
    """``gradient + reg * params``: the L2 penalty ``0.5 * reg * ||params||^2`` added."""
    return gradient + reg * params


def rmse(predicted: Floats, actual: Floats) -> float:
    """Root mean squared error."""
    return float(np.sqrt(np.mean((predicted - actual) ** 2)))


def mae(predicted: Floats, actual: Floats) -> float:
    """Mean absolute error."""
    return float(np.mean(np.abs(predicted - actual)))


@dataclass
class Adam:
    """Adam on one parameter array (Kingma and Ba 2015), state kept here.

    Parameters
    ----------
    lr : float
        Step size.
    beta1, beta2, eps : float
        The usual constants (0.9, 0.999, 1e-8).
    """

    lr: float
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    step: int = 0
    m: Floats = field(default_factory=lambda: np.zeros(0))
    v: Floats = field(default_factory=lambda: np.zeros(0))

    def update(self, params: Floats, gradient: Floats) -> Floats:
        """The parameters after one step on ``gradient`` (a new array)."""
        if self.step == 0:
            self.m, self.v = np.zeros_like(params), np.zeros_like(params)
        self.step += 1
        self.m = self.beta1 * self.m + (1 - self.beta1) * gradient
        self.v = self.beta2 * self.v + (1 - self.beta2) * gradient**2
        m_hat = self.m / (1 - self.beta1**self.step)
        v_hat = self.v / (1 - self.beta2**self.step)
        return params - self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


__all__ = [
    "Adam",
    "Factors",
    "Gradients",
    "Ratings",
    "gradients",
    "mae",
    "penalised",
    "predict",
    "rmse",
]
