// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";

import {IFedTask} from "../interfaces/IFedTask.sol";
import {FedTaskFixture} from "./utils/FedTaskFixture.sol";

/// @notice Unit tests of FedTask: every function, every custom error with its exact arguments, the events.
contract FedTaskTest is FedTaskFixture {
    // ------------------------------------------------------------------ constructor and constants

    function test_constructor_setsToken() public view {
        vm.assertEq(address(fedTask.token()), address(token), "token");
        vm.assertEq(fedTask.taskCount(), 0, "no task yet");
    }

    function test_MAX_PARTICIPANTS_is256() public view {
        vm.assertEq(fedTask.MAX_PARTICIPANTS(), 256, "cap");
    }

    // ------------------------------------------------------------------ createTask

    function test_createTask_escrowsPoolAndStoresTask() public {
        uint256 taskId = _createTask(3, 5);

        vm.assertEq(taskId, 1, "first id");
        vm.assertEq(fedTask.taskCount(), 1, "count");
        vm.assertEq(token.balanceOf(address(fedTask)), POOL, "escrowed");
        vm.assertEq(token.balanceOf(sponsor), SPONSOR_FUNDS - POOL, "sponsor debited");
        IFedTask.TaskInfo memory info = fedTask.getTask(taskId);
        vm.assertEq(info.sponsor, sponsor, "sponsor");
        vm.assertEq(info.coordinator, coordinator, "coordinator");
        vm.assertEq(info.pool, POOL, "pool");
        vm.assertEq(info.escrow, POOL, "escrow");
        vm.assertEq(info.totalRounds, 3, "totalRounds");
        vm.assertEq(info.currentRound, 0, "currentRound");
        vm.assertFalse(info.roundOpen, "roundOpen");
        vm.assertEq(uint256(info.status), uint256(IFedTask.TaskStatus.Joining), "status");
        vm.assertEq(info.maxParticipants, 5, "maxParticipants");
        vm.assertEq(info.specCid, SPEC_CID, "specCid");
        vm.assertEq(info.specHash, SPEC_HASH, "specHash");
        vm.assertEq(info.modelCid, "", "modelCid");
        vm.assertEq(info.modelHash, bytes32(0), "modelHash");
        vm.assertEq(fedTask.getParticipants(taskId).length, 0, "no participants");
    }

    function test_createTask_emitsTaskCreated() public {
        vm.expectEmit(true, true, true, true, address(fedTask));
        emit IFedTask.TaskCreated(1, sponsor, coordinator, POOL, 3, 5, SPEC_CID, SPEC_HASH);
        _createTask(3, 5);
    }

    function test_createTask_assignsSequentialIdsFromOne() public {
        vm.assertEq(_createTask(1, 1), 1, "first");
        vm.assertEq(_createTask(1, 1), 2, "second");
        vm.assertEq(fedTask.taskCount(), 2, "count");
        vm.assertEq(token.balanceOf(address(fedTask)), 2 * POOL, "both escrowed");
    }

    function test_createTask_acceptsMaxParticipantsAtCap() public {
        uint256 taskId = _createTask(1, 256);
        vm.assertEq(fedTask.getTask(taskId).maxParticipants, 256, "cap accepted");
    }

    function test_createTask_revertsWhenCoordinatorZero() public {
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskInvalidConfig.selector, "coordinator"));
        vm.prank(sponsor);
        fedTask.createTask(SPEC_CID, SPEC_HASH, address(0), POOL, 1, 1);
    }

    function test_createTask_revertsWhenPoolZero() public {
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskInvalidConfig.selector, "pool"));
        vm.prank(sponsor);
        fedTask.createTask(SPEC_CID, SPEC_HASH, coordinator, 0, 1, 1);
    }

    function test_createTask_revertsWhenTotalRoundsZero() public {
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskInvalidConfig.selector, "totalRounds"));
        vm.prank(sponsor);
        fedTask.createTask(SPEC_CID, SPEC_HASH, coordinator, POOL, 0, 1);
    }

    function test_createTask_revertsWhenMaxParticipantsZero() public {
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskInvalidConfig.selector, "maxParticipants"));
        vm.prank(sponsor);
        fedTask.createTask(SPEC_CID, SPEC_HASH, coordinator, POOL, 1, 0);
    }

    function test_createTask_revertsWhenMaxParticipantsAboveCap() public {
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskInvalidConfig.selector, "maxParticipants"));
        vm.prank(sponsor);
        fedTask.createTask(SPEC_CID, SPEC_HASH, coordinator, POOL, 1, 257);
    }

    function test_createTask_revertsWhenSpecHashZero() public {
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskInvalidConfig.selector, "specHash"));
        vm.prank(sponsor);
        fedTask.createTask(SPEC_CID, bytes32(0), coordinator, POOL, 1, 1);
    }

    function test_createTask_revertsWhenAllowanceTooLow() public {
        vm.prank(sponsor);
        token.approve(address(fedTask), POOL - 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                IERC20Errors.ERC20InsufficientAllowance.selector, address(fedTask), POOL - 1, POOL
            )
        );
        _createTask(1, 1);
        vm.assertEq(fedTask.taskCount(), 0, "nothing recorded");
    }

    // ------------------------------------------------------------------ joinTask

    function test_joinTask_addsParticipantsInJoinOrder() public {
        uint256 taskId = _createTask(1, 3);

        vm.expectEmit(true, true, true, true, address(fedTask));
        emit IFedTask.TaskJoined(taskId, bob, 0);
        vm.prank(bob);
        fedTask.joinTask(taskId);
        vm.expectEmit(true, true, true, true, address(fedTask));
        emit IFedTask.TaskJoined(taskId, alice, 1);
        vm.prank(alice);
        fedTask.joinTask(taskId);

        vm.assertEq(fedTask.getParticipants(taskId), _two(bob, alice), "join order");
        vm.assertTrue(fedTask.isParticipant(taskId, alice), "alice joined");
        vm.assertTrue(fedTask.isParticipant(taskId, bob), "bob joined");
        vm.assertFalse(fedTask.isParticipant(taskId, carol), "carol did not");
    }

    function test_joinTask_revertsWhenTaskUnknown() public {
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskUnknown.selector, 7));
        vm.prank(alice);
        fedTask.joinTask(7);
    }

    function test_joinTask_revertsWhenAlreadyJoined() public {
        uint256 taskId = _createTask(1, 3);
        _joinAll(taskId, _one(alice));
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskAlreadyJoined.selector, taskId, alice));
        vm.prank(alice);
        fedTask.joinTask(taskId);
    }

    function test_joinTask_revertsWhenFull() public {
        uint256 taskId = _createTask(1, 2);
        _joinAll(taskId, _two(alice, bob));
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskFull.selector, taskId, uint32(2)));
        vm.prank(carol);
        fedTask.joinTask(taskId);
    }

    function test_joinTask_revertsWhenTraining() public {
        uint256 taskId = _createTask(2, 3);
        _joinAll(taskId, _one(alice));
        _openRound(taskId, 1);
        vm.expectRevert(_statusError(IFedTask.TaskNotJoining.selector, taskId, IFedTask.TaskStatus.Training));
        vm.prank(bob);
        fedTask.joinTask(taskId);
    }

    function test_joinTask_revertsWhenCancelled() public {
        uint256 taskId = _createTask(2, 3);
        vm.prank(sponsor);
        fedTask.cancelTask(taskId);
        vm.expectRevert(_statusError(IFedTask.TaskNotJoining.selector, taskId, IFedTask.TaskStatus.Cancelled));
        vm.prank(bob);
        fedTask.joinTask(taskId);
    }

    // ------------------------------------------------------------------ cancelTask

    function test_cancelTask_refundsWholeEscrowAndEmits() public {
        uint256 taskId = _createTask(2, 3);
        _joinAll(taskId, _one(alice));

        vm.expectEmit(true, true, true, true, address(fedTask));
        emit IFedTask.TaskCancelled(taskId, POOL);
        vm.prank(sponsor);
        fedTask.cancelTask(taskId);

        IFedTask.TaskInfo memory info = fedTask.getTask(taskId);
        vm.assertEq(uint256(info.status), uint256(IFedTask.TaskStatus.Cancelled), "status");
        vm.assertEq(info.escrow, 0, "escrow emptied");
        vm.assertEq(info.pool, POOL, "pool kept for the record");
        vm.assertEq(token.balanceOf(sponsor), SPONSOR_FUNDS, "refunded");
        vm.assertEq(token.balanceOf(address(fedTask)), 0, "nothing left");
    }

    function test_cancelTask_revertsWhenTaskUnknown() public {
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskUnknown.selector, 1));
        vm.prank(sponsor);
        fedTask.cancelTask(1);
    }

    function test_cancelTask_revertsWhenNotSponsor() public {
        uint256 taskId = _createTask(2, 3);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskNotSponsor.selector, taskId, coordinator));
        vm.prank(coordinator);
        fedTask.cancelTask(taskId);
    }

    function test_cancelTask_revertsWhenTraining() public {
        uint256 taskId = _createTask(2, 3);
        _joinAll(taskId, _one(alice));
        _openRound(taskId, 1);
        vm.expectRevert(_statusError(IFedTask.TaskNotJoining.selector, taskId, IFedTask.TaskStatus.Training));
        vm.prank(sponsor);
        fedTask.cancelTask(taskId);
    }

    function test_cancelTask_revertsWhenAlreadyCancelled() public {
        uint256 taskId = _createTask(2, 3);
        vm.prank(sponsor);
        fedTask.cancelTask(taskId);
        vm.expectRevert(_statusError(IFedTask.TaskNotJoining.selector, taskId, IFedTask.TaskStatus.Cancelled));
        vm.prank(sponsor);
        fedTask.cancelTask(taskId);
    }

    function test_cancelTask_revertsWhenCompleted() public {
        uint256 taskId = _taskWithFourSubmissions(1);
        _finalize(taskId, 1, _scores4(1, 1, 1, 1), POOL / 2);
        vm.expectRevert(_statusError(IFedTask.TaskNotJoining.selector, taskId, IFedTask.TaskStatus.Completed));
        vm.prank(sponsor);
        fedTask.cancelTask(taskId);
    }

    // ------------------------------------------------------------------ openRound

    function test_openRound_movesJoiningToTrainingAndEmits() public {
        uint256 taskId = _createTask(2, 3);
        _joinAll(taskId, _one(alice));

        vm.expectEmit(true, true, true, true, address(fedTask));
        emit IFedTask.RoundOpened(taskId, 1, MODEL_CID, MODEL_HASH);
        vm.prank(coordinator);
        fedTask.openRound(taskId, 1, MODEL_CID, MODEL_HASH);

        IFedTask.TaskInfo memory info = fedTask.getTask(taskId);
        vm.assertEq(uint256(info.status), uint256(IFedTask.TaskStatus.Training), "status");
        vm.assertEq(info.currentRound, 1, "currentRound");
        vm.assertTrue(info.roundOpen, "roundOpen");
        vm.assertEq(info.modelCid, MODEL_CID, "modelCid");
        vm.assertEq(info.modelHash, MODEL_HASH, "modelHash");
    }

    function test_openRound_opensNextRoundAfterFinalisation() public {
        uint256 taskId = _taskWithFourSubmissions(3);
        _finalize(taskId, 1, _scores4(1, 1, 1, 1), 100);

        vm.expectEmit(true, true, true, true, address(fedTask));
        emit IFedTask.RoundOpened(taskId, 2, "bafkreiround2", _modelHash(1));
        vm.prank(coordinator);
        fedTask.openRound(taskId, 2, "bafkreiround2", _modelHash(1));

        IFedTask.TaskInfo memory info = fedTask.getTask(taskId);
        vm.assertEq(info.currentRound, 2, "currentRound");
        vm.assertTrue(info.roundOpen, "roundOpen");
        vm.assertEq(uint256(info.status), uint256(IFedTask.TaskStatus.Training), "still training");
    }

    function test_openRound_revertsWhenTaskUnknown() public {
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskUnknown.selector, 3));
        vm.prank(coordinator);
        fedTask.openRound(3, 1, MODEL_CID, MODEL_HASH);
    }

    function test_openRound_revertsWhenNotCoordinator() public {
        uint256 taskId = _createTask(2, 3);
        _joinAll(taskId, _one(alice));
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskNotCoordinator.selector, taskId, sponsor));
        vm.prank(sponsor);
        fedTask.openRound(taskId, 1, MODEL_CID, MODEL_HASH);
    }

    function test_openRound_revertsWhenRoundSkipsAhead() public {
        uint256 taskId = _createTask(2, 3);
        _joinAll(taskId, _one(alice));
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskRoundOutOfOrder.selector, taskId, uint32(1), uint32(2)));
        vm.prank(coordinator);
        fedTask.openRound(taskId, 2, MODEL_CID, MODEL_HASH);
    }

    function test_openRound_revertsWhenRoundZero() public {
        uint256 taskId = _createTask(2, 3);
        _joinAll(taskId, _one(alice));
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskRoundOutOfOrder.selector, taskId, uint32(1), uint32(0)));
        vm.prank(coordinator);
        fedTask.openRound(taskId, 0, MODEL_CID, MODEL_HASH);
    }

    function test_openRound_revertsWhenReopeningFinalisedRound() public {
        uint256 taskId = _taskWithFourSubmissions(3);
        _finalize(taskId, 1, _scores4(1, 1, 1, 1), 100);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskRoundOutOfOrder.selector, taskId, uint32(2), uint32(1)));
        vm.prank(coordinator);
        fedTask.openRound(taskId, 1, MODEL_CID, MODEL_HASH);
    }

    function test_openRound_revertsWhenPreviousRoundStillOpen() public {
        uint256 taskId = _createTask(2, 3);
        _joinAll(taskId, _one(alice));
        _openRound(taskId, 1);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskRoundStillOpen.selector, taskId, uint32(1)));
        vm.prank(coordinator);
        fedTask.openRound(taskId, 2, MODEL_CID, MODEL_HASH);
    }

    function test_openRound_revertsWhenNoParticipants() public {
        uint256 taskId = _createTask(2, 3);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskNoParticipants.selector, taskId));
        vm.prank(coordinator);
        fedTask.openRound(taskId, 1, MODEL_CID, MODEL_HASH);
    }

    function test_openRound_revertsWhenCompleted() public {
        uint256 taskId = _taskWithFourSubmissions(1);
        _finalize(taskId, 1, _scores4(1, 1, 1, 1), 100);
        vm.expectRevert(_statusError(IFedTask.TaskNotActive.selector, taskId, IFedTask.TaskStatus.Completed));
        vm.prank(coordinator);
        fedTask.openRound(taskId, 2, MODEL_CID, MODEL_HASH);
    }

    function test_openRound_revertsWhenCancelled() public {
        uint256 taskId = _createTask(2, 3);
        _joinAll(taskId, _one(alice));
        vm.prank(sponsor);
        fedTask.cancelTask(taskId);
        vm.expectRevert(_statusError(IFedTask.TaskNotActive.selector, taskId, IFedTask.TaskStatus.Cancelled));
        vm.prank(coordinator);
        fedTask.openRound(taskId, 1, MODEL_CID, MODEL_HASH);
    }

    function test_openRound_revertsWhenModelHashZero() public {
        uint256 taskId = _createTask(2, 3);
        _joinAll(taskId, _one(alice));
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskInvalidConfig.selector, "modelHash"));
        vm.prank(coordinator);
        fedTask.openRound(taskId, 1, MODEL_CID, bytes32(0));
    }

    // ------------------------------------------------------------------ submitUpdate

    function test_submitUpdate_storesUpdateAndEmits() public {
        uint256 taskId = _createTask(2, 3);
        _joinAll(taskId, _two(alice, bob));
        _openRound(taskId, 1);
        bytes32 updateHash = keccak256("alice-update");

        vm.expectEmit(true, true, true, true, address(fedTask));
        emit IFedTask.UpdateSubmitted(taskId, 1, alice, updateHash, "bafkreialice", 1234);
        vm.prank(alice);
        fedTask.submitUpdate(taskId, 1, updateHash, "bafkreialice", 1234);

        (bytes32 storedHash, uint64 samples, bool submitted) = fedTask.getUpdate(taskId, 1, alice);
        vm.assertEq(storedHash, updateHash, "hash");
        vm.assertEq(samples, 1234, "samples");
        vm.assertTrue(submitted, "submitted");
        (storedHash, samples, submitted) = fedTask.getUpdate(taskId, 1, bob);
        vm.assertEq(storedHash, bytes32(0), "bob: no hash");
        vm.assertEq(samples, 0, "bob: no samples");
        vm.assertFalse(submitted, "bob: not submitted");
    }

    function test_submitUpdate_acceptsOneUpdatePerRound() public {
        uint256 taskId = _taskWithFourSubmissions(2);
        _finalize(taskId, 1, _scores4(1, 1, 1, 1), 100);
        _openRound(taskId, 2);
        _submit(taskId, 2, alice);
        (,, bool submitted) = fedTask.getUpdate(taskId, 2, alice);
        vm.assertTrue(submitted, "round 2 update");
    }

    function test_submitUpdate_revertsWhenTaskUnknown() public {
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskUnknown.selector, 5));
        vm.prank(alice);
        fedTask.submitUpdate(5, 1, keccak256("u"), "cid", 1);
    }

    function test_submitUpdate_revertsWhenNotParticipant() public {
        uint256 taskId = _createTask(2, 3);
        _joinAll(taskId, _one(alice));
        _openRound(taskId, 1);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskNotParticipant.selector, taskId, stranger));
        vm.prank(stranger);
        fedTask.submitUpdate(taskId, 1, keccak256("u"), "cid", 1);
    }

    function test_submitUpdate_revertsWhenNoRoundOpenedYet() public {
        uint256 taskId = _createTask(2, 3);
        _joinAll(taskId, _one(alice));
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskRoundNotOpen.selector, taskId, uint32(1)));
        vm.prank(alice);
        fedTask.submitUpdate(taskId, 1, keccak256("u"), "cid", 1);
    }

    function test_submitUpdate_revertsWhenRoundIsNotTheOpenOne() public {
        uint256 taskId = _createTask(2, 3);
        _joinAll(taskId, _one(alice));
        _openRound(taskId, 1);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskRoundNotOpen.selector, taskId, uint32(2)));
        vm.prank(alice);
        fedTask.submitUpdate(taskId, 2, keccak256("u"), "cid", 1);
    }

    function test_submitUpdate_revertsWhenRoundClosed() public {
        uint256 taskId = _taskWithFourSubmissions(2);
        _finalize(taskId, 1, _scores4(1, 1, 1, 1), 100);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskRoundNotOpen.selector, taskId, uint32(1)));
        vm.prank(alice);
        fedTask.submitUpdate(taskId, 1, keccak256("late"), "cid", 1);
    }

    function test_submitUpdate_revertsWhenAlreadySubmitted() public {
        uint256 taskId = _taskWithFourSubmissions(2);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskUpdateAlreadySubmitted.selector, taskId, uint32(1), bob));
        vm.prank(bob);
        fedTask.submitUpdate(taskId, 1, keccak256("again"), "cid", 1);
    }

    function test_submitUpdate_revertsWhenSamplesZero() public {
        uint256 taskId = _createTask(2, 3);
        _joinAll(taskId, _one(alice));
        _openRound(taskId, 1);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskInvalidConfig.selector, "samples"));
        vm.prank(alice);
        fedTask.submitUpdate(taskId, 1, keccak256("u"), "cid", 0);
    }

    function test_submitUpdate_revertsWhenUpdateHashZero() public {
        uint256 taskId = _createTask(2, 3);
        _joinAll(taskId, _one(alice));
        _openRound(taskId, 1);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskInvalidConfig.selector, "updateHash"));
        vm.prank(alice);
        fedTask.submitUpdate(taskId, 1, bytes32(0), "cid", 1);
    }

    // ------------------------------------------------------------------ finalizeRound

    function test_finalizeRound_splitsBudgetProRataToScores() public {
        uint256 taskId = _taskWithFourSubmissions(2);
        _finalize(taskId, 1, _scores4(1, 2, 3, 4), 100e18);

        vm.assertEq(fedTask.owed(alice), 10e18, "alice 1/10");
        vm.assertEq(fedTask.owed(bob), 20e18, "bob 2/10");
        vm.assertEq(fedTask.owed(carol), 30e18, "carol 3/10");
        vm.assertEq(fedTask.owed(dave), 40e18, "dave 4/10");
        vm.assertEq(fedTask.getTask(taskId).escrow, POOL - 100e18, "escrow debited");
        vm.assertEq(token.balanceOf(address(fedTask)), POOL, "no token moved");
    }

    function test_finalizeRound_givesRoundingDustToLaterParticipants() public {
        uint256 taskId = _createTask(1, 3);
        address[] memory three = new address[](3);
        (three[0], three[1], three[2]) = (alice, bob, carol);
        _joinAll(taskId, three);
        _openRound(taskId, 1);
        _submit(taskId, 1, alice);
        _submit(taskId, 1, bob);
        _submit(taskId, 1, carol);
        uint256[] memory scores = new uint256[](3);
        (scores[0], scores[1], scores[2]) = (1, 1, 1);

        _finalize(taskId, 1, scores, 100);

        // floor(100*1/3) = 33, floor(100*2/3) - 33 = 33, 100 - 66 = 34.
        vm.assertEq(fedTask.owed(alice), 33, "alice");
        vm.assertEq(fedTask.owed(bob), 33, "bob");
        vm.assertEq(fedTask.owed(carol), 34, "carol");
        vm.assertEq(fedTask.getTask(taskId).escrow, POOL - 100, "exactly the budget");
    }

    function test_finalizeRound_emitsAllocationsAndRoundFinalized() public {
        uint256 taskId = _taskWithFourSubmissions(2);
        uint256[] memory scores = _scores4(5, 0, 3, 2);

        vm.expectEmit(true, true, true, true, address(fedTask));
        emit IFedTask.RewardAllocated(taskId, 1, alice, 5, 50);
        vm.expectEmit(true, true, true, true, address(fedTask));
        emit IFedTask.RewardAllocated(taskId, 1, bob, 0, 0);
        vm.expectEmit(true, true, true, true, address(fedTask));
        emit IFedTask.RewardAllocated(taskId, 1, carol, 3, 30);
        vm.expectEmit(true, true, true, true, address(fedTask));
        emit IFedTask.RewardAllocated(taskId, 1, dave, 2, 20);
        vm.expectEmit(true, true, true, true, address(fedTask));
        emit IFedTask.RoundFinalized(taskId, 1, "bafkreinewmodel", _modelHash(1), EVIDENCE_CID, 100, 100);
        _finalize(taskId, 1, scores, 100);
    }

    function test_finalizeRound_closesRoundAndSetsModel() public {
        uint256 taskId = _taskWithFourSubmissions(2);
        _finalize(taskId, 1, _scores4(1, 1, 1, 1), 100);

        IFedTask.TaskInfo memory info = fedTask.getTask(taskId);
        vm.assertEq(info.currentRound, 1, "currentRound");
        vm.assertFalse(info.roundOpen, "closed");
        vm.assertEq(uint256(info.status), uint256(IFedTask.TaskStatus.Training), "still training");
        vm.assertEq(info.modelCid, "bafkreinewmodel", "model cid");
        vm.assertEq(info.modelHash, _modelHash(1), "model hash");
    }

    function test_finalizeRound_keepsBudgetInEscrowWhenEveryScoreIsZero() public {
        uint256 taskId = _taskWithFourSubmissions(2);

        vm.expectEmit(true, true, true, true, address(fedTask));
        emit IFedTask.RewardAllocated(taskId, 1, alice, 0, 0);
        vm.expectEmit(true, true, true, true, address(fedTask));
        emit IFedTask.RewardAllocated(taskId, 1, bob, 0, 0);
        vm.expectEmit(true, true, true, true, address(fedTask));
        emit IFedTask.RewardAllocated(taskId, 1, carol, 0, 0);
        vm.expectEmit(true, true, true, true, address(fedTask));
        emit IFedTask.RewardAllocated(taskId, 1, dave, 0, 0);
        vm.expectEmit(true, true, true, true, address(fedTask));
        emit IFedTask.RoundFinalized(taskId, 1, "bafkreinewmodel", _modelHash(1), EVIDENCE_CID, 100, 0);
        _finalize(taskId, 1, _scores4(0, 0, 0, 0), 100);

        vm.assertEq(fedTask.getTask(taskId).escrow, POOL, "escrow untouched");
        vm.assertEq(fedTask.owed(alice), 0, "nothing owed");
    }

    function test_finalizeRound_acceptsZeroScoreForParticipantWithoutUpdate() public {
        uint256 taskId = _createTask(1, 2);
        _joinAll(taskId, _two(alice, bob));
        _openRound(taskId, 1);
        _submit(taskId, 1, bob);

        _finalize(taskId, 1, _scores2(0, 7), 70);

        vm.assertEq(fedTask.owed(alice), 0, "alice got nothing");
        vm.assertEq(fedTask.owed(bob), 70, "bob got the budget");
    }

    function test_finalizeRound_completesTaskAfterLastRound() public {
        uint256 taskId = _taskWithFourSubmissions(1);

        vm.expectEmit(true, true, true, true, address(fedTask));
        emit IFedTask.RoundFinalized(taskId, 1, "bafkreinewmodel", _modelHash(1), EVIDENCE_CID, 40, 40);
        vm.expectEmit(true, true, true, true, address(fedTask));
        emit IFedTask.TaskCompleted(taskId, "bafkreinewmodel", _modelHash(1));
        _finalize(taskId, 1, _scores4(1, 1, 1, 1), 40);

        IFedTask.TaskInfo memory info = fedTask.getTask(taskId);
        vm.assertEq(uint256(info.status), uint256(IFedTask.TaskStatus.Completed), "completed");
        vm.assertFalse(info.roundOpen, "closed");
        vm.assertEq(info.currentRound, 1, "last round");
    }

    function test_finalizeRound_accumulatesOwedAcrossRoundsAndTasks() public {
        uint256 first = _taskWithFourSubmissions(2);
        _finalize(first, 1, _scores4(1, 1, 1, 1), 40);
        _openRound(first, 2);
        _submit(first, 2, alice);
        _finalize(first, 2, _scores4(1, 0, 0, 0), 5);
        uint256 second = _createTask(1, 1);
        _joinAll(second, _one(alice));
        _openRound(second, 1);
        _submit(second, 1, alice);
        _finalize(second, 1, _scores1(9), 100);

        vm.assertEq(fedTask.owed(alice), 10 + 5 + 100, "owed across rounds and tasks");
        vm.assertEq(fedTask.owed(bob), 10, "bob");
    }

    function test_finalizeRound_allowsZeroBudget() public {
        uint256 taskId = _taskWithFourSubmissions(2);
        _finalize(taskId, 1, _scores4(1, 2, 3, 4), 0);
        vm.assertEq(fedTask.owed(dave), 0, "nothing allocated");
        vm.assertEq(fedTask.getTask(taskId).escrow, POOL, "escrow untouched");
    }

    function test_finalizeRound_allowsWholeEscrowAsBudget() public {
        uint256 taskId = _taskWithFourSubmissions(1);
        _finalize(taskId, 1, _scores4(1, 1, 1, 1), POOL);
        vm.assertEq(fedTask.getTask(taskId).escrow, 0, "escrow spent");
        vm.assertEq(fedTask.owed(alice), POOL / 4, "a quarter each");
    }

    function test_finalizeRound_handlesMaxParticipants() public {
        uint256 taskId = _createTask(1, 256);
        uint256[] memory scores = new uint256[](256);
        for (uint256 i = 0; i < 256; ++i) {
            address participant = address(uint160(0x10000 + i));
            vm.prank(participant);
            fedTask.joinTask(taskId);
        }
        _openRound(taskId, 1);
        for (uint256 i = 0; i < 256; ++i) {
            _submit(taskId, 1, address(uint160(0x10000 + i)));
            scores[i] = i + 1;
        }
        _finalize(taskId, 1, scores, POOL);

        uint256 total;
        for (uint256 i = 0; i < 256; ++i) {
            total += fedTask.owed(address(uint160(0x10000 + i)));
        }
        vm.assertEq(total, POOL, "whole budget allocated");
    }

    function test_finalizeRound_revertsWhenTaskUnknown() public {
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskUnknown.selector, 9));
        vm.prank(coordinator);
        fedTask.finalizeRound(9, 1, "m", MODEL_HASH, EVIDENCE_CID, new uint256[](0), 0);
    }

    function test_finalizeRound_revertsWhenNotCoordinator() public {
        uint256 taskId = _taskWithFourSubmissions(2);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskNotCoordinator.selector, taskId, alice));
        vm.prank(alice);
        fedTask.finalizeRound(taskId, 1, "m", MODEL_HASH, EVIDENCE_CID, _scores4(1, 1, 1, 1), 1);
    }

    function test_finalizeRound_revertsWhenRoundAlreadyFinalized() public {
        uint256 taskId = _taskWithFourSubmissions(2);
        _finalize(taskId, 1, _scores4(1, 1, 1, 1), 100);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskRoundAlreadyFinalized.selector, taskId, uint32(1)));
        _finalize(taskId, 1, _scores4(1, 1, 1, 1), 100);
    }

    function test_finalizeRound_revertsWhenEarlierRoundFinalizedWhileNextIsOpen() public {
        uint256 taskId = _taskWithFourSubmissions(2);
        _finalize(taskId, 1, _scores4(1, 1, 1, 1), 100);
        _openRound(taskId, 2);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskRoundAlreadyFinalized.selector, taskId, uint32(1)));
        _finalize(taskId, 1, _scores4(0, 0, 0, 0), 0);
    }

    function test_finalizeRound_revertsWhenCompletedTaskRoundFinalizedAgain() public {
        uint256 taskId = _taskWithFourSubmissions(1);
        _finalize(taskId, 1, _scores4(1, 1, 1, 1), 100);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskRoundAlreadyFinalized.selector, taskId, uint32(1)));
        _finalize(taskId, 1, _scores4(1, 1, 1, 1), 100);
    }

    function test_finalizeRound_revertsWhenRoundNotOpenedYet() public {
        uint256 taskId = _taskWithFourSubmissions(3);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskRoundNotOpen.selector, taskId, uint32(2)));
        _finalize(taskId, 2, _scores4(1, 1, 1, 1), 100);
    }

    function test_finalizeRound_revertsWhenRoundZero() public {
        uint256 taskId = _taskWithFourSubmissions(3);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskRoundNotOpen.selector, taskId, uint32(0)));
        vm.prank(coordinator);
        fedTask.finalizeRound(taskId, 0, "m", MODEL_HASH, EVIDENCE_CID, _scores4(1, 1, 1, 1), 1);
    }

    function test_finalizeRound_revertsBeforeFirstRound() public {
        uint256 taskId = _createTask(2, 2);
        _joinAll(taskId, _one(alice));
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskRoundNotOpen.selector, taskId, uint32(1)));
        _finalize(taskId, 1, _scores1(1), 1);
    }

    function test_finalizeRound_revertsWhenScoresLengthMismatch() public {
        uint256 taskId = _taskWithFourSubmissions(2);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskScoresLengthMismatch.selector, taskId, 4, 2));
        _finalize(taskId, 1, _scores2(1, 1), 100);
    }

    function test_finalizeRound_revertsWhenScoreWithoutUpdate() public {
        uint256 taskId = _createTask(1, 2);
        _joinAll(taskId, _two(alice, bob));
        _openRound(taskId, 1);
        _submit(taskId, 1, bob);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskScoreWithoutUpdate.selector, taskId, uint32(1), alice));
        _finalize(taskId, 1, _scores2(1, 1), 100);
    }

    function test_finalizeRound_revertsWhenBudgetExceedsEscrow() public {
        uint256 taskId = _taskWithFourSubmissions(2);
        _finalize(taskId, 1, _scores4(1, 1, 1, 1), POOL - 10);
        _openRound(taskId, 2);
        _submit(taskId, 2, alice);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskEscrowExceeded.selector, taskId, 11, 10));
        _finalize(taskId, 2, _scores4(1, 0, 0, 0), 11);
    }

    function test_finalizeRound_revertsWhenBudgetExceedsEscrowEvenIfScoresAreZero() public {
        uint256 taskId = _taskWithFourSubmissions(2);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskEscrowExceeded.selector, taskId, POOL + 1, POOL));
        _finalize(taskId, 1, _scores4(0, 0, 0, 0), POOL + 1);
    }

    function test_finalizeRound_revertsWhenNewModelHashZero() public {
        uint256 taskId = _taskWithFourSubmissions(2);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskInvalidConfig.selector, "modelHash"));
        vm.prank(coordinator);
        fedTask.finalizeRound(taskId, 1, "m", bytes32(0), EVIDENCE_CID, _scores4(1, 1, 1, 1), 1);
    }

    function test_finalizeRound_checksCallerBeforeRound() public {
        uint256 taskId = _taskWithFourSubmissions(1);
        _finalize(taskId, 1, _scores4(1, 1, 1, 1), 100);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskNotCoordinator.selector, taskId, stranger));
        vm.prank(stranger);
        fedTask.finalizeRound(taskId, 1, "m", MODEL_HASH, EVIDENCE_CID, new uint256[](0), POOL * 2);
    }

    function test_finalizeRound_checksScoresBeforeBudget() public {
        uint256 taskId = _createTask(1, 2);
        _joinAll(taskId, _two(alice, bob));
        _openRound(taskId, 1);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskScoreWithoutUpdate.selector, taskId, uint32(1), alice));
        _finalize(taskId, 1, _scores2(1, 0), POOL * 2);
    }

    // ------------------------------------------------------------------ claimRewards

    function test_claimRewards_paysEverythingOwedAndEmits() public {
        uint256 taskId = _taskWithFourSubmissions(2);
        _finalize(taskId, 1, _scores4(1, 2, 3, 4), 100e18);

        vm.expectEmit(true, true, true, true, address(fedTask));
        emit IFedTask.RewardsClaimed(carol, 30e18);
        vm.prank(carol);
        uint256 amount = fedTask.claimRewards();

        vm.assertEq(amount, 30e18, "returned amount");
        vm.assertEq(token.balanceOf(carol), 30e18, "paid");
        vm.assertEq(fedTask.owed(carol), 0, "balance zeroed");
        vm.assertEq(token.balanceOf(address(fedTask)), POOL - 30e18, "left the escrow contract");
    }

    function test_claimRewards_revertsWhenNothingOwed() public {
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskNothingToClaim.selector, stranger));
        vm.prank(stranger);
        fedTask.claimRewards();
    }

    function test_claimRewards_revertsWhenClaimedTwice() public {
        uint256 taskId = _taskWithFourSubmissions(2);
        _finalize(taskId, 1, _scores4(1, 1, 1, 1), 100);
        vm.prank(alice);
        fedTask.claimRewards();
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskNothingToClaim.selector, alice));
        vm.prank(alice);
        fedTask.claimRewards();
    }

    // ------------------------------------------------------------------ withdrawRemainder

    function test_withdrawRemainder_paysRemainderToSponsorAndEmits() public {
        uint256 taskId = _taskWithFourSubmissions(1);
        _finalize(taskId, 1, _scores4(1, 1, 1, 1), 400e18);

        vm.expectEmit(true, true, true, true, address(fedTask));
        emit IFedTask.RemainderWithdrawn(taskId, sponsor, POOL - 400e18);
        vm.prank(sponsor);
        fedTask.withdrawRemainder(taskId);

        vm.assertEq(fedTask.getTask(taskId).escrow, 0, "escrow emptied");
        vm.assertEq(token.balanceOf(sponsor), SPONSOR_FUNDS - 400e18, "sponsor got the rest");
        vm.assertEq(token.balanceOf(address(fedTask)), 400e18, "owed rewards stay");
    }

    function test_withdrawRemainder_revertsWhenTaskUnknown() public {
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskUnknown.selector, 4));
        vm.prank(sponsor);
        fedTask.withdrawRemainder(4);
    }

    function test_withdrawRemainder_revertsWhenNotSponsor() public {
        uint256 taskId = _taskWithFourSubmissions(1);
        _finalize(taskId, 1, _scores4(1, 1, 1, 1), 100);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskNotSponsor.selector, taskId, coordinator));
        vm.prank(coordinator);
        fedTask.withdrawRemainder(taskId);
    }

    function test_withdrawRemainder_revertsWhenJoining() public {
        uint256 taskId = _createTask(1, 1);
        vm.expectRevert(_statusError(IFedTask.TaskNotFinished.selector, taskId, IFedTask.TaskStatus.Joining));
        vm.prank(sponsor);
        fedTask.withdrawRemainder(taskId);
    }

    function test_withdrawRemainder_revertsWhenTraining() public {
        uint256 taskId = _taskWithFourSubmissions(2);
        _finalize(taskId, 1, _scores4(1, 1, 1, 1), 100);
        vm.expectRevert(_statusError(IFedTask.TaskNotFinished.selector, taskId, IFedTask.TaskStatus.Training));
        vm.prank(sponsor);
        fedTask.withdrawRemainder(taskId);
    }

    function test_withdrawRemainder_revertsWhenCancelled() public {
        uint256 taskId = _createTask(1, 1);
        vm.prank(sponsor);
        fedTask.cancelTask(taskId);
        vm.expectRevert(_statusError(IFedTask.TaskNotFinished.selector, taskId, IFedTask.TaskStatus.Cancelled));
        vm.prank(sponsor);
        fedTask.withdrawRemainder(taskId);
    }

    function test_withdrawRemainder_revertsWhenBudgetSpentTheWholePool() public {
        uint256 taskId = _taskWithFourSubmissions(1);
        _finalize(taskId, 1, _scores4(1, 1, 1, 1), POOL);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskNothingToClaim.selector, sponsor));
        vm.prank(sponsor);
        fedTask.withdrawRemainder(taskId);
    }

    function test_withdrawRemainder_revertsWhenWithdrawnTwice() public {
        uint256 taskId = _taskWithFourSubmissions(1);
        _finalize(taskId, 1, _scores4(1, 1, 1, 1), 100);
        vm.prank(sponsor);
        fedTask.withdrawRemainder(taskId);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskNothingToClaim.selector, sponsor));
        vm.prank(sponsor);
        fedTask.withdrawRemainder(taskId);
    }

    // ------------------------------------------------------------------ views

    function test_getTask_revertsWhenUnknown() public {
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskUnknown.selector, 0));
        fedTask.getTask(0);
        _createTask(1, 1);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskUnknown.selector, 2));
        fedTask.getTask(2);
    }

    function test_getParticipants_revertsWhenUnknown() public {
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskUnknown.selector, 1));
        fedTask.getParticipants(1);
    }

    function test_getUpdate_returnsZeroesWhenNothingSubmitted() public view {
        (bytes32 updateHash, uint64 samples, bool submitted) = fedTask.getUpdate(1, 1, alice);
        vm.assertEq(updateHash, bytes32(0), "hash");
        vm.assertEq(samples, 0, "samples");
        vm.assertFalse(submitted, "submitted");
    }

    function test_isParticipant_isFalseForUnknownTask() public view {
        vm.assertFalse(fedTask.isParticipant(42, alice), "unknown task");
    }

    function test_owed_isZeroForFreshAccount() public view {
        vm.assertEq(fedTask.owed(stranger), 0, "nothing owed");
    }

    // ------------------------------------------------------------------ full lifecycle

    function test_lifecycle_balanceEqualsEscrowPlusOwedThroughout() public {
        uint256 taskId = _taskWithFourSubmissions(2);
        _assertSolvent(taskId);
        _finalize(taskId, 1, _scores4(3, 1, 0, 7), 123_456_789);
        _assertSolvent(taskId);
        vm.prank(dave);
        fedTask.claimRewards();
        _assertSolvent(taskId);
        _openRound(taskId, 2);
        _submit(taskId, 2, carol);
        _finalize(taskId, 2, _scores4(0, 0, 5, 0), 1e18);
        _assertSolvent(taskId);
        vm.prank(sponsor);
        fedTask.withdrawRemainder(taskId);
        _assertSolvent(taskId);
        vm.assertEq(
            token.balanceOf(alice) + token.balanceOf(bob) + token.balanceOf(carol) + token.balanceOf(dave)
                + fedTask.owed(alice) + fedTask.owed(bob) + fedTask.owed(carol) + fedTask.owed(dave),
            123_456_789 + 1e18,
            "participants got exactly the budgets"
        );
    }

    function _assertSolvent(uint256 taskId) private view {
        uint256 owedTotal = fedTask.owed(alice) + fedTask.owed(bob) + fedTask.owed(carol) + fedTask.owed(dave);
        vm.assertEq(
            token.balanceOf(address(fedTask)), fedTask.getTask(taskId).escrow + owedTotal, "balance == escrow + owed"
        );
    }
}
