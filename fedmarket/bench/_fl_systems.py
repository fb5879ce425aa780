"""The systems the federated benchmark compares: the plain loop and Flower's simulation.

fedmarket's own runs are in :mod:`fedmarket.bench._fl_fedmarket`. Each runner returns a
:class:`SystemResult` with the wall-clock time of each round's end, so every system's time per
round is measured the same way (:attr:`SystemResult.round_ms`).
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from fedmarket.bench._fl_task import BenchTask, accuracy, fedavg, local_sgd
from fl_node.models import build_model, trainable_state
from fl_node.training import cpu_threads_for

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SystemResult:
    """One system's run of the task.

    Attributes
    ----------
    system : str
        Its name in the table.
    started, ended : float
        ``time.perf_counter()`` at the start and end of the whole run.
    round_ends : tuple of float
        ``time.perf_counter()`` at the end of each round (aggregate known and evaluated).
    accuracy : float
        Test accuracy of the final model.
    weights : dict of str to Tensor
        The final model's trainable parameters.
    counts : dict of str to float
        System-specific figures per round (chain calls, transactions), for the profile.
    """

    system: str
    started: float
    ended: float
    round_ends: tuple[float, ...]
    accuracy: float
    weights: dict[str, torch.Tensor]
    counts: dict[str, float] = field(default_factory=dict)

    @property
    def wall_s(self) -> float:
        """The whole run, start-up included."""
        return self.ended - self.started

    @property
    def round_ms(self) -> float:
        """Mean time of rounds 2 to the last (round 1 also pays for warming up), in ms."""
        ends = self.round_ends
        return 1000 * (ends[-1] - ends[0]) / (len(ends) - 1)

    @property
    def fixed_s(self) -> float:
        """What is not rounds: start-up and close (the wall time less rounds x per round)."""
        return self.wall_s - len(self.round_ends) * self.round_ms / 1000


def run_plain(task: BenchTask) -> SystemResult:
    """A plain in-process PyTorch FedAvg loop: the floor every system is compared to.

    Parameters
    ----------
    task : BenchTask
        The task.
    """
    started = time.perf_counter()
    spec = task.spec
    config = spec.make_strategy().configure_train(spec.train)
    model = build_model(spec.model)
    weights = [c.rows for c in task.split.hospitals]
    ends: list[float] = []
    with cpu_threads_for(model, torch.device("cpu")):
        for round_ in range(1, spec.rounds + 1):
            states = []
            for client in task.split.hospitals:
                local = copy.deepcopy(model)
                local_sgd(local, client, config, round_)
                states.append({n: p.detach() for n, p in local.named_parameters()})
            model.load_state_dict(fedavg(states, weights), strict=False)
            accuracy(model, task.split.test)
            ends.append(time.perf_counter())
        final = accuracy(model, task.split.test)
    return SystemResult(
        "plain PyTorch loop",
        started,
        time.perf_counter(),
        tuple(ends),
        final,
        trainable_state(model),
    )


def flower_available() -> bool:
    """Whether Flower's simulation engine (``flwr[simulation]``) is installed."""
    try:
        import flwr.simulation  # noqa: F401
        import ray  # noqa: F401
    except ImportError:
        return False
    return True


def _flower_client(task: BenchTask) -> Any:
    """Flower's ClientApp: train the received model on the node's share with :func:`local_sgd`."""
    from flwr.app import ArrayRecord, Context, Message, MetricRecord, RecordDict
    from flwr.clientapp import ClientApp

    spec, shares = task.spec, task.split.hospitals
    config = spec.make_strategy().configure_train(spec.train)
    app = ClientApp()

    @app.train()
    def train(msg: Message, context: Context) -> Message:
        data = shares[int(context.node_config["partition-id"])]
        round_ = int(msg.content.config_records["config"]["server-round"])  # type: ignore[arg-type]
        model = build_model(spec.model)
        model.load_state_dict(msg.content.array_records["arrays"].to_torch_state_dict())
        with cpu_threads_for(model, torch.device("cpu")):
            local_sgd(model, data, config, round_)
        reply = RecordDict(
            {
                "arrays": ArrayRecord(model.state_dict()),
                "metrics": MetricRecord({"num-examples": data.rows}),
            }
        )
        return Message(content=reply, reply_to=msg)

    return app


def _flower_server(task: BenchTask, ends: list[float], out: dict[str, Any]) -> Any:
    """Flower's ServerApp: FedAvg over every node, the test set evaluated after each round."""
    from flwr.app import ArrayRecord, Context, MetricRecord
    from flwr.serverapp import Grid, ServerApp
    from flwr.serverapp.strategy import FedAvg

    spec, n = task.spec, task.clients
    app = ServerApp()

    def evaluate(round_: int, arrays: ArrayRecord) -> MetricRecord:
        model = build_model(spec.model)
        model.load_state_dict(arrays.to_torch_state_dict())
        acc = accuracy(model, task.split.test)
        if round_ > 0:
            ends.append(time.perf_counter())
        out["accuracy"], out["weights"] = acc, trainable_state(model)
        return MetricRecord({"accuracy": acc})

    @app.main()
    def main(grid: Grid, context: Context) -> None:
        strategy = FedAvg(
            fraction_train=1.0,
            fraction_evaluate=0.0,
            min_train_nodes=n,
            min_available_nodes=n,
        )
        initial = ArrayRecord(build_model(spec.model).state_dict())
        strategy.start(
            grid=grid, initial_arrays=initial, num_rounds=spec.rounds, evaluate_fn=evaluate
        )

    return app


def run_flower(task: BenchTask, *, cpus_per_client: float = 1.0) -> SystemResult:
    """Flower 1.42's simulation engine on Ray: the same task, FedAvg, one ClientApp per client.

    Parameters
    ----------
    task : BenchTask
        The task.
    cpus_per_client : float, default 1.0
        Ray CPUs each ClientApp holds (1: as many run at once as the machine has cores).
    """
    from flwr.simulation import run_simulation

    started = time.perf_counter()
    ends: list[float] = []
    out: dict[str, Any] = {}
    run_simulation(
        server_app=_flower_server(task, ends, out),
        client_app=_flower_client(task),
        num_supernodes=task.clients,
        backend_config={"client_resources": {"num_cpus": cpus_per_client, "num_gpus": 0.0}},
    )
    ended = time.perf_counter()
    return SystemResult(
        "Flower 1.42 simulation (Ray)",
        started,
        ended,
        tuple(ends),
        out["accuracy"],
        out["weights"],
    )


Runner = Callable[[BenchTask], SystemResult]
