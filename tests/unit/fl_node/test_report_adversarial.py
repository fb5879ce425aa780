"""The evaluation report's adversarial section: present only when asked, figures and verdicts."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from fl_node.adversarial import AdversarialReport
from fl_node.evaluation import BinaryMetrics
from fl_node.models import ModelSpec
from fl_node.reporting import evaluation_report
from fl_node.task import TaskSpec
from fl_node.training import TrainConfig

METRICS = BinaryMetrics(0.9, 0.8, 0.7, 0.75, 0.95, 0.6, 0.3, rows=100)


def _args() -> tuple[TaskSpec, list[SimpleNamespace]]:
    model = ModelSpec(n_features=2, feature_mean=(0.0, 0.0), feature_std=(1.0, 1.0))
    spec = TaskSpec(name="t", model=model, train=TrainConfig(), rounds=1, feature_names=("a", "b"))
    final = SimpleNamespace(round=1, test=METRICS, validation=METRICS, accepted=2, rejected=[],
                            amounts=[0, 0], evidence_cid="bafy")  # fmt: skip
    return spec, [final]


def _report(robust: float) -> AdversarialReport:
    return AdversarialReport(
        epsilon=0.1,
        units="standardised",
        metric="accuracy",
        clean=0.9,
        fgsm=0.88,
        pgd=robust,
        pgd_step=0.025,
        pgd_steps=10,
        rows=100,
    )


def test_without_adversarial_figures_the_report_has_no_such_section() -> None:
    spec, reports = _args()
    text = evaluation_report(spec, reports, {}, task_id=1, model_cid="bafy")  # type: ignore[arg-type]
    assert "Adversarial" not in text


@pytest.mark.parametrize(("pgd", "verdict"), [(0.86, "met"), (0.8, "MISSED")])
def test_the_section_shows_each_epsilon_with_its_drop_and_verdict(pgd: float, verdict: str) -> None:
    spec, reports = _args()
    text = evaluation_report(spec, reports, {}, task_id=1, model_cid="bafy",  # type: ignore[arg-type]
                             adversarial=[_report(pgd)])  # fmt: skip
    assert text.index("## Held-out test set") < text.index("## Adversarial examples")
    assert text.index("## Adversarial examples") < text.index("## Rounds")
    drop = 100 * (0.9 - pgd) / 0.9
    row = (f"| 0.1 | standardised | accuracy | 0.9000 | 0.8800 | {pgd:.4f} | 10 x 0.025 | 2.2 % | "
           f"{drop:.1f} % | <= 5 %: {verdict} |")  # fmt: skip
    assert row in text
