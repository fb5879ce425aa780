// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IFedTask} from "../interfaces/IFedTask.sol";
import {FedTaskFixture} from "./utils/FedTaskFixture.sol";

/// @notice Unit tests of FedTask's rounds: opening, batched and direct commitments, finalisation, budget caps,
/// shares, and the round views. Every custom error with its exact arguments.
contract FedTaskRoundsTest is FedTaskFixture {
    // ------------------------------------------------------------------ openRound

    function test_openRound_storesDeadlinesAndStartsTraining() public {
        uint256 taskId = _create();
        _joinAll(taskId, _four());
        _stake(taskId);
        uint64 t = uint64(block.timestamp);
        uint64 commitDeadline = t + COMMIT_PERIOD;
        uint64 revealStart = commitDeadline + INCLUSION_PERIOD;
        uint64 revealDeadline = revealStart + REVEAL_PERIOD;
        uint64 finalizeDeadline = revealDeadline + FINALIZE_PERIOD;

        vm.expectEmit(true, true, true, true, address(fedTask));
        emit IFedTask.RoundOpened(
            taskId,
            1,
            "bafkreimodel",
            _modelHash(0),
            commitDeadline,
            revealStart,
            revealDeadline,
            finalizeDeadline
        );
        _open(taskId, 1);

        IFedTask.RoundInfo memory r = fedTask.getRound(taskId, 1);
        vm.assertEq(r.commitDeadline, commitDeadline, "commitDeadline");
        vm.assertEq(r.revealStart, revealStart, "revealStart");
        vm.assertEq(r.revealDeadline, revealDeadline, "revealDeadline");
        vm.assertEq(r.finalizeDeadline, finalizeDeadline, "finalizeDeadline");
        vm.assertEq(r.claimableAt, 0, "not finalised");
        IFedTask.TaskInfo memory info = fedTask.getTask(taskId);
        vm.assertEq(uint256(info.status), uint256(IFedTask.TaskStatus.Training), "training");
        vm.assertEq(info.lastRound, 1, "lastRound");
        vm.assertTrue(info.roundOpen, "open");
        vm.assertEq(info.modelHash, _modelHash(0), "model");
    }

    function test_openRound_revertsWhenTaskUnknown() public {
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskUnknown.selector, 5));
        _open(5, 1);
    }

    function test_openRound_revertsWhenNotCoordinator() public {
        uint256 taskId = _ready();
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskNotCoordinator.selector, taskId, sponsor));
        vm.prank(sponsor);
        fedTask.openRound(taskId, 1, "m", _modelHash(0));
    }

    function test_openRound_revertsWhenTaskEnded() public {
        uint256 taskId = _ready();
        vm.prank(sponsor);
        fedTask.cancelTask(taskId);
        vm.expectRevert(_statusError(IFedTask.TaskNotActive.selector, taskId, IFedTask.TaskStatus.Cancelled));
        _open(taskId, 1);
    }

    function test_openRound_revertsWhenOutOfOrder() public {
        uint256 taskId = _ready();
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskRoundOutOfOrder.selector, taskId, uint32(1), uint32(2)));
        _open(taskId, 2);
    }

    function test_openRound_revertsWhilePreviousRoundOpen() public {
        uint256 taskId = _started();
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskRoundStillOpen.selector, taskId, uint32(1)));
        _open(taskId, 2);
    }

    function test_openRound_revertsAfterJoinPeriod() public {
        uint256 taskId = _ready();
        uint64 deadline = fedTask.getTask(taskId).deadline;
        vm.warp(deadline);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskDeadlinePassed.selector, taskId, uint32(1), deadline));
        _open(taskId, 1);
    }

    function test_openRound_revertsAfterOpenPeriod() public {
        uint256 taskId = _started();
        _runRound(taskId, 1, _two(alice, bob), _amounts2(10e18, 20e18));
        uint64 deadline = uint64(block.timestamp) + OPEN_PERIOD;
        vm.assertEq(fedTask.getTask(taskId).deadline, deadline, "open-by");
        vm.warp(deadline);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskDeadlinePassed.selector, taskId, uint32(2), deadline));
        _open(taskId, 2);
    }

    function test_openRound_revertsBeforeCoordinatorStaked() public {
        uint256 taskId = _create();
        _joinAll(taskId, _four());
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskCoordinatorNotStaked.selector, taskId));
        _open(taskId, 1);
    }

    function test_openRound_revertsBelowQuorum() public {
        uint256 taskId = _create();
        _join(taskId, alice);
        _stake(taskId);
        vm.expectRevert(
            abi.encodeWithSelector(IFedTask.TaskQuorumNotMet.selector, taskId, uint32(1), uint32(1), QUORUM)
        );
        _open(taskId, 1);
    }

    function test_openRound_revertsWhenModelHashZero() public {
        uint256 taskId = _ready();
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskInvalidConfig.selector, "modelHash"));
        vm.prank(coordinator);
        fedTask.openRound(taskId, 1, "m", bytes32(0));
    }

    function test_openRound_revertsWhenModelIsNotThePreviousRoundsOutput() public {
        uint256 taskId = _started();
        _runRound(taskId, 1, _two(alice, bob), _amounts2(10e18, 20e18));
        bytes32 wrong = keccak256("some other model");
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskModelMismatch.selector, taskId, _modelHash(1), wrong));
        vm.prank(coordinator);
        fedTask.openRound(taskId, 2, "m", wrong);
    }

    // ------------------------------------------------------------------ commitBatch

    function test_commitBatch_anchorsRootOnceAndCountsCommitments() public {
        uint256 taskId = _started();
        bytes32 root = keccak256("root");
        vm.expectEmit(true, true, true, true, address(fedTask));
        emit IFedTask.CommitBatchPosted(taskId, 1, root, 3, BATCH_CID);
        vm.prank(coordinator);
        fedTask.commitBatch(taskId, 1, root, 3, BATCH_CID);

        IFedTask.RoundInfo memory r = fedTask.getRound(taskId, 1);
        vm.assertEq(r.commitRoot, root, "root");
        vm.assertEq(r.commitments, 3, "commitments");
    }

    function test_commitBatch_acceptsBatchJustBeforeCommitDeadline() public {
        uint256 taskId = _started();
        vm.warp(fedTask.getRound(taskId, 1).commitDeadline - 1);
        _batch(taskId, 1, 4);
        vm.assertEq(fedTask.getRound(taskId, 1).commitments, 4, "commitments");
    }

    function test_commitBatch_revertsWhenNotCoordinator() public {
        uint256 taskId = _started();
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskNotCoordinator.selector, taskId, alice));
        vm.prank(alice);
        fedTask.commitBatch(taskId, 1, keccak256("root"), 1, BATCH_CID);
    }

    function test_commitBatch_revertsWhenRoundNotOpen() public {
        uint256 taskId = _started();
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskRoundNotOpen.selector, taskId, uint32(2)));
        _batch(taskId, 2, 1);
    }

    function test_commitBatch_revertsAtCommitDeadline() public {
        uint256 taskId = _started();
        uint64 deadline = fedTask.getRound(taskId, 1).commitDeadline;
        vm.warp(deadline);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskDeadlinePassed.selector, taskId, uint32(1), deadline));
        _batch(taskId, 1, 1);
    }

    function test_commitBatch_revertsWhenAlreadyPosted() public {
        uint256 taskId = _started();
        _batch(taskId, 1, 2);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskBatchAlreadyPosted.selector, taskId, uint32(1)));
        _batch(taskId, 1, 2);
    }

    function test_commitBatch_revertsWhenRootZero() public {
        uint256 taskId = _started();
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskInvalidConfig.selector, "root"));
        vm.prank(coordinator);
        fedTask.commitBatch(taskId, 1, bytes32(0), 1, BATCH_CID);
    }

    function test_commitBatch_revertsWhenCountOutOfRange() public {
        uint256 taskId = _started();
        vm.expectRevert(
            abi.encodeWithSelector(IFedTask.TaskBatchCountInvalid.selector, taskId, uint32(1), uint32(0), uint32(4))
        );
        _batch(taskId, 1, 0);
        vm.expectRevert(
            abi.encodeWithSelector(IFedTask.TaskBatchCountInvalid.selector, taskId, uint32(1), uint32(5), uint32(4))
        );
        _batch(taskId, 1, 5);
    }

    // ------------------------------------------------------------------ commitUpdate

    function test_commitUpdate_recordsDirectCommitmentAndEmits() public {
        uint256 taskId = _started();
        bytes32 updateHash = keccak256("alice update");
        vm.expectEmit(true, true, true, true, address(fedTask));
        emit IFedTask.UpdateCommitted(taskId, 1, alice, updateHash, 600, "bafkreiupdate");
        vm.prank(alice);
        fedTask.commitUpdate(taskId, 1, updateHash, 600, "bafkreiupdate");

        (bytes32 storedHash, uint64 samples) = fedTask.commitmentOf(taskId, 1, alice);
        vm.assertEq(storedHash, updateHash, "hash");
        vm.assertEq(samples, 600, "samples");
        vm.assertEq(fedTask.getRound(taskId, 1).commitments, 1, "counted");
    }

    function test_commitUpdate_acceptedDuringInclusionPeriod() public {
        uint256 taskId = _started();
        _batch(taskId, 1, 3);
        vm.warp(fedTask.getRound(taskId, 1).commitDeadline);
        vm.prank(dave);
        fedTask.commitUpdate(taskId, 1, keccak256("dave, left out of the batch"), 100, "bafkreiupdate");
        vm.assertEq(fedTask.getRound(taskId, 1).commitments, 4, "batch + direct");
    }

    function test_commitUpdate_countIsCappedAtParticipants() public {
        uint256 taskId = _started();
        _batch(taskId, 1, 4);
        vm.prank(alice);
        fedTask.commitUpdate(taskId, 1, keccak256("alice supersedes her leaf"), 100, "bafkreiupdate");
        vm.assertEq(fedTask.getRound(taskId, 1).commitments, 4, "capped");
    }

    function test_commitUpdate_revertsForNonParticipant() public {
        uint256 taskId = _started();
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskNotParticipant.selector, taskId, stranger));
        vm.prank(stranger);
        fedTask.commitUpdate(taskId, 1, keccak256("u"), 1, "bafkreiupdate");
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskNotParticipant.selector, taskId, coordinator));
        vm.prank(coordinator);
        fedTask.commitUpdate(taskId, 1, keccak256("u"), 1, "bafkreiupdate");
    }

    function test_commitUpdate_revertsWhenRoundNotOpen() public {
        uint256 taskId = _ready();
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskRoundNotOpen.selector, taskId, uint32(1)));
        vm.prank(alice);
        fedTask.commitUpdate(taskId, 1, keccak256("u"), 1, "bafkreiupdate");
    }

    function test_commitUpdate_revertsAtRevealStart() public {
        uint256 taskId = _started();
        uint64 revealStart = fedTask.getRound(taskId, 1).revealStart;
        vm.warp(revealStart);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskDeadlinePassed.selector, taskId, uint32(1), revealStart));
        vm.prank(alice);
        fedTask.commitUpdate(taskId, 1, keccak256("u"), 1, "bafkreiupdate");
    }

    function test_commitUpdate_revertsWhenHashOrSamplesZero() public {
        uint256 taskId = _started();
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskInvalidConfig.selector, "updateHash"));
        vm.prank(alice);
        fedTask.commitUpdate(taskId, 1, bytes32(0), 1, "bafkreiupdate");
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskInvalidConfig.selector, "samples"));
        vm.prank(alice);
        fedTask.commitUpdate(taskId, 1, keccak256("u"), 0, "bafkreiupdate");
    }

    function test_commitUpdate_revertsWhenAlreadyCommitted() public {
        uint256 taskId = _started();
        vm.prank(alice);
        fedTask.commitUpdate(taskId, 1, keccak256("u1"), 1, "bafkreiupdate");
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskAlreadyCommitted.selector, taskId, uint32(1), alice));
        vm.prank(alice);
        fedTask.commitUpdate(taskId, 1, keccak256("u2"), 1, "bafkreiupdate");
    }

    function test_commitUpdate_revertsWhenHashCopiedFromAnotherParticipant() public {
        uint256 taskId = _started();
        bytes32 updateHash = keccak256("alice's update bytes");
        vm.prank(alice);
        fedTask.commitUpdate(taskId, 1, updateHash, 100, "bafkreiupdate");
        vm.expectRevert(
            abi.encodeWithSelector(IFedTask.TaskUpdateHashTaken.selector, taskId, uint32(1), updateHash, alice)
        );
        vm.prank(bob);
        fedTask.commitUpdate(taskId, 1, updateHash, 100, "bafkreiupdate");
    }

    // ------------------------------------------------------------------ finalizeRound

    function test_finalizeRound_allocatesBudgetAndStartsChallengeWindow() public {
        uint256 taskId = _started();
        _batch(taskId, 1, 4);
        _toRevealDeadline(taskId, 1);
        IFedTask.Finalization memory f = _finalization(taskId, 1, _two(alice, bob), _amounts2(100e18, 50e18));
        uint64 claimableAt = uint64(block.timestamp) + CHALLENGE_PERIOD;

        vm.expectEmit(true, true, true, true, address(fedTask));
        emit IFedTask.RoundFinalized(
            taskId,
            1,
            f.newModelCid,
            f.newModelHash,
            EVIDENCE_CID,
            f.rewardsRoot,
            150e18,
            4,
            new address[](0),
            claimableAt
        );
        _finalize(taskId, 1, f);

        IFedTask.RoundInfo memory r = fedTask.getRound(taskId, 1);
        vm.assertEq(r.rewardsRoot, f.rewardsRoot, "root");
        vm.assertEq(r.budget, 150e18, "budget");
        vm.assertEq(r.claimed, 0, "claimed");
        vm.assertEq(r.accepted, 4, "accepted");
        vm.assertEq(r.commitments, 4, "commitments");
        vm.assertEq(r.claimableAt, claimableAt, "claimableAt");
        vm.assertEq(r.finalizer, coordinator, "finalizer");
        IFedTask.TaskInfo memory info = fedTask.getTask(taskId);
        vm.assertEq(info.unallocated, POOL - 150e18, "unallocated");
        vm.assertFalse(info.roundOpen, "closed");
        vm.assertEq(info.modelHash, _modelHash(1), "new model");
        vm.assertEq(info.deadline, block.timestamp + OPEN_PERIOD, "next round open-by");
        (uint64 windowEnd, bool disputed) = fedTask.roundClaimableAt(taskId, 1);
        vm.assertEq(windowEnd, claimableAt, "roundClaimableAt");
        vm.assertFalse(disputed, "not disputed");
    }

    function test_finalizeRound_revertsBeforeRevealDeadline() public {
        uint256 taskId = _started();
        _batch(taskId, 1, 4);
        uint64 revealDeadline = fedTask.getRound(taskId, 1).revealDeadline;
        vm.warp(revealDeadline - 1);
        IFedTask.Finalization memory f = _finalization(taskId, 1, _two(alice, bob), _amounts2(1, 1));
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskTooEarly.selector, taskId, uint32(1), revealDeadline));
        _finalize(taskId, 1, f);
    }

    function test_finalizeRound_revertsAtFinalizeDeadline() public {
        uint256 taskId = _started();
        uint64 finalizeDeadline = fedTask.getRound(taskId, 1).finalizeDeadline;
        vm.warp(finalizeDeadline);
        IFedTask.Finalization memory f = _finalization(taskId, 1, new address[](0), new uint256[](0));
        vm.expectRevert(
            abi.encodeWithSelector(IFedTask.TaskDeadlinePassed.selector, taskId, uint32(1), finalizeDeadline)
        );
        _finalize(taskId, 1, f);
    }

    function test_finalizeRound_revertsWhenNotCoordinator() public {
        uint256 taskId = _started();
        _toRevealDeadline(taskId, 1);
        IFedTask.Finalization memory f = _finalization(taskId, 1, new address[](0), new uint256[](0));
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskNotCoordinator.selector, taskId, sponsor));
        vm.prank(sponsor);
        fedTask.finalizeRound(taskId, 1, f);
    }

    function test_finalizeRound_revertsWhenRoundNotOpen() public {
        uint256 taskId = _started();
        _runRound(taskId, 1, _two(alice, bob), _amounts2(1, 1));
        IFedTask.Finalization memory f = _finalization(taskId, 1, new address[](0), new uint256[](0));
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskRoundNotOpen.selector, taskId, uint32(1)));
        _finalize(taskId, 1, f);
    }

    function test_finalizeRound_revertsWhenNewModelHashZero() public {
        IFedTask.Finalization memory f = _readyToFinalize();
        f.newModelHash = bytes32(0);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskInvalidConfig.selector, "newModelHash"));
        _finalize(1, 1, f);
    }

    function test_finalizeRound_revertsWhenRootAndBudgetDisagree() public {
        IFedTask.Finalization memory f = _readyToFinalize();
        f.rewardsRoot = bytes32(0);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskInvalidConfig.selector, "rewardsRoot"));
        _finalize(1, 1, f);
        f.rewardsRoot = keccak256("root");
        f.budget = 0;
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskInvalidConfig.selector, "rewardsRoot"));
        _finalize(1, 1, f);
    }

    function test_finalizeRound_revertsAboveTheRoundCap() public {
        IFedTask.Finalization memory f = _readyToFinalize();
        uint256 cap = POOL / ROUNDS;
        vm.assertEq(fedTask.roundCap(1, 1), cap, "cap");
        f.budget = cap + 1;
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskBudgetExceeded.selector, 1, uint32(1), cap + 1, cap));
        _finalize(1, 1, f);
    }

    function test_finalizeRound_acceptsBudgetAtTheCap() public {
        IFedTask.Finalization memory f = _readyToFinalize();
        f.budget = POOL / ROUNDS;
        _finalize(1, 1, f);
        vm.assertEq(fedTask.getRound(1, 1).budget, POOL / ROUNDS, "budget");
    }

    function test_finalizeRound_revertsWhenAcceptedAboveCommitments() public {
        IFedTask.Finalization memory f = _readyToFinalize();
        f.accepted = 5;
        vm.expectRevert(
            abi.encodeWithSelector(IFedTask.TaskAcceptedAboveCommitments.selector, 1, uint32(1), uint32(5), uint32(4))
        );
        _finalize(1, 1, f);
    }

    function test_finalizeRound_revertsWhenPayingBelowQuorum() public {
        IFedTask.Finalization memory f = _readyToFinalize();
        f.accepted = 1;
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskQuorumNotMet.selector, 1, uint32(1), uint32(1), QUORUM));
        _finalize(1, 1, f);
    }

    function test_finalizeRound_belowQuorumPaysNothing() public {
        uint256 taskId = _started();
        vm.prank(alice);
        fedTask.commitUpdate(taskId, 1, keccak256("only alice"), 1, "bafkreiupdate");
        _toRevealDeadline(taskId, 1);
        IFedTask.Finalization memory f = _finalization(taskId, 1, new address[](0), new uint256[](0));
        vm.assertEq(f.accepted, 1, "one commitment");
        _finalize(taskId, 1, f);
        vm.assertEq(fedTask.getRound(taskId, 1).budget, 0, "no budget");
        vm.assertEq(fedTask.getTask(taskId).unallocated, POOL, "pool untouched");
    }

    function test_finalizeRound_recordsFlags() public {
        IFedTask.Finalization memory f = _readyToFinalize();
        f.flagged = _two(carol, dave);
        _finalize(1, 1, f);
        vm.assertTrue(fedTask.isFlagged(1, 1, carol), "carol");
        vm.assertTrue(fedTask.isFlagged(1, 1, dave), "dave");
        vm.assertFalse(fedTask.isFlagged(1, 1, alice), "alice");
        vm.assertEq(fedTask.pendingFlags(1, carol), 1, "pending");
        vm.assertEq(fedTask.getRound(1, 1).flagCount, 2, "flagCount");
    }

    function test_finalizeRound_revertsWhenFlaggingNonParticipantOrTwice() public {
        IFedTask.Finalization memory f = _readyToFinalize();
        f.flagged = _one(stranger);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskFlagInvalid.selector, 1, uint32(1), stranger));
        _finalize(1, 1, f);
        f.flagged = _two(carol, carol);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskFlagInvalid.selector, 1, uint32(1), carol));
        _finalize(1, 1, f);
    }

    function test_finalizeRound_revertsWhenSharesOnAnEarlierRound() public {
        IFedTask.Finalization memory f = _readyToFinalize();
        f.shares = _equalShares(4);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskInvalidConfig.selector, "shares"));
        _finalize(1, 1, f);
    }

    function test_finalizeRound_lastRoundCompletesTaskWithShares() public {
        uint256 taskId = _oneRoundTask();
        uint16[] memory bps = new uint16[](4);
        (bps[0], bps[1], bps[2], bps[3]) = (4_000, 3_000, 2_000, 1_000);
        _batch(taskId, 1, 4);
        _toRevealDeadline(taskId, 1);
        IFedTask.Finalization memory f = _finalization(taskId, 1, _two(alice, bob), _amounts2(1e18, 2e18));
        f.shares = _pack(bps);

        vm.expectEmit(true, true, true, true, address(fedTask));
        emit IFedTask.TaskCompleted(taskId, f.newModelCid, f.newModelHash, f.shares);
        _finalize(taskId, 1, f);

        IFedTask.TaskInfo memory info = fedTask.getTask(taskId);
        vm.assertEq(uint256(info.status), uint256(IFedTask.TaskStatus.Completed), "completed");
        vm.assertEq(info.endedAt, block.timestamp, "endedAt");
        uint16[] memory stored = fedTask.shares(taskId);
        vm.assertEq(stored.length, 4, "one per participant");
        for (uint256 i = 0; i < 4; ++i) {
            vm.assertEq(stored[i], bps[i], "share");
        }
        vm.assertEq(fedTask.shareOf(taskId, alice), 4_000, "alice");
        vm.assertEq(fedTask.shareOf(taskId, dave), 1_000, "dave");
        vm.assertEq(fedTask.shareOf(taskId, stranger), 0, "stranger");
        vm.assertFalse(fedTask.isFinal(taskId), "window still running");
        _toClaimable(taskId, 1);
        vm.assertTrue(fedTask.isFinal(taskId), "final after the window");
    }

    function test_finalizeRound_revertsWhenLastRoundSharesDoNotSumTo10000() public {
        uint256 taskId = _oneRoundTask();
        _batch(taskId, 1, 4);
        _toRevealDeadline(taskId, 1);
        IFedTask.Finalization memory f = _finalization(taskId, 1, _two(alice, bob), _amounts2(1, 2));
        uint16[] memory bps = new uint16[](4);
        (bps[0], bps[1], bps[2], bps[3]) = (4_000, 3_000, 2_000, 999);
        f.shares = _pack(bps);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskSharesInvalid.selector, taskId, 9_999));
        _finalize(taskId, 1, f);
    }

    function test_finalizeRound_revertsWhenLastRoundSharesHaveWrongLength() public {
        uint256 taskId = _oneRoundTask();
        _batch(taskId, 1, 4);
        _toRevealDeadline(taskId, 1);
        IFedTask.Finalization memory f = _finalization(taskId, 1, _two(alice, bob), _amounts2(1, 2));
        f.shares = _equalShares(3);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskSharesInvalid.selector, taskId, 10_000));
        _finalize(taskId, 1, f);
        f.shares = "";
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskSharesInvalid.selector, taskId, 0));
        _finalize(taskId, 1, f);
    }

    function test_roundCap_isAnEqualShareOfWhatIsLeft() public {
        uint256 taskId = _started();
        vm.assertEq(fedTask.roundCap(taskId, 1), POOL / 3, "round 1");
        _runRound(taskId, 1, _two(alice, bob), _amounts2(100e18, 0));
        vm.assertEq(fedTask.roundCap(taskId, 2), (POOL - 100e18) / 2, "round 2: half of what is left");
        _open(taskId, 2);
        _runRound(taskId, 2, _two(alice, bob), _amounts2(300e18, 50e18));
        vm.assertEq(fedTask.roundCap(taskId, 3), POOL - 450e18, "round 3: everything left");
        vm.assertEq(fedTask.roundCap(taskId, 0), 0, "round 0");
        vm.assertEq(fedTask.roundCap(taskId, 4), 0, "beyond the last round");
    }

    function test_getRound_showsTheBatchRootOnlyForTheLatestRound() public {
        uint256 taskId = _started();
        bytes32 root1 = keccak256(abi.encode("batch", taskId, uint32(1)));
        _runRound(taskId, 1, _two(alice, bob), _amounts2(1, 1));
        vm.assertEq(fedTask.getRound(taskId, 1).commitRoot, root1, "latest");
        vm.assertEq(fedTask.getRound(taskId, 1).commitments, 4, "commitments kept");
        _open(taskId, 2);
        vm.assertEq(fedTask.getRound(taskId, 1).commitRoot, bytes32(0), "older roots live in the events");
        vm.assertEq(fedTask.getRound(taskId, 2).commitRoot, bytes32(0), "no batch yet");
        vm.assertEq(fedTask.getRound(taskId, 1).commitments, 4, "still counted");
    }

    // ------------------------------------------------------------------ helpers

    /// @dev Default task, four participants, coordinator staked, no round open.
    function _ready() private returns (uint256 taskId) {
        taskId = _create();
        _joinAll(taskId, _four());
        _stake(taskId);
    }

    /// @dev A one-round task with four participants and round 1 open.
    function _oneRoundTask() private returns (uint256 taskId) {
        IFedTask.TaskConfig memory config = _config();
        config.totalRounds = 1;
        taskId = _create(config);
        _joinAll(taskId, _four());
        _stake(taskId);
        _open(taskId, 1);
    }

    /// @dev Task 1 with round 1 batched by everyone and at its reveal deadline; a valid finalisation.
    function _readyToFinalize() private returns (IFedTask.Finalization memory f) {
        uint256 taskId = _started();
        _batch(taskId, 1, 4);
        _toRevealDeadline(taskId, 1);
        f = _finalization(taskId, 1, _two(alice, bob), _amounts2(100e18, 50e18));
    }
}
