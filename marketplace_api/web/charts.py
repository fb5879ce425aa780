"""Line charts as inline SVG, drawn on the server: no chart library, no script, readable offline.

:func:`line_chart` is a pure function of its series; the page puts the same figures in a table
beside it, so the chart needs no other text alternative than its title and summary.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

WIDTH, HEIGHT = 640, 280
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 56, 16, 16, 40
COLOURS = ("#1f5fa8", "#b3541e", "#2d7d46", "#7a3e9d")
DASHES = ("", "6 4", "2 3", "10 3 2 3")


@dataclass(frozen=True)
class Series:
    """One line: a label and one value per x (``None`` where unknown)."""

    label: str
    values: Sequence[float | None]


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    if high <= low:
        return [low]
    step = (high - low) / (count - 1)
    return [low + i * step for i in range(count)]


def _bounds(series: Sequence[Series]) -> tuple[float, float] | None:
    finite = [v for s in series for v in s.values if v is not None and math.isfinite(v)]
    if not finite:
        return None
    low, high = min(finite), max(finite)
    pad = (high - low) * 0.08 or abs(high) * 0.1 or 1.0
    if not math.isfinite((high + pad) - (low - pad)):  # a span past float's range: no scale
        return None
    return low - pad, high + pad


def _path(values: Sequence[float | None], x: list[float], y_of: object) -> str:
    parts: list[str] = []
    pen_up = True
    for xi, v in zip(x, values, strict=False):
        if v is None or not math.isfinite(v):
            pen_up = True
            continue
        parts.append(f"{'M' if pen_up else 'L'}{xi:.1f},{y_of(v):.1f}")  # type: ignore[operator]
        pen_up = False
    return " ".join(parts)


def line_chart(
    series: Sequence[Series], *, x_labels: Sequence[str], title: str, y_label: str
) -> Markup:
    """An SVG chart of ``series`` over ``x_labels`` (one point per label).

    Parameters
    ----------
    series : sequence of Series
        The lines (at most four are told apart by colour and dash).
    x_labels : sequence of str
        The x axis' labels, one per point.
    title : str
        Read by screen readers (``<title>``).
    y_label : str
        The y axis' name.
    """
    series = series[: len(COLOURS)]  # the axis fits the lines drawn, not those left out
    bounds = _bounds(series)
    if bounds is None or not x_labels:
        return Markup("")
    low, high = bounds
    plot_w = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_h = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    n = len(x_labels)
    x = [MARGIN_LEFT + (plot_w * i / (n - 1) if n > 1 else plot_w / 2) for i in range(n)]

    def y_of(v: float) -> float:
        return MARGIN_TOP + plot_h * (1 - (v - low) / (high - low))

    out = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}" preserveAspectRatio="xMidYMid meet">',
        f"<title>{escape(title)}</title>",
    ]
    for t in _ticks(low, high):
        yt = y_of(t)
        out.append(f'<line class="grid" x1="{MARGIN_LEFT}" x2="{WIDTH - MARGIN_RIGHT}" '
                   f'y1="{yt:.1f}" y2="{yt:.1f}"/>')  # fmt: skip
        out.append(f'<text class="tick" x="{MARGIN_LEFT - 6}" y="{yt + 4:.1f}" '
                   f'text-anchor="end">{t:.3g}</text>')  # fmt: skip
    every = max(1, n // 10)
    for i, label in enumerate(x_labels):
        if i % every == 0 or i == n - 1:
            out.append(f'<text class="tick" x="{x[i]:.1f}" y="{HEIGHT - MARGIN_BOTTOM + 16}" '
                       f'text-anchor="middle">{escape(label)}</text>')  # fmt: skip
    out.append(f'<text class="axis" x="{MARGIN_LEFT + plot_w / 2:.1f}" y="{HEIGHT - 4}" '
               f'text-anchor="middle">round</text>')  # fmt: skip
    out.append(f'<text class="axis" transform="translate(14 {MARGIN_TOP + plot_h / 2:.1f}) '
               f'rotate(-90)" text-anchor="middle">{escape(y_label)}</text>')  # fmt: skip
    for k, s in enumerate(series):
        dash = f' stroke-dasharray="{DASHES[k]}"' if DASHES[k] else ""
        out.append(f'<path class="line" d="{_path(s.values, x, y_of)}" stroke="{COLOURS[k]}"'
                   f'{dash}><title>{escape(s.label)}</title></path>')  # fmt: skip
    out.append("</svg>")
    return Markup("".join(out))


def legend(series: Sequence[Series]) -> Markup:
    """The chart's legend as HTML (colour and dash swatches with each label)."""
    items = [
        f'<li><svg width="28" height="10" aria-hidden="true"><line x1="0" x2="28" y1="5" y2="5" '
        f'stroke="{COLOURS[k]}" stroke-width="3"'
        + (f' stroke-dasharray="{DASHES[k]}"' if DASHES[k] else "")
        + f"/></svg> {escape(s.label)}</li>"
        for k, s in enumerate(series[: len(COLOURS)])
    ]
    return Markup('<ul class="legend">' + "".join(items) + "</ul>")


__all__ = ["Series", "legend", "line_chart"]
