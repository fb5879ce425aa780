"""Bring your own tables: read, check and prepare each party's CSV for vertical FL.

A user's tables arrive as CSV files with a header: the guest's with an id column, a label and
features, each host's with an id column and features, ids written each party's own way. This
package turns them into what the protocol trains on, with nothing but summaries crossing a
party boundary and no row dropped unless asked:

``schema``, ``reader``
    :class:`SchemaSpec` (id column, label column, stated kinds; :func:`load_schema_spec`
    reads a TOML/JSON schema file), :func:`read_table` -> :class:`RawTable` (kinds not
    stated are inferred; :meth:`Schema.describe` shows them).
``ids``
    :class:`IdRules`: normalisation steps every party applies to its ids (canonical text and
    SHA-256 for the task spec); :func:`id_shape`.
``prep``
    :class:`PrepRules` (imputation, one-hot, standardisation; canonical text and SHA-256),
    :func:`fit_prep` -> :class:`FittedPrep` (a serialisable record) on a party's own rows.
``party``
    :func:`prepare_party` -> :class:`PreparedTable`: normalised ids, encoded features.
``preflight``
    :func:`party_report` (per party, local) and :func:`compare_reports` -> :class:`Preflight`
    (formats that differ with a suggested rule, duplicates, too few rows), and
    :func:`overlap_findings` after the PSI.
``twin``
    :func:`join_prepared` and :func:`centralised_cv_auc`: the centralised twin with the same
    preprocessing.

Errors: :class:`TableError` (an :class:`~kernel.errors.InvalidInputError`) and its
subclasses name the file, the column and the line.
"""

from fl_node.vertical.tables._errors import (
    IdRuleError,
    PreflightError,
    PrepError,
    SchemaError,
    TableError,
)
from fl_node.vertical.tables.ids import NO_RULES, IdRule, IdRuleKind, IdRules, id_shape
from fl_node.vertical.tables.party import PreparedTable, normalised_ids, prepare_party
from fl_node.vertical.tables.preflight import (
    Finding,
    PartyReport,
    Preflight,
    ShapeCount,
    compare_reports,
    overlap_findings,
    party_report,
    suggest_id_rules,
)
from fl_node.vertical.tables.prep import (
    CategoricalState,
    FittedPrep,
    NumericState,
    PrepRules,
    fit_prep,
)
from fl_node.vertical.tables.reader import RawTable, read_table
from fl_node.vertical.tables.schema import (
    ColumnKind,
    ColumnSpec,
    Schema,
    SchemaSpec,
    load_schema_spec,
)
from fl_node.vertical.tables.twin import (
    JoinedTable,
    TwinResult,
    centralised_cv_auc,
    join_prepared,
    stratified_folds,
)

__all__ = [
    "NO_RULES",
    "CategoricalState",
    "ColumnKind",
    "ColumnSpec",
    "Finding",
    "FittedPrep",
    "IdRule",
    "IdRuleError",
    "IdRuleKind",
    "IdRules",
    "JoinedTable",
    "NumericState",
    "PartyReport",
    "Preflight",
    "PreflightError",
    "PrepError",
    "PrepRules",
    "PreparedTable",
    "RawTable",
    "Schema",
    "SchemaError",
    "SchemaSpec",
    "ShapeCount",
    "TableError",
    "TwinResult",
    "centralised_cv_auc",
    "compare_reports",
    "fit_prep",
    "id_shape",
    "join_prepared",
    "load_schema_spec",
    "normalised_ids",
    "overlap_findings",
    "party_report",
    "prepare_party",
    "read_table",
    "stratified_folds",
    "suggest_id_rules",
]
