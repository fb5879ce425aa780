"""Run a pool task round by round: draw, train, commit, aggregate per base model, pay.

:class:`PoolRunner` is the pool's coordinator together with its in-process participants. Each
round it:

1. derives the round's seed from the committed secret (:func:`~fl_node.pool.assignment.round_seed`)
   and draws the base models and the assignment (:func:`~fl_node.pool.assignment.draw`) among the
   base models that have not converged yet (all of them once every one has);
2. opens the round on the ledger with the manifest of every base model's current global model
   and a hiding commitment to the assignment;
3. has each participant train the base model it was dealt and commit the update's keccak from its
   own key (the update's metadata names the base model's hash, so the commitment binds it);
4. aggregates each drawn base model's updates with FedAvg, measures their contributions on the
   validation set, sums them per participant (:mod:`fl_node.pool.scoring`) and evaluates every
   drawn model on the test set;
5. finalises the round with the evidence (the revealed seed, the assignment, per base model its
   updates, contributions and new model) and the rewards of the summed contributions.

After the last round the converged models inside the confidence region, pruned by the elimination
rule (:func:`~fl_node.pool.acceptance.accept`), form the shared pool; the last manifest is the
bundle, and the draw secret is revealed so anyone can re-derive every round's assignment.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from fl_node.data import LocalDataset
from fl_node.pool.acceptance import Candidate, PoolDecision, accept
from fl_node.pool.assignment import PoolDraw, draw, round_seed
from fl_node.pool.convergence import converged, drawable, rounds_to_converge
from fl_node.pool.lanes import (
    Lane,
    LaneRound,
    LaneUpdate,
    aggregate_lane,
    predictions,
    screen_update,
    shapes_of,
    train_on_lane,
)
from fl_node.pool.ledger import PoolLedger
from fl_node.pool.linkage import Sighting
from fl_node.pool.scoring import pool_improvement, summed_contributions
from fl_node.pool.spec import BUNDLE_KIND, CLOSED_KIND, PoolSpec
from fl_node.serialization import UpdateMeta
from storage import ContentStore, canonical_json, compute_cid, content_hash

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PoolParty:
    """A participant: its address (as joined) and its own rows."""

    address: str
    data: LocalDataset


@dataclass(frozen=True)
class PoolRound:
    """One finalised pool round.

    Attributes
    ----------
    round : int
        The round.
    draw : PoolDraw
        The base models drawn and who trained which.
    lanes : tuple of LaneRound
        Per drawn base model, its aggregation, contributions and test error.
    contributions : tuple of float
        Each participant's summed contribution (join order).
    amounts : tuple of int
        What the round pays each participant (join order).
    update_hashes : tuple of str
        Each participant's committed update keccak (join order).
    evidence_cid : str
        The round's evidence.
    manifest_cid : str
        The base models' global models after the round (the bundle after the last).
    seconds : float
        Wall time of the round.
    """

    round: int
    draw: PoolDraw
    lanes: tuple[LaneRound, ...]
    contributions: tuple[float, ...]
    amounts: tuple[int, ...]
    update_hashes: tuple[str, ...]
    evidence_cid: str
    manifest_cid: str
    seconds: float


@dataclass(frozen=True)
class PoolResult:
    """A finished pool task.

    Attributes
    ----------
    rounds : tuple of PoolRound
        Every round.
    errors : tuple of tuple of float
        Per base model, its test error after each round it trained.
    converged_at : tuple of int or None
        Per base model, the round count (of its own rounds) at which it converged.
    decisions : tuple of PoolDecision
        The acceptance decision of every base model.
    bundle_cid : str
        The last manifest: the accepted models, every decision, the revealed secret.
    sightings : tuple of Sighting
        What a chain watcher saw of each submission (for the linkage attack).
    received : tuple of int
        What each participant claimed (join order).
    """

    rounds: tuple[PoolRound, ...]
    errors: tuple[tuple[float, ...], ...]
    converged_at: tuple[int | None, ...]
    decisions: tuple[PoolDecision, ...]
    bundle_cid: str
    sightings: tuple[Sighting, ...]
    received: tuple[int, ...]

    @property
    def accepted(self) -> tuple[int, ...]:
        """The base models in the shared pool."""
        return tuple(d.model for d in self.decisions if d.accepted)


def _hex(raw: bytes) -> str:
    return "0x" + raw.hex()


@dataclass
class PoolRunner:
    """The coordinator of a pool task with its in-process participants.

    Attributes
    ----------
    spec : PoolSpec
        The task.
    parties : sequence of PoolParty
        The participants, in the ledger's join order.
    validation, test : LocalDataset
        The coordinator's validation rows (contributions) and held-out test rows.
    secret : bytes
        The draw secret whose keccak is ``spec.seed_commitment``.
    ledger : PoolLedger
        Where the task is recorded.
    store : ContentStore
        Where models and updates are stored.
    device : torch.device or None
        Where participants train.
    """

    spec: PoolSpec
    parties: Sequence[PoolParty]
    validation: LocalDataset
    test: LocalDataset
    secret: bytes
    ledger: PoolLedger
    store: ContentStore
    device: torch.device | None = None
    lanes: list[Lane] = field(default_factory=list)
    _sightings: list[Sighting] = field(default_factory=list)
    _opening: dict[str, Any] | None = None
    _next: tuple[bytes, PoolDraw, str] = (b"", PoolDraw(0, (), ()), "")

    def __post_init__(self) -> None:
        self.lanes = [Lane.start(i, m) for i, m in enumerate(self.spec.base_models)]
        addresses = tuple(p.address for p in self.parties)
        if addresses != tuple(self.ledger.participants):
            raise_order(addresses, tuple(self.ledger.participants))

    # ---- manifests -----------------------------------------------------------------------------
    def _models(self, round_: int) -> tuple[list[dict[str, Any]], dict[int, bytes]]:
        """Store every lane's current model; its manifest entries and hashes."""
        entries, hashes = [], {}
        for lane in self.lanes:
            blob = lane.blob(self.ledger.task_id, round_)
            cid, digest = self.store.put(blob), bytes(content_hash(blob))
            hashes[lane.index] = digest
            entries.append({"model": lane.index, "cid": str(cid), "hash": _hex(digest)})
        return entries, hashes

    def _pending(self) -> list[int]:
        errors = [lane.errors for lane in self.lanes]
        return list(drawable(errors, self.spec.convergence, self.spec.draw.min_models))

    def _draw(self, round_: int) -> tuple[bytes, PoolDraw]:
        seed = round_seed(self.secret, self.ledger.task_id, round_)
        rule = self.spec.draw
        result = draw(
            seed,
            round_,
            len(self.lanes),
            [p.address for p in self.parties],
            min_models=rule.min_models,
            max_models=rule.max_models,
            min_per_model=rule.min_per_model,
            pending=self._pending(),
        )
        return seed, result

    # ---- one round -----------------------------------------------------------------------------
    def _train(self, round_: int, drawn: PoolDraw, hashes: dict[int, bytes]) -> list[LaneUpdate]:
        """Every participant trains its base model and commits; updates in join order."""
        updates = []
        for index, party in enumerate(self.parties):
            lane = self.lanes[drawn.model_of(party.address)]
            meta = UpdateMeta(
                task_id=self.ledger.task_id,
                round=round_,
                participant=party.address,
                base_model_hash=_hex(hashes[lane.index]),
                samples=party.data.rows,
                train_loss=0.0,
                strategy="fedavg",
            )
            update = train_on_lane(lane, party.data, self.spec.train, meta, device=self.device)
            cid = str(self.store.put(update.blob))
            self.ledger.commit(index, round_, update.hash, update.update.samples, cid)
            self._sightings.append(
                Sighting(party.address, round_, lane.index, (update.seconds, len(update.blob)))
            )
            updates.append(update)
        return updates

    def _screen(
        self, round_: int, drawn: PoolDraw, updates: list[LaneUpdate], hashes: dict[int, bytes]
    ) -> dict[str, str]:
        """Each participant's verdict: ``accepted`` or why its committed bytes were refused."""
        verdicts = {}
        for u in updates:
            model = drawn.model_of(u.participant)
            _, verdicts[u.participant] = screen_update(
                u.blob,
                task_id=self.ledger.task_id,
                round_=round_,
                participant=u.participant,
                base_hash=hashes[model],
                shapes=shapes_of(self.lanes[model].model),
            )
            if verdicts[u.participant] != "accepted":
                log.warning(
                    "round %d: %s refused: %s", round_, u.participant, verdicts[u.participant]
                )
        return verdicts

    def _aggregate(
        self, round_: int, drawn: PoolDraw, updates: list[LaneUpdate], hashes: dict[int, bytes]
    ) -> list[LaneRound]:
        out = []
        for model in drawn.drawn:
            mine = [u for u in updates if u.lane == model]
            if not mine:  # every update dealt to it was refused: it keeps its model
                continue
            out.append(
                aggregate_lane(
                    self.lanes[model],
                    mine,
                    round_=round_,
                    model_hash=hashes[model],
                    estimator=self.spec.contribution,
                    validation=self.validation,
                    test=self.test,
                )
            )
        return out

    def _commitment(self, round_: int) -> tuple[bytes, PoolDraw, str]:
        """Round ``round_``'s seed and draw, and the hiding commitment the manifest carries."""
        seed, drawn = self._draw(round_)
        hidden = canonical_json({"seed": _hex(seed), "assignment": drawn.assignment})
        return seed, drawn, _hex(bytes(content_hash(hidden)))

    def all_converged(self) -> bool:
        """Every base model's global model has converged (the pool stops training)."""
        return all(converged(lane.errors, self.spec.convergence) for lane in self.lanes)

    def close_round(self, round_: int) -> PoolRound:
        """A round after the pool converged: opened and finalised on the bundle, no update.

        FedTask fixes a task's rounds at creation; a pool that converged earlier closes the
        rest with nothing committed and nothing paid, so the task ends and the bundle can be
        listed.
        """
        started = time.monotonic()
        assert self._opening is not None
        self.ledger.open_round(round_, self._opening)
        zeros = [0.0] * len(self.parties)
        evidence = {
            "kind": CLOSED_KIND,
            "task_id": self.ledger.task_id,
            "round": round_,
            "converged": True,
        }
        nobody = [False] * len(self.parties)
        payout = self.ledger.finalize(round_, self._opening, evidence, zeros, 0.0, nobody)
        log.info("round %d: the pool has converged; closed with no update", round_)
        return PoolRound(
            round=round_,
            draw=PoolDraw(round_, (), ()),
            lanes=(),
            contributions=tuple(zeros),
            amounts=payout.amounts,
            update_hashes=(),
            evidence_cid=payout.evidence_cid,
            manifest_cid=payout.manifest_cid,
            seconds=time.monotonic() - started,
        )

    def _manifest(self, round_: int, next_commitment: str | None) -> dict[str, Any]:
        """Every lane's model after ``round_``, and the next round's assignment commitment.

        The manifest a round is finalised with is the one the next round opens with (FedTask
        checks the hash), so it commits to the next round's draw before anyone trains for it.
        """
        entries, _ = self._models(round_)
        manifest: dict[str, Any] = {
            "kind": "fedmarket/pool-models",
            "round": round_,
            "models": entries,
        }
        if next_commitment is not None:
            manifest["next_assignment_commitment"] = next_commitment
        return manifest

    def run_round(self, round_: int) -> PoolRound:
        """Open, train, commit, aggregate, evaluate and finalise ``round_``."""
        started = time.monotonic()
        if self._opening is None:
            self._next = self._commitment(round_)
            self._opening = self._manifest(round_ - 1, self._next[2])
        seed, drawn, _ = self._next
        hashes = {e["model"]: bytes.fromhex(e["hash"][2:]) for e in self._opening["models"]}
        self.ledger.open_round(round_, self._opening)
        updates = self._train(round_, drawn, hashes)
        self.ledger.seal(round_)
        verdicts = self._screen(round_, drawn, updates, hashes)
        kept = [u for u in updates if verdicts[u.participant] == "accepted"]
        lanes = self._aggregate(round_, drawn, kept, hashes)
        addresses = [p.address for p in self.parties]
        contributions = summed_contributions([r.contributions for r in lanes], addresses)
        if round_ == self.spec.rounds or self.all_converged():
            manifest = self._bundle(round_)
        else:
            self._next = self._commitment(round_ + 1)
            manifest = self._manifest(round_, self._next[2])
        evidence = self._evidence(round_, seed, drawn, updates, lanes, verdicts)
        improvement = pool_improvement([r.improvement for r in lanes])
        accepted = [verdicts[p.address] == "accepted" for p in self.parties]
        payout = self.ledger.finalize(
            round_, manifest, evidence, contributions, improvement, accepted
        )
        self._opening = manifest
        log.info(
            "round %d: models %s, test errors %s",
            round_,
            list(drawn.drawn),
            [round(r.test_error, 4) for r in lanes],
        )
        return PoolRound(
            round=round_,
            draw=drawn,
            lanes=tuple(lanes),
            contributions=tuple(contributions),
            amounts=payout.amounts,
            update_hashes=tuple(_hex(u.hash) for u in updates),
            evidence_cid=payout.evidence_cid,
            manifest_cid=payout.manifest_cid,
            seconds=time.monotonic() - started,
        )

    def _evidence(
        self,
        round_: int,
        seed: bytes,
        drawn: PoolDraw,
        updates: list[LaneUpdate],
        lanes: list[LaneRound],
        verdicts: dict[str, str],
    ) -> dict[str, Any]:
        return {
            "kind": "fedmarket/pool-round",
            "task_id": self.ledger.task_id,
            "round": round_,
            "seed": _hex(seed),
            "drawn": list(drawn.drawn),
            "assignment": [[p, m] for p, m in drawn.assignment],
            "updates": [
                {
                    "participant": u.participant,
                    "model": u.lane,
                    "hash": _hex(u.hash),
                    "cid": str(compute_cid(u.blob)),
                    "verdict": verdicts[u.participant],
                }
                for u in updates
            ],
            "models": [
                {
                    "model": r.lane,
                    "members": list(r.members),
                    "contributions": r.contributions,
                    "utilities": r.utilities,
                    "improvement": r.improvement,
                    "test_error": r.test_error,
                    "seed": r.seed,
                }
                for r in lanes
            ],
        }

    # ---- the end -------------------------------------------------------------------------------
    def decisions(self) -> tuple[PoolDecision, ...]:
        """Every base model's acceptance decision (the pool's rule, on the final models)."""
        candidates = [
            Candidate(
                model=lane.index,
                name=base_model_name(lane.index, self.spec),
                errors=tuple(lane.errors),
                error=lane.errors[-1] if lane.errors else 1.0,
                n_test=self.test.rows,
                predictions=predictions(lane.model, self.test),
            )
            for lane in self.lanes
        ]
        return accept(candidates, self.spec.acceptance, self.spec.convergence)

    def _bundle(self, round_: int) -> dict[str, Any]:
        """The shared pool: the accepted models, every decision, the revealed draw secret."""
        entries = self._manifest(round_, None)["models"]
        decisions = self.decisions()
        accepted = {d.model for d in decisions if d.accepted}
        return {
            "kind": BUNDLE_KIND,
            "round": round_,
            "models": entries,
            "accepted": [e for e in entries if e["model"] in accepted],
            "decisions": [
                {
                    "model": d.model,
                    "name": d.name,
                    "accepted": d.accepted,
                    "reason": d.reason,
                    "interval": list(d.interval) if d.interval else None,
                    "duplicate_of": d.duplicate_of,
                }
                for d in decisions
            ],
            "secret": _hex(self.secret),
        }

    def run(self, on_round: Callable[[PoolRound], None] | None = None) -> PoolResult:
        """Every round, the acceptance, then the claims."""
        rounds: list[PoolRound] = []
        for round_ in range(1, self.spec.rounds + 1):
            finished = self._opening is not None and self._opening["kind"] == BUNDLE_KIND
            rounds.append(self.close_round(round_) if finished else self.run_round(round_))
            if on_round is not None:
                on_round(rounds[-1])
        received = self.ledger.settle()
        return PoolResult(
            rounds=tuple(rounds),
            errors=tuple(tuple(lane.errors) for lane in self.lanes),
            converged_at=tuple(
                rounds_to_converge(lane.errors, self.spec.convergence) for lane in self.lanes
            ),
            decisions=self.decisions(),
            bundle_cid=rounds[-1].manifest_cid if rounds else "",
            sightings=tuple(self._sightings),
            received=received,
        )


def base_model_name(index: int, spec: PoolSpec) -> str:
    """A readable name of base model ``index``: family, widths and initial seed."""
    m = spec.base_models[index]
    widths = "x".join(str(h) for h in m.hidden) if m.kind != "linear" else ""
    return f"{index}:{m.kind}{widths}-seed{m.seed}"


def raise_order(given: tuple[str, ...], joined: tuple[str, ...]) -> None:
    """Refuse parties that are not the ledger's participants in join order."""
    from fl_node.pool.errors import PoolInputError

    raise PoolInputError(f"PoolRunner: parties {given} are not the participants {joined}")


__all__ = ["PoolParty", "PoolResult", "PoolRound", "PoolRunner", "base_model_name"]
