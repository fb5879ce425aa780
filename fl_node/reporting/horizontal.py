"""Deliverables of a finished horizontal task: training log, loss curve, report, model card.

Built from the coordinator's round reports (which it derived from verified updates and its own
evaluation), so every figure here can be traced to a CID in the evidence files.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from fl_node.adversarial import AdversarialReport
from fl_node.coordinator import RoundReport
from fl_node.evaluation import LOWER_IS_BETTER, RegressionMetrics, headline, meets
from fl_node.reporting.common import Series, plot_lines, write_csv
from fl_node.task import TaskSpec

log = logging.getLogger(__name__)

MESSAGES_PER_UPDATE = 3
"""Messages a participant exchanges per round: model download, commitment (a signed message to
the mailbox or a transaction), update upload at the reveal."""


@dataclass(frozen=True)
class LogRow:
    """One line of the training log: one participant in one round."""

    round: int
    participant: str
    name: str
    status: str  # "accepted", "rejected:<reason>" or "not_submitted"
    train_loss: float | None
    samples: int
    bytes_sent: int
    bytes_received: int
    messages: int
    contribution: float
    score: int
    reward_wei: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return dict(self.__dict__)


def training_log(
    reports: Sequence[RoundReport], names: Mapping[str, str] | None = None
) -> list[LogRow]:
    """One row per participant per round, in round then join order.

    Parameters
    ----------
    reports : sequence of RoundReport
        Every round's report, in order.
    names : mapping of str to str or None, default None
        Display names by participant address.
    """
    names = names or {}
    rows: list[LogRow] = []
    for report in reports:
        for i, v in enumerate(report.verdicts):
            submitted = v.reason != "not_submitted"
            status = (
                "accepted"
                if v.accepted
                else (f"rejected:{v.reason}" if submitted else "not_submitted")
            )
            rows.append(
                LogRow(
                    round=report.round,
                    participant=v.participant,
                    name=names.get(v.participant, v.participant),
                    status=status,
                    train_loss=v.train_loss,
                    samples=v.samples,
                    bytes_sent=v.bytes,
                    bytes_received=report_model_bytes(reports, report.round) if submitted else 0,
                    messages=MESSAGES_PER_UPDATE if submitted else 0,
                    contribution=report.contributions[i],
                    score=report.scores[i],
                    reward_wei=report.amounts[i],
                )
            )
    return rows


def report_model_bytes(reports: Sequence[RoundReport], round_: int) -> int:
    """Size of the global model a round started from (the previous round's output).

    Parameters
    ----------
    reports : sequence of RoundReport
        Every round's report.
    round_ : int
        The round.
    """
    for r in reports:
        if r.round == round_ - 1:
            return r.model_bytes
    # round 1 starts from the initial model, the same architecture and size
    return reports[0].model_bytes if reports else 0


def write_training_log(rows: Sequence[LogRow], path: Path) -> Path:
    """Write the training log as CSV.

    Parameters
    ----------
    rows : sequence of LogRow
        The log (:func:`training_log`).
    path : Path
        Target file.
    """
    return write_csv((row.to_dict() for row in rows), list(LogRow.__dataclass_fields__), path)


def communication_stats(rows: Sequence[LogRow]) -> dict[str, dict[str, int]]:
    """Bytes and messages per participant over the task.

    Parameters
    ----------
    rows : sequence of LogRow
        The training log.
    """
    out: dict[str, dict[str, int]] = {}
    for row in rows:
        entry = out.setdefault(
            row.name, {"bytes_sent": 0, "bytes_received": 0, "messages": 0, "rounds": 0}
        )
        entry["bytes_sent"] += row.bytes_sent
        entry["bytes_received"] += row.bytes_received
        entry["messages"] += row.messages
        entry["rounds"] += 1 if row.messages else 0
    return out


def _loss_label(reports: Sequence[RoundReport]) -> str:
    if reports and isinstance(reports[0].test, RegressionMetrics):
        return "loss (training: MSE of the standardised target; global: RMSE)"
    return "cross-entropy"


def plot_loss_curve(
    reports: Sequence[RoundReport], rows: Sequence[LogRow], path: Path, title: str
) -> Path:
    """PNG of each participant's training loss and the global model's validation/test loss.

    Parameters
    ----------
    reports : sequence of RoundReport
        Every round's report.
    rows : sequence of LogRow
        The training log.
    path : Path
        Target file.
    title : str
        The plot's title.
    """
    by_name: dict[str, list[tuple[int, float]]] = {}
    for row in rows:
        if row.train_loss is not None:
            by_name.setdefault(row.name, []).append((row.round, row.train_loss))
    series = [
        Series(
            f"{name} (train)",
            [float(r) for r, _ in points],
            [loss for _, loss in points],
            options={"marker": ".", "linewidth": 1, "alpha": 0.7},
        )
        for name, points in sorted(by_name.items())
    ]
    rounds = [float(r.round) for r in reports]
    series += [
        Series(
            "global (validation)",
            rounds,
            [r.validation.loss for r in reports],
            "k--",
            {"linewidth": 2},
        ),
        Series("global (test)", rounds, [r.test.loss for r in reports], "k-", {"linewidth": 2}),
    ]
    return plot_lines(
        series, path, title=title, xlabel="round", ylabel=_loss_label(reports), legend_size=7
    )


def _test_section(spec: TaskSpec, final: RoundReport) -> list[str]:
    """The held-out test metrics against the acceptance targets."""
    lines = ["## Held-out test set", "", "| metric | value | target |", "|---|---|---|"]
    for key, value in final.test.values().items():
        target = spec.acceptance.get(key)
        bound = "<=" if key in LOWER_IS_BETTER else ">="
        shown = "" if target is None else f"{bound} {target}"
        lines.append(f"| {key} | {value:.4f} | {shown} |")
    met = all(meets(final.test, spec.acceptance).values())
    lines += [
        "",
        f"Acceptance targets {'met' if met else 'NOT met'}; test rows: {final.test.rows}.",
        "",
    ]
    return lines


def _rounds_section(reports: Sequence[RoundReport], names: Mapping[str, str]) -> list[str]:
    """One row per round, then every rejected update with its reason."""
    lines = [
        "## Rounds",
        "",
        "| round | accepted | rejected | val loss | test {} | test {} | paid (tokens) |".format(
            *(name for name, _ in headline(reports[0].test))
        )
        if reports
        else "| round | accepted | rejected | val loss | test | test | paid (tokens) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in reports:
        (_, first), (_, second) = headline(r.test)
        lines.append(
            f"| {r.round} | {r.accepted} | {len(r.rejected)} | {r.validation.loss:.4f} | "
            f"{first:.4f} | {second:.4f} | {sum(r.amounts) / 10**18:.6f} |"
        )
    rejected = [(r.round, v) for r in reports for v in r.rejected]
    if rejected:
        lines += ["", "## Rejected updates", ""]
        for round_, v in rejected:
            who = names.get(v.participant, v.participant)
            lines.append(f"- round {round_}: {who}: `{v.reason}` ({v.detail})")
    return lines


def _communication_section(comm: Mapping[str, Mapping[str, int]]) -> list[str]:
    """Bytes and messages per participant."""
    lines = [
        "",
        "## Communication",
        "",
        "| participant | bytes sent | bytes received | messages |",
        "|---|---|---|---|",
    ]
    for name, c in sorted(comm.items()):
        lines.append(f"| {name} | {c['bytes_sent']} | {c['bytes_received']} | {c['messages']} |")
    return lines


def _evidence_section(reports: Sequence[RoundReport]) -> list[str]:
    """Each round's evidence CID."""
    lines = [
        "",
        "## Evidence",
        "",
        "Each round's evidence file lists every input CID, verdict, utility and reward:",
        "",
    ]
    lines += [f"- round {r.round}: `{r.evidence_cid}`" for r in reports]
    return lines


def _privacy_section(spec: TaskSpec, rounds: int) -> list[str]:
    """The differential privacy spent over the task (the last round's evidence holds the same)."""
    spent = spec.privacy_spent(rounds)
    if spent is None:
        return []
    unit = "one training row" if spent.mode == "dp-sgd" else "a participant's whole dataset"
    return [
        "## Differential privacy",
        "",
        f"Mode {spent.mode}: (epsilon, delta) = ({spent.epsilon:.4g}, {spent.delta:g}) with "
        f"respect to {unit}, for a participant trained in each of the {rounds} rounds "
        f"({spent.steps} steps, noise multiplier {spent.noise_multiplier:.4g}, clip norm "
        f"{spent.clip_norm:g}, sample rate {spent.sample_rate:g}, {spent.accountant} accountant).",
        *_collusion_lines(spec, rounds),
        "",
    ]


def _collusion_lines(spec: TaskSpec, rounds: int) -> list[str]:
    """Distributed DP: whom the epsilon holds against, and what colluding members learn."""
    colluded = spec.collusion_spent(rounds)
    if colluded is None:
        return []
    return [
        "",
        "The noise was split among each secure-aggregation group's members, so this epsilon "
        "holds for the group sums the coordinator saw. A group's other survivors colluding with "
        "the coordinator can subtract their own noise: against them a participant's epsilon is "
        f"{colluded.epsilon:.4g} (noise multiplier {colluded.noise_multiplier:.4g}).",
    ]


def _aggregation_section(spec: TaskSpec) -> list[str]:
    """How updates reached the coordinator, when not in the clear (secure aggregation)."""
    if spec.secagg is None:
        return []
    p = spec.secagg
    return [
        "## Secure aggregation",
        "",
        f"Updates were summed per group of at least {p.group_size} participants under secure "
        f"aggregation (dropout tolerance {p.dropout_tolerance:g}, clip range +/-{p.clip:g} per "
        f"coordinate, at most {p.max_samples} samples each): the coordinator saw group sums "
        "only, and contributions were measured per group.",
        "",
    ]


def aggregation_card(spec: TaskSpec) -> dict[str, Any]:
    """The model card's ``aggregation`` entry (empty for plain aggregation)."""
    if spec.secagg is None:
        return {}
    return {"aggregation": {"mode": spec.aggregation, **spec.secagg.to_dict()}}


def privacy_card(spec: TaskSpec, rounds: int) -> dict[str, Any]:
    """The model card's ``privacy`` entry (empty without DP).

    Under distributed DP it adds ``collusion_epsilon``: a participant's epsilon against its
    group's other survivors colluding with the coordinator (:meth:`TaskSpec.collusion_spent`).
    """
    spent = spec.privacy_spent(rounds)
    if spent is None:
        return {}
    colluded = spec.collusion_spent(rounds)
    extra = {} if colluded is None else {"collusion_epsilon": colluded.epsilon}
    return {"privacy": asdict(spent) | extra}


def _adversarial_section(found: Sequence[AdversarialReport]) -> list[str]:
    """The final model under FGSM and PGD at each epsilon, against the relative-drop target."""
    if not found:
        return []
    lines = [
        "## Adversarial examples",
        "",
        "The final model on the held-out test set under FGSM and PGD (L-infinity, PGD from a "
        "random start; epsilon in pixels scaled to [0, 1] for images, in standard deviations of "
        "each feature for tables). Drops are relative: (clean - attacked) / clean.",
        "",
        "| epsilon | units | metric | clean | FGSM | PGD | PGD steps x step | FGSM drop "
        "| PGD drop | target |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in found:
        verdict = "met" if r.meets_target else "MISSED"
        lines.append(
            f"| {r.epsilon:g} | {r.units} | {r.metric} | {r.clean:.4f} | {r.fgsm:.4f} | "
            f"{r.pgd:.4f} | {r.pgd_steps} x {r.pgd_step:.4g} | {100 * r.fgsm_drop:.1f} % | "
            f"{100 * r.pgd_drop:.1f} % | <= {100 * r.max_drop:g} %: {verdict} |"
        )
    return [*lines, ""]


def evaluation_report(
    spec: TaskSpec,
    reports: Sequence[RoundReport],
    comm: Mapping[str, Mapping[str, int]],
    *,
    task_id: int,
    model_cid: str,
    names: Mapping[str, str] | None = None,
    adversarial: Sequence[AdversarialReport] = (),
) -> str:
    """The Markdown evaluation report of a finished task.

    Parameters
    ----------
    spec : TaskSpec
        The task's specification (name, strategy, acceptance targets).
    reports : sequence of RoundReport
        Every round's report, in order (at least one).
    comm : mapping of str to mapping of str to int
        Communication statistics per participant (:func:`communication_stats`).
    task_id : int
        The task.
    model_cid : str
        CID of the final model.
    names : mapping of str to str or None, default None
        Display names by participant address.
    adversarial : sequence of AdversarialReport, default ()
        The final model under FGSM and PGD (:func:`fl_node.adversarial.adversarial_metrics`) at
        the stated epsilons; a section after the test metrics when given.
    """
    final = reports[-1]
    header = [
        f"# Evaluation report: {spec.name} (task {task_id})",
        "",
        f"Final model: `{model_cid}` after {final.round} rounds ({spec.strategy}, "
        f"contribution by {spec.contribution}).",
        "",
    ]
    lines = (
        header
        + _test_section(spec, final)
        + _privacy_section(spec, len(reports))
        + _aggregation_section(spec)
        + _adversarial_section(adversarial)
        + _rounds_section(reports, names or {})
        + _communication_section(comm)
        + _evidence_section(reports)
    )
    return "\n".join(lines) + "\n"


def model_card(
    spec: TaskSpec,
    reports: Sequence[RoundReport],
    *,
    task_id: int,
    model_cid: str,
    model_hash: str,
    artifacts: Mapping[str, str],
) -> dict[str, Any]:
    """The model card stored beside the final model (what the marketplace lists).

    Parameters
    ----------
    spec : TaskSpec
        The task's specification.
    reports : sequence of RoundReport
        Every round's report, in order (at least one; the last one holds the shares).
    task_id : int
        The task.
    model_cid, model_hash : str
        The final model.
    artifacts : mapping of str to str
        ``file name -> CID`` of the deliverables.

    A task with differential privacy adds ``privacy`` (:meth:`TaskSpec.privacy_spent`, equal to
    the last round's evidence) and lists ``dp_epsilon`` and ``dp_delta`` among the ``metrics``,
    which the marketplace shows with the listing. A task under secure aggregation adds
    ``aggregation`` (the mode and its :class:`~fl_node.secagg.SecAggParams`).
    """
    shares = reports[-1].shares
    contributors = [v.participant for v in reports[-1].verdicts]
    privacy = privacy_card(spec, len(reports))
    listed = (
        {"dp_epsilon": privacy["privacy"]["epsilon"], "dp_delta": privacy["privacy"]["delta"]}
        if privacy
        else {}
    )
    return {
        "kind": "fedmarket/model-card",
        "task_id": task_id,
        "name": spec.name,
        "model_cid": model_cid,
        "model_hash": model_hash,
        "config": spec.model.to_dict(),
        "feature_names": list(spec.feature_names),
        "rounds": len(reports),
        "metrics": {**reports[-1].test.to_dict(), **listed},
        "acceptance": dict(spec.acceptance),
        "artifacts": dict(artifacts),
        "evidence": [r.evidence_cid for r in reports],
        "shares_bps": (
            dict(zip(contributors, shares.bps, strict=True)) if shares is not None else {}
        ),
        **privacy,
        **aggregation_card(spec),
    }
