"""A user's own tables as the run's input: :class:`VflTables` and each party's :class:`TableSource`.

``fedmarket vfl --guest CSV --host CSV ...`` builds a :class:`VflTables`; ``run_vfl`` takes it
instead of a preset name. It names the files (each party reads only its own, in its own
process), the schema of each, the id and preparation rules every party applies, and the
algorithm with its hyper-parameters. :meth:`VflTables.check` refuses what cannot run, with one
line naming the file or the option.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from fl_node.vertical.protocol import HeteroLRConfig
from fl_node.vertical.protocol.boost import BoostConfig
from fl_node.vertical.protocol.messages import MAX_HOSTS
from fl_node.vertical.runner._errors import VflInputError
from fl_node.vertical.tables import NO_RULES, IdRules, PrepRules, SchemaSpec

Algorithm = Literal["lr", "secureboost"]
ALGORITHMS: tuple[Algorithm, ...] = ("lr", "secureboost")
LR_MAX_HOSTS = MAX_HOSTS
"""The most hosts a hetero-LR session takes (the protocol's limit)."""

DEFAULT_BOOST = BoostConfig(n_trees=30, max_depth=3, learning_rate=0.3, max_bins=32)
"""SecureBoost defaults for new data: 30 trees of depth 3, 32 quantile bins, shrinkage 0.3."""
DEFAULT_LR = HeteroLRConfig(
    batch_size=256, learning_rate=0.3, lr_decay=0.5, l2=1e-4, max_epochs=15, tol=1e-4
)
"""Hetero-LR defaults for new data (small batches for tables of a few thousand rows)."""


@dataclass(frozen=True)
class TableSource:
    """One party's CSV and what the user states about it.

    Attributes
    ----------
    party : str
        ``guest``, ``host-1``, ``host-2``...
    path : Path
        The file (read only by that party's process).
    schema : SchemaSpec
        Id column, label column (guest), stated kinds.
    """

    party: str
    path: Path
    schema: SchemaSpec

    @property
    def kind(self) -> Literal["guest", "host"]:
        """``guest`` or ``host`` (what the reader checks the label column against)."""
        return "guest" if self.party == "guest" else "host"


@dataclass(frozen=True)
class VflTables:
    """The run's input when users bring their own tables.

    Attributes
    ----------
    guest : TableSource
        The label holder's file.
    hosts : tuple of TableSource
        Each host's file, ``host-1``, ``host-2``... in order.
    id_rules : IdRules, default NO_RULES
        The id normalisation every party applies before the PSI.
    prep : PrepRules, default PrepRules()
        Imputation and encoding every party fits on its own rows.
    algorithm : {"lr", "secureboost"}, default "secureboost"
        Hetero logistic regression (guest, N hosts and an arbiter) or SecureBoost (guest and
        N hosts).
    boost : BoostConfig, default DEFAULT_BOOST
        SecureBoost's hyper-parameters (``key_bits`` is replaced by the run's).
    lr : HeteroLRConfig, default DEFAULT_LR
        Hetero LR's hyper-parameters.
    name : str, default "user-tables"
        How the summary names the data.
    """

    guest: TableSource
    hosts: tuple[TableSource, ...]
    id_rules: IdRules = NO_RULES
    prep: PrepRules = field(default_factory=PrepRules)
    algorithm: Algorithm = "secureboost"
    boost: BoostConfig = DEFAULT_BOOST
    lr: HeteroLRConfig = DEFAULT_LR
    name: str = "user-tables"

    @classmethod
    def of(
        cls,
        guest: Path,
        hosts: list[Path] | tuple[Path, ...],
        *,
        schema: SchemaSpec,
        host_schemas: tuple[SchemaSpec, ...] | None = None,
        **options: Any,
    ) -> VflTables:
        """The input from file paths: ``schema`` for the guest (and the hosts, less the label).

        Parameters
        ----------
        guest : Path
            The guest's CSV.
        hosts : sequence of Path
            The hosts' CSVs.
        schema : SchemaSpec
            The guest's schema.
        host_schemas : tuple of SchemaSpec or None, default None
            One per host; default: ``schema`` without its label column.
        **options
            The other attributes (``id_rules``, ``prep``, ``algorithm``, ``boost``, ``lr``).
        """
        if host_schemas is None:
            kinds = tuple((n, k) for n, k in schema.kinds if k != "label")
            host_schemas = (SchemaSpec(id_column=schema.id_column, kinds=kinds),) * len(hosts)
        sources = tuple(
            TableSource(f"host-{i}", Path(p), s)
            for i, (p, s) in enumerate(zip(hosts, host_schemas, strict=True), 1)
        )
        return cls(TableSource("guest", Path(guest), schema), sources, **options)

    @property
    def sources(self) -> tuple[TableSource, ...]:
        """The guest's and the hosts' sources."""
        return (self.guest, *self.hosts)

    @property
    def host_roles(self) -> tuple[str, ...]:
        """The hosts' role names."""
        return tuple(h.party for h in self.hosts)

    def check(self) -> None:
        """Refuse an input that cannot run: no host, a missing file, too many hosts for LR.

        Raises
        ------
        VflInputError
            Naming the file or the option.
        """
        if self.algorithm not in ALGORITHMS:
            raise VflInputError(f"--algorithm must be lr or secureboost, not {self.algorithm!r}")
        if not self.hosts:
            raise VflInputError("--host: give at least one host's CSV")
        if self.algorithm == "lr" and len(self.hosts) > LR_MAX_HOSTS:
            raise VflInputError(
                f"--host: hetero LR takes at most {LR_MAX_HOSTS} hosts, not {len(self.hosts)}"
            )
        seen: set[Path] = set()
        for source in self.sources:
            flag = "--guest" if source.party == "guest" else "--host"
            if not source.path.is_file():
                raise VflInputError(f"{flag} {source.path}: no such file")
            if source.path.resolve() in seen:
                raise VflInputError(f"{flag} {source.path}: the same file given twice")
            seen.add(source.path.resolve())
        if self.guest.schema.label is None:
            raise VflInputError("--label-column: the guest's label column is required")

    def spec(self) -> dict[str, object]:
        """What the task spec records of the input (rules' texts and digests, never rows)."""
        return {
            "dataset": self.name,
            "algorithm": self.algorithm,
            "parties": {s.party: _schema_text(s) for s in self.sources},
            "id_rules": {"text": self.id_rules.canonical(), "sha256": self.id_rules.digest()},
            "prep_rules": {"text": self.prep.canonical(), "sha256": self.prep.digest()},
        }


def _schema_text(source: TableSource) -> dict[str, object]:
    """A party's stated schema (inferred kinds are in its report)."""
    spec = source.schema
    return {
        "role": "labels + features" if source.kind == "guest" else "features",
        "id_column": spec.id_column,
        "label_column": spec.label,
        "stated_kinds": dict(spec.kinds),
    }


__all__ = [
    "ALGORITHMS",
    "DEFAULT_BOOST",
    "DEFAULT_LR",
    "LR_MAX_HOSTS",
    "Algorithm",
    "TableSource",
    "VflTables",
]
