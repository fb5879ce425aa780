"""Every error family through the real command line, checked against the README's table.

Real triggers where they are cheap (a missing file, an unreachable node, a deployment without
code, a transaction that reverts, bytes that differ from their anchor, a deadline passed, an
audit that finds a tampered model); for the rest, and for every family at once, one function on
a command's path is monkeypatched to raise a real project error class.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from eth_account.signers.local import LocalAccount

from chain import Deployment, FedTaskClient, RpcBackend, fund, new_account, signer_for
from fedmarket.demo import (
    TOKEN,
    build_world,
    design_task,
    make_coordinator,
    make_participants,
    sponsor_task,
    step_all,
)
from fl_node.data import breast_cancer_hospitals, save_csv
from fl_node.errors import FlError
from kernel.errors import FAMILIES, FedmarketError, ProtocolError
from storage import LocalCidStore
from tests.integration.app.app_cli import fedmarket
from tests.unit.app.exit_table import ExitTable, readme_exit_codes

POOL = 50 * TOKEN


@pytest.fixture(scope="module")
def table() -> ExitTable:
    return readme_exit_codes()


def key_env(account: LocalAccount, name: str) -> dict[str, str]:
    return {name: "0x" + bytes(account.key).hex()}


# ---- families without a cheap real trigger, and every family at once: in this process ----------


def raising(error: BaseException) -> Callable[..., object]:
    def fetch(*args: object, **kwargs: object) -> object:
        raise error

    return fetch


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.__name__)
def test_every_family_exits_with_its_readme_code(cli, monkeypatch, table, family):
    monkeypatch.setattr("fl_node.data.registry.fetch", raising(family("it went\nwrong")))
    ran = cli("data", "fetch", "anything")
    assert ran.code == table.by_family[family.__name__]
    assert ran.one_error_line() == "error: it went wrong"


def test_a_protocol_error_is_exit_7(cli, monkeypatch, table):
    monkeypatch.setattr("fl_node.data.registry.fetch", raising(ProtocolError("bad handshake")))
    ran = cli("data", "fetch", "anything")
    assert ran.code == table.by_family["ProtocolError"] == 7
    assert ran.one_error_line() == "error: bad handshake"


@pytest.mark.parametrize("error", [RuntimeError("boom"), FlError("a root, raised by mistake")])
def test_an_unexpected_error_is_exit_70_and_one_line(cli, monkeypatch, table, error):
    monkeypatch.setattr("fl_node.data.registry.fetch", raising(error))
    ran = cli("data", "fetch", "anything")
    assert ran.code == table.code_for("unexpected") == 70
    line = ran.one_error_line()
    assert line.startswith(f"error: unexpected {type(error).__name__}: ")
    assert "FEDMARKET_DEBUG=1" in line


def test_debug_adds_the_traceback_and_keeps_exit_70(cli, monkeypatch, table):
    monkeypatch.setenv("FEDMARKET_DEBUG", "1")
    monkeypatch.setattr("fl_node.data.registry.fetch", raising(RuntimeError("boom")))
    ran = cli("data", "fetch", "anything")
    assert ran.code == table.code_for("unexpected")
    assert "Traceback" in ran.stderr and "RuntimeError: boom" in ran.stderr
    assert ran.error_lines[-1].startswith("error: unexpected RuntimeError: boom")


def test_ctrl_c_is_exit_130(cli, monkeypatch, table):
    monkeypatch.setattr("fl_node.data.registry.fetch", raising(KeyboardInterrupt()))
    assert cli("data", "fetch", "anything").code == table.code_for("interrupted") == 130


def test_success_is_exit_0(cli, tmp_path, table):
    split = breast_cancer_hospitals(4, seed=2024)
    data = save_csv(split.hospitals[0], split.feature_names, tmp_path / "h.csv")
    ran = cli("task", "design", "--stats-from", str(data), "--out", str(tmp_path / "spec.json"))
    assert ran.code == table.code_for("success") == 0
    assert ran.stderr == ""


# ---- real triggers -------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    "args",
    [
        ["task", "design", "--stats-from", "no-such.csv", "--out", "spec.json"],
        ["task", "design", "--stats-from", "no-such.csv", "--rounds", "0", "--out", "spec.json"],
        ["data", "fetch", "no-such-dataset"],
    ],
    ids=["missing-file", "bad-flag", "unknown-name"],
)
def test_bad_input_is_exit_2(tmp_path, table, args):
    ran = fedmarket(*args, cwd=tmp_path)
    assert ran.code == table.by_family["InvalidInputError"] == 2
    ran.one_error_line()


@pytest.mark.slow
def test_a_usage_error_is_exit_2(tmp_path, table):
    ran = fedmarket("task", "design", "--no-such-flag", cwd=tmp_path)
    assert ran.code == table.by_family["InvalidInputError"]
    assert "No such option" in ran.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    "args",
    [
        ["chain", "deploy", "--rpc", "http://127.0.0.1:9", "--out", "x.json"],
        ["task", "design", "--api", "http://127.0.0.1:9", "--out", "x.json"],
    ],
    ids=["chain-node", "marketplace-api"],
)
def test_an_unreachable_service_is_exit_3(tmp_path, table, args):
    ran = fedmarket(*args, cwd=tmp_path)
    assert ran.code == table.by_family["ServiceUnavailableError"] == 3
    assert "cannot reach" in ran.one_error_line()


@dataclass
class DevChain:
    """A deployment on anvil made with the CLI, and a task created with it."""

    url: str
    folder: Path
    deployment: Path
    store: Path
    spec: Path
    data: Path
    task_id: int

    def common(self, store: Path | None = None) -> list[str]:
        folder = store or self.store
        return ["--rpc", self.url, "--deployment", str(self.deployment), "--store", str(folder)]

    def funded(self) -> LocalAccount:
        account = new_account()
        fund(RpcBackend(self.url), account.address, 10**18)
        return account


@pytest.fixture(scope="module")
def dev_chain(anvil_url: str, tmp_path_factory: pytest.TempPathFactory) -> DevChain:
    folder = tmp_path_factory.mktemp("exit-codes")
    deployed = fedmarket("chain", "deploy", "--rpc", anvil_url, "--out", str(folder / "dep.json"))
    assert deployed.code == 0, deployed.stderr
    split = breast_cancer_hospitals(4, seed=2024)
    spec = design_task([h.stats() for h in split.hospitals], split.feature_names, rounds=1)
    (folder / "spec.json").write_bytes(spec.to_bytes())
    data = save_csv(split.hospitals[0], split.feature_names, folder / "hospital-1.csv")
    chain = DevChain(anvil_url, folder, folder / "dep.json", folder / "store", folder / "spec.json",
                     data, 0)  # fmt: skip
    sponsor = chain.funded()
    backend = RpcBackend(anvil_url)
    deployment = Deployment.load(chain.deployment)
    deployer = signer_for(backend, backend.faucet_account())
    deployment.token_client(backend, deployer).mint(sponsor.address, POOL)
    created = fedmarket(
        "task", "create", *chain.common(), "--spec", str(chain.spec),
        "--coordinator", chain.funded().address, "--pool", str(POOL),
        env=key_env(sponsor, "FEDMARKET_SPONSOR_KEY"),
    )  # fmt: skip
    assert created.code == 0, created.stderr
    chain.task_id = int(created.stdout.strip())
    return chain


@pytest.mark.slow
@pytest.mark.rpc
def test_reading_a_task_is_exit_0(dev_chain, table):
    ran = fedmarket(
        "task", "show", "--rpc", dev_chain.url, "--deployment", str(dev_chain.deployment),
        str(dev_chain.task_id),
    )  # fmt: skip
    assert ran.code == table.code_for("success")
    assert json.loads(ran.stdout)["task_id"] == dev_chain.task_id


@pytest.mark.slow
@pytest.mark.rpc
def test_a_missing_deployment_file_is_exit_4(dev_chain, table, tmp_path):
    ran = fedmarket(
        "task", "show", "--rpc", dev_chain.url, "--deployment", str(tmp_path / "none.json"), "1"
    )
    assert ran.code == table.by_family["NotFoundError"] == 4
    assert "no deployment file" in ran.one_error_line()


@pytest.mark.slow
@pytest.mark.rpc
def test_a_deployment_naming_addresses_without_code_is_exit_4(dev_chain, table, tmp_path):
    raw = json.loads(dev_chain.deployment.read_text())
    raw.update({name: new_account().address for name in ("token", "registry", "fed_task")})
    fake = tmp_path / "fake.json"
    fake.write_text(json.dumps(raw))
    ran = fedmarket("task", "show", "--rpc", dev_chain.url, "--deployment", str(fake), "1")
    assert ran.code == table.by_family["NotFoundError"]
    assert "no contract code" in ran.one_error_line()


@pytest.mark.slow
@pytest.mark.rpc
def test_a_reverted_transaction_is_exit_5(dev_chain, table):
    broke = dev_chain.funded()  # gas, but not a single token for the pool
    ran = fedmarket(
        "task", "create", *dev_chain.common(), "--spec", str(dev_chain.spec),
        "--coordinator", new_account().address, "--pool", str(POOL),
        env=key_env(broke, "FEDMARKET_SPONSOR_KEY"),
    )  # fmt: skip
    assert ran.code == table.by_family["RefusedError"] == 5
    assert "ERC20InsufficientBalance" in ran.one_error_line()


@pytest.mark.slow
@pytest.mark.rpc
def test_a_spec_that_differs_from_its_anchor_is_exit_6(dev_chain, table, tmp_path):
    store = tmp_path / "store"
    shutil.copytree(dev_chain.store, store)
    info = FedTaskClient(
        RpcBackend(dev_chain.url), Deployment.load(dev_chain.deployment).fed_task
    ).task(dev_chain.task_id)
    path = LocalCidStore(store).path_of(info.spec_cid)
    path.write_bytes(path.read_bytes().replace(b'"rounds":1', b'"rounds":9'))
    ran = fedmarket(
        "participant", *dev_chain.common(store), "--task", str(dev_chain.task_id),
        "--data", str(dev_chain.data), env=key_env(dev_chain.funded(), "FEDMARKET_PARTICIPANT_KEY"),
    )  # fmt: skip
    assert ran.code == table.by_family["IntegrityError"] == 6
    assert "do not match the on-chain hash" in ran.one_error_line()


@pytest.mark.slow
@pytest.mark.rpc
def test_a_passed_deadline_is_exit_8(dev_chain, table):
    ran = fedmarket(
        "coordinator", *dev_chain.common(), "--task", str(dev_chain.task_id),
        "--participants", "1", "--join-timeout", "0",
        "--validation", str(dev_chain.data), "--test", str(dev_chain.data),
        env=key_env(dev_chain.funded(), "FEDMARKET_COORDINATOR_KEY"),
    )  # fmt: skip
    assert ran.code == table.by_family["OperationTimeoutError"] == 8
    assert "joined in time" in ran.one_error_line()


@pytest.mark.slow
@pytest.mark.rpc
def test_audit_exits_0_on_an_honest_task_and_1_once_the_model_is_altered(
    anvil_url, table, tmp_path
):
    world = build_world(tmp_path / "store", backend=RpcBackend(anvil_url))
    world.token(world.deployer).mint(world.sponsor.address, POOL)
    spec = design_task(
        [h.stats() for h in world.split.hospitals], world.split.feature_names, rounds=1
    )
    task_id = sponsor_task(world, spec, pool=POOL, max_participants=4)
    nodes = make_participants(world, task_id)
    coordinator = make_coordinator(world, task_id)
    coordinator.run(between=step_all(nodes, task_id), settle=False)
    world.deployment.save(tmp_path / "dep.json")
    audit = [
        "audit", "--rpc", anvil_url, "--deployment", str(tmp_path / "dep.json"),
        "--store", str(tmp_path / "store"), "--task", str(task_id), "--json",
    ]  # fmt: skip
    honest = fedmarket(*audit)
    assert honest.code == table.code_for("success"), honest.stderr
    assert json.loads(honest.stdout)["ok"] is True

    path = world.store.path_of(coordinator.reports[-1].model_cid)
    data = bytearray(path.read_bytes())
    data[-4:] = torch.tensor([3.0]).numpy().tobytes()
    path.write_bytes(bytes(data))
    altered = fedmarket(*audit)
    assert altered.code == table.code_for("verdict") == 1
    assert json.loads(altered.stdout)["ok"] is False
    assert "error:" not in altered.stderr  # a verdict, not an error


def test_the_families_here_are_all_the_families():
    assert {f.__name__ for f in FAMILIES} == set(readme_exit_codes().by_family)
    assert all(issubclass(f, FedmarketError) for f in FAMILIES)
