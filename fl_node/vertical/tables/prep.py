"""Imputation and encoding rules, agreed in the task spec, applied by each party to its own columns.

:class:`PrepRules` is what the parties agree on (its canonical text and SHA-256 go into the
spec). Each party fits the rules on *its own rows* (:func:`fit_prep`: unsupervised, no label
needed, nothing leaves the party) and gets a :class:`FittedPrep`, a typed record that
serialises with the party's model; :meth:`FittedPrep.transform` turns its
:class:`~.reader.RawTable` into the float feature matrix the protocol trains on. The
centralised twin (:mod:`.twin`) runs the very same functions on each party's columns, so twin
and federated models see identical features.

Per numeric column: impute (median, mean, a constant, or refuse a missing cell), then
standardise with the fitted mean and (population) standard deviation (a constant column gets
scale 1), then optionally clip at ``clip`` standard deviations. Per categorical column: impute
(a ``(missing)`` level, the most frequent level, or refuse), then one-hot encode the levels
seen at least ``min_frequency`` times, at most ``max_levels`` of them (the most frequent;
ties by name); the others share one ``(other)`` column. A level never seen at fit time
goes to ``(other)`` where there is one, else encodes as all zeros.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal, get_args

import numpy as np

from fl_node.vertical.tables._errors import PrepError
from fl_node.vertical.tables.reader import FloatArray, RawTable

NumericImpute = Literal["median", "mean", "constant", "refuse"]
CategoricalImpute = Literal["missing", "most_frequent", "refuse"]
MISSING_LEVEL = "(missing)"
OTHER_LEVEL = "(other)"
_VERSION = "prep/v1"


@dataclass(frozen=True)
class PrepRules:
    """How every party imputes and encodes its own columns.

    Attributes
    ----------
    numeric_impute : {"median", "mean", "constant", "refuse"}, default "median"
        Fill of a missing numeric cell (``refuse``: a missing cell is an error).
    numeric_constant : float, default 0.0
        The fill of ``constant``.
    categorical_impute : {"missing", "most_frequent", "refuse"}, default "missing"
        A missing category becomes the level ``(missing)``, the most frequent level, or an
        error.
    min_frequency : int, default 5
        Levels seen fewer times go to ``(other)``.
    max_levels : int, default 32
        At most this many one-hot columns per categorical column (besides ``(other)``).
    standardise : bool, default True
        Standardise numeric columns (one-hot columns stay 0/1).
    clip : float or None, default None
        Clip standardised numeric values at this many standard deviations.
    """

    numeric_impute: NumericImpute = "median"
    numeric_constant: float = 0.0
    categorical_impute: CategoricalImpute = "missing"
    min_frequency: int = 5
    max_levels: int = 32
    standardise: bool = True
    clip: float | None = None

    def __post_init__(self) -> None:
        if self.numeric_impute not in get_args(NumericImpute):
            raise PrepError(f"unknown numeric imputation {self.numeric_impute!r}")
        if self.categorical_impute not in get_args(CategoricalImpute):
            raise PrepError(f"unknown categorical imputation {self.categorical_impute!r}")
        if self.min_frequency < 1 or self.max_levels < 1:
            raise PrepError("min_frequency and max_levels must be at least 1")
        if not math.isfinite(self.numeric_constant):
            raise PrepError("numeric_constant must be finite")
        if self.clip is not None and not (math.isfinite(self.clip) and self.clip > 0):
            raise PrepError("clip must be a positive number or None")

    def canonical(self) -> str:
        """The text recorded in the task spec (every field, fixed order)."""
        parts = []
        for f in fields(self):
            value = getattr(self, f.name)
            text = (
                "none" if value is None else str(int(value) if isinstance(value, bool) else value)
            )
            parts.append(f"{f.name}={text}")
        return f"{_VERSION}:" + ";".join(parts)

    def digest(self) -> str:
        """SHA-256 (hex) of :meth:`canonical`."""
        return hashlib.sha256(self.canonical().encode("utf-8")).hexdigest()

    @classmethod
    def parse(cls, text: str) -> PrepRules:
        """Read rules from :meth:`canonical` text (or ``key=value;...`` without the version).

        Parameters
        ----------
        text : str
            The rules; absent keys keep their defaults.

        Raises
        ------
        PrepError
            For another version, an unknown key or a malformed value.
        """
        body = text.strip()
        if body.startswith("prep/"):
            version, _, body = body.partition(":")
            if version != _VERSION:
                raise PrepError(f"preparation rules of version {version!r}; expected {_VERSION!r}")
        known = {f.name for f in fields(cls)}
        values: dict[str, Any] = {}
        for part in filter(None, (p.strip() for p in body.split(";"))):
            key, sep, raw = part.partition("=")
            if not sep or key not in known:
                raise PrepError(f"unknown preparation rule {part!r}; keys: {sorted(known)}")
            values[key] = _typed(key, raw.strip())
        return cls(**values)


def _typed(key: str, raw: str) -> Any:
    """A :meth:`PrepRules.parse` value, typed by its key."""
    try:
        if key in ("min_frequency", "max_levels"):
            return int(raw)
        if key == "standardise":
            return {"1": True, "true": True, "0": False, "false": False}[raw.lower()]
        if key == "numeric_constant":
            return float(raw)
        if key == "clip":
            return None if raw.lower() == "none" else float(raw)
    except (ValueError, KeyError):
        raise PrepError(f"malformed value {raw!r} for {key}") from None
    return raw


@dataclass(frozen=True)
class NumericState:
    """A numeric column's fitted state: ``clip((fill_missing(x) - mean) / scale)``.

    Attributes
    ----------
    name : str
        The column.
    fill : float
        The imputed value (``NaN`` under ``refuse``).
    mean, scale : float
        Standardisation (``0`` and ``1`` when not standardising).
    """

    name: str
    fill: float
    mean: float
    scale: float


@dataclass(frozen=True)
class CategoricalState:
    """A categorical column's fitted state.

    Attributes
    ----------
    name : str
        The column.
    fill : str or None
        The level a missing cell becomes (``None`` under ``refuse``).
    levels : tuple of str
        One one-hot column each, in this order.
    other : bool
        Whether an ``(other)`` column follows for the rare levels.
    """

    name: str
    fill: str | None
    levels: tuple[str, ...]
    other: bool

    @property
    def feature_names(self) -> tuple[str, ...]:
        """``name=level`` for each column, ``name=(other)`` last if any."""
        names = tuple(f"{self.name}={level}" for level in self.levels)
        return names + ((f"{self.name}={OTHER_LEVEL}",) if self.other else ())


@dataclass(frozen=True)
class FittedPrep:
    """A party's fitted preparation: rules, then each numeric and categorical column's state.

    Attributes
    ----------
    rules : PrepRules
        The agreed rules.
    numeric : tuple of NumericState
        In the table's numeric column order.
    categorical : tuple of CategoricalState
        In the table's categorical column order.
    """

    rules: PrepRules
    numeric: tuple[NumericState, ...]
    categorical: tuple[CategoricalState, ...]

    @property
    def feature_names(self) -> tuple[str, ...]:
        """The output columns: numeric columns first, then each categorical's one-hot columns."""
        out = tuple(s.name for s in self.numeric)
        for state in self.categorical:
            out += state.feature_names
        return out

    def transform(self, table: RawTable) -> FloatArray:
        """Encode a party's table with this fitted state.

        Parameters
        ----------
        table : RawTable
            The party's table (the columns it was fitted on).

        Returns
        -------
        ndarray of shape (rows, len(feature_names))
            float64 features.

        Raises
        ------
        PrepError
            For a column the state does not know, or a missing cell under ``refuse``.
        """
        blocks = [_numeric_column(table, s, self.rules.clip) for s in self.numeric]
        blocks += [_categorical_columns(table, s) for s in self.categorical]
        if not blocks:
            return np.zeros((table.rows, 0), dtype=np.float64)
        return np.ascontiguousarray(np.hstack(blocks), dtype=np.float64)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (saved with the party's model); :meth:`from_dict` reads it back."""
        return {
            "version": 1,
            "rules": self.rules.canonical(),
            "numeric": [asdict(s) | {"fill": _json_float(s.fill)} for s in self.numeric],
            "categorical": [asdict(s) | {"levels": list(s.levels)} for s in self.categorical],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FittedPrep:
        """Read :meth:`to_dict`'s form back.

        Parameters
        ----------
        data : dict
            As written by :meth:`to_dict`.
        """
        try:
            if data["version"] != 1:
                raise PrepError(f"fitted preparation of version {data['version']!r}")
            numeric = tuple(
                NumericState(
                    str(s["name"]), _read_float(s["fill"]), float(s["mean"]), float(s["scale"])
                )
                for s in data["numeric"]
            )
            categorical = tuple(
                CategoricalState(
                    str(s["name"]), s["fill"], tuple(map(str, s["levels"])), bool(s["other"])
                )
                for s in data["categorical"]
            )
            return cls(PrepRules.parse(str(data["rules"])), numeric, categorical)
        except (KeyError, TypeError, ValueError) as exc:
            raise PrepError(f"malformed fitted preparation: {exc!r}") from None


def _json_float(value: float) -> float | None:
    return None if math.isnan(value) else value


def _read_float(value: object) -> float:
    return math.nan if value is None else float(value)  # type: ignore[arg-type]


def fit_prep(table: RawTable, rules: PrepRules) -> FittedPrep:
    """Fit the rules on a party's own rows (every row of its table; no label used).

    Parameters
    ----------
    table : RawTable
        The party's table.
    rules : PrepRules
        The agreed rules.

    Raises
    ------
    PrepError
        For a missing cell under a ``refuse`` policy (naming its line and column).
    """
    numeric = tuple(_fit_numeric(table, name, rules) for name in table.schema.names("numeric"))
    categorical = tuple(
        _fit_categorical(table, name, rules) for name in table.schema.names("categorical")
    )
    return FittedPrep(rules, numeric, categorical)


def _fit_numeric(table: RawTable, name: str, rules: PrepRules) -> NumericState:
    """Fill, then mean and scale of the filled column."""
    x = table.numeric[name]
    present = x[~np.isnan(x)]
    if rules.numeric_impute == "refuse":
        _refuse_missing(table, name, np.isnan(x))
        fill = math.nan
    elif rules.numeric_impute == "constant":
        fill = rules.numeric_constant
    elif present.size == 0:
        fill = rules.numeric_constant
    else:
        fill = float(np.median(present) if rules.numeric_impute == "median" else present.mean())
    if not rules.standardise:
        return NumericState(name, fill, 0.0, 1.0)
    filled = np.where(np.isnan(x), fill, x) if x.size else np.zeros(1)
    scale = float(filled.std())
    return NumericState(name, fill, float(filled.mean()), scale if scale > 1e-12 else 1.0)


def _fit_categorical(table: RawTable, name: str, rules: PrepRules) -> CategoricalState:
    """Fill, then the kept levels: frequent enough, the ``max_levels`` most frequent."""
    cells = table.categorical[name]
    present = Counter(v for v in cells if v is not None)
    fill: str | None
    if rules.categorical_impute == "refuse":
        _refuse_missing(table, name, np.array([v is None for v in cells], dtype=bool))
        fill = None
    elif rules.categorical_impute == "most_frequent" and present:
        fill = min(present, key=lambda level: (-present[level], level))
    else:
        fill = MISSING_LEVEL
    counts = Counter(v if v is not None else fill or MISSING_LEVEL for v in cells)
    ranked = sorted(counts, key=lambda level: (-counts[level], level))
    kept = [level for level in ranked if counts[level] >= rules.min_frequency][: rules.max_levels]
    other = len(kept) < len(ranked)
    return CategoricalState(name, fill, tuple(sorted(kept)), other)


def _refuse_missing(table: RawTable, name: str, missing: np.ndarray[Any, Any]) -> None:
    """Raise for the first missing cell (``refuse`` policy)."""
    if missing.any():
        line = table.lines[int(np.flatnonzero(missing)[0])]
        raise PrepError(
            f"{int(missing.sum())} missing cell(s) and the rules refuse imputation",
            path=table.path,
            column=name,
            line=line,
        )


def _numeric_column(table: RawTable, state: NumericState, clip: float | None) -> FloatArray:
    """One numeric column, filled, standardised and clipped: shape (rows, 1)."""
    x = _column(table.numeric, state.name, table)
    missing = np.isnan(x)
    if missing.any() and math.isnan(state.fill):
        _refuse_missing(table, state.name, missing)
    z = (np.where(missing, state.fill, x) - state.mean) / state.scale
    if clip is not None:
        z = np.clip(z, -clip, clip)
    return z.reshape(-1, 1)


def _categorical_columns(table: RawTable, state: CategoricalState) -> FloatArray:
    """One categorical column, filled and one-hot encoded: shape (rows, len(feature_names))."""
    cells: Sequence[str | None] = _column(table.categorical, state.name, table)
    if state.fill is None:
        _refuse_missing(table, state.name, np.array([v is None for v in cells], dtype=bool))
    slot = {level: i for i, level in enumerate(state.levels)}
    other = len(state.levels) if state.other else -1
    out = np.zeros((len(cells), len(state.feature_names)), dtype=np.float64)
    for row, value in enumerate(cells):
        level = state.fill if value is None else value
        col = slot.get(level, other) if level is not None else -1
        if col >= 0:
            out[row, col] = 1.0
    return out


def _column(columns: dict[str, Any], name: str, table: RawTable) -> Any:
    """A column by name, or a :class:`PrepError` naming it."""
    if name not in columns:
        raise PrepError(
            "the fitted preparation has this column, the table not",
            path=table.path,
            column=name,
        )
    return columns[name]


__all__ = [
    "MISSING_LEVEL",
    "OTHER_LEVEL",
    "CategoricalImpute",
    "CategoricalState",
    "FittedPrep",
    "NumericImpute",
    "NumericState",
    "PrepRules",
    "fit_prep",
]
