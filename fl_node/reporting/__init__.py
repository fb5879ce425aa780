"""Deliverables of a task: training log, loss curve, evaluation report, model card.

:mod:`fl_node.reporting.common` holds the pieces every kind of task writes with (JSON, CSV,
Markdown tables, line plots); :mod:`fl_node.reporting.horizontal` builds a horizontal task's
deliverables from the coordinator's round reports.
"""

from fl_node.reporting.common import Series, dump_json, fmt, markdown_table, plot_lines, write_csv
from fl_node.reporting.horizontal import (
    MESSAGES_PER_UPDATE,
    LogRow,
    communication_stats,
    evaluation_report,
    model_card,
    plot_loss_curve,
    report_model_bytes,
    training_log,
    write_training_log,
)

__all__ = [
    "MESSAGES_PER_UPDATE",
    "LogRow",
    "Series",
    "communication_stats",
    "dump_json",
    "evaluation_report",
    "fmt",
    "markdown_table",
    "model_card",
    "plot_lines",
    "plot_loss_curve",
    "report_model_bytes",
    "training_log",
    "write_csv",
    "write_training_log",
]
