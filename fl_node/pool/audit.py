"""Re-check a pool task from the chain and the store alone.

:func:`audit_pool` trusts nothing the coordinator says that it can recompute. From FedTask it
reads the spec hash, every round's opening and finalised manifest hashes, the evidence CIDs and
each participant's commitment; from the store the bytes those hashes name. It then checks:

- ``secret``: the bundle's revealed draw secret hashes to the spec's ``seed_commitment``;
- ``draw``: each round's seed is ``round_seed(secret, task, round)``, its draw (re-run with the
  pending base models re-derived from the earlier rounds' recorded test errors) is the recorded
  one, and the round's opening manifest committed to it before anyone trained;
- ``updates``: every participant's on-chain commitment is the keccak of the update bytes the
  evidence names, and those bytes say they start from the model of the base model it was dealt;
- ``aggregation``: each drawn base model's new global model is FedAvg of exactly its updates;
- ``contributions``: the rewards' scores are the per-base-model contributions summed per
  participant.

Re-measuring the contributions themselves needs the coordinator's validation rows, which the
audit committee holds in a single-model task; the pool audit does not re-run them (stated in
docs/pool.md).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from chain.commitments import recover_commitment_signer
from chain.fed_task import FedTaskClient
from fl_node.commitments import commitments_of_round
from fl_node.coordinator import coalition_utility
from fl_node.data import LocalDataset
from fl_node.evidence import CommitmentRecord
from fl_node.models import trainable_state
from fl_node.payout import contribution_seed
from fl_node.pool.assignment import draw, round_seed, seed_commitment
from fl_node.pool.convergence import drawable
from fl_node.pool.lanes import screen_update
from fl_node.pool.scoring import summed_contributions
from fl_node.pool.spec import BUNDLE_KIND, CLOSED_KIND, PoolSpec
from fl_node.serialization import decode_model
from fl_node.strategies import ClientUpdate, FedAvg
from incentives import scores_to_fixed
from incentives.contribution import make_estimator
from kernel.types import Address
from storage import ContentStore, canonical_json, content_hash

log = logging.getLogger(__name__)

TOLERANCE = 1e-5
"""Largest absolute difference between a recorded and a recomputed aggregate parameter."""
MEASURE_TOLERANCE = 1e-6
"""Largest absolute difference between a recorded and a re-measured contribution."""


@dataclass(frozen=True)
class PoolAudit:
    """The audit's findings: one line per problem, by check."""

    task_id: int
    rounds: int
    problems: tuple[tuple[str, str], ...]

    @property
    def ok(self) -> bool:
        """No problem found."""
        return not self.problems


@dataclass(frozen=True)
class _Round:
    number: int
    opening: dict[str, Any]
    closing: dict[str, Any]
    evidence: dict[str, Any]


def _json(store: ContentStore, cid: str, digest: bytes) -> dict[str, Any] | None:
    """The JSON object under ``cid`` if its bytes hash to ``digest``, else ``None``."""
    raw = store.get(cid)
    if bytes(content_hash(raw)) != bytes(digest):
        return None
    obj: dict[str, Any] = store.get_json(cid)
    return obj


def _rounds(fed_task: FedTaskClient, store: ContentStore, task_id: int) -> list[_Round]:
    opened = {int(e.round): e for e in fed_task.rounds_opened(task_id)}
    out = []
    for final in fed_task.rounds_finalized(task_id):
        number = int(final.round)
        opening = _json(store, opened[number].model_cid, opened[number].model_hash)
        closing = _json(store, final.model_cid, final.model_hash)
        evidence: dict[str, Any] = store.get_json(final.evidence_cid)
        out.append(_Round(number, opening or {}, closing or {}, evidence))
    return out


def _hex(raw: bytes) -> str:
    return "0x" + raw.hex()


def _check_draw(
    spec: PoolSpec,
    task_id: int,
    secret: bytes,
    rnd: _Round,
    participants: Sequence[str],
    errors: Mapping[int, list[float]],
) -> list[str]:
    seed = round_seed(secret, task_id, rnd.number)
    found = []
    if rnd.evidence.get("seed") != _hex(seed):
        found.append(f"round {rnd.number}: the seed is not round_seed(secret)")
    history = [errors[m] for m in range(len(spec.base_models))]
    pending = drawable(history, spec.convergence, spec.draw.min_models)
    rule = spec.draw
    expected = draw(
        seed,
        rnd.number,
        len(spec.base_models),
        participants,
        min_models=rule.min_models,
        max_models=rule.max_models,
        min_per_model=rule.min_per_model,
        pending=pending,
    )
    recorded = tuple((str(p), int(m)) for p, m in rnd.evidence.get("assignment", []))
    if recorded != expected.assignment:
        found.append(f"round {rnd.number}: the assignment is not the secret's draw")
    hidden = canonical_json({"seed": _hex(seed), "assignment": expected.assignment})
    if rnd.opening.get("next_assignment_commitment") != _hex(bytes(content_hash(hidden))):
        found.append(f"round {rnd.number}: the opening manifest did not commit to the draw")
    return found


def _committed(
    fed_task: FedTaskClient, store: ContentStore, task_id: int, rnd: _Round
) -> tuple[list[str], dict[str, CommitmentRecord]]:
    """The round's commitments by participant (batch leaves with a valid signature, direct)."""
    participants = [Address(a) for a in fed_task.participants(task_id)]
    posted, records = commitments_of_round(fed_task, store, task_id, rnd.number, participants)
    found = []
    domain = fed_task.domain()
    for signed in posted.document.batch.commitments if posted else ():
        if recover_commitment_signer(domain, signed).lower() != signed.participant.lower():
            found.append(f"round {rnd.number}: {signed.participant}'s batch leaf is not signed")
    return found, {r.participant.lower(): r for r in records}


def _updates(
    fed_task: FedTaskClient, store: ContentStore, task_id: int, rnd: _Round
) -> tuple[list[str], dict[int, list[tuple[str, ClientUpdate]]]]:
    """Check each update against its commitment, its base model and its verdict; group them."""
    hashes = {int(e["model"]): str(e["hash"]) for e in rnd.opening.get("models", [])}
    found, committed = _committed(fed_task, store, task_id, rnd)
    entries = rnd.evidence.get("updates", [])
    if {str(e["participant"]).lower() for e in entries} != set(committed):
        found.append(f"round {rnd.number}: the evidence does not list every commitment once")
    by_model: dict[int, list[tuple[str, ClientUpdate]]] = {}
    for entry in entries:
        who, model = str(entry["participant"]), int(entry["model"])
        blob = store.get(str(entry["cid"]))
        on_chain = committed.get(who.lower())
        opening = _model(store, rnd.opening, model)
        if on_chain is None or on_chain.update_hash != _hex(bytes(content_hash(blob))):
            found.append(f"round {rnd.number}: {who}'s update is not what it committed")
            continue
        if opening is None or model not in hashes:
            found.append(f"round {rnd.number}: base model {model} is not in the opening manifest")
            continue
        update, verdict = screen_update(
            blob,
            task_id=task_id,
            round_=rnd.number,
            participant=who,
            base_hash=bytes.fromhex(hashes[model][2:]),
            shapes={k: tuple(v.shape) for k, v in trainable_state(opening).items()},
        )
        if verdict != entry.get("verdict"):
            judged = entry.get("verdict")
            found.append(f"round {rnd.number}: {who}'s update was judged {judged}, not {verdict}")
        elif update is not None:
            client = ClientUpdate(update.delta, int(on_chain.samples))
            by_model.setdefault(model, []).append((who, client))
    return found, by_model


def _model(store: ContentStore, manifest: Mapping[str, Any], model: int) -> torch.nn.Module | None:
    for entry in manifest.get("models", []):
        if int(entry["model"]) == model:
            blob = store.get(str(entry["cid"]))
            if _hex(bytes(content_hash(blob))) != entry["hash"]:
                return None
            return decode_model(blob).module
    return None


def _check_aggregation(
    store: ContentStore, rnd: _Round, by_model: Mapping[int, list[tuple[str, ClientUpdate]]]
) -> list[str]:
    found = []
    for model in rnd.evidence.get("drawn", []):
        before, after = _model(store, rnd.opening, model), _model(store, rnd.closing, model)
        if before is None or after is None:
            found.append(f"round {rnd.number}: base model {model}'s manifests do not verify")
            continue
        updates = [u for _, u in by_model.get(model, [])]
        expected = FedAvg().aggregate(trainable_state(before), updates)
        got = trainable_state(after)
        if any(float((expected[k] - got[k]).abs().max()) > TOLERANCE for k in expected):
            found.append(f"round {rnd.number}: base model {model} is not FedAvg of its updates")
    return found


def _check_measured(
    spec: PoolSpec,
    store: ContentStore,
    rnd: _Round,
    by_model: Mapping[int, list[tuple[str, ClientUpdate]]],
    validation: LocalDataset,
) -> list[str]:
    """Re-measure each base model's contributions on the validation rows the audit holds."""
    found = []
    hashes = {int(e["model"]): str(e["hash"]) for e in rnd.opening.get("models", [])}
    for recorded in rnd.evidence.get("models", []):
        model = int(recorded["model"])
        members = by_model.get(model, [])
        opening = _model(store, rnd.opening, model)
        if opening is None or [p for p, _ in members] != list(recorded["members"]):
            found.append(f"round {rnd.number}: base model {model}'s members cannot be re-measured")
            continue
        params = trainable_state(opening)
        updates = [u for _, u in members]
        strategy = FedAvg()
        utility = coalition_utility(
            spec.base_models[model],
            strategy,
            params,
            updates,
            strategy.initial_state(params),
            validation,
        )
        seed = contribution_seed(hashes[model], rnd.number)
        result = make_estimator(spec.contribution).estimate(len(updates), utility, seed=seed)
        claimed = [float(recorded["contributions"][p]) for p, _ in members]
        if any(abs(a - b) > MEASURE_TOLERANCE for a, b in zip(claimed, result.scores, strict=True)):
            found.append(f"round {rnd.number}: base model {model}'s contributions are not measured")
    return found


def _check_scores(rnd: _Round, participants: Sequence[str]) -> list[str]:
    per_model = [m["contributions"] for m in rnd.evidence.get("models", [])]
    summed = summed_contributions(per_model, participants)
    recorded = list(rnd.evidence.get("rewards", {}).get("scores", []))
    if recorded != list(scores_to_fixed(summed)):
        return [f"round {rnd.number}: the rewards' scores are not the summed contributions"]
    return []


def _check_closed(
    fed_task: FedTaskClient,
    store: ContentStore,
    task_id: int,
    rnd: _Round,
    participants: Sequence[str],
) -> list[str]:
    """A round closed after convergence: the bundle kept, nothing committed, nothing paid."""
    found = []
    if rnd.opening.get("kind") != BUNDLE_KIND or rnd.closing != rnd.opening:
        found.append(f"round {rnd.number}: a closed round changed the bundle")
    if commitments_of_round(
        fed_task, store, task_id, rnd.number, [Address(p) for p in participants]
    )[1]:
        found.append(f"round {rnd.number}: a closed round took a commitment")
    if int(fed_task.round(task_id, rnd.number).budget) != 0:
        found.append(f"round {rnd.number}: a closed round pays")
    return found


def _audit_round(
    fed_task: FedTaskClient,
    store: ContentStore,
    spec: PoolSpec,
    rnd: _Round,
    context: tuple[int, bytes, list[str], dict[int, list[float]]],
    validation: LocalDataset | None,
) -> list[tuple[str, str]]:
    """One round's findings (``context``: task, secret, participants, the errors so far)."""
    task_id, secret, participants, errors = context
    if rnd.evidence.get("kind") == CLOSED_KIND:
        return [("closed", p) for p in _check_closed(fed_task, store, task_id, rnd, participants)]
    problems = [("draw", p) for p in _check_draw(spec, task_id, secret, rnd, participants, errors)]
    found, by_model = _updates(fed_task, store, task_id, rnd)
    problems += [("updates", p) for p in found]
    problems += [("aggregation", p) for p in _check_aggregation(store, rnd, by_model)]
    problems += [("contributions", p) for p in _check_scores(rnd, participants)]
    if validation is not None:
        measured = _check_measured(spec, store, rnd, by_model, validation)
        problems += [("measured", p) for p in measured]
    for m in rnd.evidence.get("models", []):
        errors[int(m["model"])].append(float(m["test_error"]))
    return problems


def audit_pool(
    fed_task: FedTaskClient,
    store: ContentStore,
    task_id: int,
    *,
    validation: LocalDataset | None = None,
) -> PoolAudit:
    """Re-check pool task ``task_id`` (see the module docstring); never raises on a finding.

    Parameters
    ----------
    fed_task : FedTaskClient
        FedTask (read-only).
    store : ContentStore
        The content store the task's CIDs name.
    task_id : int
        The task.
    validation : LocalDataset or None, default None
        The coordinator's validation rows, where the audit committee holds them: each base
        model's contributions are then re-measured (check ``measured``).
    """
    info = fed_task.task(task_id)
    spec_bytes = store.get(info.spec_cid)
    if bytes(content_hash(spec_bytes)) != bytes(info.spec_hash):
        return PoolAudit(task_id, 0, (("spec", "the spec is not what the chain hashed"),))
    spec = PoolSpec.from_bytes(spec_bytes)
    rounds = _rounds(fed_task, store, task_id)
    participants = [str(a) for a in fed_task.participants(task_id)]
    secret = bytes.fromhex(str(rounds[-1].closing.get("secret", "0x"))[2:]) if rounds else b""
    if not rounds or _hex(seed_commitment(secret)) != spec.seed_commitment:
        return PoolAudit(
            task_id, len(rounds), (("secret", "the revealed secret is not committed"),)
        )
    errors: dict[int, list[float]] = {m: [] for m in range(len(spec.base_models))}
    problems: list[tuple[str, str]] = []
    for rnd in rounds:
        context = (task_id, secret, participants, errors)
        problems += _audit_round(fed_task, store, spec, rnd, context, validation)
    for check, problem in problems:
        log.warning("audit_pool: task %d: %s: %s", task_id, check, problem)
    return PoolAudit(task_id, len(rounds), tuple(problems))


__all__ = ["MEASURE_TOLERANCE", "TOLERANCE", "PoolAudit", "audit_pool"]
