"""Imputation and encoding against a brute-force reference, the rules' text, the fitted record."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from statistics import mean, median, pstdev

import numpy as np
import pytest

from fl_node.vertical.tables import (
    FittedPrep,
    PrepError,
    PrepRules,
    RawTable,
    SchemaSpec,
    fit_prep,
    read_table,
)

WriteCsv = Callable[[str, str], Path]


def random_table(write_csv: WriteCsv, seed: int, rows: int = 60) -> RawTable:
    rng = np.random.default_rng(seed)
    levels = ["A1", "A2", "A3", "B", "C", "D"]
    weights = np.array([20, 12, 8, 3, 2, 1], dtype=float)
    lines = ["id,x,z,cat,tag"]
    for i in range(rows):
        x = "" if rng.random() < 0.15 else f"{rng.normal(5, 2):.6f}"
        z = "" if rng.random() < 0.1 else str(int(rng.integers(0, 4)))
        cat = "" if rng.random() < 0.1 else str(rng.choice(levels, p=weights / weights.sum()))
        tag = str(rng.choice(["u", "v"]))
        lines.append(f"r{i},{x},{z},{cat},{tag}")
    return read_table(write_csv("t.csv", "\n".join(lines) + "\n"), SchemaSpec(), role="host")


def reference(table: RawTable, rules: PrepRules) -> tuple[list[str], list[list[float]]]:
    """The same preparation written the obvious way, one cell at a time."""
    names: list[str] = []
    columns: list[list[float]] = []
    for name in table.schema.names("numeric"):
        cells = [None if math.isnan(v) else float(v) for v in table.numeric[name]]
        present = [v for v in cells if v is not None]
        fill = {
            "median": median(present),
            "mean": mean(present),
            "constant": rules.numeric_constant,
        }[rules.numeric_impute]
        filled = [fill if v is None else v for v in cells]
        mu, sd = mean(filled), pstdev(filled) or 1.0
        z = [(v - mu) / sd for v in filled] if rules.standardise else filled
        if rules.clip is not None:
            z = [min(max(v, -rules.clip), rules.clip) for v in z]
        names.append(name)
        columns.append(z)
    for name in table.schema.names("categorical"):
        levels = list(table.categorical[name])
        seen = [v for v in levels if v is not None]
        if rules.categorical_impute == "most_frequent":
            level_fill = sorted(set(seen), key=lambda v: (-seen.count(v), v))[0]
        else:
            level_fill = "(missing)"
        filled_levels = [level_fill if v is None else v for v in levels]
        count = filled_levels.count
        ranked = sorted(set(filled_levels), key=lambda v: (-count(v), v))
        kept = [v for v in ranked if count(v) >= rules.min_frequency][: rules.max_levels]
        for level in sorted(kept):
            names.append(f"{name}={level}")
            columns.append([float(v == level) for v in filled_levels])
        if len(kept) < len(ranked):
            names.append(f"{name}=(other)")
            columns.append([float(v not in kept) for v in filled_levels])
    return names, columns


RULES = [
    PrepRules(),
    PrepRules(numeric_impute="mean", categorical_impute="most_frequent", min_frequency=1),
    PrepRules(numeric_impute="constant", numeric_constant=-1.5, clip=1.0, max_levels=2),
    PrepRules(standardise=False, min_frequency=8),
]


@pytest.mark.parametrize("rules", RULES, ids=lambda r: r.canonical())
@pytest.mark.parametrize("seed", [1, 2])
def test_preparation_matches_the_cell_by_cell_reference(
    write_csv: WriteCsv, rules: PrepRules, seed: int
) -> None:
    table = random_table(write_csv, seed)
    fitted = fit_prep(table, rules)
    names, columns = reference(table, rules)
    assert fitted.feature_names == tuple(names)
    np.testing.assert_allclose(fitted.transform(table), np.array(columns).T, atol=1e-12)


def test_the_fitted_record_serialises_and_transforms_new_rows_alike(write_csv: WriteCsv) -> None:
    table = random_table(write_csv, 3)
    fitted = fit_prep(table, RULES[2])
    again = FittedPrep.from_dict(json.loads(json.dumps(fitted.to_dict())))
    assert again == fitted
    new = read_table(
        write_csv("new.csv", "id,x,z,cat,tag\nq,,2,A1,u\nr,7,,never-seen,v\n"),
        SchemaSpec(),
        role="host",
    )
    out = again.transform(new)
    np.testing.assert_array_equal(out, fitted.transform(new))
    other = fitted.feature_names.index("cat=(other)")
    assert out[1, other] == 1.0  # an unseen level goes to (other)
    state = fitted.numeric[0]
    assert math.isclose(out[0, 0], max(-1.0, (-1.5 - state.mean) / state.scale))  # clip 1


def test_an_unseen_level_without_other_encodes_as_zeros(write_csv: WriteCsv) -> None:
    fit_on = read_table(write_csv("a.csv", "id,c\n1,a\n2,b\n"), SchemaSpec(), role="host")
    fitted = fit_prep(fit_on, PrepRules(min_frequency=1))
    new = read_table(write_csv("b.csv", "id,c\n1,zz\n2,b\n"), SchemaSpec(), role="host")
    np.testing.assert_array_equal(fitted.transform(new), [[0, 0], [0, 1]])


def test_refuse_names_the_first_missing_cell(write_csv: WriteCsv) -> None:
    table = read_table(write_csv("t.csv", "id,x,c\n1,2,a\n2,,b\n3,4,\n"), SchemaSpec(), role="host")
    with pytest.raises(PrepError, match="line 3, column 'x'"):
        fit_prep(table, PrepRules(numeric_impute="refuse"))
    with pytest.raises(PrepError, match="line 4, column 'c'"):
        fit_prep(table, PrepRules(categorical_impute="refuse"))
    complete = read_table(write_csv("c.csv", "id,x\n1,2\n2,4\n"), SchemaSpec(), role="host")
    fitted = fit_prep(complete, PrepRules(numeric_impute="refuse"))
    with pytest.raises(PrepError, match="line 3, column 'x'"):
        fitted.transform(table)


def test_a_constant_or_all_missing_column_is_harmless(write_csv: WriteCsv) -> None:
    table = read_table(write_csv("t.csv", "id,k,m\n1,3,\n2,3,\n"), SchemaSpec(), role="host")
    out = fit_prep(table, PrepRules()).transform(table)
    assert np.isfinite(out).all() and (out == 0).all()


def test_the_rules_text_round_trips_and_the_digest_tells_them_apart() -> None:
    for rules in RULES:
        assert PrepRules.parse(rules.canonical()) == rules
    assert len({r.digest() for r in RULES}) == len(RULES)
    assert PrepRules.parse("clip=3;min_frequency=2") == PrepRules(clip=3.0, min_frequency=2)
    for bad in ("speed=1", "clip=-1", "min_frequency=x", "prep/v9:clip=1", "numeric_impute=max"):
        with pytest.raises(PrepError):
            PrepRules.parse(bad)
