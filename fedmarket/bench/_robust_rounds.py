"""The robustness benchmark's runs: one in-memory FL task per (defence, attack, attackers).

No chain, no screening: what is measured is the defence. Each round every honest participant
trains from the global model with :func:`fl_node.training.train_local`; the attackers send what
:func:`fedmarket.bench._robust_attacks.attacker_updates` crafts (the omniscient attacks are handed
the round's honest deltas). The defence (:func:`fl_node.strategies.robust.make_defence` with its
default parameters, but ``clip`` at the round's median update norm: :data:`DEFENCE_PARAMS`;
``none`` is plain FedAvg) combines the updates into the round's delta, which
is added to the global model (FedAvg with server rate 1), and names the updates it flags.

What a defence gets beyond the updates (:class:`fl_node.strategies.robust.RoundInputs`):

- ``fltrust``: the root update, trained with ``train_local`` from the global model on the
  coordinator's clean root slice (:data:`fedmarket.bench._robust_data.ROOT_ROWS` rows);
- ``trusted_vote``: one ballot per participant. An honest voter scores update ``j`` by the drop
  in its own local loss that adding ``j`` to the global model gives (clipped to
  ``+-COLLUDER_SCORE``); attackers, in every attack, vote as one group: ``+COLLUDER_SCORE`` to
  the attackers, ``-COLLUDER_SCORE`` to every honest update.

A run whose global model turns non-finite stops there (``diverged_round``) and scores 0.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from fedmarket.bench._robust_attacks import (
    BACKDOOR_TARGET,
    OMNISCIENT,
    AttackView,
    Delta,
    Trigger,
    attacker_updates,
    backdoor_success,
    image_trigger,
    predicted_classes,
    tabular_trigger,
    train_from,
)
from fedmarket.bench._robust_data import BenchData
from fl_node.copies import is_empty, step_print
from fl_node.data import LocalDataset
from fl_node.models import FedModel, build_model, trainable_state
from fl_node.objectives import predict, task_loss
from fl_node.strategies import ClientUpdate, FedAvg
from fl_node.strategies.robust import Ballot, Defence, RoundInputs, make_defence
from kernel.errors import FedmarketError

log = logging.getLogger(__name__)

DEFENCES = (
    "none",
    "clip",
    "median",
    "trimmed_mean",
    "krum",
    "multi_krum",
    "fltrust",
    "trusted_vote",
)
"""``none`` (FedAvg) and every :func:`make_defence` name."""

NO_ATTACK = "none"
"""The attack name of the runs without attackers."""

DEFENCE_PARAMS: dict[str, dict[str, float]] = {"clip": {"norm_factor": 1.0}}
"""Parameters given to :func:`make_defence` beyond its defaults: ``clip`` needs a bound, and
clips every update to the round's median update norm."""

COLLUDER_SCORE = 100.0
"""The colluders' ballot scores (``+`` for their group, ``-`` for the honest), and the clip of
an honest voter's scores."""


@dataclass(frozen=True)
class Cell:
    """One run of the grid: the defence, the attack and who attacks (indices of parties)."""

    dataset: str
    defence: str
    attack: str
    attackers: tuple[int, ...]
    participants: int

    @property
    def attackers_pct(self) -> float:
        """Attackers as a percentage of the participants."""
        return 100.0 * len(self.attackers) / self.participants


@dataclass(frozen=True)
class FlagCounts:
    """Who a defence flagged over a run's rounds, against who attacked.

    Attributes
    ----------
    flagged_rounds : int
        Participant-rounds flagged.
    flagged_attacker_rounds : int
        Of those, the attackers'.
    attacker_rounds : int
        Participant-rounds of attackers (every attacker sends every round).
    honest_flagged_rounds : int
        Participant-rounds of honest participants flagged.
    precision : float
        ``flagged_attacker_rounds / flagged_rounds`` (NaN when nothing was flagged).
    recall : float
        ``flagged_attacker_rounds / attacker_rounds`` (NaN without attackers).
    """

    flagged_rounds: int
    flagged_attacker_rounds: int
    attacker_rounds: int
    honest_flagged_rounds: int
    precision: float
    recall: float


def flag_counts(flags: Sequence[Collection[int]], attackers: Collection[int]) -> FlagCounts:
    """:class:`FlagCounts` of the flagged indices of each round against ``attackers``."""
    flagged = sum(len(f) for f in flags)
    hits = sum(1 for f in flags for i in f if i in attackers)
    attacker_rounds = len(flags) * len(attackers)
    return FlagCounts(
        flagged_rounds=flagged,
        flagged_attacker_rounds=hits,
        attacker_rounds=attacker_rounds,
        honest_flagged_rounds=flagged - hits,
        precision=hits / flagged if flagged else math.nan,
        recall=hits / attacker_rounds if attacker_rounds else math.nan,
    )


@dataclass(frozen=True)
class CellFigures:
    """One run's figures (``accuracy`` on the test rows, in ``[0, 1]``).

    ``backdoor_success`` is NaN unless the attack is the backdoor; ``diverged_round`` is 0 when
    the model stayed finite; ``error`` is empty unless the run failed (then accuracy is NaN).
    """

    dataset: str
    defence: str
    attack: str
    attackers_pct: float
    attackers: tuple[int, ...]
    rounds: int
    accuracy: float
    backdoor_success: float
    flags: FlagCounts
    diverged_round: int
    seconds: float
    error: str = ""


def choose_attackers(participants: int, pct: float, seed: int) -> tuple[int, ...]:
    """``round(pct % x participants)`` attackers: the first of a seeded permutation.

    So a larger fraction's attackers include a smaller one's.
    """
    count = round(participants * pct / 100.0)
    order = np.random.default_rng(seed + 99).permutation(participants)
    return tuple(sorted(int(i) for i in order[:count]))


def add(params: Mapping[str, torch.Tensor], delta: Mapping[str, torch.Tensor]) -> Delta:
    """``params + delta``, tensor by tensor."""
    return {name: params[name] + delta[name].to(params[name].dtype) for name in params}


def finite(params: Mapping[str, torch.Tensor]) -> bool:
    """Every coordinate is finite."""
    return all(bool(torch.isfinite(t).all()) for t in params.values())


def accuracy(data: BenchData, params: Mapping[str, torch.Tensor]) -> float:
    """Test accuracy of the model with ``params`` (non-finite predictions count as wrong)."""
    model = build_model(data.spec)
    model.load_state_dict(dict(params), strict=False)
    labels = np.asarray(data.test.y).astype(np.int64)
    return float(np.mean(predicted_classes(data.spec, predict(model, data.test.x)) == labels))


def _trigger(data: BenchData, attackers: Sequence[int]) -> Trigger:
    if data.spec.task == "multiclass":
        return image_trigger()
    return tabular_trigger(np.concatenate([data.parties[i].x for i in attackers]))


def _voter_loss(model: FedModel, data: LocalDataset) -> float:
    x = torch.from_numpy(np.ascontiguousarray(data.x))
    y = torch.from_numpy(np.ascontiguousarray(data.y))
    with torch.no_grad():
        return float(task_loss(model, x, y))


class RobustRun:
    """One cell's task between rounds: the global parameters, the defence, the flags so far.

    Parameters
    ----------
    data : BenchData
        The parties, the model, the root and test rows.
    cell : Cell
        The defence, the attack and the attackers.
    """

    def __init__(self, data: BenchData, cell: Cell) -> None:
        self.data = data
        self.cell = cell
        self.params = trainable_state(build_model(data.spec))
        self.defence = _make(cell.defence)
        self.evaluator = build_model(data.spec)
        self.trigger = _trigger(data, cell.attackers) if cell.attack == "backdoor" else None
        self.flags: list[tuple[int, ...]] = []
        honest = [i for i in range(len(data.parties)) if i not in cell.attackers]
        self.honest = tuple(honest)

    def view(self, round_: int, honest: Sequence[Mapping[str, torch.Tensor]]) -> AttackView:
        """What the attackers know this round (the honest deltas for the omniscient attacks)."""
        return AttackView(
            spec=self.data.spec,
            params=self.params,
            train=self.data.train,
            round=round_,
            own=tuple(self.data.parties[i] for i in self.cell.attackers),
            participants=len(self.data.parties),
            classes=self.data.classes,
            honest=tuple(honest) if self.cell.attack in OMNISCIENT else (),
            trigger=self.trigger,
        )

    def updates(self, round_: int) -> list[ClientUpdate]:
        """Every participant's update of the round, in party order."""
        parties = self.data.parties
        honest = {i: train_from(self.view(round_, ()), parties[i]) for i in self.honest}
        out: dict[int, ClientUpdate] = {
            i: ClientUpdate(delta=d, samples=parties[i].rows) for i, d in honest.items()
        }
        if self.cell.attackers:
            crafted = attacker_updates(self.cell.attack, self.view(round_, list(honest.values())))
            out.update(zip(self.cell.attackers, crafted, strict=True))
        return [out[i] for i in range(len(parties))]

    def ballots(self, updates: Sequence[ClientUpdate], kept: Sequence[int]) -> tuple[Ballot, ...]:
        """One ballot per participant whose update was kept (``kept``: their party positions)."""
        self.evaluator.load_state_dict(dict(self.params), strict=False)
        position = {party: j for j, party in enumerate(kept)}
        voters = {i: self.data.parties[i] for i in self.honest if i in position}
        before = {i: _voter_loss(self.evaluator, d) for i, d in voters.items()}
        scores: dict[int, list[float]] = {i: [] for i in voters}
        for update in updates:
            self.evaluator.load_state_dict(add(self.params, update.delta), strict=False)
            for i, d in voters.items():
                drop = before[i] - _voter_loss(self.evaluator, d)
                clipped = min(COLLUDER_SCORE, max(-COLLUDER_SCORE, drop))
                scores[i].append(clipped if math.isfinite(drop) else -COLLUDER_SCORE)
        group = [COLLUDER_SCORE if party in self.cell.attackers else -COLLUDER_SCORE
                 for party in kept]  # fmt: skip
        for i in self.cell.attackers:
            if i in position:
                scores[i] = group
        return tuple(Ballot(voter=position[i], scores=tuple(scores[i])) for i in sorted(scores))

    def inputs(
        self, round_: int, updates: Sequence[ClientUpdate], kept: Sequence[int]
    ) -> RoundInputs:
        """The round's inputs the defence reads (the root update, the ballots)."""
        if self.defence is not None and self.defence.uses_root:
            return RoundInputs(root_delta=train_from(self.view(round_, ()), self.data.root))
        if self.defence is not None and self.defence.uses_ballots:
            return RoundInputs(ballots=self.ballots(updates, kept))
        return RoundInputs()

    def step(self, round_: int) -> bool:
        """Run one round; False when the next global model is not finite (it is not taken).

        As the coordinator's screening does before any defence, an all-zero update is rejected
        (``empty_update``: unpaid, not slashed); such rejections count as caught in the flags.
        """
        everyone = self.updates(round_)
        empty = tuple(i for i, u in enumerate(everyone) if is_empty(step_print(0, "", u.delta)))
        kept = [i for i in range(len(everyone)) if i not in empty]
        updates = [everyone[i] for i in kept]
        if self.defence is None:
            after = FedAvg().aggregate(self.params, updates)
            self.flags.append(empty)
        else:
            outcome = self.defence.combine(updates, self.inputs(round_, updates, kept))
            after = add(self.params, outcome.delta)
            self.flags.append(tuple(sorted((*empty, *(kept[i] for i in outcome.flagged)))))
        if not finite(after):
            return False
        self.params = after
        return True


def _make(name: str) -> Defence | None:
    return None if name == "none" else make_defence(name, **DEFENCE_PARAMS.get(name, {}))


def run_cell(data: BenchData, cell: Cell, rounds: int) -> CellFigures:
    """Run ``cell`` for ``rounds`` rounds and score it (a failed run is recorded, not raised)."""
    started = time.perf_counter()
    diverged, error, backdoor = 0, "", math.nan
    run: RobustRun | None = None
    try:
        run = RobustRun(data, cell)
        for round_ in range(1, rounds + 1):
            if not run.step(round_):
                diverged = round_
                break
        score = 0.0 if diverged else accuracy(data, run.params)
        if run.trigger is not None:
            model = build_model(data.spec)
            model.load_state_dict(dict(run.params), strict=False)
            backdoor = backdoor_success(model, data.test, run.trigger, BACKDOOR_TARGET)
    except FedmarketError as exc:
        log.warning("run_cell: %s failed: %s", cell, exc)
        score, error = math.nan, f"{type(exc).__name__}: {exc}"
    return CellFigures(
        dataset=cell.dataset,
        defence=cell.defence,
        attack=cell.attack,
        attackers_pct=cell.attackers_pct,
        attackers=cell.attackers,
        rounds=rounds,
        accuracy=score,
        backdoor_success=backdoor,
        flags=flag_counts(run.flags if run else [], cell.attackers),
        diverged_round=diverged,
        seconds=time.perf_counter() - started,
        error=error,
    )
