// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

import {IFedTask} from "./IFedTask.sol";

/**
 * @title IChallengeCourt
 * @notice Types, errors, events and functions of the fedmarket challenge court (docs/protocol-v2-spec.md,
 * section "ChallengeCourt").
 * @dev Staked validators decide disputes on FedTask rounds. A participant challenges a round inside its
 * challenge window with a bond: either the coordinator's verdict (`accused == 0`, with the corrected rewards
 * root and, on the last round, shares that `fedmarket audit` recomputes) or a participant's malice. Active
 * validators vote a confidence `upholdBps` with the CID of their own audit report; the consensus is the
 * stake-weighted (lower) median and upholds the challenge above 5,000. Validators deviating from it by more
 * than {TRUST_THRESHOLD_BPS} earn nothing and get a strike; the trusted ones share the reward pro rata
 * `stake x trust`. Upheld against the coordinator: FedTask replaces the root and slashes the coordinator,
 * the challenger gets its bond and {CHALLENGER_REWARD_BPS} of the slash, the validators the rest. Upheld
 * against a participant: FedTask slashes it into the pool, the bond goes back. Rejected: the validators share
 * the bond. Too little stake voting: dismissed, bond back. Every payout is a pull balance ({withdraw}).
 *
 * Invariant: `token.balanceOf(this) == totalValidatorStake() + bondsHeld() + totalOwed()`.
 */
interface IChallengeCourt {
    /// @notice Lifecycle of a challenge.
    enum ChallengeStatus {
        None,
        Open,
        Upheld,
        Rejected,
        Dismissed
    }

    /**
     * @notice A validator as returned by {getValidator}.
     * @param stake Stake held by the court for it (locked while it has votes pending).
     * @param registeredAt When it (last) registered; it votes only on challenges opened from then on.
     * @param exitAt When an exited or deactivated validator may withdraw (0 while active).
     * @param pendingVotes Votes cast on challenges not yet resolved.
     * @param strikes Times it was untrusted in a verdict; {MAX_STRIKES} deactivate it.
     * @param active Whether it counts in the active set.
     */
    struct ValidatorInfo {
        uint256 stake;
        uint64 registeredAt;
        uint64 exitAt;
        uint32 pendingVotes;
        uint8 strikes;
        bool active;
    }

    /**
     * @notice A challenge as returned by {getChallenge}.
     * @param taskId The FedTask task.
     * @param round The disputed round.
     * @param challenger The participant that challenged.
     * @param accused The accused participant, or zero for the coordinator's verdict.
     * @param status Lifecycle status.
     * @param openedAt When it was opened.
     * @param votingEnds Votes are accepted before this time.
     * @param bond The bond held (as received).
     * @param correctedRoot The rewards root the challenger says is right (coordinator disputes).
     * @param correctedShares The last round's shares the challenger says are right, or empty.
     * @param activeStake Active validator stake when it was opened (the turnout quorum's base).
     * @param activeValidators Active validators when it was opened.
     * @param votes Votes cast.
     * @param consensusBps The stake-weighted median vote (set at resolution, unless dismissed).
     */
    struct ChallengeInfo {
        uint256 taskId;
        uint32 round;
        address challenger;
        address accused;
        ChallengeStatus status;
        uint64 openedAt;
        uint64 votingEnds;
        uint256 bond;
        bytes32 correctedRoot;
        bytes correctedShares;
        uint256 activeStake;
        uint32 activeValidators;
        uint32 votes;
        uint16 consensusBps;
    }

    /**
     * @notice A vote as returned by {getVotes}.
     * @param validator The validator.
     * @param upholdBps Its confidence that the challenge is right, 0 to 10,000.
     * @param weight Its stake when it voted.
     */
    struct Vote {
        address validator;
        uint16 upholdBps;
        uint256 weight;
    }

    // ------------------------------------------------------------------ errors

    /**
     * @notice A constructor parameter is zero.
     * @param field Name of the parameter ("token", "fedTask", "admin", "minValidatorStake", "challengeBond",
     * "votingPeriod", "exitCooldown").
     */
    error CourtInvalidConfig(string field);

    /**
     * @notice The account is not a participant of the task (challenger, or accused).
     * @param taskId The task.
     * @param account The account.
     */
    error CourtNotParticipant(uint256 taskId, address account);

    /**
     * @notice A participant cannot accuse itself.
     * @param taskId The task.
     * @param accused The account accused.
     */
    error CourtInvalidAccused(uint256 taskId, address accused);

    /**
     * @notice Challenges open only inside a finalised round's challenge window.
     * @param taskId The task.
     * @param round The round.
     * @param claimableAt End of the round's window (0 when it is not finalised).
     */
    error CourtOutsideWindow(uint256 taskId, uint32 round, uint64 claimableAt);

    /**
     * @notice The round already has an open challenge.
     * @param taskId The task.
     * @param round The round.
     * @param challengeId The open challenge.
     */
    error CourtChallengeAlreadyOpen(uint256 taskId, uint32 round, uint256 challengeId);

    /**
     * @notice Corrected shares are for a dispute of the coordinator's verdict on the last round only, one
     * uint16 per participant summing to 10,000.
     * @param taskId The task.
     * @param round The round.
     */
    error CourtInvalidShares(uint256 taskId, uint32 round);

    /**
     * @notice The stake received is below the minimum.
     * @param amount The stake received.
     * @param minimum {minValidatorStake}.
     */
    error CourtStakeTooLow(uint256 amount, uint256 minimum);

    /**
     * @notice The account is already a validator (active, or with stake still held).
     * @param account The account.
     */
    error CourtAlreadyValidator(address account);

    /**
     * @notice The account was deactivated by strikes and cannot register again.
     * @param account The account.
     * @param strikes Its strikes.
     */
    error CourtValidatorStruckOut(address account, uint8 strikes);

    /**
     * @notice The active set is full.
     * @param max {MAX_VALIDATORS}.
     */
    error CourtValidatorSetFull(uint256 max);

    /**
     * @notice The account is not an active validator.
     * @param account The account.
     */
    error CourtNotValidator(address account);

    /**
     * @notice The validator registered after the challenge opened, so it does not vote on it.
     * @param challengeId The challenge.
     * @param validator The validator.
     */
    error CourtNotEligible(uint256 challengeId, address validator);

    /**
     * @notice The validator must request its exit first.
     * @param account The validator.
     */
    error CourtExitNotRequested(address account);

    /**
     * @notice The exit cooldown still runs.
     * @param account The validator.
     * @param notBefore When it may withdraw.
     */
    error CourtExitPending(address account, uint64 notBefore);

    /**
     * @notice The validator's stake is locked by votes on unresolved challenges.
     * @param account The validator.
     * @param pendingVotes The votes pending.
     */
    error CourtVotesPending(address account, uint32 pendingVotes);

    /**
     * @notice The challenge is unknown or already resolved.
     * @param challengeId The challenge.
     * @param status Its status.
     */
    error CourtChallengeNotOpen(uint256 challengeId, ChallengeStatus status);

    /**
     * @notice The voting period is over.
     * @param challengeId The challenge.
     * @param votingEnds When it ended.
     */
    error CourtVotingClosed(uint256 challengeId, uint64 votingEnds);

    /**
     * @notice The voting period still runs and not every validator voted.
     * @param challengeId The challenge.
     * @param votingEnds When it ends.
     */
    error CourtVotingOpen(uint256 challengeId, uint64 votingEnds);

    /**
     * @notice The validator already voted on the challenge.
     * @param challengeId The challenge.
     * @param validator The validator.
     */
    error CourtAlreadyVoted(uint256 challengeId, address validator);

    /**
     * @notice A vote above 10,000 basis points.
     * @param upholdBps The vote given.
     */
    error CourtInvalidVote(uint256 upholdBps);

    /**
     * @notice The account has nothing to withdraw.
     * @param account The account.
     */
    error CourtNothingToWithdraw(address account);

    // ------------------------------------------------------------------ events

    /**
     * @notice A validator registered with a stake.
     * @param validator The validator.
     * @param stake The stake (as received).
     */
    event ValidatorRegistered(address indexed validator, uint256 stake);

    /**
     * @notice An active validator added stake.
     * @param validator The validator.
     * @param amount The amount added (as received).
     * @param stake Its stake now.
     */
    event ValidatorStakeAdded(address indexed validator, uint256 amount, uint256 stake);

    /**
     * @notice A validator left the active set (its request, or its strikes).
     * @param validator The validator.
     * @param exitAt When it may withdraw its stake.
     * @param struckOut Whether strikes deactivated it.
     */
    event ValidatorExited(address indexed validator, uint64 exitAt, bool struckOut);

    /**
     * @notice A validator withdrew its stake.
     * @param validator The validator.
     * @param amount The amount paid.
     */
    event ValidatorStakeWithdrawn(address indexed validator, uint256 amount);

    /**
     * @notice A participant challenged a round; FedTask marked it disputed.
     * @param challengeId The new challenge's id.
     * @param taskId The task.
     * @param round The round.
     * @param challenger The participant.
     * @param accused The accused participant, or zero for the coordinator's verdict.
     * @param bond The bond held (as received).
     * @param evidenceCid Content identifier of the challenger's evidence.
     * @param correctedRoot The corrected rewards root (coordinator disputes).
     * @param correctedShares The corrected last-round shares, or empty.
     * @param votingEnds Votes are accepted before this time.
     */
    event ChallengeOpened(
        uint256 indexed challengeId,
        uint256 indexed taskId,
        uint32 indexed round,
        address challenger,
        address accused,
        uint256 bond,
        string evidenceCid,
        bytes32 correctedRoot,
        bytes correctedShares,
        uint64 votingEnds
    );

    /**
     * @notice A validator voted.
     * @param challengeId The challenge.
     * @param validator The validator.
     * @param upholdBps Its confidence that the challenge is right.
     * @param weight Its stake.
     * @param evidenceCid Content identifier of its audit report.
     */
    event VoteCast(
        uint256 indexed challengeId,
        address indexed validator,
        uint16 upholdBps,
        uint256 weight,
        string evidenceCid
    );

    /**
     * @notice A challenge was resolved.
     * @param challengeId The challenge.
     * @param status Upheld, Rejected or Dismissed.
     * @param consensusBps The stake-weighted median vote (0 when dismissed).
     * @param votingStake Stake that voted.
     * @param challengerPaid Credited to the challenger (bond back, plus its reward when upheld against the
     * coordinator).
     * @param validatorsPaid Credited to the trusted validators.
     */
    event ChallengeResolved(
        uint256 indexed challengeId,
        ChallengeStatus status,
        uint16 consensusBps,
        uint256 votingStake,
        uint256 challengerPaid,
        uint256 validatorsPaid
    );

    /**
     * @notice A validator's standing in a verdict.
     * @param challengeId The challenge.
     * @param validator The validator.
     * @param trustBps `10,000 - |vote - consensus|`.
     * @param trusted Whether it deviated by at most {TRUST_THRESHOLD_BPS}.
     * @param reward Credited to it.
     * @param strikes Its strikes now.
     */
    event ValidatorJudged(
        uint256 indexed challengeId,
        address indexed validator,
        uint16 trustBps,
        bool trusted,
        uint256 reward,
        uint8 strikes
    );

    /**
     * @notice An account withdrew its balance.
     * @param account The account.
     * @param amount The amount paid.
     */
    event Withdrawn(address indexed account, uint256 amount);

    // ------------------------------------------------------------------ functions

    /// @notice Stops registering, staking, challenging and voting (never resolutions or withdrawals).
    function pause() external;

    /// @notice Lifts the pause.
    function unpause() external;

    /**
     * @notice Registers the caller as an active validator with `amount` of stake (credited as received, at
     * least {minValidatorStake}).
     * @param amount The stake to pull.
     */
    function registerValidator(uint256 amount) external;

    /**
     * @notice Adds stake to the caller's active validator stake (it weighs on votes cast from then on).
     * @param amount The stake to pull.
     */
    function addStake(uint256 amount) external;

    /// @notice Leaves the active set; the stake is withdrawable after {exitCooldown} with no vote pending.
    function requestExit() external;

    /// @notice Withdraws the stake of an exited (or struck-out) validator.
    function withdrawValidatorStake() external;

    /**
     * @notice Challenges a round inside its challenge window, with a bond of {challengeBond}.
     * @dev Not while paused. Reverts {CourtNotParticipant} (caller, then accused), {CourtInvalidAccused},
     * {CourtOutsideWindow}, {CourtChallengeAlreadyOpen}, {CourtInvalidShares}, in that order.
     * @param taskId The task.
     * @param round The round.
     * @param accused A participant accused of malice, or zero to dispute the coordinator's verdict.
     * @param evidenceCid Content identifier of the evidence.
     * @param correctedRoot The rewards root the audit recomputes (coordinator disputes; zero pays nothing).
     * @param correctedShares The last round's shares the audit recomputes, or empty.
     * @return challengeId The new challenge's id (ids start at 1).
     */
    function challenge(
        uint256 taskId,
        uint32 round,
        address accused,
        string calldata evidenceCid,
        bytes32 correctedRoot,
        bytes calldata correctedShares
    ) external returns (uint256 challengeId);

    /**
     * @notice Votes on an open challenge, once per validator, before its voting period ends.
     * @param challengeId The challenge.
     * @param upholdBps Confidence that the challenge is right, 0 to 10,000.
     * @param evidenceCid Content identifier of the validator's audit report.
     */
    function vote(uint256 challengeId, uint16 upholdBps, string calldata evidenceCid) external;

    /**
     * @notice Resolves a challenge after its voting period, or once every eligible validator voted, and
     * executes the verdict on FedTask. Anyone; never paused.
     * @param challengeId The challenge.
     */
    function resolve(uint256 challengeId) external;

    /// @notice Pays the caller its balance (rewards, bonds back).
    function withdraw() external;

    /**
     * @notice Returns a challenge.
     * @param challengeId The challenge.
     * @return info The challenge (status None for an unknown id).
     */
    function getChallenge(uint256 challengeId) external view returns (ChallengeInfo memory info);

    /**
     * @notice Returns a challenge's votes.
     * @param challengeId The challenge.
     * @return votes The votes, in the order cast.
     */
    function getVotes(uint256 challengeId) external view returns (Vote[] memory votes);

    /**
     * @notice Returns a validator.
     * @param account The account.
     * @return info The validator (all zero for none).
     */
    function getValidator(address account) external view returns (ValidatorInfo memory info);

    /**
     * @notice The active validators.
     * @return validators At most {MAX_VALIDATORS}.
     */
    function activeValidators() external view returns (address[] memory validators);

    /**
     * @notice Sum of the active validators' stakes.
     * @return stake The sum.
     */
    function activeStake() external view returns (uint256 stake);

    /**
     * @notice Stake held for every validator, active or not.
     * @return stake The sum.
     */
    function totalValidatorStake() external view returns (uint256 stake);

    /**
     * @notice Bonds of the open challenges.
     * @return amount The sum.
     */
    function bondsHeld() external view returns (uint256 amount);

    /**
     * @notice Sum of every account's withdrawable balance.
     * @return amount The sum.
     */
    function totalOwed() external view returns (uint256 amount);

    /**
     * @notice An account's withdrawable balance.
     * @param account The account.
     * @return amount The balance.
     */
    function balanceOf(address account) external view returns (uint256 amount);

    /**
     * @notice The open challenge of a round.
     * @param taskId The task.
     * @param round The round.
     * @return challengeId The challenge, or 0 when none is open.
     */
    function openChallengeOf(uint256 taskId, uint32 round) external view returns (uint256 challengeId);

    /**
     * @notice Number of challenges ever opened.
     * @return count The number.
     */
    function challengeCount() external view returns (uint256 count);

    /**
     * @notice The token of stakes, bonds and rewards (FedTask's).
     * @return rewardToken The token.
     */
    function token() external view returns (IERC20 rewardToken);

    /**
     * @notice The FedTask whose rounds the court judges.
     * @return escrow The FedTask.
     */
    function fedTask() external view returns (IFedTask escrow);

    /**
     * @notice Smallest stake a validator registers with.
     * @return amount The minimum.
     */
    function minValidatorStake() external view returns (uint256 amount);

    /**
     * @notice Bond a challenger locks.
     * @return amount The bond.
     */
    function challengeBond() external view returns (uint256 amount);

    /**
     * @notice How long a challenge takes votes.
     * @return period Seconds.
     */
    function votingPeriod() external view returns (uint64 period);

    /**
     * @notice Cooldown between a validator's exit and its withdrawal.
     * @return period Seconds.
     */
    function exitCooldown() external view returns (uint64 period);

    /**
     * @notice Most active validators (bounds every loop of a verdict).
     * @return max 32.
     */
    // solhint-disable-next-line func-name-mixedcase
    function MAX_VALIDATORS() external view returns (uint256 max);

    /**
     * @notice Deviation from the consensus beyond which a validator is untrusted in a verdict.
     * @return bps 2,500.
     */
    // solhint-disable-next-line func-name-mixedcase
    function TRUST_THRESHOLD_BPS() external view returns (uint16 bps);

    /**
     * @notice Strikes that deactivate a validator.
     * @return strikes 3.
     */
    // solhint-disable-next-line func-name-mixedcase
    function MAX_STRIKES() external view returns (uint8 strikes);

    /**
     * @notice Share of the coordinator's slash paid to a challenger whose dispute is upheld.
     * @return bps 5,000.
     */
    // solhint-disable-next-line func-name-mixedcase
    function CHALLENGER_REWARD_BPS() external view returns (uint16 bps);

    /**
     * @notice Role that may pause and unpause.
     * @return role keccak256("PAUSER_ROLE").
     */
    // solhint-disable-next-line func-name-mixedcase
    function PAUSER_ROLE() external view returns (bytes32 role);
}
