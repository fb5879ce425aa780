"""Deriving a schema's values from the parties' summaries.

Checked against the pooled rows, which only the test pools.
"""

from __future__ import annotations

import numpy as np
import pytest

from fl_node.data import RawTable, derive_schema, infer_plan, infer_schema, summarise
from fl_node.data.derive import merge_plans, numeric_summary, pooled_quantile
from fl_node.data.schema import CategoricalColumn, NumericColumn, canonical
from fl_node.data.schemas import heart_disease_plan
from fl_node.data.stats import coarse, coarse_ceil, coarse_floor
from fl_node.data.summary import NumericSummary
from fl_node.errors import DataError


def _table(source: str, **columns: list[str]) -> RawTable:
    names = tuple(columns)
    rows = len(next(iter(columns.values())))
    cells = tuple(tuple(columns[n]) for n in names)
    return RawTable(source, names, cells, tuple(range(1, rows + 1)))


def test_one_partys_pooled_quantile_is_its_quantile_to_three_significant_digits():
    rng = np.random.default_rng(1)
    values = rng.normal(size=501)
    part = numeric_summary(values)
    for level in (0.1, 0.5, 0.9):
        exact = float(np.quantile(values, level))
        assert pooled_quantile([part], level) == pytest.approx(coarse(exact))
        assert abs(pooled_quantile([part], level) - exact) <= 0.005 * abs(exact)


def test_a_published_summary_holds_no_rows_value_beyond_three_significant_digits():
    rng = np.random.default_rng(3)
    canaries = 1234.56789 + rng.uniform(0, 100, size=2)
    values = np.concatenate([rng.normal(50, 10, size=200), canaries, [-0.0123456789]])
    summary = numeric_summary(values)
    published = (summary.minimum, summary.maximum, *summary.quantiles)
    assert not set(published) & {float(v) for v in values}  # no value is a row's
    assert summary.minimum <= values.min() and summary.maximum >= values.max()  # still a range
    assert summary.maximum == coarse_ceil(values.max()) and summary.minimum == -0.0124
    assert list(summary.quantiles) == sorted(summary.quantiles)
    assert all(len(f"{abs(q):.6g}".replace(".", "").strip("0")) <= 3 for q in published)


@pytest.mark.parametrize("seed", range(5))
def test_the_pooled_median_of_skewed_parties_is_near_the_pooled_rows_median(seed):
    rng = np.random.default_rng(seed)
    parts = [rng.normal(loc, scale, size=n) for loc, scale, n in
             ((0, 1, 300), (3, 0.5, 120), (-2, 2, 700), (10, 1, 40))]  # fmt: skip
    pooled = np.concatenate(parts)
    estimate = pooled_quantile([numeric_summary(p) for p in parts], 0.5)
    spread = np.quantile(pooled, 0.75) - np.quantile(pooled, 0.25)
    assert abs(estimate - np.median(pooled)) < 0.02 * spread
    # the ends are the parties' published ranges, rounded outward
    low = pooled_quantile([numeric_summary(p) for p in parts], 0.0)
    high = pooled_quantile([numeric_summary(p) for p in parts], 1.0)
    assert low == coarse_floor(pooled.min()) <= pooled.min()
    assert high == pytest.approx(coarse_ceil(pooled.max())) and high >= pooled.max()


def test_ties_and_a_constant_party_give_the_right_median():
    parts = [numeric_summary(np.zeros(10)), numeric_summary(np.ones(30))]
    assert pooled_quantile(parts, 0.5) == 1.0
    with pytest.raises(DataError, match="no part has values"):
        pooled_quantile([NumericSummary(0, 5, 0.0, np.nan, np.nan)], 0.5)


def test_means_ranges_categories_and_classes_are_those_of_the_pooled_rows():
    a = _table("a", x=["1", "2", "?", "40"], c=["u", "u", "v", "?"], y=["0", "1", "1", "0"])
    b = _table("b", x=["0.5", "7"], c=["w", "w"], y=["1", "1"])
    plan = infer_plan(a, label="y", kind="binary", missing_tokens=["?"], categorical=["c"])
    schema = derive_schema(plan, [summarise(plan, a), summarise(plan, b)])
    x = schema.columns[0]
    c = schema.columns[1]
    assert isinstance(x, NumericColumn) and isinstance(c, CategoricalColumn)
    pooled = [1, 2, 40, 0.5, 7]
    assert x.fill == pytest.approx(np.mean(pooled))
    assert (x.minimum, x.maximum) == (0.5, 40)
    assert c.categories == ("u", "v", "w")
    assert c.fill == "u"  # two of "u", two of "w": the tie goes to the first in order
    assert schema.target.negative == ("0",) and schema.target.positive == ("1",)


def test_the_ready_heart_schema_is_the_derivation_from_the_hospitals_summaries(
    heart_schema, heart_tables
):
    plan = heart_disease_plan()
    derived = derive_schema(plan, [summarise(plan, t) for t in heart_tables.values()])
    assert derived == heart_schema
    age = next(c for c in derived.columns if c.name == "age")
    pooled = np.array([float(v) for t in heart_tables.values() for v in t.column("age")])
    assert isinstance(age, NumericColumn) and (age.minimum, age.maximum) == (28, 77)
    assert abs(age.fill - np.median(pooled)) <= 1.0  # age is in whole years


def test_infer_schema_finds_kinds_and_refuses_unknown_or_endless_columns():
    table = _table("t", n=["1", "2", "3"], s=["a", "b", "a"], y=["x", "y", "z"], i=["7", "8", "9"])
    schema = infer_schema(table, label="y", kind="multiclass", drop=["i"])
    assert [c.kind for c in schema.columns] == ["numeric", "categorical", "drop", "drop"]
    assert schema.target.classes == ("x", "y", "z")
    with pytest.raises(DataError, match="no column 'nope'"):
        infer_plan(table, label="nope", kind="binary")
    with pytest.raises(DataError, match="3 values"):
        infer_schema(table, label="y", kind="binary")
    many = _table("m", s=[f"id-{i}" for i in range(1100)], y=["0", "1"] * 550)
    with pytest.raises(DataError, match="more than 1024 distinct values"):
        infer_schema(many, label="y", kind="binary")


def test_a_binary_label_with_declared_positives_takes_the_rest_as_negatives():
    table = _table("t", a=["1", "2", "3", "4"], num=["0", "1", "3", "0"])
    schema = infer_schema(table, label="num", kind="binary", positive=["1", "2", "3", "4"])
    assert schema.target.negative == ("0",)
    assert {canonical(v) for v in schema.target.positive} == {"1", "2", "3", "4"}


def test_merged_plans_make_a_column_categorical_where_any_file_has_text():
    a = _table("a", v=["1", "2"], y=["0", "1"])
    b = _table("b", v=["1", "high"], y=["0", "1"])
    plans = [infer_plan(t, label="y", kind="binary") for t in (a, b)]
    assert [c.kind for c in plans[0].columns] == ["numeric", "drop"]
    merged = merge_plans(plans)
    assert [c.kind for c in merged.columns] == ["categorical", "drop"]
    schema = derive_schema(merged, [summarise(merged, t) for t in (a, b)])
    column = schema.columns[0]
    assert isinstance(column, CategoricalColumn) and column.categories == ("1", "2", "high")
