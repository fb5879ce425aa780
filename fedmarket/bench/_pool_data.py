"""The pool benchmark's datasets and base models.

- ``digits``: scikit-learn's 8x8 digits (1,797 rows, 10 classes), the federated benchmark's
  holdouts (:func:`fedmarket.bench._fl_task.bench_task`: 20 % test, 10 % validation, stratified),
  the rest dealt to ``clients`` label-skewed clients by label-Dirichlet shares (alpha 0.5,
  :func:`fl_node.data.split_dirichlet`, at least 20 rows each); an MLP with one hidden layer of 32.
- ``heart``: the four real UCI heart-disease hospitals, one participant each
  (:func:`fedmarket.bench._robust_data.heart_data`: 20 % of each hospital for test; the
  coordinator's validation rows are 100 of its 10 %); an MLP with one hidden layer of 8.

Two families of base models are built from a dataset's model (:func:`base_models`):

- ``mixed``: the model (seed 7), the same architecture from another initialisation (seed 8), the
  hidden layer twice as wide, and a linear model: updates of different architectures differ in
  size;
- ``same-arch``: the model from three initialisations (seeds 7, 8, 9): every update has the
  same tensors, so its size says nothing about which base model it trained;
- ``graded``: ``mixed`` and a deliberately weak model (the MLP with 2 hidden units), accepted
  under :data:`GRADED_ACCEPTANCE` (at most three models): the weak model ends outside the
  confidence region and the fourth good one is pruned, so the run shows the acceptance reasons
  the rule gives on real training (:func:`acceptance`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from fedmarket.bench._fl_task import TRAIN, bench_task
from fedmarket.bench._robust_data import heart_data
from fedmarket.design import pooled_model
from fl_node.data import LocalDataset, split_dirichlet
from fl_node.models import ModelSpec
from fl_node.pool.acceptance import AcceptanceRule
from fl_node.training import TrainConfig
from kernel.errors import InvalidInputError

DATASETS = ("digits", "heart")
"""The datasets, in the order they run."""

FAMILIES = ("mixed", "same-arch", "graded")
"""The families of base models (module docstring)."""

WEAK_HIDDEN = 2
"""Hidden units of the ``graded`` family's deliberately weak MLP."""

GRADED_ACCEPTANCE = AcceptanceRule(max_models=3)
"""The ``graded`` family's acceptance: the default region and duplicates, at most three models."""

ALPHA = 0.5
"""Dirichlet concentration of the digits clients' label shares."""


@dataclass(frozen=True)
class PoolData:
    """One dataset of the benchmark.

    Attributes
    ----------
    name : str
        ``digits`` or ``heart``.
    model : ModelSpec
        The dataset's model (input scaling pooled over the parties); base models vary it.
    train : TrainConfig
        Every participant's local training.
    parties : tuple of LocalDataset
        The participants' rows.
    validation : LocalDataset
        The coordinator's rows (contributions).
    test : LocalDataset
        The held-out rows every model is scored on.
    feature_names : tuple of str
        The columns.
    """

    name: str
    model: ModelSpec
    train: TrainConfig
    parties: tuple[LocalDataset, ...]
    validation: LocalDataset
    test: LocalDataset
    feature_names: tuple[str, ...]


def digits_data(clients: int = 10, seed: int = 0) -> PoolData:
    """Digits over ``clients`` label-skewed clients (module docstring).

    Parameters
    ----------
    clients : int, default 10
        Participants.
    seed : int, default 0
        Seed of the holdouts and the Dirichlet shares.
    """
    task = bench_task("digits", clients=clients, rounds=2, seed=seed)
    split = task.split
    x = np.concatenate([h.x for h in split.hospitals])
    y = np.concatenate([np.asarray(h.y) for h in split.hospitals]).astype(np.int64)
    shares = split_dirichlet(y, clients, ALPHA, seed + 1, min_rows=20)
    parties = tuple(
        LocalDataset(f"client-{k + 1:02d}", x[np.sort(s)], y[np.sort(s)])
        for k, s in enumerate(shares)
    )
    model = pooled_model(
        [p.stats() for p in parties],
        kind="mlp",
        hidden=(32,),
        seed=7,
        task="multiclass",
        classes=10,
    )
    return PoolData(
        "digits", model, TRAIN, parties, split.validation, split.test, split.feature_names
    )


def heart_pool_data(seed: int = 0) -> PoolData:
    """The four heart-disease hospitals (module docstring; needs ``$FEDMARKET_DATA_DIR``)."""
    data = heart_data(seed)
    names = tuple(f"x{i}" for i in range(data.spec.n_features))
    return PoolData("heart", data.spec, data.train, data.parties, data.root, data.test, names)


def load(name: str, *, clients: int = 10, seed: int = 0) -> PoolData:
    """The named dataset (``clients`` applies to digits; heart has its four hospitals)."""
    if name == "digits":
        return digits_data(clients, seed)
    if name == "heart":
        return heart_pool_data(seed)
    raise InvalidInputError(f"bench-pool: unknown dataset {name!r} (known: {DATASETS})")


def base_models(model: ModelSpec, family: str) -> tuple[ModelSpec, ...]:
    """The base models of ``family`` built from ``model`` (module docstring).

    Parameters
    ----------
    model : ModelSpec
        A one-hidden-layer MLP.
    family : str
        ``mixed``, ``same-arch`` or ``graded``.
    """
    width = model.hidden[0] if model.hidden else 16
    if family in ("mixed", "graded"):
        mixed = (
            replace(model, hidden=(width,), seed=7),
            replace(model, hidden=(width,), seed=8),
            replace(model, hidden=(2 * width,), seed=7),
            replace(model, kind="linear", hidden=(), seed=7),
        )
        weak = replace(model, hidden=(WEAK_HIDDEN,), seed=7)
        return mixed if family == "mixed" else (*mixed, weak)
    if family == "same-arch":
        return tuple(replace(model, hidden=(width,), seed=s) for s in (7, 8, 9))
    raise InvalidInputError(f"bench-pool: unknown family {family!r} (known: {FAMILIES})")


def acceptance(family: str) -> AcceptanceRule:
    """The pool's acceptance rule for ``family``: :data:`GRADED_ACCEPTANCE` or the default."""
    return GRADED_ACCEPTANCE if family == "graded" else AcceptanceRule()


def model_name(spec: ModelSpec) -> str:
    """A base model's short name: family, widths, initial seed (``mlp32-s7``, ``linear-s7``)."""
    widths = "x".join(str(h) for h in spec.hidden) if spec.kind != "linear" else ""
    return f"{spec.kind}{widths}-s{spec.seed}"


__all__ = [
    "ALPHA",
    "DATASETS",
    "FAMILIES",
    "GRADED_ACCEPTANCE",
    "WEAK_HIDDEN",
    "PoolData",
    "acceptance",
    "base_models",
    "digits_data",
    "heart_pool_data",
    "load",
    "model_name",
]
