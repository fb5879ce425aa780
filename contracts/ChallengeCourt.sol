// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

import {IChallengeCourt} from "./interfaces/IChallengeCourt.sol";
import {IFedTask} from "./interfaces/IFedTask.sol";

/**
 * @title ChallengeCourt
 * @notice Staked validators decide disputes on FedTask rounds (protocol v2; see {IChallengeCourt}).
 * @dev Needs FedTask's `COURT_ROLE`. Every loop of a verdict runs over at most {MAX_VALIDATORS} votes. Token
 * intake is credited as received; payouts are pull balances ({withdraw}) and stake withdrawals, each
 * `nonReentrant` and after their effects.
 *
 * Invariant: `token.balanceOf(this) == totalValidatorStake() + bondsHeld() + totalOwed()`.
 */
contract ChallengeCourt is IChallengeCourt, AccessControl, Pausable, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @dev A validator as stored (see {ValidatorInfo}).
    struct Validator {
        uint256 stake;
        uint64 registeredAt;
        uint64 exitAt;
        uint32 pendingVotes;
        uint8 strikes;
        bool active;
    }

    /// @dev A challenge as stored (see {ChallengeInfo}).
    struct Challenge {
        uint256 taskId;
        uint32 round;
        address challenger;
        uint64 openedAt;
        address accused;
        uint64 votingEnds;
        ChallengeStatus status;
        uint16 consensusBps;
        uint32 activeValidators;
        uint32 votes;
        uint256 bond;
        uint256 activeStake;
        bytes32 correctedRoot;
        bytes correctedShares;
    }

    /// @inheritdoc IChallengeCourt
    uint256 public constant MAX_VALIDATORS = 32;
    /// @inheritdoc IChallengeCourt
    uint16 public constant TRUST_THRESHOLD_BPS = 2_500;
    /// @inheritdoc IChallengeCourt
    uint8 public constant MAX_STRIKES = 3;
    /// @inheritdoc IChallengeCourt
    uint16 public constant CHALLENGER_REWARD_BPS = 5_000;
    /// @inheritdoc IChallengeCourt
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");

    uint256 private constant BPS = 10_000;
    uint16 private constant UPHOLD_ABOVE_BPS = 5_000;

    IERC20 private immutable _token;
    IFedTask private immutable _fedTask;
    uint256 private immutable _minValidatorStake;
    uint256 private immutable _challengeBond;
    uint64 private immutable _votingPeriod;
    uint64 private immutable _exitCooldown;

    mapping(address account => Validator) private _validators;
    address[] private _active;
    uint256 private _activeStake;
    uint256 private _totalValidatorStake;
    uint256 private _bondsHeld;
    uint256 private _totalOwed;
    uint256 private _challengeCount;
    mapping(uint256 challengeId => Challenge) private _challenges;
    mapping(uint256 challengeId => Vote[]) private _votes;
    mapping(uint256 challengeId => mapping(address validator => bool)) private _voted;
    mapping(uint256 taskId => mapping(uint32 round => uint256 challengeId)) private _openChallenge;
    mapping(address account => uint256) private _balances;

    /**
     * @notice Deploys the court for one FedTask (grant it FedTask's `COURT_ROLE` afterwards).
     * @param token_ The token (must be FedTask's).
     * @param fedTask_ The FedTask.
     * @param admin Receives `DEFAULT_ADMIN_ROLE` and `PAUSER_ROLE`.
     * @param minValidatorStake_ Smallest validator stake (non-zero).
     * @param challengeBond_ Bond of a challenge (non-zero).
     * @param votingPeriod_ Seconds a challenge takes votes (non-zero).
     * @param exitCooldown_ Seconds between a validator's exit and its withdrawal (non-zero).
     */
    constructor(
        IERC20 token_,
        IFedTask fedTask_,
        address admin,
        uint256 minValidatorStake_,
        uint256 challengeBond_,
        uint64 votingPeriod_,
        uint64 exitCooldown_
    ) {
        if (address(fedTask_) == address(0)) revert CourtInvalidConfig("fedTask");
        if (address(token_) == address(0) || address(fedTask_.token()) != address(token_))
            revert CourtInvalidConfig("token");
        if (admin == address(0)) revert CourtInvalidConfig("admin");
        if (minValidatorStake_ == 0) revert CourtInvalidConfig("minValidatorStake");
        if (challengeBond_ == 0) revert CourtInvalidConfig("challengeBond");
        if (votingPeriod_ == 0) revert CourtInvalidConfig("votingPeriod");
        if (exitCooldown_ == 0) revert CourtInvalidConfig("exitCooldown");
        _token = token_;
        _fedTask = fedTask_;
        _minValidatorStake = minValidatorStake_;
        _challengeBond = challengeBond_;
        _votingPeriod = votingPeriod_;
        _exitCooldown = exitCooldown_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(PAUSER_ROLE, admin);
    }

    // ------------------------------------------------------------------ admin

    /// @inheritdoc IChallengeCourt
    function pause() external onlyRole(PAUSER_ROLE) {
        _pause();
    }

    /// @inheritdoc IChallengeCourt
    function unpause() external onlyRole(PAUSER_ROLE) {
        _unpause();
    }

    // ------------------------------------------------------------------ validators

    /// @inheritdoc IChallengeCourt
    function registerValidator(uint256 amount) external whenNotPaused nonReentrant {
        Validator storage v = _validators[msg.sender];
        if (v.active || v.stake != 0) revert CourtAlreadyValidator(msg.sender);
        if (v.strikes >= MAX_STRIKES) revert CourtValidatorStruckOut(msg.sender, v.strikes);
        if (_active.length >= MAX_VALIDATORS) revert CourtValidatorSetFull(MAX_VALIDATORS);
        uint256 stake = _pull(amount);
        if (stake < _minValidatorStake) revert CourtStakeTooLow(stake, _minValidatorStake);

        v.stake = stake;
        v.registeredAt = uint64(block.timestamp);
        v.exitAt = 0;
        v.active = true;
        _active.push(msg.sender);
        _activeStake += stake;
        _totalValidatorStake += stake;
        emit ValidatorRegistered(msg.sender, stake);
    }

    /// @inheritdoc IChallengeCourt
    function addStake(uint256 amount) external whenNotPaused nonReentrant {
        Validator storage v = _validators[msg.sender];
        if (!v.active) revert CourtNotValidator(msg.sender);
        uint256 added = _pull(amount);

        v.stake += added;
        _activeStake += added;
        _totalValidatorStake += added;
        emit ValidatorStakeAdded(msg.sender, added, v.stake);
    }

    /// @inheritdoc IChallengeCourt
    function requestExit() external nonReentrant {
        if (!_validators[msg.sender].active) revert CourtNotValidator(msg.sender);
        _deactivate(msg.sender, false);
    }

    /// @inheritdoc IChallengeCourt
    function withdrawValidatorStake() external nonReentrant {
        Validator storage v = _validators[msg.sender];
        if (v.active) revert CourtExitNotRequested(msg.sender);
        uint256 amount = v.stake;
        if (amount == 0) revert CourtNothingToWithdraw(msg.sender);
        if (block.timestamp < v.exitAt) revert CourtExitPending(msg.sender, v.exitAt);
        if (v.pendingVotes != 0) revert CourtVotesPending(msg.sender, v.pendingVotes);

        v.stake = 0;
        _totalValidatorStake -= amount;
        emit ValidatorStakeWithdrawn(msg.sender, amount);

        _token.safeTransfer(msg.sender, amount);
    }

    // ------------------------------------------------------------------ challenges

    /// @inheritdoc IChallengeCourt
    function challenge(
        uint256 taskId,
        uint32 round,
        address accused,
        string calldata evidenceCid,
        bytes32 correctedRoot,
        bytes calldata correctedShares
    ) external whenNotPaused nonReentrant returns (uint256 challengeId) {
        _checkChallenge(taskId, round, accused, correctedShares);
        uint256 bond = _pull(_challengeBond);

        challengeId = ++_challengeCount;
        uint64 votingEnds = uint64(block.timestamp) + _votingPeriod;
        Challenge storage c = _challenges[challengeId];
        c.taskId = taskId;
        c.round = round;
        c.challenger = msg.sender;
        c.openedAt = uint64(block.timestamp);
        c.accused = accused;
        c.votingEnds = votingEnds;
        c.status = ChallengeStatus.Open;
        // At most MAX_VALIDATORS.
        c.activeValidators = uint32(_active.length);
        c.bond = bond;
        c.activeStake = _activeStake;
        if (accused == address(0)) {
            c.correctedRoot = correctedRoot;
            c.correctedShares = correctedShares;
        }
        _openChallenge[taskId][round] = challengeId;
        _bondsHeld += bond;
        emit ChallengeOpened(
            challengeId,
            taskId,
            round,
            msg.sender,
            accused,
            bond,
            evidenceCid,
            c.correctedRoot,
            c.correctedShares,
            votingEnds
        );

        _fedTask.openDispute(taskId, round);
    }

    /// @inheritdoc IChallengeCourt
    function vote(
        uint256 challengeId,
        uint16 upholdBps,
        string calldata evidenceCid
    ) external whenNotPaused nonReentrant {
        Challenge storage c = _challenges[challengeId];
        if (c.status != ChallengeStatus.Open) revert CourtChallengeNotOpen(challengeId, c.status);
        if (block.timestamp >= c.votingEnds) revert CourtVotingClosed(challengeId, c.votingEnds);
        Validator storage v = _validators[msg.sender];
        if (!v.active) revert CourtNotValidator(msg.sender);
        if (v.registeredAt > c.openedAt) revert CourtNotEligible(challengeId, msg.sender);
        if (_voted[challengeId][msg.sender]) revert CourtAlreadyVoted(challengeId, msg.sender);
        if (upholdBps > BPS) revert CourtInvalidVote(upholdBps);

        _voted[challengeId][msg.sender] = true;
        _votes[challengeId].push(Vote({validator: msg.sender, upholdBps: upholdBps, weight: v.stake}));
        ++c.votes;
        ++v.pendingVotes;
        emit VoteCast(challengeId, msg.sender, upholdBps, v.stake, evidenceCid);
    }

    /// @inheritdoc IChallengeCourt
    function resolve(uint256 challengeId) external nonReentrant {
        Challenge storage c = _challenges[challengeId];
        if (c.status != ChallengeStatus.Open) revert CourtChallengeNotOpen(challengeId, c.status);
        if (block.timestamp < c.votingEnds && c.votes < c.activeValidators) {
            revert CourtVotingOpen(challengeId, c.votingEnds);
        }

        Vote[] storage votes = _votes[challengeId];
        uint256 votingStake = _releaseVotes(votes);
        delete _openChallenge[c.taskId][c.round];
        _bondsHeld -= c.bond;
        if (votingStake == 0 || votingStake * 2 < c.activeStake) {
            c.status = ChallengeStatus.Dismissed;
            _credit(c.challenger, c.bond);
            emit ChallengeResolved(challengeId, ChallengeStatus.Dismissed, 0, votingStake, c.bond, 0);
            _fedTask.resolveDispute(c.taskId, c.round, false, bytes32(0), "");
            return;
        }
        uint16 consensus = _weightedMedian(votes, votingStake);
        bool upheld = consensus > UPHOLD_ABOVE_BPS;
        c.consensusBps = consensus;
        c.status = upheld ? ChallengeStatus.Upheld : ChallengeStatus.Rejected;
        _strikeUntrusted(votes, consensus);

        // The payouts depend on what FedTask's verdict actually transfers (the coordinator's slash).
        (uint256 challengerPaid, uint256 pot) = _executeVerdict(c, upheld);
        _credit(c.challenger, challengerPaid);
        uint256 validatorsPaid = _reward(challengeId, votes, consensus, pot);
        emit ChallengeResolved(challengeId, c.status, consensus, votingStake, challengerPaid, validatorsPaid);
    }

    /// @inheritdoc IChallengeCourt
    function withdraw() external nonReentrant {
        uint256 amount = _balances[msg.sender];
        if (amount == 0) revert CourtNothingToWithdraw(msg.sender);

        _balances[msg.sender] = 0;
        _totalOwed -= amount;
        emit Withdrawn(msg.sender, amount);

        _token.safeTransfer(msg.sender, amount);
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc IChallengeCourt
    function getChallenge(uint256 challengeId) external view returns (ChallengeInfo memory info) {
        Challenge storage c = _challenges[challengeId];
        info.taskId = c.taskId;
        info.round = c.round;
        info.challenger = c.challenger;
        info.accused = c.accused;
        info.status = c.status;
        info.openedAt = c.openedAt;
        info.votingEnds = c.votingEnds;
        info.bond = c.bond;
        info.correctedRoot = c.correctedRoot;
        info.correctedShares = c.correctedShares;
        info.activeStake = c.activeStake;
        info.activeValidators = c.activeValidators;
        info.votes = c.votes;
        info.consensusBps = c.consensusBps;
    }

    /// @inheritdoc IChallengeCourt
    function getVotes(uint256 challengeId) external view returns (Vote[] memory votes) {
        return _votes[challengeId];
    }

    /// @inheritdoc IChallengeCourt
    function getValidator(address account) external view returns (ValidatorInfo memory info) {
        Validator storage v = _validators[account];
        return
            ValidatorInfo({
                stake: v.stake,
                registeredAt: v.registeredAt,
                exitAt: v.exitAt,
                pendingVotes: v.pendingVotes,
                strikes: v.strikes,
                active: v.active
            });
    }

    /// @inheritdoc IChallengeCourt
    function activeValidators() external view returns (address[] memory validators) {
        return _active;
    }

    /// @inheritdoc IChallengeCourt
    function activeStake() external view returns (uint256 stake) {
        return _activeStake;
    }

    /// @inheritdoc IChallengeCourt
    function totalValidatorStake() external view returns (uint256 stake) {
        return _totalValidatorStake;
    }

    /// @inheritdoc IChallengeCourt
    function bondsHeld() external view returns (uint256 amount) {
        return _bondsHeld;
    }

    /// @inheritdoc IChallengeCourt
    function totalOwed() external view returns (uint256 amount) {
        return _totalOwed;
    }

    /// @inheritdoc IChallengeCourt
    function balanceOf(address account) external view returns (uint256 amount) {
        return _balances[account];
    }

    /// @inheritdoc IChallengeCourt
    function openChallengeOf(uint256 taskId, uint32 round) external view returns (uint256 challengeId) {
        return _openChallenge[taskId][round];
    }

    /// @inheritdoc IChallengeCourt
    function challengeCount() external view returns (uint256 count) {
        return _challengeCount;
    }

    /// @inheritdoc IChallengeCourt
    function token() external view returns (IERC20 rewardToken) {
        return _token;
    }

    /// @inheritdoc IChallengeCourt
    function fedTask() external view returns (IFedTask escrow) {
        return _fedTask;
    }

    /// @inheritdoc IChallengeCourt
    function minValidatorStake() external view returns (uint256 amount) {
        return _minValidatorStake;
    }

    /// @inheritdoc IChallengeCourt
    function challengeBond() external view returns (uint256 amount) {
        return _challengeBond;
    }

    /// @inheritdoc IChallengeCourt
    function votingPeriod() external view returns (uint64 period) {
        return _votingPeriod;
    }

    /// @inheritdoc IChallengeCourt
    function exitCooldown() external view returns (uint64 period) {
        return _exitCooldown;
    }

    // ------------------------------------------------------------------ private

    /**
     * @dev Pulls `amount` from the caller and returns what this contract actually received.
     * @param amount The amount asked for.
     * @return received The balance increase.
     */
    function _pull(uint256 amount) private returns (uint256 received) {
        uint256 before = _token.balanceOf(address(this));
        _token.safeTransferFrom(msg.sender, address(this), amount);
        return _token.balanceOf(address(this)) - before;
    }

    /**
     * @dev Adds `amount` to `account`'s withdrawable balance.
     * @param account The account.
     * @param amount The amount.
     */
    function _credit(address account, uint256 amount) private {
        if (amount == 0) return;
        _balances[account] += amount;
        _totalOwed += amount;
    }

    /**
     * @dev Removes a validator from the active set and starts its exit cooldown.
     * @param account The validator (active).
     * @param struckOut Whether strikes deactivate it.
     */
    function _deactivate(address account, bool struckOut) private {
        Validator storage v = _validators[account];
        uint256 count = _active.length;
        for (uint256 i = 0; i < count; ++i) {
            if (_active[i] == account) {
                _active[i] = _active[count - 1];
                _active.pop();
                break;
            }
        }
        uint64 exitAt = uint64(block.timestamp) + _exitCooldown;
        v.active = false;
        v.exitAt = exitAt;
        _activeStake -= v.stake;
        emit ValidatorExited(account, exitAt, struckOut);
    }

    /**
     * @dev Checks a challenge before its bond is pulled (see {challenge} for the order).
     * @param taskId The task.
     * @param round The round.
     * @param accused The accused participant, or zero.
     * @param correctedShares The corrected shares, or empty.
     */
    function _checkChallenge(
        uint256 taskId,
        uint32 round,
        address accused,
        bytes calldata correctedShares
    ) private view {
        if (!_fedTask.isParticipant(taskId, msg.sender)) revert CourtNotParticipant(taskId, msg.sender);
        if (accused != address(0)) {
            if (!_fedTask.isParticipant(taskId, accused)) revert CourtNotParticipant(taskId, accused);
            if (accused == msg.sender) revert CourtInvalidAccused(taskId, accused);
        }
        (uint64 claimableAt, ) = _fedTask.roundClaimableAt(taskId, round);
        if (claimableAt == 0 || block.timestamp >= claimableAt) {
            revert CourtOutsideWindow(taskId, round, claimableAt);
        }
        uint256 open = _openChallenge[taskId][round];
        if (open != 0) revert CourtChallengeAlreadyOpen(taskId, round, open);
        if (correctedShares.length != 0) {
            IFedTask.TaskInfo memory task = _fedTask.getTask(taskId);
            if (
                accused != address(0) ||
                round != task.totalRounds ||
                correctedShares.length != 2 * uint256(task.participantCount) ||
                _sumShares(correctedShares) != BPS
            ) revert CourtInvalidShares(taskId, round);
        }
    }

    /**
     * @dev Executes the verdict on FedTask and works out the payouts (see {IChallengeCourt}).
     * @param c The challenge.
     * @param upheld Whether the consensus upholds it.
     * @return challengerPaid Owed to the challenger.
     * @return pot To share among the trusted validators.
     */
    function _executeVerdict(Challenge storage c, bool upheld) private returns (uint256 challengerPaid, uint256 pot) {
        uint256 bond = c.bond;
        if (!upheld) {
            _fedTask.resolveDispute(c.taskId, c.round, false, bytes32(0), "");
            return (0, bond);
        }
        if (c.accused != address(0)) {
            uint16 slashBps = _fedTask.getTask(c.taskId).slashBps;
            _fedTask.slashParticipant(c.taskId, c.accused, slashBps);
            _fedTask.resolveDispute(c.taskId, c.round, false, bytes32(0), "");
            return (bond, 0);
        }
        uint256 before = _token.balanceOf(address(this));
        _fedTask.resolveDispute(c.taskId, c.round, true, c.correctedRoot, c.correctedShares);
        uint256 slashed = _token.balanceOf(address(this)) - before;
        uint256 reward = Math.mulDiv(slashed, CHALLENGER_REWARD_BPS, BPS);
        return (bond + reward, slashed - reward);
    }

    /**
     * @dev Gives a strike to every voter deviating from the consensus by more than {TRUST_THRESHOLD_BPS}
     * (before the verdict's external calls).
     * @param votes The votes.
     * @param consensus The consensus.
     */
    function _strikeUntrusted(Vote[] storage votes, uint16 consensus) private {
        uint256 count = votes.length;
        for (uint256 i = 0; i < count; ++i) {
            if (_deviation(votes[i].upholdBps, consensus) > TRUST_THRESHOLD_BPS) _strike(votes[i].validator);
        }
    }

    /**
     * @dev Shares `pot` among the trusted voters pro rata `stake x trust`, with prefix sums so that the shares add
     * up to exactly `pot`, and reports each voter's standing.
     * @param challengeId The challenge.
     * @param votes The votes.
     * @param consensus The consensus.
     * @param pot The amount to share.
     * @return paid The amount credited (`pot`).
     */
    function _reward(
        uint256 challengeId,
        Vote[] storage votes,
        uint16 consensus,
        uint256 pot
    ) private returns (uint256 paid) {
        uint256 count = votes.length;
        uint256[] memory points = new uint256[](count);
        uint256 totalPoints = 0;
        for (uint256 i = 0; i < count; ++i) {
            uint256 deviation = _deviation(votes[i].upholdBps, consensus);
            if (deviation <= TRUST_THRESHOLD_BPS) {
                points[i] = votes[i].weight * (BPS - deviation);
                totalPoints += points[i];
            }
        }
        // The median voter deviates by 0 and has a positive stake, so totalPoints > 0.
        uint256 cumulative = 0;
        for (uint256 i = 0; i < count; ++i) {
            Vote storage v = votes[i];
            uint256 reward = 0;
            if (points[i] != 0) {
                cumulative += points[i];
                uint256 through = Math.mulDiv(pot, cumulative, totalPoints);
                reward = through - paid;
                paid = through;
                _credit(v.validator, reward);
            }
            uint16 trust = uint16(BPS - _deviation(v.upholdBps, consensus));
            emit ValidatorJudged(
                challengeId,
                v.validator,
                trust,
                points[i] != 0,
                reward,
                _validators[v.validator].strikes
            );
        }
    }

    /**
     * @dev `|vote - consensus|`.
     * @param vote_ A vote.
     * @param consensus The consensus.
     * @return deviation The distance.
     */
    function _deviation(uint16 vote_, uint16 consensus) private pure returns (uint256 deviation) {
        return vote_ > consensus ? vote_ - consensus : consensus - vote_;
    }

    /**
     * @dev Adds a strike; {MAX_STRIKES} deactivate an active validator.
     * @param account The validator.
     */
    function _strike(address account) private {
        Validator storage v = _validators[account];
        uint8 strikes = v.strikes + 1;
        v.strikes = strikes;
        if (strikes >= MAX_STRIKES && v.active) _deactivate(account, true);
    }

    /**
     * @dev Sums the votes' weights and releases each voter's pending vote.
     * @param votes The votes.
     * @return votingStake The sum of the weights.
     */
    function _releaseVotes(Vote[] storage votes) private returns (uint256 votingStake) {
        uint256 count = votes.length;
        for (uint256 i = 0; i < count; ++i) {
            votingStake += votes[i].weight;
            --_validators[votes[i].validator].pendingVotes;
        }
    }

    /**
     * @dev The stake-weighted lower median of the votes: the smallest vote `m` such that the votes at or
     * below `m` carry at least half of the voting stake.
     * @param votes The votes (at most {MAX_VALIDATORS}).
     * @param votingStake The sum of their weights (non-zero).
     * @return median The median vote.
     */
    function _weightedMedian(Vote[] storage votes, uint256 votingStake) private view returns (uint16 median) {
        uint256 count = votes.length;
        uint16[] memory values = new uint16[](count);
        uint256[] memory weights = new uint256[](count);
        for (uint256 i = 0; i < count; ++i) {
            uint16 value = votes[i].upholdBps;
            uint256 weight = votes[i].weight;
            uint256 j = i;
            while (j > 0 && values[j - 1] > value) {
                values[j] = values[j - 1];
                weights[j] = weights[j - 1];
                --j;
            }
            values[j] = value;
            weights[j] = weight;
        }
        uint256 cumulative = 0;
        for (uint256 i = 0; i < count; ++i) {
            cumulative += weights[i];
            if (cumulative * 2 >= votingStake) return values[i];
        }
        return values[count - 1];
    }

    /**
     * @dev Sum of big-endian uint16 entries.
     * @param packed The entries.
     * @return sum The sum.
     */
    function _sumShares(bytes calldata packed) private pure returns (uint256 sum) {
        uint256 entries = packed.length / 2;
        for (uint256 i = 0; i < entries; ++i) {
            sum += uint16(bytes2(packed[2 * i:2 * i + 2]));
        }
    }
}
