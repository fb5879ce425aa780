"""A party's table made ready for the PSI and the protocol: normalised ids, encoded features.

:func:`prepare_party` is what a party runs on its own machine after the preflight passed:
apply the agreed :class:`~.ids.IdRules` to its ids, fit the agreed :class:`~.prep.PrepRules`
on its own rows (or reuse a fitted state) and encode. No row is dropped: an empty or a
duplicate id after normalisation is an error naming the lines, never a silent removal.
"""

from __future__ import annotations

from dataclasses import dataclass

from fl_node.vertical.tables._errors import TableError
from fl_node.vertical.tables.ids import IdRules
from fl_node.vertical.tables.prep import FittedPrep, PrepRules, fit_prep
from fl_node.vertical.tables.reader import FloatArray, RawTable


@dataclass(frozen=True)
class PreparedTable:
    """A party's rows as the protocol takes them.

    Attributes
    ----------
    ids : tuple of str
        Normalised ids, in file order (unique, non-empty).
    features : ndarray of shape (rows, F)
        Encoded float64 features.
    feature_names : tuple of str
        Names of the feature columns (``age``, ``purpose=A43``, ``purpose=(other)``...).
    labels : ndarray or None
        The guest's 0/1 labels, ``None`` on a host.
    prep : FittedPrep
        The fitted state (save it with the party's model).
    id_rules : IdRules
        The rules the ids went through.
    """

    ids: tuple[str, ...]
    features: FloatArray
    feature_names: tuple[str, ...]
    labels: FloatArray | None
    prep: FittedPrep
    id_rules: IdRules

    @property
    def rows(self) -> int:
        """Number of rows."""
        return len(self.ids)


def normalised_ids(table: RawTable, rules: IdRules) -> tuple[str, ...]:
    """The table's ids after ``rules``, refusing empty and duplicate ones.

    Parameters
    ----------
    table : RawTable
        The party's table.
    rules : IdRules
        The agreed id rules.

    Raises
    ------
    TableError
        For an id that is empty after normalisation, or two rows with the same normalised id
        (the message names both lines and both ids as written: it stays with the party).
    """
    out = tuple(rules.apply_all(table.ids))
    first: dict[str, int] = {}
    column = table.schema.id_column
    for i, value in enumerate(out):
        if not value:
            raise TableError(
                f"id {table.ids[i][:40]!r} is empty after the id rules {rules.canonical()!r}",
                path=table.path,
                column=column,
                line=table.lines[i],
            )
        if value in first:
            j = first[value]
            raise TableError(
                f"duplicate id: {table.ids[i][:40]!r} and {table.ids[j][:40]!r} (line "
                f"{table.lines[j]}) are both {value[:40]!r} after {rules.canonical()!r}",
                path=table.path,
                column=column,
                line=table.lines[i],
            )
        first[value] = i
    return out


def prepare_party(
    table: RawTable,
    id_rules: IdRules,
    prep_rules: PrepRules,
    *,
    fitted: FittedPrep | None = None,
) -> PreparedTable:
    """Normalise a party's ids and encode its features (on its own machine).

    Parameters
    ----------
    table : RawTable
        The party's table (:func:`~.reader.read_table`).
    id_rules : IdRules
        The agreed id rules.
    prep_rules : PrepRules
        The agreed preparation rules, fitted on this table's rows unless ``fitted`` is given.
    fitted : FittedPrep or None, default None
        A state fitted before (prediction on new rows); its rules must equal ``prep_rules``.

    Raises
    ------
    TableError
        Empty or duplicate ids after normalisation, a refused missing cell, or a fitted state
        of other rules.
    """
    ids = normalised_ids(table, id_rules)
    if fitted is not None and fitted.rules != prep_rules:
        raise TableError("the fitted preparation was made with other rules", path=table.path)
    state = fitted if fitted is not None else fit_prep(table, prep_rules)
    return PreparedTable(
        ids=ids,
        features=state.transform(table),
        feature_names=state.feature_names,
        labels=table.labels,
        prep=state,
        id_rules=id_rules,
    )


__all__ = ["PreparedTable", "normalised_ids", "prepare_party"]
