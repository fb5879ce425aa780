"""The vertical run on contracts deployed beforehand, with every role's key and no faucet.

An operator deploys the contracts on anvil and funds four keys (gas, the sponsor's pool and
the stakes in reward tokens); the run is then given that deployment, those keys and a backend
whose ``faucet_account()`` is ``None``, the situation on a public chain. It must record the
whole FedTask v2 task with the given keys only: travelling past its deadlines when told it owns
the chain (anvil is a dev chain), waiting for them in real time with a short schedule when
not. Without a key for some role, or without the tokens a stake needs, it must fail before
starting any party. Kept small: breast, 1024-bit keys, two epochs, one split, no Shapley
coalitions.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import asdict, replace
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount

from chain import Deployment, RpcBackend

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore")]

POOL_TOKENS = 10
STAKE_TOKENS = 2
WAIT_SECONDS = 3
"""Each period the waiting run waits for in full (inclusion, reveal, challenge, cooldown)."""
COMMIT_SECONDS = 12
"""Round 1's commit period in the waiting run: its training (two epochs, no coalitions) takes
about a second from the opening to the commits; the party start-up and the PSI before the
opening (about 10 s on a loaded 2-core machine) get the 60 s join period."""


class NoFaucetBackend(RpcBackend):
    """A JSON-RPC backend that, like a public chain, has no account to hand out gas."""

    def faucet_account(self) -> LocalAccount | None:
        return None


@pytest.fixture
def prepared(anvil_url: str, tmp_path: Path) -> tuple[Deployment, dict[str, LocalAccount]]:
    """Contracts deployed by an operator, and four funded keys (pool and stakes held)."""
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
    for role in ("coordinator", "guest", "host"):
        token.mint(keys[role].address, STAKE_TOKENS * TOKEN)
    deployment.save(tmp_path / "deployment.json")
    return Deployment.load(tmp_path / "deployment.json"), keys


@pytest.mark.rpc
@pytest.mark.parametrize("owns_chain", [True, False], ids=["travel", "wait"])
def test_run_records_on_an_existing_deployment_without_a_faucet(
    anvil_url: str,
    tmp_path: Path,
    prepared: tuple[Deployment, dict[str, LocalAccount]],
    breast_data: None,
    owns_chain: bool,
) -> None:
    from chain import TaskStatus
    from fl_node.vertical.runner import TOKEN, VflSettings, run_vfl, waiting_schedule

    waiting = replace(waiting_schedule(60, WAIT_SECONDS), commit_period=COMMIT_SECONDS)
    deployment, keys = prepared
    backend = NoFaucetBackend(anvil_url)
    assert backend.faucet_account() is None
    settings = VflSettings(
        key_bits=1024,
        epochs=2,
        cv_folds=1,
        shapley=False,
        pool_tokens=POOL_TOKENS,
        owns_chain=owns_chain,
        schedule=None if owns_chain else waiting,
        participant_stake_tokens=STAKE_TOKENS,
        coordinator_stake_tokens=STAKE_TOKENS,
        slash_bps=1_000,
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
    assert {c.update_cid for c in reader.updates_committed(chain["task_id"])} == {
        p["cid"] for p in parts.values()
    }
    rewards = result["rewards"]
    assert rewards["pool_wei"] == POOL_TOKENS * TOKEN
    assert sum(rewards["paid_wei"].values()) + rewards["remainder_wei"] == rewards["pool_wei"]
    assert set(rewards["paid_wei"]) == {keys["guest"].address, keys["host"].address}
    # every stake came back after the cooldown
    stake = STAKE_TOKENS * TOKEN
    stakers = {keys[r].address for r in ("coordinator", "guest", "host")}
    assert chain["stakes"]["withdrawn_wei"] == dict.fromkeys(stakers, stake)
    token = deployment.token_client(backend)
    for address, paid in rewards["paid_wei"].items():
        assert token.balance_of(address) == paid + stake
    assert chain["clock"] == ("travel" if owns_chain else "wait")
    if not owns_chain:
        assert chain["schedule"] == asdict(waiting)
        # at least the inclusion, reveal and challenge periods were waited out
        assert chain["waited_seconds"] >= 3 * WAIT_SECONDS - 1
        times = chain["times"]
        assert times["reveal_deadline"] - times["opened_at"] == COMMIT_SECONDS + 2 * WAIT_SECONDS


@pytest.mark.rpc
def test_a_stake_the_key_does_not_hold_is_refused_before_any_party_starts(
    anvil_url: str,
    tmp_path: Path,
    prepared: tuple[Deployment, dict[str, LocalAccount]],
    breast_data: None,
) -> None:
    from fl_node.events import Event
    from fl_node.vertical.runner import PartiesStarted, StakeFundsError, VflSettings, run_vfl

    deployment, keys = prepared
    settings = VflSettings(
        key_bits=1024, pool_tokens=POOL_TOKENS, coordinator_stake_tokens=STAKE_TOKENS + 1
    )
    events: list[Event] = []
    with pytest.raises(StakeFundsError, match="the coordinator holds"):
        run_vfl(
            "breast",
            tmp_path / "out",
            settings=settings,
            deployment=deployment,
            keys=keys,
            backend=NoFaucetBackend(anvil_url),
            on_event=events.append,
        )
    assert events and not any(isinstance(e, PartiesStarted) for e in events)


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
