"""The preflight on the German credit split as a bank would bring it, and on hand-made reports.

The split's id formats differ on purpose (``cust-0001``, ``0001``, ``C1``): the preflight must
say so before any training, suggest a rule, and pass once the rule is applied; the joined
table must then hold exactly the customers every party has, with their own values.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from fedmarket.demo.german_tables import (
    GermanSplit,
    default_source,
    read_source,
    write_german_split,
)
from fl_node.vertical.tables import (
    NO_RULES,
    IdRules,
    PartyReport,
    PreflightError,
    PrepRules,
    RawTable,
    SchemaSpec,
    centralised_cv_auc,
    compare_reports,
    join_prepared,
    overlap_findings,
    party_report,
    prepare_party,
    read_table,
    stratified_folds,
)
from kernel.errors import NotFoundError
from tests.support.services import unavailable

NAMES = ("guest", "host-1", "host-2")


@pytest.fixture(scope="module")
def german(tmp_path_factory: pytest.TempPathFactory) -> GermanSplit:
    try:
        source = default_source()
        read_source(source)
    except NotFoundError as exc:
        unavailable(f"German credit data: {exc}")
    return write_german_split(tmp_path_factory.mktemp("german"), seed=3, blank_share=0.02)


@pytest.fixture(scope="module")
def tables(german: GermanSplit) -> list[RawTable]:
    spec = SchemaSpec(id_column=german.id_column, label_column=german.label_column)
    guest = read_table(german.guest, spec, role="guest")
    return [guest, *(read_table(h, spec, role="host") for h in german.hosts)]


def reports(tables: list[RawTable], rules: IdRules) -> list[PartyReport]:
    return [party_report(t, rules, name) for t, name in zip(tables, NAMES, strict=True)]


def test_the_split_is_what_a_bank_would_bring(german: GermanSplit, tables: list[RawTable]) -> None:
    guest, host1, host2 = tables
    assert guest.ids[0].startswith("cust-") and host2.ids[0].startswith("C")
    assert all(t.rows == 900 for t in tables)
    assert {c.kind for c in guest.schema.columns} == {"label", "numeric", "categorical"}
    assert (
        len(guest.schema.names("categorical"))
        + len(host1.schema.names("categorical"))
        + len(host2.schema.names("categorical"))
        == 13
    )
    assert list(guest.ids) != sorted(guest.ids)  # each party's own row order


def test_preflight_names_the_format_mismatch_and_suggests_a_rule(tables: list[RawTable]) -> None:
    guest, *hosts = reports(tables, NO_RULES)
    found = compare_reports(guest, hosts)
    assert not found.ok
    formats = [f for f in found.findings if f.code == "id-format"]
    assert [f.party for f in formats] == ["host-1", "host-2"]
    assert "'aaaa-9999'" in formats[0].message and "'9999'" in formats[0].message
    assert "'cust-'" in formats[0].message and "'A999'" in formats[1].message
    assert found.suggested_rules == IdRules.parse('prefix="cust-"|prefix="C"|lstrip0')
    with pytest.raises(PreflightError, match="id formats differ"):
        found.raise_for_errors()
    warnings = {f.code for f in found.findings if f.severity == "warning"}
    assert warnings == {"missing-values"}


def test_with_the_suggested_rule_it_passes_and_the_join_is_right(
    german: GermanSplit, tables: list[RawTable]
) -> None:
    rules = IdRules.parse('prefix="cust-"|prefix="C"|lstrip0')
    guest, *hosts = reports(tables, rules)
    found = compare_reports(guest, hosts)
    assert found.ok and found.suggested_rules is None
    prepared = [prepare_party(t, rules, PrepRules()) for t in tables]
    joined = join_prepared(prepared[0], prepared[1:])
    number = [{int(i.removeprefix("cust-").removeprefix("C")) for i in t.ids} for t in tables]
    shared = number[0] & number[1] & number[2]
    assert sorted(map(int, joined.ids)) == sorted(shared)  # no row dropped beyond the missing
    source = read_source(default_source())
    expected_labels = [float(source[int(i) - 1][-1] == "2") for i in joined.ids]
    np.testing.assert_array_equal(joined.labels, expected_labels)
    # host-1's 'age' lines up with the source customer by customer (blank cells were imputed)
    state = next(n for n in prepared[1].prep.numeric if n.name == "age")
    cells = dict(zip(prepared[1].ids, tables[1].numeric["age"], strict=True))
    column = joined.feature_names.index("host-1:age")
    back = joined.features[:, column] * state.scale + state.mean
    raw = np.array([float(source[int(i) - 1][12]) for i in joined.ids])
    blank = np.array([np.isnan(cells[i]) for i in joined.ids])
    assert 0 < blank.sum() < 40
    np.testing.assert_allclose(back[~blank], raw[~blank])
    np.testing.assert_allclose(back[blank], state.fill)
    for overlap in (len(shared), 5):
        problems = overlap_findings(guest, hosts[0], overlap)
        assert bool(problems) == (overlap == 5)


def test_the_centralised_twin_is_a_plausible_credit_model(tables: list[RawTable]) -> None:
    rules = IdRules.parse("digits|lstrip0")
    prepared = [prepare_party(t, rules, PrepRules()) for t in tables]
    joined = join_prepared(prepared[0], prepared[1:])
    result = centralised_cv_auc(joined, folds=5, seed=0)
    assert result.rows == joined.labels.size and len(result.fold_aucs) == 5
    assert 0.70 < result.auc < 0.85


def test_a_report_carries_no_id(tables: list[RawTable]) -> None:
    for table, report in zip(tables, reports(tables, NO_RULES), strict=True):
        text = json.dumps(report.to_dict())
        assert not any(f'"{value}"' in text or f"'{value}'" in text for value in table.ids)
        assert PartyReport.from_dict(json.loads(text)) == report


def hand_report(write_csv: Callable[[str, str], Path], name: str, ids: list[str]) -> PartyReport:
    body = "".join(f"{value},{i}\n" for i, value in enumerate(ids))
    table = read_table(write_csv(f"{name}.csv", "id,x\n" + body), SchemaSpec(), role="host")
    return party_report(table, IdRules.parse("strip"), name, min_shape_count=1)


def test_duplicates_empty_ids_and_small_tables_are_errors(
    write_csv: Callable[[str, str], Path],
) -> None:
    guest = hand_report(write_csv, "guest", [f"{i:03d}" for i in range(60)])
    host = hand_report(write_csv, "host-1", [f"{i:03d}" for i in range(59)] + [" 001 "])
    small = hand_report(write_csv, "host-2", ["001", "002", " "])
    found = compare_reports(guest, [host, small])
    codes = {(f.code, f.party) for f in found.findings if f.severity == "error"}
    assert codes == {
        ("duplicate-ids", "host-1"),
        ("too-few-rows", "host-2"),
        ("empty-ids", "host-2"),
    }
    assert host.duplicate_ids == 1


def test_parties_with_different_rules_are_stopped(write_csv: Callable[[str, str], Path]) -> None:
    guest = hand_report(write_csv, "guest", [f"{i:03d}" for i in range(60)])
    host = replace(guest, party="host-1", id_rules=IdRules.parse("lstrip0").canonical())
    found = compare_reports(guest, [host])
    assert [f.code for f in found.findings] == ["id-rules"]


def test_rare_shapes_are_merged_so_a_report_cannot_single_out_an_id(
    write_csv: Callable[[str, str], Path],
) -> None:
    ids = [f"{i:04d}" for i in range(40)] + ["VIP-Smith"]
    table = read_table(
        write_csv("t.csv", "id,x\n" + "".join(f"{v},1\n" for v in ids)), SchemaSpec(), role="host"
    )
    report = party_report(table, NO_RULES, "host-1")
    assert [(s.shape, s.count) for s in report.shapes] == [("9999", 40), ("*", 1)]
    assert "constant" not in report.to_dict() or report.constant_columns == ("x",)


@pytest.mark.parametrize(
    "change",
    [
        {"rows": -1},
        {"rows": True},
        {"party": 5},
        {"shapes": [["9", 10**6]]},
        {"version": 2},
        {"missing": [["x"]]},
        {"shapes": [["9", 1]] * 65},
    ],
)
def test_a_hostile_peer_report_is_refused(
    write_csv: Callable[[str, str], Path], change: dict[str, object]
) -> None:
    report = hand_report(write_csv, "host-1", [f"{i:03d}" for i in range(60)])
    with pytest.raises(PreflightError):
        PartyReport.from_dict(report.to_dict() | change)


def test_the_benchmark_runs_its_quick_setting(german: GermanSplit, tmp_path: Path) -> None:
    script = Path(__file__).resolve().parents[5] / "benchmarks" / "bench_vfl_tables.py"
    spec = importlib.util.spec_from_file_location("bench_vfl_tables", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    figures = module.main(["--quick", "--json", str(tmp_path / "f.json")])
    assert figures["preflight_with_rules_ok"] is True
    assert figures["suggested_id_rules"] == 'idrules/v1:prefix="cust-"|prefix="C"|lstrip0'
    assert json.loads((tmp_path / "f.json").read_text())["folds"] == 2


def test_the_twin_can_mirror_the_runners_per_fold_scaling(tables: list[RawTable]) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    rules = IdRules.parse("digits|lstrip0")
    prepared = [prepare_party(t, rules, PrepRules()) for t in tables]
    joined = join_prepared(prepared[0], prepared[1:])
    splits = stratified_folds(joined.labels, 3, seed=1)[:1]
    got = centralised_cv_auc(joined, splits=splits, fold_standardise=True, fold_clip=3.0)
    train, test = splits[0]
    x, y = joined.features, joined.labels
    sd = x[train].std(axis=0)
    z = np.clip((x - x[train].mean(axis=0)) / np.where(sd > 1e-12, sd, 1.0), -3.0, 3.0)
    model = LogisticRegression(max_iter=5000).fit(z[train], y[train])
    expected = roc_auc_score(y[test], model.predict_proba(z[test])[:, 1])
    assert len(got.fold_aucs) == 1
    assert got.fold_aucs[0] == pytest.approx(expected, abs=1e-12)
    plain = centralised_cv_auc(joined, splits=splits)
    assert plain.fold_aucs != got.fold_aucs  # the clip changes rare one-hot columns
