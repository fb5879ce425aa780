"""Plans and party summaries as JSON: round trips, and crafted documents refused."""

from __future__ import annotations

import copy
import json

import pytest

from fl_node.data import PartySummary, SchemaPlan, derive_schema, summarise
from fl_node.data.schemas import heart_disease_plan
from fl_node.data.summary import QUANTILE_LEVELS
from fl_node.errors import SpecError


def test_the_heart_plan_and_a_hospitals_summary_round_trip(heart_tables):
    plan = heart_disease_plan()
    assert SchemaPlan.from_dict(json.loads(json.dumps(plan.to_dict()))) == plan
    summary = summarise(plan, heart_tables["va"])
    assert PartySummary.from_dict(json.loads(summary.to_json())) == summary
    age = dict(summary.numeric)["age"]
    assert len(age.quantiles) == len(QUANTILE_LEVELS) == 21  # age is imputed by its median


def test_summaries_read_back_derive_the_ready_schema(heart_schema, heart_tables, tmp_path):
    plan = heart_disease_plan()
    paths = []
    for name, table in heart_tables.items():
        path = tmp_path / f"{name}.json"
        path.write_text(summarise(plan, table).to_json())
        paths.append(path)
    assert derive_schema(plan, [PartySummary.load(p) for p in paths]) == heart_schema


def test_a_mean_imputed_column_publishes_no_quantiles(heart_tables):
    from fl_node.data import infer_plan

    plan = infer_plan(heart_tables["va"], label="num", kind="binary", missing_tokens=["?"])
    summary = summarise(plan, heart_tables["va"])
    assert all(not s.quantiles for _, s in summary.numeric)


def _summary_doc(heart_tables):
    return summarise(heart_disease_plan(), heart_tables["cleveland"]).to_dict()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["numeric"]["age"].update(count=-1), "count"),
        (lambda d: d["numeric"]["age"].update(min=99), "disagree"),
        (lambda d: d["numeric"]["age"].update(quantiles=[1, 0] * 10 + [3]), "disagree|decrease"),
        (lambda d: d["numeric"]["age"].update(quantiles=[1.0] * 1000), "21 numbers"),
        (lambda d: d["numeric"]["age"].update(code="os.system('x')"), "unknown key 'code'"),
        (
            lambda d: d["categorical"]["cp"].update(counts={str(i): 1 for i in range(2000)}),
            "at most 1024",
        ),
        (lambda d: d["categorical"]["cp"].update(counts={"1": "many"}), "integer"),
        (lambda d: d["label"].update(kind="pickle"), "label.kind"),
        (lambda d: d.update(rows=10**20), "rows"),
        (lambda d: d.update(version=9), "version"),
    ],
)
def test_a_crafted_summary_is_refused(heart_tables, edit, message):
    doc = copy.deepcopy(_summary_doc(heart_tables))
    edit(doc)
    with pytest.raises(SpecError, match=message):
        PartySummary.from_dict(doc)


def test_a_crafted_plan_is_refused():
    doc = heart_disease_plan().to_dict()
    bad = copy.deepcopy(doc)
    bad["columns"][0]["impute"] = "most-frequent"  # a categorical rule on a number
    with pytest.raises(SpecError, match="columns\\[0\\].impute"):
        SchemaPlan.from_dict(bad)
    bad = copy.deepcopy(doc)
    bad["columns"][1] = dict(bad["columns"][0])
    with pytest.raises(SpecError, match="distinct"):
        SchemaPlan.from_dict(bad)
    bad = copy.deepcopy(doc)
    bad["columns"][10]["constant"] = {"__class__": "x"}
    with pytest.raises(SpecError, match="constant"):
        SchemaPlan.from_dict(bad)
