"""A task's data schema: what every party's file holds and how it is preprocessed, as plain data.

The schema is part of the task spec, so every party reads, imputes and encodes its rows the same
way, with values the spec carries (fill values, ranges, category lists), never with values
fitted on pooled raw data. It declares either a **table** (ordered columns, each numeric,
categorical or dropped) or **images** (``(C, H, W)`` with a pixel scale), and a **target**
(binary with the rule mapping raw labels to 0/1, multi-class with its declared classes, or
regression).

A schema is JSON and nothing in it is ever code: :meth:`DataSchema.from_dict` accepts only the
keys and kinds below, bounds every size (columns, categories, tokens, image shape) so a crafted
schema cannot exhaust memory, and raises :class:`~fl_node.errors.SpecError` with the path of the
first fault (``"columns[3].fill: must be a finite number"``).

Raw values are compared in canonical form (:func:`canonical`): ``"1.0"``, ``"1"`` and ``" 1 "``
are the same category, as the UCI files write the same code both ways.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, cast

from fl_node.data._json import MAX_TEXT as MAX_TEXT
from fl_node.data._json import MAX_TOKENS as MAX_TOKENS
from fl_node.data._json import canonical as canonical
from fl_node.data._json import canonical_or as canonical_or
from fl_node.data._json import choice as _choice
from fl_node.data._json import fraction as _fraction
from fl_node.data._json import integer as _int
from fl_node.data._json import keys as _keys
from fl_node.data._json import load_json
from fl_node.data._json import mapping as _mapping
from fl_node.data._json import number as _number
from fl_node.data._json import numbers as _numbers
from fl_node.data._json import optional_number as _optional_number
from fl_node.data._json import text as _text
from fl_node.data._json import texts as _texts
from fl_node.errors import SpecError

SCHEMA_VERSION = 1
TARGET_KINDS = ("binary", "multiclass", "regression")
NUMERIC_IMPUTES = ("mean", "median", "constant")
CATEGORICAL_IMPUTES = ("most-frequent", "constant")

MAX_COLUMNS = 4096
"""Most columns a table may declare."""
MAX_CATEGORIES = 1024
"""Most categories of one column (and classes of a target)."""
MAX_ENCODED_WIDTH = 65536
"""Most features after one-hot encoding."""
MAX_IMAGE_VALUES = 3 * 512 * 512
"""Most values of one image (``C * H * W``)."""
IMAGE_CHANNELS = (1, 3, 4)
MAX_SCHEMA_BYTES = 4 << 20
"""Largest schema file read (4 MiB)."""

TargetKind = Literal["binary", "multiclass", "regression"]
ColumnKind = Literal["numeric", "categorical", "drop"]


@dataclass(frozen=True)
class NumericColumn:
    """A numeric feature: its declared range and how a missing cell is filled.

    ``fill`` is the value a missing cell takes, carried in the spec; ``impute`` records how it was
    derived (``"mean"``, ``"median"`` from the listings' statistics, or a ``"constant"``).
    ``missing_tokens`` are cells that mean missing (``"?"``), ``missing_values`` numbers that do
    (``0`` for a cholesterol of zero). ``max_missing`` overrides the schema's missing limit.
    """

    name: str
    minimum: float
    maximum: float
    fill: float
    impute: str = "mean"
    missing_tokens: tuple[str, ...] = ()
    missing_values: tuple[float, ...] = ()
    max_missing: float | None = None
    kind: ColumnKind = field(default="numeric", init=False)

    def width(self) -> int:
        """Features this column encodes to."""
        return 1

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        out: dict[str, object] = {
            "name": self.name,
            "kind": "numeric",
            "min": self.minimum,
            "max": self.maximum,
            "impute": self.impute,
            "fill": self.fill,
            "missing": list(self.missing_tokens),
            "missing_values": list(self.missing_values),
        }
        if self.max_missing is not None:
            out["max_missing"] = self.max_missing
        return out


@dataclass(frozen=True)
class CategoricalColumn:
    """A categorical feature: its declared categories (one-hot encoded) and its fill category."""

    name: str
    categories: tuple[str, ...]
    fill: str
    impute: str = "most-frequent"
    missing_tokens: tuple[str, ...] = ()
    max_missing: float | None = None
    kind: ColumnKind = field(default="categorical", init=False)

    def width(self) -> int:
        """Features this column encodes to (one per category)."""
        return len(self.categories)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        out: dict[str, object] = {
            "name": self.name,
            "kind": "categorical",
            "categories": list(self.categories),
            "impute": self.impute,
            "fill": self.fill,
            "missing": list(self.missing_tokens),
        }
        if self.max_missing is not None:
            out["max_missing"] = self.max_missing
        return out


@dataclass(frozen=True)
class DroppedColumn:
    """A column present in the files and ignored (an id, a column too sparse to use)."""

    name: str
    kind: ColumnKind = field(default="drop", init=False)

    def width(self) -> int:
        """Features this column encodes to (none)."""
        return 0

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {"name": self.name, "kind": "drop"}


Column = NumericColumn | CategoricalColumn | DroppedColumn


@dataclass(frozen=True)
class Target:
    """The label: its column and kind, with the rule mapping raw values to what a model learns.

    Binary: raw values in ``negative`` map to 0, in ``positive`` to 1. Multi-class: raw values in
    ``classes`` map to their index. Regression: the value itself, a number (``minimum`` and
    ``maximum`` bound it when given). ``class_names`` label the classes in reports.
    """

    column: str
    kind: TargetKind
    positive: tuple[str, ...] = ()
    negative: tuple[str, ...] = ()
    classes: tuple[str, ...] = ()
    class_names: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    missing_tokens: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        out: dict[str, object] = {"column": self.column, "kind": self.kind}
        if self.kind == "binary" and (self.positive or self.negative):
            out.update(positive=list(self.positive), negative=list(self.negative))
        if self.kind == "multiclass" and self.classes:
            out["classes"] = list(self.classes)
        if self.class_names:
            out["class_names"] = list(self.class_names)
        if self.kind == "regression":
            out.update(min=self.minimum, max=self.maximum)
        if self.missing_tokens:
            out["missing"] = list(self.missing_tokens)
        return out

    def mapping(self) -> dict[str, int]:
        """Canonical raw value -> class index (binary and multi-class)."""
        if self.kind == "binary":
            return {
                **{canonical(v): 0 for v in self.negative},
                **{canonical(v): 1 for v in self.positive},
            }
        return {canonical(v): i for i, v in enumerate(self.classes)}


@dataclass(frozen=True)
class ImageSpec:
    """Images of shape ``(channels, height, width)``; pixels are divided by ``pixel_max``."""

    channels: int
    height: int
    width: int
    pixel_max: float = 255.0

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(C, H, W)``."""
        return (self.channels, self.height, self.width)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {"shape": list(self.shape), "pixel_max": self.pixel_max}


@dataclass(frozen=True)
class DataSchema:
    """What a party's data holds and how it is preprocessed: a table or images, and a target.

    ``missing_limit`` is the sponsor contract's limit on the share of missing cells per column
    (5 %); a column's ``max_missing`` overrides it where the spec says so.
    """

    name: str
    target: Target
    columns: tuple[Column, ...] = ()
    image: ImageSpec | None = None
    missing_limit: float = 0.05
    notes: str = ""

    def __post_init__(self) -> None:
        _check_schema(self)

    @property
    def target_kind(self) -> TargetKind:
        """``"binary"``, ``"multiclass"`` or ``"regression"``."""
        return self.target.kind

    @property
    def n_classes(self) -> int:
        """Classes of the target (2 for binary, 1 for regression: one output)."""
        if self.target.kind == "binary":
            return 2
        if self.target.kind == "multiclass":
            return len(self.target.classes)
        return 1

    @property
    def class_names(self) -> tuple[str, ...]:
        """Names of the classes (declared names, else the raw values); empty for regression."""
        if self.target.class_names:
            return self.target.class_names
        if self.target.kind == "binary":
            return ("0", "1")
        return tuple(canonical(c) for c in self.target.classes)

    @property
    def feature_columns(self) -> tuple[NumericColumn | CategoricalColumn, ...]:
        """The columns that become features, in order."""
        return tuple(c for c in self.columns if not isinstance(c, DroppedColumn))

    @property
    def input_shape(self) -> tuple[int, ...]:
        """``(d,)`` for a table, ``(C, H, W)`` for images."""
        if self.image is not None:
            return self.image.shape
        return (len(self.encoded_names()),)

    def column_names(self) -> tuple[str, ...]:
        """The raw columns of a table file, in order (features, dropped and target)."""
        return tuple(c.name for c in self.columns)

    def encoded_names(self) -> tuple[str, ...]:
        """Feature names after one-hot encoding (``cp=1``); pixel names for images."""
        if self.image is not None:
            c, h, w = self.image.shape
            return tuple(f"c{k}_{i}_{j}" for k in range(c) for i in range(h) for j in range(w))
        names: list[str] = []
        for col in self.feature_columns:
            if isinstance(col, CategoricalColumn):
                names.extend(f"{col.name}={canonical(v)}" for v in col.categories)
            else:
                names.append(col.name)
        return tuple(names)

    def limit_of(self, column: NumericColumn | CategoricalColumn) -> float:
        """The share of missing cells ``column`` may have."""
        return self.missing_limit if column.max_missing is None else column.max_missing

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form (:meth:`from_dict` reads it back)."""
        out: dict[str, object] = {
            "version": SCHEMA_VERSION,
            "name": self.name,
            "target": self.target.to_dict(),
            "missing_limit": self.missing_limit,
        }
        if self.image is not None:
            out["image"] = self.image.to_dict()
        else:
            out["columns"] = [c.to_dict() for c in self.columns]
        if self.notes:
            out["notes"] = self.notes
        return out

    def to_json(self) -> str:
        """The schema as indented JSON text."""
        return json.dumps(self.to_dict(), indent=2) + "\n"

    def save(self, path: str | Path) -> Path:
        """Write the schema's JSON to ``path``."""
        target = Path(path)
        target.write_text(self.to_json(), encoding="utf-8")
        return target

    @classmethod
    def load(cls, path: str | Path) -> DataSchema:
        """Read a schema file (at most :data:`MAX_SCHEMA_BYTES`), raising :class:`SpecError`."""
        source = Path(path)
        raw = load_json(source, MAX_SCHEMA_BYTES, "schema")
        try:
            return cls.from_dict(raw)
        except SpecError as exc:
            raise SpecError(f"{source}: {exc}") from None

    @classmethod
    def from_dict(cls, raw: object) -> DataSchema:
        """Parse and validate a schema document.

        Parameters
        ----------
        raw : object
            The decoded JSON.

        Raises
        ------
        SpecError
            Anything malformed: unknown keys or kinds, wrong types, sizes over the bounds,
            duplicate names, fill values outside their declarations.
        """
        doc = _mapping(raw, "schema")
        _keys(
            doc,
            "schema",
            {"version", "name", "target", "columns", "image", "missing_limit", "notes"},
        )
        if doc.get("version", SCHEMA_VERSION) != SCHEMA_VERSION:
            raise SpecError(f"schema.version: must be {SCHEMA_VERSION}")
        image = doc.get("image")
        columns = doc.get("columns")
        if (image is None) == (columns is None):
            raise SpecError("schema: declare exactly one of 'columns' (a table) or 'image'")
        return cls(
            name=_text(doc.get("name"), "schema.name"),
            target=parse_target(doc.get("target"), "schema.target"),
            columns=_columns(columns) if columns is not None else (),
            image=_image(image, "schema.image") if image is not None else None,
            missing_limit=_fraction(doc.get("missing_limit", 0.05), "schema.missing_limit"),
            notes=_text(doc.get("notes", ""), "schema.notes", limit=4000, empty=True),
        )


def _column(raw: object, where: str) -> Column:
    doc = _mapping(raw, where)
    kind = _choice(doc.get("kind"), f"{where}.kind", ("numeric", "categorical", "drop"))
    name = _text(doc.get("name"), f"{where}.name")
    if kind == "drop":
        _keys(doc, where, {"name", "kind"})
        return DroppedColumn(name)
    limit = doc.get("max_missing")
    max_missing = None if limit is None else _fraction(limit, f"{where}.max_missing")
    tokens = _texts(doc.get("missing", []), f"{where}.missing", MAX_TOKENS)
    if kind == "categorical":
        _keys(
            doc, where, {"name", "kind", "categories", "impute", "fill", "missing", "max_missing"}
        )
        return CategoricalColumn(
            name=name,
            categories=_texts(doc.get("categories"), f"{where}.categories", MAX_CATEGORIES),
            fill=_text(canonical_or(doc.get("fill")), f"{where}.fill"),
            impute=_choice(
                doc.get("impute", "most-frequent"), f"{where}.impute", CATEGORICAL_IMPUTES
            ),
            missing_tokens=tokens,
            max_missing=max_missing,
        )
    _keys(
        doc,
        where,
        {
            "name",
            "kind",
            "min",
            "max",
            "impute",
            "fill",
            "missing",
            "missing_values",
            "max_missing",
        },
    )
    return NumericColumn(
        name=name,
        minimum=_number(doc.get("min"), f"{where}.min"),
        maximum=_number(doc.get("max"), f"{where}.max"),
        fill=_number(doc.get("fill"), f"{where}.fill"),
        impute=_choice(doc.get("impute", "mean"), f"{where}.impute", NUMERIC_IMPUTES),
        missing_tokens=tokens,
        missing_values=_numbers(doc.get("missing_values", []), f"{where}.missing_values"),
        max_missing=max_missing,
    )


def _columns(raw: object) -> tuple[Column, ...]:
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_COLUMNS:
        raise SpecError(f"schema.columns: must be a list of 1 to {MAX_COLUMNS} columns")
    return tuple(_column(c, f"schema.columns[{i}]") for i, c in enumerate(raw))


def parse_target(raw: object, where: str, *, strict: bool = True) -> Target:
    """Parse a target's JSON; ``strict=False`` lets a plan leave its classes to be derived."""
    doc = _mapping(raw, where)
    _keys(
        doc,
        where,
        {
            "column",
            "kind",
            "positive",
            "negative",
            "classes",
            "class_names",
            "min",
            "max",
            "missing",
        },
    )
    kind = cast(TargetKind, _choice(doc.get("kind"), f"{where}.kind", TARGET_KINDS))
    need = {"binary": ("positive", "negative"), "multiclass": ("classes",), "regression": ()}[kind]
    for key in need if strict else ():
        if key not in doc:
            raise SpecError(f"{where}.{key}: a {kind} target must declare it")
    return Target(
        column=_text(doc.get("column", "label"), f"{where}.column"),
        kind=kind,
        positive=_texts(doc.get("positive", []), f"{where}.positive", MAX_CATEGORIES),
        negative=_texts(doc.get("negative", []), f"{where}.negative", MAX_CATEGORIES),
        classes=_texts(doc.get("classes", []), f"{where}.classes", MAX_CATEGORIES),
        class_names=_texts(doc.get("class_names", []), f"{where}.class_names", MAX_CATEGORIES),
        minimum=_optional_number(doc.get("min"), f"{where}.min"),
        maximum=_optional_number(doc.get("max"), f"{where}.max"),
        missing_tokens=_texts(doc.get("missing", []), f"{where}.missing", MAX_TOKENS),
    )


def _image(raw: object, where: str) -> ImageSpec:
    doc = _mapping(raw, where)
    _keys(doc, where, {"shape", "pixel_max"})
    shape = doc.get("shape")
    if not isinstance(shape, list) or len(shape) != 3:
        raise SpecError(f"{where}.shape: must be [C, H, W]")
    spec = ImageSpec(
        channels=_int(shape[0], f"{where}.shape[0]", 1, 4),
        height=_int(shape[1], f"{where}.shape[1]", 1, 1024),
        width=_int(shape[2], f"{where}.shape[2]", 1, 1024),
        pixel_max=_number(doc.get("pixel_max", 255.0), f"{where}.pixel_max"),
    )
    return spec


# --- whole-schema checks ---------------------------------------------------------------------


def _check_schema(schema: DataSchema) -> None:
    """Cross-field rules (also enforced on schemas built in code, not only parsed ones)."""
    if not 0.0 <= schema.missing_limit <= 1.0:
        raise SpecError("schema.missing_limit: must be between 0 and 1")
    if schema.image is not None:
        _check_image(schema.image)
        if schema.columns:
            raise SpecError("schema: declare exactly one of 'columns' (a table) or 'image'")
    else:
        _check_table(schema)
    _check_target(schema.target)


def _check_image(image: ImageSpec) -> None:
    if image.channels not in IMAGE_CHANNELS:
        raise SpecError(f"schema.image.shape: channels must be one of {IMAGE_CHANNELS}")
    if not (1 <= image.height <= 1024 and 1 <= image.width <= 1024):
        raise SpecError("schema.image.shape: height and width must be from 1 to 1024")
    if image.channels * image.height * image.width > MAX_IMAGE_VALUES:
        raise SpecError(f"schema.image.shape: at most {MAX_IMAGE_VALUES} values per image")
    if not (math.isfinite(image.pixel_max) and image.pixel_max > 0):
        raise SpecError("schema.image.pixel_max: must be a positive number")


def _check_table(schema: DataSchema) -> None:
    names = [c.name for c in schema.columns]
    if not 1 <= len(names) <= MAX_COLUMNS:
        raise SpecError(f"schema.columns: must hold 1 to {MAX_COLUMNS} columns")
    if len(set(names)) != len(names):
        raise SpecError("schema.columns: column names must be distinct")
    if schema.target.column not in names:
        raise SpecError(f"schema.target.column: {schema.target.column!r} is not a declared column")
    target_col = schema.columns[names.index(schema.target.column)]
    if not isinstance(target_col, DroppedColumn):
        raise SpecError("schema.target.column: declare the label column with kind 'drop'")
    if not schema.feature_columns:
        raise SpecError("schema.columns: at least one feature column")
    for i, col in enumerate(schema.columns):
        _check_column(col, f"schema.columns[{i}]")
    if sum(c.width() for c in schema.columns) > MAX_ENCODED_WIDTH:
        raise SpecError(f"schema.columns: at most {MAX_ENCODED_WIDTH} features after encoding")


def _check_column(col: Column, where: str) -> None:
    if isinstance(col, NumericColumn):
        values = (col.minimum, col.maximum, col.fill, *col.missing_values)
        if not all(math.isfinite(v) for v in values) or col.minimum > col.maximum:
            raise SpecError(f"{where}: min <= max and every value finite")
        if not col.minimum <= col.fill <= col.maximum:
            raise SpecError(f"{where}.fill: {col.fill} is outside [{col.minimum}, {col.maximum}]")
    elif isinstance(col, CategoricalColumn):
        if not col.categories:
            raise SpecError(f"{where}.categories: at least one category")
        if canonical(col.fill) not in {canonical(c) for c in col.categories}:
            raise SpecError(f"{where}.fill: {col.fill!r} is not a declared category")


def _check_target(target: Target) -> None:
    if target.kind == "binary":
        pos = {canonical(v) for v in target.positive}
        neg = {canonical(v) for v in target.negative}
        if not pos or not neg or pos & neg:
            raise SpecError("schema.target: positive and negative values, non-empty and disjoint")
    elif target.kind == "multiclass" and len(target.classes) < 2:
        raise SpecError("schema.target.classes: at least two classes")
    if target.class_names and len(target.class_names) != (
        2 if target.kind == "binary" else len(target.classes)
    ):
        raise SpecError("schema.target.class_names: one name per class")
    if (
        target.minimum is not None
        and target.maximum is not None
        and target.minimum > target.maximum
    ):
        raise SpecError("schema.target: min <= max")
