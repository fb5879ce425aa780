"""``fedmarket task design`` for any dataset, from CSV files or a running marketplace.

Every flag lands in the spec, and every bad value ends the command with one line naming it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from fedmarket.demo import build_world, dataset_metadata, design_task
from fl_node.data import breast_cancer_hospitals, pool_stats, save_csv
from fl_node.task import TaskSpec

DEMO_FLAGS = [
    "--name",
    "breast-cancer-diagnosis",
    "--description",
    "Malignant vs benign across four hospitals (horizontal FL, FedAvg).",
    "--target",
    "accuracy=0.92",
    "--target",
    "f1=0.88",
    "--contribution",
    "shapley-gtg",
    "--reward-budget",
    "improvement",
    "--unspent",
    "return",
]
"""With these (and every other flag at its default) the general command designs the demo's task."""


@pytest.fixture(scope="module")
def hospital_csvs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("hospitals")
    split = breast_cancer_hospitals(4, seed=2024)
    return [save_csv(h, split.feature_names, folder / f"{h.name}.csv") for h in split.hospitals]


def stats_flags(paths: list[Path]) -> list[str]:
    return [arg for path in paths for arg in ("--stats-from", str(path))]


def test_from_csv_files_the_general_command_designs_the_demos_task(cli, tmp_path, hospital_csvs):
    out = tmp_path / "spec.json"
    ran = cli("task", "design", *stats_flags(hospital_csvs), *DEMO_FLAGS, "--out", str(out))
    assert ran.code == 0, ran.stderr
    split = breast_cancer_hospitals(4, seed=2024)
    expected = design_task([h.stats() for h in split.hospitals], split.feature_names, rounds=10)
    assert out.read_bytes() == expected.to_bytes()


def test_a_defence_and_its_parameters_land_in_the_spec(cli, tmp_path, hospital_csvs):
    out = tmp_path / "spec.json"
    flags = ["--defence", "trimmed_mean", "--defence-param", "beta=0.25"]
    flags += ["--defence-param", "flag_at=4", "--defence-param", "clip_norm_factor=3"]
    ran = cli("task", "design", *stats_flags(hospital_csvs), *flags, "--out", str(out))
    assert ran.code == 0, ran.stderr
    spec = TaskSpec.from_bytes(out.read_bytes())
    assert spec.defence == "trimmed_mean"
    assert spec.defence_params == {"beta": 0.25, "flag_at": 4.0, "clip_norm_factor": 3.0}


def test_every_flag_lands_in_the_spec(cli, tmp_path):
    rng = np.random.default_rng(0)
    parts = [rng.normal(loc=i, scale=i + 1, size=(20 + 10 * i, 3)) for i in range(3)]
    paths = []
    for i, x in enumerate(parts):  # the label is the first column and not called "label"
        path = tmp_path / f"site-{i}.csv"
        rows = [",".join(["outcome", "age", "dose", "weight"])]
        rows += [",".join([str(int(r[0] > i)), *(repr(float(v)) for v in r)]) for r in x]
        path.write_text("\n".join(rows) + "\n")
        paths.append(path)
    out = tmp_path / "spec.json"
    ran = cli(
        "task", "design", *stats_flags(paths), "--label", "outcome", "--out", str(out),
        "--name", "dosing", "--description", "three sites", "--model", "logreg", "--seed", "3",
        "--rounds", "4", "--local-epochs", "3", "--batch-size", "0", "--lr", "0.2",
        "--momentum", "0", "--weight-decay", "0.01", "--max-steps", "1", "--train-seed", "9",
        "--strategy", "fedsgd", "--server-lr", "0.5", "--contribution", "shapley-exact",
        "--target", "auc=0.8", "--target", "ks=0.4",
    )  # fmt: skip
    assert ran.code == 0, ran.stderr
    spec = TaskSpec.from_bytes(out.read_bytes())
    assert (spec.name, spec.description, spec.rounds) == ("dosing", "three sites", 4)
    assert spec.feature_names == ("age", "dose", "weight")
    assert (spec.model.kind, spec.model.hidden, spec.model.seed) == ("logreg", (), 3)
    train = spec.train
    assert (train.local_epochs, train.batch_size, train.lr, train.momentum) == (3, 0, 0.2, 0.0)
    assert (train.weight_decay, train.max_steps, train.seed) == (0.01, 1, 9)
    assert (spec.strategy, spec.server_lr, spec.contribution) == ("fedsgd", 0.5, "shapley-exact")
    assert spec.acceptance == {"auc": 0.8, "ks": 0.4}
    union = np.concatenate(parts).astype(np.float32).astype(np.float64)  # the obvious way
    np.testing.assert_allclose(spec.model.feature_mean, union.mean(axis=0), rtol=1e-9)
    np.testing.assert_allclose(spec.model.feature_std, union.std(axis=0), rtol=1e-9)


def test_mlp_widths_and_defaults(cli, tmp_path, hospital_csvs):
    out = tmp_path / "spec.json"
    ran = cli(
        "task", "design", *stats_flags(hospital_csvs[:2]), "--hidden", "32,8", "--out", str(out)
    )
    assert ran.code == 0, ran.stderr
    spec = TaskSpec.from_bytes(out.read_bytes())
    assert (spec.name, spec.model.kind, spec.model.hidden) == ("horizontal-task", "mlp", (32, 8))
    assert spec.acceptance == {} and spec.strategy == "fedavg"


@dataclass
class Market:
    url: str
    feature_names: tuple[str, ...]


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Market]:
    """A real marketplace server with the demo's four hospitals' listings and one other.

    The other listing has another tag and another schema.
    """
    from marketplace_api import MarketplaceClient, Services, create_app, serve_in_thread

    folder = tmp_path_factory.mktemp("market")
    world = build_world(folder / "store")
    services = Services.embedded(
        backend=world.backend,
        deployment=world.deployment,
        relayer=world.relayer,
        store=world.store,
        database_url=f"sqlite:///{folder / 'market.db'}",
    )
    server = serve_in_thread(create_app(services=services))
    try:
        with MarketplaceClient(server.url) as api:
            names = world.split.feature_names
            for signer, data in zip(world.hospitals, world.split.hospitals, strict=True):
                account = world.accounts[world.names[signer.address]]
                api.list_dataset(account, dataset_metadata(data, names, signer.address))
            other = dataset_metadata(world.split.hospitals[0], names[:2], world.sponsor.address)
            other.update(
                name="something else",
                tags=["retail"],
                statistics={
                    "count": 3,
                    "mean": [1, 2],
                    "std": [1, 1],
                    "min": [0, 0],
                    "max": [3, 3],
                },
            )
            api.list_dataset(world.accounts["sponsor"], other)
        yield Market(server.url, names)
    finally:
        server.stop()


@pytest.mark.slow
def test_from_a_running_marketplace_the_spec_pools_the_tagged_listings(
    cli, tmp_path, market, hospital_csvs
):
    from_api, from_csv = tmp_path / "api.json", tmp_path / "csv.json"
    ran = cli(
        "task", "design", "--api", market.url, "--tag", "breast-cancer", "--out", str(from_api)
    )
    assert ran.code == 0, ran.stderr
    assert "breast-cancer, 30 features" in ran.stdout
    assert cli("task", "design", *stats_flags(hospital_csvs), "--name", "breast-cancer",
               "--out", str(from_csv)).code == 0  # fmt: skip
    spec = TaskSpec.from_bytes(from_api.read_bytes())
    assert spec.feature_names == market.feature_names
    assert from_api.read_bytes() == from_csv.read_bytes()  # listings publish what files hold
    split = breast_cancer_hospitals(4, seed=2024)
    mean, std = pool_stats([h.stats() for h in split.hospitals])
    assert list(spec.model.feature_mean) == mean and list(spec.model.feature_std) == std


@pytest.mark.slow
def test_listings_of_other_features_are_left_out_and_reported(cli, tmp_path, market):
    ran = cli("task", "design", "--api", market.url, "--out", str(tmp_path / "x.json"))
    assert ran.code == 0, ran.stderr
    assert "read 5 listings: 4 used, 1 excluded" in ran.stdout
    assert "other features than the 4 listings used" in ran.stdout
    assert TaskSpec.from_bytes((tmp_path / "x.json").read_bytes()).feature_names == (
        market.feature_names
    )
    ran = cli("task", "design", "--api", market.url, "--tag", "none", "--out", "x.json")
    assert ran.code == 2
    assert "lists no matching dataset" in ran.one_error_line()


BAD_FLAGS = [
    (["--rounds", "0"], "--rounds"),
    (["--rounds", "1001"], "--rounds"),
    (["--local-epochs", "0"], "--local-epochs"),
    (["--batch-size", "-1"], "--batch-size"),
    (["--lr", "0"], "--lr"),
    (["--lr", "nan"], "--lr"),
    (["--momentum", "1"], "--momentum"),
    (["--weight-decay", "-0.1"], "--weight-decay"),
    (["--max-steps", "-2"], "--max-steps"),
    (["--server-lr", "-1"], "--server-lr"),
    (["--model", "forest"], "--model"),
    (["--strategy", "fedmagic"], "--strategy"),
    (["--strategy", "fedprox", "--strategy-param", "mu=-1"], "mu"),
    (["--defence", "prayer"], "--defence"),
    (["--defence", "krum", "--defence-param", "f=0.5"], "f"),
    (["--defence", "median", "--defence-param", "beta=0.1"], "beta"),
    (["--defence-param", "flag_at=3"], "--defence"),
    (["--defence", "median", "--defence-param", "flag_at"], "--defence-param"),
    (["--reward-budget", "lavish"], "--reward-budget"),
    (["--full-at", "0"], "--full-at"),
    (["--unspent", "burn"], "--unspent"),
    (["--floor-bps", "5001"], "--floor-bps"),
    (["--contribution", "vibes"], "--contribution"),
    (["--hidden", "16,0"], "--hidden"),
    (["--hidden", "wide"], "--hidden"),
    (["--model", "logreg", "--hidden", "8"], "--hidden"),
    (["--target", "accuracy"], "--target"),
    (["--target", "loss=0.1"], "--target"),
    (["--target", "f1=1.5"], "--target"),
    (["--target", "f1=0.8", "--target", "f1=0.9"], "--target"),
    (["--label", "diagnosis"], "no label column 'diagnosis' (--label)"),
    (["--tag", "medical"], "--tag"),
    (["--api", "http://127.0.0.1:9"], "--api"),
]


@pytest.mark.parametrize(
    ("flags", "named"), BAD_FLAGS, ids=lambda v: " ".join(v) if isinstance(v, list) else ""
)
def test_a_bad_flag_is_exit_2_and_one_line_naming_it(cli, tmp_path, hospital_csvs, flags, named):
    out = tmp_path / "spec.json"
    ran = cli("task", "design", "--stats-from", str(hospital_csvs[0]), *flags, "--out", str(out))
    assert ran.code == 2
    assert named in ran.one_error_line()
    assert not out.exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no file at"),
        ("", "empty or not a CSV"),
        ("a,b,label\n", "no rows"),
        ("a,b,label\n1,2\n", "line 2 has 2 values for 3 columns"),
        ("a,b,label\n1,x,0\n", "column 'b': 'x' is not a finite number"),
        ("a,b,label\n1,inf,0\n", "column 'b': 'inf' is not a finite number"),
        ("a,a,label\n1,2,0\n", "repeated column names"),
    ],
)
def test_a_bad_csv_is_exit_2_and_one_line(cli, tmp_path, content, message):
    path = tmp_path / "data.csv"
    if content is not None:
        path.write_text(content)
    ran = cli("task", "design", "--stats-from", str(path), "--out", str(tmp_path / "spec.json"))
    assert ran.code == 2
    assert message in ran.one_error_line()


def test_csv_files_with_different_columns_are_refused(cli, tmp_path, hospital_csvs):
    other = tmp_path / "other.csv"
    other.write_text("a,b,label\n1,2,0\n")
    ran = cli("task", "design", *stats_flags([hospital_csvs[0], other]), "--out", "x.json")
    assert ran.code == 2
    assert "has other columns than" in ran.one_error_line()
