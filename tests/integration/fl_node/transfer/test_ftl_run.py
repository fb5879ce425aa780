"""``run_ftl`` and ``fedmarket ftl`` on a subset of X-Wines, recorded on the in-process chain.

The run owns a fresh in-process chain; the test then reads the chain back: the task's spec
hash is the keccak of the spec, each party's committed hash is the keccak of the file it
wrote, and the claims paid the whole pool as the Shapley split says.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from fl_node.errors import DataUnavailableError
from tests.support.services import unavailable

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore")]

USERS, EPOCHS = 400, 25


@pytest.fixture(scope="module")
def xwines() -> None:
    from fl_node.transfer.data import dataset_folder

    try:
        dataset_folder()
    except DataUnavailableError as exc:
        unavailable(str(exc))


@pytest.fixture(scope="module")
def done(
    tmp_path_factory: pytest.TempPathFactory, xwines: None
) -> tuple[dict[str, Any], Any, Path]:
    from dataclasses import replace

    from chain import connect
    from fl_node.transfer import MFConfig
    from fl_node.transfer.runner import FtlSettings, run_ftl

    out = tmp_path_factory.mktemp("ftl")
    backend = connect(None)
    settings = FtlSettings(config=replace(MFConfig(), epochs=EPOCHS), max_users=USERS, workers=1)
    events: list[Any] = []
    summary = run_ftl("xwines", out, settings=settings, backend=backend, on_event=events.append)
    summary["_events"] = events
    return summary, backend, out


def test_files_and_figures(done: tuple[dict[str, Any], Any, Path]) -> None:
    summary, _, out = done
    assert json.loads((out / "summary.json").read_text())["kind"] == "ftl"
    for name in summary["artifacts"].values():
        assert (out / name).stat().st_size > 0, name
    m = summary["metrics"]
    assert m["federated"]["rmse"] < m["target_only"]["rmse"] < m["global_mean"]["rmse"]
    assert summary["gain_recovered"] > 0.7
    assert summary["psi"]["intersection_size"] > 0
    assert "target" in summary["traffic"]["bytes_by_sender"]
    assert "| federated |" in (out / "evaluation_report.md").read_text()


def test_the_chain_records_the_spec_the_parts_and_the_rewards(
    done: tuple[dict[str, Any], Any, Path],
) -> None:
    from dataclasses import replace

    from chain import Deployment
    from fl_node.transfer import MFConfig
    from fl_node.transfer.runner import FtlSettings
    from storage import canonical_json, content_hash

    summary, backend, out = done
    c = summary["chain"]
    deployment = Deployment.load(Deployment(**c["contracts"]).save(out / "deployment.json"))
    reader = deployment.fed_task_client(backend)
    task = reader.task(c["task_id"])
    spec = FtlSettings(
        config=replace(MFConfig(), epochs=EPOCHS), max_users=USERS, workers=1
    ).task_spec("xwines")
    assert bytes(task.spec_hash) == bytes(content_hash(canonical_json(spec)))
    for party, role_file in (
        ("target", "target/model_target.npz"),
        ("source", "source/model_source.npz"),
    ):
        committed = reader.commitment_of(c["task_id"], 1, c["addresses"][party])
        assert committed is not None
        file_hash = bytes(content_hash((out / role_file).read_bytes()))
        assert bytes(committed.update_hash) == file_hash
        assert "0x" + file_hash.hex() == c["parts"][party]["hash"]
    paid = c["rewards"]["paid_wei"]
    assert sum(paid.values()) == 100 * 10**18
    shapley = summary["contribution"]["shapley"]
    target_paid, source_paid = paid[c["addresses"]["target"]], paid[c["addresses"]["source"]]
    assert target_paid / (target_paid + source_paid) == pytest.approx(
        shapley["target"] / (shapley["target"] + shapley["source"]), rel=1e-9
    )


def test_cli(tmp_path: Path, xwines: None) -> None:
    from fedmarket.cli.app import app

    out = tmp_path / "cli"
    args = ["ftl", "--out", str(out), "--max-users", "300", "--epochs", "10", "--workers", "1"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "gain recovered" in result.output
    assert json.loads((out / "summary.json").read_text())["chain"]["task_id"] >= 1
