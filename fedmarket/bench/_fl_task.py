"""The federated benchmark's one task, shared by every system it compares.

Every system trains the same module (:func:`fl_node.models.build_model` of the task's spec, so the
same initial weights), on the same ten IID shares of the same rows, with the same hyperparameters
and the same batch order (the seed scheme of :func:`fl_node.training.train_local`). The plain loop
and the Flower client train with :func:`local_sgd`, a loop that only differs from fedmarket's in
that it keeps nothing but the weights; with FedAvg the three should then land on the same final
weights up to float rounding, which the benchmark checks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch

from fedmarket.design import pooled_model
from fl_node.data import FederatedSplit, LocalDataset
from fl_node.models import FedModel
from fl_node.objectives import task_loss
from fl_node.task import TaskSpec
from fl_node.training import TrainConfig
from kernel.errors import InvalidInputError

DATASETS = ("digits", "breast-cancer")
"""Datasets the benchmark knows (scikit-learn's bundled copies: no download): 8x8 digits, 10
classes (1,797 rows, 64 pixels); Wisconsin breast cancer, binary (569 rows, 30 features)."""

TRAIN = TrainConfig(local_epochs=2, batch_size=16, lr=0.05, momentum=0.9, weight_decay=1e-4)
"""Local training of every system: the demo's hyperparameters."""


@dataclass(frozen=True)
class BenchTask:
    """The task every system runs.

    Attributes
    ----------
    dataset : str
        Its name (one of :data:`DATASETS`).
    split : FederatedSplit
        The clients' IID shares (``hospitals``), the coordinator's validation rows, the test rows.
    spec : TaskSpec
        Model, hyperparameters, rounds, FedAvg, leave-one-out contributions.
    """

    dataset: str
    split: FederatedSplit
    spec: TaskSpec

    @property
    def clients(self) -> int:
        """Number of clients."""
        return len(self.split.hospitals)

    @property
    def rounds(self) -> int:
        """Number of rounds."""
        return self.spec.rounds


def _load(dataset: str) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64], tuple[str, ...]]:
    """Rows, labels and feature names of ``dataset``."""
    from sklearn.datasets import load_breast_cancer, load_digits

    if dataset == "digits":
        raw = load_digits()
        names = tuple(f"pixel_{i}" for i in range(raw.data.shape[1]))
        return np.asarray(raw.data, np.float32), np.asarray(raw.target, np.int64), names
    if dataset == "breast-cancer":
        raw = load_breast_cancer()
        y = (np.asarray(raw.target) == 0).astype(np.int64)  # 1 = malignant, as in the demo
        return np.asarray(raw.data, np.float32), y, tuple(str(n) for n in raw.feature_names)
    raise InvalidInputError(f"bench: unknown dataset {dataset!r} (known: {', '.join(DATASETS)})")


def iid_split(
    x: npt.NDArray[np.float32],
    y: npt.NDArray[np.int64],
    names: tuple[str, ...],
    *,
    clients: int,
    seed: int,
) -> FederatedSplit:
    """20 % test and 10 % validation (stratified), the rest shuffled and dealt in equal shares.

    Parameters
    ----------
    x, y : arrays
        Rows and class labels.
    names : tuple of str
        Feature names.
    clients : int
        Number of shares.
    seed : int
        Seed of every random choice.
    """
    rng = np.random.default_rng(seed)
    test, val, rest = [], [], []
    for cls in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == cls))
        n_test, n_val = round(0.2 * len(members)), round(0.1 * len(members))
        test += members[:n_test].tolist()
        val += members[n_test : n_test + n_val].tolist()
        rest += members[n_test + n_val :].tolist()
    shares = np.array_split(rng.permutation(np.array(rest, dtype=np.int64)), clients)

    binary = int(y.max()) <= 1

    def take(name: str, idx: npt.NDArray[np.int64] | list[int]) -> LocalDataset:
        order = np.sort(np.asarray(idx, dtype=np.int64))
        return LocalDataset(name, x[order], y[order].astype(np.float32) if binary else y[order])

    return FederatedSplit(
        feature_names=names,
        hospitals=tuple(take(f"client-{i + 1}", s) for i, s in enumerate(shares)),
        validation=take("coordinator-validation", val),
        test=take("held-out-test", test),
    )


def bench_task(
    dataset: str = "digits", *, clients: int = 10, rounds: int = 20, seed: int = 0
) -> BenchTask:
    """The benchmark's task: an MLP with one hidden layer of 32, FedAvg, the demo's training.

    Parameters
    ----------
    dataset : str, default "digits"
        One of :data:`DATASETS`.
    clients : int, default 10
        Number of IID clients.
    rounds : int, default 20
        Number of rounds.
    seed : int, default 0
        Seed of the split.
    """
    if clients < 3 or rounds < 2:
        raise InvalidInputError("bench: at least 3 clients (the quorum) and 2 rounds")
    x, y, names = _load(dataset)
    split = iid_split(x, y, names, clients=clients, seed=seed)
    classes = int(y.max()) + 1
    shape: dict[str, object] = {"task": "multiclass", "classes": classes} if classes > 2 else {}
    stats = [c.stats() for c in split.hospitals]
    spec = TaskSpec(
        name=f"bench-{dataset}",
        description="scripts/bench: the same task on every system",
        model=pooled_model(stats, kind="mlp", hidden=(32,), seed=7, **shape),
        train=TRAIN,
        rounds=rounds,
        feature_names=names,
        strategy="fedavg",
        contribution="leave-one-out",
    )
    return BenchTask(dataset, split, spec)


def local_sgd(model: FedModel, data: LocalDataset, config: TrainConfig, round_: int) -> None:
    """Train ``model`` in place as fedmarket's local training does, keeping nothing else.

    Same optimizer, loss and batch order as :func:`fl_node.training.train_local`; no state copy,
    no per-step loss read.

    Parameters
    ----------
    model : FedModel
        The model, trained in place (on the CPU).
    data : LocalDataset
        The client's rows.
    config : TrainConfig
        Hyperparameters.
    round_ : int
        The round (mixed into the batch-order seed).
    """
    model.train()
    x, y = torch.tensor(data.x), torch.tensor(data.y)  # copies: Ray hands read-only arrays
    optimizer = torch.optim.SGD(
        model.parameters(), lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay
    )
    generator = torch.Generator().manual_seed(config.seed * 100_003 + round_)
    batch = config.batch_size or data.rows
    for _ in range(config.local_epochs):
        order = torch.randperm(data.rows, generator=generator)
        for start in range(0, data.rows, batch):
            idx = order[start : start + batch]
            optimizer.zero_grad(set_to_none=True)
            task_loss(model, x[idx], y[idx]).backward()  # type: ignore[no-untyped-call]
            optimizer.step()


def accuracy(model: FedModel, data: LocalDataset) -> float:
    """Share of ``data``'s rows whose predicted class is the label (logit >= 0 when binary)."""
    model.eval()
    with torch.no_grad():
        out = model.raw(torch.from_numpy(np.ascontiguousarray(data.x)))
    pred = out.argmax(dim=1) if out.ndim == 2 else (out >= 0).long()
    return float((pred.numpy() == np.asarray(data.y).astype(np.int64)).mean())


def fedavg(states: list[dict[str, torch.Tensor]], weights: list[int]) -> dict[str, torch.Tensor]:
    """The sample-weighted mean of the clients' parameters (plain FedAvg).

    Parameters
    ----------
    states : list of dict
        Each client's trained parameters, by name.
    weights : list of int
        Each client's sample count.
    """
    total = float(sum(weights))
    return {
        name: sum(
            (s[name] * (w / total) for s, w in zip(states, weights, strict=True)),
            torch.zeros_like(states[0][name]),
        )
        for name in states[0]
    }


def max_abs_diff(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    """Largest absolute difference between two parameter sets of the same names and shapes."""
    return max(float((a[k].float() - b[k].float()).abs().max()) for k in a)
