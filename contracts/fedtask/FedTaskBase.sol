// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

import {IFedTask} from "../interfaces/IFedTask.sol";

/// @dev Most rounds a task may have ({IFedTask-MAX_ROUNDS}).
uint32 constant FEDTASK_MAX_ROUNDS = 1_000;
/// @dev Most participants a task may have ({IFedTask-MAX_PARTICIPANTS}).
uint32 constant FEDTASK_MAX_PARTICIPANTS = 1_024;
/// @dev Coordinator replacement timelock ({IFedTask-REPLACEMENT_DELAY}).
uint64 constant FEDTASK_REPLACEMENT_DELAY = 2 days;
/// @dev {IFedTask-PAUSER_ROLE}.
bytes32 constant FEDTASK_PAUSER_ROLE = keccak256("PAUSER_ROLE");
/// @dev {IFedTask-COURT_ROLE}.
bytes32 constant FEDTASK_COURT_ROLE = keccak256("COURT_ROLE");
/// @dev {IFedTask-INVITATION_TYPEHASH}.
bytes32 constant FEDTASK_INVITATION_TYPEHASH = keccak256(
    "Invitation(uint256 taskId,address participant,uint256 deadline)"
);
/// @dev {IFedTask-UPDATE_COMMITMENT_TYPEHASH}.
bytes32 constant FEDTASK_UPDATE_COMMITMENT_TYPEHASH = keccak256(
    "UpdateCommitment(uint256 taskId,uint32 round,bytes32 updateHash,uint64 samples)"
);

/**
 * @title FedTaskBase
 * @notice Storage layout and shared internals of {FedTask} and {FedTaskExtension}.
 * @dev FedTask runs the extension's code by `delegatecall`, so both contracts must have exactly this layout:
 * they inherit this contract and declare no storage of their own (immutables only). State is `internal`
 * (not private) for that reason only; nothing outside the two contracts derives from it.
 */
abstract contract FedTaskBase is AccessControl, Pausable, ReentrancyGuardTransient, EIP712 {
    using SafeERC20 for IERC20;

    /// @dev The slot of a task rewritten by the round functions (one SLOAD, one SSTORE each).
    struct State {
        uint32 lastRound;
        bool roundOpen;
        bool coordinatorStaked;
        uint32 participantCount;
        uint32 batchCount;
        uint32 directCount;
        uint64 deadline;
        uint16 openDisputes;
    }

    /// @dev A task as stored (see {TaskInfo} for the fields).
    struct Task {
        address sponsor;
        uint64 createdAt;
        uint32 totalRounds;
        address coordinator;
        uint32 maxParticipants;
        uint32 quorum;
        uint16 slashBps;
        bool permissioned;
        IFedTask.TaskStatus status;
        State state;
        // The latest round's batch root; pre-set to a sentinel at creation so that posting a batch always
        // rewrites a non-zero slot.
        bytes32 commitRoot;
        bytes32 modelHash;
        uint256 unallocated;
        uint256 pool;
        uint256 participantStake;
        uint256 coordinatorStake;
        uint256 slashedIn;
        uint256 refunded;
        bytes32 specHash;
        address pendingCoordinator;
        uint64 replacementNotBefore;
        uint64 endedAt;
        IFedTask.Schedule schedule;
        string specCid;
        bytes shares;
    }

    /// @dev A round as stored (see {RoundInfo}); the first slot is the one written by {openRound}.
    struct Round {
        uint64 commitDeadline;
        uint64 revealStart;
        uint64 revealDeadline;
        uint64 finalizeDeadline;
        uint64 claimableAt;
        address finalizer;
        uint32 accepted;
        uint128 budget;
        uint128 claimed;
        bytes32 rewardsRoot;
        uint32 commitments;
        uint32 flagCount;
        bool disputed;
        bool flagsCleared;
    }

    /// @dev A direct commitment.
    struct Commitment {
        bytes32 updateHash;
        uint64 samples;
    }

    uint256 internal constant BPS = 10_000;
    /// @dev Sentinel pre-set in a task's latest-root slot at creation, so a batch always rewrites a non-zero slot.
    bytes32 internal constant NO_ROOT = bytes32(uint256(1));

    /// @dev The token every task is funded, staked and paid in.
    IERC20 internal immutable _token;

    uint256 internal _taskCount;
    mapping(uint256 taskId => Task) internal _tasks;
    mapping(uint256 taskId => mapping(uint32 round => Round)) internal _rounds;
    mapping(uint256 taskId => mapping(uint256 index => address)) internal _participantAt;
    mapping(uint256 taskId => mapping(address account => uint32)) internal _indexPlusOne;
    mapping(uint256 taskId => mapping(address account => bool)) internal _allowed;
    mapping(uint256 taskId => mapping(address account => uint256)) internal _stakes;
    mapping(uint256 taskId => mapping(address account => uint64)) internal _releaseAt;
    mapping(uint256 taskId => mapping(uint32 round => mapping(address account => Commitment))) internal _commitments;
    mapping(uint256 taskId => mapping(uint32 round => mapping(bytes32 updateHash => address))) internal _hashOwner;
    mapping(uint256 taskId => mapping(uint32 round => mapping(uint256 word => uint256))) internal _claimedBits;
    mapping(uint256 taskId => mapping(uint32 round => mapping(address account => bool))) internal _flagged;
    mapping(uint256 taskId => mapping(address account => uint32)) internal _pendingFlags;

    /**
     * @notice Sets the token and the EIP-712 domain ("FedMarket FedTask", version "2").
     * @param token_ The token (non-zero).
     */
    constructor(IERC20 token_) EIP712("FedMarket FedTask", "2") {
        if (address(token_) == address(0)) revert IFedTask.TaskInvalidConfig("token");
        _token = token_;
    }

    /**
     * @dev Pulls `amount` from the caller and returns what this contract actually received.
     * @param amount The amount asked for (the caller must have approved this contract).
     * @return received The balance increase.
     */
    function _pull(uint256 amount) internal returns (uint256 received) {
        if (amount == 0) return 0;
        uint256 before = _token.balanceOf(address(this));
        _token.safeTransferFrom(msg.sender, address(this), amount);
        return _token.balanceOf(address(this)) - before;
    }

    /**
     * @dev Moves `bps` of `account`'s stake into the task's unallocated escrow.
     * @param task The stored task.
     * @param taskId The task's id.
     * @param account The staker.
     * @param bps Basis points of the stake.
     * @return slashed The amount moved.
     */
    function _slashIntoPool(
        Task storage task,
        uint256 taskId,
        address account,
        uint256 bps
    ) internal returns (uint256 slashed) {
        uint256 stake = _stakes[taskId][account];
        slashed = Math.mulDiv(stake, bps, BPS);
        _stakes[taskId][account] = stake - slashed;
        task.unallocated += slashed;
        task.slashedIn += slashed;
    }

    /**
     * @dev Reverts {IFedTask.TaskSharesInvalid} unless `packed` is one big-endian uint16 per participant summing to
     * exactly 10,000.
     * @param taskId The task's id.
     * @param participants The number of participants.
     * @param packed The shares.
     */
    function _checkShares(uint256 taskId, uint256 participants, bytes calldata packed) internal pure {
        uint256 entries = packed.length / 2;
        uint256 sum = 0;
        for (uint256 i = 0; i < entries; ++i) {
            sum += uint16(bytes2(packed[2 * i:2 * i + 2]));
        }
        if (packed.length != 2 * participants || sum != BPS) revert IFedTask.TaskSharesInvalid(taskId, sum);
    }

    /**
     * @dev Returns the stored task `taskId`, reverting {IFedTask.TaskUnknown} when there is none.
     * @param taskId The task's id.
     * @return task The stored task.
     */
    function _existingTask(uint256 taskId) internal view returns (Task storage task) {
        task = _tasks[taskId];
        if (task.status == IFedTask.TaskStatus.None) revert IFedTask.TaskUnknown(taskId);
    }

    /**
     * @dev Reverts {IFedTask.TaskNotActive} unless the task is in Joining or Training.
     * @param taskId The task's id.
     * @param status The task's status.
     */
    function _requireActive(uint256 taskId, IFedTask.TaskStatus status) internal pure {
        if (status != IFedTask.TaskStatus.Joining && status != IFedTask.TaskStatus.Training)
            revert IFedTask.TaskNotActive(taskId, status);
    }

    /**
     * @dev End of the challenge window of the latest finalised round (windows end in finalisation order), or
     * now when that is later or none was finalised. Rounds are finalised in order, so the latest finalised
     * round is the last opened one or, when that one was never finalised (still open, or open when the task
     * was aborted), the one before it.
     * @param taskId The task's id.
     * @param st The task's round state.
     * @return end The time.
     */
    function _windowsEnd(uint256 taskId, State memory st) internal view returns (uint64 end) {
        uint32 last = st.lastRound;
        uint64 windowEnd = last == 0 ? 0 : _rounds[taskId][last].claimableAt;
        if (windowEnd == 0 && last > 1) windowEnd = _rounds[taskId][last - 1].claimableAt;
        return uint64(Math.max(block.timestamp, windowEnd));
    }

    /**
     * @dev The round's budget cap: an equal share of the unallocated escrow over the rounds left, and at most
     * 2^128 - 1 (the stored budget's width).
     * @param task The stored task.
     * @param round The round (1..totalRounds).
     * @return cap The cap.
     */
    function _cap(Task storage task, uint32 round) internal view returns (uint256 cap) {
        return Math.min(task.unallocated / (task.totalRounds - round + 1), type(uint128).max);
    }

    /**
     * @dev Commitments of the open round counted for the quorum: batch leaves plus direct commitments (a
     * direct one may supersede a leaf), at most the participants.
     * @param st The task's round state.
     * @return count The count.
     */
    function _commitmentCount(State memory st) internal pure returns (uint32 count) {
        return uint32(Math.min(uint256(st.batchCount) + st.directCount, st.participantCount));
    }

    /**
     * @dev Whether a status is final (Completed, Cancelled or Aborted).
     * @param status The status.
     * @return ended True for an ended task.
     */
    function _ended(IFedTask.TaskStatus status) internal pure returns (bool ended) {
        return
            status == IFedTask.TaskStatus.Completed ||
            status == IFedTask.TaskStatus.Cancelled ||
            status == IFedTask.TaskStatus.Aborted;
    }
}
