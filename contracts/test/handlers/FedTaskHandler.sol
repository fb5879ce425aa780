// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ChallengeCourt} from "../../ChallengeCourt.sol";
import {FedTask} from "../../FedTask.sol";
import {IChallengeCourt} from "../../interfaces/IChallengeCourt.sol";
import {IFedTask} from "../../interfaces/IFedTask.sol";
import {MockToken} from "../mocks/MockToken.sol";
import {Merkle} from "../utils/Merkle.sol";
import {Test} from "../utils/Test.sol";

/**
 * @title FedTaskHandler
 * @notice Drives FedTask and ChallengeCourt through random action sequences for the invariant tests: 12
 * participants and 4 sybils, two sponsors (allowlists and EIP-712 invitations), two coordinators (that also
 * try to join their own tasks), commitments, finalisations with Merkle rewards and flags, claims (and double
 * claims), time passing, aborts, cancellations, slashes, stake withdrawals, challenges, votes and verdicts.
 * @dev Each action picks its task and actors from the fuzzed seeds, checks its preconditions with FedTask's
 * views and calls only when the call is valid: the invariant tests run with `failOnRevert`, so a valid action
 * that a contract rejects fails them. Attacks that must fail (the coordinator joining, a sybil joining a
 * permissioned task, a second claim) are tried with try/catch and the outcome recorded in ghost flags.
 * The handler mints every token (the mock token lets anyone mint), so the supply is known.
 */
contract FedTaskHandler is Test {
    uint256 private constant PARTICIPANTS = 12;
    uint256 private constant SYBILS = 4;
    uint256 private constant SPONSORS = 2;
    uint256 private constant COORDINATORS = 2;
    uint256 private constant VALIDATORS = 3;
    uint256 private constant MAX_TASKS = 3;
    uint256 private constant VALIDATOR_STAKE = 100e18;

    /// @dev A reward leaf the handler created (and whether it was claimed).
    struct Leaf {
        address account;
        uint256 amount;
        bool claimed;
    }

    FedTask public immutable fedTask;
    ChallengeCourt public immutable court;
    MockToken public immutable token;

    address[] private _participants;
    address[] private _sybils;
    address[] private _sponsors;
    uint256[] private _sponsorKeys;
    address[] private _coordinators;
    address[] private _validators;

    mapping(uint256 taskId => mapping(uint32 round => Leaf[])) private _leaves;
    /// @dev Whether a round's leaves still match its root (an upheld dispute may replace it).
    mapping(uint256 taskId => mapping(uint32 round => bool)) private _leavesValid;

    /// @notice Tokens minted by the handler (the whole supply).
    uint256 public ghostMinted;
    /// @notice Set when the coordinator or the sponsor of a task managed to join it.
    bool public ghostRoleConflictBroken;
    /// @notice Set when a sybil joined a permissioned task without an invitation.
    bool public ghostSybilAdmitted;
    /// @notice Set when a leaf was paid twice, or a second claim failed with another error.
    bool public ghostDoubleClaim;
    /// @notice Set when an abort refunded something else than the unallocated escrow plus the stall slash.
    bool public ghostAbortRefundMismatch;
    /// @notice Set when an expected revert came with unexpected data.
    bool public ghostUnexpectedError;
    /// @notice Number of successful calls per action, for the test log.
    mapping(bytes32 action => uint256) public calls;

    constructor(FedTask fedTask_, ChallengeCourt court_, MockToken token_) {
        fedTask = fedTask_;
        court = court_;
        token = token_;
        for (uint256 i = 0; i < PARTICIPANTS; ++i) {
            _participants.push(_approved(address(uint160(0xA000 + i))));
        }
        for (uint256 i = 0; i < SYBILS; ++i) {
            _sybils.push(_approved(address(uint160(0x5B00 + i))));
        }
        for (uint256 i = 0; i < SPONSORS; ++i) {
            uint256 key = uint256(keccak256(abi.encode("handler sponsor", i)));
            _sponsors.push(_approved(vm.addr(key)));
            _sponsorKeys.push(key);
        }
        for (uint256 i = 0; i < COORDINATORS; ++i) {
            _coordinators.push(_approved(address(uint160(0xC000 + i))));
        }
        for (uint256 i = 0; i < VALIDATORS; ++i) {
            address validator = _approved(address(uint160(0x7A00 + i)));
            _validators.push(validator);
            _mint(validator, VALIDATOR_STAKE);
            vm.prank(validator);
            court.registerValidator(VALIDATOR_STAKE);
        }
    }

    // ------------------------------------------------------------------ set-up actions

    /// @notice A sponsor creates a task with a random configuration (at most MAX_TASKS).
    function createTask(uint256 seed, uint256 pool, bool permissioned) external {
        if (fedTask.taskCount() >= MAX_TASKS) return;
        address sponsor = _sponsors[seed % SPONSORS];
        IFedTask.TaskConfig memory config;
        config.specCid = "spec";
        config.specHash = keccak256(abi.encode("spec", seed));
        config.coordinator = _coordinators[(seed >> 8) % COORDINATORS];
        config.pool = bound(pool, 1, 1e24);
        config.totalRounds = uint32(bound(seed >> 16, 1, 3));
        config.maxParticipants = uint32(bound(seed >> 24, 10, 16));
        config.quorum = uint32(bound(seed >> 32, 1, 3));
        config.participantStake = bound(seed >> 40, 0, 5e18);
        config.coordinatorStake = bound(seed >> 104, 0, 50e18);
        config.slashBps = uint16(bound(seed >> 168, 0, 10_000));
        config.permissioned = permissioned;
        config.schedule = IFedTask.Schedule({
            joinPeriod: 2 days,
            commitPeriod: 1 hours,
            inclusionPeriod: (seed >> 200) % 2 == 0 ? 0 : 30 minutes,
            revealPeriod: 1 hours,
            finalizePeriod: 1 days,
            challengePeriod: 1 days,
            openPeriod: 1 days,
            abortGrace: 1 days,
            stakeCooldown: 2 days
        });
        _mint(sponsor, config.pool);
        vm.prank(sponsor);
        fedTask.createTask(config);
        ++calls["createTask"];
    }

    /// @notice An honest participant joins (allowlisted or invited on a permissioned task).
    function join(uint256 taskSeed, uint256 actorSeed, bool invite) external {
        (bool found, uint256 taskId) = _pickTask(taskSeed);
        if (!found) return;
        IFedTask.TaskInfo memory info = fedTask.getTask(taskId);
        address actor = _participants[actorSeed % PARTICIPANTS];
        if (!_canJoin(taskId, info, actor)) return;
        bytes memory invitation;
        uint256 deadline = block.timestamp + 1 hours;
        if (info.permissioned) {
            if (invite) {
                invitation = _invite(taskId, info.sponsor, actor, deadline);
            } else {
                vm.prank(info.sponsor);
                fedTask.setAllowed(taskId, _single(actor), true);
            }
        }
        _mint(actor, info.participantStake);
        vm.prank(actor);
        fedTask.joinTask(taskId, deadline, invitation);
        ++calls["join"];
    }

    /// @notice A sybil tries to join: a permissioned task must refuse it; an open one takes its stake.
    function sybilJoin(uint256 taskSeed, uint256 sybilSeed) external {
        (bool found, uint256 taskId) = _pickTask(taskSeed);
        if (!found) return;
        IFedTask.TaskInfo memory info = fedTask.getTask(taskId);
        address sybil = _sybils[sybilSeed % SYBILS];
        if (!_canJoin(taskId, info, sybil)) return;
        _mint(sybil, info.participantStake);
        vm.prank(sybil);
        try fedTask.joinTask(taskId, 0, "") {
            if (info.permissioned) ghostSybilAdmitted = true;
            ++calls["sybilJoin"];
        } catch (bytes memory reason) {
            bytes memory expected = abi.encodeWithSelector(IFedTask.TaskNotInvited.selector, taskId, sybil);
            if (!info.permissioned || keccak256(reason) != keccak256(expected)) ghostUnexpectedError = true;
            ++calls["sybilRefused"];
        }
    }

    /// @notice The coordinator (or the sponsor) tries to join its own task: it must be refused.
    function roleHolderJoins(uint256 taskSeed, bool asSponsor) external {
        (bool found, uint256 taskId) = _pickTask(taskSeed);
        if (!found) return;
        IFedTask.TaskInfo memory info = fedTask.getTask(taskId);
        if (info.status != IFedTask.TaskStatus.Joining) return;
        address account = asSponsor ? info.sponsor : info.coordinator;
        vm.prank(account);
        try fedTask.joinTask(taskId, 0, "") {
            ghostRoleConflictBroken = true;
        } catch (bytes memory reason) {
            bytes memory expected = abi.encodeWithSelector(IFedTask.TaskRoleConflict.selector, taskId, account);
            if (keccak256(reason) != keccak256(expected)) ghostUnexpectedError = true;
            ++calls["roleHolderRefused"];
        }
    }

    /// @notice The coordinator stakes.
    function stakeAsCoordinator(uint256 taskSeed) external {
        (bool found, uint256 taskId) = _findTask(taskSeed, _canStake);
        if (!found) return;
        IFedTask.TaskInfo memory info = fedTask.getTask(taskId);
        _mint(info.coordinator, info.coordinatorStake);
        vm.prank(info.coordinator);
        fedTask.stakeAsCoordinator(taskId);
        ++calls["stakeAsCoordinator"];
    }

    /// @notice The sponsor cancels a task in Joining (one time in four).
    function cancelTask(uint256 taskSeed, uint256 chance) external {
        if (chance % 4 != 0) return;
        (bool found, uint256 taskId) = _pickTask(taskSeed);
        if (!found) return;
        IFedTask.TaskInfo memory info = fedTask.getTask(taskId);
        if (info.status != IFedTask.TaskStatus.Joining) return;
        uint256 before = token.balanceOf(info.sponsor);
        vm.prank(info.sponsor);
        fedTask.cancelTask(taskId);
        if (token.balanceOf(info.sponsor) - before != info.unallocated) ghostAbortRefundMismatch = true;
        ++calls["cancelTask"];
    }

    // ------------------------------------------------------------------ round actions

    /// @notice The coordinator opens the next round of a task that can open one.
    function openRound(uint256 taskSeed) external {
        (bool found, uint256 taskId) = _findTask(taskSeed, _canOpen);
        if (!found) return;
        IFedTask.TaskInfo memory info = fedTask.getTask(taskId);
        uint32 round = info.lastRound + 1;
        bytes32 modelHash = round == 1 ? keccak256(abi.encode("model", taskId)) : info.modelHash;
        vm.prank(info.coordinator);
        fedTask.openRound(taskId, round, "model", modelHash);
        ++calls["openRound"];
    }

    /// @notice The coordinator anchors the open round's batch.
    function commitBatch(uint256 taskSeed, uint256 countSeed) external {
        (bool found, uint256 taskId) = _findTask(taskSeed, _canBatch);
        if (!found) return;
        IFedTask.TaskInfo memory info = fedTask.getTask(taskId);
        uint32 count = uint32(bound(countSeed, 1, info.participantCount));
        vm.prank(info.coordinator);
        fedTask.commitBatch(taskId, info.lastRound, keccak256(abi.encode("batch", taskId, countSeed)), count, "b");
        ++calls["commitBatch"];
    }

    /// @notice A participant commits directly (left out of the batch, or a small task).
    function commitUpdate(uint256 taskSeed, uint256 actorSeed) external {
        (bool found, uint256 taskId) = _findTask(taskSeed, _canCommitDirectly);
        if (!found) return;
        IFedTask.TaskInfo memory info = fedTask.getTask(taskId);
        address[] memory members = fedTask.getParticipants(taskId);
        for (uint256 k = 0; k < members.length; ++k) {
            address member = members[((actorSeed % members.length) + k) % members.length];
            (bytes32 existing, ) = fedTask.commitmentOf(taskId, info.lastRound, member);
            if (existing != bytes32(0)) continue;
            vm.prank(member);
            fedTask.commitUpdate(taskId, info.lastRound, keccak256(abi.encode(taskId, info.lastRound, member)), 1, "bafkreiupdate");
            ++calls["commitUpdate"];
            return;
        }
    }

    /// @notice The coordinator finalises the open round: a random budget within the cap (0 below quorum),
    /// Merkle rewards summing to it, random flags, and on the last round random shares summing to 10,000.
    function finalizeRound(uint256 taskSeed, uint256 seed) external {
        (bool found, uint256 taskId) = _findTask(taskSeed, _canFinalize);
        if (!found) return;
        IFedTask.TaskInfo memory info = fedTask.getTask(taskId);
        uint32 round = info.lastRound;
        IFedTask.Finalization memory f;
        f.newModelCid = "model";
        f.newModelHash = keccak256(abi.encode("model", taskId, round));
        f.evidenceCid = "evidence";
        uint32 commitments = fedTask.getRound(taskId, round).commitments;
        f.accepted = uint32(bound(seed, 0, commitments));
        if (f.accepted >= info.quorum) f.budget = bound(seed >> 32, 0, fedTask.roundCap(taskId, round));
        f.rewardsRoot = _writeLeaves(taskId, round, f.budget, seed);
        f.flagged = _pickFlags(taskId, seed >> 64);
        if (round == info.totalRounds) f.shares = _randomShares(info.participantCount, seed >> 96);
        vm.prank(info.coordinator);
        fedTask.finalizeRound(taskId, round, f);
        ++calls["finalizeRound"];
        if (round == info.totalRounds) ++calls["completeTask"];
    }

    // ------------------------------------------------------------------ payouts

    /// @notice A participant claims an unclaimed leaf of a claimable round.
    function claim(uint256 taskSeed, uint256 leafSeed) external {
        (bool found, uint256 taskId, uint32 round) = _findClaimableRound(taskSeed);
        if (!found) return;
        Leaf[] storage leaves = _leaves[taskId][round];
        for (uint256 k = 0; k < leaves.length; ++k) {
            uint256 i = ((leafSeed % leaves.length) + k) % leaves.length;
            if (leaves[i].claimed) continue;
            leaves[i].claimed = true;
            vm.prank(leaves[i].account);
            fedTask.claimRewards(taskId, round, leaves[i].amount, Merkle.proof(_leafHashes(taskId, round), i));
            ++calls["claim"];
            return;
        }
    }

    /// @notice A participant claims a leaf it already claimed: refused with TaskAlreadyClaimed.
    function claimTwice(uint256 taskSeed, uint256 leafSeed) external {
        (bool found, uint256 taskId, uint32 round) = _findClaimableRound(taskSeed);
        if (!found) return;
        Leaf[] storage leaves = _leaves[taskId][round];
        for (uint256 k = 0; k < leaves.length; ++k) {
            uint256 i = ((leafSeed % leaves.length) + k) % leaves.length;
            if (!leaves[i].claimed) continue;
            address account = leaves[i].account;
            bytes32[] memory proof = Merkle.proof(_leafHashes(taskId, round), i);
            vm.prank(account);
            try fedTask.claimRewards(taskId, round, leaves[i].amount, proof) {
                ghostDoubleClaim = true;
            } catch (bytes memory reason) {
                bytes memory expected = abi.encodeWithSelector(
                    IFedTask.TaskAlreadyClaimed.selector,
                    taskId,
                    round,
                    account
                );
                if (keccak256(reason) != keccak256(expected)) ghostDoubleClaim = true;
                ++calls["claimTwiceRefused"];
            }
            return;
        }
    }

    /// @notice Time passes.
    function warp(uint256 seconds_) external {
        vm.warp(block.timestamp + bound(seconds_, 5 minutes, 2 days));
        ++calls["warp"];
    }

    /// @notice The sponsor (at once) or anyone (after the grace) aborts a task whose coordinator missed a
    /// deadline; the refund must be the unallocated escrow plus the coordinator's stall slash.
    function abortTask(uint256 taskSeed, bool bySponsor) external {
        (bool found, uint256 taskId) = _pickTask(taskSeed);
        if (!found) return;
        IFedTask.TaskInfo memory info = fedTask.getTask(taskId);
        if (info.status != IFedTask.TaskStatus.Joining && info.status != IFedTask.TaskStatus.Training) return;
        uint64 missed = info.roundOpen ? fedTask.getRound(taskId, info.lastRound).finalizeDeadline : info.deadline;
        address caller = bySponsor ? info.sponsor : _participants[taskSeed % PARTICIPANTS];
        if (block.timestamp < missed + (bySponsor ? 0 : 1 days)) return;
        uint256 expected = info.unallocated + (fedTask.stakeOf(taskId, info.coordinator) * info.slashBps) / 10_000;
        uint256 before = token.balanceOf(info.sponsor);
        vm.prank(caller);
        fedTask.abortTask(taskId);
        if (token.balanceOf(info.sponsor) - before != expected) ghostAbortRefundMismatch = true;
        ++calls["abortTask"];
    }

    /// @notice The sponsor of an ended task withdraws the unallocated escrow left.
    function withdrawRemainder(uint256 taskSeed) external {
        (bool found, uint256 taskId) = _pickTask(taskSeed);
        if (!found) return;
        IFedTask.TaskInfo memory info = fedTask.getTask(taskId);
        if (!_ended(info.status) || info.unallocated == 0) return;
        vm.prank(info.sponsor);
        fedTask.withdrawRemainder(taskId);
        ++calls["withdrawRemainder"];
    }

    /// @notice Anyone settles a flag once its round's window passed undisputed.
    function executeSlash(uint256 taskSeed, uint256 actorSeed) external {
        (bool found, uint256 taskId) = _pickTask(taskSeed);
        if (!found) return;
        uint32 lastRound = fedTask.getTask(taskId).lastRound;
        address[] memory members = fedTask.getParticipants(taskId);
        for (uint32 round = 1; round <= lastRound; ++round) {
            (uint64 windowEnd, bool disputed) = fedTask.roundClaimableAt(taskId, round);
            if (windowEnd == 0 || block.timestamp < windowEnd || disputed) continue;
            for (uint256 k = 0; k < members.length; ++k) {
                address member = members[((actorSeed % members.length) + k) % members.length];
                if (!fedTask.isFlagged(taskId, round, member)) continue;
                fedTask.executeSlash(taskId, round, member);
                ++calls["executeSlash"];
                return;
            }
        }
    }

    /// @notice A staker (participant, sybil or coordinator) withdraws its stake when it may.
    function withdrawStake(uint256 taskSeed, uint256 actorSeed) external {
        (bool found, uint256 taskId) = _pickTask(taskSeed);
        if (!found) return;
        IFedTask.TaskInfo memory info = fedTask.getTask(taskId);
        if (!_ended(info.status) || info.openDisputes != 0) return;
        uint64 notBefore = info.status == IFedTask.TaskStatus.Cancelled ? info.endedAt : info.endedAt + 2 days;
        if (info.lastRound != 0) {
            // The latest finalised round: the last opened one, or the one before when that was never finalised.
            uint64 windowEnd = fedTask.getRound(taskId, info.lastRound).claimableAt;
            if (windowEnd == 0 && info.lastRound > 1)
                windowEnd = fedTask.getRound(taskId, info.lastRound - 1).claimableAt;
            if (windowEnd > notBefore) notBefore = windowEnd;
        }
        if (block.timestamp < notBefore) return;
        address[] memory stakers = _stakers();
        for (uint256 k = 0; k < stakers.length; ++k) {
            address staker = stakers[((actorSeed % stakers.length) + k) % stakers.length];
            if (fedTask.stakeOf(taskId, staker) == 0 || fedTask.pendingFlags(taskId, staker) != 0) continue;
            vm.prank(staker);
            fedTask.withdrawStake(taskId);
            ++calls["withdrawStake"];
            return;
        }
    }

    // ------------------------------------------------------------------ court actions

    /// @notice A participant challenges a round inside its window: the coordinator's verdict (with the same
    /// leaves, or a zero root) or another participant.
    function challenge(uint256 taskSeed, uint256 seed) external {
        (bool found, uint256 taskId, uint32 round) = _findChallengeableRound(taskSeed);
        if (!found) return;
        address[] memory members = fedTask.getParticipants(taskId);
        address challenger = members[seed % members.length];
        address accused =
            (seed >> 8) % 3 == 0 && members.length > 1
                ? members[((seed % members.length) + 1) % members.length]
                : address(0);
        bytes32 corrected = (seed >> 16) % 2 == 0 ? fedTask.getRound(taskId, round).rewardsRoot : bytes32(0);
        _mint(challenger, court.challengeBond());
        vm.prank(challenger);
        court.challenge(taskId, round, accused, "evidence", corrected, "");
        ++calls["challenge"];
    }

    /// @notice One to three validators that have not voted yet vote on an open challenge.
    function vote(uint256 challengeSeed, uint256 validatorSeed, uint256 voteSeed) external {
        uint256 count = court.challengeCount();
        if (count == 0) return;
        uint256 id = (challengeSeed % count) + 1;
        IChallengeCourt.ChallengeInfo memory c = court.getChallenge(id);
        if (c.status != IChallengeCourt.ChallengeStatus.Open || block.timestamp >= c.votingEnds) return;
        IChallengeCourt.Vote[] memory votes = court.getVotes(id);
        uint256 voters = 1 + (voteSeed % 3);
        for (uint256 k = 0; k < VALIDATORS && voters != 0; ++k) {
            address validator = _validators[((validatorSeed % VALIDATORS) + k) % VALIDATORS];
            if (!court.getValidator(validator).active || _hasVoted(votes, validator)) continue;
            vm.prank(validator);
            court.vote(id, uint16(uint256(keccak256(abi.encode(voteSeed, k))) % 10_001), "audit");
            --voters;
            ++calls["vote"];
        }
    }

    /// @notice Anyone resolves a challenge whose voting is over; an upheld dispute of the coordinator may
    /// replace the round's root (zero: its leaves can no longer be claimed, the budget went back to the pool).
    function resolve(uint256 challengeSeed) external {
        uint256 count = court.challengeCount();
        if (count == 0) return;
        uint256 id = (challengeSeed % count) + 1;
        IChallengeCourt.ChallengeInfo memory c = court.getChallenge(id);
        if (c.status != IChallengeCourt.ChallengeStatus.Open) return;
        if (block.timestamp < c.votingEnds && c.votes < c.activeValidators) return;
        court.resolve(id);
        if (fedTask.getRound(c.taskId, c.round).rewardsRoot == bytes32(0)) _leavesValid[c.taskId][c.round] = false;
        ++calls["resolve"];
        if (court.getChallenge(id).status == IChallengeCourt.ChallengeStatus.Upheld) ++calls["upheld"];
    }

    /// @notice Someone with a court balance withdraws it.
    function courtWithdraw(uint256 accountSeed) external {
        address[] memory accounts = _everyone();
        for (uint256 k = 0; k < accounts.length; ++k) {
            address account = accounts[((accountSeed % accounts.length) + k) % accounts.length];
            if (court.balanceOf(account) == 0) continue;
            vm.prank(account);
            court.withdraw();
            ++calls["courtWithdraw"];
            return;
        }
    }

    // ------------------------------------------------------------------ views for the invariants

    /// @notice Σ over tasks of unallocated + Σ rounds (budget - claimed), plus every stake of every account.
    function sumEscrow() external view returns (uint256 total) {
        uint256 count = fedTask.taskCount();
        address[] memory stakers = _stakers();
        for (uint256 taskId = 1; taskId <= count; ++taskId) {
            IFedTask.TaskInfo memory info = fedTask.getTask(taskId);
            total += info.unallocated;
            for (uint32 round = 1; round <= info.lastRound; ++round) {
                IFedTask.RoundInfo memory r = fedTask.getRound(taskId, round);
                total += r.budget - r.claimed;
            }
            for (uint256 i = 0; i < stakers.length; ++i) {
                total += fedTask.stakeOf(taskId, stakers[i]);
            }
        }
    }

    /// @notice Σ of the budgets of a task's rounds.
    function allocated(uint256 taskId) external view returns (uint256 total) {
        uint32 lastRound = fedTask.getTask(taskId).lastRound;
        for (uint32 round = 1; round <= lastRound; ++round) {
            total += fedTask.getRound(taskId, round).budget;
        }
    }

    /// @notice Token balances of every holder the handler ever minted to, plus FedTask and the court.
    function sumBalances() external view returns (uint256 total) {
        address[] memory accounts = _everyone();
        for (uint256 i = 0; i < accounts.length; ++i) {
            total += token.balanceOf(accounts[i]);
        }
        total += token.balanceOf(address(fedTask)) + token.balanceOf(address(court));
    }

    /// @notice The sybils.
    function sybils() external view returns (address[] memory) {
        return _sybils;
    }

    /// @notice The selectors the invariant fuzzer calls.
    function actions() external pure returns (bytes4[] memory selectors) {
        selectors = new bytes4[](22);
        selectors[0] = this.createTask.selector;
        selectors[1] = this.join.selector;
        selectors[2] = this.join.selector;
        selectors[3] = this.sybilJoin.selector;
        selectors[4] = this.roleHolderJoins.selector;
        selectors[5] = this.stakeAsCoordinator.selector;
        selectors[6] = this.cancelTask.selector;
        selectors[7] = this.openRound.selector;
        selectors[8] = this.commitBatch.selector;
        selectors[9] = this.commitUpdate.selector;
        selectors[10] = this.finalizeRound.selector;
        selectors[11] = this.claim.selector;
        selectors[12] = this.claimTwice.selector;
        selectors[13] = this.warp.selector;
        selectors[14] = this.abortTask.selector;
        selectors[15] = this.withdrawRemainder.selector;
        selectors[16] = this.executeSlash.selector;
        selectors[17] = this.withdrawStake.selector;
        selectors[18] = this.challenge.selector;
        selectors[19] = this.vote.selector;
        selectors[20] = this.resolve.selector;
        selectors[21] = this.courtWithdraw.selector;
    }

    // ------------------------------------------------------------------ preconditions

    function _canJoin(uint256 taskId, IFedTask.TaskInfo memory info, address actor) private view returns (bool) {
        return
            info.status == IFedTask.TaskStatus.Joining &&
            !fedTask.isParticipant(taskId, actor) &&
            info.participantCount < info.maxParticipants;
    }

    function _canStake(uint256 taskId) private view returns (bool) {
        IFedTask.TaskInfo memory info = fedTask.getTask(taskId);
        return info.status == IFedTask.TaskStatus.Joining && !info.coordinatorStaked;
    }

    function _canOpen(uint256 taskId) private view returns (bool) {
        IFedTask.TaskInfo memory info = fedTask.getTask(taskId);
        bool active = info.status == IFedTask.TaskStatus.Joining || info.status == IFedTask.TaskStatus.Training;
        return
            active &&
            !info.roundOpen &&
            info.lastRound < info.totalRounds &&
            block.timestamp < info.deadline &&
            info.coordinatorStaked &&
            info.participantCount >= info.quorum;
    }

    function _canBatch(uint256 taskId) private view returns (bool) {
        IFedTask.TaskInfo memory info = fedTask.getTask(taskId);
        if (!info.roundOpen) return false;
        IFedTask.RoundInfo memory r = fedTask.getRound(taskId, info.lastRound);
        return block.timestamp < r.commitDeadline && r.commitRoot == bytes32(0);
    }

    function _canCommitDirectly(uint256 taskId) private view returns (bool) {
        IFedTask.TaskInfo memory info = fedTask.getTask(taskId);
        return info.roundOpen && block.timestamp < fedTask.getRound(taskId, info.lastRound).revealStart;
    }

    function _canFinalize(uint256 taskId) private view returns (bool) {
        IFedTask.TaskInfo memory info = fedTask.getTask(taskId);
        if (!info.roundOpen) return false;
        IFedTask.RoundInfo memory r = fedTask.getRound(taskId, info.lastRound);
        return block.timestamp >= r.revealDeadline && block.timestamp < r.finalizeDeadline;
    }

    // ------------------------------------------------------------------ helpers

    /// @dev Records the round's leaves: up to 4 participants sharing `budget` exactly; returns their root.
    function _writeLeaves(uint256 taskId, uint32 round, uint256 budget, uint256 seed) private returns (bytes32) {
        if (budget == 0) return bytes32(0);
        address[] memory members = fedTask.getParticipants(taskId);
        uint256 n = bound(seed >> 128, 1, members.length < 4 ? members.length : 4);
        uint256 left = budget;
        for (uint256 i = 0; i < n; ++i) {
            uint256 amount = i == n - 1 ? left : bound(uint256(keccak256(abi.encode(seed, i))), 0, left);
            left -= amount;
            _leaves[taskId][round].push(
                Leaf({account: members[((seed % members.length) + i) % members.length], amount: amount, claimed: false})
            );
        }
        _leavesValid[taskId][round] = true;
        return Merkle.root(_leafHashes(taskId, round));
    }

    function _leafHashes(uint256 taskId, uint32 round) private view returns (bytes32[] memory hashes) {
        Leaf[] storage leaves = _leaves[taskId][round];
        hashes = new bytes32[](leaves.length);
        for (uint256 i = 0; i < leaves.length; ++i) {
            hashes[i] = Merkle.rewardLeaf(taskId, round, leaves[i].account, leaves[i].amount);
        }
    }

    /// @dev Flags at most one participant, one time in four.
    function _pickFlags(uint256 taskId, uint256 seed) private view returns (address[] memory flagged) {
        if (seed % 4 != 0) return new address[](0);
        address[] memory members = fedTask.getParticipants(taskId);
        return _single(members[(seed >> 8) % members.length]);
    }

    /// @dev `n` random big-endian uint16 shares summing to exactly 10,000.
    function _randomShares(uint256 n, uint256 seed) private pure returns (bytes memory packed) {
        packed = new bytes(2 * n);
        uint256 left = 10_000;
        for (uint256 i = 0; i < n; ++i) {
            uint256 share = i == n - 1 ? left : bound(uint256(keccak256(abi.encode(seed, i))), 0, left);
            left -= share;
            packed[2 * i] = bytes1(uint8(share >> 8));
            packed[2 * i + 1] = bytes1(uint8(share));
        }
    }

    function _findClaimableRound(uint256 seed) private view returns (bool, uint256, uint32) {
        uint256 count = fedTask.taskCount();
        for (uint256 k = 0; k < count; ++k) {
            uint256 taskId = (((seed % count) + k) % count) + 1;
            uint32 lastRound = fedTask.getTask(taskId).lastRound;
            for (uint32 round = 1; round <= lastRound; ++round) {
                (uint64 windowEnd, bool disputed) = fedTask.roundClaimableAt(taskId, round);
                if (windowEnd == 0 || block.timestamp < windowEnd || disputed || !_leavesValid[taskId][round]) continue;
                return (true, taskId, round);
            }
        }
        return (false, 0, 0);
    }

    function _findChallengeableRound(uint256 seed) private view returns (bool, uint256, uint32) {
        uint256 count = fedTask.taskCount();
        for (uint256 k = 0; k < count; ++k) {
            uint256 taskId = (((seed % count) + k) % count) + 1;
            uint32 lastRound = fedTask.getTask(taskId).lastRound;
            for (uint32 round = 1; round <= lastRound; ++round) {
                (uint64 windowEnd, bool disputed) = fedTask.roundClaimableAt(taskId, round);
                if (windowEnd == 0 || block.timestamp >= windowEnd || disputed) continue;
                return (true, taskId, round);
            }
        }
        return (false, 0, 0);
    }

    function _findTask(
        uint256 seed,
        function(uint256) view returns (bool) wanted
    ) private view returns (bool, uint256) {
        uint256 count = fedTask.taskCount();
        for (uint256 k = 0; k < count; ++k) {
            uint256 taskId = (((seed % count) + k) % count) + 1;
            if (wanted(taskId)) return (true, taskId);
        }
        return (false, 0);
    }

    function _pickTask(uint256 seed) private view returns (bool, uint256) {
        uint256 count = fedTask.taskCount();
        if (count == 0) return (false, 0);
        return (true, (seed % count) + 1);
    }

    function _invite(
        uint256 taskId,
        address sponsor,
        address actor,
        uint256 deadline
    ) private view returns (bytes memory) {
        uint256 key = sponsor == _sponsors[0] ? _sponsorKeys[0] : _sponsorKeys[1];
        bytes32 digest = keccak256(
            abi.encodePacked(
                "\x19\x01",
                fedTask.DOMAIN_SEPARATOR(),
                keccak256(abi.encode(fedTask.INVITATION_TYPEHASH(), taskId, actor, deadline))
            )
        );
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        return abi.encodePacked(r, s, v);
    }

    function _hasVoted(IChallengeCourt.Vote[] memory votes, address validator) private pure returns (bool) {
        for (uint256 i = 0; i < votes.length; ++i) {
            if (votes[i].validator == validator) return true;
        }
        return false;
    }

    function _ended(IFedTask.TaskStatus status) private pure returns (bool) {
        return
            status == IFedTask.TaskStatus.Completed ||
            status == IFedTask.TaskStatus.Cancelled ||
            status == IFedTask.TaskStatus.Aborted;
    }

    function _stakers() private view returns (address[] memory stakers) {
        stakers = new address[](PARTICIPANTS + SYBILS + COORDINATORS);
        uint256 n;
        for (uint256 i = 0; i < PARTICIPANTS; ++i) stakers[n++] = _participants[i];
        for (uint256 i = 0; i < SYBILS; ++i) stakers[n++] = _sybils[i];
        for (uint256 i = 0; i < COORDINATORS; ++i) stakers[n++] = _coordinators[i];
    }

    function _everyone() private view returns (address[] memory accounts) {
        accounts = new address[](PARTICIPANTS + SYBILS + SPONSORS + COORDINATORS + VALIDATORS);
        uint256 n;
        for (uint256 i = 0; i < PARTICIPANTS; ++i) accounts[n++] = _participants[i];
        for (uint256 i = 0; i < SYBILS; ++i) accounts[n++] = _sybils[i];
        for (uint256 i = 0; i < SPONSORS; ++i) accounts[n++] = _sponsors[i];
        for (uint256 i = 0; i < COORDINATORS; ++i) accounts[n++] = _coordinators[i];
        for (uint256 i = 0; i < VALIDATORS; ++i) accounts[n++] = _validators[i];
    }

    function _single(address account) private pure returns (address[] memory accounts) {
        accounts = new address[](1);
        accounts[0] = account;
    }

    function _mint(address to, uint256 amount) private {
        if (amount == 0) return;
        token.mint(to, amount);
        ghostMinted += amount;
    }

    /// @dev Approves FedTask and the court for everything on behalf of `account`.
    function _approved(address account) private returns (address) {
        vm.startPrank(account);
        token.approve(address(fedTask), type(uint256).max);
        token.approve(address(court), type(uint256).max);
        vm.stopPrank();
        return account;
    }
}
