"""The backends themselves, over in-process py-evm, anvil and a Hardhat node: time, deployment.

The protocol runs on deadlines, so every backend must tell the chain's time, travel where the
chain allows it (and refuse with a family error where it does not), and wait. Deployment wires
the five v2 contracts the same way everywhere; a deployment file round-trips and is checked
against the chain.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from chain.backends import ChainBackend, RpcBackend
from chain.commitments import (
    INVITATION_TYPEHASH,
    UPDATE_COMMITMENT_TYPEHASH,
    Invitation,
    recover_invitation_signer,
    sign_invitation,
)
from chain.deployment import Deployment, DeploymentParams, deploy
from chain.errors import (
    ChainRevertError,
    ChainTimeoutError,
    DeploymentError,
    TimeTravelError,
)
from chain.keys import new_account
from chain.parties import DEPLOYER, provision
from chain.signer import fund, signer_for
from kernel.errors import ConfigurationError, OperationTimeoutError
from tests.integration.chain.fedtask_world import PARAMS, POOL, make_world

pytestmark = pytest.mark.slow


def test_travel_moves_the_clock_forward_only(backend: ChainBackend) -> None:
    assert backend.can_travel
    start = backend.chain_time()
    assert start >= backend.latest_timestamp()
    target = start + 10 * 86_400
    assert backend.wait_until(target, travel=True) >= target
    assert backend.chain_time() >= target
    assert backend.latest_timestamp() >= target
    backend.travel_to(start)  # the past: nothing happens
    assert backend.chain_time() >= target
    for step in (1, 1, 2):  # one second at a time, even onto the pending block's own stamp
        target = backend.chain_time() + step
        backend.travel_to(target)
        assert backend.chain_time() >= target
    # the next transaction's block is stamped at or after the target
    account = new_account()
    result = fund(backend, account.address, 1)
    assert backend.w3.eth.get_block(result.block_number)["timestamp"] >= target


def test_wait_until_polls_without_travelling(backend: ChainBackend) -> None:
    target = backend.chain_time() + 2
    started = time.monotonic()
    assert backend.wait_until(target, poll=0.2) >= target
    assert time.monotonic() - started < 10
    with pytest.raises(ChainTimeoutError) as err:
        backend.wait_until(backend.chain_time() + 3_600, poll=0.05, timeout=0.3)
    assert isinstance(err.value, OperationTimeoutError)


def test_after_wait_until_a_call_on_the_latest_block_sees_the_deadline(
    anvil_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Anvil mines on demand: this machine's clock may pass a deadline before its last block.

    A coordinator that then simulated its finalisation on that block got ``TaskTooEarly`` (seen
    in the 50-process load run, where the clock passed the second between the last empty block
    and the check): the wait ends only once the latest block shows the deadline. Here the local
    clock is made to run ahead, the widest form of that gap.
    """
    backend = RpcBackend(anvil_url)
    monkeypatch.setattr(backend, "chain_time", lambda: int(time.time()) + 30)
    target = int(time.time()) + 2
    backend.wait_until(target, poll=0.3)
    assert backend.latest_timestamp() >= target


def test_a_chain_that_cannot_travel_refuses_with_a_family_error(anvil_url: str) -> None:
    backend = RpcBackend(anvil_url)
    backend._chain_id = 1  # as a live network would report
    assert not backend.can_travel
    with pytest.raises(TimeTravelError) as err:
        backend.travel_to(backend.chain_time() + 3_600)
    assert isinstance(err.value, ConfigurationError)
    target = int(time.time()) + 1  # travel asked, not allowed: it waits for the clock instead
    assert backend.wait_until(target, travel=True, poll=0.2) >= target


def test_deploy_wires_the_five_contracts(backend: ChainBackend, tmp_path: Path) -> None:
    deployer = signer_for(backend, backend.faucet_account())
    params = DeploymentParams(token_cap=10**30, registry_fee_bps=100, market_fee_bps=300)
    deployment = deploy(deployer, params)
    ft = deployment.fed_task_client(backend)
    court = deployment.court_client(backend)
    assert ft.has_role(ft.court_role(), deployment.court)
    assert ft.has_role(ft.pauser_role(), deployer.address)
    assert (court.fed_task(), court.token(), ft.token()) == (
        deployment.fed_task,
        deployment.token,
        deployment.token,
    )
    assert court.voting_period() == params.voting_period
    assert deployment.token_client(backend).cap() == 10**30
    assert deployment.registry_client(backend).fee_config().fee_bps == 100
    market = deployment.market_client(backend)
    assert (market.fee_config().fee_bps, market.fee_config().fee_recipient) == (
        300,
        deployer.address,
    )
    assert market.fed_task_address() == deployment.fed_task

    path = deployment.save(tmp_path / "deployment.json")
    assert Deployment.load(path) == deployment
    Deployment.load(path).check(backend)
    v1 = {k: v for k, v in deployment.to_dict().items() if k not in ("court", "market")}
    (tmp_path / "v1.json").write_text(json.dumps(v1), encoding="utf-8")
    with pytest.raises(DeploymentError, match="malformed"):
        Deployment.load(tmp_path / "v1.json")
    other = Deployment(**{**deployment.to_dict(), "chain_id": 5})
    with pytest.raises(DeploymentError, match="chain 5"):
        other.check(backend)


def test_provision_deploys_and_funds_every_role(backend: ChainBackend) -> None:
    parties = provision(backend, ("sponsor", "validator"))
    assert set(parties.signers) == {DEPLOYER, "sponsor", "validator"}
    assert parties.court().fed_task() == parties.deployment.fed_task
    assert parties.market().fed_task_address() == parties.deployment.fed_task
    assert backend.w3.eth.get_balance(parties.address("validator")) > 0
    again = provision(backend, ("coordinator",), deployment=parties.deployment)
    assert DEPLOYER not in again.signers


def test_eip712_and_errors_agree_with_the_contracts(backend: ChainBackend) -> None:
    world = make_world(backend)
    ft = world.ft()
    assert ft.domain().separator == ft.domain_separator()
    assert ft.invitation_typehash() == INVITATION_TYPEHASH
    assert ft.update_commitment_typehash() == UPDATE_COMMITMENT_TYPEHASH
    invitation = Invitation(1, world.address("p1"), 2**40)
    signed = sign_invitation(world.accounts["sponsor"], ft.domain(), invitation)
    assert recover_invitation_signer(ft.domain(), signed) == world.address("sponsor")
    assert (ft.max_rounds(), ft.max_participants(), ft.replacement_delay()) == (
        1_000,
        1_024,
        2 * 86_400,
    )
    # a token error bubbles up through FedTask, decoded from the token's ABI
    poor = new_account()
    fund(backend, poor.address, 10**18)
    with pytest.raises(ChainRevertError) as err:
        ft.as_signer(signer_for(backend, poor)).create_task(world.config())
    assert err.value.error_name == "ERC20InsufficientAllowance"
    assert err.value.error_args["needed"] == POOL
    with pytest.raises(ChainRevertError) as err:
        world.court("p1").withdraw()
    assert str(err.value) == f"CourtNothingToWithdraw(account={world.address('p1')})"
    assert PARAMS.challenge_bond == world.court().challenge_bond()


def test_chain_time_is_the_node_s_clock_not_this_host_s(
    anvil_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A host whose clock runs ahead must not see deadlines pass before the node does.

    The old ``chain_time`` took the later of the latest block and ``time.time()``: with this
    host's clock 10 minutes ahead it jumped 10 minutes, and a participant skipped its round.
    """
    backend = RpcBackend(anvil_url)
    before = backend.chain_time()
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 600)
    assert before <= backend.chain_time() < before + 60
    monkeypatch.undo()
    future = backend.chain_time() + 3_600
    backend.travel_to(future)  # a travelled dev node's clock is the chain time too
    assert backend.chain_time() >= future
