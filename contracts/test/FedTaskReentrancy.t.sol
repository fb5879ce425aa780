// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {ChallengeCourt} from "../ChallengeCourt.sol";
import {FedTask} from "../FedTask.sol";
import {IChallengeCourt} from "../interfaces/IChallengeCourt.sol";
import {IFedTask} from "../interfaces/IFedTask.sol";
import {ReentrantToken} from "./mocks/ReentrantToken.sol";
import {Merkle} from "./utils/Merkle.sol";
import {Test} from "./utils/Test.sol";

/**
 * @notice Attack: a malicious token (or token receiver hook) calls back into FedTask or the court while they pay
 * out. Every payout is `nonReentrant` (the delegated ones too: the guard lives in FedTask's transient storage),
 * so the callback is rejected and the payout happens once.
 */
contract FedTaskReentrancyTest is Test {
    uint256 private constant POOL = 3_000;
    uint256 private constant STAKE = 100;

    ReentrantToken private token;
    FedTask private fedTask;
    ChallengeCourt private court;
    address private sponsor;
    address private coordinator;
    address private alice;
    address private bob;
    uint256 private taskId;

    function setUp() public {
        token = new ReentrantToken();
        fedTask = new FedTask(token, address(this));
        court = new ChallengeCourt(token, fedTask, address(this), 10, 10, 1 days, 1 days);
        fedTask.grantRole(fedTask.COURT_ROLE(), address(court));
        sponsor = makeAddr("sponsor");
        coordinator = makeAddr("coordinator");
        alice = makeAddr("alice");
        bob = makeAddr("bob");
        address[4] memory accounts = [sponsor, coordinator, alice, bob];
        for (uint256 i = 0; i < accounts.length; ++i) {
            token.mint(accounts[i], 10 * POOL);
            vm.startPrank(accounts[i]);
            token.approve(address(fedTask), type(uint256).max);
            token.approve(address(court), type(uint256).max);
            vm.stopPrank();
        }
        taskId = _task(1);
    }

    function test_claimRewards_rejectsReentrantCall() public {
        _finaliseRoundOne();
        bytes32[] memory proof = _proof(0);
        token.arm(address(fedTask), abi.encodeCall(IFedTask.claimRewards, (taskId, 1, 400, proof)));
        vm.prank(alice);
        fedTask.claimRewards(taskId, 1, 400, proof);
        _assertGuardTripped();
        vm.assertEq(fedTask.getRound(taskId, 1).claimed, 400, "paid once");
    }

    function test_claimMany_rejectsReentrantCall() public {
        _finaliseRoundOne();
        uint32[] memory rounds = new uint32[](1);
        rounds[0] = 1;
        uint256[] memory amounts = new uint256[](1);
        amounts[0] = 400;
        bytes32[][] memory proofs = new bytes32[][](1);
        proofs[0] = _proof(0);
        token.arm(address(fedTask), abi.encodeCall(IFedTask.claimMany, (taskId, rounds, amounts, proofs)));
        vm.prank(alice);
        fedTask.claimMany(taskId, rounds, amounts, proofs);
        _assertGuardTripped();
        vm.assertEq(fedTask.getRound(taskId, 1).claimed, 400, "paid once");
    }

    function test_withdrawStake_rejectsReentrantCall() public {
        vm.prank(sponsor);
        fedTask.cancelTask(taskId);
        token.arm(address(fedTask), abi.encodeCall(IFedTask.withdrawStake, (taskId)));
        vm.prank(alice);
        fedTask.withdrawStake(taskId);
        _assertGuardTripped();
        vm.assertEq(fedTask.stakeOf(taskId, alice), 0, "paid once");
        vm.assertEq(token.balanceOf(address(fedTask)), 2 * STAKE, "bob's and the coordinator's stakes left");
    }

    function test_cancelTask_rejectsReentrantCall() public {
        token.arm(address(fedTask), abi.encodeCall(IFedTask.cancelTask, (taskId)));
        vm.prank(sponsor);
        fedTask.cancelTask(taskId);
        _assertGuardTripped();
        vm.assertEq(token.balanceOf(address(fedTask)), 3 * STAKE, "refunded once, stakes left");
    }

    function test_abortTask_rejectsReentrantCall() public {
        vm.warp(block.timestamp + 1 days);
        token.arm(address(fedTask), abi.encodeCall(IFedTask.withdrawRemainder, (taskId)));
        vm.prank(sponsor);
        fedTask.abortTask(taskId);
        _assertGuardTripped();
        vm.assertEq(fedTask.getTask(taskId).refunded, POOL + STAKE / 2, "refunded once (pool + stall slash)");
    }

    function test_withdrawRemainder_rejectsReentrantCall() public {
        uint256 oneRound = _task(1);
        _open(oneRound);
        _finalise(oneRound, true);
        token.arm(address(fedTask), abi.encodeCall(IFedTask.withdrawRemainder, (oneRound)));
        vm.prank(sponsor);
        fedTask.withdrawRemainder(oneRound);
        _assertGuardTripped();
        vm.assertEq(fedTask.getTask(oneRound).refunded, POOL - 600, "paid once");
    }

    function test_resolveDispute_rejectsReentrantCallThroughTheCourt() public {
        _open(taskId);
        _finalise(taskId, false);
        address validator = makeAddr("validator");
        token.mint(validator, 1_000);
        vm.startPrank(validator);
        token.approve(address(court), type(uint256).max);
        vm.warp(block.timestamp - 1);
        court.registerValidator(100);
        vm.stopPrank();
        vm.warp(block.timestamp + 1);
        vm.prank(alice);
        uint256 id = court.challenge(taskId, 1, address(0), "e", keccak256("corrected"), "");
        vm.prank(validator);
        court.vote(id, 10_000, "audit");
        // The coordinator's slash leaves FedTask for the court: the token calls back into the court.
        token.arm(address(fedTask), abi.encodeCall(IChallengeCourt.resolve, (id)));
        court.resolve(id);
        vm.assertTrue(token.attempted(), "callback ran");
        vm.assertFalse(token.reentered(), "callback rejected");
        vm.assertEq(court.totalOwed(), 10 + 50, "bond + the 50 % slashed paid once");

        token.arm(address(court), abi.encodeCall(IChallengeCourt.withdraw, ()));
        vm.prank(alice);
        court.withdraw();
        _assertGuardTripped();
        vm.assertEq(court.balanceOf(alice), 0, "withdrawn once");
    }

    function _task(uint32 rounds) private returns (uint256 id) {
        IFedTask.TaskConfig memory config = IFedTask.TaskConfig({
            specCid: "spec",
            specHash: keccak256("spec"),
            coordinator: coordinator,
            pool: POOL,
            totalRounds: rounds,
            maxParticipants: 4,
            quorum: 1,
            participantStake: STAKE,
            coordinatorStake: STAKE,
            slashBps: 5_000,
            permissioned: false,
            schedule: IFedTask.Schedule(1 days, 1 hours, 0, 1 hours, 1 days, 1 days, 1 days, 1 days, 1 days)
        });
        vm.prank(sponsor);
        id = fedTask.createTask(config);
        vm.prank(alice);
        fedTask.joinTask(id, 0, "");
        vm.prank(bob);
        fedTask.joinTask(id, 0, "");
        vm.prank(coordinator);
        fedTask.stakeAsCoordinator(id);
    }

    function _open(uint256 id) private {
        vm.prank(coordinator);
        fedTask.openRound(id, 1, "model", keccak256("model"));
        vm.prank(coordinator);
        fedTask.commitBatch(id, 1, keccak256("batch"), 2, "batch");
    }

    /// @dev Finalises round 1 of `id` paying alice 400 and bob 200, then (optionally) waits for the window.
    function _finalise(uint256 id, bool wait) private {
        vm.warp(fedTask.getRound(id, 1).revealDeadline);
        IFedTask.Finalization memory f;
        f.newModelCid = "model-1";
        f.newModelHash = keccak256("model-1");
        f.evidenceCid = "evidence";
        f.rewardsRoot = Merkle.root(_leaves(id));
        f.budget = 600;
        f.accepted = 2;
        f.flagged = new address[](0);
        if (fedTask.getTask(id).totalRounds == 1) f.shares = hex"13881388";
        vm.prank(coordinator);
        fedTask.finalizeRound(id, 1, f);
        if (wait) vm.warp(fedTask.getRound(id, 1).claimableAt);
    }

    function _finaliseRoundOne() private {
        _open(taskId);
        _finalise(taskId, true);
    }

    function _leaves(uint256 id) private view returns (bytes32[] memory leaves) {
        leaves = new bytes32[](2);
        leaves[0] = Merkle.rewardLeaf(id, 1, alice, 400);
        leaves[1] = Merkle.rewardLeaf(id, 1, bob, 200);
    }

    function _proof(uint256 index) private view returns (bytes32[] memory) {
        return Merkle.proof(_leaves(taskId), index);
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
