// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";

import {IChallengeCourt} from "../interfaces/IChallengeCourt.sol";
import {IFedTask} from "../interfaces/IFedTask.sol";
import {CourtFixture} from "./utils/CourtFixture.sol";
import {Merkle} from "./utils/Merkle.sol";

/**
 * @notice The attacks of docs/protocol-v2-spec.md ("Must-show tests") that concern FedTask and the court, each
 * stopped by its named error (reentrancy through a malicious token: FedTaskReentrancy.t.sol).
 */
contract FedTaskAttacksTest is CourtFixture {
    uint256 private constant TEN_YEARS = 3_650 days;

    // ------------------------------------------------------------------ locked funds

    function test_attack_lockedFunds_anyoneAbortsAStalledTaskEvenAfterTenYears() public {
        // The coordinator vanishes after round 1: nobody opens round 2.
        uint64 deadline = fedTask.getTask(taskId).deadline;
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskNotAbortable.selector, taskId, deadline + ABORT_GRACE));
        vm.prank(stranger);
        fedTask.abortTask(taskId);

        vm.warp(block.timestamp + TEN_YEARS);
        uint256 sponsorBefore = token.balanceOf(sponsor);
        vm.prank(stranger);
        fedTask.abortTask(taskId);
        uint256 slash = (COORDINATOR_STAKE * SLASH_BPS) / 10_000;
        vm.assertEq(token.balanceOf(sponsor) - sponsorBefore, POOL - 150e18 + slash, "sponsor: the unspent escrow");

        // Everything else comes out too: the finalised round's rewards and every stake.
        _claim(taskId, 1, _two(alice, bob), _amounts2(100e18, 50e18), 0);
        _claim(taskId, 1, _two(alice, bob), _amounts2(100e18, 50e18), 1);
        vm.warp(block.timestamp + STAKE_COOLDOWN);
        address[] memory stakers = _four();
        for (uint256 i = 0; i < stakers.length; ++i) {
            vm.prank(stakers[i]);
            fedTask.withdrawStake(taskId);
        }
        vm.prank(coordinator);
        fedTask.withdrawStake(taskId);
        vm.assertEq(token.balanceOf(address(fedTask)), 0, "nothing locked");
    }

    function test_attack_lockedFunds_aCompletedTasksRemainderAndRewardsStayPayable() public {
        uint256 last = _lastRoundTask();
        vm.warp(block.timestamp + TEN_YEARS);
        vm.prank(sponsor);
        fedTask.withdrawRemainder(last);
        _claim(last, 1, _two(alice, bob), _amounts2(10e18, 20e18), 1);
        vm.prank(bob);
        fedTask.withdrawStake(last);
        vm.assertEq(fedTask.getTask(last).unallocated, 0, "remainder paid");
    }

    // ------------------------------------------------------------------ self-paying coordinator

    function test_attack_selfPayingCoordinator_cannotJoinItsOwnTask() public {
        uint256 other = _create();
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskRoleConflict.selector, other, coordinator));
        _join(other, coordinator);
    }

    function test_attack_selfPayingCoordinator_cannotBeTheSponsor() public {
        IFedTask.TaskConfig memory config = _config();
        config.coordinator = sponsor;
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskInvalidConfig.selector, "coordinator"));
        vm.prank(sponsor);
        fedTask.createTask(config);
    }

    function test_attack_selfPayingCoordinator_cannotExceedTheRoundCap() public {
        _open(taskId, 2);
        _batch(taskId, 2, 4);
        _toRevealDeadline(taskId, 2);
        uint256 cap = fedTask.roundCap(taskId, 2);
        vm.assertEq(cap, (POOL - 150e18) / 2, "an equal share of what is left");
        IFedTask.Finalization memory f = _finalization(taskId, 2, _one(alice), _single(POOL - 150e18));
        vm.expectRevert(
            abi.encodeWithSelector(IFedTask.TaskBudgetExceeded.selector, taskId, uint32(2), POOL - 150e18, cap)
        );
        _finalize(taskId, 2, f);
    }

    function test_attack_selfPayingCoordinator_cannotClaimALeafOfItsOwn() public {
        _open(taskId, 2);
        _runRound(taskId, 2, _two(alice, coordinator), _amounts2(1e18, 100e18));
        _toClaimable(taskId, 2);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskNotParticipant.selector, taskId, coordinator));
        _claim(taskId, 2, _two(alice, coordinator), _amounts2(1e18, 100e18), 1);
    }

    // ------------------------------------------------------------------ sybil fill

    function test_attack_sybilFill_permissionedTaskRefusesUninvitedAccounts() public {
        IFedTask.TaskConfig memory config = _config();
        config.permissioned = true;
        uint256 other = _create(config);
        address[] memory sybils = _accounts("sybil", 3);
        for (uint256 i = 0; i < sybils.length; ++i) {
            vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskNotInvited.selector, other, sybils[i]));
            _join(other, sybils[i]);
        }
        vm.assertEq(fedTask.getTask(other).participantCount, 0, "nobody got in");
    }

    function test_attack_sybilFill_openTaskCostsAStakePerSeatAndThenRefusesEveryone() public {
        IFedTask.TaskConfig memory config = _config();
        config.maxParticipants = 8;
        uint256 other = _create(config);
        address[] memory sybils = _accounts("sybil", 8);
        uint256 held = token.balanceOf(address(fedTask));
        _joinAll(other, sybils);
        vm.assertEq(token.balanceOf(address(fedTask)) - held, 8 * PARTICIPANT_STAKE, "8 seats, 8 stakes locked");
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskFull.selector, other, uint32(8)));
        _join(other, erin);
        // The sponsor sees the fill and cancels; the sybils' stakes were locked for nothing.
        vm.prank(sponsor);
        fedTask.cancelTask(other);
    }

    function test_attack_sybilFill_idleSybilsAreFlaggedAndSlashed() public {
        _open(taskId, 2);
        _batch(taskId, 2, 2);
        _toRevealDeadline(taskId, 2);
        IFedTask.Finalization memory f = _finalization(taskId, 2, _two(alice, bob), _amounts2(1e18, 1e18));
        f.flagged = _two(carol, dave);
        _finalize(taskId, 2, f);
        _toClaimable(taskId, 2);
        fedTask.executeSlash(taskId, 2, carol);
        fedTask.executeSlash(taskId, 2, dave);
        vm.assertEq(fedTask.stakeOf(taskId, carol), PARTICIPANT_STAKE - PARTICIPANT_SLASH, "carol slashed");
    }

    // ------------------------------------------------------------------ timing and copying

    function test_attack_sameBlockFinalise_revertsTaskTooEarly() public {
        _open(taskId, 2);
        _batch(taskId, 2, 4);
        IFedTask.Finalization memory f = _finalization(taskId, 2, _two(alice, bob), _amounts2(1, 1));
        uint64 revealDeadline = fedTask.getRound(taskId, 2).revealDeadline;
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskTooEarly.selector, taskId, uint32(2), revealDeadline));
        _finalize(taskId, 2, f);
    }

    function test_attack_copiedUpdateHash_revertsTaskUpdateHashTaken() public {
        _open(taskId, 2);
        bytes32 aliceUpdate = keccak256("alice's round-2 update bytes");
        vm.prank(alice);
        fedTask.commitUpdate(taskId, 2, aliceUpdate, 500, "bafkreiupdate");
        vm.expectRevert(
            abi.encodeWithSelector(IFedTask.TaskUpdateHashTaken.selector, taskId, uint32(2), aliceUpdate, alice)
        );
        vm.prank(bob);
        fedTask.commitUpdate(taskId, 2, aliceUpdate, 500, "bafkreiupdate");
    }

    function test_attack_anchoringForAnotherParticipant_onlyTheCoordinatorAnchorsBatches() public {
        _open(taskId, 2);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskNotCoordinator.selector, taskId, bob));
        vm.prank(bob);
        fedTask.commitBatch(taskId, 2, keccak256("bob's batch with a leaf for alice"), 1, BATCH_CID);
    }

    function test_attack_anchoringForAnotherParticipant_directCommitsBindTheSender() public {
        _open(taskId, 2);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskNotParticipant.selector, taskId, stranger));
        vm.prank(stranger);
        fedTask.commitUpdate(taskId, 2, keccak256("for alice"), 1, "bafkreiupdate");
        vm.prank(bob);
        fedTask.commitUpdate(taskId, 2, keccak256("bob says this is alice's"), 1, "bafkreiupdate");
        (bytes32 aliceHash, ) = fedTask.commitmentOf(taskId, 2, alice);
        vm.assertEq(aliceHash, bytes32(0), "nothing recorded for alice");
        // A batch leaf binds its participant: the same update under another name is another leaf.
        bytes32 update = keccak256("update");
        vm.assertNotEq(
            Merkle.commitmentLeaf(taskId, 2, alice, update, 1),
            Merkle.commitmentLeaf(taskId, 2, bob, update, 1),
            "leaves differ"
        );
    }

    // ------------------------------------------------------------------ claims and roles

    function test_attack_forgedClaimProof_revertsTaskInvalidProof() public {
        _toClaimable(taskId, 1);
        // carol is no leaf: she reuses bob's proof, then fabricates one.
        bytes32[] memory proof = Merkle.proof(_rewardLeaves(taskId, 1, _two(alice, bob), _amounts2(100e18, 50e18)), 1);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskInvalidProof.selector, taskId, uint32(1), carol, 50e18));
        vm.prank(carol);
        fedTask.claimRewards(taskId, 1, 50e18, proof);
        proof[0] = keccak256("fabricated");
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskInvalidProof.selector, taskId, uint32(1), carol, 1e18));
        vm.prank(carol);
        fedTask.claimRewards(taskId, 1, 1e18, proof);
    }

    function test_attack_slashingWithoutTheRole_reverts() public {
        bytes32 role = fedTask.COURT_ROLE();
        address[3] memory attackers = [sponsor, coordinator, alice];
        for (uint256 i = 0; i < attackers.length; ++i) {
            bytes memory expected = abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector,
                attackers[i],
                role
            );
            vm.expectRevert(expected);
            vm.prank(attackers[i]);
            fedTask.slashParticipant(taskId, bob, 10_000);
            vm.expectRevert(expected);
            vm.prank(attackers[i]);
            fedTask.openDispute(taskId, 1);
            vm.expectRevert(expected);
            vm.prank(attackers[i]);
            fedTask.resolveDispute(taskId, 1, true, bytes32(0), "");
        }
        vm.assertEq(fedTask.stakeOf(taskId, bob), PARTICIPANT_STAKE, "bob untouched");
    }

    function test_attack_frivolousChallenge_losesItsBond() public {
        uint256 before = token.balanceOf(carol);
        vm.prank(carol);
        uint256 id = court.challenge(taskId, 1, address(0), "bafkreinonsense", keccak256("carol pays carol"), "");
        _vote(id, v1, 0);
        _vote(id, v2, 500);
        _vote(id, v3, 0);
        _vote(id, v4, 1_000);
        court.resolve(id);

        vm.assertEq(uint256(court.getChallenge(id).status), uint256(IChallengeCourt.ChallengeStatus.Rejected), "no");
        vm.assertEq(court.balanceOf(carol), 0, "nothing back");
        vm.expectRevert(abi.encodeWithSelector(IChallengeCourt.CourtNothingToWithdraw.selector, carol));
        vm.prank(carol);
        court.withdraw();
        vm.assertEq(before - token.balanceOf(carol), CHALLENGE_BOND, "bond lost");
        vm.assertEq(
            court.balanceOf(v1) + court.balanceOf(v2) + court.balanceOf(v3) + court.balanceOf(v4),
            CHALLENGE_BOND,
            "the jury shares it"
        );
        vm.assertEq(fedTask.getRound(taskId, 1).rewardsRoot, _root1(), "root kept");
    }

    function _root1() private view returns (bytes32) {
        return Merkle.root(_rewardLeaves(taskId, 1, _two(alice, bob), _amounts2(100e18, 50e18)));
    }

    function _single(uint256 amount) private pure returns (uint256[] memory amounts) {
        amounts = new uint256[](1);
        amounts[0] = amount;
    }
}
