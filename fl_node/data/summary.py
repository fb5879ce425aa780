"""What the sponsor and the parties exchange to derive a schema: plans and summaries, as JSON.

A :class:`SchemaPlan` is a table schema without its values (kinds, missing rules, imputation
rules); a :class:`PartySummary` is what one party publishes about its own file under a plan:
per numeric column its count, missing cells, sum and range (and, for a column imputed by its
median, its quantiles every 5 %), per categorical column and for the label its rows per value.
:mod:`fl_node.data.derive` computes and combines them.

Both are JSON (``to_dict`` / ``from_dict`` / ``load``), parsed as strictly as a schema: unknown
keys, wrong types, non-finite numbers, negative counts, unsorted quantiles and sizes over the
schema's bounds are refused with :class:`~fl_node.errors.SpecError` naming where the fault is.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from fl_node.data._json import (
    MAX_TOKENS,
    choice,
    fraction,
    integer,
    keys,
    load_json,
    mapping,
    number,
    numbers,
    text,
    texts,
)
from fl_node.data.schema import (
    MAX_CATEGORIES,
    MAX_COLUMNS,
    ColumnKind,
    Target,
    canonical,
    parse_target,
)
from fl_node.errors import SpecError

QUANTILE_LEVELS = tuple(i / 20 for i in range(21))
"""The levels at which a party publishes a numeric column's quantiles (every 5 %), only for a
column imputed by its median: a finer grid would all but list a small party's values."""
MAX_DOCUMENT_BYTES = 16 << 20
"""Largest plan or summary file read (16 MiB)."""
MAX_COUNT = 10**12
"""Largest count a summary may state."""
SUMMARY_VERSION = 1


@dataclass(frozen=True)
class ColumnPlan:
    """What a column is and how its missing cells are filled, before any value is known.

    ``impute``: ``"mean"``, ``"median"`` or ``"constant"`` for numbers, ``"most-frequent"`` or
    ``"constant"`` for categories; ``constant`` is the fill of a constant rule. ``categories``
    are declared first, in order, before those the parties report.
    """

    name: str
    kind: ColumnKind
    impute: str = ""
    constant: float | str | None = None
    missing_tokens: tuple[str, ...] = ()
    missing_values: tuple[float, ...] = ()
    max_missing: float | None = None
    categories: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.impute and self.kind != "drop":
            object.__setattr__(self, "impute", self.rule())  # the kind's default, spelled out

    def rule(self) -> str:
        """The imputation rule (the kind's default when none is given)."""
        return self.impute or ("mean" if self.kind == "numeric" else "most-frequent")

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        out: dict[str, object] = {"name": self.name, "kind": self.kind}
        if self.kind != "drop":
            out.update(impute=self.rule(), missing=list(self.missing_tokens))
            if self.constant is not None:
                out["constant"] = self.constant
            if self.max_missing is not None:
                out["max_missing"] = self.max_missing
        if self.missing_values:
            out["missing_values"] = list(self.missing_values)
        if self.categories:
            out["categories"] = list(self.categories)
        return out

    @classmethod
    def from_dict(cls, raw: object, where: str = "column") -> ColumnPlan:
        """Parse :meth:`to_dict` output."""
        doc = mapping(raw, where)
        allowed = {"name", "kind", "impute", "constant", "missing", "missing_values",
                   "max_missing", "categories"}  # fmt: skip
        keys(doc, where, allowed)
        kind = cast(
            ColumnKind, choice(doc.get("kind"), f"{where}.kind", ("numeric", "categorical", "drop"))
        )
        rules = {
            "numeric": ("mean", "median", "constant"),
            "categorical": ("most-frequent", "constant"),
            "drop": ("",),
        }
        impute = choice(doc.get("impute", rules[kind][0]), f"{where}.impute", rules[kind])
        constant = doc.get("constant")
        if impute == "constant":
            constant = (
                number(constant, f"{where}.constant")
                if kind == "numeric"
                else text(
                    str(constant) if isinstance(constant, int | float) else constant,
                    f"{where}.constant",
                )
            )
        limit = doc.get("max_missing")
        return cls(
            name=text(doc.get("name"), f"{where}.name"),
            kind=kind,
            impute=impute,
            constant=cast(float | str | None, constant if impute == "constant" else None),
            missing_tokens=texts(doc.get("missing", []), f"{where}.missing", MAX_TOKENS),
            missing_values=numbers(doc.get("missing_values", []), f"{where}.missing_values"),
            max_missing=None if limit is None else fraction(limit, f"{where}.max_missing"),
            categories=texts(doc.get("categories", []), f"{where}.categories", MAX_CATEGORIES),
        )


@dataclass(frozen=True)
class SchemaPlan:
    """A table schema without its values: columns in file order, the target, the limits.

    The target's classes may be left empty: they are then the label values the parties report
    (sorted; for a binary target with two values, the larger one is positive).
    """

    name: str
    columns: tuple[ColumnPlan, ...]
    target: Target
    missing_limit: float = 0.05
    notes: str = ""

    def features(self) -> tuple[ColumnPlan, ...]:
        """Columns that become features."""
        return tuple(c for c in self.columns if c.kind != "drop")

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "version": SUMMARY_VERSION,
            "name": self.name,
            "columns": [c.to_dict() for c in self.columns],
            "target": self.target.to_dict(),
            "missing_limit": self.missing_limit,
            "notes": self.notes,
        }

    @classmethod
    def from_dict(cls, raw: object) -> SchemaPlan:
        """Parse :meth:`to_dict` output."""
        doc = mapping(raw, "plan")
        keys(doc, "plan", {"version", "name", "columns", "target", "missing_limit", "notes"})
        _version(doc, "plan")
        columns = doc.get("columns")
        if not isinstance(columns, list) or not 1 <= len(columns) <= MAX_COLUMNS:
            raise SpecError(f"plan.columns: must be a list of 1 to {MAX_COLUMNS} columns")
        parsed = tuple(ColumnPlan.from_dict(c, f"plan.columns[{i}]") for i, c in enumerate(columns))
        if len({c.name for c in parsed}) != len(parsed):
            raise SpecError("plan.columns: column names must be distinct")
        return cls(
            name=text(doc.get("name"), "plan.name"),
            columns=parsed,
            target=parse_target(doc.get("target"), "plan.target", strict=False),
            missing_limit=fraction(doc.get("missing_limit", 0.05), "plan.missing_limit"),
            notes=text(doc.get("notes", ""), "plan.notes", limit=4000, empty=True),
        )

    @classmethod
    def load(cls, path: str | Path) -> SchemaPlan:
        """Read a plan file."""
        return cls.from_dict(load_json(Path(path), MAX_DOCUMENT_BYTES, "plan"))


@dataclass(frozen=True)
class NumericSummary:
    """One party's numeric column: counts, sum, range and quantiles at :data:`QUANTILE_LEVELS`."""

    count: int
    missing: int
    total: float
    minimum: float
    maximum: float
    quantiles: tuple[float, ...] = field(default=(), repr=False)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form (no range when the column has no value)."""
        out: dict[str, object] = {"count": self.count, "missing": self.missing, "sum": self.total}
        if self.count:
            out.update(min=self.minimum, max=self.maximum)
        if self.quantiles:
            out["quantiles"] = list(self.quantiles)
        return out

    @classmethod
    def from_dict(cls, raw: object, where: str) -> NumericSummary:
        """Parse :meth:`to_dict` output, checking counts, range and quantiles agree."""
        doc = mapping(raw, where)
        keys(doc, where, {"count", "missing", "sum", "min", "max", "quantiles"})
        count = integer(doc.get("count"), f"{where}.count", 0, MAX_COUNT)
        low = number(doc.get("min"), f"{where}.min") if count else math.nan
        high = number(doc.get("max"), f"{where}.max") if count else math.nan
        quantiles = _quantiles(doc.get("quantiles", []), f"{where}.quantiles")
        if count and (low > high or (quantiles and (quantiles[0], quantiles[-1]) != (low, high))):
            raise SpecError(f"{where}: min, max and quantiles disagree")
        return cls(
            count=count,
            missing=integer(doc.get("missing", 0), f"{where}.missing", 0, MAX_COUNT),
            total=number(doc.get("sum", 0.0), f"{where}.sum"),
            minimum=low,
            maximum=high,
            quantiles=quantiles if count else (),
        )


@dataclass(frozen=True)
class CategorySummary:
    """One party's categorical column (or class label): rows per value, and missing cells."""

    counts: tuple[tuple[str, int], ...]
    missing: int

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {"counts": dict(self.counts), "missing": self.missing}

    @classmethod
    def from_dict(cls, raw: object, where: str) -> CategorySummary:
        """Parse :meth:`to_dict` output."""
        doc = mapping(raw, where)
        keys(doc, where, {"counts", "missing"})
        counts = mapping(doc.get("counts"), f"{where}.counts")
        if len(counts) > MAX_CATEGORIES:
            raise SpecError(f"{where}.counts: at most {MAX_CATEGORIES} values")
        parsed = tuple(
            (
                canonical(text(k, f"{where}.counts")),
                integer(v, f"{where}.counts[{k!r}]", 0, MAX_COUNT),
            )
            for k, v in counts.items()
        )
        if len({k for k, _ in parsed}) != len(parsed):
            raise SpecError(f"{where}.counts: values must be distinct")
        missing = integer(doc.get("missing", 0), f"{where}.missing", 0, MAX_COUNT)
        return cls(parsed, missing)


@dataclass(frozen=True)
class PartySummary:
    """What one party publishes about its file: per column (by name) and for the label."""

    rows: int
    numeric: tuple[tuple[str, NumericSummary], ...]
    categorical: tuple[tuple[str, CategorySummary], ...]
    label: CategorySummary | NumericSummary

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "version": SUMMARY_VERSION,
            "rows": self.rows,
            "numeric": {name: s.to_dict() for name, s in self.numeric},
            "categorical": {name: s.to_dict() for name, s in self.categorical},
            "label": {
                "kind": "numeric" if isinstance(self.label, NumericSummary) else "classes",
                **self.label.to_dict(),
            },  # fmt: skip
        }

    def to_json(self) -> str:
        """The summary as indented JSON text."""
        return json.dumps(self.to_dict(), indent=2) + "\n"

    @classmethod
    def from_dict(cls, raw: object) -> PartySummary:
        """Parse :meth:`to_dict` output."""
        doc = mapping(raw, "summary")
        keys(doc, "summary", {"version", "rows", "numeric", "categorical", "label"})
        _version(doc, "summary")
        numeric = _named(doc.get("numeric", {}), "summary.numeric")
        categorical = _named(doc.get("categorical", {}), "summary.categorical")
        label = dict(mapping(doc.get("label"), "summary.label"))
        kind = choice(label.pop("kind", None), "summary.label.kind", ("numeric", "classes"))
        parsed_label: CategorySummary | NumericSummary = (
            NumericSummary.from_dict(label, "summary.label")
            if kind == "numeric"
            else CategorySummary.from_dict(label, "summary.label")
        )
        return cls(
            rows=integer(doc.get("rows"), "summary.rows", 0, MAX_COUNT),
            numeric=tuple(
                (k, NumericSummary.from_dict(v, f"summary.numeric.{k}")) for k, v in numeric
            ),
            categorical=tuple(
                (k, CategorySummary.from_dict(v, f"summary.categorical.{k}"))
                for k, v in categorical
            ),
            label=parsed_label,
        )

    @classmethod
    def load(cls, path: str | Path) -> PartySummary:
        """Read a summary file."""
        return cls.from_dict(load_json(Path(path), MAX_DOCUMENT_BYTES, "summary"))


def _version(doc: object, where: str) -> None:
    if cast(dict[str, object], doc).get("version", SUMMARY_VERSION) != SUMMARY_VERSION:
        raise SpecError(f"{where}.version: must be {SUMMARY_VERSION}")


def _named(raw: object, where: str) -> list[tuple[str, object]]:
    doc = mapping(raw, where)
    if len(doc) > MAX_COLUMNS:
        raise SpecError(f"{where}: at most {MAX_COLUMNS} columns")
    return [(text(k, where), v) for k, v in doc.items()]


def _quantiles(raw: object, where: str) -> tuple[float, ...]:
    if raw == []:
        return ()
    if not isinstance(raw, list) or len(raw) != len(QUANTILE_LEVELS):
        raise SpecError(f"{where}: must be a list of {len(QUANTILE_LEVELS)} numbers")
    values = tuple(number(v, f"{where}[{i}]") for i, v in enumerate(raw))
    if any(b < a for a, b in zip(values, values[1:], strict=False)):
        raise SpecError(f"{where}: must not decrease")
    return values
