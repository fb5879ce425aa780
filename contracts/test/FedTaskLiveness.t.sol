// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";

import {IFedTask} from "../interfaces/IFedTask.sol";
import {FedTaskFixture} from "./utils/FedTaskFixture.sol";
import {Merkle} from "./utils/Merkle.sol";

/// @notice Unit tests of FedTask's liveness and accountability: aborts, the sponsor's remainder, coordinator
/// replacement, stake withdrawal, slashing and the `COURT_ROLE` hooks (this test contract plays the court).
contract FedTaskLivenessTest is FedTaskFixture {
    uint256 private constant COORDINATOR_SLASH = (COORDINATOR_STAKE * SLASH_BPS) / 10_000;
    uint256 private constant PARTICIPANT_SLASH = (PARTICIPANT_STAKE * SLASH_BPS) / 10_000;

    function setUp() public override {
        super.setUp();
        fedTask.grantRole(fedTask.COURT_ROLE(), address(this));
    }

    // ------------------------------------------------------------------ abortTask

    function test_abortTask_sponsorAbortsAtOnceWhenRoundOneWasNotOpened() public {
        uint256 taskId = _create();
        _joinAll(taskId, _four());
        _stake(taskId);
        uint64 deadline = fedTask.getTask(taskId).deadline;
        vm.warp(deadline);
        uint256 before = token.balanceOf(sponsor);

        vm.expectEmit(true, true, true, true, address(fedTask));
        emit IFedTask.TaskAborted(taskId, sponsor, POOL + COORDINATOR_SLASH, COORDINATOR_SLASH);
        vm.prank(sponsor);
        fedTask.abortTask(taskId);

        vm.assertEq(token.balanceOf(sponsor) - before, POOL + COORDINATOR_SLASH, "pool + stall slash");
        IFedTask.TaskInfo memory info = fedTask.getTask(taskId);
        vm.assertEq(uint256(info.status), uint256(IFedTask.TaskStatus.Aborted), "aborted");
        vm.assertEq(info.unallocated, 0, "unallocated");
        vm.assertEq(info.slashedIn, COORDINATOR_SLASH, "slashedIn");
        vm.assertEq(info.refunded, POOL + COORDINATOR_SLASH, "refunded");
        vm.assertEq(fedTask.stakeOf(taskId, coordinator), COORDINATOR_STAKE - COORDINATOR_SLASH, "stake left");
    }

    function test_abortTask_revertsForSponsorBeforeTheDeadline() public {
        uint256 taskId = _create();
        uint64 deadline = fedTask.getTask(taskId).deadline;
        vm.warp(deadline - 1);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskNotAbortable.selector, taskId, deadline));
        vm.prank(sponsor);
        fedTask.abortTask(taskId);
    }

    function test_abortTask_revertsForAnyoneElseBeforeTheGrace() public {
        uint256 taskId = _create();
        uint64 notBefore = fedTask.getTask(taskId).deadline + ABORT_GRACE;
        vm.warp(notBefore - 1);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskNotAbortable.selector, taskId, notBefore));
        vm.prank(stranger);
        fedTask.abortTask(taskId);
        vm.warp(notBefore);
        vm.prank(stranger);
        fedTask.abortTask(taskId);
        vm.assertEq(token.balanceOf(sponsor), FUNDS, "refund goes to the sponsor, not the caller");
    }

    function test_abortTask_whenTheOpenRoundMissesItsFinalizeDeadline() public {
        uint256 taskId = _started();
        uint64 deadline = fedTask.getRound(taskId, 1).finalizeDeadline;
        vm.warp(deadline - 1);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskNotAbortable.selector, taskId, deadline));
        vm.prank(sponsor);
        fedTask.abortTask(taskId);
        vm.warp(deadline);
        vm.prank(sponsor);
        fedTask.abortTask(taskId);
        vm.assertFalse(fedTask.getTask(taskId).roundOpen, "round closed");
    }

    function test_abortTask_whenTheNextRoundIsNotOpenedKeepsFinalisedRoundsClaimable() public {
        uint256 taskId = _started();
        _runRound(taskId, 1, _two(alice, bob), _amounts2(100e18, 60e18));
        uint64 deadline = fedTask.getTask(taskId).deadline;
        vm.warp(deadline);
        uint256 before = token.balanceOf(sponsor);
        vm.prank(sponsor);
        fedTask.abortTask(taskId);

        vm.assertEq(token.balanceOf(sponsor) - before, POOL - 160e18 + COORDINATOR_SLASH, "unspent back");
        _toClaimable(taskId, 1);
        _claim(taskId, 1, _two(alice, bob), _amounts2(100e18, 60e18), 0);
        _claim(taskId, 1, _two(alice, bob), _amounts2(100e18, 60e18), 1);
        vm.assertEq(token.balanceOf(address(fedTask)), _stakesLeft(taskId), "only stakes left");
    }

    function test_abortTask_revertsWhenTaskEnded() public {
        uint256 taskId = _create();
        vm.prank(sponsor);
        fedTask.cancelTask(taskId);
        vm.expectRevert(_statusError(IFedTask.TaskNotActive.selector, taskId, IFedTask.TaskStatus.Cancelled));
        vm.prank(sponsor);
        fedTask.abortTask(taskId);
    }

    function test_abortTask_revertsWhenTaskUnknown() public {
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskUnknown.selector, 4));
        fedTask.abortTask(4);
    }

    // ------------------------------------------------------------------ withdrawRemainder

    function test_withdrawRemainder_paysTheUnspentBudgetOfACompletedTask() public {
        uint256 taskId = _completedOneRound();
        uint256 left = fedTask.getTask(taskId).unallocated;
        vm.assertEq(left, POOL - 30e18, "unspent");
        vm.expectEmit(true, true, true, true, address(fedTask));
        emit IFedTask.RemainderWithdrawn(taskId, sponsor, left);
        vm.prank(sponsor);
        fedTask.withdrawRemainder(taskId);
        vm.assertEq(token.balanceOf(sponsor), FUNDS - 30e18, "sponsor paid back");
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskNothingToWithdraw.selector, taskId, sponsor));
        vm.prank(sponsor);
        fedTask.withdrawRemainder(taskId);
    }

    function test_withdrawRemainder_revertsWhenNotSponsorOrNotEnded() public {
        uint256 taskId = _started();
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskNotSponsor.selector, taskId, alice));
        vm.prank(alice);
        fedTask.withdrawRemainder(taskId);
        vm.expectRevert(_statusError(IFedTask.TaskNotFinished.selector, taskId, IFedTask.TaskStatus.Training));
        vm.prank(sponsor);
        fedTask.withdrawRemainder(taskId);
    }

    // ------------------------------------------------------------------ coordinator replacement

    function test_proposeCoordinator_startsTheTimelock() public {
        uint256 taskId = _started();
        uint64 notBefore = uint64(block.timestamp) + 2 days;
        vm.expectEmit(true, true, true, true, address(fedTask));
        emit IFedTask.CoordinatorProposed(taskId, successor, notBefore);
        vm.prank(sponsor);
        fedTask.proposeCoordinator(taskId, successor);
        IFedTask.TaskInfo memory info = fedTask.getTask(taskId);
        vm.assertEq(info.pendingCoordinator, successor, "pending");
        vm.assertEq(info.replacementNotBefore, notBefore, "notBefore");
    }

    function test_proposeCoordinator_revertsWhenNotSponsor() public {
        uint256 taskId = _started();
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskNotSponsor.selector, taskId, coordinator));
        vm.prank(coordinator);
        fedTask.proposeCoordinator(taskId, successor);
    }

    function test_proposeCoordinator_revertsWhenTaskEnded() public {
        uint256 taskId = _create();
        vm.prank(sponsor);
        fedTask.cancelTask(taskId);
        vm.expectRevert(_statusError(IFedTask.TaskNotActive.selector, taskId, IFedTask.TaskStatus.Cancelled));
        vm.prank(sponsor);
        fedTask.proposeCoordinator(taskId, successor);
    }

    function test_proposeCoordinator_revertsForZeroOrAConflictingRole() public {
        uint256 taskId = _started();
        vm.startPrank(sponsor);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskInvalidConfig.selector, "coordinator"));
        fedTask.proposeCoordinator(taskId, address(0));
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskRoleConflict.selector, taskId, sponsor));
        fedTask.proposeCoordinator(taskId, sponsor);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskRoleConflict.selector, taskId, coordinator));
        fedTask.proposeCoordinator(taskId, coordinator);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskRoleConflict.selector, taskId, alice));
        fedTask.proposeCoordinator(taskId, alice);
        vm.stopPrank();
    }

    function test_cancelCoordinatorProposal_clearsIt() public {
        uint256 taskId = _started();
        vm.prank(sponsor);
        fedTask.proposeCoordinator(taskId, successor);
        vm.expectEmit(true, true, true, true, address(fedTask));
        emit IFedTask.CoordinatorProposalCancelled(taskId, successor);
        vm.prank(sponsor);
        fedTask.cancelCoordinatorProposal(taskId);
        vm.assertEq(fedTask.getTask(taskId).pendingCoordinator, address(0), "cleared");
        vm.warp(block.timestamp + 2 days);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskNotProposedCoordinator.selector, taskId, successor));
        vm.prank(successor);
        fedTask.acceptCoordination(taskId);
    }

    function test_cancelCoordinatorProposal_revertsWithoutProposalOrWhenNotSponsor() public {
        uint256 taskId = _started();
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskNotSponsor.selector, taskId, alice));
        vm.prank(alice);
        fedTask.cancelCoordinatorProposal(taskId);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskNoCoordinatorProposal.selector, taskId));
        vm.prank(sponsor);
        fedTask.cancelCoordinatorProposal(taskId);
    }

    function test_acceptCoordination_replacesTheCoordinatorAfterTheTimelock() public {
        uint256 taskId = _started();
        _runRound(taskId, 1, _two(alice, bob), _amounts2(1e18, 1e18));
        uint64 windowEnd = fedTask.getRound(taskId, 1).claimableAt;
        vm.prank(sponsor);
        fedTask.proposeCoordinator(taskId, successor);
        vm.warp(block.timestamp + 2 days);

        vm.expectEmit(true, true, true, true, address(fedTask));
        emit IFedTask.CoordinatorReplaced(taskId, coordinator, successor, COORDINATOR_STAKE);
        vm.prank(successor);
        fedTask.acceptCoordination(taskId);

        IFedTask.TaskInfo memory info = fedTask.getTask(taskId);
        vm.assertEq(info.coordinator, successor, "replaced");
        vm.assertEq(info.pendingCoordinator, address(0), "proposal consumed");
        vm.assertEq(fedTask.stakeOf(taskId, successor), COORDINATOR_STAKE, "new stake");
        vm.assertEq(info.deadline, block.timestamp + OPEN_PERIOD, "a full open period from now");
        // The previous coordinator's stake is released once round 1's window (its round) has passed.
        vm.assertEq(windowEnd, block.timestamp, "the window ends now");
        vm.prank(coordinator);
        fedTask.withdrawStake(taskId);
        vm.assertEq(fedTask.stakeOf(taskId, coordinator), 0, "released");
        _open2AsSuccessor(taskId);
    }

    function test_acceptCoordination_givesAStalledOpenRoundAFreshFinalizeDeadline() public {
        uint256 taskId = _started();
        vm.prank(sponsor);
        fedTask.proposeCoordinator(taskId, successor);
        uint64 missed = fedTask.getRound(taskId, 1).finalizeDeadline;
        vm.warp(missed + 1 days);
        vm.prank(successor);
        fedTask.acceptCoordination(taskId);
        uint64 fresh = uint64(block.timestamp) + FINALIZE_PERIOD;
        vm.assertEq(fedTask.getRound(taskId, 1).finalizeDeadline, fresh, "fresh deadline");
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskNotAbortable.selector, taskId, fresh));
        vm.prank(sponsor);
        fedTask.abortTask(taskId);
        IFedTask.Finalization memory f = _finalization(taskId, 1, new address[](0), new uint256[](0));
        vm.prank(successor);
        fedTask.finalizeRound(taskId, 1, f);
        _open2AsSuccessor(taskId);
    }

    function test_acceptCoordination_keepsTheFormerCoordinatorsStakeUntilItsWindowsPassed() public {
        uint256 taskId = _started();
        _runRound(taskId, 1, _two(alice, bob), _amounts2(1e18, 1e18));
        uint64 windowEnd = fedTask.getRound(taskId, 1).claimableAt;
        vm.prank(sponsor);
        fedTask.proposeCoordinator(taskId, successor);
        vm.warp(block.timestamp + 1 days);
        vm.prank(sponsor);
        fedTask.cancelCoordinatorProposal(taskId);
        vm.prank(sponsor);
        fedTask.proposeCoordinator(taskId, successor);
        vm.warp(block.timestamp + 2 days);
        vm.prank(successor);
        fedTask.acceptCoordination(taskId);
        vm.assertGt(block.timestamp, windowEnd, "window passed: released at once");
        vm.prank(coordinator);
        fedTask.withdrawStake(taskId);
    }

    function test_acceptCoordination_formerCoordinatorWaitsForTheWindowOfItsLastRound() public {
        uint256 taskId = _started();
        vm.prank(sponsor);
        fedTask.proposeCoordinator(taskId, successor);
        uint64 notBefore = fedTask.getTask(taskId).replacementNotBefore;
        _batch(taskId, 1, 4);
        _toRevealDeadline(taskId, 1);
        _finalize(taskId, 1, _finalization(taskId, 1, _two(alice, bob), _amounts2(1e18, 1e18)));
        uint64 windowEnd = fedTask.getRound(taskId, 1).claimableAt;
        vm.warp(notBefore);
        vm.assertGt(windowEnd, notBefore, "window still running");
        vm.prank(successor);
        fedTask.acceptCoordination(taskId);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskStakeLocked.selector, taskId, coordinator, windowEnd));
        vm.prank(coordinator);
        fedTask.withdrawStake(taskId);
        vm.warp(windowEnd);
        vm.prank(coordinator);
        fedTask.withdrawStake(taskId);
    }

    function test_acceptCoordination_revertsForAnyoneButTheProposed() public {
        uint256 taskId = _started();
        vm.prank(sponsor);
        fedTask.proposeCoordinator(taskId, successor);
        vm.warp(block.timestamp + 2 days);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskNotProposedCoordinator.selector, taskId, stranger));
        vm.prank(stranger);
        fedTask.acceptCoordination(taskId);
    }

    function test_acceptCoordination_revertsDuringTheTimelock() public {
        uint256 taskId = _started();
        vm.prank(sponsor);
        fedTask.proposeCoordinator(taskId, successor);
        uint64 notBefore = uint64(block.timestamp) + 2 days;
        vm.warp(notBefore - 1);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskTimelocked.selector, taskId, notBefore));
        vm.prank(successor);
        fedTask.acceptCoordination(taskId);
    }

    function test_acceptCoordination_revertsWhenTheProposedJoinedMeanwhile() public {
        uint256 taskId = _create();
        vm.prank(sponsor);
        fedTask.proposeCoordinator(taskId, successor);
        _join(taskId, successor);
        vm.warp(block.timestamp + 2 days);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskRoleConflict.selector, taskId, successor));
        vm.prank(successor);
        fedTask.acceptCoordination(taskId);
    }

    function test_acceptCoordination_revertsWhenTaskEndedOrPaused() public {
        uint256 taskId = _create();
        vm.prank(sponsor);
        fedTask.proposeCoordinator(taskId, successor);
        vm.warp(block.timestamp + 2 days);
        fedTask.pause();
        vm.expectRevert(abi.encodeWithSelector(Pausable.EnforcedPause.selector));
        vm.prank(successor);
        fedTask.acceptCoordination(taskId);
        fedTask.unpause();
        vm.prank(sponsor);
        fedTask.cancelTask(taskId);
        vm.expectRevert(_statusError(IFedTask.TaskNotActive.selector, taskId, IFedTask.TaskStatus.Cancelled));
        vm.prank(successor);
        fedTask.acceptCoordination(taskId);
    }

    function test_joinTask_revertsForAFormerCoordinatorWithStake() public {
        uint256 taskId = _create();
        _stake(taskId);
        vm.prank(sponsor);
        fedTask.proposeCoordinator(taskId, successor);
        vm.warp(block.timestamp + 2 days);
        vm.prank(successor);
        fedTask.acceptCoordination(taskId);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskRoleConflict.selector, taskId, coordinator));
        _join(taskId, coordinator);
    }

    // ------------------------------------------------------------------ withdrawStake

    function test_withdrawStake_paysAfterTheEndAndTheCooldown() public {
        uint256 taskId = _completedOneRound();
        uint64 notBefore = fedTask.getTask(taskId).endedAt + STAKE_COOLDOWN;
        vm.warp(notBefore - 1);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskStakeLocked.selector, taskId, alice, notBefore));
        vm.prank(alice);
        fedTask.withdrawStake(taskId);
        vm.warp(notBefore);
        uint256 before = token.balanceOf(alice);
        vm.expectEmit(true, true, true, true, address(fedTask));
        emit IFedTask.StakeWithdrawn(taskId, alice, PARTICIPANT_STAKE);
        vm.prank(alice);
        fedTask.withdrawStake(taskId);
        vm.assertEq(token.balanceOf(alice) - before, PARTICIPANT_STAKE, "stake back");
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskNothingToWithdraw.selector, taskId, alice));
        vm.prank(alice);
        fedTask.withdrawStake(taskId);
    }

    function test_withdrawStake_waitsForTheLastWindowWhenLongerThanTheCooldown() public {
        IFedTask.TaskConfig memory config = _config();
        config.totalRounds = 1;
        config.schedule.stakeCooldown = 1 hours;
        uint256 taskId = _create(config);
        _joinAll(taskId, _four());
        _stake(taskId);
        _open(taskId, 1);
        _runRound(taskId, 1, _two(alice, bob), _amounts2(1, 1));
        uint64 windowEnd = fedTask.getRound(taskId, 1).claimableAt;
        vm.warp(block.timestamp + 1 hours);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskStakeLocked.selector, taskId, coordinator, windowEnd));
        vm.prank(coordinator);
        fedTask.withdrawStake(taskId);
    }

    function test_withdrawStake_afterAnAbortWaitsForTheLastFinalisedRoundsWindow() public {
        IFedTask.TaskConfig memory config = _config();
        config.schedule.stakeCooldown = 1 hours;
        uint256 taskId = _create(config);
        _joinAll(taskId, _four());
        _stake(taskId);
        _open(taskId, 1);
        _runRound(taskId, 1, _two(alice, bob), _amounts2(1, 1));
        uint64 windowEnd = fedTask.getRound(taskId, 1).claimableAt;
        _open(taskId, 2);
        vm.warp(fedTask.getRound(taskId, 2).finalizeDeadline);
        vm.prank(sponsor);
        fedTask.abortTask(taskId);
        vm.warp(block.timestamp + 1 hours);
        vm.assertGt(windowEnd, block.timestamp, "round 1's window still runs");
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskStakeLocked.selector, taskId, alice, windowEnd));
        vm.prank(alice);
        fedTask.withdrawStake(taskId);
        vm.warp(windowEnd);
        vm.prank(alice);
        fedTask.withdrawStake(taskId);
    }

    function test_withdrawStake_revertsWhileTheTaskRuns() public {
        uint256 taskId = _started();
        vm.expectRevert(_statusError(IFedTask.TaskNotFinished.selector, taskId, IFedTask.TaskStatus.Training));
        vm.prank(alice);
        fedTask.withdrawStake(taskId);
    }

    function test_withdrawStake_revertsWithoutStake() public {
        uint256 taskId = _started();
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskNothingToWithdraw.selector, taskId, stranger));
        vm.prank(stranger);
        fedTask.withdrawStake(taskId);
    }

    function test_withdrawStake_revertsWhileADisputeIsOpen() public {
        uint256 taskId = _completedOneRound();
        fedTask.openDispute(taskId, 1);
        vm.warp(block.timestamp + 30 days);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskDisputesOpen.selector, taskId, uint16(1)));
        vm.prank(alice);
        fedTask.withdrawStake(taskId);
    }

    function test_withdrawStake_revertsWhileAFlagIsPending() public {
        uint256 taskId = _completedOneRoundFlagging(_one(carol));
        vm.warp(block.timestamp + 30 days);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskSlashPending.selector, taskId, carol, uint32(1)));
        vm.prank(carol);
        fedTask.withdrawStake(taskId);
        fedTask.executeSlash(taskId, 1, carol);
        vm.prank(carol);
        fedTask.withdrawStake(taskId);
        vm.assertEq(token.balanceOf(carol), FUNDS - PARTICIPANT_SLASH, "slashed, rest back");
    }

    // ------------------------------------------------------------------ executeSlash

    function test_executeSlash_slashesIntoThePoolAfterTheWindow() public {
        uint256 taskId = _started();
        _batch(taskId, 1, 4);
        _toRevealDeadline(taskId, 1);
        IFedTask.Finalization memory f = _finalization(taskId, 1, _two(alice, bob), _amounts2(1e18, 1e18));
        f.flagged = _one(carol);
        _finalize(taskId, 1, f);
        _toClaimable(taskId, 1);
        uint256 unallocated = fedTask.getTask(taskId).unallocated;

        vm.expectEmit(true, true, true, true, address(fedTask));
        emit IFedTask.ParticipantSlashed(taskId, 1, carol, PARTICIPANT_SLASH);
        vm.prank(stranger);
        fedTask.executeSlash(taskId, 1, carol);

        vm.assertEq(fedTask.stakeOf(taskId, carol), PARTICIPANT_STAKE - PARTICIPANT_SLASH, "stake");
        vm.assertEq(fedTask.getTask(taskId).unallocated, unallocated + PARTICIPANT_SLASH, "into the pool");
        vm.assertEq(fedTask.getTask(taskId).slashedIn, PARTICIPANT_SLASH, "slashedIn");
        vm.assertFalse(fedTask.isFlagged(taskId, 1, carol), "settled");
        vm.assertEq(fedTask.pendingFlags(taskId, carol), 0, "no flag pending");
        vm.assertEq(fedTask.roundCap(taskId, 2), (unallocated + PARTICIPANT_SLASH) / 2, "later caps rise");
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskNotFlagged.selector, taskId, uint32(1), carol));
        fedTask.executeSlash(taskId, 1, carol);
    }

    function test_executeSlash_revertsBeforeTheWindowOrWhileDisputed() public {
        uint256 taskId = _completedOneRoundFlagging(_one(carol));
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskRoundNotClaimable.selector, taskId, uint32(1)));
        fedTask.executeSlash(taskId, 1, carol);
        fedTask.openDispute(taskId, 1);
        _toClaimable(taskId, 1);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskRoundNotClaimable.selector, taskId, uint32(1)));
        fedTask.executeSlash(taskId, 1, carol);
    }

    function test_executeSlash_revertsForAnAccountNotFlagged() public {
        uint256 taskId = _completedOneRoundFlagging(_one(carol));
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskNotFlagged.selector, taskId, uint32(1), dave));
        fedTask.executeSlash(taskId, 1, dave);
    }

    function test_executeSlash_dismissesFlagsCancelledByAnUpheldDispute() public {
        uint256 taskId = _completedOneRoundFlagging(_one(carol));
        fedTask.openDispute(taskId, 1);
        fedTask.resolveDispute(taskId, 1, true, keccak256("corrected"), "");
        _toClaimable(taskId, 1);
        vm.expectEmit(true, true, true, true, address(fedTask));
        emit IFedTask.FlagDismissed(taskId, 1, carol);
        fedTask.executeSlash(taskId, 1, carol);
        vm.assertEq(fedTask.stakeOf(taskId, carol), PARTICIPANT_STAKE, "not slashed");
        vm.assertEq(fedTask.pendingFlags(taskId, carol), 0, "settled");
    }

    // ------------------------------------------------------------------ COURT_ROLE hooks

    function test_openDispute_marksTheRoundDisputed() public {
        uint256 taskId = _completedOneRound();
        vm.expectEmit(true, true, true, true, address(fedTask));
        emit IFedTask.DisputeOpened(taskId, 1);
        fedTask.openDispute(taskId, 1);
        (, bool disputed) = fedTask.roundClaimableAt(taskId, 1);
        vm.assertTrue(disputed, "disputed");
        vm.assertEq(fedTask.getTask(taskId).openDisputes, 1, "counted");
        _toClaimable(taskId, 1);
        vm.assertFalse(fedTask.isFinal(taskId), "not final while disputed");
    }

    function test_openDispute_revertsWithoutTheCourtRole() public {
        uint256 taskId = _completedOneRound();
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector,
                alice,
                fedTask.COURT_ROLE()
            )
        );
        vm.prank(alice);
        fedTask.openDispute(taskId, 1);
    }

    function test_openDispute_revertsOutsideTheWindow() public {
        uint256 taskId = _started();
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskNotInChallengeWindow.selector, taskId, uint32(1), 0));
        fedTask.openDispute(taskId, 1);
        _runRound(taskId, 1, _two(alice, bob), _amounts2(1, 1));
        uint64 claimableAt = fedTask.getRound(taskId, 1).claimableAt;
        vm.warp(claimableAt);
        vm.expectRevert(
            abi.encodeWithSelector(IFedTask.TaskNotInChallengeWindow.selector, taskId, uint32(1), claimableAt)
        );
        fedTask.openDispute(taskId, 1);
    }

    function test_openDispute_revertsWhenAlreadyDisputed() public {
        uint256 taskId = _completedOneRound();
        fedTask.openDispute(taskId, 1);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskRoundDisputed.selector, taskId, uint32(1)));
        fedTask.openDispute(taskId, 1);
    }

    function test_openDispute_revertsWhenTaskUnknown() public {
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskUnknown.selector, 8));
        fedTask.openDispute(8, 1);
    }

    function test_resolveDispute_upheldReplacesTheRootAndSlashesTheFinalizerToTheCourt() public {
        uint256 taskId = _completedOneRoundFlagging(_one(carol));
        fedTask.openDispute(taskId, 1);
        bytes32 corrected = _correctedRoot(taskId);
        uint256 before = token.balanceOf(address(this));

        vm.expectEmit(true, true, true, true, address(fedTask));
        emit IFedTask.DisputeResolved(taskId, 1, true, corrected, COORDINATOR_SLASH);
        uint256 slashed = fedTask.resolveDispute(taskId, 1, true, corrected, "");

        vm.assertEq(slashed, COORDINATOR_SLASH, "returned");
        vm.assertEq(token.balanceOf(address(this)) - before, COORDINATOR_SLASH, "paid to the court");
        vm.assertEq(fedTask.stakeOf(taskId, coordinator), COORDINATOR_STAKE - COORDINATOR_SLASH, "slashed");
        IFedTask.RoundInfo memory r = fedTask.getRound(taskId, 1);
        vm.assertEq(r.rewardsRoot, corrected, "root replaced");
        vm.assertEq(r.budget, 30e18, "budget unchanged");
        vm.assertTrue(r.flagsCleared, "flags cleared");
        vm.assertFalse(r.disputed, "released");
        vm.assertEq(fedTask.getTask(taskId).openDisputes, 0, "no dispute open");
        _toClaimable(taskId, 1);
        _claim(taskId, 1, _two(bob, alice), _amounts2(20e18, 10e18), 0);
    }

    function test_resolveDispute_upheldWithAZeroRootReturnsTheBudgetToThePool() public {
        uint256 taskId = _completedOneRound();
        uint256 unallocated = fedTask.getTask(taskId).unallocated;
        fedTask.openDispute(taskId, 1);
        fedTask.resolveDispute(taskId, 1, true, bytes32(0), "");
        vm.assertEq(fedTask.getRound(taskId, 1).budget, 0, "nothing to pay");
        vm.assertEq(fedTask.getTask(taskId).unallocated, unallocated + 30e18, "back in the pool");
    }

    function test_resolveDispute_upheldOnTheLastRoundReplacesTheShares() public {
        uint256 taskId = _completedOneRound();
        fedTask.openDispute(taskId, 1);
        uint16[] memory bps = new uint16[](4);
        (bps[0], bps[1], bps[2], bps[3]) = (7_000, 1_000, 1_000, 1_000);
        fedTask.resolveDispute(taskId, 1, true, keccak256("corrected"), _pack(bps));
        vm.assertEq(fedTask.shareOf(taskId, alice), 7_000, "alice");
        vm.assertEq(fedTask.shareOf(taskId, bob), 1_000, "bob");
    }

    function test_resolveDispute_revertsWhenCorrectedSharesAreInvalid() public {
        uint256 taskId = _completedOneRound();
        fedTask.openDispute(taskId, 1);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskSharesInvalid.selector, taskId, 10_000));
        fedTask.resolveDispute(taskId, 1, true, keccak256("corrected"), _equalShares(3));
    }

    function test_resolveDispute_revertsWhenSharesGivenForAnEarlierRound() public {
        uint256 taskId = _started();
        _runRound(taskId, 1, _two(alice, bob), _amounts2(1, 1));
        fedTask.openDispute(taskId, 1);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskInvalidConfig.selector, "shares"));
        fedTask.resolveDispute(taskId, 1, true, keccak256("corrected"), _equalShares(4));
    }

    function test_resolveDispute_rejectedReleasesTheRound() public {
        uint256 taskId = _completedOneRound();
        bytes32 root = fedTask.getRound(taskId, 1).rewardsRoot;
        fedTask.openDispute(taskId, 1);
        vm.expectEmit(true, true, true, true, address(fedTask));
        emit IFedTask.DisputeResolved(taskId, 1, false, root, 0);
        vm.assertEq(fedTask.resolveDispute(taskId, 1, false, keccak256("ignored"), ""), 0, "nothing slashed");
        vm.assertEq(fedTask.getRound(taskId, 1).rewardsRoot, root, "root kept");
        vm.assertEq(fedTask.stakeOf(taskId, coordinator), COORDINATOR_STAKE, "stake kept");
    }

    function test_resolveDispute_revertsWhenNotDisputedOrWithoutTheRole() public {
        uint256 taskId = _completedOneRound();
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskRoundNotDisputed.selector, taskId, uint32(1)));
        fedTask.resolveDispute(taskId, 1, false, bytes32(0), "");
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector,
                sponsor,
                fedTask.COURT_ROLE()
            )
        );
        vm.prank(sponsor);
        fedTask.resolveDispute(taskId, 1, true, bytes32(0), "");
    }

    function test_slashParticipant_movesTheSlashIntoThePool() public {
        uint256 taskId = _started();
        uint256 unallocated = fedTask.getTask(taskId).unallocated;
        vm.expectEmit(true, true, true, true, address(fedTask));
        emit IFedTask.ParticipantSlashed(taskId, 0, dave, PARTICIPANT_STAKE / 4);
        vm.assertEq(fedTask.slashParticipant(taskId, dave, 2_500), PARTICIPANT_STAKE / 4, "returned");
        vm.assertEq(fedTask.getTask(taskId).unallocated, unallocated + PARTICIPANT_STAKE / 4, "pool");
        vm.assertEq(fedTask.stakeOf(taskId, dave), (PARTICIPANT_STAKE * 3) / 4, "stake");
    }

    function test_slashParticipant_revertsForBadBpsNonParticipantOrWithoutTheRole() public {
        uint256 taskId = _started();
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskInvalidBps.selector, 10_001));
        fedTask.slashParticipant(taskId, dave, 10_001);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskNotParticipant.selector, taskId, coordinator));
        fedTask.slashParticipant(taskId, coordinator, 100);
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector,
                coordinator,
                fedTask.COURT_ROLE()
            )
        );
        vm.prank(coordinator);
        fedTask.slashParticipant(taskId, dave, 10_000);
    }

    // ------------------------------------------------------------------ helpers

    /// @dev A one-round task, completed: alice 10, bob 20 from a budget of 30, window running.
    function _completedOneRound() private returns (uint256 taskId) {
        return _completedOneRoundFlagging(new address[](0));
    }

    function _completedOneRoundFlagging(address[] memory flagged) private returns (uint256 taskId) {
        IFedTask.TaskConfig memory config = _config();
        config.totalRounds = 1;
        taskId = _create(config);
        _joinAll(taskId, _four());
        _stake(taskId);
        _open(taskId, 1);
        _batch(taskId, 1, 4);
        _toRevealDeadline(taskId, 1);
        IFedTask.Finalization memory f = _finalization(taskId, 1, _two(alice, bob), _amounts2(10e18, 20e18));
        f.flagged = flagged;
        _finalize(taskId, 1, f);
    }

    /// @dev The root of the corrected rewards of {_completedOneRound}: bob 20, alice 10.
    function _correctedRoot(uint256 taskId) private view returns (bytes32) {
        return Merkle.root(_rewardLeaves(taskId, 1, _two(bob, alice), _amounts2(20e18, 10e18)));
    }

    function _open2AsSuccessor(uint256 taskId) private {
        vm.prank(successor);
        fedTask.openRound(taskId, 2, "m", _modelHash(1));
    }

    function _stakesLeft(uint256 taskId) private view returns (uint256 total) {
        address[] memory accounts = fedTask.getParticipants(taskId);
        for (uint256 i = 0; i < accounts.length; ++i) {
            total += fedTask.stakeOf(taskId, accounts[i]);
        }
        total += fedTask.stakeOf(taskId, coordinator);
    }
}
