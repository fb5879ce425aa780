"""The Flower app of part 2: a ClientApp and a ServerApp whose strategy is timed, phase by phase.

Client side: each (virtual) SuperNode is one participant. Its train function loads the global
model Flower sent into the task's model, trains it on the node's own rows with the task's local
training (:func:`fl_node.training.train_local`, as :class:`fl_node.participant.ParticipantNode`
does) and replies with the arrays and ``num-examples``; :func:`fl_node.flower.anchor_train` wraps
it, so each reply carries the participant's signed commitment and update bytes. A node knows its
rows (a party file) and its key by its ``partition-id``.

Server side: :class:`TimedStrategy` is :class:`fl_node.flower.AnchoredStrategy` around Flower's
``FedAvg``, and :class:`TimedCoordinator` is :class:`fl_node.flower.FlowerCoordinator`; both only
add clocks around what they inherit:

- ``open``: ``configure_train`` (the coordinator's stake in round 1, the model stored, the round
  opened on-chain);
- ``clients``: from the instructions leaving to the replies' arrival (Flower's engine and the
  clients' training: not the coordinator's work);
- ``anchor``: ``aggregate_train`` up to the finalisation (the replies screened, the commitments
  anchored in one batch root on-chain, the bytes stored from the reveal start);
- ``finalize``: :meth:`~fl_node.coordinator.Coordinator.finalize_round` (every update checked
  against its commitment, the aggregation, the contributions, the rewards, the model and the
  evidence stored, the round finalised on-chain), with its ``aggregate`` and ``contributions``
  parts on their own clocks.

The coordinator's time per round is ``open + anchor + finalize``. The chain is a dev node whose
clock the coordinator moves to each deadline (``travel``): no time is spent waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from flwr.app import ArrayRecord, ConfigRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp
from flwr.serverapp import Grid, ServerApp
from flwr.serverapp.strategy import FedAvg
from torch import Tensor

from fl_node.coordinator import RoundReport
from fl_node.data import LocalDataset
from fl_node.flower import AnchoredStrategy, FlowerCoordinator, anchor_train
from fl_node.models import build_model, full_state
from fl_node.robustness import DefendedRound
from fl_node.strategies import ClientUpdate
from fl_node.strategies.state import ServerState
from fl_node.task import TaskSpec
from fl_node.training import train_local


@dataclass(frozen=True)
class ClientSetup:
    """What every node needs (sent to Flower's workers as is): the spec, the files, the keys.

    Parameters
    ----------
    spec : bytes
        The task spec.
    party_files : tuple of str
        Each partition's rows.
    keys : tuple of str
        Each partition's participant key (hex).
    """

    spec: bytes
    party_files: tuple[str, ...]
    keys: tuple[str, ...]


@cache
def _spec(data: bytes) -> TaskSpec:
    return TaskSpec.from_bytes(data)


@cache
def _rows(data: bytes, path: str) -> LocalDataset:
    return _spec(data).load_data(Path(path), name=Path(path).stem)


def _train(setup: ClientSetup, msg: Message, context: Context) -> Message:
    """The node's local training on its own rows (see the module docstring)."""
    partition = int(context.node_config["partition-id"])
    spec = _spec(setup.spec)
    model = build_model(spec.model)
    model.load_state_dict(msg.content.array_records["arrays"].to_torch_state_dict())
    round_ = int(msg.content.config_records["config"]["server-round"])  # type: ignore[arg-type]
    config = spec.make_strategy().configure_train(spec.train)
    rows = _rows(setup.spec, setup.party_files[partition])
    result = train_local(model, rows, config, round=round_)
    metrics = MetricRecord({"train_loss": result.loss, "num-examples": result.samples})
    arrays = ArrayRecord(torch_state_dict=full_state(model))
    return Message(content=RecordDict({"arrays": arrays, "metrics": metrics}), reply_to=msg)


def make_client_app(setup: ClientSetup) -> ClientApp:
    """The ClientApp: the local training, anchored (see the module docstring)."""

    def train(msg: Message, context: Context) -> Message:
        return _train(setup, msg, context)

    def account_of(context: Context) -> LocalAccount:
        key: LocalAccount = Account.from_key(setup.keys[int(context.node_config["partition-id"])])
        return key

    app = ClientApp()
    app.train()(anchor_train(train, account_of))
    return app


@dataclass
class PhaseClock:
    """Seconds of each phase of each round (see the module docstring)."""

    rounds: dict[int, dict[str, float]] = field(default_factory=dict)
    current: dict[str, float] = field(default_factory=dict)

    def add(self, phase: str, seconds: float) -> None:
        """Add ``seconds`` to ``phase`` of the round under way."""
        self.current[phase] = self.current.get(phase, 0.0) + seconds

    def close(self, round_: int) -> None:
        """The round under way is ``round_``; start the next."""
        self.rounds[round_] = self.current
        self.current = {}


class TimedCoordinator(FlowerCoordinator):
    """:class:`FlowerCoordinator` with clocks on the finalisation and two of its parts."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.clock = PhaseClock()

    def finalize_round(self) -> RoundReport:
        """The inherited finalisation, timed."""
        started = time.perf_counter()
        report = super().finalize_round()
        self.clock.add("finalize", time.perf_counter() - started)
        return report

    def _aggregate(
        self,
        params: Mapping[str, Tensor],
        accepted: list[tuple[int, ClientUpdate]],
        defended: DefendedRound | None,
    ) -> tuple[Any, ServerState]:
        started = time.perf_counter()
        try:
            return super()._aggregate(params, accepted, defended)
        finally:
            self.clock.add("aggregate", time.perf_counter() - started)

    def _measure_contributions(self, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return super()._measure_contributions(*args, **kwargs)
        finally:
            self.clock.add("contributions", time.perf_counter() - started)


class TimedStrategy(AnchoredStrategy):
    """:class:`AnchoredStrategy` with clocks on its two halves and on the clients between."""

    def __init__(self, inner: FedAvg, coordinator: TimedCoordinator) -> None:
        super().__init__(inner, coordinator)
        self.clock = coordinator.clock
        self._sent = 0.0

    def configure_train(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        """The inherited opening, timed."""
        started = time.perf_counter()
        messages = list(super().configure_train(server_round, arrays, config, grid))
        self._sent = time.perf_counter()
        self.clock.add("open", self._sent - started)
        return messages

    def aggregate_train(
        self, server_round: int, replies: Iterable[Message]
    ) -> tuple[ArrayRecord | None, MetricRecord | None]:
        """The inherited anchoring and finalisation, timed (``anchor`` is the rest)."""
        started = time.perf_counter()
        self.clock.add("clients", started - self._sent)
        finalized_before = self.clock.current.get("finalize", 0.0)
        result = super().aggregate_train(server_round, replies)
        whole = time.perf_counter() - started
        finalize = self.clock.current.get("finalize", 0.0) - finalized_before
        self.clock.add("anchor", whole - finalize)
        self.clock.close(server_round)
        return result


def serve(grid: Grid, coordinator: TimedCoordinator, nodes: int, rounds: int) -> TimedStrategy:
    """Run ``rounds`` anchored FedAvg rounds over ``nodes`` nodes on ``grid``; the strategy."""
    inner = FedAvg(
        fraction_train=1.0,
        fraction_evaluate=0.0,
        min_train_nodes=nodes,
        min_evaluate_nodes=0,
        min_available_nodes=nodes,
    )
    strategy = TimedStrategy(inner, coordinator)
    model = coordinator.model
    assert model is not None
    strategy.start(
        grid=grid, initial_arrays=ArrayRecord(torch_state_dict=full_state(model)), num_rounds=rounds
    )
    return strategy


def make_server_app(
    coordinator: TimedCoordinator, nodes: int, rounds: int, done: Callable[[TimedStrategy], None]
) -> ServerApp:
    """The ServerApp for Flower's simulation engine: :func:`serve`, then ``done(strategy)``."""
    app = ServerApp()

    @app.main()
    def main(grid: Grid, context: Context) -> None:
        done(serve(grid, coordinator, nodes, rounds))

    return app


__all__ = [
    "ClientSetup",
    "PhaseClock",
    "TimedCoordinator",
    "TimedStrategy",
    "make_client_app",
    "make_server_app",
    "serve",
]
