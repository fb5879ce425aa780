// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IFedTask} from "../interfaces/IFedTask.sol";
import {FedTaskFixture} from "./utils/FedTaskFixture.sol";
import {Merkle} from "./utils/Merkle.sol";

/// @notice Unit tests of FedTask's Merkle claims: per round after the challenge window, once, never above the
/// round's budget, several rounds at once.
contract FedTaskClaimsTest is FedTaskFixture {
    uint256 private taskId;

    function setUp() public override {
        super.setUp();
        taskId = _started();
        _runRound(taskId, 1, _four(), _amounts4(100e18, 50e18, 25e18, 0));
    }

    function test_claimRewards_paysTheLeafAfterTheWindow() public {
        _toClaimable(taskId, 1);
        uint256 before = token.balanceOf(bob);
        vm.expectEmit(true, true, true, true, address(fedTask));
        emit IFedTask.RewardsClaimed(taskId, 1, bob, 50e18);
        _claim(taskId, 1, _four(), _amounts4(100e18, 50e18, 25e18, 0), 1);

        vm.assertEq(token.balanceOf(bob) - before, 50e18, "paid");
        vm.assertTrue(fedTask.hasClaimed(taskId, 1, bob), "recorded");
        vm.assertFalse(fedTask.hasClaimed(taskId, 1, alice), "alice not yet");
        vm.assertEq(fedTask.getRound(taskId, 1).claimed, 50e18, "round claimed");
    }

    function test_claimRewards_zeroLeafIsRecordedWithoutTransfer() public {
        _toClaimable(taskId, 1);
        uint256 before = token.balanceOf(dave);
        _claim(taskId, 1, _four(), _amounts4(100e18, 50e18, 25e18, 0), 3);
        vm.assertEq(token.balanceOf(dave), before, "nothing moved");
        vm.assertTrue(fedTask.hasClaimed(taskId, 1, dave), "recorded");
    }

    function test_claimRewards_everyLeafTogetherPaysExactlyTheBudget() public {
        _toClaimable(taskId, 1);
        for (uint256 i = 0; i < 4; ++i) {
            _claim(taskId, 1, _four(), _amounts4(100e18, 50e18, 25e18, 0), i);
        }
        IFedTask.RoundInfo memory r = fedTask.getRound(taskId, 1);
        vm.assertEq(r.claimed, r.budget, "budget paid out");
    }

    function test_claimRewards_revertsBeforeTheWindowEnds() public {
        vm.warp(fedTask.getRound(taskId, 1).claimableAt - 1);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskRoundNotClaimable.selector, taskId, uint32(1)));
        _claim(taskId, 1, _four(), _amounts4(100e18, 50e18, 25e18, 0), 0);
    }

    function test_claimRewards_revertsForARoundNotFinalised() public {
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskRoundNotClaimable.selector, taskId, uint32(2)));
        vm.prank(alice);
        fedTask.claimRewards(taskId, 2, 1, new bytes32[](0));
    }

    function test_claimRewards_revertsWhileTheRoundIsDisputed() public {
        fedTask.grantRole(fedTask.COURT_ROLE(), address(this));
        fedTask.openDispute(taskId, 1);
        _toClaimable(taskId, 1);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskRoundNotClaimable.selector, taskId, uint32(1)));
        _claim(taskId, 1, _four(), _amounts4(100e18, 50e18, 25e18, 0), 0);
        fedTask.resolveDispute(taskId, 1, false, bytes32(0), "");
        _claim(taskId, 1, _four(), _amounts4(100e18, 50e18, 25e18, 0), 0);
    }

    function test_claimRewards_revertsForANonParticipantLeaf() public {
        (uint256 other, address[] memory accounts, uint256[] memory amounts) = _roundPaying(coordinator, 10e18);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskNotParticipant.selector, other, coordinator));
        _claim(other, 1, accounts, amounts, 0);
    }

    function test_claimRewards_revertsWhenClaimedTwice() public {
        _toClaimable(taskId, 1);
        _claim(taskId, 1, _four(), _amounts4(100e18, 50e18, 25e18, 0), 0);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskAlreadyClaimed.selector, taskId, uint32(1), alice));
        _claim(taskId, 1, _four(), _amounts4(100e18, 50e18, 25e18, 0), 0);
    }

    function test_claimRewards_revertsWithAProofForAnotherAmount() public {
        _toClaimable(taskId, 1);
        bytes32[] memory proof = Merkle.proof(_rewardLeaves(taskId, 1, _four(), _amounts4(100e18, 50e18, 25e18, 0)), 2);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskInvalidProof.selector, taskId, uint32(1), carol, 26e18));
        vm.prank(carol);
        fedTask.claimRewards(taskId, 1, 26e18, proof);
    }

    function test_claimRewards_revertsWhenTheRootPaysMoreThanTheBudget() public {
        // The coordinator's root promises 80 + 80 against a budget of 100: the round pays 100 at most.
        uint256 other = _create();
        _joinAll(other, _four());
        _stake(other);
        _open(other, 1);
        _batch(other, 1, 4);
        _toRevealDeadline(other, 1);
        IFedTask.Finalization memory f = _finalization(other, 1, _two(alice, bob), _amounts2(80e18, 80e18));
        f.budget = 100e18;
        _finalize(other, 1, f);
        _toClaimable(other, 1);

        _claim(other, 1, _two(alice, bob), _amounts2(80e18, 80e18), 0);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskRoundOverpaid.selector, other, uint32(1), 100e18, 160e18));
        _claim(other, 1, _two(alice, bob), _amounts2(80e18, 80e18), 1);
    }

    function test_claimRewards_worksWhilePausedAndAfterAbort() public {
        _open(taskId, 2);
        vm.warp(fedTask.getRound(taskId, 2).finalizeDeadline);
        vm.prank(sponsor);
        fedTask.abortTask(taskId);
        fedTask.pause();
        _toClaimable(taskId, 1);
        _claim(taskId, 1, _four(), _amounts4(100e18, 50e18, 25e18, 0), 0);
        vm.assertTrue(fedTask.hasClaimed(taskId, 1, alice), "claimed after abort, while paused");
    }

    // ------------------------------------------------------------------ claimMany

    function test_claimMany_paysSeveralRoundsInOneTransfer() public {
        _open(taskId, 2);
        _runRound(taskId, 2, _four(), _amounts4(1e18, 2e18, 3e18, 4e18));
        _toClaimable(taskId, 2);
        uint32[] memory rounds = new uint32[](2);
        (rounds[0], rounds[1]) = (1, 2);
        uint256[] memory amounts = _amounts2(50e18, 2e18);
        bytes32[][] memory proofs = new bytes32[][](2);
        proofs[0] = Merkle.proof(_rewardLeaves(taskId, 1, _four(), _amounts4(100e18, 50e18, 25e18, 0)), 1);
        proofs[1] = Merkle.proof(_rewardLeaves(taskId, 2, _four(), _amounts4(1e18, 2e18, 3e18, 4e18)), 1);
        uint256 before = token.balanceOf(bob);

        vm.prank(bob);
        fedTask.claimMany(taskId, rounds, amounts, proofs);

        vm.assertEq(token.balanceOf(bob) - before, 52e18, "both rounds");
        vm.assertTrue(fedTask.hasClaimed(taskId, 1, bob) && fedTask.hasClaimed(taskId, 2, bob), "recorded");
    }

    function test_claimMany_revertsWhenLengthsDiffer() public {
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskArrayLengthMismatch.selector, 1, 2, 1));
        vm.prank(bob);
        fedTask.claimMany(taskId, new uint32[](1), new uint256[](2), new bytes32[][](1));
    }

    function test_claimMany_revertsWholeWhenOneClaimFails() public {
        _toClaimable(taskId, 1);
        uint32[] memory rounds = new uint32[](2);
        (rounds[0], rounds[1]) = (1, 1);
        bytes32[][] memory proofs = new bytes32[][](2);
        proofs[0] = Merkle.proof(_rewardLeaves(taskId, 1, _four(), _amounts4(100e18, 50e18, 25e18, 0)), 1);
        proofs[1] = proofs[0];
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskAlreadyClaimed.selector, taskId, uint32(1), bob));
        vm.prank(bob);
        fedTask.claimMany(taskId, rounds, _amounts2(50e18, 50e18), proofs);
        vm.assertFalse(fedTask.hasClaimed(taskId, 1, bob), "nothing recorded");
    }

    /// @dev A second one-round task whose single leaf pays `account`, past its window.
    function _roundPaying(
        address account,
        uint256 amount
    ) private returns (uint256 other, address[] memory accounts, uint256[] memory amounts) {
        IFedTask.TaskConfig memory config = _config();
        config.totalRounds = 1;
        other = _create(config);
        _joinAll(other, _four());
        _stake(other);
        _open(other, 1);
        accounts = _one(account);
        amounts = new uint256[](1);
        amounts[0] = amount;
        _runRound(other, 1, accounts, amounts);
        _toClaimable(other, 1);
    }
}
