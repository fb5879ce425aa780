// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

import {IFedTaskReader} from "./IFedTaskReader.sol";

/**
 * @title IFedTask
 * @notice Types, errors, events and functions of the fedmarket task escrow, protocol v2
 * (docs/protocol-v2-spec.md, section "FedTask").
 * @dev One contract holds every federated-learning task. A sponsor escrows a pool; participants join (with a
 * stake, through an allowlist or the sponsor's EIP-712 invitation when the task is permissioned); the
 * coordinator stakes, opens rounds, anchors the round's update commitments (one Merkle root per round, or
 * participants commit directly), and finalises each round after its reveal deadline with a Merkle root of
 * rewards whose budget is capped on-chain at an equal share of what is left. Participants claim per round
 * with a Merkle proof once the round's challenge window has passed. Missed deadlines make the task
 * abortable (unallocated escrow back to the sponsor); the sponsor can replace the coordinator behind a
 * timelock; flagged participants are slashed after the window; ChallengeCourt (`COURT_ROLE`) disputes
 * rounds. A pause stops what takes money in or starts work, never what pays out.
 *
 * Time convention: a deadline `D` must be met strictly before it (`block.timestamp < D`); "not before `T`"
 * means `block.timestamp >= T`.
 *
 * Invariant: `token.balanceOf(this) == Σ_tasks (unallocated + Σ_rounds (budget - claimed)) + Σ stakes`, and
 * per task `pool + slashedIn == unallocated + Σ_rounds budget + refunded`.
 */
interface IFedTask is IFedTaskReader {
    /// @notice Lifecycle: Joining -> Training -> Completed; Joining -> Cancelled; Joining/Training -> Aborted.
    enum TaskStatus {
        None,
        Joining,
        Training,
        Completed,
        Cancelled,
        Aborted
    }

    /**
     * @notice A task's timetable, in seconds. Every period is positive except `inclusionPeriod`.
     * @param joinPeriod Round 1 must open before `createdAt + joinPeriod`.
     * @param commitPeriod Round opening -> `commitDeadline` (the batch must be posted before it).
     * @param inclusionPeriod `commitDeadline` -> `revealStart`: left-out participants commit directly.
     * @param revealPeriod `revealStart` -> `revealDeadline`: update bytes are published off-chain.
     * @param finalizePeriod `revealDeadline` -> `finalizeDeadline`.
     * @param challengePeriod Finalisation -> claimable (the challenge window).
     * @param openPeriod Finalisation of round `r` -> round `r + 1` must open before then.
     * @param abortGrace After a missed deadline the sponsor may abort at once, anyone after this much more.
     * @param stakeCooldown Task end -> stakes withdrawable.
     */
    struct Schedule {
        uint32 joinPeriod;
        uint32 commitPeriod;
        uint32 inclusionPeriod;
        uint32 revealPeriod;
        uint32 finalizePeriod;
        uint32 challengePeriod;
        uint32 openPeriod;
        uint32 abortGrace;
        uint32 stakeCooldown;
    }

    /**
     * @notice What a sponsor asks for when it creates a task.
     * @param specCid Content identifier of the task specification.
     * @param specHash Hash of the task specification (non-zero).
     * @param coordinator Account that opens, anchors and finalises the rounds (not zero, not the sponsor).
     * @param pool Amount escrowed from the sponsor (credited as received).
     * @param totalRounds Number of rounds, 1 to {MAX_ROUNDS}.
     * @param maxParticipants Participant limit, 1 to {MAX_PARTICIPANTS}.
     * @param quorum Commitments (and accepted updates) a round needs to pay a budget, 1 to `maxParticipants`.
     * @param participantStake Stake each participant locks to join (may be 0).
     * @param coordinatorStake Stake the coordinator locks before round 1 (may be 0).
     * @param slashBps Share of a flagged or stalling party's stake that is slashed, 0 to 10,000.
     * @param permissioned Join only if allowlisted by the sponsor or invited by its EIP-712 signature.
     * @param schedule The timetable.
     */
    struct TaskConfig {
        string specCid;
        bytes32 specHash;
        address coordinator;
        uint256 pool;
        uint32 totalRounds;
        uint32 maxParticipants;
        uint32 quorum;
        uint256 participantStake;
        uint256 coordinatorStake;
        uint16 slashBps;
        bool permissioned;
        Schedule schedule;
    }

    /**
     * @notice What the coordinator posts to finalise a round.
     * @param newModelCid Content identifier of the aggregated model.
     * @param newModelHash Hash of the aggregated model (non-zero); round `r + 1` must open from it.
     * @param evidenceCid The round's evidence document (typed, versioned) in the content store.
     * @param rewardsRoot Merkle root of `(taskId, round, account, amount)` leaves; zero iff `budget` is zero.
     * @param budget Amount moved from the unallocated escrow to the round, at most {roundCap}.
     * @param accepted Updates accepted; at least the quorum for a non-zero budget, at most the commitments.
     * @param flagged Participants flagged malicious with evidence: slashed after the window ({executeSlash}).
     * @param shares Last round only: one big-endian uint16 per participant in join order (basis points of
     * the cumulative contribution) summing to exactly 10,000; empty otherwise.
     */
    struct Finalization {
        string newModelCid;
        bytes32 newModelHash;
        string evidenceCid;
        bytes32 rewardsRoot;
        uint256 budget;
        uint32 accepted;
        address[] flagged;
        bytes shares;
    }

    /**
     * @notice A task as returned by {getTask}.
     * @param sponsor Account that created and funded the task.
     * @param coordinator Current coordinator.
     * @param status Lifecycle status.
     * @param createdAt Creation time.
     * @param endedAt Time the task was completed, cancelled or aborted (0 while it runs).
     * @param totalRounds Number of rounds.
     * @param lastRound The last opened round (0 before the first).
     * @param roundOpen Whether `lastRound` is open (not finalised yet).
     * @param maxParticipants Participant limit.
     * @param participantCount Participants joined.
     * @param quorum Commitments a round needs to pay a budget.
     * @param slashBps Share of a stake slashed, in basis points.
     * @param permissioned Whether joining needs the allowlist or an invitation.
     * @param coordinatorStaked Whether the coordinator has staked (round 1 needs it).
     * @param openDisputes Rounds of the task disputed in ChallengeCourt right now.
     * @param deadline While no round is open: round `lastRound + 1` must open before this time.
     * @param pool Amount escrowed at creation (as received).
     * @param unallocated Escrow not allocated to any round (raised by slashes paid into the pool).
     * @param slashedIn Slashed stake paid into the pool so far (participants' slashes, the coordinator's
     * abort slash).
     * @param refunded Paid back to the sponsor so far (cancel, abort, remainder).
     * @param participantStake Stake each participant locks.
     * @param coordinatorStake Stake the coordinator locks.
     * @param specHash Hash of the task specification.
     * @param modelHash Model of the open round, or the latest finalised model.
     * @param pendingCoordinator Proposed replacement coordinator (zero when none).
     * @param replacementNotBefore When `pendingCoordinator` may accept.
     * @param specCid Content identifier of the task specification.
     */
    struct TaskInfo {
        address sponsor;
        address coordinator;
        TaskStatus status;
        uint64 createdAt;
        uint64 endedAt;
        uint32 totalRounds;
        uint32 lastRound;
        bool roundOpen;
        uint32 maxParticipants;
        uint32 participantCount;
        uint32 quorum;
        uint16 slashBps;
        bool permissioned;
        bool coordinatorStaked;
        uint16 openDisputes;
        uint64 deadline;
        uint256 pool;
        uint256 unallocated;
        uint256 slashedIn;
        uint256 refunded;
        uint256 participantStake;
        uint256 coordinatorStake;
        bytes32 specHash;
        bytes32 modelHash;
        address pendingCoordinator;
        uint64 replacementNotBefore;
        string specCid;
    }

    /**
     * @notice A round as returned by {getRound}.
     * @param commitDeadline The batch must be posted before this time.
     * @param revealStart Direct commitments close, update bytes are published from this time.
     * @param revealDeadline The round can be finalised from this time.
     * @param finalizeDeadline The round must be finalised before this time.
     * @param commitRoot The batch root while this is the latest round (older roots: {CommitBatchPosted}).
     * @param commitments Commitments counted for the quorum (batch count plus direct commitments, at most
     * the participants); final once the round is finalised.
     * @param accepted Updates the coordinator accepted.
     * @param claimableAt End of the challenge window (0 while not finalised).
     * @param finalizer The coordinator that finalised the round (slashed if a dispute on it is upheld).
     * @param rewardsRoot Merkle root of the round's rewards.
     * @param budget Amount allocated to the round.
     * @param claimed Amount claimed from the round.
     * @param disputed Whether a dispute on the round is open (claims and slashes wait).
     * @param flagsCleared Whether an upheld dispute cancelled the round's flags.
     * @param flagCount Participants flagged in the round.
     */
    struct RoundInfo {
        uint64 commitDeadline;
        uint64 revealStart;
        uint64 revealDeadline;
        uint64 finalizeDeadline;
        bytes32 commitRoot;
        uint32 commitments;
        uint32 accepted;
        uint64 claimableAt;
        address finalizer;
        bytes32 rewardsRoot;
        uint256 budget;
        uint256 claimed;
        bool disputed;
        bool flagsCleared;
        uint32 flagCount;
    }

    // ------------------------------------------------------------------ errors

    /**
     * @notice A parameter is zero, out of range or inconsistent.
     * @param field Name of the parameter: a {TaskConfig} or {Schedule} field at creation ("specHash",
     * "coordinator", "pool", "totalRounds", "maxParticipants", "quorum", "slashBps", "joinPeriod", ...),
     * or "modelHash", "root", "updateHash", "samples", "newModelHash", "rewardsRoot", "shares", and at
     * deployment "token", "admin".
     */
    error TaskInvalidConfig(string field);

    /**
     * @notice No task has this id.
     * @param taskId The id given.
     */
    error TaskUnknown(uint256 taskId);

    /**
     * @notice The task no longer accepts participants, coordinator stakes or cancellation.
     * @param taskId The task's id.
     * @param status The task's status.
     */
    error TaskNotJoining(uint256 taskId, TaskStatus status);

    /**
     * @notice The task has ended (completed, cancelled or aborted).
     * @param taskId The task's id.
     * @param status The task's status.
     */
    error TaskNotActive(uint256 taskId, TaskStatus status);

    /**
     * @notice The task has not ended yet.
     * @param taskId The task's id.
     * @param status The task's status.
     */
    error TaskNotFinished(uint256 taskId, TaskStatus status);

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
     * @notice The account is not a participant of the task.
     * @param taskId The task's id.
     * @param account The account.
     */
    error TaskNotParticipant(uint256 taskId, address account);

    /**
     * @notice The account already has another role in the task (sponsor, coordinator, participant, or a
     * former coordinator with stake).
     * @param taskId The task's id.
     * @param account The account.
     */
    error TaskRoleConflict(uint256 taskId, address account);

    /**
     * @notice The task has as many participants as it accepts.
     * @param taskId The task's id.
     * @param maxParticipants The task's participant limit.
     */
    error TaskFull(uint256 taskId, uint32 maxParticipants);

    /**
     * @notice The account has already joined the task.
     * @param taskId The task's id.
     * @param account The account.
     */
    error TaskAlreadyJoined(uint256 taskId, address account);

    /**
     * @notice A permissioned task: the account is neither allowlisted nor invited by the sponsor.
     * @param taskId The task's id.
     * @param account The account.
     */
    error TaskNotInvited(uint256 taskId, address account);

    /**
     * @notice The invitation's deadline has passed.
     * @param deadline The invitation's deadline.
     */
    error TaskInvitationExpired(uint256 deadline);

    /**
     * @notice The coordinator has not locked its stake yet, so round 1 cannot open.
     * @param taskId The task's id.
     */
    error TaskCoordinatorNotStaked(uint256 taskId);

    /**
     * @notice The coordinator has already staked.
     * @param taskId The task's id.
     */
    error TaskAlreadyStaked(uint256 taskId);

    /**
     * @notice Too few participants to open a round, or too few accepted updates to pay a budget.
     * @param taskId The task's id.
     * @param round The round.
     * @param count Participants (opening) or accepted updates (finalising).
     * @param quorum The task's quorum.
     */
    error TaskQuorumNotMet(uint256 taskId, uint32 round, uint32 count, uint32 quorum);

    /**
     * @notice Rounds open one after the other.
     * @param taskId The task's id.
     * @param expected The round that may open next.
     * @param given The round given.
     */
    error TaskRoundOutOfOrder(uint256 taskId, uint32 expected, uint32 given);

    /**
     * @notice The previous round is not finalised yet.
     * @param taskId The task's id.
     * @param round The round still open.
     */
    error TaskRoundStillOpen(uint256 taskId, uint32 round);

    /**
     * @notice The round is not the task's open round.
     * @param taskId The task's id.
     * @param round The round given.
     */
    error TaskRoundNotOpen(uint256 taskId, uint32 round);

    /**
     * @notice Round `r > 1` must open from the model finalised in round `r - 1`.
     * @param taskId The task's id.
     * @param expected The model hash finalised in the previous round.
     * @param given The model hash given.
     */
    error TaskModelMismatch(uint256 taskId, bytes32 expected, bytes32 given);

    /**
     * @notice The deadline for this action has passed.
     * @param taskId The task's id.
     * @param round The round.
     * @param deadline The deadline (the action had to happen before it).
     */
    error TaskDeadlinePassed(uint256 taskId, uint32 round, uint64 deadline);

    /**
     * @notice Too early: a round can be finalised only from its reveal deadline (never in the block it opens).
     * @param taskId The task's id.
     * @param round The round.
     * @param notBefore The earliest time.
     */
    error TaskTooEarly(uint256 taskId, uint32 round, uint64 notBefore);

    /**
     * @notice The round's batch of commitments has already been posted.
     * @param taskId The task's id.
     * @param round The round.
     */
    error TaskBatchAlreadyPosted(uint256 taskId, uint32 round);

    /**
     * @notice A batch must hold 1 to `participants` commitments.
     * @param taskId The task's id.
     * @param round The round.
     * @param count The count given.
     * @param participants The task's participants.
     */
    error TaskBatchCountInvalid(uint256 taskId, uint32 round, uint32 count, uint32 participants);

    /**
     * @notice The participant has already committed directly in this round.
     * @param taskId The task's id.
     * @param round The round.
     * @param account The participant.
     */
    error TaskAlreadyCommitted(uint256 taskId, uint32 round, address account);

    /**
     * @notice Another participant already committed this update hash directly in this round (a copy).
     * @param taskId The task's id.
     * @param round The round.
     * @param updateHash The hash.
     * @param firstCommitter The participant that committed it first.
     */
    error TaskUpdateHashTaken(uint256 taskId, uint32 round, bytes32 updateHash, address firstCommitter);

    /**
     * @notice The budget is above the round's cap (an equal share of the unallocated escrow).
     * @param taskId The task's id.
     * @param round The round.
     * @param budget The budget given.
     * @param cap The cap.
     */
    error TaskBudgetExceeded(uint256 taskId, uint32 round, uint256 budget, uint256 cap);

    /**
     * @notice More updates accepted than were committed.
     * @param taskId The task's id.
     * @param round The round.
     * @param accepted The count given.
     * @param commitments The round's commitments.
     */
    error TaskAcceptedAboveCommitments(uint256 taskId, uint32 round, uint32 accepted, uint32 commitments);

    /**
     * @notice A flagged account is not a participant, or is flagged twice.
     * @param taskId The task's id.
     * @param round The round.
     * @param account The account.
     */
    error TaskFlagInvalid(uint256 taskId, uint32 round, address account);

    /**
     * @notice The last round's shares must be one uint16 per participant summing to exactly 10,000.
     * @param taskId The task's id.
     * @param sum The sum of the shares given (of the whole uint16 entries).
     */
    error TaskSharesInvalid(uint256 taskId, uint256 sum);

    /**
     * @notice The round is not finalised, its challenge window has not passed, or it is disputed.
     * @param taskId The task's id.
     * @param round The round.
     */
    error TaskRoundNotClaimable(uint256 taskId, uint32 round);

    /**
     * @notice The account has already claimed from this round.
     * @param taskId The task's id.
     * @param round The round.
     * @param account The account.
     */
    error TaskAlreadyClaimed(uint256 taskId, uint32 round, address account);

    /**
     * @notice The proof does not show `(taskId, round, account, amount)` in the round's rewards root.
     * @param taskId The task's id.
     * @param round The round.
     * @param account The claimant.
     * @param amount The amount claimed.
     */
    error TaskInvalidProof(uint256 taskId, uint32 round, address account, uint256 amount);

    /**
     * @notice The claim would take the round above its budget, whatever its root says.
     * @param taskId The task's id.
     * @param round The round.
     * @param budget The round's budget.
     * @param claimed What the round would have paid with this claim.
     */
    error TaskRoundOverpaid(uint256 taskId, uint32 round, uint256 budget, uint256 claimed);

    /**
     * @notice The arrays of {claimMany} differ in length.
     * @param rounds Length of `rounds`.
     * @param amounts Length of `amounts`.
     * @param proofs Length of `proofs`.
     */
    error TaskArrayLengthMismatch(uint256 rounds, uint256 amounts, uint256 proofs);

    /**
     * @notice No deadline was missed yet (or, for anyone but the sponsor, the abort grace still runs).
     * @param taskId The task's id.
     * @param notBefore When the caller may abort.
     */
    error TaskNotAbortable(uint256 taskId, uint64 notBefore);

    /**
     * @notice The task has no coordinator proposal.
     * @param taskId The task's id.
     */
    error TaskNoCoordinatorProposal(uint256 taskId);

    /**
     * @notice Only the proposed coordinator may accept.
     * @param taskId The task's id.
     * @param caller The account that tried.
     */
    error TaskNotProposedCoordinator(uint256 taskId, address caller);

    /**
     * @notice The replacement timelock still runs.
     * @param taskId The task's id.
     * @param notBefore When the proposed coordinator may accept.
     */
    error TaskTimelocked(uint256 taskId, uint64 notBefore);

    /**
     * @notice The account has no stake in the task, or the sponsor no remainder to withdraw.
     * @param taskId The task's id.
     * @param account The account.
     */
    error TaskNothingToWithdraw(uint256 taskId, address account);

    /**
     * @notice The stake is still locked (cooldown, or a former coordinator's last challenge window).
     * @param taskId The task's id.
     * @param account The staker.
     * @param notBefore When it unlocks.
     */
    error TaskStakeLocked(uint256 taskId, address account, uint64 notBefore);

    /**
     * @notice Stakes stay locked while a round of the task is disputed.
     * @param taskId The task's id.
     * @param openDisputes The disputes open.
     */
    error TaskDisputesOpen(uint256 taskId, uint16 openDisputes);

    /**
     * @notice The participant has flags to settle with {executeSlash} before it withdraws its stake.
     * @param taskId The task's id.
     * @param account The participant.
     * @param flags The flags pending.
     */
    error TaskSlashPending(uint256 taskId, address account, uint32 flags);

    /**
     * @notice The account is not (or no longer) flagged in this round.
     * @param taskId The task's id.
     * @param round The round.
     * @param account The account.
     */
    error TaskNotFlagged(uint256 taskId, uint32 round, address account);

    /**
     * @notice Disputes open only inside a finalised round's challenge window.
     * @param taskId The task's id.
     * @param round The round.
     * @param claimableAt The end of the window (0 when the round is not finalised).
     */
    error TaskNotInChallengeWindow(uint256 taskId, uint32 round, uint64 claimableAt);

    /**
     * @notice The round is already disputed.
     * @param taskId The task's id.
     * @param round The round.
     */
    error TaskRoundDisputed(uint256 taskId, uint32 round);

    /**
     * @notice The round is not disputed.
     * @param taskId The task's id.
     * @param round The round.
     */
    error TaskRoundNotDisputed(uint256 taskId, uint32 round);

    /**
     * @notice A slash above 10,000 basis points.
     * @param bps The basis points given.
     */
    error TaskInvalidBps(uint256 bps);

    // ------------------------------------------------------------------ events

    /**
     * @notice A task was created and its pool escrowed.
     * @param taskId The new task's id.
     * @param sponsor The account that funded the pool.
     * @param coordinator The account that runs the rounds.
     * @param pool The amount escrowed (as received).
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
     * @notice The sponsor allowed or disallowed an account to join its permissioned task.
     * @param taskId The task's id.
     * @param account The account.
     * @param allowed Whether it may join.
     */
    event AllowlistUpdated(uint256 indexed taskId, address indexed account, bool allowed);

    /**
     * @notice An account joined a task.
     * @param taskId The task's id.
     * @param participant The account.
     * @param index Its position in join order (0-based): its index in the shares.
     * @param stake The stake it locked (as received).
     */
    event TaskJoined(uint256 indexed taskId, address indexed participant, uint32 index, uint256 stake);

    /**
     * @notice The coordinator locked its stake.
     * @param taskId The task's id.
     * @param coordinator The coordinator.
     * @param stake The stake locked (as received).
     */
    event CoordinatorStaked(uint256 indexed taskId, address indexed coordinator, uint256 stake);

    /**
     * @notice The sponsor cancelled a task in Joining and got its escrow back.
     * @param taskId The task's id.
     * @param refunded The amount refunded.
     */
    event TaskCancelled(uint256 indexed taskId, uint256 refunded);

    /**
     * @notice The coordinator opened a round.
     * @param taskId The task's id.
     * @param round The round (1-based).
     * @param modelCid Content identifier of the model participants train from.
     * @param modelHash Hash of that model.
     * @param commitDeadline The batch must be posted before this time.
     * @param revealStart Direct commitments close at this time.
     * @param revealDeadline The round can be finalised from this time.
     * @param finalizeDeadline The round must be finalised before this time.
     */
    event RoundOpened(
        uint256 indexed taskId,
        uint32 indexed round,
        string modelCid,
        bytes32 modelHash,
        uint64 commitDeadline,
        uint64 revealStart,
        uint64 revealDeadline,
        uint64 finalizeDeadline
    );

    /**
     * @notice The coordinator anchored the round's batch of signed commitments.
     * @param taskId The task's id.
     * @param round The round.
     * @param root Merkle root of the commitment leaves.
     * @param count Number of leaves.
     * @param batchCid Content identifier of the batch document (every leaf with its signature).
     */
    event CommitBatchPosted(uint256 indexed taskId, uint32 indexed round, bytes32 root, uint32 count, string batchCid);

    /**
     * @notice A participant committed its update directly (superseding its batched leaf, if any).
     * @param taskId The task's id.
     * @param round The round.
     * @param participant The participant.
     * @param updateHash keccak256 of the update bytes.
     * @param samples Training samples behind the update.
     * @param updateCid Content identifier the update's bytes will have once revealed (stored in this event
     * only). A CID is a hash of the bytes: it reveals nothing before the reveal phase.
     */
    event UpdateCommitted(
        uint256 indexed taskId,
        uint32 indexed round,
        address indexed participant,
        bytes32 updateHash,
        uint64 samples,
        string updateCid
    );

    /**
     * @notice The coordinator finalised a round.
     * @param taskId The task's id.
     * @param round The round.
     * @param modelCid Content identifier of the aggregated model.
     * @param modelHash Hash of the aggregated model.
     * @param evidenceCid Content identifier of the round's evidence document.
     * @param rewardsRoot Merkle root of the round's rewards.
     * @param budget Amount allocated to the round.
     * @param accepted Updates accepted.
     * @param flagged Participants flagged malicious.
     * @param claimableAt End of the challenge window.
     */
    event RoundFinalized(
        uint256 indexed taskId,
        uint32 indexed round,
        string modelCid,
        bytes32 modelHash,
        string evidenceCid,
        bytes32 rewardsRoot,
        uint256 budget,
        uint32 accepted,
        address[] flagged,
        uint64 claimableAt
    );

    /**
     * @notice The last round was finalised; the task is completed.
     * @param taskId The task's id.
     * @param finalModelCid Content identifier of the final model.
     * @param finalModelHash Hash of the final model.
     * @param shares The contributors' shares (big-endian uint16 basis points in join order).
     */
    event TaskCompleted(uint256 indexed taskId, string finalModelCid, bytes32 finalModelHash, bytes shares);

    /**
     * @notice A participant claimed its reward for a round.
     * @param taskId The task's id.
     * @param round The round.
     * @param account The participant.
     * @param amount The amount paid.
     */
    event RewardsClaimed(uint256 indexed taskId, uint32 indexed round, address indexed account, uint256 amount);

    /**
     * @notice A task was aborted after its coordinator missed a deadline.
     * @param taskId The task's id.
     * @param caller The account that aborted it.
     * @param refunded Unallocated escrow plus the coordinator's slash, paid to the sponsor.
     * @param coordinatorSlashed The part of `refunded` slashed from the coordinator's stake.
     */
    event TaskAborted(uint256 indexed taskId, address indexed caller, uint256 refunded, uint256 coordinatorSlashed);

    /**
     * @notice The sponsor of an ended task withdrew the unallocated escrow left.
     * @param taskId The task's id.
     * @param sponsor The sponsor.
     * @param amount The amount withdrawn.
     */
    event RemainderWithdrawn(uint256 indexed taskId, address indexed sponsor, uint256 amount);

    /**
     * @notice The sponsor proposed a new coordinator.
     * @param taskId The task's id.
     * @param proposed The proposed coordinator.
     * @param notBefore When it may accept.
     */
    event CoordinatorProposed(uint256 indexed taskId, address indexed proposed, uint64 notBefore);

    /**
     * @notice The sponsor withdrew its coordinator proposal.
     * @param taskId The task's id.
     * @param proposed The coordinator that had been proposed.
     */
    event CoordinatorProposalCancelled(uint256 indexed taskId, address indexed proposed);

    /**
     * @notice A proposed coordinator accepted and staked; the previous one's stake is released.
     * @param taskId The task's id.
     * @param previous The previous coordinator.
     * @param coordinator The new coordinator.
     * @param stake The stake the new coordinator locked (as received).
     */
    event CoordinatorReplaced(
        uint256 indexed taskId,
        address indexed previous,
        address indexed coordinator,
        uint256 stake
    );

    /**
     * @notice A staker withdrew its stake.
     * @param taskId The task's id.
     * @param account The staker.
     * @param amount The amount paid.
     */
    event StakeWithdrawn(uint256 indexed taskId, address indexed account, uint256 amount);

    /**
     * @notice A participant's stake was slashed into the task's pool.
     * @param taskId The task's id.
     * @param round The round it was flagged in (0 for a court verdict).
     * @param account The participant.
     * @param amount The amount moved into the unallocated escrow.
     */
    event ParticipantSlashed(uint256 indexed taskId, uint32 indexed round, address indexed account, uint256 amount);

    /**
     * @notice A flag cancelled by an upheld dispute was settled without a slash.
     * @param taskId The task's id.
     * @param round The round.
     * @param account The participant.
     */
    event FlagDismissed(uint256 indexed taskId, uint32 indexed round, address indexed account);

    /**
     * @notice ChallengeCourt opened a dispute on a round: its claims and slashes wait for the verdict.
     * @param taskId The task's id.
     * @param round The round.
     */
    event DisputeOpened(uint256 indexed taskId, uint32 indexed round);

    /**
     * @notice ChallengeCourt resolved a dispute on a round.
     * @param taskId The task's id.
     * @param round The round.
     * @param upheld Whether the coordinator's verdict was overturned.
     * @param rewardsRoot The round's rewards root from now on.
     * @param coordinatorSlashed Slashed from the round's finalizer and paid to the court.
     */
    event DisputeResolved(
        uint256 indexed taskId,
        uint32 indexed round,
        bool upheld,
        bytes32 rewardsRoot,
        uint256 coordinatorSlashed
    );

    // ------------------------------------------------------------------ admin

    /// @notice Stops what takes money in or starts work (never payouts). `PAUSER_ROLE` only.
    function pause() external;

    /// @notice Lifts the pause. `PAUSER_ROLE` only.
    function unpause() external;

    // ------------------------------------------------------------------ creation and joining

    /**
     * @notice Creates a task; the caller becomes its sponsor and `config.pool` is escrowed from it.
     * @dev Not while paused. Reverts {TaskInvalidConfig} naming the first bad field, in the order
     * "specHash", "coordinator" (zero or the sponsor), "pool" (zero, or nothing received), "totalRounds",
     * "maxParticipants", "quorum", "slashBps", then the schedule's zero periods in declaration order.
     * @param config The task's configuration.
     * @return taskId The new task's id (ids start at 1).
     */
    function createTask(TaskConfig calldata config) external returns (uint256 taskId);

    /**
     * @notice Allows or disallows accounts to join a permissioned task. Sponsor only.
     * @param taskId The task's id.
     * @param accounts The accounts.
     * @param allowed Whether they may join.
     */
    function setAllowed(uint256 taskId, address[] calldata accounts, bool allowed) external;

    /**
     * @notice Joins a task in Joining, locking `participantStake` (credited as received).
     * @dev Not while paused. Reverts {TaskUnknown}, {TaskNotJoining}, {TaskRoleConflict} (the sponsor, the
     * coordinator or a former coordinator), {TaskAlreadyJoined}, {TaskFull}, then for a permissioned task
     * without an allowlist entry {TaskInvitationExpired} or {TaskNotInvited}.
     * @param taskId The task's id.
     * @param deadline The invitation's deadline (ignored unless an invitation is used).
     * @param invitation The sponsor's EIP-712 signature over `Invitation(taskId, caller, deadline)`, or empty.
     */
    function joinTask(uint256 taskId, uint256 deadline, bytes calldata invitation) external;

    /**
     * @notice Cancels a task in Joining: the pool goes back to the sponsor, stakes are withdrawable at once.
     * @param taskId The task's id.
     */
    function cancelTask(uint256 taskId) external;

    /**
     * @notice The coordinator locks `coordinatorStake` (credited as received); round 1 needs it.
     * @dev Not while paused. While Joining only.
     * @param taskId The task's id.
     */
    function stakeAsCoordinator(uint256 taskId) external;

    // ------------------------------------------------------------------ rounds

    /**
     * @notice Opens round `round` and fixes its deadlines from the schedule.
     * @dev Coordinator only, not while paused. Reverts {TaskUnknown}, {TaskNotCoordinator}, {TaskNotActive},
     * {TaskRoundOutOfOrder}, {TaskRoundStillOpen}, {TaskDeadlinePassed} (the open-by deadline),
     * {TaskCoordinatorNotStaked}, {TaskQuorumNotMet} (participants below the quorum),
     * {TaskInvalidConfig}("modelHash") or {TaskModelMismatch}, in that order.
     * @param taskId The task's id.
     * @param round The last opened round plus one.
     * @param modelCid Content identifier of the model participants train from.
     * @param modelHash Its hash: for round 1 any non-zero hash, then the hash finalised in round `round - 1`.
     */
    function openRound(uint256 taskId, uint32 round, string calldata modelCid, bytes32 modelHash) external;

    /**
     * @notice Anchors the round's batch of participant-signed commitments: one Merkle root, once per round,
     * before the commit deadline. Gas does not depend on the number of participants.
     * @dev Coordinator only, not while paused. Leaves are
     * `keccak256(bytes.concat(keccak256(abi.encode(taskId, round, participant, updateHash, samples))))`, each
     * backed by the participant's EIP-712 `UpdateCommitment` signature in the batch document.
     * @param taskId The task's id.
     * @param round The open round.
     * @param root The Merkle root (non-zero).
     * @param count Number of leaves, 1 to the number of participants.
     * @param batchCid Content identifier of the batch document.
     */
    function commitBatch(uint256 taskId, uint32 round, bytes32 root, uint32 count, string calldata batchCid) external;

    /**
     * @notice Commits the caller's update directly, until the reveal start: for small tasks, and for a
     * participant left out of the batch. Supersedes the caller's batched leaf.
     * @dev Not while paused. Reverts {TaskUnknown}, {TaskNotParticipant}, {TaskRoundNotOpen},
     * {TaskDeadlinePassed} (reveal start), {TaskInvalidConfig}("updateHash" / "samples"),
     * {TaskAlreadyCommitted}, {TaskUpdateHashTaken}, in that order.
     * @param taskId The task's id.
     * @param round The open round.
     * @param updateHash keccak256 of the update bytes (non-zero).
     * @param samples Training samples behind the update (non-zero).
     * @param updateCid Content identifier the bytes will have in the store (emitted only), so the coordinator
     * can fetch them in the reveal phase without any other channel.
     */
    function commitUpdate(
        uint256 taskId,
        uint32 round,
        bytes32 updateHash,
        uint64 samples,
        string calldata updateCid
    ) external;

    /**
     * @notice Finalises the open round after its reveal deadline: moves `f.budget` from the unallocated escrow
     * to the round, starts its challenge window, and on the last round records the shares and completes the
     * task.
     * @dev Coordinator only. Reverts {TaskUnknown}, {TaskNotCoordinator}, {TaskRoundNotOpen}, {TaskTooEarly},
     * {TaskDeadlinePassed}, {TaskInvalidConfig}("newModelHash" / "rewardsRoot"), {TaskBudgetExceeded},
     * {TaskAcceptedAboveCommitments}, {TaskQuorumNotMet}, {TaskSharesInvalid} (last round) or
     * {TaskInvalidConfig}("shares") (shares on another round), {TaskFlagInvalid}, in that order.
     * @param taskId The task's id.
     * @param round The open round.
     * @param f The finalisation.
     */
    function finalizeRound(uint256 taskId, uint32 round, Finalization calldata f) external;

    // ------------------------------------------------------------------ claims

    /**
     * @notice Claims the caller's reward for a round with a Merkle proof of its leaf
     * `keccak256(bytes.concat(keccak256(abi.encode(taskId, round, caller, amount))))`.
     * @dev Reverts {TaskRoundNotClaimable}, {TaskNotParticipant}, {TaskAlreadyClaimed}, {TaskInvalidProof},
     * {TaskRoundOverpaid}, in that order.
     * @param taskId The task's id.
     * @param round A finalised round whose window passed undisputed.
     * @param amount The amount in the caller's leaf.
     * @param proof The Merkle proof.
     */
    function claimRewards(uint256 taskId, uint32 round, uint256 amount, bytes32[] calldata proof) external;

    /**
     * @notice {claimRewards} for several rounds of one task, paid in one transfer.
     * @param taskId The task's id.
     * @param rounds The rounds.
     * @param amounts The amount in the caller's leaf of each round.
     * @param proofs A Merkle proof per round.
     */
    function claimMany(
        uint256 taskId,
        uint32[] calldata rounds,
        uint256[] calldata amounts,
        bytes32[][] calldata proofs
    ) external;

    // ------------------------------------------------------------------ liveness

    /**
     * @notice Aborts a task whose coordinator missed a deadline (round 1 not opened in the join period, the
     * open round not finalised by its finalize deadline, the next round not opened within the open period):
     * the sponsor at once, anyone after the abort grace. The unallocated escrow and the coordinator's slash
     * go to the sponsor; finalised rounds stay claimable.
     * @dev Never paused. Reverts {TaskUnknown}, {TaskNotActive} or {TaskNotAbortable}.
     * @param taskId The task's id.
     */
    function abortTask(uint256 taskId) external;

    /**
     * @notice Pays the sponsor of an ended task the unallocated escrow left (a completed task's unspent
     * budget, slashes paid into the pool after the end).
     * @param taskId The task's id.
     */
    function withdrawRemainder(uint256 taskId) external;

    /**
     * @notice The sponsor proposes a new coordinator; it may accept after {REPLACEMENT_DELAY}.
     * @dev Reverts {TaskNotSponsor}, {TaskNotActive}, {TaskInvalidConfig}("coordinator") for zero,
     * {TaskRoleConflict} for the sponsor, the coordinator or a participant.
     * @param taskId The task's id.
     * @param newCoordinator The proposed coordinator.
     */
    function proposeCoordinator(uint256 taskId, address newCoordinator) external;

    /**
     * @notice The sponsor withdraws its coordinator proposal.
     * @param taskId The task's id.
     */
    function cancelCoordinatorProposal(uint256 taskId) external;

    /**
     * @notice The proposed coordinator takes over after the timelock, locking `coordinatorStake`. The missed
     * or coming deadline moves to at least a full period from now (open period, or finalize period for an
     * open round) so the new coordinator can act; the previous one's stake is released once the challenge
     * windows of the rounds it finalised have passed.
     * @dev Not while paused. Reverts {TaskNotActive}, {TaskNotProposedCoordinator}, {TaskTimelocked},
     * {TaskRoleConflict} (joined since the proposal).
     * @param taskId The task's id.
     */
    function acceptCoordination(uint256 taskId) external;

    // ------------------------------------------------------------------ stakes and slashing

    /**
     * @notice Withdraws the caller's stake: once the task ended and the cooldown passed (at once for a
     * cancelled task), with no dispute open and no flag pending; a former coordinator once the windows of
     * its rounds passed.
     * @param taskId The task's id.
     */
    function withdrawStake(uint256 taskId) external;

    /**
     * @notice Settles a flag once the round's window passed undisputed: slashes the participant by
     * `slashBps` into the pool, or (when an upheld dispute cancelled the round's flags) just clears it.
     * @dev Anyone; never paused.
     * @param taskId The task's id.
     * @param round The round the participant was flagged in.
     * @param account The participant.
     */
    function executeSlash(uint256 taskId, uint32 round, address account) external;

    // ------------------------------------------------------------------ COURT_ROLE hooks

    /**
     * @notice Marks a round disputed (claims and slashes of the round wait). `COURT_ROLE` only, inside the
     * round's challenge window.
     * @param taskId The task's id.
     * @param round The round.
     */
    function openDispute(uint256 taskId, uint32 round) external;

    /**
     * @notice Resolves a dispute. Upheld: the round's root becomes `correctedRoot` (a zero root returns the
     * budget to the pool), the last round's shares become `correctedShares` when non-empty, the round's flags
     * are cancelled and its finalizer is slashed by `slashBps`, paid to the caller. Rejected: the round is
     * released. `COURT_ROLE` only.
     * @param taskId The task's id.
     * @param round The disputed round.
     * @param upheld Whether the coordinator's verdict is overturned.
     * @param correctedRoot The corrected rewards root (upheld only).
     * @param correctedShares Corrected shares of the last round, or empty (upheld only).
     * @return slashed Amount slashed from the finalizer and transferred to the caller.
     */
    function resolveDispute(
        uint256 taskId,
        uint32 round,
        bool upheld,
        bytes32 correctedRoot,
        bytes calldata correctedShares
    ) external returns (uint256 slashed);

    /**
     * @notice Slashes a participant by `bps` of its stake into the pool (a court verdict). `COURT_ROLE` only.
     * @param taskId The task's id.
     * @param account The participant.
     * @param bps Basis points of its stake, at most 10,000.
     * @return slashed The amount moved into the unallocated escrow.
     */
    function slashParticipant(uint256 taskId, address account, uint16 bps) external returns (uint256 slashed);

    // ------------------------------------------------------------------ views

    /**
     * @notice When a finalised round becomes claimable and whether it is disputed.
     * @param taskId The task's id.
     * @param round The round.
     * @return claimableAt End of the challenge window (0 while not finalised).
     * @return disputed Whether a dispute on the round is open.
     */
    function roundClaimableAt(uint256 taskId, uint32 round) external view returns (uint64 claimableAt, bool disputed);

    /**
     * @notice Returns a task (reverts {TaskUnknown} when there is none).
     * @param taskId The task's id.
     * @return info The task.
     */
    function getTask(uint256 taskId) external view returns (TaskInfo memory info);

    /**
     * @notice Returns a task's schedule (reverts {TaskUnknown} when there is none).
     * @param taskId The task's id.
     * @return schedule The schedule.
     */
    function getSchedule(uint256 taskId) external view returns (Schedule memory schedule);

    /**
     * @notice Returns a round (all zero for a round not opened).
     * @param taskId The task's id.
     * @param round The round.
     * @return info The round.
     */
    function getRound(uint256 taskId, uint32 round) external view returns (RoundInfo memory info);

    /**
     * @notice A task's participants in join order.
     * @param taskId The task's id.
     * @return participants The participants.
     */
    function getParticipants(uint256 taskId) external view returns (address[] memory participants);

    /**
     * @notice A participant's index in join order (reverts {TaskNotParticipant} for others).
     * @param taskId The task's id.
     * @param account The participant.
     * @return index Its 0-based index.
     */
    function participantIndex(uint256 taskId, address account) external view returns (uint32 index);

    /**
     * @notice Stake an account holds in a task (participant, coordinator or former coordinator).
     * @param taskId The task's id.
     * @param account The account.
     * @return amount The stake.
     */
    function stakeOf(uint256 taskId, address account) external view returns (uint256 amount);

    /**
     * @notice A participant's direct commitment in a round (zero when none; batched leaves are off-chain).
     * @param taskId The task's id.
     * @param round The round.
     * @param account The participant.
     * @return updateHash keccak256 of the update bytes.
     * @return samples Training samples behind the update.
     */
    function commitmentOf(
        uint256 taskId,
        uint32 round,
        address account
    ) external view returns (bytes32 updateHash, uint64 samples);

    /**
     * @notice A completed task's shares in join order (empty before completion).
     * @param taskId The task's id.
     * @return bps One basis-point share per participant, summing to 10,000.
     */
    function shares(uint256 taskId) external view returns (uint16[] memory bps);

    /**
     * @notice The most a round not yet finalised may be given now: `unallocated / (totalRounds - round + 1)`
     * (also capped at 2^128 - 1); 0 for a round out of range.
     * @param taskId The task's id.
     * @param round The round.
     * @return cap The cap.
     */
    function roundCap(uint256 taskId, uint32 round) external view returns (uint256 cap);

    /**
     * @notice Whether an account has claimed its reward for a round.
     * @param taskId The task's id.
     * @param round The round.
     * @param account The account.
     * @return claimed True once claimed.
     */
    function hasClaimed(uint256 taskId, uint32 round, address account) external view returns (bool claimed);

    /**
     * @notice Whether the sponsor allowlisted an account.
     * @param taskId The task's id.
     * @param account The account.
     * @return allowed True when allowlisted.
     */
    function isAllowed(uint256 taskId, address account) external view returns (bool allowed);

    /**
     * @notice Whether an account is flagged (not yet settled) in a round.
     * @param taskId The task's id.
     * @param round The round.
     * @param account The account.
     * @return flagged True while the flag is pending.
     */
    function isFlagged(uint256 taskId, uint32 round, address account) external view returns (bool flagged);

    /**
     * @notice Flags pending against a participant, over all rounds.
     * @param taskId The task's id.
     * @param account The participant.
     * @return count The flags pending.
     */
    function pendingFlags(uint256 taskId, address account) external view returns (uint32 count);

    /**
     * @notice Number of tasks ever created (the id of the latest one).
     * @return count The number of tasks.
     */
    function taskCount() external view returns (uint256 count);

    /**
     * @notice The reward token every task is funded, staked and paid in.
     * @return rewardToken The token.
     */
    function token() external view returns (IERC20 rewardToken);

    /**
     * @notice Most rounds a task may have.
     * @return limit 1,000.
     */
    // solhint-disable-next-line func-name-mixedcase
    function MAX_ROUNDS() external view returns (uint32 limit);

    /**
     * @notice Most participants a task may have (it bounds the only participant loops: shares, views).
     * @return limit 1,024.
     */
    // solhint-disable-next-line func-name-mixedcase
    function MAX_PARTICIPANTS() external view returns (uint32 limit);

    /**
     * @notice Timelock between a coordinator proposal and its acceptance.
     * @return delay 2 days, in seconds.
     */
    // solhint-disable-next-line func-name-mixedcase
    function REPLACEMENT_DELAY() external view returns (uint64 delay);

    /**
     * @notice Role that may pause and unpause.
     * @return role keccak256("PAUSER_ROLE").
     */
    // solhint-disable-next-line func-name-mixedcase
    function PAUSER_ROLE() external view returns (bytes32 role);

    /**
     * @notice Role of ChallengeCourt: the dispute and slashing hooks.
     * @return role keccak256("COURT_ROLE").
     */
    // solhint-disable-next-line func-name-mixedcase
    function COURT_ROLE() external view returns (bytes32 role);

    /**
     * @notice EIP-712 type hash of `Invitation(uint256 taskId,address participant,uint256 deadline)`.
     * @return typeHash The type hash.
     */
    // solhint-disable-next-line func-name-mixedcase
    function INVITATION_TYPEHASH() external view returns (bytes32 typeHash);

    /**
     * @notice EIP-712 type hash of `UpdateCommitment(uint256 taskId,uint32 round,bytes32 updateHash,uint64 samples)`,
     * the struct participants sign for the coordinator's batch (checked off-chain by auditors).
     * @return typeHash The type hash.
     */
    // solhint-disable-next-line func-name-mixedcase
    function UPDATE_COMMITMENT_TYPEHASH() external view returns (bytes32 typeHash);

    /**
     * @notice The EIP-712 domain separator ("FedMarket FedTask", version "2") of invitations and commitments.
     * @return separator The domain separator.
     */
    // solhint-disable-next-line func-name-mixedcase
    function DOMAIN_SEPARATOR() external view returns (bytes32 separator);
}
