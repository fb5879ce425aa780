"""``charts.line_chart`` against a brute-force reference of its coordinates, and ``legend``.

The reference maps every finite value linearly into the plot box (the data's range padded by 8%
of it, or by 10% of the value when all values are equal, or by 1 when that is 0) and starts a new
sub-path after each missing value; the chart must draw exactly those points, in that order.
"""

from __future__ import annotations

import math
import re
from xml.etree import ElementTree

import pytest

from marketplace_api.web.charts import (
    COLOURS,
    HEIGHT,
    MARGIN_BOTTOM,
    MARGIN_LEFT,
    MARGIN_RIGHT,
    MARGIN_TOP,
    WIDTH,
    Series,
    legend,
    line_chart,
)

SVG = ""  # the inline SVG has no xmlns: HTML gives it one
NAN, INF = float("nan"), float("inf")


def reference_paths(series: list[Series], n: int) -> list[list[list[tuple[float, float]]]]:
    """Per series, its sub-paths as lists of (x, y), computed the obvious way."""
    finite = [v for s in series for v in s.values if v is not None and math.isfinite(v)]
    low, high = min(finite), max(finite)
    if high > low:
        pad = (high - low) * 0.08
    elif high != 0:
        pad = abs(high) * 0.1
    else:
        pad = 1.0
    low, high = low - pad, high + pad
    box_w = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    box_h = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    out = []
    for s in series:
        runs: list[list[tuple[float, float]]] = []
        broken = True
        for i, v in enumerate(s.values[:n]):
            if v is None or not math.isfinite(v):
                broken = True
                continue
            x = MARGIN_LEFT + (box_w * i / (n - 1) if n > 1 else box_w / 2)
            y = MARGIN_TOP + box_h * (high - v) / (high - low)
            if broken:
                runs.append([])
            runs[-1].append((x, y))
            broken = False
        out.append(runs)
    return out


def drawn_paths(svg: str) -> list[list[list[tuple[float, float]]]]:
    """Per ``<path>`` of the chart, its sub-paths parsed from ``d``."""
    root = ElementTree.fromstring(svg)
    out = []
    for path in root.iter(f"{SVG}path"):
        runs: list[list[tuple[float, float]]] = []
        for command, x, y in re.findall(r"([ML])(-?[\d.]+),(-?[\d.]+)", path.get("d", "")):
            if command == "M":
                runs.append([])
            runs[-1].append((float(x), float(y)))
        out.append(runs)
    return out


def assert_same_points(svg: str, series: list[Series], n: int) -> None:
    got, want = drawn_paths(svg), reference_paths(series, n)
    assert [[len(r) for r in p] for p in got] == [[len(r) for r in p] for p in want]
    for g_path, w_path in zip(got, want, strict=True):
        for g_run, w_run in zip(g_path, w_path, strict=True):
            for (gx, gy), (wx, wy) in zip(g_run, w_run, strict=True):
                assert gx == pytest.approx(wx, abs=0.051)
                assert gy == pytest.approx(wy, abs=0.051)


def chart(series: list[Series], n: int, title: str = "Loss", y_label: str = "log-loss") -> str:
    return str(line_chart(series, x_labels=[str(i + 1) for i in range(n)], title=title,
                          y_label=y_label))  # fmt: skip


@pytest.mark.parametrize(
    "values",
    [
        [0.7, 0.5, 0.45, 0.41, 0.4],
        [1.0, -3.0, 12.5, 0.0, 7.25, 1e-3],
        [10**6, 2 * 10**6, 1.5 * 10**6],
        [0.2, 0.9],
    ],
)
def test_points_map_linearly_into_the_plot_box(values: list[float]) -> None:
    series = [Series("validation", values), Series("test", [v * 1.1 for v in values])]
    svg = chart(series, len(values))
    assert_same_points(svg, series, len(values))
    for run in (r for p in drawn_paths(svg) for r in p):
        for x, y in run:  # every point inside the box
            assert MARGIN_LEFT - 0.05 <= x <= WIDTH - MARGIN_RIGHT + 0.05
            assert MARGIN_TOP - 0.05 <= y <= HEIGHT - MARGIN_BOTTOM + 0.05


def test_the_lowest_value_is_drawn_lower_than_the_highest() -> None:
    svg = chart([Series("s", [3.0, 1.0, 2.0])], 3)
    (run,) = drawn_paths(svg)[0]
    ys = [y for _, y in run]
    assert ys[1] > ys[2] > ys[0]  # SVG's y grows downwards
    xs = [x for x, _ in run]
    assert xs == sorted(xs) and xs[0] == MARGIN_LEFT and xs[-1] == WIDTH - MARGIN_RIGHT


@pytest.mark.parametrize("gap", [None, NAN, INF, -INF])
def test_missing_and_non_finite_values_break_the_line(gap: float | None) -> None:
    values = [0.9, 0.8, gap, 0.6, 0.5, gap, gap, 0.2]
    series = [Series("s", values)]
    svg = chart(series, len(values))
    assert_same_points(svg, series, len(values))
    assert [len(r) for r in drawn_paths(svg)[0]] == [2, 2, 1]
    assert "nan" not in svg.lower() and "inf" not in svg.lower()


def test_a_single_point_sits_in_the_middle() -> None:
    series = [Series("s", [0.42])]
    svg = chart(series, 1)
    assert_same_points(svg, series, 1)
    ((x, y),) = drawn_paths(svg)[0][0]
    assert x == pytest.approx(MARGIN_LEFT + (WIDTH - MARGIN_LEFT - MARGIN_RIGHT) / 2, abs=0.05)
    assert y == pytest.approx(MARGIN_TOP + (HEIGHT - MARGIN_TOP - MARGIN_BOTTOM) / 2, abs=0.05)


@pytest.mark.parametrize("value", [0.0, 5.0, -2.5, 1e-12])
def test_all_equal_values_draw_a_flat_line_in_the_middle(value: float) -> None:
    series = [Series("s", [value] * 4)]
    svg = chart(series, 4)
    assert_same_points(svg, series, 4)
    ys = {y for run in drawn_paths(svg)[0] for _, y in run}
    assert len(ys) == 1
    assert ys.pop() == pytest.approx(MARGIN_TOP + (HEIGHT - MARGIN_TOP - MARGIN_BOTTOM) / 2, 0.05)


@pytest.mark.parametrize(
    "values", [[], [None, None], [NAN, INF], [None, NAN, -INF]], ids=["empty", "none", "nan", "mix"]
)
def test_nothing_to_draw_draws_nothing(values: list[float | None]) -> None:
    assert str(line_chart([Series("s", values)], x_labels=["1", "2"], title="t", y_label="y")) == ""
    assert str(line_chart([Series("s", [1.0])], x_labels=[], title="t", y_label="y")) == ""


def test_only_four_series_are_drawn_each_in_its_own_colour() -> None:
    series = [Series(f"s{k}", [float(k), float(k + 1)]) for k in range(6)]
    svg = chart(series, 2)
    root = ElementTree.fromstring(svg)
    strokes = [p.get("stroke") for p in root.iter(f"{SVG}path")]
    assert strokes == list(COLOURS)
    assert_same_points(svg, series[:4], 2)


HOSTILE = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "a & b ' \""]


@pytest.mark.parametrize("text", HOSTILE)
def test_labels_titles_and_axis_names_are_escaped(text: str) -> None:
    svg = str(
        line_chart([Series(text, [1.0, 2.0])], x_labels=[text, text], title=text, y_label=text)
    )
    assert "<script" not in svg and "<img" not in svg
    root = ElementTree.fromstring(svg)  # still well-formed XML: nothing broke out
    assert root.get("aria-label") == text
    assert root.find(f"{SVG}title").text == text  # type: ignore[union-attr]
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert texts.count(text) == 3  # both x labels and the y axis name
    path_titles = [t.text for p in root.iter(f"{SVG}path") for t in p.iter(f"{SVG}title")]
    assert path_titles == [text]


def test_x_labels_are_thinned_to_about_ten_keeping_the_last() -> None:
    n = 37
    svg = chart([Series("s", [float(i) for i in range(n)])], n)
    root = ElementTree.fromstring(svg)
    shown = [
        t.text for t in root.iter(f"{SVG}text") if t.get("class") == "tick" and
        t.get("text-anchor") == "middle"
    ]  # fmt: skip
    every = n // 10
    assert shown == [str(i + 1) for i in range(n) if i % every == 0 or i == n - 1]


def test_legend_lists_each_drawn_series_escaped() -> None:
    series = [Series(HOSTILE[0], [1.0]), Series("test", [2.0])]
    html = str(legend(series))
    root = ElementTree.fromstring(html)
    items = root.findall("li")
    assert ["".join(li.itertext()).strip() for li in items] == [HOSTILE[0], "test"]
    strokes = [li.find("svg/line").get("stroke") for li in items]  # type: ignore[union-attr]
    assert strokes == list(COLOURS[:2])
    assert "<script" not in html
    assert len(ElementTree.fromstring(str(legend([Series("x", [])] * 7))).findall("li")) == 4


@pytest.mark.parametrize(
    "values", [[1e308, -1e308, 0.5], [1.7e308, 1.7e308], [-1.7e308, 1.0]], ids=str
)
def test_values_beyond_floats_range_draw_no_nan(values: list[float]) -> None:
    """A coordinator's absurd loss must not put ``nan`` coordinates into the page."""
    svg = str(line_chart([Series("s", values)], x_labels=["1"] * len(values), title="t",
                         y_label="y"))  # fmt: skip
    assert "nan" not in svg.lower() and "inf" not in svg.lower()
    if svg:
        ElementTree.fromstring(svg)
