// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IChallengeCourt} from "../interfaces/IChallengeCourt.sol";
import {FedTaskFixture} from "./utils/FedTaskFixture.sol";

/**
 * @notice Fuzz tests of the court's verdict arithmetic against a reference computed here: the turnout rule,
 * the stake-weighted median, trust, the challenger's reward and the validators' split. No wei is created or
 * lost: the challenger's and validators' credits add up to the bond plus the coordinator's slash.
 */
contract ChallengeCourtFuzzTest is FedTaskFixture {
    uint256 private constant MAX_VOTERS = 8;

    address[] private _validators;
    uint256[] private _stakes;
    uint16[] private _votes;
    bool[] private _voted;

    function testFuzz_resolve_matchesTheReference(uint256 seed, uint256 count, bool accuseDave) public {
        uint256 n = bound(count, 1, MAX_VOTERS);
        _registerValidators(seed, n);
        vm.warp(block.timestamp + 1);
        uint256 taskId = _started();
        _runRound(taskId, 1, _two(alice, bob), _amounts2(100e18, 50e18));
        vm.prank(alice);
        uint256 id = court.challenge(taskId, 1, accuseDave ? dave : address(0), "e", keccak256("fix"), "");
        uint256 votingStake = _castVotes(id, seed);
        vm.warp(block.timestamp + VOTING_PERIOD);
        uint256 activeStake = court.activeStake();
        uint256 owedBefore = court.totalOwed();
        uint256 daveStake = fedTask.stakeOf(taskId, dave);

        court.resolve(id);

        IChallengeCourt.ChallengeInfo memory c = court.getChallenge(id);
        if (votingStake == 0 || votingStake * 2 < activeStake) {
            vm.assertEq(uint256(c.status), uint256(IChallengeCourt.ChallengeStatus.Dismissed), "dismissed");
            vm.assertEq(court.balanceOf(alice), CHALLENGE_BOND, "bond back");
            return;
        }
        uint16 consensus = _referenceMedian(votingStake);
        vm.assertEq(c.consensusBps, consensus, "median == reference");
        bool upheld = consensus > 5_000;
        uint256 pot;
        uint256 challengerPaid;
        if (!upheld) {
            vm.assertEq(uint256(c.status), uint256(IChallengeCourt.ChallengeStatus.Rejected), "rejected");
            pot = CHALLENGE_BOND;
        } else if (accuseDave) {
            challengerPaid = CHALLENGE_BOND;
            vm.assertEq(
                fedTask.stakeOf(taskId, dave),
                daveStake - (daveStake * SLASH_BPS) / 10_000,
                "dave slashed by the task's slashBps"
            );
        } else {
            uint256 slashed = (COORDINATOR_STAKE * SLASH_BPS) / 10_000;
            challengerPaid = CHALLENGE_BOND + (slashed * 5_000) / 10_000;
            pot = slashed - (slashed * 5_000) / 10_000;
        }
        vm.assertEq(court.balanceOf(alice), challengerPaid, "challenger == reference");
        _assertSplit(consensus, pot);
        vm.assertEq(court.totalOwed() - owedBefore, challengerPaid + pot, "credits == bond (+ slash)");
        vm.assertEq(
            token.balanceOf(address(court)),
            court.totalValidatorStake() + court.bondsHeld() + court.totalOwed(),
            "court balance == stakes + bonds + owed"
        );
    }

    /// @dev Registers `n` validators with fuzzed stakes.
    function _registerValidators(uint256 seed, uint256 n) private {
        for (uint256 i = 0; i < n; ++i) {
            address validator = address(uint160(uint256(keccak256(abi.encode("validator", i)))));
            _fund(validator);
            uint256 stake = bound(uint256(keccak256(abi.encode(seed, "stake", i))), MIN_VALIDATOR_STAKE, FUNDS);
            vm.prank(validator);
            court.registerValidator(stake);
            _validators.push(validator);
            _stakes.push(stake);
        }
    }

    /// @dev Each validator votes a fuzzed confidence, or (one time in five) abstains.
    function _castVotes(uint256 id, uint256 seed) private returns (uint256 votingStake) {
        for (uint256 i = 0; i < _validators.length; ++i) {
            uint256 r = uint256(keccak256(abi.encode(seed, "vote", i)));
            bool votes = r % 5 != 0;
            uint16 upholdBps = uint16((r >> 8) % 10_001);
            _voted.push(votes);
            _votes.push(upholdBps);
            if (!votes) continue;
            vm.prank(_validators[i]);
            court.vote(id, upholdBps, "audit");
            votingStake += _stakes[i];
        }
    }

    /// @dev The smallest vote `m` such that the votes at or below `m` carry at least half the voting stake.
    function _referenceMedian(uint256 votingStake) private view returns (uint16 median) {
        median = type(uint16).max;
        for (uint256 j = 0; j < _votes.length; ++j) {
            if (!_voted[j]) continue;
            uint256 below;
            for (uint256 i = 0; i < _votes.length; ++i) {
                if (_voted[i] && _votes[i] <= _votes[j]) below += _stakes[i];
            }
            if (2 * below >= votingStake && _votes[j] < median) median = _votes[j];
        }
    }

    /// @dev Rewards: trusted voters (|vote - consensus| <= 2,500) share `pot` pro rata stake x trust, in vote
    /// order with prefix sums; each within 1 wei of its exact share; untrusted ones get nothing and a strike.
    function _assertSplit(uint16 consensus, uint256 pot) private view {
        uint256 totalPoints;
        for (uint256 i = 0; i < _votes.length; ++i) {
            totalPoints += _points(i, consensus);
        }
        uint256 cumulative;
        uint256 paid;
        uint256 sum;
        for (uint256 i = 0; i < _votes.length; ++i) {
            uint256 points = _points(i, consensus);
            uint256 expected;
            if (points != 0) {
                cumulative += points;
                uint256 through = (pot * cumulative) / totalPoints;
                expected = through - paid;
                paid = through;
                uint256 exact = (pot * points) / totalPoints;
                vm.assertApproxEqAbs(expected, exact, 1, "within 1 wei of the exact share");
            }
            uint256 balance = court.balanceOf(_validators[i]);
            vm.assertEq(balance, expected, "reward == reference");
            sum += balance;
            bool untrusted = _voted[i] && _deviation(i, consensus) > 2_500;
            vm.assertEq(court.getValidator(_validators[i]).strikes, untrusted ? 1 : 0, "strike iff untrusted");
        }
        vm.assertEq(sum, pot, "the split adds up to the pot");
    }

    function _points(uint256 i, uint16 consensus) private view returns (uint256) {
        if (!_voted[i]) return 0;
        uint256 deviation = _deviation(i, consensus);
        return deviation > 2_500 ? 0 : _stakes[i] * (10_000 - deviation);
    }

    function _deviation(uint256 i, uint16 consensus) private view returns (uint256) {
        return _votes[i] > consensus ? _votes[i] - consensus : consensus - _votes[i];
    }
}
