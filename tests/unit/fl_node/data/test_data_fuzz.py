"""Any bytes as a party's file and any JSON as a schema: only the project's errors come out."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fl_node.data import DataSchema, check, encode, load_schema, read_raw
from fl_node.errors import DataError, SpecError

HEART = load_schema("heart-disease")
MNIST = load_schema("mnist")
FIXTURES = [HealthCheck.function_scoped_fixture]  # tmp_path is rewritten on every example
SUFFIXES = st.sampled_from([".csv", ".npz", ".csv.gz", "-images-idx3-ubyte"])
KEYS = st.sampled_from(["target", "columns", "name", "image", "missing_limit"])
CELLS = st.sampled_from(["63", "1.0", "?", "", "0", "-1e308", "nan", "inf", "x", '"', "\x00", "7"])


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=st.lists(st.lists(CELLS, min_size=12, max_size=15), min_size=0, max_size=6))
def test_any_table_is_read_checked_and_encoded_or_refused_as_data(tmp_path, rows):
    path = tmp_path / "party.data"
    path.write_text("\n".join(",".join(r) for r in rows), encoding="utf-8")
    try:
        raw = read_raw(path, HEART)
        report = check(HEART, raw)
        if report.ok:
            data = encode(HEART, raw)
            assert data.x.shape == (raw.rows, 23)
    except DataError:
        pass


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=st.binary(max_size=400),
    suffix=st.sampled_from([".csv", ".npz", ".csv.gz", "-images-idx3-ubyte"]),
)
def test_any_bytes_are_read_or_refused_as_data(tmp_path, data, suffix):
    path = tmp_path / f"party{suffix}"
    path.write_bytes(data)
    for schema in (HEART, MNIST):
        try:
            read_raw(path, schema)
        except DataError:
            pass


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(
    edit=st.tuples(st.sampled_from(["target", "columns", "name", "image", "missing_limit"]), JSON)
)
def test_any_json_in_a_schema_is_parsed_or_refused_as_a_spec_error(edit):
    doc = json.loads(HEART.to_json())
    key, value = edit
    doc[key] = value
    try:
        DataSchema.from_dict(doc)
    except SpecError:
        pass
