// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

import {
    FedTaskBase,
    FEDTASK_COURT_ROLE,
    FEDTASK_INVITATION_TYPEHASH,
    FEDTASK_MAX_PARTICIPANTS,
    FEDTASK_MAX_ROUNDS,
    FEDTASK_PAUSER_ROLE,
    FEDTASK_REPLACEMENT_DELAY,
    FEDTASK_UPDATE_COMMITMENT_TYPEHASH
} from "./fedtask/FedTaskBase.sol";
import {FedTaskExtension} from "./fedtask/FedTaskExtension.sol";
import {IFedTask} from "./interfaces/IFedTask.sol";
import {IFedTaskReader} from "./interfaces/IFedTaskReader.sol";

/**
 * @title FedTask
 * @notice Escrow, stakes, rounds, reward roots, claims, aborts, coordinator replacement and slashing of every
 * fedmarket federated-learning task (protocol v2).
 * @dev Split to stay under EIP-170: this contract runs the per-round paths (open, commit, finalise, claim) and
 * every view; the rarer operations (creation, joining, cancellation, abort, remainder, coordinator replacement,
 * stakes, slashing, the court hooks) are one-line stubs that `delegatecall` {FedTaskExtension}, deployed by this
 * constructor at an immutable address, with the same storage layout ({FedTaskBase}). The ABI is all of
 * {IFedTask}; the guard, roles and pause flag are this contract's for both halves.
 *
 * Gas: the coordinator's per-round calls ({openRound}, {commitBatch}, {finalizeRound} before the last
 * round) touch a fixed number of slots whatever the number of participants; rewards are pulled per round
 * with Merkle proofs and recorded in a bitmap keyed by join index. Every payout follows
 * checks-effects-interactions and is `nonReentrant`; every intake is credited as received (balance
 * before/after) and happens before the effects that depend on the amount, under the same guard.
 *
 * Invariant: `token.balanceOf(this) == Σ_tasks (unallocated + Σ_rounds (budget - claimed)) + Σ stakes`
 * (tokens sent here directly are not accounted for and stay here).
 */
contract FedTask is IFedTask, FedTaskBase {
    using SafeERC20 for IERC20;

    /// @inheritdoc IFedTask
    uint32 public constant MAX_ROUNDS = FEDTASK_MAX_ROUNDS;
    /// @inheritdoc IFedTask
    uint32 public constant MAX_PARTICIPANTS = FEDTASK_MAX_PARTICIPANTS;
    /// @inheritdoc IFedTask
    uint64 public constant REPLACEMENT_DELAY = FEDTASK_REPLACEMENT_DELAY;
    /// @inheritdoc IFedTask
    bytes32 public constant PAUSER_ROLE = FEDTASK_PAUSER_ROLE;
    /// @inheritdoc IFedTask
    bytes32 public constant COURT_ROLE = FEDTASK_COURT_ROLE;
    /// @inheritdoc IFedTask
    bytes32 public constant INVITATION_TYPEHASH = FEDTASK_INVITATION_TYPEHASH;
    /// @inheritdoc IFedTask
    bytes32 public constant UPDATE_COMMITMENT_TYPEHASH = FEDTASK_UPDATE_COMMITMENT_TYPEHASH;

    /// @dev The extension that runs the less frequent operations in this contract's storage.
    address private immutable _extension;

    /**
     * @notice Deploys the escrow for one token, and its extension.
     * @dev Grant `COURT_ROLE` to ChallengeCourt once it is deployed.
     * @param token_ The token every task is funded, staked and paid in.
     * @param admin Receives `DEFAULT_ADMIN_ROLE` and `PAUSER_ROLE`.
     */
    constructor(IERC20 token_, address admin) FedTaskBase(token_) {
        if (admin == address(0)) revert TaskInvalidConfig("admin");
        _extension = address(new FedTaskExtension(token_));
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(PAUSER_ROLE, admin);
    }

    // ------------------------------------------------------------------ admin

    /// @inheritdoc IFedTask
    function pause() external onlyRole(PAUSER_ROLE) {
        _pause();
    }

    /// @inheritdoc IFedTask
    function unpause() external onlyRole(PAUSER_ROLE) {
        _unpause();
    }

    // ------------------------------------------------------------------ creation and joining (delegated)

    /// @inheritdoc IFedTask
    function createTask(TaskConfig calldata /* config */) external returns (uint256 /* taskId */) {
        _delegate();
    }

    /// @inheritdoc IFedTask
    function setAllowed(uint256, /* taskId */ address[] calldata, /* accounts */ bool /* allowed */) external {
        _delegate();
    }

    /// @inheritdoc IFedTask
    function joinTask(uint256, /* taskId */ uint256, /* deadline */ bytes calldata /* invitation */) external {
        _delegate();
    }

    /// @inheritdoc IFedTask
    function cancelTask(uint256 /* taskId */) external {
        _delegate();
    }

    /// @inheritdoc IFedTask
    function stakeAsCoordinator(uint256 /* taskId */) external {
        _delegate();
    }

    // ------------------------------------------------------------------ rounds

    /// @inheritdoc IFedTask
    function openRound(
        uint256 taskId,
        uint32 round,
        string calldata modelCid,
        bytes32 modelHash
    ) external whenNotPaused {
        Task storage task = _existingTask(taskId);
        if (msg.sender != task.coordinator) revert TaskNotCoordinator(taskId, msg.sender);
        TaskStatus status = task.status;
        _requireActive(taskId, status);
        State memory st = task.state;
        if (round != st.lastRound + 1) revert TaskRoundOutOfOrder(taskId, st.lastRound + 1, round);
        if (st.roundOpen) revert TaskRoundStillOpen(taskId, st.lastRound);
        if (block.timestamp >= st.deadline) revert TaskDeadlinePassed(taskId, round, st.deadline);
        if (!st.coordinatorStaked) revert TaskCoordinatorNotStaked(taskId);
        if (st.participantCount < task.quorum) {
            revert TaskQuorumNotMet(taskId, round, st.participantCount, task.quorum);
        }
        if (modelHash == bytes32(0)) revert TaskInvalidConfig("modelHash");
        if (status == TaskStatus.Training && modelHash != task.modelHash) {
            revert TaskModelMismatch(taskId, task.modelHash, modelHash);
        }

        Schedule storage schedule = task.schedule;
        uint64 commitDeadline = uint64(block.timestamp) + schedule.commitPeriod;
        uint64 revealStart = commitDeadline + schedule.inclusionPeriod;
        uint64 revealDeadline = revealStart + schedule.revealPeriod;
        uint64 finalizeDeadline = revealDeadline + schedule.finalizePeriod;
        Round storage r = _rounds[taskId][round];
        (r.commitDeadline, r.revealStart, r.revealDeadline, r.finalizeDeadline) = (
            commitDeadline,
            revealStart,
            revealDeadline,
            finalizeDeadline
        );
        st.lastRound = round;
        st.roundOpen = true;
        st.batchCount = 0;
        st.directCount = 0;
        task.state = st;
        if (status == TaskStatus.Joining) {
            task.status = TaskStatus.Training;
            task.modelHash = modelHash;
        }
        emit RoundOpened(
            taskId,
            round,
            modelCid,
            modelHash,
            commitDeadline,
            revealStart,
            revealDeadline,
            finalizeDeadline
        );
    }

    /// @inheritdoc IFedTask
    function commitBatch(
        uint256 taskId,
        uint32 round,
        bytes32 root,
        uint32 count,
        string calldata batchCid
    ) external whenNotPaused {
        Task storage task = _existingTask(taskId);
        if (msg.sender != task.coordinator) revert TaskNotCoordinator(taskId, msg.sender);
        State memory st = task.state;
        if (!st.roundOpen || st.lastRound != round) revert TaskRoundNotOpen(taskId, round);
        uint64 deadline = _rounds[taskId][round].commitDeadline;
        if (block.timestamp >= deadline) revert TaskDeadlinePassed(taskId, round, deadline);
        if (st.batchCount != 0) revert TaskBatchAlreadyPosted(taskId, round);
        if (root == bytes32(0)) revert TaskInvalidConfig("root");
        if (count == 0 || count > st.participantCount) {
            revert TaskBatchCountInvalid(taskId, round, count, st.participantCount);
        }

        task.commitRoot = root;
        task.state.batchCount = count;
        emit CommitBatchPosted(taskId, round, root, count, batchCid);
    }

    /// @inheritdoc IFedTask
    function commitUpdate(
        uint256 taskId,
        uint32 round,
        bytes32 updateHash,
        uint64 samples,
        string calldata updateCid
    ) external whenNotPaused {
        Task storage task = _existingTask(taskId);
        if (_indexPlusOne[taskId][msg.sender] == 0) revert TaskNotParticipant(taskId, msg.sender);
        State memory st = task.state;
        if (!st.roundOpen || st.lastRound != round) revert TaskRoundNotOpen(taskId, round);
        uint64 revealStart = _rounds[taskId][round].revealStart;
        if (block.timestamp >= revealStart) revert TaskDeadlinePassed(taskId, round, revealStart);
        if (updateHash == bytes32(0)) revert TaskInvalidConfig("updateHash");
        if (samples == 0) revert TaskInvalidConfig("samples");
        Commitment storage commitment = _commitments[taskId][round][msg.sender];
        if (commitment.updateHash != bytes32(0)) revert TaskAlreadyCommitted(taskId, round, msg.sender);
        address first = _hashOwner[taskId][round][updateHash];
        if (first != address(0)) revert TaskUpdateHashTaken(taskId, round, updateHash, first);

        commitment.updateHash = updateHash;
        commitment.samples = samples;
        _hashOwner[taskId][round][updateHash] = msg.sender;
        task.state.directCount = st.directCount + 1;
        emit UpdateCommitted(taskId, round, msg.sender, updateHash, samples, updateCid);
    }

    /// @inheritdoc IFedTask
    function finalizeRound(uint256 taskId, uint32 round, Finalization calldata f) external {
        Task storage task = _existingTask(taskId);
        if (msg.sender != task.coordinator) revert TaskNotCoordinator(taskId, msg.sender);
        State memory st = task.state;
        if (!st.roundOpen || st.lastRound != round) revert TaskRoundNotOpen(taskId, round);
        Round storage r = _rounds[taskId][round];
        uint64 revealDeadline = r.revealDeadline;
        if (block.timestamp < revealDeadline) revert TaskTooEarly(taskId, round, revealDeadline);
        uint64 finalizeDeadline = r.finalizeDeadline;
        if (block.timestamp >= finalizeDeadline) revert TaskDeadlinePassed(taskId, round, finalizeDeadline);
        uint32 commitments = _checkFinalization(task, taskId, round, st, f);

        uint64 claimableAt = uint64(block.timestamp) + task.schedule.challengePeriod;
        r.claimableAt = claimableAt;
        r.finalizer = msg.sender;
        r.accepted = f.accepted;
        r.budget = uint128(f.budget);
        r.rewardsRoot = f.rewardsRoot;
        r.commitments = commitments;
        if (f.flagged.length != 0) _flag(taskId, round, r, f.flagged);
        task.unallocated -= f.budget;
        task.modelHash = f.newModelHash;
        st.roundOpen = false;
        st.deadline = uint64(block.timestamp) + task.schedule.openPeriod;
        task.state = st;
        _emitFinalized(taskId, round, f, claimableAt);

        if (round == task.totalRounds) {
            task.shares = f.shares;
            task.status = TaskStatus.Completed;
            task.endedAt = uint64(block.timestamp);
            emit TaskCompleted(taskId, f.newModelCid, f.newModelHash, f.shares);
        }
    }

    // ------------------------------------------------------------------ claims

    /// @inheritdoc IFedTask
    function claimRewards(
        uint256 taskId,
        uint32 round,
        uint256 amount,
        bytes32[] calldata proof
    ) external nonReentrant {
        _claim(taskId, round, amount, proof);
        if (amount != 0) _token.safeTransfer(msg.sender, amount);
    }

    /// @inheritdoc IFedTask
    function claimMany(
        uint256 taskId,
        uint32[] calldata rounds,
        uint256[] calldata amounts,
        bytes32[][] calldata proofs
    ) external nonReentrant {
        uint256 count = rounds.length;
        if (amounts.length != count || proofs.length != count) {
            revert TaskArrayLengthMismatch(count, amounts.length, proofs.length);
        }
        uint256 total = 0;
        for (uint256 i = 0; i < count; ++i) {
            _claim(taskId, rounds[i], amounts[i], proofs[i]);
            // Each amount fits its round's budget (at most 2^128 - 1), so the sum cannot overflow.
            total += amounts[i];
        }
        if (total != 0) _token.safeTransfer(msg.sender, total);
    }

    // ------------------------------------------------------------------ liveness, stakes, court hooks (delegated)

    /// @inheritdoc IFedTask
    function abortTask(uint256 /* taskId */) external {
        _delegate();
    }

    /// @inheritdoc IFedTask
    function withdrawRemainder(uint256 /* taskId */) external {
        _delegate();
    }

    /// @inheritdoc IFedTask
    function proposeCoordinator(uint256, /* taskId */ address /* newCoordinator */) external {
        _delegate();
    }

    /// @inheritdoc IFedTask
    function cancelCoordinatorProposal(uint256 /* taskId */) external {
        _delegate();
    }

    /// @inheritdoc IFedTask
    function acceptCoordination(uint256 /* taskId */) external {
        _delegate();
    }

    /// @inheritdoc IFedTask
    function withdrawStake(uint256 /* taskId */) external {
        _delegate();
    }

    /// @inheritdoc IFedTask
    function executeSlash(uint256, /* taskId */ uint32, /* round */ address /* account */) external {
        _delegate();
    }

    /// @inheritdoc IFedTask
    function openDispute(uint256, /* taskId */ uint32 /* round */) external {
        _delegate();
    }

    /// @inheritdoc IFedTask
    function resolveDispute(
        uint256 /* taskId */,
        uint32 /* round */,
        bool /* upheld */,
        bytes32 /* correctedRoot */,
        bytes calldata /* correctedShares */
    ) external returns (uint256 /* slashed */) {
        _delegate();
    }

    /// @inheritdoc IFedTask
    function slashParticipant(
        uint256,
        /* taskId */ address,
        /* account */ uint16 /* bps */
    ) external returns (uint256 /* slashed */) {
        _delegate();
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc IFedTaskReader
    function sponsorOf(uint256 taskId) external view returns (address sponsor) {
        return _tasks[taskId].sponsor;
    }

    /// @inheritdoc IFedTaskReader
    function isParticipant(uint256 taskId, address account) external view returns (bool joined) {
        return _indexPlusOne[taskId][account] != 0;
    }

    /// @inheritdoc IFedTaskReader
    function isFinal(uint256 taskId) external view returns (bool final_) {
        Task storage task = _tasks[taskId];
        if (task.status != TaskStatus.Completed) return false;
        Round storage r = _rounds[taskId][task.totalRounds];
        return block.timestamp >= r.claimableAt && !r.disputed;
    }

    /// @inheritdoc IFedTaskReader
    function shareOf(uint256 taskId, address account) external view returns (uint16 bps) {
        uint256 indexPlusOne = _indexPlusOne[taskId][account];
        bytes storage stored = _tasks[taskId].shares;
        if (indexPlusOne == 0 || stored.length == 0) return 0;
        uint256 offset = 2 * (indexPlusOne - 1);
        return (uint16(uint8(stored[offset])) << 8) | uint8(stored[offset + 1]);
    }

    /// @inheritdoc IFedTask
    function roundClaimableAt(uint256 taskId, uint32 round) external view returns (uint64 claimableAt, bool disputed) {
        Round storage r = _rounds[taskId][round];
        return (r.claimableAt, r.disputed);
    }

    /// @inheritdoc IFedTask
    function getTask(uint256 taskId) external view returns (TaskInfo memory info) {
        Task storage task = _existingTask(taskId);
        State memory st = task.state;
        info.sponsor = task.sponsor;
        info.coordinator = task.coordinator;
        info.status = task.status;
        info.createdAt = task.createdAt;
        info.endedAt = task.endedAt;
        info.totalRounds = task.totalRounds;
        info.lastRound = st.lastRound;
        info.roundOpen = st.roundOpen;
        info.maxParticipants = task.maxParticipants;
        info.participantCount = st.participantCount;
        info.quorum = task.quorum;
        info.slashBps = task.slashBps;
        info.permissioned = task.permissioned;
        info.coordinatorStaked = st.coordinatorStaked;
        info.openDisputes = st.openDisputes;
        info.deadline = st.deadline;
        info.pool = task.pool;
        info.unallocated = task.unallocated;
        info.slashedIn = task.slashedIn;
        info.refunded = task.refunded;
        info.participantStake = task.participantStake;
        info.coordinatorStake = task.coordinatorStake;
        info.specHash = task.specHash;
        info.modelHash = task.modelHash;
        info.pendingCoordinator = task.pendingCoordinator;
        info.replacementNotBefore = task.replacementNotBefore;
        info.specCid = task.specCid;
    }

    /// @inheritdoc IFedTask
    function getSchedule(uint256 taskId) external view returns (Schedule memory schedule) {
        return _existingTask(taskId).schedule;
    }

    /// @inheritdoc IFedTask
    function getRound(uint256 taskId, uint32 round) external view returns (RoundInfo memory info) {
        Round storage r = _rounds[taskId][round];
        State memory st = _tasks[taskId].state;
        info.commitDeadline = r.commitDeadline;
        info.revealStart = r.revealStart;
        info.revealDeadline = r.revealDeadline;
        info.finalizeDeadline = r.finalizeDeadline;
        bool latest = round != 0 && round == st.lastRound;
        if (latest && st.batchCount != 0) info.commitRoot = _tasks[taskId].commitRoot;
        info.commitments = latest && st.roundOpen ? _commitmentCount(st) : r.commitments;
        info.accepted = r.accepted;
        info.claimableAt = r.claimableAt;
        info.finalizer = r.finalizer;
        info.rewardsRoot = r.rewardsRoot;
        info.budget = r.budget;
        info.claimed = r.claimed;
        info.disputed = r.disputed;
        info.flagsCleared = r.flagsCleared;
        info.flagCount = r.flagCount;
    }

    /// @inheritdoc IFedTask
    function getParticipants(uint256 taskId) external view returns (address[] memory participants) {
        uint256 count = _tasks[taskId].state.participantCount;
        participants = new address[](count);
        for (uint256 i = 0; i < count; ++i) {
            participants[i] = _participantAt[taskId][i];
        }
    }

    /// @inheritdoc IFedTask
    function participantIndex(uint256 taskId, address account) external view returns (uint32 index) {
        uint32 indexPlusOne = _indexPlusOne[taskId][account];
        if (indexPlusOne == 0) revert TaskNotParticipant(taskId, account);
        return indexPlusOne - 1;
    }

    /// @inheritdoc IFedTask
    function stakeOf(uint256 taskId, address account) external view returns (uint256 amount) {
        return _stakes[taskId][account];
    }

    /// @inheritdoc IFedTask
    function commitmentOf(
        uint256 taskId,
        uint32 round,
        address account
    ) external view returns (bytes32 updateHash, uint64 samples) {
        Commitment storage commitment = _commitments[taskId][round][account];
        return (commitment.updateHash, commitment.samples);
    }

    /// @inheritdoc IFedTask
    function shares(uint256 taskId) external view returns (uint16[] memory bps) {
        bytes memory stored = _tasks[taskId].shares;
        uint256 count = stored.length / 2;
        bps = new uint16[](count);
        for (uint256 i = 0; i < count; ++i) {
            bps[i] = (uint16(uint8(stored[2 * i])) << 8) | uint8(stored[2 * i + 1]);
        }
    }

    /// @inheritdoc IFedTask
    function roundCap(uint256 taskId, uint32 round) external view returns (uint256 cap) {
        Task storage task = _tasks[taskId];
        if (round == 0 || round > task.totalRounds) return 0;
        return _cap(task, round);
    }

    /// @inheritdoc IFedTask
    function hasClaimed(uint256 taskId, uint32 round, address account) external view returns (bool claimed) {
        uint256 indexPlusOne = _indexPlusOne[taskId][account];
        if (indexPlusOne == 0) return false;
        uint256 index = indexPlusOne - 1;
        return _claimedBits[taskId][round][index >> 8] & (1 << (index & 0xff)) != 0;
    }

    /// @inheritdoc IFedTask
    function isAllowed(uint256 taskId, address account) external view returns (bool allowed) {
        return _allowed[taskId][account];
    }

    /// @inheritdoc IFedTask
    function isFlagged(uint256 taskId, uint32 round, address account) external view returns (bool flagged) {
        return _flagged[taskId][round][account];
    }

    /// @inheritdoc IFedTask
    function pendingFlags(uint256 taskId, address account) external view returns (uint32 count) {
        return _pendingFlags[taskId][account];
    }

    /// @inheritdoc IFedTask
    function taskCount() external view returns (uint256 count) {
        return _taskCount;
    }

    /// @inheritdoc IFedTask
    function token() external view returns (IERC20 rewardToken) {
        return _token;
    }

    function DOMAIN_SEPARATOR() external view returns (bytes32 separator) {
        return _domainSeparatorV4();
    }

    // ------------------------------------------------------------------ private

    /**
     * @dev Runs the current call in the extension's code with this contract's storage and returns (or
     * reverts) with its return data. Never returns to the caller's Solidity code.
     */
    function _delegate() private {
        address extension = _extension;
        assembly {
            calldatacopy(0, 0, calldatasize())
            let ok := delegatecall(gas(), extension, 0, calldatasize(), 0, 0)
            returndatacopy(0, 0, returndatasize())
            if iszero(ok) {
                revert(0, returndatasize())
            }
            return(0, returndatasize())
        }
    }

    /**
     * @dev Records the round's flags (each a participant, each once).
     * @param taskId The task's id.
     * @param round The round.
     * @param r The stored round.
     * @param flagged The flagged participants.
     */
    function _flag(uint256 taskId, uint32 round, Round storage r, address[] calldata flagged) private {
        mapping(address account => bool) storage roundFlags = _flagged[taskId][round];
        uint256 count = flagged.length;
        for (uint256 i = 0; i < count; ++i) {
            address account = flagged[i];
            if (_indexPlusOne[taskId][account] == 0 || roundFlags[account]) {
                revert TaskFlagInvalid(taskId, round, account);
            }
            roundFlags[account] = true;
            ++_pendingFlags[taskId][account];
        }
        // count <= participants <= MAX_PARTICIPANTS: no duplicates, all participants.
        r.flagCount = uint32(count);
    }

    /**
     * @dev Emits {RoundFinalized} (a function of its own to keep {finalizeRound}'s stack shallow).
     * @param taskId The task's id.
     * @param round The round.
     * @param f The finalisation.
     * @param claimableAt End of the challenge window.
     */
    function _emitFinalized(uint256 taskId, uint32 round, Finalization calldata f, uint64 claimableAt) private {
        emit RoundFinalized(
            taskId,
            round,
            f.newModelCid,
            f.newModelHash,
            f.evidenceCid,
            f.rewardsRoot,
            f.budget,
            f.accepted,
            f.flagged,
            claimableAt
        );
    }

    /**
     * @dev Checks a finalisation's fields (after the caller, round and time checks).
     * @param task The stored task.
     * @param taskId The task's id.
     * @param round The round.
     * @param st The task's round state.
     * @param f The finalisation.
     * @return commitments The round's commitments, counted for the quorum.
     */
    function _checkFinalization(
        Task storage task,
        uint256 taskId,
        uint32 round,
        State memory st,
        Finalization calldata f
    ) private view returns (uint32 commitments) {
        if (f.newModelHash == bytes32(0)) revert TaskInvalidConfig("newModelHash");
        if ((f.rewardsRoot == bytes32(0)) != (f.budget == 0)) revert TaskInvalidConfig("rewardsRoot");
        uint256 cap = _cap(task, round);
        if (f.budget > cap) revert TaskBudgetExceeded(taskId, round, f.budget, cap);
        commitments = _commitmentCount(st);
        if (f.accepted > commitments) revert TaskAcceptedAboveCommitments(taskId, round, f.accepted, commitments);
        if (f.budget != 0 && f.accepted < task.quorum) {
            revert TaskQuorumNotMet(taskId, round, f.accepted, task.quorum);
        }
        if (round == task.totalRounds) {
            _checkShares(taskId, st.participantCount, f.shares);
        } else if (f.shares.length != 0) {
            revert TaskInvalidConfig("shares");
        }
    }

    /**
     * @dev Checks a claim and records it: the round claimable, the caller a participant that has not claimed,
     * the leaf proven, the budget not exceeded.
     * @param taskId The task's id.
     * @param round The round.
     * @param amount The amount in the caller's leaf.
     * @param proof The Merkle proof.
     */
    function _claim(uint256 taskId, uint32 round, uint256 amount, bytes32[] calldata proof) private {
        Round storage r = _rounds[taskId][round];
        uint64 claimableAt = r.claimableAt;
        if (claimableAt == 0 || block.timestamp < claimableAt || r.disputed) {
            revert TaskRoundNotClaimable(taskId, round);
        }
        _markClaimed(taskId, round);
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(taskId, round, msg.sender, amount))));
        if (!MerkleProof.verifyCalldata(proof, r.rewardsRoot, leaf)) {
            revert TaskInvalidProof(taskId, round, msg.sender, amount);
        }
        uint256 budget = r.budget;
        uint256 claimed = r.claimed;
        if (amount > budget - claimed) {
            revert TaskRoundOverpaid(taskId, round, budget, Math.saturatingAdd(claimed, amount));
        }

        // claimed + amount <= budget < 2^128.
        r.claimed = uint128(claimed + amount);
        emit RewardsClaimed(taskId, round, msg.sender, amount);
    }

    /**
     * @dev Sets the caller's bit in the round's claim bitmap, reverting {TaskNotParticipant} or
     * {TaskAlreadyClaimed}.
     * @param taskId The task's id.
     * @param round The round.
     */
    function _markClaimed(uint256 taskId, uint32 round) private {
        uint256 indexPlusOne = _indexPlusOne[taskId][msg.sender];
        if (indexPlusOne == 0) revert TaskNotParticipant(taskId, msg.sender);
        uint256 index = indexPlusOne - 1;
        mapping(uint256 word => uint256) storage bits = _claimedBits[taskId][round];
        uint256 word = bits[index >> 8];
        uint256 mask = 1 << (index & 0xff);
        if (word & mask != 0) revert TaskAlreadyClaimed(taskId, round, msg.sender);
        bits[index >> 8] = word | mask;
    }
}
