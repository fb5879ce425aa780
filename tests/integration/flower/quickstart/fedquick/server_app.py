"""fedquick: the ServerApp, the quickstart's FedAvg wrapped to anchor every round on fedmarket.

What differs from Flower's quickstart: the strategy is
``AnchoredStrategy(FedAvg(...), coordinator)`` and, once Flower's rounds are done,
``strategy.settle()`` waits for the last challenge window.

Under the deployment engine the coordinator comes from the environment (the ServerApp runs in a
process the SuperLink starts): ``FEDMARKET_FLOWER_WORLD`` names a JSON file with the chain's URL,
the deployment, the task and the content store's folder, and ``FEDMARKET_FLOWER_COORDINATOR_KEY``
holds the coordinator's key (never the file, never argv).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

from eth_account import Account
from flwr.app import ArrayRecord, ConfigRecord, Context
from flwr.serverapp import Grid, ServerApp
from flwr.serverapp.strategy import FedAvg

from chain import Deployment, RpcBackend, signer_for
from fedquick.task import LEARNING_RATE, N_HOSPITALS, ROUNDS, Net, split
from fl_node.flower import AnchoredStrategy, FlowerCoordinator
from storage import LocalCidStore

CoordinatorOf = Callable[[Context], FlowerCoordinator]


def coordinator_from_env(context: Context) -> FlowerCoordinator:
    """The task's coordinator, from ``FEDMARKET_FLOWER_WORLD`` and the key in the environment."""
    world = json.loads(Path(os.environ["FEDMARKET_FLOWER_WORLD"]).read_text())
    backend = RpcBackend(world["rpc_url"])
    deployment = Deployment(**world["deployment"])
    signer = signer_for(backend, Account.from_key(os.environ["FEDMARKET_FLOWER_COORDINATOR_KEY"]))
    coordinator = FlowerCoordinator(
        signer=signer,
        fed_task=deployment.fed_task_client(backend),
        store=LocalCidStore(Path(world["store_dir"])),
        validation=split().validation,
        test=split().test,
        travel=True,
    )
    coordinator.attach(int(world["task_id"]))
    return coordinator


def make_server_app(coordinator_of: CoordinatorOf, rounds: int = ROUNDS) -> ServerApp:
    """The ServerApp, its coordinator made by ``coordinator_of`` when the run starts."""
    server = ServerApp()

    @server.main()
    def main(grid: Grid, context: Context) -> None:
        strategy = AnchoredStrategy(
            FedAvg(
                fraction_train=1.0,
                fraction_evaluate=1.0,
                min_train_nodes=N_HOSPITALS,
                min_evaluate_nodes=N_HOSPITALS,
                min_available_nodes=N_HOSPITALS,
            ),
            coordinator_of(context),
        )
        strategy.start(
            grid=grid,
            initial_arrays=ArrayRecord(Net().state_dict()),
            train_config=ConfigRecord({"lr": LEARNING_RATE}),
            num_rounds=rounds,
        )
        strategy.settle()

    return server


app = make_server_app(coordinator_from_env)
