"""The data schema: JSON round trips, derived names and shapes, refusing crafted documents."""

from __future__ import annotations

import copy
import json

import pytest

from fl_node.data import DataSchema, load_schema
from fl_node.data.schema import MAX_CATEGORIES, MAX_SCHEMA_BYTES, canonical
from fl_node.errors import DataError, SpecError

TABLE = {
    "version": 1,
    "name": "toy",
    "target": {"column": "y", "kind": "binary", "positive": ["yes"], "negative": ["no"]},
    "columns": [
        {"name": "id", "kind": "drop"},
        {"name": "age", "kind": "numeric", "min": 0, "max": 120, "impute": "median",
         "fill": 40, "missing": ["?"], "missing_values": [0]},
        {"name": "colour", "kind": "categorical", "categories": ["red", "green", 3],
         "fill": "red", "missing": ["?"]},
        {"name": "y", "kind": "drop"},
    ],
}  # fmt: skip


def test_a_table_schema_round_trips_and_names_its_encoded_features():
    schema = DataSchema.from_dict(TABLE)
    assert DataSchema.from_dict(json.loads(json.dumps(schema.to_dict()))) == schema
    assert schema.encoded_names() == ("age", "colour=red", "colour=green", "colour=3")
    assert schema.input_shape == (4,)
    assert (schema.target_kind, schema.n_classes, schema.class_names) == ("binary", 2, ("0", "1"))


def test_the_ready_schemas_load_with_their_shapes():
    heart = load_schema("heart-disease")
    assert heart.target_kind == "binary" and heart.input_shape == (23,)
    assert heart.class_names == ("no disease", "disease")
    assert [c.name for c in heart.feature_columns if c.kind == "categorical"] == [
        "cp", "restecg", "slope", "thal",
    ]  # fmt: skip
    mnist = load_schema("mnist")
    assert mnist.input_shape == (1, 28, 28) and mnist.n_classes == 10
    assert len(mnist.encoded_names()) == 784
    with pytest.raises(DataError, match="no ready schema"):
        load_schema("../../etc/passwd")


def test_canonical_writes_a_number_one_way():
    assert canonical(" 1.0 ") == canonical("1") == "1"
    assert canonical("0.5") == "0.5" and canonical("?") == "?" and canonical("nan") == "nan"


def _with(path: str, value: object) -> dict[str, object]:
    doc = copy.deepcopy(TABLE)
    node: object = doc
    keys = path.split(".")
    for key in keys[:-1]:
        node = node[int(key)] if isinstance(node, list) else node[key]  # type: ignore[index]
    if value is _DELETE:
        del node[keys[-1]]  # type: ignore[union-attr]
    elif isinstance(node, list):
        node[int(keys[-1])] = value
    else:
        node[keys[-1]] = value  # type: ignore[index]
    return doc


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("version", 2, "schema.version"),
        ("name", "", "schema.name"),
        ("target.kind", "ranking", "target.kind"),
        ("target.positive", ["no"], "disjoint"),
        ("target.negative", _DELETE, "must declare it"),
        ("target.column", "age", "kind 'drop'"),
        ("target.column", "nowhere", "not a declared column"),
        ("columns.1.kind", "python", "columns\\[1\\].kind"),
        ("columns.1.fill", 500, "outside"),
        ("columns.1.fill", float("nan"), "finite"),
        ("columns.1.fill", "__import__('os').system('x')", "finite number"),
        ("columns.1.min", True, "finite number"),
        ("columns.1.impute", "model", "impute"),
        ("columns.1.code", "print(1)", "unknown key 'code'"),
        ("columns.2.fill", "blue", "not a declared category"),
        ("columns.2.categories", ["a"] * 2, "distinct"),
        ("columns.2.categories", [str(i) for i in range(MAX_CATEGORIES + 1)], "at most"),
        ("columns.2.categories", [{"x": 1}], "string"),
        ("columns.3.name", "age", "distinct"),
        ("columns", [], "1 to"),
        ("missing_limit", 1.5, "between 0 and 1"),
        ("image", {"shape": [1, 28, 28]}, "exactly one"),
    ],
)
def test_a_malformed_schema_is_refused_with_where_the_fault_is(path, value, message):
    with pytest.raises(SpecError, match=message):
        DataSchema.from_dict(_with(path, value))


IMAGE = {"version": 1, "name": "img", "image": {"shape": [3, 32, 32]},
         "target": {"kind": "multiclass", "classes": ["cat", "dog"]}}  # fmt: skip


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        ([3, 1_000_000, 1_000_000], "from 1 to 1024"),
        ([4, 1024, 1024], "values per image"),
        ([2, 28, 28], "channels"),
        ([1, 28], "\\[C, H, W\\]"),
        ([1, 28.5, 28], "integer"),
        ("1x28x28", "\\[C, H, W\\]"),
    ],
)
def test_an_image_shape_too_large_or_malformed_is_refused(shape, message):
    doc = copy.deepcopy(IMAGE)
    doc["image"] = {"shape": shape}
    with pytest.raises(SpecError, match=message):
        DataSchema.from_dict(doc)


def test_an_image_schema_has_its_shape_and_classes():
    schema = DataSchema.from_dict(IMAGE)
    assert schema.input_shape == (3, 32, 32) and schema.class_names == ("cat", "dog")
    assert schema.n_classes == 2 and DataSchema.from_dict(schema.to_dict()) == schema


def test_a_schema_file_that_is_not_json_huge_or_deep_is_refused(tmp_path):
    cases = {
        "text.json": b"columns: [age]",
        "nan.json": json.dumps(TABLE).replace('"fill": 40', '"fill": NaN').encode(),
        "deep.json": b"[" * 100_000 + b"]" * 100_000,
        "huge.json": b" " * (MAX_SCHEMA_BYTES + 1),
        "latin1.json": '{"name": "caf\xe9"}'.encode("latin-1"),
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(SpecError, match=name):
            DataSchema.load(tmp_path / name)
    with pytest.raises(SpecError, match="cannot read"):
        DataSchema.load(tmp_path / "absent.json")
    good = DataSchema.from_dict(TABLE).save(tmp_path / "good.json")
    assert DataSchema.load(good) == DataSchema.from_dict(TABLE)


def test_the_depth_check_reads_brackets_inside_strings_as_text(tmp_path):
    doc = copy.deepcopy(TABLE)
    doc["notes"] = '[[[[ {{{{ \\" [[[[[[[[[[[[[[[[[[[[[[ "' * 3
    path = tmp_path / "brackets.json"
    path.write_text(json.dumps(doc))
    assert DataSchema.load(path).notes == doc["notes"]
