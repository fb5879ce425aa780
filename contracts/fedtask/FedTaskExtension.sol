// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

import {IFedTask} from "../interfaces/IFedTask.sol";
import {
    FedTaskBase,
    FEDTASK_COURT_ROLE,
    FEDTASK_INVITATION_TYPEHASH,
    FEDTASK_MAX_PARTICIPANTS,
    FEDTASK_MAX_ROUNDS,
    FEDTASK_REPLACEMENT_DELAY
} from "./FedTaskBase.sol";

/**
 * @title FedTaskExtension
 * @notice The less frequent operations of {FedTask} (creation, joining, cancellation, abort, coordinator
 * replacement, stakes, slashing, the court hooks), run by FedTask with `delegatecall` in FedTask's storage.
 * @dev FedTask deploys its own extension in its constructor and forwards these selectors to it; the split
 * only keeps both contracts under the EIP-170 size limit. Every function here reverts when called on the
 * extension itself (its own storage is empty and unused). Documentation: {IFedTask}.
 */
contract FedTaskExtension is FedTaskBase {
    using SafeERC20 for IERC20;

    /// @dev The extension's own address, to refuse direct calls.
    address private immutable _self;

    /// @notice The extension is called only through FedTask's `delegatecall`.
    error TaskExtensionDirectCall();

    /**
     * @notice Deploys the extension (FedTask does, in its constructor).
     * @param token_ The token of the FedTask that deploys it.
     */
    constructor(IERC20 token_) FedTaskBase(token_) {
        _self = address(this);
    }

    /// @dev Refuses calls that are not a FedTask `delegatecall`.
    modifier onlyDelegated() {
        if (address(this) == _self) revert TaskExtensionDirectCall();
        _;
    }

    /// @dev Body of the IFedTask function of the same name (see there), run by `delegatecall`.
    function createTask(
        IFedTask.TaskConfig calldata config
    ) external onlyDelegated whenNotPaused nonReentrant returns (uint256 taskId) {
        _checkConfig(config);
        uint256 pool = _pull(config.pool);
        if (pool == 0) revert IFedTask.TaskInvalidConfig("pool");

        taskId = ++_taskCount;
        Task storage task = _tasks[taskId];
        task.sponsor = msg.sender;
        task.createdAt = uint64(block.timestamp);
        task.totalRounds = config.totalRounds;
        task.coordinator = config.coordinator;
        task.maxParticipants = config.maxParticipants;
        task.quorum = config.quorum;
        task.slashBps = config.slashBps;
        task.permissioned = config.permissioned;
        task.status = IFedTask.TaskStatus.Joining;
        task.state.deadline = uint64(block.timestamp) + config.schedule.joinPeriod;
        task.state.coordinatorStaked = config.coordinatorStake == 0;
        task.commitRoot = NO_ROOT;
        task.unallocated = pool;
        task.pool = pool;
        task.participantStake = config.participantStake;
        task.coordinatorStake = config.coordinatorStake;
        task.specHash = config.specHash;
        task.schedule = config.schedule;
        task.specCid = config.specCid;
        emit IFedTask.TaskCreated(
            taskId,
            msg.sender,
            config.coordinator,
            pool,
            config.totalRounds,
            config.maxParticipants,
            config.specCid,
            config.specHash
        );
    }

    /// @dev Body of the IFedTask function of the same name (see there), run by `delegatecall`.
    function setAllowed(uint256 taskId, address[] calldata accounts, bool allowed) external onlyDelegated {
        Task storage task = _existingTask(taskId);
        if (msg.sender != task.sponsor) revert IFedTask.TaskNotSponsor(taskId, msg.sender);
        for (uint256 i = 0; i < accounts.length; ++i) {
            _allowed[taskId][accounts[i]] = allowed;
            emit IFedTask.AllowlistUpdated(taskId, accounts[i], allowed);
        }
    }

    /// @dev Body of the IFedTask function of the same name (see there), run by `delegatecall`.
    function joinTask(
        uint256 taskId,
        uint256 deadline,
        bytes calldata invitation
    ) external onlyDelegated whenNotPaused nonReentrant {
        Task storage task = _existingTask(taskId);
        if (task.status != IFedTask.TaskStatus.Joining) revert IFedTask.TaskNotJoining(taskId, task.status);
        address account = msg.sender;
        if (account == task.sponsor || account == task.coordinator) revert IFedTask.TaskRoleConflict(taskId, account);
        if (_indexPlusOne[taskId][account] != 0) revert IFedTask.TaskAlreadyJoined(taskId, account);
        if (_stakes[taskId][account] != 0) revert IFedTask.TaskRoleConflict(taskId, account);
        uint32 count = task.state.participantCount;
        if (count >= task.maxParticipants) revert IFedTask.TaskFull(taskId, task.maxParticipants);
        if (task.permissioned && !_allowed[taskId][account]) {
            _checkInvitation(taskId, task.sponsor, account, deadline, invitation);
        }

        uint256 stake = _pull(task.participantStake);
        _indexPlusOne[taskId][account] = count + 1;
        _participantAt[taskId][count] = account;
        task.state.participantCount = count + 1;
        if (stake != 0) _stakes[taskId][account] = stake;
        emit IFedTask.TaskJoined(taskId, account, count, stake);
    }

    /// @dev Body of the IFedTask function of the same name (see there), run by `delegatecall`.
    function cancelTask(uint256 taskId) external onlyDelegated nonReentrant {
        Task storage task = _existingTask(taskId);
        address sponsor = task.sponsor;
        if (msg.sender != sponsor) revert IFedTask.TaskNotSponsor(taskId, msg.sender);
        if (task.status != IFedTask.TaskStatus.Joining) revert IFedTask.TaskNotJoining(taskId, task.status);

        uint256 refund = task.unallocated;
        task.unallocated = 0;
        task.refunded += refund;
        task.status = IFedTask.TaskStatus.Cancelled;
        task.endedAt = uint64(block.timestamp);
        emit IFedTask.TaskCancelled(taskId, refund);

        _token.safeTransfer(sponsor, refund);
    }

    /// @dev Body of the IFedTask function of the same name (see there), run by `delegatecall`.
    function stakeAsCoordinator(uint256 taskId) external onlyDelegated whenNotPaused nonReentrant {
        Task storage task = _existingTask(taskId);
        if (msg.sender != task.coordinator) revert IFedTask.TaskNotCoordinator(taskId, msg.sender);
        if (task.status != IFedTask.TaskStatus.Joining) revert IFedTask.TaskNotJoining(taskId, task.status);
        if (task.state.coordinatorStaked) revert IFedTask.TaskAlreadyStaked(taskId);

        uint256 stake = _pull(task.coordinatorStake);
        _stakes[taskId][msg.sender] += stake;
        task.state.coordinatorStaked = true;
        emit IFedTask.CoordinatorStaked(taskId, msg.sender, stake);
    }

    /// @dev Body of the IFedTask function of the same name (see there), run by `delegatecall`.
    function abortTask(uint256 taskId) external onlyDelegated nonReentrant {
        Task storage task = _existingTask(taskId);
        _requireActive(taskId, task.status);
        State memory st = task.state;
        uint64 missed = st.roundOpen ? _rounds[taskId][st.lastRound].finalizeDeadline : st.deadline;
        address sponsor = task.sponsor;
        uint64 notBefore = msg.sender == sponsor ? missed : missed + task.schedule.abortGrace;
        if (block.timestamp < notBefore) revert IFedTask.TaskNotAbortable(taskId, notBefore);

        address coordinator = task.coordinator;
        uint256 stake = _stakes[taskId][coordinator];
        uint256 slashed = Math.mulDiv(stake, task.slashBps, BPS);
        _stakes[taskId][coordinator] = stake - slashed;
        uint256 refund = task.unallocated + slashed;
        task.unallocated = 0;
        task.slashedIn += slashed;
        task.refunded += refund;
        task.status = IFedTask.TaskStatus.Aborted;
        task.endedAt = uint64(block.timestamp);
        st.roundOpen = false;
        task.state = st;
        emit IFedTask.TaskAborted(taskId, msg.sender, refund, slashed);

        if (refund != 0) _token.safeTransfer(sponsor, refund);
    }

    /// @dev Body of the IFedTask function of the same name (see there), run by `delegatecall`.
    function withdrawRemainder(uint256 taskId) external onlyDelegated nonReentrant {
        Task storage task = _existingTask(taskId);
        address sponsor = task.sponsor;
        if (msg.sender != sponsor) revert IFedTask.TaskNotSponsor(taskId, msg.sender);
        if (!_ended(task.status)) revert IFedTask.TaskNotFinished(taskId, task.status);
        uint256 amount = task.unallocated;
        if (amount == 0) revert IFedTask.TaskNothingToWithdraw(taskId, sponsor);

        task.unallocated = 0;
        task.refunded += amount;
        emit IFedTask.RemainderWithdrawn(taskId, sponsor, amount);

        _token.safeTransfer(sponsor, amount);
    }

    /// @dev Body of the IFedTask function of the same name (see there), run by `delegatecall`.
    function proposeCoordinator(uint256 taskId, address newCoordinator) external onlyDelegated {
        Task storage task = _existingTask(taskId);
        if (msg.sender != task.sponsor) revert IFedTask.TaskNotSponsor(taskId, msg.sender);
        _requireActive(taskId, task.status);
        if (newCoordinator == address(0)) revert IFedTask.TaskInvalidConfig("coordinator");
        if (
            newCoordinator == task.sponsor ||
            newCoordinator == task.coordinator ||
            _indexPlusOne[taskId][newCoordinator] != 0
        ) revert IFedTask.TaskRoleConflict(taskId, newCoordinator);

        uint64 notBefore = uint64(block.timestamp) + FEDTASK_REPLACEMENT_DELAY;
        task.pendingCoordinator = newCoordinator;
        task.replacementNotBefore = notBefore;
        emit IFedTask.CoordinatorProposed(taskId, newCoordinator, notBefore);
    }

    /// @dev Body of the IFedTask function of the same name (see there), run by `delegatecall`.
    function cancelCoordinatorProposal(uint256 taskId) external onlyDelegated {
        Task storage task = _existingTask(taskId);
        if (msg.sender != task.sponsor) revert IFedTask.TaskNotSponsor(taskId, msg.sender);
        address proposed = task.pendingCoordinator;
        if (proposed == address(0)) revert IFedTask.TaskNoCoordinatorProposal(taskId);

        task.pendingCoordinator = address(0);
        task.replacementNotBefore = 0;
        emit IFedTask.CoordinatorProposalCancelled(taskId, proposed);
    }

    /// @dev Body of the IFedTask function of the same name (see there), run by `delegatecall`.
    function acceptCoordination(uint256 taskId) external onlyDelegated whenNotPaused nonReentrant {
        Task storage task = _existingTask(taskId);
        _requireActive(taskId, task.status);
        if (msg.sender != task.pendingCoordinator || msg.sender == address(0)) {
            revert IFedTask.TaskNotProposedCoordinator(taskId, msg.sender);
        }
        uint64 notBefore = task.replacementNotBefore;
        if (block.timestamp < notBefore) revert IFedTask.TaskTimelocked(taskId, notBefore);
        if (_indexPlusOne[taskId][msg.sender] != 0) revert IFedTask.TaskRoleConflict(taskId, msg.sender);

        uint256 stake = _pull(task.coordinatorStake);
        address previous = task.coordinator;
        State memory st = task.state;
        _releaseAt[taskId][previous] = _windowsEnd(taskId, st);
        task.coordinator = msg.sender;
        task.pendingCoordinator = address(0);
        task.replacementNotBefore = 0;
        _stakes[taskId][msg.sender] += stake;
        if (st.roundOpen) {
            Round storage r = _rounds[taskId][st.lastRound];
            uint64 finalizeBy = uint64(block.timestamp) + task.schedule.finalizePeriod;
            if (r.finalizeDeadline < finalizeBy) r.finalizeDeadline = finalizeBy;
        } else {
            uint64 openBy = uint64(block.timestamp) + task.schedule.openPeriod;
            if (st.deadline < openBy) st.deadline = openBy;
        }
        st.coordinatorStaked = true;
        task.state = st;
        emit IFedTask.CoordinatorReplaced(taskId, previous, msg.sender, stake);
    }

    /// @dev Body of the IFedTask function of the same name (see there), run by `delegatecall`.
    function withdrawStake(uint256 taskId) external onlyDelegated nonReentrant {
        Task storage task = _existingTask(taskId);
        address account = msg.sender;
        uint256 amount = _stakes[taskId][account];
        if (amount == 0) revert IFedTask.TaskNothingToWithdraw(taskId, account);
        uint64 notBefore;
        if (account != task.coordinator && _indexPlusOne[taskId][account] == 0) {
            // A former coordinator: released once the windows of the rounds it finalised have passed.
            notBefore = _releaseAt[taskId][account];
        } else {
            IFedTask.TaskStatus status = task.status;
            if (!_ended(status)) revert IFedTask.TaskNotFinished(taskId, status);
            uint64 cooldownEnd =
                status == IFedTask.TaskStatus.Cancelled ? task.endedAt : task.endedAt + task.schedule.stakeCooldown;
            notBefore = uint64(Math.max(cooldownEnd, _windowsEnd(taskId, task.state)));
            uint32 flags = _pendingFlags[taskId][account];
            if (flags != 0) revert IFedTask.TaskSlashPending(taskId, account, flags);
        }
        if (block.timestamp < notBefore) revert IFedTask.TaskStakeLocked(taskId, account, notBefore);
        uint16 disputes = task.state.openDisputes;
        if (disputes != 0) revert IFedTask.TaskDisputesOpen(taskId, disputes);

        _stakes[taskId][account] = 0;
        emit IFedTask.StakeWithdrawn(taskId, account, amount);

        _token.safeTransfer(account, amount);
    }

    /// @dev Body of the IFedTask function of the same name (see there), run by `delegatecall`.
    function executeSlash(uint256 taskId, uint32 round, address account) external onlyDelegated {
        if (!_flagged[taskId][round][account]) revert IFedTask.TaskNotFlagged(taskId, round, account);
        Round storage r = _rounds[taskId][round];
        if (block.timestamp < r.claimableAt || r.disputed) revert IFedTask.TaskRoundNotClaimable(taskId, round);

        _flagged[taskId][round][account] = false;
        --_pendingFlags[taskId][account];
        if (r.flagsCleared) {
            emit IFedTask.FlagDismissed(taskId, round, account);
        } else {
            Task storage task = _tasks[taskId];
            uint256 slashed = _slashIntoPool(task, taskId, account, task.slashBps);
            emit IFedTask.ParticipantSlashed(taskId, round, account, slashed);
        }
    }

    /// @dev Body of the IFedTask function of the same name (see there), run by `delegatecall`.
    function openDispute(uint256 taskId, uint32 round) external onlyDelegated onlyRole(FEDTASK_COURT_ROLE) {
        Task storage task = _existingTask(taskId);
        Round storage r = _rounds[taskId][round];
        uint64 claimableAt = r.claimableAt;
        if (claimableAt == 0 || block.timestamp >= claimableAt) {
            revert IFedTask.TaskNotInChallengeWindow(taskId, round, claimableAt);
        }
        if (r.disputed) revert IFedTask.TaskRoundDisputed(taskId, round);

        r.disputed = true;
        ++task.state.openDisputes;
        emit IFedTask.DisputeOpened(taskId, round);
    }

    /// @dev Body of the IFedTask function of the same name (see there), run by `delegatecall`.
    function resolveDispute(
        uint256 taskId,
        uint32 round,
        bool upheld,
        bytes32 correctedRoot,
        bytes calldata correctedShares
    ) external onlyDelegated onlyRole(FEDTASK_COURT_ROLE) nonReentrant returns (uint256 slashed) {
        Task storage task = _existingTask(taskId);
        Round storage r = _rounds[taskId][round];
        if (!r.disputed) revert IFedTask.TaskRoundNotDisputed(taskId, round);

        r.disputed = false;
        --task.state.openDisputes;
        bytes32 root = r.rewardsRoot;
        if (upheld) {
            if (correctedShares.length != 0) {
                if (round != task.totalRounds) revert IFedTask.TaskInvalidConfig("shares");
                _checkShares(taskId, task.state.participantCount, correctedShares);
                task.shares = correctedShares;
            }
            root = correctedRoot;
            r.rewardsRoot = root;
            if (root == bytes32(0)) {
                // Nothing can be claimed under a zero root: what the round has not paid goes back to the pool.
                uint128 claimed = r.claimed;
                task.unallocated += r.budget - claimed;
                r.budget = claimed;
            }
            r.flagsCleared = true;
            address finalizer = r.finalizer;
            uint256 stake = _stakes[taskId][finalizer];
            slashed = Math.mulDiv(stake, task.slashBps, BPS);
            _stakes[taskId][finalizer] = stake - slashed;
        }
        emit IFedTask.DisputeResolved(taskId, round, upheld, root, slashed);

        if (slashed != 0) _token.safeTransfer(msg.sender, slashed);
    }

    /// @dev Body of the IFedTask function of the same name (see there), run by `delegatecall`.
    function slashParticipant(
        uint256 taskId,
        address account,
        uint16 bps
    ) external onlyDelegated onlyRole(FEDTASK_COURT_ROLE) returns (uint256 slashed) {
        Task storage task = _existingTask(taskId);
        if (bps > BPS) revert IFedTask.TaskInvalidBps(bps);
        if (_indexPlusOne[taskId][account] == 0) revert IFedTask.TaskNotParticipant(taskId, account);
        slashed = _slashIntoPool(task, taskId, account, bps);
        emit IFedTask.ParticipantSlashed(taskId, 0, account, slashed);
    }

    /**
     * @dev Checks a {IFedTask.TaskConfig} (see {createTask} for the order).
     * @param config The configuration.
     */
    function _checkConfig(IFedTask.TaskConfig calldata config) private view {
        if (config.specHash == bytes32(0)) revert IFedTask.TaskInvalidConfig("specHash");
        if (config.coordinator == address(0) || config.coordinator == msg.sender) {
            revert IFedTask.TaskInvalidConfig("coordinator");
        }
        if (config.pool == 0) revert IFedTask.TaskInvalidConfig("pool");
        if (config.totalRounds == 0 || config.totalRounds > FEDTASK_MAX_ROUNDS)
            revert IFedTask.TaskInvalidConfig("totalRounds");
        if (config.maxParticipants == 0 || config.maxParticipants > FEDTASK_MAX_PARTICIPANTS) {
            revert IFedTask.TaskInvalidConfig("maxParticipants");
        }
        if (config.quorum == 0 || config.quorum > config.maxParticipants) revert IFedTask.TaskInvalidConfig("quorum");
        if (config.slashBps > BPS) revert IFedTask.TaskInvalidConfig("slashBps");
        IFedTask.Schedule calldata s = config.schedule;
        if (s.joinPeriod == 0) revert IFedTask.TaskInvalidConfig("joinPeriod");
        if (s.commitPeriod == 0) revert IFedTask.TaskInvalidConfig("commitPeriod");
        if (s.revealPeriod == 0) revert IFedTask.TaskInvalidConfig("revealPeriod");
        if (s.finalizePeriod == 0) revert IFedTask.TaskInvalidConfig("finalizePeriod");
        if (s.challengePeriod == 0) revert IFedTask.TaskInvalidConfig("challengePeriod");
        if (s.openPeriod == 0) revert IFedTask.TaskInvalidConfig("openPeriod");
        if (s.abortGrace == 0) revert IFedTask.TaskInvalidConfig("abortGrace");
        if (s.stakeCooldown == 0) revert IFedTask.TaskInvalidConfig("stakeCooldown");
    }

    /**
     * @dev Reverts {IFedTask.TaskInvitationExpired} or {IFedTask.TaskNotInvited} unless `invitation` is the sponsor's valid
     * EIP-712 signature over `Invitation(taskId, account, deadline)`.
     * @param taskId The task's id.
     * @param sponsor The task's sponsor.
     * @param account The joining account.
     * @param deadline The invitation's deadline (valid up to and including it).
     * @param invitation The signature.
     */
    function _checkInvitation(
        uint256 taskId,
        address sponsor,
        address account,
        uint256 deadline,
        bytes calldata invitation
    ) private view {
        if (invitation.length == 0) revert IFedTask.TaskNotInvited(taskId, account);
        if (block.timestamp > deadline) revert IFedTask.TaskInvitationExpired(deadline);
        bytes32 digest = _hashTypedDataV4(
            keccak256(abi.encode(FEDTASK_INVITATION_TYPEHASH, taskId, account, deadline))
        );
        (address signer, ECDSA.RecoverError err, ) = ECDSA.tryRecoverCalldata(digest, invitation);
        if (err != ECDSA.RecoverError.NoError || signer != sponsor) revert IFedTask.TaskNotInvited(taskId, account);
    }
}
