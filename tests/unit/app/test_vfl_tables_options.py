"""``fedmarket vfl --guest CSV --host CSV ...``: the options become a checked ``VflTables``.

Every bad input ends the command before any process starts, with one line naming the flag, the
file or the key at fault (exit 2); ``--paillier-randomizer`` reaches the run's configuration
and the task spec. The run itself is tested end to end in
``tests/integration/fl_node/vertical/test_vfl_tables_cli.py``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from fedmarket.cli._vfl_tables import TableOptions, tables_input
from fl_node.vertical.runner import VflSettings
from fl_node.vertical.runner.settings import PRESETS
from fl_node.vertical.runner.tables_run import plan_tables
from kernel.errors import FedmarketError, InvalidInputError


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    guest = tmp_path / "guest.csv"
    guest.write_text("id,y,a\n1,0,3\n2,1,4\n")
    hosts = []
    for k in (1, 2):
        path = tmp_path / f"host{k}.csv"
        path.write_text("id,b\n1,5\n2,6\n")
        hosts.append(path)
    return {"guest": guest, "host1": hosts[0], "host2": hosts[1], "dir": tmp_path}


def _options(files: dict[str, Path], **changes: Any) -> TableOptions:
    base: dict[str, Any] = {
        "guest": files["guest"],
        "hosts": [files["host1"], files["host2"]],
        "id_column": "id",
        "label_column": "y",
        "schemas": [],
        "id_rules": None,
        "prep": None,
        "algorithm": "secureboost",
        "config": None,
        "boost_flags": {},
    }
    return TableOptions(**{**base, **changes})


def test_the_options_become_the_input(files: dict[str, Path]) -> None:
    config = files["dir"] / "run.toml"
    config.write_text("[secureboost]\nn_trees = 7\nmax_depth = 4\n[lr]\nmax_epochs = 3\n")
    tables = tables_input(
        _options(files, config=config, id_rules="strip|lstrip0", boost_flags={"n_trees": 5})
    )
    assert [s.party for s in tables.sources] == ["guest", "host-1", "host-2"]
    assert tables.guest.schema.label == "y" and tables.hosts[0].schema.label is None
    assert tables.boost.n_trees == 5 and tables.boost.max_depth == 4  # flag over file
    assert tables.lr.max_epochs == 3
    spec = tables.spec()
    assert spec["algorithm"] == "secureboost" and "breast" not in str(spec)
    assert spec["id_rules"] == {
        "text": "idrules/v1:strip|lstrip0",
        "sha256": tables.id_rules.digest(),
    }


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"algorithm": "forest"}, "--algorithm must be lr or secureboost"),
        ({"hosts": []}, "--host"),
        ({"label_column": None}, "--label-column"),
        ({"schemas": [Path("a.toml"), Path("b.toml")]}, "--schema: give one file for all"),
        ({"id_rules": "shout"}, "shout"),
        ({"prep": "clip=-1"}, "clip"),
        ({"boost_flags": {"max_depth": 40}}, "the hyper-parameter flags: BoostConfig"),
    ],
)
def test_bad_inputs_are_refused_naming_what(
    files: dict[str, Path], changes: dict[str, Any], named: str
) -> None:
    with pytest.raises(InvalidInputError, match=named.replace("(", r"\(")):
        tables_input(_options(files, **changes))


def test_a_missing_file_and_a_bad_config_key_are_named(files: dict[str, Path]) -> None:
    missing = files["dir"] / "nope.csv"
    with pytest.raises(InvalidInputError, match=f"--host {missing}: no such file"):
        tables_input(_options(files, hosts=[missing]))
    config = files["dir"] / "bad.toml"
    config.write_text("[secureboost]\ntrees = 3\n")
    with pytest.raises(InvalidInputError, match=r"--config .*bad.toml \[secureboost\]: unknown"):
        tables_input(_options(files, config=config))


def test_lr_takes_several_hosts(files: dict[str, Path]) -> None:
    tables = tables_input(_options(files, algorithm="lr"))
    assert tables.algorithm == "lr" and tables.host_roles == ("host-1", "host-2")
    plan = plan_tables(tables, VflSettings(key_bits=512, epochs=2), files["dir"] / "out")
    assert plan.processes == ("guest", "host-1", "host-2", "arbiter")  # the key holder
    assert plan.roles == ("guest", "host-1", "host-2")  # the task's participants
    assert plan.config.max_epochs == 2 and plan.config.key_bits == 512  # type: ignore[union-attr]
    assert plan.task_spec()["kind"] == "vertical-logistic-regression"


class _Stop(FedmarketError):
    """Raised by the recorder in place of the run."""


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    import fl_node.vertical.runner as runner

    seen: dict[str, Any] = {}

    def record(data: Any, out: Any, *, settings: VflSettings, **_: Any) -> dict[str, Any]:
        seen["data"], seen["settings"] = data, settings
        raise _Stop("recorded")

    monkeypatch.setattr(runner, "run_vfl", record)
    return seen


@pytest.mark.parametrize("value", [None, "short-exponent", "textbook"])
def test_the_randomizer_flag_reaches_the_config_and_the_spec(
    files: dict[str, Path], recorded: dict[str, Any], value: str | None
) -> None:
    from fedmarket.cli import app

    args = ["vfl", "--guest", str(files["guest"]), "--host", str(files["host1"])]
    args += ["--label-column", "y"] + (["--paillier-randomizer", value] if value else [])
    result = CliRunner().invoke(app, args)
    assert isinstance(result.exception, _Stop), result.output
    settings = recorded["settings"]
    assert settings.randomizer == value
    expected = value or "short-exponent"
    plan = plan_tables(recorded["data"], settings, files["dir"] / "out")
    assert plan.config.randomizer == expected
    assert plan.task_spec()["config"]["randomizer"] == expected  # type: ignore[index]
    assert settings.with_randomizer(PRESETS["breast"]).randomizer == expected  # the preset path


def test_a_bad_randomizer_exits_2_with_one_line() -> None:
    args = ["vfl", "--paillier-randomizer", "fast"]
    done = subprocess.run(
        [sys.executable, "-m", "fedmarket", *args], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines == ["error: --paillier-randomizer must be short-exponent or textbook, not 'fast'"]
    with pytest.raises(InvalidInputError, match="randomizer must be one of"):
        VflSettings(randomizer="fast").plan("breast", Path("unused"))  # type: ignore[arg-type]
