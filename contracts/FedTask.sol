// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

import {IFedTask} from "./interfaces/IFedTask.sol";

/**
 * @title FedTask
 * @notice Escrow and round bookkeeping for every fedmarket federated-learning task.
 * @dev Lifecycle: Joining -> (first round opened) Training -> (last round finalised) Completed, or
 * Joining -> Cancelled by the sponsor with a full refund. Rewards are allocated at finalisation into a
 * per-account balance and pulled with {claimRewards}. Token transfers follow checks-effects-interactions
 * and the paying functions are also `nonReentrant`.
 *
 * Invariant: `token.balanceOf(this) == sum of every task's escrow + sum of every account's owed`
 * (tokens sent to this contract directly are not accounted for and stay here).
 */
contract FedTask is IFedTask, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @dev A task as stored (see {TaskInfo} for the fields).
    struct Task {
        address sponsor;
        uint32 totalRounds;
        uint32 currentRound;
        uint32 maxParticipants;
        address coordinator;
        bool roundOpen;
        TaskStatus status;
        uint256 pool;
        uint256 escrow;
        bytes32 specHash;
        bytes32 modelHash;
        string specCid;
        string modelCid;
        address[] participants;
    }

    /// @dev A participant's update for a round.
    struct Update {
        bytes32 updateHash;
        uint64 samples;
        bool submitted;
    }

    /// @inheritdoc IFedTask
    uint32 public constant MAX_PARTICIPANTS = 256;

    IERC20 private immutable _token;

    uint256 private _taskCount;
    mapping(uint256 taskId => Task) private _tasks;
    mapping(uint256 taskId => mapping(address account => bool)) private _joined;
    mapping(uint256 taskId => mapping(uint32 round => mapping(address participant => Update))) private _updates;
    mapping(address account => uint256) private _owed;

    /**
     * @notice Deploys the escrow for one token.
     * @param token_ The token every task is funded and paid in.
     */
    constructor(IERC20 token_) {
        _token = token_;
    }

    /// @inheritdoc IFedTask
    function createTask(
        string calldata specCid,
        bytes32 specHash,
        address coordinator,
        uint256 pool,
        uint32 totalRounds,
        uint32 maxParticipants
    ) external nonReentrant returns (uint256 taskId) {
        if (coordinator == address(0)) revert TaskInvalidConfig("coordinator");
        if (pool == 0) revert TaskInvalidConfig("pool");
        if (totalRounds == 0) revert TaskInvalidConfig("totalRounds");
        if (maxParticipants == 0 || maxParticipants > MAX_PARTICIPANTS) revert TaskInvalidConfig("maxParticipants");
        if (specHash == bytes32(0)) revert TaskInvalidConfig("specHash");

        taskId = ++_taskCount;
        Task storage task = _tasks[taskId];
        task.sponsor = msg.sender;
        task.coordinator = coordinator;
        task.totalRounds = totalRounds;
        task.maxParticipants = maxParticipants;
        task.status = TaskStatus.Joining;
        task.pool = pool;
        task.escrow = pool;
        task.specHash = specHash;
        task.specCid = specCid;
        emit TaskCreated(taskId, msg.sender, coordinator, pool, totalRounds, maxParticipants, specCid, specHash);

        _token.safeTransferFrom(msg.sender, address(this), pool);
    }

    /// @inheritdoc IFedTask
    function joinTask(uint256 taskId) external {
        Task storage task = _existingTask(taskId);
        if (task.status != TaskStatus.Joining) revert TaskNotJoining(taskId, task.status);
        if (_joined[taskId][msg.sender]) revert TaskAlreadyJoined(taskId, msg.sender);
        uint256 count = task.participants.length;
        if (count >= task.maxParticipants) revert TaskFull(taskId, task.maxParticipants);

        _joined[taskId][msg.sender] = true;
        task.participants.push(msg.sender);
        // count < maxParticipants <= MAX_PARTICIPANTS, so the cast is safe.
        emit TaskJoined(taskId, msg.sender, uint32(count));
    }

    /// @inheritdoc IFedTask
    function cancelTask(uint256 taskId) external nonReentrant {
        Task storage task = _existingTask(taskId);
        if (task.sponsor != msg.sender) revert TaskNotSponsor(taskId, msg.sender);
        if (task.status != TaskStatus.Joining) revert TaskNotJoining(taskId, task.status);

        uint256 refund = task.escrow;
        task.escrow = 0;
        task.status = TaskStatus.Cancelled;
        emit TaskCancelled(taskId, refund);

        _token.safeTransfer(msg.sender, refund);
    }

    /// @inheritdoc IFedTask
    function openRound(uint256 taskId, uint32 round, string calldata modelCid, bytes32 modelHash) external {
        Task storage task = _existingTask(taskId);
        if (task.coordinator != msg.sender) revert TaskNotCoordinator(taskId, msg.sender);
        TaskStatus status = task.status;
        if (status == TaskStatus.Completed || status == TaskStatus.Cancelled) revert TaskNotActive(taskId, status);
        uint32 lastRound = task.currentRound;
        if (round != lastRound + 1) revert TaskRoundOutOfOrder(taskId, lastRound + 1, round);
        if (task.roundOpen) revert TaskRoundStillOpen(taskId, lastRound);
        if (task.participants.length == 0) revert TaskNoParticipants(taskId);
        if (modelHash == bytes32(0)) revert TaskInvalidConfig("modelHash");

        if (status == TaskStatus.Joining) task.status = TaskStatus.Training;
        task.currentRound = round;
        task.roundOpen = true;
        task.modelCid = modelCid;
        task.modelHash = modelHash;
        emit RoundOpened(taskId, round, modelCid, modelHash);
    }

    /// @inheritdoc IFedTask
    function submitUpdate(
        uint256 taskId,
        uint32 round,
        bytes32 updateHash,
        string calldata updateCid,
        uint64 samples
    ) external {
        Task storage task = _existingTask(taskId);
        if (!_joined[taskId][msg.sender]) revert TaskNotParticipant(taskId, msg.sender);
        if (!_isOpenRound(task, round)) revert TaskRoundNotOpen(taskId, round);
        Update storage update = _updates[taskId][round][msg.sender];
        if (update.submitted) revert TaskUpdateAlreadySubmitted(taskId, round, msg.sender);
        if (samples == 0) revert TaskInvalidConfig("samples");
        if (updateHash == bytes32(0)) revert TaskInvalidConfig("updateHash");

        update.updateHash = updateHash;
        update.samples = samples;
        update.submitted = true;
        emit UpdateSubmitted(taskId, round, msg.sender, updateHash, updateCid, samples);
    }

    /// @inheritdoc IFedTask
    function finalizeRound(
        uint256 taskId,
        uint32 round,
        string calldata newModelCid,
        bytes32 newModelHash,
        string calldata evidenceCid,
        uint256[] calldata scores,
        uint256 budget
    ) external {
        Task storage task = _existingTask(taskId);
        if (task.coordinator != msg.sender) revert TaskNotCoordinator(taskId, msg.sender);
        uint256 paid = _settleRound(task, taskId, round, newModelHash, scores, budget);
        task.modelCid = newModelCid;
        emit RoundFinalized(taskId, round, newModelCid, newModelHash, evidenceCid, budget, paid);
        if (round == task.totalRounds) {
            task.status = TaskStatus.Completed;
            emit TaskCompleted(taskId, newModelCid, newModelHash);
        }
    }

    /// @inheritdoc IFedTask
    function claimRewards() external nonReentrant returns (uint256 amount) {
        amount = _owed[msg.sender];
        if (amount == 0) revert TaskNothingToClaim(msg.sender);

        _owed[msg.sender] = 0;
        emit RewardsClaimed(msg.sender, amount);

        _token.safeTransfer(msg.sender, amount);
    }

    /// @inheritdoc IFedTask
    function withdrawRemainder(uint256 taskId) external nonReentrant {
        Task storage task = _existingTask(taskId);
        if (task.sponsor != msg.sender) revert TaskNotSponsor(taskId, msg.sender);
        if (task.status != TaskStatus.Completed) revert TaskNotFinished(taskId, task.status);
        uint256 amount = task.escrow;
        if (amount == 0) revert TaskNothingToClaim(msg.sender);

        task.escrow = 0;
        emit RemainderWithdrawn(taskId, msg.sender, amount);

        _token.safeTransfer(msg.sender, amount);
    }

    /// @inheritdoc IFedTask
    function getTask(uint256 taskId) external view returns (TaskInfo memory info) {
        Task storage task = _existingTask(taskId);
        return TaskInfo({
            sponsor: task.sponsor,
            coordinator: task.coordinator,
            pool: task.pool,
            escrow: task.escrow,
            totalRounds: task.totalRounds,
            currentRound: task.currentRound,
            roundOpen: task.roundOpen,
            status: task.status,
            maxParticipants: task.maxParticipants,
            specCid: task.specCid,
            specHash: task.specHash,
            modelCid: task.modelCid,
            modelHash: task.modelHash
        });
    }

    /// @inheritdoc IFedTask
    function getParticipants(uint256 taskId) external view returns (address[] memory participants) {
        return _existingTask(taskId).participants;
    }

    /// @inheritdoc IFedTask
    function isParticipant(uint256 taskId, address account) external view returns (bool joined) {
        return _joined[taskId][account];
    }

    /// @inheritdoc IFedTask
    function getUpdate(
        uint256 taskId,
        uint32 round,
        address participant
    ) external view returns (bytes32 updateHash, uint64 samples, bool submitted) {
        Update storage update = _updates[taskId][round][participant];
        return (update.updateHash, update.samples, update.submitted);
    }

    /// @inheritdoc IFedTask
    function owed(address account) external view returns (uint256 amount) {
        return _owed[account];
    }

    /// @inheritdoc IFedTask
    function taskCount() external view returns (uint256 count) {
        return _taskCount;
    }

    /// @inheritdoc IFedTask
    function token() external view returns (IERC20 rewardToken) {
        return _token;
    }

    /**
     * @dev Checks a round being finalised (after the caller check), closes it, records the new model hash
     * and allocates the budget. See {finalizeRound} for the checks and their order.
     * @param task The stored task.
     * @param taskId The task's id.
     * @param round The round being finalised.
     * @param newModelHash Hash of the aggregated model.
     * @param scores One score per participant, in join order.
     * @param budget Amount to allocate.
     * @return paid The amount allocated: `budget`, or 0 when every score is 0.
     */
    function _settleRound(
        Task storage task,
        uint256 taskId,
        uint32 round,
        bytes32 newModelHash,
        uint256[] calldata scores,
        uint256 budget
    ) private returns (uint256 paid) {
        // Rounds 1..finalised are behind us: every opened round but the open one, if any.
        uint32 finalised = task.roundOpen ? task.currentRound - 1 : task.currentRound;
        if (round != 0 && round <= finalised) revert TaskRoundAlreadyFinalized(taskId, round);
        if (!_isOpenRound(task, round)) revert TaskRoundNotOpen(taskId, round);
        uint256 totalScore = _totalScore(taskId, round, task.participants, scores);
        uint256 escrow = task.escrow;
        if (budget > escrow) revert TaskEscrowExceeded(taskId, budget, escrow);
        if (newModelHash == bytes32(0)) revert TaskInvalidConfig("modelHash");

        paid = totalScore == 0 ? 0 : budget;
        task.escrow = escrow - paid;
        task.roundOpen = false;
        task.modelHash = newModelHash;
        _allocate(taskId, round, task.participants, scores, paid, totalScore);
    }

    /**
     * @dev Checks the scores of a round being finalised and returns their sum.
     * @param taskId The task's id.
     * @param round The round being finalised.
     * @param participants The task's participants, in join order.
     * @param scores One score per participant; positive only for participants who submitted an update.
     * @return total The sum of the scores.
     */
    function _totalScore(
        uint256 taskId,
        uint32 round,
        address[] storage participants,
        uint256[] calldata scores
    ) private view returns (uint256 total) {
        uint256 count = participants.length;
        if (scores.length != count) revert TaskScoresLengthMismatch(taskId, count, scores.length);
        mapping(address participant => Update) storage updates = _updates[taskId][round];
        for (uint256 i = 0; i < count; ++i) {
            uint256 score = scores[i];
            if (score != 0) {
                address participant = participants[i];
                if (!updates[participant].submitted) revert TaskScoreWithoutUpdate(taskId, round, participant);
                total += score;
            }
        }
    }

    /**
     * @dev Credits each participant its share of `paid` and emits one {RewardAllocated} per participant.
     * Participant `i` gets `paid * C_i / S - paid * C_{i-1} / S`, where `C_i` are the prefix sums of
     * `scores` and `S = totalScore`; the shares telescope to exactly `paid`.
     * @param taskId The task's id.
     * @param round The round being finalised.
     * @param participants The task's participants, in join order.
     * @param scores One score per participant.
     * @param paid The amount to allocate (0 when `totalScore` is 0).
     * @param totalScore The sum of `scores`.
     */
    function _allocate(
        uint256 taskId,
        uint32 round,
        address[] storage participants,
        uint256[] calldata scores,
        uint256 paid,
        uint256 totalScore
    ) private {
        uint256 count = participants.length;
        uint256 prefix;
        uint256 allocatedBefore;
        for (uint256 i = 0; i < count; ++i) {
            address participant = participants[i];
            uint256 amount;
            if (paid != 0) {
                prefix += scores[i];
                uint256 allocatedThrough = Math.mulDiv(paid, prefix, totalScore);
                amount = allocatedThrough - allocatedBefore;
                allocatedBefore = allocatedThrough;
                if (amount != 0) _owed[participant] += amount;
            }
            emit RewardAllocated(taskId, round, participant, scores[i], amount);
        }
    }

    /**
     * @dev Returns the stored task `taskId`, reverting with {TaskUnknown} when there is none.
     * @param taskId The task's id.
     * @return task The stored task.
     */
    function _existingTask(uint256 taskId) private view returns (Task storage task) {
        task = _tasks[taskId];
        if (task.status == TaskStatus.None) revert TaskUnknown(taskId);
    }

    /**
     * @dev Whether `round` is the task's open round.
     * @param task The stored task.
     * @param round The round.
     * @return open True when `round` has been opened and not finalised.
     */
    function _isOpenRound(Task storage task, uint32 round) private view returns (bool open) {
        return task.roundOpen && task.currentRound == round;
    }
}
