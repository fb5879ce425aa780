// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";

import {ChallengeCourt} from "../ChallengeCourt.sol";
import {IChallengeCourt} from "../interfaces/IChallengeCourt.sol";
import {IFedTask} from "../interfaces/IFedTask.sol";
import {MockToken} from "./mocks/MockToken.sol";
import {CourtFixture} from "./utils/CourtFixture.sol";

/// @notice Unit tests of ChallengeCourt: validators, challenges, votes, verdicts (stake-weighted median, trust,
/// strikes, rewards), pull payments. Every custom error with its exact arguments.
contract ChallengeCourtTest is CourtFixture {
    // ------------------------------------------------------------------ deployment

    function test_constructor_setsParametersAndRoles() public view {
        vm.assertEq(address(court.token()), address(token), "token");
        vm.assertEq(address(court.fedTask()), address(fedTask), "fedTask");
        vm.assertEq(court.minValidatorStake(), MIN_VALIDATOR_STAKE, "min stake");
        vm.assertEq(court.challengeBond(), CHALLENGE_BOND, "bond");
        vm.assertEq(court.votingPeriod(), VOTING_PERIOD, "voting");
        vm.assertEq(court.exitCooldown(), EXIT_COOLDOWN, "cooldown");
        vm.assertEq(court.MAX_VALIDATORS(), 32, "MAX_VALIDATORS");
        vm.assertEq(court.TRUST_THRESHOLD_BPS(), 2_500, "TRUST_THRESHOLD_BPS");
        vm.assertEq(court.MAX_STRIKES(), 3, "MAX_STRIKES");
        vm.assertEq(court.CHALLENGER_REWARD_BPS(), 5_000, "CHALLENGER_REWARD_BPS");
        vm.assertTrue(court.hasRole(court.DEFAULT_ADMIN_ROLE(), address(this)), "admin");
        vm.assertTrue(court.hasRole(court.PAUSER_ROLE(), address(this)), "pauser");
    }

    function test_constructor_revertsOnZeroOrMismatchedParameters() public {
        _expectConfig("fedTask");
        new ChallengeCourt(token, IFedTask(address(0)), address(this), 1, 1, 1, 1);
        _expectConfig("token");
        new ChallengeCourt(IERC20(address(0)), fedTask, address(this), 1, 1, 1, 1);
        MockToken other = new MockToken();
        _expectConfig("token");
        new ChallengeCourt(other, fedTask, address(this), 1, 1, 1, 1);
        _expectConfig("admin");
        new ChallengeCourt(token, fedTask, address(0), 1, 1, 1, 1);
        _expectConfig("minValidatorStake");
        new ChallengeCourt(token, fedTask, address(this), 0, 1, 1, 1);
        _expectConfig("challengeBond");
        new ChallengeCourt(token, fedTask, address(this), 1, 0, 1, 1);
        _expectConfig("votingPeriod");
        new ChallengeCourt(token, fedTask, address(this), 1, 1, 0, 1);
        _expectConfig("exitCooldown");
        new ChallengeCourt(token, fedTask, address(this), 1, 1, 1, 0);
    }

    function _expectConfig(string memory field) private {
        vm.expectRevert(abi.encodeWithSelector(IChallengeCourt.CourtInvalidConfig.selector, field));
    }

    function test_pause_requiresThePauserRole() public {
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, alice, court.PAUSER_ROLE())
        );
        vm.prank(alice);
        court.pause();
    }

    function test_pause_blocksStakingChallengingVotingButNeverVerdictsOrWithdrawals() public {
        uint256 id = _challengeCoordinator();
        _vote(id, v1, 10_000);
        court.pause();
        vm.expectRevert(abi.encodeWithSelector(Pausable.EnforcedPause.selector));
        _vote(id, v2, 10_000);
        vm.expectRevert(abi.encodeWithSelector(Pausable.EnforcedPause.selector));
        vm.prank(erin);
        court.registerValidator(MIN_VALIDATOR_STAKE);
        vm.expectRevert(abi.encodeWithSelector(Pausable.EnforcedPause.selector));
        vm.prank(v1);
        court.addStake(1);
        vm.expectRevert(abi.encodeWithSelector(Pausable.EnforcedPause.selector));
        vm.prank(bob);
        court.challenge(taskId, 1, carol, "e", bytes32(0), "");

        vm.warp(block.timestamp + VOTING_PERIOD);
        court.resolve(id);
        vm.prank(alice);
        court.withdraw();
        vm.prank(v4);
        court.requestExit();
        vm.warp(block.timestamp + EXIT_COOLDOWN);
        vm.prank(v4);
        court.withdrawValidatorStake();
        court.unpause();
    }

    // ------------------------------------------------------------------ validators

    function test_registerValidator_addsToTheActiveSet() public {
        vm.assertEq(court.activeValidators().length, 4, "four");
        vm.assertEq(court.activeStake(), STAKE_1 + STAKE_2 + STAKE_3 + STAKE_4, "active stake");
        vm.assertEq(court.totalValidatorStake(), STAKE_1 + STAKE_2 + STAKE_3 + STAKE_4, "total stake");
        IChallengeCourt.ValidatorInfo memory info = court.getValidator(v1);
        vm.assertEq(info.stake, STAKE_1, "stake");
        vm.assertTrue(info.active, "active");
        vm.assertEq(info.strikes, 0, "strikes");
        _fund(erin);
        vm.expectEmit(true, true, true, true, address(court));
        emit IChallengeCourt.ValidatorRegistered(erin, MIN_VALIDATOR_STAKE);
        vm.prank(erin);
        court.registerValidator(MIN_VALIDATOR_STAKE);
        _assertCourtBalanced();
    }

    function test_registerValidator_revertsWhenAlreadyRegistered() public {
        vm.expectRevert(abi.encodeWithSelector(IChallengeCourt.CourtAlreadyValidator.selector, v1));
        vm.prank(v1);
        court.registerValidator(MIN_VALIDATOR_STAKE);
        vm.prank(v1);
        court.requestExit();
        vm.expectRevert(abi.encodeWithSelector(IChallengeCourt.CourtAlreadyValidator.selector, v1));
        vm.prank(v1);
        court.registerValidator(MIN_VALIDATOR_STAKE);
    }

    function test_registerValidator_revertsBelowTheMinimumStake() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                IChallengeCourt.CourtStakeTooLow.selector,
                MIN_VALIDATOR_STAKE - 1,
                MIN_VALIDATOR_STAKE
            )
        );
        vm.prank(erin);
        court.registerValidator(MIN_VALIDATOR_STAKE - 1);
    }

    function test_registerValidator_revertsWhenTheSetIsFull() public {
        address[] memory more = _accounts("extra-validator", 29);
        for (uint256 i = 0; i < 28; ++i) {
            vm.prank(more[i]);
            court.registerValidator(MIN_VALIDATOR_STAKE);
        }
        vm.assertEq(court.activeValidators().length, 32, "full");
        vm.expectRevert(abi.encodeWithSelector(IChallengeCourt.CourtValidatorSetFull.selector, 32));
        vm.prank(more[28]);
        court.registerValidator(MIN_VALIDATOR_STAKE);
    }

    function test_addStake_raisesTheStake() public {
        vm.expectEmit(true, true, true, true, address(court));
        emit IChallengeCourt.ValidatorStakeAdded(v4, 50e18, 100e18);
        vm.prank(v4);
        court.addStake(50e18);
        vm.assertEq(court.getValidator(v4).stake, 100e18, "stake");
        vm.assertEq(court.activeStake(), 400e18, "active stake");
    }

    function test_addStake_revertsForANonValidator() public {
        vm.expectRevert(abi.encodeWithSelector(IChallengeCourt.CourtNotValidator.selector, erin));
        vm.prank(erin);
        court.addStake(1);
    }

    function test_requestExit_leavesTheActiveSet() public {
        uint64 exitAt = uint64(block.timestamp) + EXIT_COOLDOWN;
        vm.expectEmit(true, true, true, true, address(court));
        emit IChallengeCourt.ValidatorExited(v2, exitAt, false);
        vm.prank(v2);
        court.requestExit();
        vm.assertEq(court.activeValidators().length, 3, "three");
        vm.assertEq(court.activeStake(), STAKE_1 + STAKE_3 + STAKE_4, "active stake");
        IChallengeCourt.ValidatorInfo memory info = court.getValidator(v2);
        vm.assertFalse(info.active, "inactive");
        vm.assertEq(info.exitAt, exitAt, "exitAt");
        vm.expectRevert(abi.encodeWithSelector(IChallengeCourt.CourtNotValidator.selector, v2));
        vm.prank(v2);
        court.requestExit();
    }

    function test_withdrawValidatorStake_paysAfterTheCooldown() public {
        vm.expectRevert(abi.encodeWithSelector(IChallengeCourt.CourtExitNotRequested.selector, v2));
        vm.prank(v2);
        court.withdrawValidatorStake();
        vm.prank(v2);
        court.requestExit();
        uint64 exitAt = court.getValidator(v2).exitAt;
        vm.expectRevert(abi.encodeWithSelector(IChallengeCourt.CourtExitPending.selector, v2, exitAt));
        vm.prank(v2);
        court.withdrawValidatorStake();
        vm.warp(exitAt);
        uint256 before = token.balanceOf(v2);
        vm.expectEmit(true, true, true, true, address(court));
        emit IChallengeCourt.ValidatorStakeWithdrawn(v2, STAKE_2);
        vm.prank(v2);
        court.withdrawValidatorStake();
        vm.assertEq(token.balanceOf(v2) - before, STAKE_2, "paid");
        vm.expectRevert(abi.encodeWithSelector(IChallengeCourt.CourtNothingToWithdraw.selector, v2));
        vm.prank(v2);
        court.withdrawValidatorStake();
        _assertCourtBalanced();
    }

    function test_withdrawValidatorStake_revertsWhileAVoteIsPending() public {
        uint256 id = _challengeCoordinator();
        _vote(id, v2, 10_000);
        vm.prank(v2);
        court.requestExit();
        vm.warp(block.timestamp + EXIT_COOLDOWN);
        vm.expectRevert(abi.encodeWithSelector(IChallengeCourt.CourtVotesPending.selector, v2, uint32(1)));
        vm.prank(v2);
        court.withdrawValidatorStake();
        court.resolve(id);
        vm.prank(v2);
        court.withdrawValidatorStake();
    }

    // ------------------------------------------------------------------ challenge

    function test_challenge_holdsTheBondAndDisputesTheRound() public {
        uint64 votingEnds = uint64(block.timestamp) + VOTING_PERIOD;
        bytes32 corrected = _correctedRoot();
        vm.expectEmit(true, true, true, true, address(court));
        emit IChallengeCourt.ChallengeOpened(
            1,
            taskId,
            1,
            alice,
            address(0),
            CHALLENGE_BOND,
            "bafkreichallenge",
            corrected,
            "",
            votingEnds
        );
        uint256 id = _challengeCoordinator();

        vm.assertEq(id, 1, "first id");
        IChallengeCourt.ChallengeInfo memory c = court.getChallenge(id);
        vm.assertEq(c.taskId, taskId, "task");
        vm.assertEq(c.round, 1, "round");
        vm.assertEq(c.challenger, alice, "challenger");
        vm.assertEq(uint256(c.status), uint256(IChallengeCourt.ChallengeStatus.Open), "open");
        vm.assertEq(c.bond, CHALLENGE_BOND, "bond");
        vm.assertEq(c.correctedRoot, corrected, "root");
        vm.assertEq(c.activeStake, court.activeStake(), "snapshot");
        vm.assertEq(c.activeValidators, 4, "validators");
        vm.assertEq(court.openChallengeOf(taskId, 1), id, "open challenge");
        vm.assertEq(court.bondsHeld(), CHALLENGE_BOND, "bond held");
        (, bool disputed) = fedTask.roundClaimableAt(taskId, 1);
        vm.assertTrue(disputed, "FedTask marked the round");
        _assertCourtBalanced();
    }

    function test_challenge_revertsForNonParticipants() public {
        vm.expectRevert(abi.encodeWithSelector(IChallengeCourt.CourtNotParticipant.selector, taskId, stranger));
        vm.prank(stranger);
        court.challenge(taskId, 1, address(0), "e", bytes32(0), "");
        vm.expectRevert(abi.encodeWithSelector(IChallengeCourt.CourtNotParticipant.selector, taskId, coordinator));
        vm.prank(alice);
        court.challenge(taskId, 1, coordinator, "e", bytes32(0), "");
    }

    function test_challenge_revertsForSelfAccusation() public {
        vm.expectRevert(abi.encodeWithSelector(IChallengeCourt.CourtInvalidAccused.selector, taskId, alice));
        vm.prank(alice);
        court.challenge(taskId, 1, alice, "e", bytes32(0), "");
    }

    function test_challenge_revertsOutsideTheWindow() public {
        vm.expectRevert(
            abi.encodeWithSelector(IChallengeCourt.CourtOutsideWindow.selector, taskId, uint32(2), uint64(0))
        );
        vm.prank(alice);
        court.challenge(taskId, 2, address(0), "e", bytes32(0), "");
        uint64 claimableAt = fedTask.getRound(taskId, 1).claimableAt;
        vm.warp(claimableAt);
        vm.expectRevert(
            abi.encodeWithSelector(IChallengeCourt.CourtOutsideWindow.selector, taskId, uint32(1), claimableAt)
        );
        _challengeCoordinator();
    }

    function test_challenge_revertsWhenTheRoundAlreadyHasOne() public {
        uint256 id = _challengeCoordinator();
        vm.expectRevert(
            abi.encodeWithSelector(IChallengeCourt.CourtChallengeAlreadyOpen.selector, taskId, uint32(1), id)
        );
        vm.prank(bob);
        court.challenge(taskId, 1, carol, "e", bytes32(0), "");
    }

    function test_challenge_revertsWithInvalidCorrectedShares() public {
        vm.expectRevert(abi.encodeWithSelector(IChallengeCourt.CourtInvalidShares.selector, taskId, uint32(1)));
        vm.prank(alice);
        court.challenge(taskId, 1, address(0), "e", bytes32(0), _equalShares(4));
        uint256 last = _lastRoundTask();
        vm.expectRevert(abi.encodeWithSelector(IChallengeCourt.CourtInvalidShares.selector, last, uint32(1)));
        vm.prank(alice);
        court.challenge(last, 1, address(0), "e", bytes32(0), _equalShares(3));
        vm.expectRevert(abi.encodeWithSelector(IChallengeCourt.CourtInvalidShares.selector, last, uint32(1)));
        vm.prank(alice);
        court.challenge(last, 1, bob, "e", bytes32(0), _equalShares(4));
        uint16[] memory bps = new uint16[](4);
        (bps[0], bps[1], bps[2], bps[3]) = (5_000, 3_000, 2_000, 1);
        vm.expectRevert(abi.encodeWithSelector(IChallengeCourt.CourtInvalidShares.selector, last, uint32(1)));
        vm.prank(alice);
        court.challenge(last, 1, address(0), "e", bytes32(0), _pack(bps));
    }

    // ------------------------------------------------------------------ vote

    function test_vote_recordsTheVoteWithItsWeightAndEvidence() public {
        uint256 id = _challengeCoordinator();
        vm.expectEmit(true, true, true, true, address(court));
        emit IChallengeCourt.VoteCast(id, v4, 7_000, STAKE_4, "bafkreiaudit");
        _vote(id, v4, 7_000);
        IChallengeCourt.Vote[] memory votes = court.getVotes(id);
        vm.assertEq(votes.length, 1, "one vote");
        vm.assertEq(votes[0].validator, v4, "validator");
        vm.assertEq(votes[0].upholdBps, 7_000, "vote");
        vm.assertEq(votes[0].weight, STAKE_4, "weight");
        vm.assertEq(court.getValidator(v4).pendingVotes, 1, "pending");
        vm.assertEq(court.getChallenge(id).votes, 1, "counted");
    }

    function test_vote_revertsWhenTheChallengeIsNotOpen() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                IChallengeCourt.CourtChallengeNotOpen.selector,
                7,
                IChallengeCourt.ChallengeStatus.None
            )
        );
        _vote(7, v1, 1);
    }

    function test_vote_revertsAfterTheVotingPeriod() public {
        uint256 id = _challengeCoordinator();
        uint64 votingEnds = court.getChallenge(id).votingEnds;
        vm.warp(votingEnds);
        vm.expectRevert(abi.encodeWithSelector(IChallengeCourt.CourtVotingClosed.selector, id, votingEnds));
        _vote(id, v1, 1);
    }

    function test_vote_revertsForNonValidatorsAndLateRegistrations() public {
        uint256 id = _challengeCoordinator();
        vm.expectRevert(abi.encodeWithSelector(IChallengeCourt.CourtNotValidator.selector, erin));
        _vote(id, erin, 1);
        vm.warp(block.timestamp + 1);
        _register(erin, 1_000e18);
        vm.expectRevert(abi.encodeWithSelector(IChallengeCourt.CourtNotEligible.selector, id, erin));
        _vote(id, erin, 1);
    }

    function test_vote_revertsWhenVotingTwiceOrAbove10000() public {
        uint256 id = _challengeCoordinator();
        vm.expectRevert(abi.encodeWithSelector(IChallengeCourt.CourtInvalidVote.selector, 10_001));
        _vote(id, v1, 10_001);
        _vote(id, v1, 10_000);
        vm.expectRevert(abi.encodeWithSelector(IChallengeCourt.CourtAlreadyVoted.selector, id, v1));
        _vote(id, v1, 10_000);
    }

    // ------------------------------------------------------------------ resolve

    function test_resolve_revertsWhileVotingRuns() public {
        uint256 id = _challengeCoordinator();
        _vote(id, v1, 10_000);
        uint64 votingEnds = court.getChallenge(id).votingEnds;
        vm.expectRevert(abi.encodeWithSelector(IChallengeCourt.CourtVotingOpen.selector, id, votingEnds));
        court.resolve(id);
    }

    function test_resolve_earlyOnceEveryValidatorVoted() public {
        uint256 id = _challengeCoordinator();
        _vote(id, v1, 10_000);
        _vote(id, v2, 10_000);
        _vote(id, v3, 10_000);
        _vote(id, v4, 10_000);
        court.resolve(id);
        vm.assertEq(uint256(court.getChallenge(id).status), uint256(IChallengeCourt.ChallengeStatus.Upheld), "up");
        vm.expectRevert(
            abi.encodeWithSelector(
                IChallengeCourt.CourtChallengeNotOpen.selector,
                id,
                IChallengeCourt.ChallengeStatus.Upheld
            )
        );
        court.resolve(id);
    }

    function test_resolve_dismissesWhenLessThanHalfTheStakeVoted() public {
        uint256 id = _challengeCoordinator();
        _vote(id, v1, 10_000);
        _vote(id, v4, 10_000);
        vm.warp(block.timestamp + VOTING_PERIOD);
        vm.expectEmit(true, true, true, true, address(court));
        emit IChallengeCourt.ChallengeResolved(
            id,
            IChallengeCourt.ChallengeStatus.Dismissed,
            0,
            STAKE_1 + STAKE_4,
            CHALLENGE_BOND,
            0
        );
        court.resolve(id);
        vm.assertEq(court.balanceOf(alice), CHALLENGE_BOND, "bond back");
        (, bool disputed) = fedTask.roundClaimableAt(taskId, 1);
        vm.assertFalse(disputed, "round released");
        vm.assertEq(court.getValidator(v1).pendingVotes, 0, "vote released");
        vm.assertEq(court.openChallengeOf(taskId, 1), 0, "no open challenge");
        _assertCourtBalanced();
    }

    function test_resolve_upheldAgainstTheCoordinatorPaysChallengerAndTrustedValidators() public {
        uint256 id = _challengeCoordinator();
        // Sorted: 1000 (100), 7000 (50), 8000 (100), 9000 (100): the weighted median is 8000 -> upheld.
        _vote(id, v1, 9_000);
        _vote(id, v2, 8_000);
        _vote(id, v3, 1_000);
        _vote(id, v4, 7_000);
        uint256 challengerReward = COORDINATOR_SLASH / 2;
        uint256 pot = COORDINATOR_SLASH - challengerReward;
        // Points: stake x trust for the trusted (v3 deviates by 7000: untrusted).
        uint256 p1 = STAKE_1 * 9_000;
        uint256 p2 = STAKE_2 * 10_000;
        uint256 p4 = STAKE_4 * 9_000;
        uint256 total = p1 + p2 + p4;
        uint256 r1 = (pot * p1) / total;
        uint256 r2 = (pot * (p1 + p2)) / total - r1;
        uint256 r4 = pot - r1 - r2;

        vm.expectEmit(true, true, true, true, address(court));
        emit IChallengeCourt.ValidatorJudged(id, v3, 3_000, false, 0, 1);
        vm.expectEmit(true, true, true, true, address(court));
        emit IChallengeCourt.ChallengeResolved(
            id,
            IChallengeCourt.ChallengeStatus.Upheld,
            8_000,
            STAKE_1 + STAKE_2 + STAKE_3 + STAKE_4,
            CHALLENGE_BOND + challengerReward,
            pot
        );
        court.resolve(id);

        vm.assertEq(court.getChallenge(id).consensusBps, 8_000, "consensus");
        vm.assertEq(court.balanceOf(alice), CHALLENGE_BOND + challengerReward, "challenger");
        vm.assertEq(court.balanceOf(v1), r1, "v1");
        vm.assertEq(court.balanceOf(v2), r2, "v2");
        vm.assertEq(court.balanceOf(v3), 0, "v3 untrusted");
        vm.assertEq(court.balanceOf(v4), r4, "v4");
        vm.assertEq(court.getValidator(v3).strikes, 1, "strike");
        vm.assertEq(fedTask.getRound(taskId, 1).rewardsRoot, _correctedRoot(), "root replaced");
        vm.assertEq(fedTask.stakeOf(taskId, coordinator), COORDINATOR_STAKE - COORDINATOR_SLASH, "slashed");
        _assertCourtBalanced();

        uint256 before = token.balanceOf(alice);
        vm.expectEmit(true, true, true, true, address(court));
        emit IChallengeCourt.Withdrawn(alice, CHALLENGE_BOND + challengerReward);
        vm.prank(alice);
        court.withdraw();
        vm.assertEq(token.balanceOf(alice) - before, CHALLENGE_BOND + challengerReward, "withdrawn");
        vm.expectRevert(abi.encodeWithSelector(IChallengeCourt.CourtNothingToWithdraw.selector, alice));
        vm.prank(alice);
        court.withdraw();
        _assertCourtBalanced();
    }

    function test_resolve_upheldAgainstAParticipantSlashesItIntoThePool() public {
        uint256 id = _challengeDave();
        uint256 unallocated = fedTask.getTask(taskId).unallocated;
        bytes32 root = fedTask.getRound(taskId, 1).rewardsRoot;
        _vote(id, v1, 9_000);
        _vote(id, v2, 9_000);
        _vote(id, v3, 9_000);
        _vote(id, v4, 9_000);
        court.resolve(id);
        vm.assertEq(fedTask.stakeOf(taskId, dave), PARTICIPANT_STAKE - PARTICIPANT_SLASH, "dave slashed");
        vm.assertEq(fedTask.getTask(taskId).unallocated, unallocated + PARTICIPANT_SLASH, "into the pool");
        vm.assertEq(court.balanceOf(alice), CHALLENGE_BOND, "bond back");
        vm.assertEq(court.balanceOf(v1), 0, "no reward from a participant slash");
        vm.assertEq(fedTask.getRound(taskId, 1).rewardsRoot, root, "root kept");
        (, bool disputed) = fedTask.roundClaimableAt(taskId, 1);
        vm.assertFalse(disputed, "released");
        vm.assertEq(fedTask.stakeOf(taskId, coordinator), COORDINATOR_STAKE, "coordinator untouched");
        _assertCourtBalanced();
    }

    function test_resolve_upheldOnTheLastRoundReplacesTheShares() public {
        uint256 last = _lastRoundTask();
        uint16[] memory bps = new uint16[](4);
        (bps[0], bps[1], bps[2], bps[3]) = (1_000, 2_000, 3_000, 4_000);
        vm.prank(carol);
        uint256 id = court.challenge(last, 1, address(0), "e", keccak256("corrected"), _pack(bps));
        vm.assertEq(court.getChallenge(id).correctedShares, _pack(bps), "stored");
        _vote(id, v1, 10_000);
        _vote(id, v2, 10_000);
        _vote(id, v3, 10_000);
        _vote(id, v4, 10_000);
        court.resolve(id);
        vm.assertEq(fedTask.shareOf(last, dave), 4_000, "dave");
        vm.assertEq(fedTask.shareOf(last, alice), 1_000, "alice");
    }

    function test_resolve_rejectedSharesTheBondAmongTrustedValidators() public {
        uint256 id = _challengeCoordinator();
        _vote(id, v1, 1_000);
        _vote(id, v2, 2_000);
        _vote(id, v3, 0);
        _vote(id, v4, 9_000);
        court.resolve(id);
        vm.assertEq(uint256(court.getChallenge(id).status), uint256(IChallengeCourt.ChallengeStatus.Rejected), "no");
        vm.assertEq(court.getChallenge(id).consensusBps, 1_000, "median");
        vm.assertEq(court.balanceOf(alice), 0, "bond lost");
        vm.assertEq(court.balanceOf(v4), 0, "untrusted");
        vm.assertEq(court.balanceOf(v1) + court.balanceOf(v2) + court.balanceOf(v3), CHALLENGE_BOND, "jury paid");
        vm.assertEq(court.getValidator(v4).strikes, 1, "strike");
        vm.assertEq(fedTask.stakeOf(taskId, coordinator), COORDINATOR_STAKE, "coordinator untouched");
        _assertCourtBalanced();
    }

    function test_resolve_threeStrikesDeactivateAValidator() public {
        for (uint32 round = 1; round <= 3; ++round) {
            if (round > 1) {
                _open(taskId, round);
                _runRound(taskId, round, _two(alice, bob), _amounts2(1e18, 1e18));
            }
            vm.prank(alice);
            uint256 id = court.challenge(taskId, round, address(0), "e", bytes32(0), "");
            _vote(id, v1, 0);
            _vote(id, v2, 0);
            _vote(id, v3, 0);
            _vote(id, v4, 10_000);
            if (round == 3) {
                vm.expectEmit(true, true, true, true, address(court));
                emit IChallengeCourt.ValidatorExited(v4, uint64(block.timestamp) + EXIT_COOLDOWN, true);
            }
            court.resolve(id);
        }
        IChallengeCourt.ValidatorInfo memory info = court.getValidator(v4);
        vm.assertEq(info.strikes, 3, "three strikes");
        vm.assertFalse(info.active, "deactivated");
        vm.assertEq(court.activeValidators().length, 3, "out of the set");
        vm.warp(block.timestamp + EXIT_COOLDOWN);
        vm.prank(v4);
        court.withdrawValidatorStake();
        vm.expectRevert(abi.encodeWithSelector(IChallengeCourt.CourtValidatorStruckOut.selector, v4, uint8(3)));
        vm.prank(v4);
        court.registerValidator(MIN_VALIDATOR_STAKE);
        _assertCourtBalanced();
    }
}
