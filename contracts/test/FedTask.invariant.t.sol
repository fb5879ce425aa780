// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {FedTask} from "../FedTask.sol";
import {RewardToken} from "../RewardToken.sol";
import {IFedTask} from "../interfaces/IFedTask.sol";
import {FedTaskHandler} from "./handlers/FedTaskHandler.sol";
import {Test} from "./utils/Test.sol";

/**
 * @notice Invariants of the FedTask escrow under random action sequences driven by {FedTaskHandler}:
 * the token balance always equals escrow + owed, and every task's pool is conserved.
 */
contract FedTaskInvariantTest is Test {
    /// @dev The fuzzer's selector filter (same layout as forge-std's `FuzzSelector`).
    struct FuzzSelector {
        address addr;
        bytes4[] selectors;
    }

    RewardToken private token;
    FedTask private fedTask;
    FedTaskHandler private handler;

    function setUp() public {
        token = new RewardToken(address(this), type(uint256).max);
        fedTask = new FedTask(token);
        handler = new FedTaskHandler(fedTask, token);
        token.grantRole(token.MINTER_ROLE(), address(handler));
    }

    /// @notice Only the handler is called by the invariant fuzzer.
    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    /// @notice Only the handler's actions are called, not its views.
    function targetSelectors() public view returns (FuzzSelector[] memory targets) {
        targets = new FuzzSelector[](1);
        targets[0] = FuzzSelector({addr: address(handler), selectors: handler.actions()});
    }

    function invariant_balanceEqualsEscrowPlusOwed() public view {
        vm.assertEq(
            token.balanceOf(address(fedTask)), handler.sumEscrow() + handler.sumOwed(), "balance == escrow + owed"
        );
    }

    function invariant_tokensInEqualTokensHeldPlusTokensOut() public view {
        vm.assertEq(
            handler.ghostDeposited(),
            token.balanceOf(address(fedTask)) + handler.ghostPaidOut(),
            "deposited == held + paid"
        );
    }

    function invariant_everyTaskConservesItsPool() public view {
        uint256 count = fedTask.taskCount();
        for (uint256 taskId = 1; taskId <= count; ++taskId) {
            IFedTask.TaskInfo memory info = fedTask.getTask(taskId);
            vm.assertEq(
                handler.ghostAllocated(taskId) + info.escrow + handler.ghostReturned(taskId),
                info.pool,
                "allocated + escrow + returned == pool"
            );
        }
    }

    function invariant_finalisationAllocatesExactlyTheBudget() public view {
        vm.assertFalse(handler.ghostSplitMismatch(), "allocated == budget (or 0 when every score is 0)");
    }

    function invariant_statusMatchesRounds() public view {
        uint256 count = fedTask.taskCount();
        for (uint256 taskId = 1; taskId <= count; ++taskId) {
            IFedTask.TaskInfo memory info = fedTask.getTask(taskId);
            if (info.status == IFedTask.TaskStatus.Joining || info.status == IFedTask.TaskStatus.Cancelled) {
                vm.assertEq(info.currentRound, 0, "no round before training");
                vm.assertFalse(info.roundOpen, "no open round before training");
            } else if (info.status == IFedTask.TaskStatus.Training) {
                vm.assertTrue(info.currentRound >= 1 && info.currentRound <= info.totalRounds, "round in range");
                vm.assertTrue(info.roundOpen || info.currentRound < info.totalRounds, "last round not yet finalised");
            } else {
                vm.assertEq(uint256(info.status), uint256(IFedTask.TaskStatus.Completed), "known status");
                vm.assertEq(info.currentRound, info.totalRounds, "every round ran");
                vm.assertFalse(info.roundOpen, "no open round after completion");
            }
            if (info.status == IFedTask.TaskStatus.Cancelled) vm.assertEq(info.escrow, 0, "cancelled: refunded");
        }
    }
}
