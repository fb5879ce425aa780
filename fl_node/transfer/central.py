"""Centralised training of the matrix factorisation: the target alone, or both domains pooled.

The reference the federated protocol is measured against: the same model, objective, Adam and
early stopping (:class:`~fl_node.transfer.config.MFConfig`), on one machine that sees every
rating. Pooling maps both domains' users to one table (a user of both domains has one factor
row and one bias) and keeps each domain's items and offset.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from fl_node.transfer.config import MFConfig
from fl_node.transfer.data import Domain, TargetSplit
from fl_node.transfer.mf import (
    Adam,
    Factors,
    Floats,
    Ratings,
    gradients,
    penalised,
    predict,
    rmse,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Problem:
    """Training ratings over one user table and one item table, centred per domain.

    Attributes
    ----------
    train : Ratings
        Every training rating, values minus their domain's offset.
    n_users, n_items : int
        Table sizes.
    valid, test : Ratings
        The target's held-out ratings in the same indices (raw values).
    mu : float
        The target's offset (its mean training rating).
    """

    train: Ratings
    n_users: int
    n_items: int
    valid: Ratings
    test: Ratings
    mu: float


@dataclass(frozen=True)
class Fit:
    """The parameters at the best validation step, and the curves.

    Attributes
    ----------
    users, items : Factors
        Best parameters.
    best_step : int
        Step (1-based) of the best target validation RMSE.
    losses : tuple of float
        Penalised training objective per step.
    valid_rmse : tuple of float
        Target validation RMSE after each step.
    """

    users: Factors
    items: Factors
    best_step: int
    losses: tuple[float, ...]
    valid_rmse: tuple[float, ...]


def target_problem(target: Domain, split: TargetSplit) -> Problem:
    """The target alone: its users, its items, its training ratings."""
    mu = float(split.train.values.mean())
    centred = Ratings(split.train.users, split.train.items, split.train.values - mu)
    return Problem(centred, len(target.user_ids), len(target.item_ids), split.valid, split.test, mu)


def pooled_problem(target: Domain, split: TargetSplit, source: Domain) -> Problem:
    """Both domains: users matched by id (the union table), items side by side."""
    union = np.union1d(target.user_ids, source.user_ids)
    t_map = np.searchsorted(union, target.user_ids).astype(np.int64)
    s_map = np.searchsorted(union, source.user_ids).astype(np.int64)
    offset = len(target.item_ids)
    mu_t = float(split.train.values.mean())
    mu_s = float(source.ratings.values.mean())
    s = source.ratings
    train = Ratings(
        np.concatenate([t_map[split.train.users], s_map[s.users]]),
        np.concatenate([split.train.items, s.items + offset]),
        np.concatenate([split.train.values - mu_t, s.values - mu_s]),
    )

    def moved(r: Ratings) -> Ratings:
        return Ratings(t_map[r.users], r.items, r.values)

    n_items = offset + len(source.item_ids)
    return Problem(train, len(union), n_items, moved(split.valid), moved(split.test), mu_t)


def initial(problem: Problem, config: MFConfig, seed: int) -> tuple[Factors, Factors]:
    """Random initial users and items for ``problem``."""
    rng = np.random.default_rng(seed)
    users = Factors.init(problem.n_users, config.rank, rng, config.init_scale)
    return users, Factors.init(problem.n_items, config.rank, rng, config.init_scale)


def fit(problem: Problem, config: MFConfig, start: tuple[Factors, Factors]) -> Fit:
    """Full-batch Adam with early stopping on the target's validation RMSE.

    Parameters
    ----------
    problem : Problem
        The ratings.
    config : MFConfig
        Hyperparameters.
    start : tuple of Factors
        Initial users and items (not modified).
    """
    users, items = start[0].stacked(), start[1].stacked()
    opt_u, opt_i = Adam(config.lr), Adam(config.lr)
    tracker = EarlyStopping(config.patience)
    losses: list[float] = []
    for _ in range(config.epochs):
        g = gradients(Factors.from_stacked(users), Factors.from_stacked(items), 0.0, problem.train)
        losses.append(g.loss + 0.5 * config.reg * float((users**2).sum() + (items**2).sum()))
        users = opt_u.update(users, penalised(g.users, users, config.reg))
        items = opt_i.update(items, penalised(g.items, items, config.reg))
        score = rmse(
            predict(
                Factors.from_stacked(users), Factors.from_stacked(items), problem.mu, problem.valid
            ),
            problem.valid.values,
        )
        if tracker.observe(score, (users, items)):
            break
    best_u, best_i = tracker.best
    return Fit(
        Factors.from_stacked(best_u),
        Factors.from_stacked(best_i),
        tracker.best_step,
        tuple(losses),
        tuple(tracker.scores),
    )


class EarlyStopping:
    """Keep the best-scoring state; say when ``patience`` steps brought nothing better.

    Parameters
    ----------
    patience : int
        Steps without improvement before stopping (0: never stop).
    """

    def __init__(self, patience: int) -> None:
        self.patience = patience
        self.scores: list[float] = []
        self.best_step = 0
        self.improved = False
        self.best: tuple[Floats, ...] = ()

    def observe(self, score: float, state: tuple[Floats, ...]) -> bool:
        """Record one step's score (lower is better) and state; return True to stop.

        :attr:`improved` then says whether this step is the best so far (its state kept).
        """
        self.scores.append(score)
        self.improved = self.best_step == 0 or score < self.scores[self.best_step - 1]
        if self.improved:
            self.best_step = len(self.scores)
            self.best = tuple(a.copy() for a in state)
        return bool(self.patience) and len(self.scores) - self.best_step >= self.patience


def evaluate(users: Factors, items: Factors, mu: float, ratings: Ratings) -> tuple[float, float]:
    """``(MAE, RMSE)`` of the clipped predictions on ``ratings``."""
    from fl_node.transfer.mf import mae

    predicted = predict(users, items, mu, ratings)
    return mae(predicted, ratings.values), rmse(predicted, ratings.values)


__all__ = [
    "EarlyStopping",
    "Fit",
    "Problem",
    "evaluate",
    "fit",
    "initial",
    "pooled_problem",
    "target_problem",
]
