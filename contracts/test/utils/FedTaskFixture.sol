// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {FedTask} from "../../FedTask.sol";
import {RewardToken} from "../../RewardToken.sol";
import {IFedTask} from "../../interfaces/IFedTask.sol";
import {Test} from "./Test.sol";

/**
 * @title FedTaskFixture
 * @notice Deployed token + escrow, named accounts and short helpers shared by the FedTask tests.
 */
abstract contract FedTaskFixture is Test {
    uint256 internal constant POOL = 1_000e18;
    uint256 internal constant SPONSOR_FUNDS = 100 * POOL;
    bytes32 internal constant SPEC_HASH = keccak256("spec.json");
    string internal constant SPEC_CID = "bafkreispec";
    bytes32 internal constant MODEL_HASH = keccak256("model-0");
    string internal constant MODEL_CID = "bafkreimodel0";
    string internal constant EVIDENCE_CID = "bafkreievidence";

    RewardToken internal token;
    FedTask internal fedTask;

    address internal sponsor;
    address internal coordinator;
    address internal alice;
    address internal bob;
    address internal carol;
    address internal dave;
    address internal stranger;

    /// @notice Deploys the contracts and funds the sponsor, who approves the escrow.
    function setUp() public virtual {
        sponsor = makeAddr("sponsor");
        coordinator = makeAddr("coordinator");
        alice = makeAddr("alice");
        bob = makeAddr("bob");
        carol = makeAddr("carol");
        dave = makeAddr("dave");
        stranger = makeAddr("stranger");

        token = new RewardToken(address(this), type(uint256).max);
        fedTask = new FedTask(token);
        token.mint(sponsor, SPONSOR_FUNDS);
        vm.prank(sponsor);
        token.approve(address(fedTask), type(uint256).max);
    }

    /// @dev Creates a task funded with {POOL} by the sponsor.
    function _createTask(uint32 totalRounds, uint32 maxParticipants) internal returns (uint256 taskId) {
        vm.prank(sponsor);
        taskId = fedTask.createTask(SPEC_CID, SPEC_HASH, coordinator, POOL, totalRounds, maxParticipants);
    }

    /// @dev Makes each account in `accounts` join `taskId`, in order.
    function _joinAll(uint256 taskId, address[] memory accounts) internal {
        for (uint256 i = 0; i < accounts.length; ++i) {
            vm.prank(accounts[i]);
            fedTask.joinTask(taskId);
        }
    }

    /// @dev Opens `round` as the coordinator with a model derived from the round number.
    function _openRound(uint256 taskId, uint32 round) internal {
        vm.prank(coordinator);
        fedTask.openRound(taskId, round, MODEL_CID, _modelHash(round - 1));
    }

    /// @dev Submits an update for `round` as `participant`.
    function _submit(uint256 taskId, uint32 round, address participant) internal {
        vm.prank(participant);
        fedTask.submitUpdate(taskId, round, _updateHash(participant, round), "bafkreiupdate", 100);
    }

    /// @dev Finalises `round` as the coordinator.
    function _finalize(uint256 taskId, uint32 round, uint256[] memory scores, uint256 budget) internal {
        vm.prank(coordinator);
        fedTask.finalizeRound(taskId, round, "bafkreinewmodel", _modelHash(round), EVIDENCE_CID, scores, budget);
    }

    /// @dev A task with alice, bob, carol and dave joined and round 1 open, every one of them submitted.
    function _taskWithFourSubmissions(uint32 totalRounds) internal returns (uint256 taskId) {
        taskId = _createTask(totalRounds, 4);
        _joinAll(taskId, _four());
        _openRound(taskId, 1);
        _submit(taskId, 1, alice);
        _submit(taskId, 1, bob);
        _submit(taskId, 1, carol);
        _submit(taskId, 1, dave);
    }

    function _modelHash(uint32 version) internal pure returns (bytes32) {
        return keccak256(abi.encode("model", version));
    }

    function _updateHash(address participant, uint32 round) internal pure returns (bytes32) {
        return keccak256(abi.encode("update", participant, round));
    }

    function _four() internal view returns (address[] memory accounts) {
        accounts = new address[](4);
        (accounts[0], accounts[1], accounts[2], accounts[3]) = (alice, bob, carol, dave);
    }

    function _one(address a) internal pure returns (address[] memory accounts) {
        accounts = new address[](1);
        accounts[0] = a;
    }

    function _two(address a, address b) internal pure returns (address[] memory accounts) {
        accounts = new address[](2);
        (accounts[0], accounts[1]) = (a, b);
    }

    function _scores1(uint256 a) internal pure returns (uint256[] memory scores) {
        scores = new uint256[](1);
        scores[0] = a;
    }

    function _scores2(uint256 a, uint256 b) internal pure returns (uint256[] memory scores) {
        scores = new uint256[](2);
        (scores[0], scores[1]) = (a, b);
    }

    function _scores4(uint256 a, uint256 b, uint256 c, uint256 d) internal pure returns (uint256[] memory scores) {
        scores = new uint256[](4);
        (scores[0], scores[1], scores[2], scores[3]) = (a, b, c, d);
    }

    /// @dev Revert data of a custom error with one `TaskStatus` argument after the task id.
    function _statusError(bytes4 selector, uint256 taskId, IFedTask.TaskStatus status)
        internal
        pure
        returns (bytes memory)
    {
        return abi.encodeWithSelector(selector, taskId, status);
    }
}
