// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

import {ChallengeCourt} from "../ChallengeCourt.sol";
import {FedTask} from "../FedTask.sol";
import {IChallengeCourt} from "../interfaces/IChallengeCourt.sol";
import {IFedTask} from "../interfaces/IFedTask.sol";
import {FalseReturnToken} from "./mocks/FalseReturnToken.sol";
import {FeeOnTransferToken} from "./mocks/FeeOnTransferToken.sol";
import {Merkle} from "./utils/Merkle.sol";
import {Test} from "./utils/Test.sol";

/**
 * @notice Hostile tokens: one that returns `false` instead of reverting cannot make FedTask lose track of funds
 * (SafeERC20), and one that takes a fee on transfer can never inflate an escrow, a stake or a bond (every
 * intake is credited as received).
 */
contract FedTaskTokensTest is Test {
    uint256 private constant POOL = 10_000;

    address private sponsor;
    address private coordinator;
    address private alice;
    address private bob;

    function setUp() public {
        sponsor = makeAddr("sponsor");
        coordinator = makeAddr("coordinator");
        alice = makeAddr("alice");
        bob = makeAddr("bob");
    }

    // ------------------------------------------------------------------ false-returning token

    function test_createTask_revertsWhenTransferFromReturnsFalse() public {
        FalseReturnToken token = new FalseReturnToken();
        FedTask fedTask = new FedTask(token, address(this));
        _fund(address(token), address(fedTask));
        token.setFailing(true);
        vm.expectRevert(abi.encodeWithSelector(SafeERC20.SafeERC20FailedOperation.selector, address(token)));
        vm.prank(sponsor);
        fedTask.createTask(_config(1));
        vm.assertEq(fedTask.taskCount(), 0, "no task recorded");
    }

    function test_claimRewards_revertsAndRecordsNothingWhenTransferReturnsFalse() public {
        FalseReturnToken token = new FalseReturnToken();
        FedTask fedTask = new FedTask(token, address(this));
        _fund(address(token), address(fedTask));
        uint256 taskId = _finalisedTask(fedTask);
        token.setFailing(true);
        bytes32[] memory proof = Merkle.proof(_leaves(taskId), 0);
        vm.expectRevert(abi.encodeWithSelector(SafeERC20.SafeERC20FailedOperation.selector, address(token)));
        vm.prank(alice);
        fedTask.claimRewards(taskId, 1, 400, proof);
        vm.assertFalse(fedTask.hasClaimed(taskId, 1, alice), "not recorded");
        vm.assertEq(fedTask.getRound(taskId, 1).claimed, 0, "nothing claimed");
        token.setFailing(false);
        vm.prank(alice);
        fedTask.claimRewards(taskId, 1, 400, proof);
        vm.assertEq(token.balanceOf(alice), 10 * POOL - 100 + 400, "paid later");
    }

    function test_cancelTask_revertsAndKeepsTheEscrowWhenTransferReturnsFalse() public {
        FalseReturnToken token = new FalseReturnToken();
        FedTask fedTask = new FedTask(token, address(this));
        _fund(address(token), address(fedTask));
        vm.prank(sponsor);
        uint256 taskId = fedTask.createTask(_config(1));
        token.setFailing(true);
        vm.expectRevert(abi.encodeWithSelector(SafeERC20.SafeERC20FailedOperation.selector, address(token)));
        vm.prank(sponsor);
        fedTask.cancelTask(taskId);
        vm.assertEq(fedTask.getTask(taskId).unallocated, POOL, "still escrowed");
    }

    // ------------------------------------------------------------------ fee-on-transfer token

    function test_intake_isCreditedAsReceived() public {
        FeeOnTransferToken token = new FeeOnTransferToken();
        FedTask fedTask = new FedTask(token, address(this));
        _fund(address(token), address(fedTask));
        token.setFeeBps(100);

        vm.expectEmit(true, true, true, true, address(fedTask));
        emit IFedTask.TaskCreated(1, sponsor, coordinator, 9_900, 1, 4, "spec", keccak256("spec"));
        vm.prank(sponsor);
        uint256 taskId = fedTask.createTask(_config(1));
        vm.assertEq(fedTask.getTask(taskId).pool, 9_900, "pool as received");
        vm.assertEq(fedTask.getTask(taskId).unallocated, 9_900, "escrow as received");

        vm.prank(alice);
        fedTask.joinTask(taskId, 0, "");
        vm.assertEq(fedTask.stakeOf(taskId, alice), 99, "stake as received");
        vm.prank(coordinator);
        fedTask.stakeAsCoordinator(taskId);
        vm.assertEq(fedTask.stakeOf(taskId, coordinator), 99, "coordinator stake as received");
        vm.assertEq(token.balanceOf(address(fedTask)), 9_900 + 99 + 99, "balance == credits");
    }

    function test_createTask_revertsWhenNothingArrives() public {
        FeeOnTransferToken token = new FeeOnTransferToken();
        FedTask fedTask = new FedTask(token, address(this));
        _fund(address(token), address(fedTask));
        token.setFeeBps(10_000);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskInvalidConfig.selector, "pool"));
        vm.prank(sponsor);
        fedTask.createTask(_config(1));
    }

    function test_court_creditsStakesAndBondsAsReceived() public {
        FeeOnTransferToken token = new FeeOnTransferToken();
        FedTask fedTask = new FedTask(token, address(this));
        ChallengeCourt court = new ChallengeCourt(token, fedTask, address(this), 1_000, 100, 1 days, 1 days);
        fedTask.grantRole(fedTask.COURT_ROLE(), address(court));
        _fund(address(token), address(fedTask));
        _fundFor(address(token), address(court));
        token.setFeeBps(100);

        address validator = makeAddr("validator");
        token.mint(validator, 10_000);
        vm.prank(validator);
        token.approve(address(court), type(uint256).max);
        vm.expectRevert(abi.encodeWithSelector(IChallengeCourt.CourtStakeTooLow.selector, 990, 1_000));
        vm.prank(validator);
        court.registerValidator(1_000);
        vm.prank(validator);
        court.registerValidator(2_000);
        vm.assertEq(court.getValidator(validator).stake, 1_980, "stake as received");

        uint256 taskId = _finalisedTaskNoWait(fedTask);
        vm.prank(alice);
        uint256 id = court.challenge(taskId, 1, bob, "e", bytes32(0), "");
        vm.assertEq(court.getChallenge(id).bond, 99, "bond as received");
        vm.assertEq(
            token.balanceOf(address(court)),
            court.totalValidatorStake() + court.bondsHeld() + court.totalOwed(),
            "court balance == credits"
        );
    }

    // ------------------------------------------------------------------ helpers

    function _fund(address token, address fedTask) private {
        address[4] memory accounts = [sponsor, coordinator, alice, bob];
        for (uint256 i = 0; i < accounts.length; ++i) {
            FalseReturnToken(token).mint(accounts[i], 10 * POOL);
            vm.prank(accounts[i]);
            FalseReturnToken(token).approve(fedTask, type(uint256).max);
        }
    }

    function _fundFor(address token, address spender) private {
        address[4] memory accounts = [sponsor, coordinator, alice, bob];
        for (uint256 i = 0; i < accounts.length; ++i) {
            vm.prank(accounts[i]);
            FalseReturnToken(token).approve(spender, type(uint256).max);
        }
    }

    function _config(uint32 rounds) private view returns (IFedTask.TaskConfig memory) {
        return
            IFedTask.TaskConfig({
                specCid: "spec",
                specHash: keccak256("spec"),
                coordinator: coordinator,
                pool: POOL,
                totalRounds: rounds,
                maxParticipants: 4,
                quorum: 1,
                participantStake: 100,
                coordinatorStake: 100,
                slashBps: 1_000,
                permissioned: false,
                schedule: IFedTask.Schedule(1 days, 1 hours, 0, 1 hours, 1 days, 1 days, 1 days, 1 days, 1 days)
            });
    }

    /// @dev A one-round task with alice and bob, finalised (alice 400, bob 200), inside its window.
    function _finalisedTaskNoWait(FedTask fedTask) private returns (uint256 taskId) {
        vm.prank(sponsor);
        taskId = fedTask.createTask(_config(1));
        vm.prank(alice);
        fedTask.joinTask(taskId, 0, "");
        vm.prank(bob);
        fedTask.joinTask(taskId, 0, "");
        vm.startPrank(coordinator);
        fedTask.stakeAsCoordinator(taskId);
        fedTask.openRound(taskId, 1, "model", keccak256("model"));
        fedTask.commitBatch(taskId, 1, keccak256("batch"), 2, "batch");
        vm.stopPrank();
        vm.warp(fedTask.getRound(taskId, 1).revealDeadline);
        IFedTask.Finalization memory f;
        f.newModelCid = "model-1";
        f.newModelHash = keccak256("model-1");
        f.evidenceCid = "evidence";
        f.rewardsRoot = Merkle.root(_leaves(taskId));
        f.budget = 600;
        f.accepted = 2;
        f.flagged = new address[](0);
        f.shares = hex"13881388";
        vm.prank(coordinator);
        fedTask.finalizeRound(taskId, 1, f);
    }

    function _finalisedTask(FedTask fedTask) private returns (uint256 taskId) {
        taskId = _finalisedTaskNoWait(fedTask);
        vm.warp(fedTask.getRound(taskId, 1).claimableAt);
    }

    function _leaves(uint256 taskId) private view returns (bytes32[] memory leaves) {
        leaves = new bytes32[](2);
        leaves[0] = Merkle.rewardLeaf(taskId, 1, alice, 400);
        leaves[1] = Merkle.rewardLeaf(taskId, 1, bob, 200);
    }
}
