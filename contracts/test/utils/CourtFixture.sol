// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IFedTask} from "../../interfaces/IFedTask.sol";
import {FedTaskFixture} from "./FedTaskFixture.sol";
import {Merkle} from "./Merkle.sol";

/**
 * @title CourtFixture
 * @notice {FedTaskFixture} plus four registered validators and a task whose round 1 is finalised and inside
 * its challenge window, for the court tests.
 */
abstract contract CourtFixture is FedTaskFixture {
    uint256 internal constant STAKE_1 = 100e18;
    uint256 internal constant STAKE_2 = 100e18;
    uint256 internal constant STAKE_3 = 100e18;
    uint256 internal constant STAKE_4 = 50e18;
    uint256 internal constant COORDINATOR_SLASH = (COORDINATOR_STAKE * SLASH_BPS) / 10_000;
    uint256 internal constant PARTICIPANT_SLASH = (PARTICIPANT_STAKE * SLASH_BPS) / 10_000;

    address internal v1;
    address internal v2;
    address internal v3;
    address internal v4;
    uint256 internal taskId;

    function setUp() public virtual override {
        super.setUp();
        v1 = makeAddr("validator-1");
        v2 = makeAddr("validator-2");
        v3 = makeAddr("validator-3");
        v4 = makeAddr("validator-4");
        _register(v1, STAKE_1);
        _register(v2, STAKE_2);
        _register(v3, STAKE_3);
        _register(v4, STAKE_4);
        vm.warp(block.timestamp + 1);
        taskId = _started();
        _runRound(taskId, 1, _two(alice, bob), _amounts2(100e18, 50e18));
    }

    function _register(address validator, uint256 stake) internal {
        _fund(validator);
        vm.prank(validator);
        court.registerValidator(stake);
    }

    /// @dev alice disputes the coordinator's verdict on round 1 (corrected: bob 100, alice 50).
    function _challengeCoordinator() internal returns (uint256 id) {
        vm.prank(alice);
        id = court.challenge(taskId, 1, address(0), "bafkreichallenge", _correctedRoot(), "");
    }

    /// @dev alice accuses dave of malice in round 1.
    function _challengeDave() internal returns (uint256 id) {
        vm.prank(alice);
        id = court.challenge(taskId, 1, dave, "bafkreichallenge", bytes32(0), "");
    }

    function _correctedRoot() internal view returns (bytes32) {
        return Merkle.root(_rewardLeaves(taskId, 1, _two(bob, alice), _amounts2(100e18, 50e18)));
    }

    function _vote(uint256 id, address validator, uint16 upholdBps) internal {
        vm.prank(validator);
        court.vote(id, upholdBps, "bafkreiaudit");
    }

    /// @dev The court's accounting identity.
    function _assertCourtBalanced() internal view {
        vm.assertEq(
            token.balanceOf(address(court)),
            court.totalValidatorStake() + court.bondsHeld() + court.totalOwed(),
            "court balance == stakes + bonds + owed"
        );
    }

    /// @dev A one-round task with round 1 finalised and inside its window; returns its id.
    function _lastRoundTask() internal returns (uint256 id) {
        IFedTask.TaskConfig memory config = _config();
        config.totalRounds = 1;
        id = _create(config);
        _joinAll(id, _four());
        _stake(id);
        _open(id, 1);
        _runRound(id, 1, _two(alice, bob), _amounts2(10e18, 20e18));
    }
}
