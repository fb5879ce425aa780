"""A malicious coordinator is caught by the audit every time, and ``fedmarket audit`` exits 1.

Each attack is a :class:`~fl_node.coordinator.Coordinator` subclass overriding the one step it
cheats in, run end to end on the in-process chain with the four demo hospitals (one round): it
rejects a valid update under every reason a verdict may give, pays against its own evidence,
skews a score, scores with another estimator than the spec names, publishes utilities its
coalitions do not measure, or aggregates wrongly. The audit names the failed check, and the
command line (in this process, over the same chain) exits with the verdict code.
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from typer.testing import CliRunner

import fedmarket.cli.roles as roles_module
import fl_node.coordinator as coordinator_module
from fedmarket.cli.app import app
from fedmarket.cli.errors import EXIT_VERDICT
from fl_node.audit import audit_task
from fl_node.coordinator import Coordinator, Phase
from fl_node.data import save_csv
from fl_node.evidence import NOT_SUBMITTED, REJECTION_REASONS, UpdateVerdict
from fl_node.models import build_model, trainable_state
from fl_node.participant import ParticipantNode, PendingUpdate
from fl_node.payout import RoundTerms, reward_split
from fl_node.serialization import decode_update, encode_update
from fl_node.validation import shapes_of
from incentives import ExactShapley, RoundRewards
from incentives.contribution import coalition_key
from incentives.rewards import RewardPolicy
from storage import compute_cid, content_hash
from tests.integration.fl_node.flow import POOL, Flow, start, swap

pytestmark = pytest.mark.slow

VICTIM = 1
"""The hospital whose valid update the coordinator cheats (join order)."""


def run(
    tmp_path, coordinator: type[Coordinator], nodes=None, spec_changes=None, **attrs: object
) -> Flow:
    """One round of the four hospitals under ``coordinator`` (its attributes set first)."""
    flow = start(
        tmp_path, rounds=1, coordinator=coordinator, nodes=nodes, spec_changes=spec_changes
    )
    for name, value in attrs.items():
        setattr(flow.coordinator, name, value)
    flow.run(settle=False)
    return flow


def audit(flow: Flow, *, validation: bool = True):
    """The audit from the chain, the store, the mailbox (and the validation set)."""
    return audit_task(
        flow.ft,
        flow.world.store,
        flow.task_id,
        mailbox=flow.world.mailbox,
        validation=flow.world.split.validation if validation else None,
    )


def failed(report) -> dict[str, str]:
    return {c.name: c.detail for _, c in report.failures}


def cli_audit(flow: Flow, tmp_path, monkeypatch, *, validation: bool = True):
    """``fedmarket audit --json`` over the flow's chain (connected in this process)."""
    monkeypatch.setattr(
        roles_module,
        "connect_deployment",
        lambda rpc, dep: (flow.world.backend, flow.world.deployment),
    )
    args = ["audit", "--rpc", "http://in-process", "--deployment", str(tmp_path / "dep.json")]
    args += ["--store", str(tmp_path / "store"), "--task", str(flow.task_id), "--json"]
    if validation:
        path = save_csv(
            flow.world.split.validation, flow.spec.feature_names, tmp_path / "validation.csv"
        )
        args += ["--validation", str(path)]
    done = CliRunner().invoke(app, args)
    monkeypatch.undo()
    return done.exit_code, json.loads(done.stdout) if done.stdout.strip() else None


def assert_caught(flow: Flow, tmp_path, monkeypatch, check: str, words: str) -> dict[str, str]:
    """The audit fails ``check`` (and only it) saying ``words``; the CLI exits 1 saying the same."""
    report = audit(flow)
    assert not report.ok
    found = failed(report)
    assert set(found) == {check}, found
    assert words in found[check]
    assert report.round(1).challenge is not None  # a challenge is ready for the court
    code, printed = cli_audit(flow, tmp_path, monkeypatch)
    assert code == EXIT_VERDICT == 1
    assert printed is not None and printed["ok"] is False
    checks = [c for r in printed["rounds"] for c in r["checks"] if not c["ok"]]
    assert [c["name"] for c in checks] == [check]
    return found


# ---- an honest coordinator passes, through the same helpers ------------------------------------


def test_an_honest_coordinator_passes_every_check_with_its_utilities_re_measured(
    tmp_path, monkeypatch
):
    flow = run(tmp_path, Coordinator)
    report = audit(flow)
    assert report.ok, report.failures
    checks = {c.name: c.detail for c in report.rounds[0].checks}
    published = flow.coordinator.reports[0].utilities
    assert published and checks["utilities"] == f"{len(published)} coalition utilities re-measured"
    code, printed = cli_audit(flow, tmp_path, monkeypatch)
    assert code == 0 and printed is not None and printed["ok"] is True
    assert "utilities" in [c["name"] for c in printed["rounds"][0]["checks"]]


# ---- (a) a valid update rejected, under every reason a verdict may give -------------------------


class RejectsValid(Coordinator):
    """Rejects the victim's valid update with ``reason`` and leaves it out of everything after."""

    reason: str = "malformed"

    def _collect_updates(self, *args, **kwargs):
        verdicts, accepted = super()._collect_updates(*args, **kwargs)
        valid = verdicts[VICTIM]
        assert valid.accepted, "the victim's update must be valid for the attack to mean much"
        if self.reason == NOT_SUBMITTED:
            verdicts[VICTIM] = UpdateVerdict(
                valid.participant, accepted=False, reason=NOT_SUBMITTED
            )
        else:
            verdicts[VICTIM] = replace(
                valid, accepted=False, reason=self.reason, detail="trust me", train_loss=None
            )
        return verdicts, [(i, u) for i, u in accepted if i != VICTIM]


@pytest.mark.parametrize("reason", REJECTION_REASONS)
def test_a_valid_update_rejected_for_any_reason_is_caught(tmp_path, monkeypatch, reason):
    flow = run(tmp_path, RejectsValid, reason=reason)
    [round_report] = flow.coordinator.reports
    assert round_report.verdicts[VICTIM].reason == reason
    assert round_report.rewards.amounts[VICTIM] == 0  # the cheat: the victim is paid nothing
    found = assert_caught(flow, tmp_path, monkeypatch, "updates", "recomputed accepted")
    assert f"published {reason}, recomputed accepted" in found["updates"]
    challenge = audit(flow).round(1).challenge
    corrected = {leaf.account: leaf.amount for leaf in challenge.corrected_leaves}
    assert corrected[flow.nodes[VICTIM].address] > 0  # the court would pay the victim
    assert sum(corrected.values()) == round_report.budget


# ---- (b) payouts against the coordinator's own evidence ------------------------------------------


def _to_first(amounts: tuple[int, ...]) -> list[int]:
    """Every wei to the first participant."""
    return [sum(amounts)] + [0] * (len(amounts) - 1)


class PaysAgainstEvidence(Coordinator):
    """Publishes honest scores but cheats in the rewards: ``amounts``, ``leaves`` or ``scores``."""

    cheat: str = "amounts"

    def _round_work(self, *args, **kwargs):
        work = super()._round_work(*args, **kwargs)
        honest, (task_id, spec) = work.rewards, self._require()[:2]
        terms = RoundTerms(spec.rewards, honest.cap, quorum=1, pool=0, rounds=1)
        gain = work.measured.improvement
        if self.cheat == "leaves":  # the evidence's amounts are right, its tree pays another way
            wrong = reward_split(
                task_id, work.round, work.participants, terms,
                RoundRewards(honest.budget, list(honest.scores), _to_first(honest.amounts)), gain,
            )  # fmt: skip
            rewards = replace(honest, root=wrong.root, leaves=wrong.leaves)
        else:
            scores = list(honest.scores)
            amounts = list(honest.amounts)
            if self.cheat == "amounts":  # amounts (and their tree) that ignore the scores
                amounts = _to_first(honest.amounts)
            else:  # fixed-point scores that are not the contributions, amounts following them
                scores = [sum(scores)] + [0] * (len(scores) - 1)
                amounts = _to_first(honest.amounts)
            rewards = reward_split(
                task_id, work.round, work.participants, terms,
                RoundRewards(honest.budget, scores, amounts), gain,
            )  # fmt: skip
        return replace(work, rewards=rewards)


@pytest.mark.parametrize("cheat", ["amounts", "leaves", "scores"])
def test_rewards_that_do_not_follow_the_published_scores_are_caught(tmp_path, monkeypatch, cheat):
    flow = run(tmp_path, PaysAgainstEvidence, cheat=cheat)
    assert_caught(flow, tmp_path, monkeypatch, "rewards", cheat)


# ---- (c) a skewed score, another estimator ------------------------------------------------------


class SkewsAScore(Coordinator):
    """Adds to one accepted participant's score; rewards and shares follow the skewed score."""

    def _measure_contributions(self, *args, **kwargs):
        measured = super()._measure_contributions(*args, **kwargs)
        contributions = measured.contributions
        contributions[0] += max(abs(c) for c in contributions) + 0.01
        return measured


def test_a_skewed_score_is_caught(tmp_path, monkeypatch):
    flow = run(tmp_path, SkewsAScore)
    assert_caught(flow, tmp_path, monkeypatch, "contribution", "do not follow")


class OtherEstimator(Coordinator):
    """Scores with exact Shapley whatever the spec says (leave-one-out in the demo's spec)."""

    def attach(self, task_id):
        spec = super().attach(task_id)
        self.estimator = ExactShapley()
        return spec


def test_an_estimator_other_than_the_specs_is_caught(tmp_path, monkeypatch):
    flow = run(tmp_path, OtherEstimator)
    assert flow.spec.contribution != ExactShapley.name
    assert_caught(flow, tmp_path, monkeypatch, "contribution", "the spec names")


# ---- (d) utilities that are not what the coalitions' aggregates measure -------------------------


class InventsUtilities(Coordinator):
    """Lowers the utility of the coalition without participant 0 and raises its score to match.

    Scores follow the published utilities exactly, so only re-measuring the utilities on the
    validation set shows that the coalition's aggregate measures something else.
    """

    def _measure_contributions(self, *args, **kwargs):
        measured = super()._measure_contributions(*args, **kwargs)
        utilities, contributions = measured.utilities, measured.contributions
        n = max(len(key.split(",")) for key in utilities if key)  # the accepted updates
        without_first = coalition_key(frozenset(range(1, n)))
        utilities[without_first] -= 0.05
        contributions[0] += 0.05
        return measured


def test_utilities_the_aggregates_do_not_measure_are_caught_by_an_auditor_holding_the_data(
    tmp_path, monkeypatch
):
    # leave-one-out: its score moves by exactly what the invented utility moves
    flow = run(tmp_path, InventsUtilities, spec_changes={"contribution": "leave-one-out"})
    # without the coordinator's private validation set the published record is consistent...
    assert audit(flow, validation=False).ok
    code, _ = cli_audit(flow, tmp_path, monkeypatch, validation=False)
    assert code == 0
    # ...with it, the invented utility is re-measured and differs
    found = assert_caught(flow, tmp_path, monkeypatch, "utilities", "published")
    assert found["utilities"].startswith("{1,2,3} published")
    # the challenge pays by the re-measured utilities: the favoured hospital gets less
    [posted] = flow.coordinator.reports
    challenge = audit(flow).round(1).challenge
    corrected = {leaf.account: leaf.amount for leaf in challenge.corrected_leaves}
    assert corrected.get(flow.nodes[0].address, 0) < posted.rewards.amounts[0]
    assert sum(corrected.values()) == posted.budget


class FlattersItsModel(Coordinator):
    """Publishes a validation log loss half of what its new model measures."""

    def _evaluate(self, model):
        metrics = super()._evaluate(model)
        better = replace(metrics.validation, log_loss=metrics.validation.log_loss / 2)
        return replace(metrics, validation=better)


def test_validation_metrics_the_published_model_does_not_measure_are_caught(tmp_path, monkeypatch):
    flow = run(tmp_path, FlattersItsModel)
    found = assert_caught(flow, tmp_path, monkeypatch, "utilities", "published validation")
    assert found["utilities"] == "published validation log_loss differ from the model's"


# ---- (e) a model that is not the aggregate of the accepted updates -------------------------------


class AggregatesWrongly(Coordinator):
    """Aggregates every accepted update but the last (which is still scored and paid)."""

    def _aggregate(self, params, accepted, defended):
        return super()._aggregate(params, accepted[:-1], defended)


def test_a_model_that_is_not_the_aggregate_is_caught(tmp_path, monkeypatch):
    flow = run(tmp_path, AggregatesWrongly)
    assert_caught(flow, tmp_path, monkeypatch, "aggregation", "max |recomputed - published|")


# ---- (f) the task's screening skipped: a free-rider's empty update accepted and paid -------------


def _with_step(
    node: ParticipantNode, info, pending: PendingUpdate, step=None
) -> tuple[PendingUpdate, dict]:
    """``pending`` re-encoded with ``step`` (its own step when ``None``), and its own step."""
    shapes = shapes_of(trainable_state(build_model(node.spec(int(info.task_id)).model)))
    delta, meta = decode_update(pending.blob, shapes)
    blob = encode_update(delta if step is None else step, meta)
    update = replace(pending.update, cid=compute_cid(blob), update_hash=content_hash(blob))
    return PendingUpdate(replace(update, bytes_up=len(blob)), blob), delta


class ZeroStep(ParticipantNode):
    """Trains nothing: reveals an all-zero step under its true sample count."""

    def _train(self, info):
        pending = super()._train(info)
        _, delta = _with_step(self, info, pending)
        return _with_step(self, info, pending, {k: v * 0 for k, v in delta.items()})[0]


class ReplaysItself(ParticipantNode):
    """Trains in round 1, then re-sends its round-1 step under each later round's metadata."""

    first: dict | None = None

    def _train(self, info):
        pending, delta = _with_step(self, info, super()._train(info), self.first)
        self.first = delta if self.first is None else self.first
        return pending


class SkipsScreening(Coordinator):
    """Accepts every update that passes its own checks: no screening against the task's past."""

    def _screen(self, round_, participants, verdicts, decoded):
        return verdicts, decoded


def test_the_screening_is_replayed_an_honest_coordinator_rejecting_a_free_rider_passes(tmp_path):
    flow = run(tmp_path, Coordinator, nodes=swap(3, ZeroStep))
    [round_report] = flow.coordinator.reports
    assert round_report.verdicts[3].reason == "empty_update"
    assert audit(flow).ok, audit(flow).failures


def test_a_coordinator_that_skips_the_screening_and_pays_a_free_rider_is_caught(
    tmp_path, monkeypatch
):
    flow = run(tmp_path, SkipsScreening, nodes=swap(3, ZeroStep))
    [round_report] = flow.coordinator.reports
    assert round_report.verdicts[3].accepted
    found = assert_caught(flow, tmp_path, monkeypatch, "updates", "recomputed empty_update")
    assert "published accepted, recomputed empty_update" in found["updates"]


def test_the_screening_history_is_replayed_across_rounds(tmp_path, monkeypatch):
    flow = start(tmp_path, rounds=2, nodes=swap(2, ReplaysItself))
    flow.run(settle=False)
    first, second = flow.coordinator.reports
    assert first.verdicts[2].accepted and second.verdicts[2].reason == "replayed_update"
    report = audit(flow)
    assert report.ok, report.failures  # the audit's own history rejects the replay too
    code, printed = cli_audit(flow, tmp_path, monkeypatch)
    assert code == 0 and printed is not None and printed["ok"] is True


def test_a_validation_set_changed_between_rounds_is_caught_even_without_the_data(tmp_path):
    flow = start(tmp_path, rounds=2)

    def swap_validation(round_: int, phase: Phase) -> None:
        if (round_, phase) == (1, Phase.FINALIZED):  # round 2 measures on other rows
            flow.coordinator.validation = flow.world.split.test

    flow.run(extra=swap_validation, settle=False)
    report = audit(flow, validation=False)
    assert [(r, c.name) for r, c in report.failures] == [(2, "validation_set")]
    assert "not the first round's set" in failed(report)["validation_set"]
    held = audit(flow)  # an auditor holding the first set also finds round 2's utilities wrong
    assert {(r, c.name) for r, c in held.failures} >= {(2, "validation_set"), (2, "utilities")}


# ---- (g) the budget, the policy and the estimator's seed are not the coordinator's to choose ----


def test_a_budget_the_improvement_did_not_earn_is_caught(tmp_path, monkeypatch):
    """Under a policy whose full budget needs a gain of 10 nats, the coordinator pays it all."""
    real = coordinator_module.round_rewards
    monkeypatch.setattr(
        coordinator_module, "round_rewards", lambda terms, c, a, gain: real(terms, c, a, 10.0)
    )
    flow = run(tmp_path, Coordinator, spec_changes={"rewards": RewardPolicy(full_at=10.0)})
    monkeypatch.undo()
    [posted] = flow.coordinator.reports
    assert posted.budget == POOL // flow.spec.rounds  # the whole limit...
    assert 0 < posted.rewards.improvement < 10.0  # ...for a gain that earns a fraction of it
    found = assert_caught(flow, tmp_path, monkeypatch, "rewards", "budget")
    wrong = found["rewards"].rsplit(": ", 1)[1]
    assert wrong == "budget, amounts, leaves, root do not follow"  # policy and gain are honest


class PaysByItsOwnPolicy(Coordinator):
    """Pays an even budget whatever the spec's policy, and says so in its evidence."""

    def attach(self, task_id):
        spec = super().attach(task_id)
        self.spec = replace(spec, rewards=RewardPolicy(budget="even", unspent="carry"))
        return spec


def test_a_policy_other_than_the_specs_is_caught(tmp_path, monkeypatch):
    flow = run(tmp_path, PaysByItsOwnPolicy)
    assert flow.spec.rewards.budget == "improvement"
    assert_caught(flow, tmp_path, monkeypatch, "rewards", "policy")


class InflatesItsGain(Coordinator):
    """Writes a larger improvement into its evidence than the published utilities give."""

    def _round_work(self, *args, **kwargs):
        work = super()._round_work(*args, **kwargs)
        gain = (work.rewards.improvement or 0.0) + 1.0
        return replace(work, rewards=replace(work.rewards, improvement=gain))


def test_an_improvement_the_utilities_do_not_give_is_caught(tmp_path, monkeypatch):
    flow = run(tmp_path, InflatesItsGain)
    assert_caught(flow, tmp_path, monkeypatch, "rewards", "improvement")


def test_a_seed_the_coordinator_picked_is_caught(tmp_path, monkeypatch):
    """GTG's permutations come from the seed: a coordinator grinding it could favour someone."""
    monkeypatch.setattr(coordinator_module, "contribution_seed", lambda model, round_: 12345)
    flow = run(tmp_path, Coordinator)
    monkeypatch.undo()
    assert flow.spec.contribution == "shapley-gtg"
    found = assert_caught(flow, tmp_path, monkeypatch, "contribution", "seed 12345")
    assert "keccak(base model, round)" in found["contribution"]
