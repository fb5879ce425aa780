"""``fedmarket token`` on real anvil nodes: a clean chain funds a task with the CLI alone.

On a fresh anvil, ``chain deploy``, ``token faucet`` and ``token transfer`` put ether and tokens
where a sponsor needs them, and ``task create`` succeeds, no Python transaction sent by hand
(before the transfer it fails as it always did: the sponsor holds no tokens). Every refusal is
one line with its exit code and nothing sent: a malformed amount (2, naming the flag), a transfer
above the balance (5), a faucet whose minter lacks the role or whose mint passes the cap (5, and
not even the ether moves), and any faucet on a chain that is not a development chain (5), the
token's real minter included.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount

from chain import DevNode, RpcBackend, new_account
from chain.devnode import find_tool
from chain.errors import ChainConnectionError
from tests.integration.app.app_cli import Ran, fedmarket
from tests.support.services import unavailable

pytestmark = [pytest.mark.slow, pytest.mark.rpc]

TOKEN = 10**18
DEV_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
"""anvil's first development account (public knowledge): the deployer, hence the minter."""
DEAD = ["--rpc", "http://127.0.0.1:9", "--deployment", "nowhere.json"]
"""A chain nobody listens on: input errors must be found before connecting."""


@dataclass
class Chain:
    """A node, its deployment file and a folder for the task's files."""

    url: str
    deployment: Path
    folder: Path

    def args(self) -> list[str]:
        return ["--rpc", self.url, "--deployment", str(self.deployment)]

    def held(self, account: str) -> tuple[int, int]:
        """(ether wei, token wei) of ``account``."""
        backend = RpcBackend(self.url)
        from chain import Deployment

        token = Deployment.load(self.deployment).token_client(backend)
        return int(backend.w3.eth.get_balance(account)), int(token.balance_of(account))


def key(account: LocalAccount) -> str:
    return "0x" + bytes(account.key).hex()


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, cli: Callable[..., Ran]) -> Callable[..., Ran]:
    """``fedmarket ARGS`` in this process, with ``env`` set for the run."""

    def with_env(*args: str, env: dict[str, str] | None = None) -> Ran:
        for name, value in (env or {}).items():
            monkeypatch.setenv(name, value)
        return cli(*args)

    return with_env


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    """A clean anvil with the contracts deployed by ``fedmarket chain deploy``."""
    try:
        find_tool("anvil")
    except ChainConnectionError as exc:
        unavailable(str(exc))
    folder = tmp_path_factory.mktemp("token")
    with DevNode("anvil") as node:
        deployed = fedmarket("chain", "deploy", "--rpc", node.url, "--out", str(folder / "d.json"))
        assert deployed.code == 0, deployed.stderr
        yield Chain(node.url, folder / "d.json", folder)


def report(ran: Ran) -> dict[str, object]:
    assert ran.code == 0, ran.stderr
    parsed: dict[str, object] = json.loads(ran.stdout)
    return parsed


def test_a_clean_chain_funds_a_task_with_the_cli_alone(chain: Chain, run) -> None:
    sponsor, treasurer = new_account(), new_account()
    coordinator = new_account().address
    spec = chain.folder / "spec.json"
    assert run("data", "split-hospitals", "--out", str(chain.folder / "data")).code == 0
    designed = run("task", "design", "--stats-from", str(chain.folder / "data" / "hospital-1.csv"),
                   "--rounds", "2", "--out", str(spec))  # fmt: skip
    assert designed.code == 0, designed.stderr
    create = ["task", "create", *chain.args(), "--store", str(chain.folder / "store"),
              "--spec", str(spec), "--coordinator", coordinator, "--pool", str(50 * TOKEN),
              "--key-env", "SPONSOR"]  # fmt: skip

    minted = report(run("token", "faucet", "--to", treasurer.address, "--tokens", "100",
                        *chain.args()))  # fmt: skip
    assert [(s["what"], s["amount"]) for s in minted["sent"]] == [("ether", "1"), ("mint", "100")]
    gas = report(run("token", "faucet", "--to", sponsor.address, "--tokens", "0", "--eth", "0.5",
                     *chain.args()))  # fmt: skip
    assert [s["what"] for s in gas["sent"]] == ["ether"]
    refused = run(*create, env={"SPONSOR": key(sponsor)})  # what the issue started from
    assert refused.code == 5 and "ERC20InsufficientBalance" in refused.one_error_line()

    pay = {"TREASURER": key(treasurer)}
    sent = report(run("token", "transfer", "--to", sponsor.address, "--amount", "60.5",
                      *chain.args(), "--key-env", "TREASURER", env=pay))  # fmt: skip
    assert (sent["from"], sent["amount_wei"]) == (treasurer.address, str(605 * TOKEN // 10))
    assert sent["balance_after_wei"] == str(395 * TOKEN // 10)
    balance = report(run("token", "balance", sponsor.address, *chain.args()))
    assert balance["fmt"] == "60.5" and balance["fmt_wei"] == str(605 * TOKEN // 10)
    assert 0 < int(str(balance["eth_wei"])) < TOKEN // 2  # the refused create's approval paid gas

    created = fedmarket(*create, env={"SPONSOR": key(sponsor)})  # the console script itself
    assert created.code == 0, created.stderr
    task_id = created.stdout.strip()
    shown = report(run("status", "task", task_id, *chain.args(), "--json"))
    assert (shown["status"], shown["phase"], shown["sponsor"]) == (
        "joining",
        "join",
        sponsor.address,
    )
    assert shown["money"]["pool"] == "50"  # type: ignore[index]
    assert chain.held(sponsor.address)[1] == 105 * TOKEN // 10


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["transfer", "--amount", "-1"], "--amount must be"),
        (["transfer", "--amount", "0"], "--amount must be more than 0"),
        (["transfer", "--amount", "1.0000000000000000001"], "--amount has more than 18 decimals"),
        (["transfer", "--amount", "ten"], "--amount must be"),
        (["transfer", "--amount", "1e18"], "--amount must be"),
        (["transfer", "--amount", "5", "--to", "0x" + "00" * 20], "--to must not be the zero"),
        (["transfer", "--amount", "5", "--to", "bob"], "--to must be an address"),
        (["faucet", "--tokens", "-5"], "--tokens must be"),
        (["faucet", "--eth", "0.1.2"], "--eth must be"),
        (["faucet", "--eth", "0", "--tokens", "0wei"], "--eth and --tokens are both 0"),
    ],
)
def test_a_bad_amount_is_exit_2_naming_the_flag(run, args: list[str], flag: str) -> None:
    command, *rest = args
    if "--to" not in rest:
        rest += ["--to", "0x" + "ab" * 20]
    if command == "transfer":
        rest += ["--key-env", "NOBODY"]
    ran = run("token", command, *rest, *DEAD)
    assert ran.code == 2
    assert ran.one_error_line().startswith(f"error: {flag}")


def test_a_transfer_above_the_balance_is_refused_before_sending(chain: Chain, run) -> None:
    payer, payee = new_account(), new_account().address
    report(run("token", "faucet", "--to", payer.address, "--tokens", "1", *chain.args()))
    before = chain.held(payer.address)
    ran = run("token", "transfer", "--to", payee, "--amount", "1.5", *chain.args(),
              "--key-env", "PAYER", env={"PAYER": key(payer)})  # fmt: skip
    assert ran.code == 5
    line = ran.one_error_line()
    assert "holds 1 FMT, less than the 1.5 FMT to send: nothing was sent" in line
    assert "ERC20" not in line
    assert chain.held(payer.address) == before  # not even gas spent
    assert chain.held(payee) == (0, 0)


def test_a_faucet_whose_minter_lacks_the_role_sends_nothing(chain: Chain, run) -> None:
    stranger, target = new_account(), new_account().address
    report(run("token", "faucet", "--to", stranger.address, "--tokens", "0", *chain.args()))
    ran = run("token", "faucet", "--to", target, *chain.args(), "--key-env", "STRANGER",
              env={"STRANGER": key(stranger)})  # fmt: skip
    assert ran.code == 5
    assert f"{stranger.address} does not hold the token's MINTER_ROLE" in ran.one_error_line()
    assert chain.held(target) == (0, 0)  # the ether was not sent either


def test_a_faucet_above_the_cap_sends_nothing(chain: Chain, run) -> None:
    target = new_account().address
    ran = run("token", "faucet", "--to", target, "--tokens", "1000000001", *chain.args())
    assert ran.code == 5
    assert "would pass the token's cap (1000000000 FMT" in ran.one_error_line()
    assert chain.held(target) == (0, 0)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def live_chain(tmp_path: Path) -> Iterator[Chain]:
    """Anvil posing as a live network (chain id 5), the contracts deployed with a known key."""
    try:
        anvil = find_tool("anvil")
    except ChainConnectionError as exc:
        unavailable(str(exc))
    port = _free_port()
    proc = subprocess.Popen(  # noqa: S603 - fixed argv
        [
            anvil,
            "--port",
            str(port),
            "--chain-id",
            "5",
            "--silent",
            "--cache-path",
            str(tmp_path / "cache"),
        ],  # fmt: skip
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for_rpc(url)
        deployed = fedmarket("chain", "deploy", "--rpc", url, "--out", str(tmp_path / "d.json"),
                             "--key-env", "DEPLOYER", env={"DEPLOYER": DEV_KEY})  # fmt: skip
        assert deployed.code == 0, deployed.stderr
        yield Chain(url, tmp_path / "d.json", tmp_path)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _wait_for_rpc(url: str) -> None:
    for _ in range(100):
        try:
            RpcBackend(url)
            return
        except ChainConnectionError:
            time.sleep(0.1)
    pytest.fail(f"anvil at {url} never answered")


def test_the_faucet_gives_nothing_on_a_chain_that_is_not_a_dev_chain(live_chain: Chain, run):
    target = new_account().address
    anonymous = run("token", "faucet", "--to", target, *live_chain.args())
    assert anonymous.code == 5
    line = anonymous.one_error_line()
    assert "(chain 5) has no funded faucet account" in line and "nothing was sent" in line
    # the token's real minter (the deployer, a funded account) is refused all the same
    minter = run("token", "faucet", "--to", target, *live_chain.args(), "--key-env", "MINTER",
                 env={"MINTER": DEV_KEY})  # fmt: skip
    assert minter.code == 5 and "faucet:" in minter.one_error_line()
    assert live_chain.held(target) == (0, 0)
