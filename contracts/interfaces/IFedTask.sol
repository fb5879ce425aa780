// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/**
 * @title IFedTask
 * @notice Types, errors, events and functions of the fedmarket task escrow.
 * @dev One contract holds every federated-learning task. A sponsor escrows a reward pool; participants
 * join; a coordinator opens rounds, participants submit model updates, and the coordinator finalises each
 * round with per-participant scores and a budget that is split pro rata to the scores. Rewards are pulled
 * with {claimRewards}; the sponsor withdraws what is left once the task is completed.
 *
 * Invariant: `token.balanceOf(this) == sum of every task's escrow + sum of every account's owed`.
 */
interface IFedTask {
    /// @notice Lifecycle of a task: Joining -> Training -> Completed, or Joining -> Cancelled.
    enum TaskStatus {
        None,
        Joining,
        Training,
        Completed,
        Cancelled
    }

    /**
     * @notice A task as returned by {getTask}.
     * @param sponsor Account that created the task and funded its pool.
     * @param coordinator Account that opens and finalises rounds.
     * @param pool Amount escrowed at creation.
     * @param escrow Amount still held for the task (pool minus rewards allocated, refunds and withdrawals).
     * @param totalRounds Number of rounds; the task completes when round `totalRounds` is finalised.
     * @param currentRound The last opened round (0 before the first).
     * @param roundOpen Whether `currentRound` is open (not finalised yet).
     * @param status Lifecycle status.
     * @param maxParticipants Most participants the task accepts.
     * @param specCid Content identifier of the task specification.
     * @param specHash Hash of the task specification.
     * @param modelCid Model of the open round, or the latest finalised model when no round is open.
     * @param modelHash Hash of that model.
     */
    struct TaskInfo {
        address sponsor;
        address coordinator;
        uint256 pool;
        uint256 escrow;
        uint32 totalRounds;
        uint32 currentRound;
        bool roundOpen;
        TaskStatus status;
        uint32 maxParticipants;
        string specCid;
        bytes32 specHash;
        string modelCid;
        bytes32 modelHash;
    }

    /**
     * @notice A parameter is zero or out of range.
     * @param field Name of the parameter ("coordinator", "pool", "totalRounds", "maxParticipants",
     * "specHash", "modelHash", "samples" or "updateHash").
     */
    error TaskInvalidConfig(string field);

    /**
     * @notice No task has this id.
     * @param taskId The id given.
     */
    error TaskUnknown(uint256 taskId);

    /**
     * @notice The task no longer accepts participants or cancellation.
     * @param taskId The task's id.
     * @param status The task's status.
     */
    error TaskNotJoining(uint256 taskId, TaskStatus status);

    /**
     * @notice The account has already joined the task.
     * @param taskId The task's id.
     * @param account The account.
     */
    error TaskAlreadyJoined(uint256 taskId, address account);

    /**
     * @notice The task has as many participants as it accepts.
     * @param taskId The task's id.
     * @param maxParticipants The task's participant limit.
     */
    error TaskFull(uint256 taskId, uint32 maxParticipants);

    /**
     * @notice Only the task's sponsor may do this.
     * @param taskId The task's id.
     * @param caller The account that tried.
     */
    error TaskNotSponsor(uint256 taskId, address caller);

    /**
     * @notice Only the task's coordinator may do this.
     * @param taskId The task's id.
     * @param caller The account that tried.
     */
    error TaskNotCoordinator(uint256 taskId, address caller);

    /**
     * @notice Rounds must be opened one after the other.
     * @param taskId The task's id.
     * @param expected The round that may be opened next.
     * @param given The round given.
     */
    error TaskRoundOutOfOrder(uint256 taskId, uint32 expected, uint32 given);

    /**
     * @notice The previous round has not been finalised yet.
     * @param taskId The task's id.
     * @param round The round still open.
     */
    error TaskRoundStillOpen(uint256 taskId, uint32 round);

    /**
     * @notice A round cannot be opened before anyone has joined.
     * @param taskId The task's id.
     */
    error TaskNoParticipants(uint256 taskId);

    /**
     * @notice The task is completed or cancelled.
     * @param taskId The task's id.
     * @param status The task's status.
     */
    error TaskNotActive(uint256 taskId, TaskStatus status);

    /**
     * @notice Only the task's participants may do this.
     * @param taskId The task's id.
     * @param caller The account that tried.
     */
    error TaskNotParticipant(uint256 taskId, address caller);

    /**
     * @notice The round is not the task's open round.
     * @param taskId The task's id.
     * @param round The round given.
     */
    error TaskRoundNotOpen(uint256 taskId, uint32 round);

    /**
     * @notice The participant has already submitted an update for this round.
     * @param taskId The task's id.
     * @param round The round.
     * @param participant The participant.
     */
    error TaskUpdateAlreadySubmitted(uint256 taskId, uint32 round, address participant);

    /**
     * @notice The round has already been finalised.
     * @param taskId The task's id.
     * @param round The round given.
     */
    error TaskRoundAlreadyFinalized(uint256 taskId, uint32 round);

    /**
     * @notice There must be one score per participant, in join order.
     * @param taskId The task's id.
     * @param expected The number of participants.
     * @param given The number of scores given.
     */
    error TaskScoresLengthMismatch(uint256 taskId, uint256 expected, uint256 given);

    /**
     * @notice A participant that submitted no update for the round was given a positive score.
     * @param taskId The task's id.
     * @param round The round.
     * @param participant The participant.
     */
    error TaskScoreWithoutUpdate(uint256 taskId, uint32 round, address participant);

    /**
     * @notice The round's budget is larger than what is left in the task's escrow.
     * @param taskId The task's id.
     * @param budget The budget given.
     * @param escrowRemaining What is left in the escrow.
     */
    error TaskEscrowExceeded(uint256 taskId, uint256 budget, uint256 escrowRemaining);

    /**
     * @notice There is nothing to pay out to this account.
     * @param account The account (the claimant, or the sponsor withdrawing a remainder).
     */
    error TaskNothingToClaim(address account);

    /**
     * @notice The task is not completed yet.
     * @param taskId The task's id.
     * @param status The task's status.
     */
    error TaskNotFinished(uint256 taskId, TaskStatus status);

    /**
     * @notice A task was created and its pool escrowed.
     * @param taskId The new task's id.
     * @param sponsor The account that funded the pool.
     * @param coordinator The account that runs the rounds.
     * @param pool The amount escrowed.
     * @param totalRounds The number of rounds.
     * @param maxParticipants The participant limit.
     * @param specCid Content identifier of the task specification.
     * @param specHash Hash of the task specification.
     */
    event TaskCreated(
        uint256 indexed taskId,
        address indexed sponsor,
        address indexed coordinator,
        uint256 pool,
        uint32 totalRounds,
        uint32 maxParticipants,
        string specCid,
        bytes32 specHash
    );

    /**
     * @notice An account joined a task.
     * @param taskId The task's id.
     * @param participant The account.
     * @param index The participant's position in join order (0-based), which is its index in `scores`.
     */
    event TaskJoined(uint256 indexed taskId, address indexed participant, uint32 index);

    /**
     * @notice The sponsor cancelled a task and got its escrow back.
     * @param taskId The task's id.
     * @param refunded The amount refunded to the sponsor.
     */
    event TaskCancelled(uint256 indexed taskId, uint256 refunded);

    /**
     * @notice The coordinator opened a round.
     * @param taskId The task's id.
     * @param round The round's number (1-based).
     * @param modelCid Content identifier of the model participants train from.
     * @param modelHash Hash of that model.
     */
    event RoundOpened(uint256 indexed taskId, uint32 indexed round, string modelCid, bytes32 modelHash);

    /**
     * @notice A participant submitted its update for a round.
     * @param taskId The task's id.
     * @param round The round.
     * @param participant The participant.
     * @param updateHash Hash of the update.
     * @param updateCid Content identifier of the update (stored in this event only).
     * @param samples Number of training samples the update was computed on.
     */
    event UpdateSubmitted(
        uint256 indexed taskId,
        uint32 indexed round,
        address indexed participant,
        bytes32 updateHash,
        string updateCid,
        uint64 samples
    );

    /**
     * @notice A participant's share of a round's budget (emitted for every participant, zero included).
     * @param taskId The task's id.
     * @param round The round.
     * @param participant The participant.
     * @param score The participant's score.
     * @param amount The amount added to what the participant is owed.
     */
    event RewardAllocated(
        uint256 indexed taskId,
        uint32 indexed round,
        address indexed participant,
        uint256 score,
        uint256 amount
    );

    /**
     * @notice The coordinator finalised a round.
     * @param taskId The task's id.
     * @param round The round.
     * @param modelCid Content identifier of the aggregated model, now the task's current model.
     * @param modelHash Hash of that model.
     * @param evidenceCid Content identifier of the evidence behind the scores.
     * @param budget The budget the coordinator set for the round.
     * @param paid The amount allocated: `budget`, or 0 when every score is 0.
     */
    event RoundFinalized(
        uint256 indexed taskId,
        uint32 indexed round,
        string modelCid,
        bytes32 modelHash,
        string evidenceCid,
        uint256 budget,
        uint256 paid
    );

    /**
     * @notice The task's last round was finalised.
     * @param taskId The task's id.
     * @param finalModelCid Content identifier of the final model.
     * @param finalModelHash Hash of the final model.
     */
    event TaskCompleted(uint256 indexed taskId, string finalModelCid, bytes32 finalModelHash);

    /**
     * @notice An account was paid everything it was owed.
     * @param account The account.
     * @param amount The amount paid.
     */
    event RewardsClaimed(address indexed account, uint256 amount);

    /**
     * @notice The sponsor of a completed task withdrew what was left in its escrow.
     * @param taskId The task's id.
     * @param sponsor The sponsor.
     * @param amount The amount withdrawn.
     */
    event RemainderWithdrawn(uint256 indexed taskId, address indexed sponsor, uint256 amount);

    /**
     * @notice Creates a task; the caller becomes its sponsor and `pool` tokens are escrowed from it.
     * @dev The caller must have approved this contract for `pool` tokens. Reverts with
     * {TaskInvalidConfig} naming the first bad field, in the order "coordinator", "pool", "totalRounds",
     * "maxParticipants", "specHash".
     * @param specCid Content identifier of the task specification.
     * @param specHash Hash of the task specification (non-zero).
     * @param coordinator Account that will open and finalise the rounds (non-zero).
     * @param pool Amount to escrow (non-zero).
     * @param totalRounds Number of rounds (non-zero).
     * @param maxParticipants Participant limit (1 to {MAX_PARTICIPANTS}).
     * @return taskId The new task's id (ids start at 1).
     */
    function createTask(
        string calldata specCid,
        bytes32 specHash,
        address coordinator,
        uint256 pool,
        uint32 totalRounds,
        uint32 maxParticipants
    ) external returns (uint256 taskId);

    /**
     * @notice Joins a task that is still accepting participants.
     * @dev Reverts with {TaskUnknown}, {TaskNotJoining}, {TaskAlreadyJoined} or {TaskFull}, checked in that order.
     * @param taskId The task's id.
     */
    function joinTask(uint256 taskId) external;

    /**
     * @notice Cancels a task that has not started training; the sponsor gets the whole escrow back.
     * @dev Reverts with {TaskUnknown}, {TaskNotSponsor} or {TaskNotJoining}, checked in that order.
     * @param taskId The task's id.
     */
    function cancelTask(uint256 taskId) external;

    /**
     * @notice Opens the next round. The first call moves the task from Joining to Training.
     * @dev Reverts with {TaskUnknown}, {TaskNotCoordinator}, {TaskNotActive}, {TaskRoundOutOfOrder},
     * {TaskRoundStillOpen}, {TaskNoParticipants} or {TaskInvalidConfig}("modelHash"), checked in that order.
     * @param taskId The task's id.
     * @param round The round to open: the last opened round plus one, once that one is finalised.
     * @param modelCid Content identifier of the model participants train from.
     * @param modelHash Hash of that model (non-zero).
     */
    function openRound(uint256 taskId, uint32 round, string calldata modelCid, bytes32 modelHash) external;

    /**
     * @notice Records the caller's update for the open round (once per participant and round).
     * @dev Reverts with {TaskUnknown}, {TaskNotParticipant}, {TaskRoundNotOpen}, {TaskUpdateAlreadySubmitted},
     * {TaskInvalidConfig}("samples") or {TaskInvalidConfig}("updateHash"), checked in that order.
     * @param taskId The task's id.
     * @param round The open round.
     * @param updateHash Hash of the update (non-zero).
     * @param updateCid Content identifier of the update (emitted, not stored).
     * @param samples Number of training samples behind the update (non-zero).
     */
    function submitUpdate(
        uint256 taskId,
        uint32 round,
        bytes32 updateHash,
        string calldata updateCid,
        uint64 samples
    ) external;

    /**
     * @notice Closes the open round, sets the new model and allocates `budget` pro rata to `scores`.
     * @dev With `S = sum(scores)` and prefix sums `C_i`, participant `i` gets
     * `budget * C_i / S - budget * C_{i-1} / S` (floor divisions), so the amounts add up to exactly `budget`.
     * When `S == 0` nothing is allocated. Rewards are credited to {owed}; no tokens move here.
     * Reverts with {TaskUnknown}, {TaskNotCoordinator}, {TaskRoundAlreadyFinalized}, {TaskRoundNotOpen},
     * {TaskScoresLengthMismatch}, {TaskScoreWithoutUpdate}, {TaskEscrowExceeded} or
     * {TaskInvalidConfig}("modelHash"), checked in that order; with a Panic if the scores' sum overflows.
     * @param taskId The task's id.
     * @param round The open round.
     * @param newModelCid Content identifier of the aggregated model.
     * @param newModelHash Hash of the aggregated model (non-zero).
     * @param evidenceCid Content identifier of the evidence behind the scores.
     * @param scores One score per participant, in join order; positive only for those who submitted.
     * @param budget Amount to allocate this round (at most the remaining escrow).
     */
    function finalizeRound(
        uint256 taskId,
        uint32 round,
        string calldata newModelCid,
        bytes32 newModelHash,
        string calldata evidenceCid,
        uint256[] calldata scores,
        uint256 budget
    ) external;

    /**
     * @notice Pays the caller everything it is owed, across all tasks.
     * @dev Reverts with {TaskNothingToClaim} when nothing is owed.
     * @return amount The amount paid.
     */
    function claimRewards() external returns (uint256 amount);

    /**
     * @notice Pays the sponsor of a completed task what is left in its escrow.
     * @dev Reverts with {TaskUnknown}, {TaskNotSponsor}, {TaskNotFinished} or {TaskNothingToClaim}, checked in
     * that order.
     * @param taskId The task's id.
     */
    function withdrawRemainder(uint256 taskId) external;

    /**
     * @notice Returns a task.
     * @param taskId The task's id (reverts with {TaskUnknown} when there is none).
     * @return info The task.
     */
    function getTask(uint256 taskId) external view returns (TaskInfo memory info);

    /**
     * @notice Returns a task's participants in join order (the order of `scores` in {finalizeRound}).
     * @param taskId The task's id (reverts with {TaskUnknown} when there is none).
     * @return participants The participants.
     */
    function getParticipants(uint256 taskId) external view returns (address[] memory participants);

    /**
     * @notice Whether an account has joined a task.
     * @param taskId The task's id.
     * @param account The account.
     * @return joined True when the account is a participant.
     */
    function isParticipant(uint256 taskId, address account) external view returns (bool joined);

    /**
     * @notice Returns a participant's update for a round.
     * @param taskId The task's id.
     * @param round The round.
     * @param participant The participant.
     * @return updateHash Hash of the update (zero when none).
     * @return samples Number of training samples behind the update (zero when none).
     * @return submitted Whether an update was submitted.
     */
    function getUpdate(
        uint256 taskId,
        uint32 round,
        address participant
    ) external view returns (bytes32 updateHash, uint64 samples, bool submitted);

    /**
     * @notice What an account can claim with {claimRewards}.
     * @param account The account.
     * @return amount The amount owed.
     */
    function owed(address account) external view returns (uint256 amount);

    /**
     * @notice Number of tasks ever created (the id of the latest one).
     * @return count The number of tasks.
     */
    function taskCount() external view returns (uint256 count);

    /**
     * @notice The reward token every task is funded and paid in.
     * @return rewardToken The token.
     */
    function token() external view returns (IERC20 rewardToken);

    /**
     * @notice The largest `maxParticipants` a task may have (it bounds the loop in {finalizeRound}).
     * @return limit The limit.
     */
    // solhint-disable-next-line func-name-mixedcase
    function MAX_PARTICIPANTS() external view returns (uint32 limit);
}
