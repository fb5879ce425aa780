// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {FedTask} from "../../FedTask.sol";
import {RewardToken} from "../../RewardToken.sol";
import {IFedTask} from "../../interfaces/IFedTask.sol";
import {Test} from "../utils/Test.sol";

/**
 * @title FedTaskHandler
 * @notice Drives FedTask through random but mostly valid action sequences for the invariant tests, and keeps
 * ghost totals of every token movement to check the escrow against.
 * @dev Each action picks its task and actors from the fuzzed seeds and returns early when the action would
 * be invalid, so the calls it does make are all valid: the invariant tests run with `failOnRevert`, so a
 * valid action that FedTask rejects fails them. The handler owns the token (it mints each pool).
 */
contract FedTaskHandler is Test {
    uint256 private constant ACTORS = 6;
    uint256 private constant SPONSORS = 2;
    /// @dev Few tasks, so that the calls of a run carry some of them through to completion.
    uint256 private constant MAX_TASKS = 4;

    /// @dev What {_findTask} looks for.
    enum Want {
        RoundOpen,
        CanOpen,
        CanWithdraw
    }

    FedTask public immutable fedTask;
    RewardToken public immutable token;
    address public immutable coordinator;

    address[] private _actors;
    address[] private _sponsors;

    /// @notice Tokens escrowed by createTask, over all tasks.
    uint256 public ghostDeposited;
    /// @notice Tokens paid out by claimRewards, cancelTask and withdrawRemainder.
    uint256 public ghostPaidOut;
    /// @notice Per task: rewards allocated by finalizeRound (the owed increases it caused).
    mapping(uint256 taskId => uint256) public ghostAllocated;
    /// @notice Per task: refund on cancellation plus remainder withdrawn.
    mapping(uint256 taskId => uint256) public ghostReturned;
    /// @notice Set when a finalisation allocated something other than `budget` (or 0 when every score is 0).
    bool public ghostSplitMismatch;
    /// @notice Number of successful calls per action, for the test log.
    mapping(bytes32 action => uint256) public calls;

    constructor(FedTask fedTask_, RewardToken token_) {
        fedTask = fedTask_;
        token = token_;
        coordinator = address(uint160(0xC0C0));
        for (uint256 i = 0; i < ACTORS; ++i) {
            _actors.push(address(uint160(0xA000 + i)));
        }
        for (uint256 i = 0; i < SPONSORS; ++i) {
            _sponsors.push(address(uint160(0x5000 + i)));
        }
    }

    // ------------------------------------------------------------------ actions

    /// @notice A sponsor creates a task (at most MAX_TASKS) with a freshly minted pool.
    function createTask(uint256 sponsorSeed, uint256 pool, uint256 totalRounds, uint256 maxParticipants) external {
        if (fedTask.taskCount() >= MAX_TASKS) return;
        address sponsor = _sponsors[sponsorSeed % SPONSORS];
        pool = bound(pool, 1, 1e30);
        token.mint(sponsor, pool);
        vm.startPrank(sponsor);
        token.approve(address(fedTask), pool);
        uint32 rounds = uint32(bound(totalRounds, 1, 3));
        uint32 limit = uint32(bound(maxParticipants, 1, 4));
        fedTask.createTask("spec", keccak256("spec"), coordinator, pool, rounds, limit);
        vm.stopPrank();
        ghostDeposited += pool;
        ++calls["createTask"];
    }

    /// @notice An actor joins a task that accepts it.
    function joinTask(uint256 taskSeed, uint256 actorSeed) external {
        (bool exists, uint256 taskId) = _pickTask(taskSeed);
        if (!exists) return;
        IFedTask.TaskInfo memory info = fedTask.getTask(taskId);
        address actor = _actors[actorSeed % ACTORS];
        if (info.status != IFedTask.TaskStatus.Joining || fedTask.isParticipant(taskId, actor)) return;
        if (fedTask.getParticipants(taskId).length >= info.maxParticipants) return;
        vm.prank(actor);
        fedTask.joinTask(taskId);
        ++calls["joinTask"];
    }

    /// @notice Sometimes, the sponsor cancels a task still in Joining.
    function cancelTask(uint256 taskSeed, uint256 chance) external {
        // Cancel one time in four, or tasks rarely get to train.
        if (chance % 4 != 0) return;
        (bool exists, uint256 taskId) = _pickTask(taskSeed);
        if (!exists) return;
        IFedTask.TaskInfo memory info = fedTask.getTask(taskId);
        if (info.status != IFedTask.TaskStatus.Joining) return;
        vm.prank(info.sponsor);
        fedTask.cancelTask(taskId);
        ghostReturned[taskId] += info.escrow;
        ghostPaidOut += info.escrow;
        ++calls["cancelTask"];
    }

    /// @notice The coordinator opens the next round of a task that can open one.
    function openRound(uint256 taskSeed) external {
        (bool found, uint256 taskId) = _findTask(taskSeed, Want.CanOpen);
        if (!found) return;
        IFedTask.TaskInfo memory info = fedTask.getTask(taskId);
        vm.prank(coordinator);
        fedTask.openRound(taskId, info.currentRound + 1, "model", keccak256(abi.encode(taskId, info.currentRound)));
        ++calls["openRound"];
    }

    /// @notice A participant that has not submitted yet submits to an open round.
    function submitUpdate(uint256 taskSeed, uint256 actorSeed, uint64 samples) external {
        (bool found, uint256 taskId) = _findTask(taskSeed, Want.RoundOpen);
        if (!found) return;
        uint32 round = fedTask.getTask(taskId).currentRound;
        address[] memory participants = fedTask.getParticipants(taskId);
        for (uint256 k = 0; k < participants.length; ++k) {
            address participant = participants[(actorSeed % participants.length + k) % participants.length];
            (,, bool submitted) = fedTask.getUpdate(taskId, round, participant);
            if (submitted) continue;
            vm.prank(participant);
            fedTask.submitUpdate(taskId, round, keccak256(abi.encode(participant)), "update", samples | 1);
            ++calls["submitUpdate"];
            return;
        }
    }

    /// @notice The coordinator finalises an open round with random scores for the submitters and a random
    /// budget within the escrow; records what the split allocated.
    function finalizeRound(uint256 taskSeed, uint256 scoreSeed, uint256 budget) external {
        (bool found, uint256 taskId) = _findTask(taskSeed, Want.RoundOpen);
        if (!found) return;
        IFedTask.TaskInfo memory info = fedTask.getTask(taskId);
        address[] memory participants = fedTask.getParticipants(taskId);
        uint256[] memory scores = new uint256[](participants.length);
        uint256[] memory owedBefore = new uint256[](participants.length);
        uint256 totalScore;
        for (uint256 i = 0; i < participants.length; ++i) {
            (,, bool submitted) = fedTask.getUpdate(taskId, info.currentRound, participants[i]);
            if (submitted) {
                scores[i] = uint256(keccak256(abi.encode(scoreSeed, i))) % 1_000;
                totalScore += scores[i];
            }
            owedBefore[i] = fedTask.owed(participants[i]);
        }
        budget = bound(budget, 0, info.escrow);

        vm.prank(coordinator);
        fedTask.finalizeRound(
            taskId, info.currentRound, "model", keccak256(abi.encode(taskId, "final")), "evidence", scores, budget
        );

        uint256 allocated;
        for (uint256 i = 0; i < participants.length; ++i) {
            allocated += fedTask.owed(participants[i]) - owedBefore[i];
        }
        if (allocated != (totalScore == 0 ? 0 : budget)) ghostSplitMismatch = true;
        ghostAllocated[taskId] += allocated;
        ++calls["finalizeRound"];
    }

    /// @notice An actor that is owed something claims it.
    function claimRewards(uint256 actorSeed) external {
        for (uint256 k = 0; k < ACTORS; ++k) {
            address actor = _actors[(actorSeed % ACTORS + k) % ACTORS];
            uint256 amount = fedTask.owed(actor);
            if (amount == 0) continue;
            vm.prank(actor);
            fedTask.claimRewards();
            ghostPaidOut += amount;
            ++calls["claimRewards"];
            return;
        }
    }

    /// @notice The sponsor of a completed task withdraws what is left in its escrow.
    function withdrawRemainder(uint256 taskSeed) external {
        (bool found, uint256 taskId) = _findTask(taskSeed, Want.CanWithdraw);
        if (!found) return;
        IFedTask.TaskInfo memory info = fedTask.getTask(taskId);
        vm.prank(info.sponsor);
        fedTask.withdrawRemainder(taskId);
        ghostReturned[taskId] += info.escrow;
        ghostPaidOut += info.escrow;
        ++calls["withdrawRemainder"];
    }

    // ------------------------------------------------------------------ views for the invariants

    /// @notice Sum of `owed` over every account that can be owed anything.
    function sumOwed() external view returns (uint256 total) {
        for (uint256 i = 0; i < ACTORS; ++i) {
            total += fedTask.owed(_actors[i]);
        }
    }

    /// @notice Sum of `escrow` over every task.
    function sumEscrow() external view returns (uint256 total) {
        uint256 count = fedTask.taskCount();
        for (uint256 taskId = 1; taskId <= count; ++taskId) {
            total += fedTask.getTask(taskId).escrow;
        }
    }

    /// @notice The selectors the invariant fuzzer should call.
    function actions() external pure returns (bytes4[] memory selectors) {
        selectors = new bytes4[](8);
        selectors[0] = this.createTask.selector;
        selectors[1] = this.joinTask.selector;
        selectors[2] = this.cancelTask.selector;
        selectors[3] = this.openRound.selector;
        selectors[4] = this.submitUpdate.selector;
        selectors[5] = this.finalizeRound.selector;
        selectors[6] = this.claimRewards.selector;
        selectors[7] = this.withdrawRemainder.selector;
    }

    /**
     * @dev The first task, from a seeded starting point, in which the wanted action is possible.
     * @param seed Picks the starting point.
     * @param want The action.
     * @return found Whether any task qualifies.
     * @return taskId The task found.
     */
    function _findTask(uint256 seed, Want want) private view returns (bool found, uint256 taskId) {
        uint256 count = fedTask.taskCount();
        for (uint256 k = 0; k < count; ++k) {
            taskId = (seed % count + k) % count + 1;
            IFedTask.TaskInfo memory info = fedTask.getTask(taskId);
            if (want == Want.RoundOpen) {
                if (info.roundOpen) return (true, taskId);
            } else if (want == Want.CanOpen) {
                bool active = info.status == IFedTask.TaskStatus.Joining || info.status == IFedTask.TaskStatus.Training;
                if (active && !info.roundOpen && fedTask.getParticipants(taskId).length != 0) return (true, taskId);
            } else if (info.status == IFedTask.TaskStatus.Completed && info.escrow != 0) {
                return (true, taskId);
            }
        }
        return (false, 0);
    }

    function _pickTask(uint256 seed) private view returns (bool exists, uint256 taskId) {
        uint256 count = fedTask.taskCount();
        if (count == 0) return (false, 0);
        return (true, seed % count + 1);
    }
}
