"""fedquick: the model, the data and the local training, as in Flower's PyTorch quickstart.

The model is the task's own (the breast-cancer MLP the sponsor designed: :func:`Net`), the data a
hospital's rows of the project's breast-cancer split (``FEDMARKET_DATA_DIR``), and each node's
participant key is derived from its ``partition-id`` (test keys, as the demo world derives them).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
from eth_account.signers.local import LocalAccount
from flwr.app import Context

from chain import demo_account
from fedmarket.demo import design_task
from fedmarket.demo.world import hospital_roles
from fl_node.data import FederatedSplit, LocalDataset, breast_cancer_hospitals
from fl_node.models import FedModel, build_model
from fl_node.task import TaskSpec

SEED = 2024
N_HOSPITALS = 2
ROUNDS = 2
LOCAL_EPOCHS = 2
LEARNING_RATE = 0.05
BATCH_SIZE = 16


@lru_cache(maxsize=1)
def split() -> FederatedSplit:
    """The hospitals' rows, the coordinator's validation set and the test set."""
    return breast_cancer_hospitals(N_HOSPITALS, seed=SEED)


def task_spec(rounds: int = ROUNDS) -> TaskSpec:
    """The sponsor's task (FedAvg, an MLP scaled by the hospitals' published statistics)."""
    data = split()
    return design_task([h.stats() for h in data.hospitals], data.feature_names, rounds=rounds)


def Net() -> FedModel:  # noqa: N802 - the quickstart's name
    """The task's model, with its deterministic initial weights."""
    return build_model(task_spec().model)


def load_data(partition_id: int) -> LocalDataset:
    """Hospital ``partition_id``'s rows."""
    return split().hospitals[partition_id]


def account_of(context: Context) -> LocalAccount:
    """The node's participant key (test keys derived from its partition id)."""
    partition = int(context.node_config["partition-id"])
    return demo_account(SEED, hospital_roles(N_HOSPITALS)[partition])


def train(net: FedModel, data: LocalDataset, epochs: int, lr: float) -> float:
    """Local SGD epochs on ``data``; the mean training loss."""
    x, y = torch.from_numpy(data.x), torch.from_numpy(data.y)
    generator = torch.Generator().manual_seed(SEED)
    optimizer = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9)
    criterion = torch.nn.BCEWithLogitsLoss()
    net.train()
    losses: list[float] = []
    for _ in range(epochs):
        order = torch.randperm(len(y), generator=generator)
        for start in range(0, len(y), BATCH_SIZE):
            batch = order[start : start + BATCH_SIZE]
            optimizer.zero_grad()
            loss = criterion(net(x[batch]), y[batch])
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    return float(np.mean(losses))


def test(net: FedModel, data: LocalDataset) -> tuple[float, float]:
    """Loss and accuracy of ``net`` on ``data``."""
    net.eval()
    with torch.no_grad():
        logits = net(torch.from_numpy(data.x))
        target = torch.from_numpy(data.y)
        loss = float(torch.nn.functional.binary_cross_entropy_with_logits(logits, target))
    accuracy = float(((logits > 0).float().numpy() == data.y).mean())
    return loss, accuracy
