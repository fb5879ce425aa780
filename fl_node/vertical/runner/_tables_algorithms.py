"""The algorithm-specific steps of a run on the users' tables: SecureBoost and hetero LR (private).

:mod:`~fl_node.vertical.runner.tables_run` runs the same steps for both (cross-validation,
the anchored model, the coalitions of Shapley); what differs is how one model is trained and
scored over a coalition of feature groups (``members``: party indices, 0 the guest, ``k``
host ``k``), which parties take part, and which coalitions are measured:

- **SecureBoost** (no arbiter; the guest holds the key): a coalition is the guest with the
  chosen hosts (the others get no job); a coalition without the guest, which holds the
  labels and builds every tree, is worth 0.5.
- **hetero LR** (the arbiter holds the key): every party takes part in every session and a
  coalition drops the features of the parties outside it; the guest's labels are always
  used, so a coalition without the guest's features (hosts' features, the guest's labels and
  intercept) is trained and measured too; only the empty coalition is worth 0.5.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from fl_node.vertical.protocol import HeteroLRConfig
from fl_node.vertical.protocol.boost import BoostConfig
from fl_node.vertical.runner.jobs import (
    BoostOutcome,
    BoostPredictJob,
    BoostTrainJob,
    LrPredictJob,
    LrTrainJob,
    Part,
    PredictOutcome,
    TrainOutcome,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from fl_node.vertical.runner._process import PartyProcesses


@dataclass(frozen=True)
class Trained:
    """One trained model as the orchestrator reports it.

    Attributes
    ----------
    seconds : float
        Wall time of the session (the guest's).
    rounds : int
        Trees (SecureBoost) or epochs (hetero LR).
    losses : tuple of float
        Epoch losses (hetero LR; empty for SecureBoost).
    """

    seconds: float
    rounds: int
    losses: tuple[float, ...] = ()


@dataclass(frozen=True)
class BoostSteps:
    """SecureBoost over the guest and a subset of the hosts (no arbiter)."""

    config: BoostConfig
    hosts: tuple[str, ...]
    unit: Literal["tree"] = "tree"

    @property
    def extra_processes(self) -> tuple[str, ...]:
        """No party besides the data parties."""
        return ()

    def measured(self, members: Sequence[int]) -> bool:
        """Coalitions with the guest are trained (without it: 0.5)."""
        return 0 in members

    def _chosen(self, members: Sequence[int]) -> tuple[str, ...]:
        return tuple(self.hosts[k - 1] for k in sorted(members) if k)

    def train(self, procs: PartyProcesses, name: str, members: Sequence[int]) -> Trained:
        """Train model ``name`` with the guest and the coalition's hosts."""
        hosts = self._chosen(members)
        job = BoostTrainJob(name, self.config, hosts)
        out = procs.run(dict.fromkeys(("guest", *hosts), job), BoostOutcome)["guest"]
        return Trained(out.seconds, out.trees)

    def predict(
        self, procs: PartyProcesses, name: str, members: Sequence[int], part: Part
    ) -> dict[str, float]:
        """Federated prediction of ``part`` with model ``name``; the guest's metrics."""
        hosts = self._chosen(members)
        job = BoostPredictJob(name, part)
        outcome = procs.run(dict.fromkeys(("guest", *hosts), job), PredictOutcome)["guest"]
        assert outcome.metrics is not None
        return outcome.metrics


@dataclass(frozen=True)
class LrSteps:
    """Hetero LR with the guest, every host and the arbiter; coalitions by features."""

    config: HeteroLRConfig
    hosts: tuple[str, ...]
    unit: Literal["epoch"] = "epoch"

    @property
    def extra_processes(self) -> tuple[str, ...]:
        """The arbiter (the key holder, also the task's coordinator)."""
        return ("arbiter",)

    def measured(self, members: Sequence[int]) -> bool:
        """Every non-empty coalition is trained (the guest's labels are always used)."""
        return len(members) > 0

    def train(self, procs: PartyProcesses, name: str, members: Sequence[int]) -> Trained:
        """Train model ``name`` using the features of the coalition's parties only."""
        roles = ("guest", *self.hosts)
        features = tuple(roles[k] for k in sorted(members))
        job = LrTrainJob(name, self.config, self.hosts, features)
        out = procs.run(dict.fromkeys((*roles, "arbiter"), job), TrainOutcome)["guest"]
        return Trained(out.session.seconds, out.session.epochs, tuple(out.session.losses))

    def predict(
        self, procs: PartyProcesses, name: str, members: Sequence[int], part: Part
    ) -> dict[str, float]:
        """Federated prediction of ``part`` with model ``name``; the guest's metrics."""
        job = LrPredictJob(name, part)
        outcome = procs.run(dict.fromkeys(("guest", *self.hosts), job), PredictOutcome)["guest"]
        assert outcome.metrics is not None
        return outcome.metrics


Steps = BoostSteps | LrSteps


def steps_for(config: BoostConfig | HeteroLRConfig, hosts: tuple[str, ...]) -> Steps:
    """The steps of the algorithm ``config`` belongs to."""
    if isinstance(config, HeteroLRConfig):
        return LrSteps(config, hosts)
    return BoostSteps(config, hosts)


__all__ = ["BoostSteps", "LrSteps", "Steps", "Trained", "steps_for"]
