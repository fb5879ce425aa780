"""Preflight: what is wrong with the parties' tables, said before any training.

Each party computes a :class:`PartyReport` on its own machine (:func:`party_report`) and sends
only that summary: row count, empty and duplicate ids after the id rules, the id *shapes*
(``cust-0001`` -> ``aaaa-9999``) with their counts, the leading non-digit prefix every id
shares, how many ids are zero-padded, missing cells per column and constant columns. No id
crosses a party boundary. :func:`compare_reports` reads the guest's and the hosts' reports
and lists :class:`Finding` s: id formats that differ (with the shapes and a suggested
:class:`~.ids.IdRules`), rules that differ between parties, duplicates, empty ids, too few
rows; missing cells and constant columns as warnings.

What a report reveals: the table's size, and the distribution of id formats. Shapes seen on
fewer than ``min_shape_count`` rows are merged into ``*`` (so a rare format cannot single out
a customer) and at most ``max_shapes`` are listed. The shared prefix is common to every id.
After the PSI, :func:`overlap_findings` turns a small intersection into an error that names
the formats, instead of an error from the split stage.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from fl_node.vertical.tables._errors import PreflightError
from fl_node.vertical.tables.ids import IdRule, IdRules, id_shape
from fl_node.vertical.tables.reader import RawTable

Severity = Literal["error", "warning"]
OTHER_SHAPES = "*"
_SHAPE_CHARS = 40


@dataclass(frozen=True)
class ShapeCount:
    """An id shape and the number of ids with it (``*``: all the rarer shapes together)."""

    shape: str
    count: int


@dataclass(frozen=True)
class PartyReport:
    """One party's preflight summary (the only thing it sends; no ids).

    Attributes
    ----------
    party : str
        ``guest``, ``host-1``...
    rows : int
        Rows in its table.
    id_rules : str
        Canonical text of the id rules it applied.
    empty_ids, duplicate_ids : int
        Ids empty after the rules; rows whose normalised id an earlier row already has.
    raw_shapes, shapes : tuple of ShapeCount
        Id shapes as written and after the rules, most frequent first.
    prefix : str
        The leading non-digit text every normalised id starts with (``""`` if none).
    zero_padded : int
        Normalised ids that start with ``0`` followed by another digit.
    missing : tuple of (str, int)
        Missing cells per feature column with any.
    constant_columns : tuple of str
        Feature columns with at most one distinct value.
    high_cardinality : tuple of str
        Categorical columns with more than half as many levels as rows (and over 50): an id
        or free text rather than a category (their rare levels all go to ``(other)``).
    version : int, default 1
        Format version.
    """

    party: str
    rows: int
    id_rules: str
    empty_ids: int
    duplicate_ids: int
    raw_shapes: tuple[ShapeCount, ...]
    shapes: tuple[ShapeCount, ...]
    prefix: str
    zero_padded: int
    missing: tuple[tuple[str, int], ...]
    constant_columns: tuple[str, ...]
    high_cardinality: tuple[str, ...] = ()
    version: int = 1

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (what crosses the party boundary)."""
        return {
            "version": self.version,
            "party": self.party,
            "rows": self.rows,
            "id_rules": self.id_rules,
            "empty_ids": self.empty_ids,
            "duplicate_ids": self.duplicate_ids,
            "raw_shapes": [[s.shape, s.count] for s in self.raw_shapes],
            "shapes": [[s.shape, s.count] for s in self.shapes],
            "prefix": self.prefix,
            "zero_padded": self.zero_padded,
            "missing": [list(item) for item in self.missing],
            "constant_columns": list(self.constant_columns),
            "high_cardinality": list(self.high_cardinality),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PartyReport:
        """Read a peer's report, checking every field's type (a peer may be hostile).

        Parameters
        ----------
        data : dict
            As written by :meth:`to_dict`.

        Raises
        ------
        PreflightError
            For another version, a missing field or a value of the wrong type or range.
        """
        try:
            if data["version"] != 1:
                raise PreflightError(f"preflight report of version {data['version']!r}")
            report = cls(
                party=_text(data["party"]),
                rows=_count(data["rows"]),
                id_rules=_text(data["id_rules"]),
                empty_ids=_count(data["empty_ids"]),
                duplicate_ids=_count(data["duplicate_ids"]),
                raw_shapes=_shapes(data["raw_shapes"]),
                shapes=_shapes(data["shapes"]),
                prefix=_text(data["prefix"]),
                zero_padded=_count(data["zero_padded"]),
                missing=tuple((_text(n), _count(c)) for n, c in data["missing"]),
                constant_columns=tuple(_text(n) for n in data["constant_columns"]),
                high_cardinality=tuple(_text(n) for n in data["high_cardinality"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise PreflightError(f"malformed preflight report: {exc!r}") from None
        if sum(s.count for s in report.shapes) != report.rows:
            raise PreflightError(f"{report.party}: shape counts do not add up to its rows")
        return report


def _text(value: object) -> str:
    if not isinstance(value, str) or len(value) > 1000:
        raise PreflightError(f"expected a short string, got {type(value).__name__}")
    return value


def _count(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise PreflightError(f"expected a count, got {value!r:.40}")
    return value


def _shapes(items: Iterable[Any]) -> tuple[ShapeCount, ...]:
    out = tuple(ShapeCount(_text(shape), _count(count)) for shape, count in items)
    if len(out) > 64:
        raise PreflightError("too many shapes in a report")
    return out


def party_report(
    table: RawTable,
    id_rules: IdRules,
    party: str,
    *,
    max_shapes: int = 8,
    min_shape_count: int = 5,
) -> PartyReport:
    """Summarise a party's table for the preflight (run by the party, on its own machine).

    Parameters
    ----------
    table : RawTable
        The party's table.
    id_rules : IdRules
        The id rules agreed (or proposed).
    party : str
        The party's name in the findings (``guest``, ``host-1``...).
    max_shapes : int, default 8
        Shapes listed at most (the rest merged into ``*``).
    min_shape_count : int, default 5
        Shapes seen on fewer rows are merged into ``*``.
    """
    ids = id_rules.apply_all(table.ids)
    counts = Counter(ids)
    shared = re.match(r"\D*", _common_prefix(ids)).group(0)  # type: ignore[union-attr]
    return PartyReport(
        party=party,
        rows=table.rows,
        id_rules=id_rules.canonical(),
        empty_ids=counts.get("", 0),
        duplicate_ids=sum(n - 1 for value, n in counts.items() if value and n > 1),
        raw_shapes=shape_counts(table.ids, max_shapes, min_shape_count),
        shapes=shape_counts(ids, max_shapes, min_shape_count),
        prefix=shared[:_SHAPE_CHARS],
        zero_padded=sum(value[:1] == "0" and value[1:2].isdecimal() for value in ids),
        missing=tuple((n, c) for n, c in table.missing_counts().items() if c),
        constant_columns=_constant_columns(table),
        high_cardinality=tuple(
            name
            for name, cells in table.categorical.items()
            if len(set(cells) - {None}) > max(50, table.rows // 2)
        ),
    )


def shape_counts(ids: Iterable[str], max_shapes: int, min_count: int) -> tuple[ShapeCount, ...]:
    """The most frequent shapes (at least ``min_count`` ids each), the rest as ``*``.

    Parameters
    ----------
    ids : iterable of str
        Ids.
    max_shapes : int
        Shapes listed at most.
    min_count : int
        Shapes seen fewer times go to ``*``.
    """
    counts = Counter(id_shape(value)[:_SHAPE_CHARS] for value in ids)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    kept = [ShapeCount(s, n) for s, n in ranked if n >= min_count][:max_shapes]
    rest = sum(counts.values()) - sum(s.count for s in kept)
    return tuple(kept) + ((ShapeCount(OTHER_SHAPES, rest),) if rest else ())


def _common_prefix(values: Sequence[str]) -> str:
    """The longest prefix of every value (that of the smallest and the largest)."""
    if not values:
        return ""
    low, high = min(values), max(values)
    size = 0
    while size < min(len(low), len(high)) and low[size] == high[size]:
        size += 1
    return low[:size]


def _constant_columns(table: RawTable) -> tuple[str, ...]:
    """Feature columns with at most one distinct non-missing value."""
    out = []
    for column in table.schema.columns:
        if column.kind == "numeric":
            x = table.numeric[column.name]
            distinct = np.unique(x[~np.isnan(x)]).size
        elif column.kind == "categorical":
            distinct = len({v for v in table.categorical[column.name] if v is not None})
        else:
            continue
        if distinct <= 1:
            out.append(column.name)
    return tuple(out)


@dataclass(frozen=True)
class Finding:
    """One thing the preflight found.

    Attributes
    ----------
    severity : {"error", "warning"}
        Errors stop the run; warnings are shown.
    code : str
        ``id-format``, ``id-rules``, ``duplicate-ids``, ``empty-ids``, ``too-few-rows``,
        ``small-overlap``, ``missing-values``, ``constant-column``, ``high-cardinality``.
    party : str
        The party it is about.
    message : str
        What to tell the user.
    """

    severity: Severity
    code: str
    party: str
    message: str


@dataclass(frozen=True)
class Preflight:
    """The comparison of every party's report.

    Attributes
    ----------
    findings : tuple of Finding
        Errors first.
    suggested_rules : IdRules or None
        Id rules predicted (from the shapes) to make the formats agree, when they differ.
    """

    findings: tuple[Finding, ...]
    suggested_rules: IdRules | None = None

    @property
    def ok(self) -> bool:
        """No errors (warnings allowed)."""
        return not any(f.severity == "error" for f in self.findings)

    def text(self) -> str:
        """The findings, one per line, and the suggestion."""
        lines = [f"{f.severity}: {f.party}: {f.message}" for f in self.findings]
        if self.suggested_rules is not None:
            lines.append(f"suggested id rules: {self.suggested_rules.canonical()}")
        return "\n".join(lines) if lines else "preflight: no problems found"

    def raise_for_errors(self) -> None:
        """Raise :class:`PreflightError` with :meth:`text` when there is an error."""
        if not self.ok:
            raise PreflightError("preflight failed:\n" + self.text())


def compare_reports(
    guest: PartyReport, hosts: Sequence[PartyReport], *, min_rows: int = 50
) -> Preflight:
    """Compare the guest's report with each host's, before any training.

    Parameters
    ----------
    guest : PartyReport
        The guest's report.
    hosts : sequence of PartyReport
        Each host's report.
    min_rows : int, default 50
        Fewer rows in a party's table is an error.
    """
    findings: list[Finding] = []
    for report in (guest, *hosts):
        findings += _own_findings(report, min_rows)
    suggestion: IdRules | None = None
    for host in hosts:
        if host.id_rules != guest.id_rules:
            message = f"applied id rules {host.id_rules!r}, the guest {guest.id_rules!r}"
            findings.append(Finding("error", "id-rules", host.party, message))
        elif not _compatible(guest.shapes, host.shapes):
            suggestion = suggestion or suggest_id_rules(guest, hosts)
            findings.append(Finding("error", "id-format", host.party, _format_message(guest, host)))
    findings.sort(key=lambda f: f.severity != "error")
    return Preflight(tuple(findings), suggestion)


def _own_findings(report: PartyReport, min_rows: int) -> list[Finding]:
    """What one report says about its own party."""
    out: list[Finding] = []
    p = report.party
    if report.rows < min_rows:
        out.append(Finding("error", "too-few-rows", p, f"{report.rows} rows (< {min_rows})"))
    if report.empty_ids:
        message = f"{report.empty_ids} ids are empty after the id rules {report.id_rules!r}"
        out.append(Finding("error", "empty-ids", p, message))
    if report.duplicate_ids:
        message = (
            f"{report.duplicate_ids} rows repeat an id after the id rules {report.id_rules!r} "
            "(remove the duplicates, or choose rules that keep the ids apart)"
        )
        out.append(Finding("error", "duplicate-ids", p, message))
    if report.missing:
        name, count = max(report.missing, key=lambda item: item[1])
        share = 100.0 * count / max(report.rows, 1)
        message = (
            f"missing cells in {len(report.missing)} column(s), imputed by the rules (most: "
            f"{name!r}, {count} = {share:.1f} %)"
        )
        out.append(Finding("warning", "missing-values", p, message))
    for name in report.constant_columns:
        message = f"column {name!r} has at most one value: it carries no information"
        out.append(Finding("warning", "constant-column", p, message))
    for name in report.high_cardinality:
        message = f"column {name!r} has a level for most rows: an id or free text, not a category"
        out.append(Finding("warning", "high-cardinality", p, message))
    return out


def _shares(shapes: Sequence[ShapeCount]) -> dict[str, float]:
    total = sum(s.count for s in shapes) or 1
    return {s.shape: s.count / total for s in shapes if s.shape != OTHER_SHAPES}


def _compatible(a: Sequence[ShapeCount], b: Sequence[ShapeCount]) -> bool:
    """Whether two shape distributions overlap on at least half their rows (or cannot tell)."""
    sa, sb = _shares(a), _shares(b)
    if sum(sa.values()) < 0.5 or sum(sb.values()) < 0.5:
        return True  # formats too varied to compare; the overlap check after the PSI decides
    return sum(min(share, sb.get(shape, 0.0)) for shape, share in sa.items()) >= 0.5


def _describe(report: PartyReport) -> str:
    top = ", ".join(f"{s.shape!r} ({s.count})" for s in report.shapes[:3])
    prefix = f"; every id starts with {report.prefix!r}" if report.prefix else ""
    padded = f"; {report.zero_padded} zero-padded" if report.zero_padded else ""
    return f"{report.party}: {top}{prefix}{padded}"


def _format_message(guest: PartyReport, host: PartyReport) -> str:
    return (
        f"id formats differ after the id rules: {_describe(guest)}; {_describe(host)}; the "
        "PSI would find (almost) no shared customers"
    )


def suggest_id_rules(guest: PartyReport, hosts: Sequence[PartyReport]) -> IdRules | None:
    """Id rules predicted from the shapes to make every host's formats agree with the guest's.

    The candidates, tried in order, are appended to the guest's current rules: ``strip``,
    ``casefold``, ``lstrip0``, removing each party's shared prefix, the same then
    ``lstrip0``, and last ``digits`` then ``lstrip0``. A candidate is chosen when the
    *predicted* shapes of every host overlap the guest's; the prediction cannot see the ids
    themselves, so run the preflight again with the suggestion, and look at the overlap the
    PSI finds.

    Parameters
    ----------
    guest : PartyReport
        The guest's report.
    hosts : sequence of PartyReport
        Each host's report.

    Returns
    -------
    IdRules or None
        The first candidate predicted to work, or ``None``.
    """
    base = IdRules.parse(guest.id_rules)
    prefixes = sorted({r.prefix for r in (guest, *hosts) if r.prefix}, key=lambda p: (-len(p), p))
    strip_prefixes = [IdRule("prefix", p) for p in prefixes]
    candidates: list[list[IdRule]] = [
        [IdRule("strip")],
        [IdRule("casefold")],
        [IdRule("lstrip0")],
        strip_prefixes,
        [*strip_prefixes, IdRule("lstrip0")],
        [IdRule("digits"), IdRule("lstrip0")],
    ]
    for extra in candidates:
        if not extra:
            continue
        predicted = _simulate(guest, extra)
        if all(_compatible(predicted, _simulate(host, extra)) for host in hosts):
            return base.then(*extra)
    return None


def _simulate(report: PartyReport, extra: Sequence[IdRule]) -> tuple[ShapeCount, ...]:
    """The report's shapes as they would be after ``extra`` (leading digit runs as ``9+``)."""
    out: Counter[str] = Counter()
    for item in report.shapes:
        shape, prefix = item.shape, report.prefix
        if shape != OTHER_SHAPES:
            for rule in extra:
                shape, prefix = _shape_step(rule, shape, prefix)
        out[shape] += item.count
    return tuple(ShapeCount(shape, count) for shape, count in out.items())


def _shape_step(rule: IdRule, shape: str, prefix: str) -> tuple[str, str]:
    """One rule applied to a shape and to the party's shared prefix."""
    if rule.kind == "strip":
        return shape.strip(), prefix.lstrip()
    if rule.kind == "casefold":
        return shape.replace("A", "a"), prefix.casefold()
    if rule.kind == "digits":
        return "".join(c for c in shape if c == "9"), ""
    if rule.kind == "lstrip0":
        return re.sub(r"^9+", "9+", shape), prefix
    if rule.kind == "prefix" and prefix.startswith(rule.arg):
        return shape[len(rule.arg) :], prefix[len(rule.arg) :]
    return shape, prefix


def overlap_findings(
    guest: PartyReport, host: PartyReport, shared: int, *, min_share: float = 0.1
) -> list[Finding]:
    """After the PSI: an error when the intersection is small, naming the id formats.

    Parameters
    ----------
    guest, host : PartyReport
        The two parties' reports.
    shared : int
        The intersection size the PSI found.
    min_share : float, default 0.1
        Fewer shared ids than this share of the smaller table is an error.
    """
    smaller = min(guest.rows, host.rows)
    if shared >= max(1, min_share * smaller):
        return []
    return [
        Finding(
            "error",
            "small-overlap",
            host.party,
            f"the PSI found {shared} shared ids ({guest.rows} guest rows, {host.rows} host "
            f"rows) with the id rules {guest.id_rules!r}; formats: {_describe(guest)}; "
            f"{_describe(host)}",
        )
    ]


__all__ = [
    "OTHER_SHAPES",
    "Finding",
    "PartyReport",
    "Preflight",
    "Severity",
    "ShapeCount",
    "compare_reports",
    "overlap_findings",
    "party_report",
    "shape_counts",
    "suggest_id_rules",
]
