"""``fedmarket vfl --guest CSV --host CSV ...``: the user's own tables as a run's input.

Turns the command's options into a :class:`~fl_node.vertical.runner.inputs.VflTables`: the
files, one schema per file or one for all (``--schema``, TOML or JSON; the id and label
columns by flag), the id rules (``--id-rules``), the preparation rules (``--prep``), the
algorithm and its hyper-parameters: a TOML config file (``--config``, tables ``[secureboost]``
and ``[lr]`` whose keys are the fields of ``BoostConfig`` and ``HeteroLRConfig``, and ``[run]``
with ``party_timeout_s`` and ``randomizer``, which presets read too), then flags
(``--trees``, ``--depth``, ``--learning-rate``, ``--bins``, ``--party-timeout``,
``--paillier-randomizer``) over it. Every bad input is one error line naming the flag, the
file or the column (exit 2).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from kernel.errors import InvalidInputError

CONFIG_SECTIONS = ("secureboost", "lr", "run")
RUN_KEYS = ("party_timeout_s", "randomizer")
"""The ``[run]`` table: the run's settings a config file may hold (flags override them)."""
FIXED_KEYS = {"key_bits", "seed"}
"""Set by ``--key-bits``-like run settings, not by the config file."""


@dataclass(frozen=True)
class TableOptions:
    """The table options of ``fedmarket vfl`` as given.

    Attributes
    ----------
    guest : Path
        ``--guest``.
    hosts : list of Path
        ``--host`` (repeated).
    id_column, label_column : str or None
        ``--id-column``, ``--label-column``.
    schemas : list of Path
        ``--schema``: one for every file, or one per file (guest first).
    id_rules, prep : str or None
        ``--id-rules``, ``--prep``.
    algorithm : str
        ``--algorithm``.
    config : Path or None
        ``--config``.
    boost_flags : dict of str to object
        ``--trees``, ``--depth``, ``--learning-rate``, ``--bins`` as ``BoostConfig`` fields.
    """

    guest: Path
    hosts: list[Path]
    id_column: str | None
    label_column: str | None
    schemas: list[Path]
    id_rules: str | None
    prep: str | None
    algorithm: str
    config: Path | None
    boost_flags: dict[str, Any]


def tables_input(options: TableOptions) -> Any:
    """The run's input (a ``VflTables``), checked.

    Parameters
    ----------
    options : TableOptions
        What the command was given.

    Raises
    ------
    InvalidInputError
        One line naming the flag, file or column at fault.
    """
    from fl_node.vertical.runner.inputs import VflTables
    from fl_node.vertical.tables import NO_RULES, IdRules, PrepRules

    if not options.hosts:
        raise InvalidInputError("--host: give at least one host's CSV with --guest")
    if options.algorithm not in ("lr", "secureboost"):
        raise InvalidInputError(f"--algorithm must be lr or secureboost, not {options.algorithm!r}")
    guest_schema, host_schemas = _schemas(options)
    boost, lr = _hyper_parameters(options)
    tables = VflTables.of(
        options.guest,
        options.hosts,
        schema=guest_schema,
        host_schemas=host_schemas,
        id_rules=IdRules.parse(options.id_rules) if options.id_rules else NO_RULES,
        prep=PrepRules.parse(options.prep) if options.prep else PrepRules(),
        algorithm=options.algorithm,
        boost=boost,
        lr=lr,
        name=options.guest.stem,
    )
    tables.check()
    return tables


def _schemas(options: TableOptions) -> tuple[Any, tuple[Any, ...]]:
    """The guest's schema and each host's, from ``--schema`` files and the column flags."""
    from fl_node.vertical.tables import SchemaSpec, load_schema_spec

    n_files = 1 + len(options.hosts)
    if len(options.schemas) not in (0, 1, n_files):
        raise InvalidInputError(
            f"--schema: give one file for all or one per file ({n_files}), "
            f"not {len(options.schemas)}"
        )
    loaded = [load_schema_spec(p, id_column=options.id_column) for p in options.schemas]
    base = loaded[0] if loaded else SchemaSpec(id_column=options.id_column or "id")
    guest = _with_columns(base, options)
    if guest.label is None:
        raise InvalidInputError("--label-column: name the guest's label column")
    if len(loaded) == n_files:
        hosts = tuple(_with_columns(s, options, label=False) for s in loaded[1:])
    else:
        kinds = tuple((n, k) for n, k in guest.kinds if k != "label")
        hosts = (SchemaSpec(guest.id_column, None, kinds),) * len(options.hosts)
    return guest, hosts


def _with_columns(spec: Any, options: TableOptions, *, label: bool = True) -> Any:
    """``spec`` with ``--id-column`` and (on the guest) ``--label-column`` over the file's."""
    from fl_node.vertical.tables import SchemaSpec

    ident = options.id_column or spec.id_column
    if not label:
        kinds = tuple((n, k) for n, k in spec.kinds if k != "label")
        return SchemaSpec(ident, None, kinds)
    return SchemaSpec(ident, options.label_column or spec.label, spec.kinds)


def _hyper_parameters(options: TableOptions) -> tuple[Any, Any]:
    """``BoostConfig`` and ``HeteroLRConfig``: the defaults, the config file, then the flags."""
    from fl_node.vertical.runner.inputs import DEFAULT_BOOST, DEFAULT_LR

    sections = _read_config(options.config) if options.config else {}
    boost = _apply(DEFAULT_BOOST, sections.get("secureboost", {}), options.config, "secureboost")
    flags = {k: v for k, v in options.boost_flags.items() if v is not None}
    boost = _apply(boost, flags, None, "flags")
    lr = _apply(DEFAULT_LR, sections.get("lr", {}), options.config, "lr")
    return boost, lr


def _read_config(path: Path) -> dict[str, dict[str, Any]]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InvalidInputError(f"--config {path}: cannot read it: {exc}") from None
    unknown = set(data) - set(CONFIG_SECTIONS)
    if unknown or not all(isinstance(v, dict) for v in data.values()):
        raise InvalidInputError(
            f"--config {path}: only the tables [secureboost], [lr] and [run], not {sorted(unknown)}"
        )
    return data


def _apply(config: Any, values: dict[str, Any], path: Path | None, section: str) -> Any:
    """``config`` with ``values`` replaced; a bad key or value names the file and section."""
    where = f"--config {path} [{section}]" if path is not None else "the hyper-parameter flags"
    allowed = {f.name for f in fields(config)} - FIXED_KEYS
    unknown = sorted(set(values) - allowed)
    if unknown:
        raise InvalidInputError(f"{where}: unknown key(s) {unknown}; allowed {sorted(allowed)}")
    try:
        return replace(config, **values)
    except (InvalidInputError, TypeError) as exc:
        raise InvalidInputError(f"{where}: {' '.join(str(exc).split())}") from None


def run_options(path: Path | None) -> dict[str, Any]:
    """The ``[run]`` table of ``--config`` as ``VflSettings`` fields, checked.

    Parameters
    ----------
    path : Path or None
        ``--config`` (``None``: nothing).

    Raises
    ------
    InvalidInputError
        An unknown key or a bad value, naming the file and the key.
    """
    from fl_node.vertical.crypto.paillier import RANDOMIZERS
    from fl_node.vertical.runner.settings import check_party_timeout

    run = _read_config(path).get("run", {}) if path is not None else {}
    where = f"--config {path} [run]"
    unknown = sorted(set(run) - set(RUN_KEYS))
    if unknown:
        raise InvalidInputError(f"{where}: unknown key(s) {unknown}; allowed {list(RUN_KEYS)}")
    found: dict[str, Any] = {}
    if "party_timeout_s" in run:
        found["party_timeout_s"] = check_party_timeout(
            run["party_timeout_s"], f"{where} party_timeout_s"
        )
    if "randomizer" in run:
        if run["randomizer"] not in RANDOMIZERS:
            raise InvalidInputError(
                f"{where} randomizer must be {' or '.join(RANDOMIZERS)}, not {run['randomizer']!r}"
            )
        found["randomizer"] = run["randomizer"]
    return found


__all__ = ["RUN_KEYS", "TableOptions", "run_options", "tables_input"]
