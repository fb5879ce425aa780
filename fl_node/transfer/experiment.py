"""One seed of the comparison: target only, centralised pooled and federated, same model.

Each method trains the matrix factorisation of :mod:`~fl_node.transfer.mf` with the same
:class:`~fl_node.transfer.config.MFConfig` (full-batch Adam, early stopping on the target's
validation RMSE) on the same seed-controlled split of the target's ratings, and is scored on
the target's test ratings. The global-mean predictor (the target's mean training rating) is
the floor of the contribution utility.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from fl_node.transfer.central import Problem, evaluate, fit, initial, pooled_problem, target_problem
from fl_node.transfer.config import MFConfig
from fl_node.transfer.data import Domain, TargetSplit, split_target
from fl_node.transfer.mf import Ints, mae, rmse
from fl_node.transfer.protocol import (
    Authenticator,
    Coordinator,
    DomainParty,
    ProtocolRun,
    TargetParty,
    Wire,
    run_protocol,
)

log = logging.getLogger(__name__)

METHODS = ("global_mean", "target_only", "centralised", "federated")


@dataclass(frozen=True)
class MethodResult:
    """One method on one seed: test MAE and RMSE, validation RMSE, steps, time, curves.

    Attributes
    ----------
    method : str
        One of :data:`METHODS`.
    mae, rmse : float
        On the target's test ratings (predictions clipped to [1, 5]).
    valid_rmse : float
        On the target's validation ratings, at the best step.
    steps, best_step : int
        Steps taken and the step kept.
    seconds : float
        Wall time of the training.
    losses, valid_curve : tuple of float
        Penalised objective and validation RMSE per step.
    """

    method: str
    mae: float
    rmse: float
    valid_rmse: float
    steps: int = 0
    best_step: int = 0
    seconds: float = 0.0
    losses: tuple[float, ...] = ()
    valid_curve: tuple[float, ...] = ()


@dataclass(frozen=True)
class SeedResult:
    """The four methods on one seed's split."""

    seed: int
    global_mean: MethodResult
    target_only: MethodResult
    centralised: MethodResult
    federated: MethodResult

    @property
    def gain_recovered(self) -> float:
        """``(rmse_target_only - rmse_fed) / (rmse_target_only - rmse_central)``."""
        return recovered(self.target_only.rmse, self.federated.rmse, self.centralised.rmse)


def recovered(only: float, federated: float, central: float) -> float:
    """The share of the centralised gain over target-only that the federation recovers."""
    gain = only - central
    return float((only - federated) / gain) if gain else float("nan")


def global_mean(split: TargetSplit) -> MethodResult:
    """Predict the target's mean training rating for every rating."""
    mu = float(split.train.values.mean())
    test, valid = split.test.values, split.valid.values
    full = np.full_like
    return MethodResult(
        "global_mean",
        mae(full(test, mu), test),
        rmse(full(test, mu), test),
        rmse(full(valid, mu), valid),
    )


def target_only(target: Domain, split: TargetSplit, config: MFConfig, seed: int) -> MethodResult:
    """The target's ratings alone."""
    return _central("target_only", target_problem(target, split), config, seed)


def centralised(
    target: Domain, split: TargetSplit, source: Domain, config: MFConfig, seed: int
) -> MethodResult:
    """Both domains' ratings pooled on one machine (users matched by id)."""
    return _central("centralised", pooled_problem(target, split, source), config, seed)


def _central(method: str, problem: Problem, config: MFConfig, seed: int) -> MethodResult:
    started = time.perf_counter()
    result = fit(problem, config, initial(problem, config, seed))
    seconds = time.perf_counter() - started
    test_mae, test_rmse = evaluate(result.users, result.items, problem.mu, problem.test)
    return MethodResult(
        method,
        test_mae,
        test_rmse,
        result.valid_rmse[result.best_step - 1],
        len(result.losses),
        result.best_step,
        seconds,
        result.losses,
        result.valid_rmse,
    )


def federated(
    target: Domain,
    split: TargetSplit,
    source: Domain,
    shared_ids: Ints,
    config: MFConfig,
    seed: int,
    *,
    wire: Wire | None = None,
    context: bytes = b"",
    auth: Mapping[str, Authenticator] | None = None,
) -> tuple[MethodResult, ProtocolRun]:
    """The protocol of :mod:`~fl_node.transfer.protocol` between the two domains.

    Parameters
    ----------
    target, source : Domain
        The parties' data (each party object gets only its own).
    split : TargetSplit
        The target's split.
    shared_ids : ndarray of int
        The PSI intersection, sorted.
    config : MFConfig
        Hyperparameters.
    seed : int
        Seeds the target (``seed``), the source (``seed + 1``) and the coordinator (``seed + 2``).
    wire : Wire or None, default None
        Records the messages.
    context : bytes, default b""
        Bound into the mask key.
    auth : mapping of str to Authenticator or None, default None
        ``"target"`` and ``"source"``'s authenticators of the mask keys (``None``: trust the
        relayed keys).
    """
    started = time.perf_counter()
    t, s = parties(target, split, source, shared_ids, config, seed, auth)
    run = run_protocol(t, s, Coordinator(config, seed + 2), wire=wire, context=context)
    seconds = time.perf_counter() - started
    test_mae, test_rmse = t.scores(split.test)
    stop = t.stopping
    result = MethodResult(
        "federated",
        test_mae,
        test_rmse,
        stop.scores[stop.best_step - 1],
        run.steps,
        stop.best_step,
        seconds,
        tuple(run.coordinator.objectives),
        tuple(stop.scores),
    )
    return result, run


def parties(
    target: Domain,
    split: TargetSplit,
    source: Domain,
    shared_ids: Ints,
    config: MFConfig,
    seed: int,
    auth: Mapping[str, Authenticator] | None = None,
) -> tuple[TargetParty, DomainParty]:
    """The target party (seed ``seed``) and the source party (``seed + 1``), each with its data."""
    auth = auth or {}
    t = TargetParty(
        split.valid,
        user_ids=target.user_ids,
        n_items=len(target.item_ids),
        train=split.train,
        shared_ids=shared_ids,
        config=config,
        seed=seed,
        auth=auth.get("target"),
    )
    s = DomainParty(
        "source",
        source.user_ids,
        len(source.item_ids),
        source.ratings,
        shared_ids,
        config,
        seed + 1,
        auth.get("source"),
    )
    return t, s


def compare(
    target: Domain, source: Domain, shared_ids: Ints, config: MFConfig, seed: int
) -> SeedResult:
    """The four methods on the split drawn by ``seed``."""
    split = split_target(target.ratings, seed)
    fed, _ = federated(target, split, source, shared_ids, config, seed)
    result = SeedResult(
        seed,
        global_mean(split),
        target_only(target, split, config, seed),
        centralised(target, split, source, config, seed),
        fed,
    )
    log.info(
        "compare: seed %d, RMSE target-only %.4f, federated %.4f, centralised %.4f",
        seed,
        result.target_only.rmse,
        fed.rmse,
        result.centralised.rmse,
    )
    return result


__all__ = [
    "METHODS",
    "MethodResult",
    "SeedResult",
    "centralised",
    "compare",
    "federated",
    "global_mean",
    "parties",
    "recovered",
    "target_only",
]
