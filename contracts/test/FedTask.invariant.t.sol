// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ChallengeCourt} from "../ChallengeCourt.sol";
import {FedTask} from "../FedTask.sol";
import {IFedTask} from "../interfaces/IFedTask.sol";
import {FedTaskHandler} from "./handlers/FedTaskHandler.sol";
import {MockToken} from "./mocks/MockToken.sol";
import {Test} from "./utils/Test.sol";

/**
 * @notice Invariants of FedTask and ChallengeCourt under random action sequences driven by {FedTaskHandler}
 * (12 participants, 4 sybils, coordinators trying to join, aborts, claims, challenges): escrow accounting,
 * per-task conservation, no claim twice, no round overpaid, shares summing to 10,000, aborts refunding exactly
 * what is unspent, role separation, the court's accounting, and no token created or lost.
 * @dev Run `npx hardhat build` first: the handler needs its own artifact.
 */
contract FedTaskInvariantTest is Test {
    /// @dev The fuzzer's selector filter (same layout as forge-std's `FuzzSelector`).
    struct FuzzSelector {
        address addr;
        bytes4[] selectors;
    }

    MockToken private token;
    FedTask private fedTask;
    ChallengeCourt private court;
    FedTaskHandler private handler;

    function setUp() public {
        token = new MockToken();
        fedTask = new FedTask(token, address(this));
        court = new ChallengeCourt(token, fedTask, address(this), 10e18, 5e18, 1 days, 2 days);
        fedTask.grantRole(fedTask.COURT_ROLE(), address(court));
        handler = new FedTaskHandler(fedTask, court, token);
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

    function invariant_balanceEqualsEscrowAllocatedUnclaimedAndStakes() public view {
        vm.assertEq(
            token.balanceOf(address(fedTask)),
            handler.sumEscrow(),
            "balance == sum(unallocated + budget - claimed) + stakes"
        );
    }

    function invariant_everyTaskConservesItsPool() public view {
        uint256 count = fedTask.taskCount();
        for (uint256 taskId = 1; taskId <= count; ++taskId) {
            IFedTask.TaskInfo memory info = fedTask.getTask(taskId);
            vm.assertEq(
                info.pool + info.slashedIn,
                info.unallocated + handler.allocated(taskId) + info.refunded,
                "pool + slashed in == unallocated + allocated + refunded"
            );
        }
    }

    function invariant_noRoundPaysMoreThanItsBudget() public view {
        uint256 count = fedTask.taskCount();
        for (uint256 taskId = 1; taskId <= count; ++taskId) {
            uint32 lastRound = fedTask.getTask(taskId).lastRound;
            for (uint32 round = 1; round <= lastRound; ++round) {
                IFedTask.RoundInfo memory r = fedTask.getRound(taskId, round);
                vm.assertLe(r.claimed, r.budget, "claimed <= budget");
            }
        }
    }

    function invariant_noRewardClaimedTwice() public view {
        vm.assertFalse(handler.ghostDoubleClaim(), "a second claim is refused with TaskAlreadyClaimed");
    }

    function invariant_sharesOfACompletedTaskSumTo10000() public view {
        uint256 count = fedTask.taskCount();
        for (uint256 taskId = 1; taskId <= count; ++taskId) {
            IFedTask.TaskInfo memory info = fedTask.getTask(taskId);
            uint16[] memory bps = fedTask.shares(taskId);
            if (info.status != IFedTask.TaskStatus.Completed) {
                vm.assertEq(bps.length, 0, "no shares before completion");
                continue;
            }
            vm.assertEq(bps.length, info.participantCount, "one share per participant");
            address[] memory members = fedTask.getParticipants(taskId);
            uint256 sum;
            for (uint256 i = 0; i < members.length; ++i) {
                sum += fedTask.shareOf(taskId, members[i]);
            }
            vm.assertEq(sum, 10_000, "shares sum to 10,000");
        }
    }

    function invariant_anAbortedTaskPaysBackExactlyWhatWasUnspent() public view {
        vm.assertFalse(handler.ghostAbortRefundMismatch(), "refund == unallocated (+ the stall slash)");
    }

    function invariant_rolesStaySeparate() public view {
        vm.assertFalse(handler.ghostRoleConflictBroken(), "coordinator and sponsor never join");
        vm.assertFalse(handler.ghostSybilAdmitted(), "no uninvited sybil in a permissioned task");
        vm.assertFalse(handler.ghostUnexpectedError(), "refusals carry the expected error");
        uint256 count = fedTask.taskCount();
        address[] memory sybils = handler.sybils();
        for (uint256 taskId = 1; taskId <= count; ++taskId) {
            IFedTask.TaskInfo memory info = fedTask.getTask(taskId);
            vm.assertFalse(fedTask.isParticipant(taskId, info.coordinator), "coordinator not a participant");
            vm.assertFalse(fedTask.isParticipant(taskId, info.sponsor), "sponsor not a participant");
            if (!info.permissioned) continue;
            for (uint256 i = 0; i < sybils.length; ++i) {
                vm.assertFalse(fedTask.isParticipant(taskId, sybils[i]), "sybil kept out");
            }
        }
    }

    function invariant_courtBalanceEqualsStakesBondsAndOwed() public view {
        vm.assertEq(
            token.balanceOf(address(court)),
            court.totalValidatorStake() + court.bondsHeld() + court.totalOwed(),
            "court balance == stakes + bonds + owed"
        );
    }

    function invariant_noTokenCreatedOrLost() public view {
        vm.assertEq(token.totalSupply(), handler.ghostMinted(), "supply == minted");
        vm.assertEq(handler.sumBalances(), handler.ghostMinted(), "every minted wei is held by someone known");
    }
}
