"""Checking a party's data against the schema and encoding it by the schema's carried rules.

On the raw UCI heart hospitals, MNIST, the FATE vehicle data and crafted faults.
"""

from __future__ import annotations

import csv

import numpy as np
import pytest

from fl_node.data import DataSchema, RawImages, check, encode, infer_schema, load_party, read_csv
from fl_node.data.schema import CategoricalColumn, NumericColumn, canonical
from fl_node.errors import DataError

TOY = DataSchema.from_dict({
    "name": "toy",
    "target": {"column": "y", "kind": "binary", "positive": ["1", "2"], "negative": ["0"]},
    "columns": [
        {"name": "x", "kind": "numeric", "min": 0, "max": 10, "fill": 5, "missing": ["?"],
         "missing_values": [0]},
        {"name": "c", "kind": "categorical", "categories": ["u", "v"], "fill": "v",
         "missing": ["?"]},
        {"name": "y", "kind": "drop"},
    ],
})  # fmt: skip


def _table(tmp_path, rows):
    path = tmp_path / "party.csv"
    with path.open("w", newline="") as fh:
        csv.writer(fh).writerows([["x", "c", "y"], *rows])
    return read_csv(path, TOY)


def test_a_clean_file_passes_and_encodes_with_the_carried_fill(tmp_path):
    table = _table(tmp_path, [["1", "u", "0"], ["?", "v", "2"], ["0", "?", "1.0"]])
    report = check(DataSchema.from_dict({**TOY.to_dict(), "missing_limit": 0.7}), table)
    assert report.ok and report.rows == 3
    assert report.label.counts == (("0", 1), ("1", 2))
    data = encode(TOY, table)
    np.testing.assert_array_equal(data.x, [[1, 1, 0], [5, 0, 1], [5, 0, 1]])
    assert data.y.dtype == np.float32 and data.y.tolist() == [0, 1, 1]


def test_each_fault_is_one_line_naming_the_column_and_line(tmp_path):
    rows = [["1", "u", "0"]] * 17 + [["11", "w", "0"], ["?", "u", "7"], ["abc", "u", ""]]
    report = check(TOY, _table(tmp_path, rows))
    assert not report.ok
    assert len(report.problems) == 5  # 1 of 20 cells of x missing: 5 %, at the limit
    text = "\n".join(report.problems)
    assert "column x: 1 cells are not numbers (first at line 19)" in text
    assert "column x: 1 values outside [0, 10] (first at line 19)" in text
    assert "column c: 1 cells of undeclared categories ('w') (first at line 19)" in text
    assert "label: 1 rows have no label (first at line 20)" in text
    assert "label: 1 rows with undeclared values ('7')" in text
    assert all("\n" not in p for p in report.problems)
    with pytest.raises(DataError, match="party.csv, line 21, column x: 'abc' is not a number"):
        encode(TOY, _table(tmp_path, rows))


def test_missing_cells_above_the_limit_are_flagged(tmp_path):
    rows = [["?", "u", "0"]] * 2 + [["1", "u", "1"]] * 38  # 5 % missing: at the limit
    assert check(TOY, _table(tmp_path, rows)).ok
    rows = [["?", "u", "0"]] * 3 + [["1", "u", "1"]] * 37  # 7.5 %
    report = check(TOY, _table(tmp_path, rows))
    assert report.problems == ("column x: 7.5% missing (3 cells; limit 5.0%)",)
    assert report.columns[0].missing == 3


def test_the_four_raw_heart_hospitals_check_and_encode(heart_schema, heart_tables):
    encoded_width = len(heart_schema.encoded_names())
    for hospital, table in heart_tables.items():
        report = check(heart_schema, table)
        assert report.ok, (hospital, report.problems)
        data = encode(heart_schema, table, hospital)
        assert data.x.shape == (table.rows, encoded_width) and np.isfinite(data.x).all()
        expected = [float(canonical(v) != "0") for v in table.column("num")]
        assert data.y.tolist() == expected  # num > 0 is disease, brute force
        _one_hot_groups_sum_to_one(heart_schema, data.x)
    switzerland = check(heart_schema, heart_tables["switzerland"])
    chol = next(c for c in switzerland.columns if c.name == "chol")
    assert chol.missing == 123  # every cholesterol there is 0: missing
    assert heart_tables["switzerland"].rows == 123


def _one_hot_groups_sum_to_one(schema, x):
    start = 0
    for col in schema.feature_columns:
        if isinstance(col, CategoricalColumn):
            np.testing.assert_array_equal(x[:, start : start + col.width()].sum(axis=1), 1.0)
        start += col.width()


def test_heart_cells_take_the_declared_fill(heart_schema, heart_tables):
    va = heart_tables["va"]
    data = encode(heart_schema, va)
    names = heart_schema.encoded_names()
    chol = next(c for c in heart_schema.columns if c.name == "chol")
    assert isinstance(chol, NumericColumn)
    raw = va.column("chol")
    missing = [i for i, v in enumerate(raw) if canonical(v) in ("?", "0")]
    assert len(missing) == 56
    assert (data.x[missing, names.index("chol")] == np.float32(chol.fill)).all()
    thal_missing = [i for i, v in enumerate(va.column("thal")) if v.strip() == "?"]
    assert (data.x[thal_missing, names.index("thal=missing")] == 1).all()


def test_an_unknown_category_is_reported_and_refused_by_the_encoder(heart_schema, tmp_path):
    path = tmp_path / "clinic.data"
    path.write_text("63,1,9,145,233,1,2,150,0,2.3,3,0,6,0\n")  # cp 9 is not a chest pain type
    table = read_csv(path, heart_schema)
    assert check(heart_schema, table).problems == (
        "column cp: 1 cells of undeclared categories ('9') (first at line 1)",
    )
    with pytest.raises(DataError, match="clinic.data, line 1, column cp: category '9'"):
        encode(heart_schema, table)


def test_mnist_images_check_and_encode_to_unit_scale(shared_data):
    from fl_node.data import load_schema

    mnist = load_schema("mnist")
    data = load_party(shared_data / "mnist_t10k" / "t10k-images-idx3-ubyte.gz", mnist)
    assert data.x.shape == (10_000, 1, 28, 28) and data.x.dtype == np.float32
    assert data.x.min() == 0.0 and data.x.max() == 1.0
    assert data.y.dtype == np.int64 and np.bincount(data.y)[1] == 1135
    bad = RawImages("crafted", np.full((2, 1, 28, 28), 300.0), ("3", "x"))
    report = check(mnist, bad)
    assert report.problems == (
        "pixels: 1568 values outside [0, 255]",
        "label: 1 rows with undeclared values ('x') (first at image 2)",
    )


def test_the_vehicle_data_is_a_four_class_task(shared_data):
    folder = shared_data / "fate_vehicle_scale_homo"
    guest = read_csv(folder / "vehicle_scale_homo_guest.csv")
    schema = infer_schema(guest, label="y", kind="multiclass", drop=["id"], name="vehicle")
    assert schema.n_classes == 4 and schema.input_shape == (18,)
    test = load_party(folder / "vehicle_scale_homo_test.csv", schema)
    assert test.y.dtype == np.int64 and sorted(set(test.y.tolist())) == [0, 1, 2, 3]
    raw = read_csv(folder / "vehicle_scale_homo_test.csv", schema)
    assert test.x[:, 0].tolist() == pytest.approx([float(v) for v in raw.column("x0")])


def test_a_regression_target_encodes_its_values(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("a,t\n1,2.5\n2,-1\n3,?\n")
    table = read_csv(path)
    schema = infer_schema(table, label="t", kind="regression", missing_tokens=["?"])
    assert schema.n_classes == 1 and schema.class_names == ()
    report = check(schema, table)
    assert report.problems == ("label: 1 rows have no label (first at line 4)",)
    assert report.label.balance() == "values from -1 to 2.5"
    with pytest.raises(DataError, match="line 4: label '\\?' is no number"):
        encode(schema, table)
    path.write_text("a,t\n1,2.5\n2,-1\n")
    data = encode(schema, read_csv(path))
    assert data.y.dtype == np.float32 and data.y.tolist() == [2.5, -1.0]
