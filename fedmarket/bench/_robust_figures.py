"""The robustness benchmark's verdicts and tables, from the runs' figures.

- The *drop* of a run: FedAvg's test accuracy with no attackers on the same dataset minus the
  run's, in percentage points (positive is worse).
- The issue's target, per attack at the target fraction (30 % of MNIST's ten clients; on the four
  hospitals the only minority, 25 % = one hospital): some defence loses at most
  :data:`DROP_TARGET_PTS` points, flags at least :data:`RECALL_TARGET` of the attacker-rounds and
  flags no honest participant in any round. MET names the most accurate such defence; MISSED
  names the defence with the smallest drop and its figures.
- Where no defence holds: every (dataset, attack, fraction) where even the best defence loses
  more than :data:`DROP_TARGET_PTS` points.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from fedmarket.bench._robust_rounds import NO_ATTACK, CellFigures

DROP_TARGET_PTS = 5.0
"""At most this many points of accuracy lost against FedAvg without attackers."""
RECALL_TARGET = 0.9
"""At least this share of the attacker-rounds flagged."""
TARGET_PCT = {"mnist": 30.0, "heart": 25.0}
"""The fraction the target is checked at, per dataset (heart: 4 parties allow 25 %)."""


@dataclass(frozen=True)
class Verdict:
    """The target on one attack: MET or MISSED, with the defence that decides it."""

    dataset: str
    attack: str
    attackers_pct: float
    met: bool
    defence: str
    drop_pts: float
    recall: float
    honest_flagged_rounds: int


def baseline(cells: Sequence[CellFigures], dataset: str) -> float:
    """FedAvg's accuracy without attackers on ``dataset`` (NaN when not run)."""
    for cell in cells:
        if (cell.dataset, cell.defence, cell.attack) == (dataset, "none", NO_ATTACK):
            return cell.accuracy
    return math.nan


def drop_pts(cells: Sequence[CellFigures], cell: CellFigures) -> float:
    """``cell``'s drop against its dataset's baseline, in points."""
    return 100.0 * (baseline(cells, cell.dataset) - cell.accuracy)


def holds(cells: Sequence[CellFigures], cell: CellFigures) -> bool:
    """``cell`` meets the target: small drop, high recall, no honest participant flagged."""
    recall = cell.flags.recall
    return (
        drop_pts(cells, cell) <= DROP_TARGET_PTS
        and math.isfinite(recall)
        and recall >= RECALL_TARGET
        and cell.flags.honest_flagged_rounds == 0
    )


def _defended(
    cells: Sequence[CellFigures], dataset: str, attack: str, pct: float
) -> list[CellFigures]:
    return [
        c
        for c in cells
        if (c.dataset, c.attack) == (dataset, attack)
        and c.defence != "none"
        and abs(c.attackers_pct - pct) < 1e-9
        and math.isfinite(c.accuracy)
    ]


def verdict(cells: Sequence[CellFigures], dataset: str, attack: str, pct: float) -> Verdict | None:
    """The target on ``attack`` at ``pct`` % (None when no defended run is there)."""
    runs = _defended(cells, dataset, attack, pct)
    if not runs:
        return None
    good = [c for c in runs if holds(cells, c)]
    best = (
        max(good, key=lambda c: c.accuracy) if good else min(runs, key=lambda c: drop_pts(cells, c))
    )
    return Verdict(
        dataset=dataset,
        attack=attack,
        attackers_pct=pct,
        met=bool(good),
        defence=best.defence,
        drop_pts=drop_pts(cells, best),
        recall=best.flags.recall,
        honest_flagged_rounds=best.flags.honest_flagged_rounds,
    )


def verdicts(cells: Sequence[CellFigures]) -> list[Verdict]:
    """The target on every attack run at each dataset's target fraction."""
    out = []
    for dataset in dict.fromkeys(c.dataset for c in cells):
        pct = TARGET_PCT.get(dataset, 30.0)
        for attack in dict.fromkeys(c.attack for c in cells if c.dataset == dataset):
            found = verdict(cells, dataset, attack, pct)
            if found is not None and attack != NO_ATTACK:
                out.append(found)
    return out


def no_defence_holds(cells: Sequence[CellFigures]) -> list[Verdict]:
    """Every (dataset, attack, fraction) where the best defence still loses > 5 points."""
    keys = dict.fromkeys(
        (c.dataset, c.attack, c.attackers_pct) for c in cells if c.attack != NO_ATTACK
    )
    out = []
    for dataset, attack, pct in keys:
        found = verdict(cells, dataset, attack, pct)
        if found is not None and not found.drop_pts <= DROP_TARGET_PTS:
            out.append(found)
    return out


def _pct(value: float, digits: int = 1) -> str:
    return "-" if not math.isfinite(value) else f"{100 * value:.{digits}f}"


def _ratio(value: float) -> str:
    return "-" if not math.isfinite(value) else f"{value:.2f}"


def cell_row(cells: Sequence[CellFigures], c: CellFigures) -> str:
    """One markdown row of the grid."""
    drop = drop_pts(cells, c)
    attackers = f"{c.attackers_pct:.0f} % ({len(c.attackers)})"
    accuracy = _pct(c.accuracy) + (f" (diverged r{c.diverged_round})" if c.diverged_round else "")
    honest = "yes" if c.flags.honest_flagged_rounds else "no"
    if c.flags.honest_flagged_rounds:
        honest += f" ({c.flags.honest_flagged_rounds})"
    cols = [c.dataset, c.defence, c.attack, attackers, accuracy,
            "-" if not math.isfinite(drop) else f"{drop:+.1f}", _pct(c.backdoor_success),
            _ratio(c.flags.precision), _ratio(c.flags.recall), honest]  # fmt: skip
    return "| " + " | ".join(cols) + " |" + (f" error: {c.error}" if c.error else "")


def grid_markdown(cells: Sequence[CellFigures]) -> str:
    """Every run as one markdown table."""
    head = ("| dataset | defence | attack | attackers | accuracy % | drop (pts) | backdoor % "
            "| precision | recall | honest flagged (rounds) |")  # fmt: skip
    rule = "|" + "---|" * 10
    return "\n".join([head, rule, *(cell_row(cells, c) for c in cells)])


def verdicts_markdown(found: Sequence[Verdict], title: str) -> str:
    """The verdicts as a markdown table."""
    head = (f"| dataset | attack | attackers | {title} | defence | drop (pts) | recall "
            "| honest flagged |")  # fmt: skip
    rows = [head, "|" + "---|" * 8]
    for v in found:
        verdict_text = "MET" if v.met else "MISSED"
        rows.append(
            f"| {v.dataset} | {v.attack} | {v.attackers_pct:.0f} % | {verdict_text} "
            f"| {v.defence} | {v.drop_pts:+.1f} | {_ratio(v.recall)} | {v.honest_flagged_rounds} |"
        )
    return "\n".join(rows)


def _pivot_entry(cells: Sequence[CellFigures], c: CellFigures | None) -> str:
    if c is None or not math.isfinite(c.accuracy):
        return "-"
    text = f"{drop_pts(cells, c):+.1f}"
    if c.attackers:
        text += f" r{_ratio(c.flags.recall)}"
    if c.flags.honest_flagged_rounds:
        text += " H!"
    return text


def pivot_markdown(cells: Sequence[CellFigures]) -> str:
    """One row per (dataset, attack, fraction), one column per defence.

    Each entry is the drop in points, ``r`` the recall of the flags, ``H!`` when an honest
    participant was flagged in some round; ``bd`` the backdoor success rate per defence.
    """
    defences = list(dict.fromkeys(c.defence for c in cells))
    index = {(c.dataset, c.attack, c.attackers_pct, c.defence): c for c in cells}
    keys = dict.fromkeys((c.dataset, c.attack, c.attackers_pct) for c in cells)
    rows = ["| dataset | attack | attackers | " + " | ".join(defences) + " |",
            "|" + "---|" * (3 + len(defences))]  # fmt: skip
    for dataset, attack, pct in keys:
        found = [index.get((dataset, attack, pct, d)) for d in defences]
        entries = [_pivot_entry(cells, c) for c in found]
        rows.append(f"| {dataset} | {attack} | {pct:.0f} % | " + " | ".join(entries) + " |")
        if attack == "backdoor":
            rates = [_pct(c.backdoor_success, 0) if c else "-" for c in found]
            rows.append(
                f"| {dataset} | backdoor success % | {pct:.0f} % | " + " | ".join(rates) + " |"
            )
    return "\n".join(rows)
