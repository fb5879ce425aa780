"""The pieces every task's deliverables are made of: JSON, CSV, Markdown tables, line plots.

The horizontal deliverables (:mod:`fl_node.reporting.horizontal`) and the vertical ones
(``fl_node.vertical.runner``) are both written with these, so a training log, a loss curve and a
report look and parse the same whichever kind of task produced them.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def dump_json(obj: Any, path: Path) -> Path:
    """Write ``obj`` as indented JSON with sorted keys.

    Parameters
    ----------
    obj : Any
        A JSON-ready value.
    path : Path
        Target file.
    """
    path.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def write_csv(rows: Iterable[Mapping[str, Any]], fields: Sequence[str], path: Path) -> Path:
    """Write ``rows`` as CSV with the header ``fields``.

    Parameters
    ----------
    rows : iterable of mapping
        One mapping per line; keys outside ``fields`` are an error.
    fields : sequence of str
        Column names, in order.
    path : Path
        Target file.
    """
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(fields))
        writer.writeheader()
        for row in rows:
            writer.writerow(dict(row))
    return path


def fmt(value: Any, digits: int = 4) -> str:
    """A value as a report shows it: floats to ``digits`` places, ints with thousands separators.

    Parameters
    ----------
    value : Any
        The value.
    digits : int, default 4
        Decimal places of floats.
    """
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    """The lines of a Markdown table (cells through :func:`fmt` unless already strings).

    Parameters
    ----------
    headers : sequence of str
        Column titles.
    rows : iterable of sequences
        One sequence of cells per row, as long as ``headers``.
    """
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for row in rows:
        cells = [c if isinstance(c, str) else fmt(c) for c in row]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


@dataclass(frozen=True)
class Series:
    """One line of a plot.

    Attributes
    ----------
    label : str
        Legend entry.
    x, y : sequence of float
        The points.
    style : str, default ""
        Matplotlib format string (``"k--"``, ``"o-"``).
    options : dict
        Extra keyword arguments for ``Axes.plot`` (``linewidth``, ``alpha``, ``marker``).
    """

    label: str
    x: Sequence[float]
    y: Sequence[float]
    style: str = ""
    options: dict[str, Any] = field(default_factory=dict)


def plot_lines(
    series: Sequence[Series],
    path: Path,
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    legend_size: float | None = None,
) -> Path:
    """Plot ``series`` to a PNG (headless: the Agg backend).

    Parameters
    ----------
    series : sequence of Series
        The lines, drawn in order.
    path : Path
        Target file.
    title, xlabel, ylabel : str
        Labels.
    legend_size : float or None, default None
        Legend font size (matplotlib's default when ``None``).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=120)
    for s in series:
        style = (s.style,) if s.style else ()
        ax.plot(s.x, s.y, *style, label=s.label, **s.options)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=legend_size)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


__all__ = ["Series", "dump_json", "fmt", "markdown_table", "plot_lines", "write_csv"]
