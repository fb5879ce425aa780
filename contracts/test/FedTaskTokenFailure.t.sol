// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

import {FedTask} from "../FedTask.sol";
import {FalseReturnToken} from "./mocks/FalseReturnToken.sol";
import {Test} from "./utils/Test.sol";

/// @notice A token that returns `false` instead of reverting cannot make FedTask lose track of funds.
contract FedTaskTokenFailureTest is Test {
    uint256 private constant POOL = 1_000;

    FalseReturnToken private token;
    FedTask private fedTask;
    address private sponsor;
    address private coordinator;
    address private alice;

    function setUp() public {
        token = new FalseReturnToken();
        fedTask = new FedTask(token);
        sponsor = makeAddr("sponsor");
        coordinator = makeAddr("coordinator");
        alice = makeAddr("alice");
        token.mint(sponsor, 10 * POOL);
        vm.prank(sponsor);
        token.approve(address(fedTask), type(uint256).max);
    }

    function test_createTask_revertsWhenTransferFromReturnsFalse() public {
        token.setFailing(true);
        vm.expectRevert(abi.encodeWithSelector(SafeERC20.SafeERC20FailedOperation.selector, address(token)));
        vm.prank(sponsor);
        fedTask.createTask("spec", keccak256("spec"), coordinator, POOL, 1, 1);
        vm.assertEq(fedTask.taskCount(), 0, "no task recorded");
    }

    function test_claimRewards_revertsAndKeepsOwedWhenTransferReturnsFalse() public {
        vm.prank(sponsor);
        uint256 taskId = fedTask.createTask("spec", keccak256("spec"), coordinator, POOL, 1, 1);
        vm.prank(alice);
        fedTask.joinTask(taskId);
        vm.prank(coordinator);
        fedTask.openRound(taskId, 1, "model", keccak256("model"));
        vm.prank(alice);
        fedTask.submitUpdate(taskId, 1, keccak256("update"), "update", 1);
        uint256[] memory scores = new uint256[](1);
        scores[0] = 1;
        vm.prank(coordinator);
        fedTask.finalizeRound(taskId, 1, "model-1", keccak256("model-1"), "evidence", scores, 400);
        token.setFailing(true);

        vm.expectRevert(abi.encodeWithSelector(SafeERC20.SafeERC20FailedOperation.selector, address(token)));
        vm.prank(alice);
        fedTask.claimRewards();
        vm.assertEq(fedTask.owed(alice), 400, "still owed");

        vm.expectRevert(abi.encodeWithSelector(SafeERC20.SafeERC20FailedOperation.selector, address(token)));
        vm.prank(sponsor);
        fedTask.withdrawRemainder(taskId);
        vm.assertEq(fedTask.getTask(taskId).escrow, POOL - 400, "still escrowed");
    }

    function test_cancelTask_revertsAndKeepsEscrowWhenTransferReturnsFalse() public {
        vm.prank(sponsor);
        uint256 taskId = fedTask.createTask("spec", keccak256("spec"), coordinator, POOL, 1, 1);
        token.setFailing(true);
        vm.expectRevert(abi.encodeWithSelector(SafeERC20.SafeERC20FailedOperation.selector, address(token)));
        vm.prank(sponsor);
        fedTask.cancelTask(taskId);
        vm.assertEq(fedTask.getTask(taskId).escrow, POOL, "still escrowed");
    }
}
