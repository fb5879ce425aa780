"""The vertical run on contracts deployed beforehand, with every role's key and no faucet.

An operator deploys the contracts on anvil and funds four keys (gas, and the sponsor's reward
tokens); the run is then given that deployment, those keys and a backend whose
``faucet_account()`` is ``None``, the situation on a public chain. It must record the whole
task with the given keys only. Without a key for some role, it must fail with chain's
``FundingError`` before starting any party. Kept small: breast, 1024-bit keys, two epochs,
one split, no Shapley coalitions.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount

from chain import Deployment, RpcBackend

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore")]

POOL_TOKENS = 10


class NoFaucetBackend(RpcBackend):
    """A JSON-RPC backend that, like a public chain, has no account to hand out gas."""

    def faucet_account(self) -> LocalAccount | None:
        return None


@pytest.fixture
def prepared(anvil_url: str, tmp_path: Path) -> tuple[Deployment, dict[str, LocalAccount]]:
    """Contracts deployed by an operator, and four funded keys (the sponsor holds the pool)."""
    from chain import deploy, fund, new_account, signer_for
    from fl_node.vertical.runner import ROLES, TOKEN

    operator = RpcBackend(anvil_url)
    faucet = operator.faucet_account()
    assert faucet is not None
    deployer = signer_for(operator, faucet)
    deployment = deploy(deployer)
    keys = {role: new_account() for role in ROLES}
    for account in keys.values():
        fund(operator, account.address, 10**19)
    token = deployment.token_client(operator, deployer)
    token.mint(keys["sponsor"].address, POOL_TOKENS * TOKEN)
    deployment.save(tmp_path / "deployment.json")
    return Deployment.load(tmp_path / "deployment.json"), keys


@pytest.mark.rpc
def test_run_records_on_an_existing_deployment_without_a_faucet(
    anvil_url: str,
    tmp_path: Path,
    prepared: tuple[Deployment, dict[str, LocalAccount]],
    breast_data: None,
) -> None:
    from chain import TaskStatus
    from fl_node.vertical.runner import TOKEN, VflSettings, run_vfl

    deployment, keys = prepared
    backend = NoFaucetBackend(anvil_url)
    assert backend.faucet_account() is None
    settings = VflSettings(
        key_bits=1024, epochs=2, cv_folds=1, shapley=False, pool_tokens=POOL_TOKENS
    )
    result = run_vfl(
        "breast",
        tmp_path / "out",
        settings=settings,
        deployment=deployment,
        keys=keys,
        backend=backend,
    )
    chain = result["chain"]
    assert chain["contracts"] == deployment.to_dict()
    parts = chain["model_parts"]
    assert parts["guest"]["address"] == keys["guest"].address
    assert parts["host"]["address"] == keys["host"].address
    reader = deployment.fed_task_client(backend)
    task = reader.task(chain["task_id"])
    assert task.status == TaskStatus.COMPLETED
    assert task.coordinator == keys["coordinator"].address
    assert {a.cid for a in reader.update_anchors(chain["task_id"])} == {
        p["cid"] for p in parts.values()
    }
    rewards = result["rewards"]
    assert rewards["pool_wei"] == POOL_TOKENS * TOKEN
    assert sum(rewards["paid_wei"].values()) + rewards["remainder_wei"] == rewards["pool_wei"]
    assert set(rewards["paid_wei"]) == {keys["guest"].address, keys["host"].address}


@pytest.mark.rpc
def test_a_role_without_a_key_needs_a_faucet(
    anvil_url: str,
    tmp_path: Path,
    prepared: tuple[Deployment, dict[str, LocalAccount]],
    breast_data: None,
) -> None:
    from chain import FundingError
    from fl_node.vertical.runner import VflSettings, run_vfl

    deployment, keys = prepared
    del keys["host"]
    with pytest.raises(FundingError, match="host"):
        run_vfl(
            "breast",
            tmp_path / "out",
            settings=VflSettings(key_bits=1024, epochs=1, cv_folds=1, shapley=False),
            deployment=deployment,
            keys=keys,
            backend=NoFaucetBackend(anvil_url),
        )


def test_cli_refuses_a_deployment_without_rpc(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "fedmarket", "vfl", "--dataset", "breast"]
        + ["--deployment", str(tmp_path / "deployment.json")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == "error: vfl: --deployment needs --rpc (the chain it is on)"


def test_cli_reads_each_role_key_from_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    from chain import new_account
    from fedmarket.cli.vfl import role_keys

    guest = new_account()
    for variable in [v for v in os.environ if v.startswith("FEDMARKET_") and v.endswith("_KEY")]:
        monkeypatch.delenv(variable)
    monkeypatch.setenv("FEDMARKET_GUEST_KEY", guest.key.hex())
    monkeypatch.setenv("FEDMARKET_HOST_KEY", "   ")  # blank: the role gets a fresh key
    keys = role_keys()
    assert set(keys) == {"guest"} and keys["guest"].address == guest.address
