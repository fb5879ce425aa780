// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {FedTask} from "../FedTask.sol";
import {IFedTask} from "../interfaces/IFedTask.sol";
import {ReentrantToken} from "./mocks/ReentrantToken.sol";
import {Test} from "./utils/Test.sol";

/// @notice A token that calls back into FedTask during a payout is stopped by the reentrancy guard.
contract FedTaskReentrancyTest is Test {
    uint256 private constant POOL = 1_000;

    ReentrantToken private token;
    FedTask private fedTask;
    address private sponsor;
    address private coordinator;
    address private alice;

    function setUp() public {
        token = new ReentrantToken();
        fedTask = new FedTask(token);
        sponsor = makeAddr("sponsor");
        coordinator = makeAddr("coordinator");
        alice = makeAddr("alice");
        token.mint(sponsor, 10 * POOL);
        vm.prank(sponsor);
        token.approve(address(fedTask), type(uint256).max);
    }

    function test_claimRewards_rejectsReentrantCall() public {
        _completedTask(400);
        token.arm(address(fedTask), abi.encodeCall(IFedTask.claimRewards, ()));

        vm.prank(alice);
        fedTask.claimRewards();

        _assertGuardTripped();
        vm.assertEq(token.balanceOf(alice), 400, "paid once");
        vm.assertEq(fedTask.owed(alice), 0, "balance zeroed");
    }

    function test_withdrawRemainder_rejectsReentrantCall() public {
        uint256 taskId = _completedTask(400);
        token.arm(address(fedTask), abi.encodeCall(IFedTask.withdrawRemainder, (taskId)));

        vm.prank(sponsor);
        fedTask.withdrawRemainder(taskId);

        _assertGuardTripped();
        vm.assertEq(token.balanceOf(address(fedTask)), 400, "alice's rewards untouched");
    }

    function test_cancelTask_rejectsReentrantCall() public {
        vm.prank(sponsor);
        uint256 taskId = fedTask.createTask("spec", keccak256("spec"), coordinator, POOL, 1, 1);
        token.arm(address(fedTask), abi.encodeCall(IFedTask.cancelTask, (taskId)));

        vm.prank(sponsor);
        fedTask.cancelTask(taskId);

        _assertGuardTripped();
        vm.assertEq(token.balanceOf(sponsor), 10 * POOL, "refunded once");
    }

    /// @dev A one-round task with alice as the only participant, finalised with `budget` for her.
    function _completedTask(uint256 budget) private returns (uint256 taskId) {
        vm.prank(sponsor);
        taskId = fedTask.createTask("spec", keccak256("spec"), coordinator, POOL, 1, 1);
        vm.prank(alice);
        fedTask.joinTask(taskId);
        vm.prank(coordinator);
        fedTask.openRound(taskId, 1, "model", keccak256("model"));
        vm.prank(alice);
        fedTask.submitUpdate(taskId, 1, keccak256("update"), "update", 1);
        uint256[] memory scores = new uint256[](1);
        scores[0] = 1;
        vm.prank(coordinator);
        fedTask.finalizeRound(taskId, 1, "model-1", keccak256("model-1"), "evidence", scores, budget);
    }

    function _assertGuardTripped() private view {
        vm.assertTrue(token.attempted(), "callback ran");
        vm.assertFalse(token.reentered(), "callback rejected");
        vm.assertEq(
            keccak256(token.revertData()),
            keccak256(abi.encodeWithSelector(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector)),
            "rejected by the reentrancy guard"
        );
    }
}
