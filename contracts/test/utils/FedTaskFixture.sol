// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ChallengeCourt} from "../../ChallengeCourt.sol";
import {FedTask} from "../../FedTask.sol";
import {IFedTask} from "../../interfaces/IFedTask.sol";
import {MockToken} from "../mocks/MockToken.sol";
import {Merkle} from "./Merkle.sol";
import {Test} from "./Test.sol";

/**
 * @title FedTaskFixture
 * @notice Deployed token, FedTask and ChallengeCourt (with `COURT_ROLE`), named funded accounts, and short
 * helpers shared by the FedTask and court tests.
 */
abstract contract FedTaskFixture is Test {
    uint256 internal constant POOL = 1_200e18;
    uint256 internal constant FUNDS = 1_000_000e18;
    uint256 internal constant PARTICIPANT_STAKE = 10e18;
    uint256 internal constant COORDINATOR_STAKE = 100e18;
    uint16 internal constant SLASH_BPS = 2_000;
    uint32 internal constant ROUNDS = 3;
    uint32 internal constant MAX_PARTICIPANTS = 16;
    uint32 internal constant QUORUM = 2;

    uint32 internal constant JOIN_PERIOD = 1 days;
    uint32 internal constant COMMIT_PERIOD = 1 hours;
    uint32 internal constant INCLUSION_PERIOD = 30 minutes;
    uint32 internal constant REVEAL_PERIOD = 1 hours;
    uint32 internal constant FINALIZE_PERIOD = 1 days;
    uint32 internal constant CHALLENGE_PERIOD = 2 days;
    uint32 internal constant OPEN_PERIOD = 1 days;
    uint32 internal constant ABORT_GRACE = 3 days;
    uint32 internal constant STAKE_COOLDOWN = 7 days;

    uint256 internal constant MIN_VALIDATOR_STAKE = 50e18;
    uint256 internal constant CHALLENGE_BOND = 20e18;
    uint64 internal constant VOTING_PERIOD = 1 days;
    uint64 internal constant EXIT_COOLDOWN = 3 days;

    bytes32 internal constant SPEC_HASH = keccak256("spec.json");
    string internal constant SPEC_CID = "bafkreispec";
    string internal constant EVIDENCE_CID = "bafkreievidence";
    string internal constant BATCH_CID = "bafkreibatch";

    MockToken internal token;
    FedTask internal fedTask;
    ChallengeCourt internal court;

    address internal sponsor;
    uint256 internal sponsorKey;
    address internal coordinator;
    address internal alice;
    address internal bob;
    address internal carol;
    address internal dave;
    address internal erin;
    address internal stranger;
    address internal successor;

    /// @notice Deploys the contracts; every named account is funded and has approved FedTask and the court.
    function setUp() public virtual {
        (sponsor, sponsorKey) = makeAddrAndKey("sponsor");
        coordinator = makeAddr("coordinator");
        alice = makeAddr("alice");
        bob = makeAddr("bob");
        carol = makeAddr("carol");
        dave = makeAddr("dave");
        erin = makeAddr("erin");
        stranger = makeAddr("stranger");
        successor = makeAddr("successor");

        token = new MockToken();
        fedTask = new FedTask(token, address(this));
        court = new ChallengeCourt(
            token,
            fedTask,
            address(this),
            MIN_VALIDATOR_STAKE,
            CHALLENGE_BOND,
            VOTING_PERIOD,
            EXIT_COOLDOWN
        );
        fedTask.grantRole(fedTask.COURT_ROLE(), address(court));
        address[9] memory accounts = [sponsor, coordinator, alice, bob, carol, dave, erin, stranger, successor];
        for (uint256 i = 0; i < accounts.length; ++i) {
            _fund(accounts[i]);
        }
    }

    // ------------------------------------------------------------------ accounts

    /// @dev Mints {FUNDS} to `account` and approves FedTask and the court for everything.
    function _fund(address account) internal {
        token.mint(account, FUNDS);
        vm.startPrank(account);
        token.approve(address(fedTask), type(uint256).max);
        token.approve(address(court), type(uint256).max);
        vm.stopPrank();
    }

    function _four() internal view returns (address[] memory accounts) {
        accounts = new address[](4);
        (accounts[0], accounts[1], accounts[2], accounts[3]) = (alice, bob, carol, dave);
    }

    function _one(address a) internal pure returns (address[] memory accounts) {
        accounts = new address[](1);
        accounts[0] = a;
    }

    function _two(address a, address b) internal pure returns (address[] memory accounts) {
        accounts = new address[](2);
        (accounts[0], accounts[1]) = (a, b);
    }

    function _amounts2(uint256 a, uint256 b) internal pure returns (uint256[] memory amounts) {
        amounts = new uint256[](2);
        (amounts[0], amounts[1]) = (a, b);
    }

    function _amounts4(uint256 a, uint256 b, uint256 c, uint256 d) internal pure returns (uint256[] memory amounts) {
        amounts = new uint256[](4);
        (amounts[0], amounts[1], amounts[2], amounts[3]) = (a, b, c, d);
    }

    /// @dev `n` deterministic funded accounts named `prefix`-i.
    function _accounts(string memory prefix, uint256 n) internal returns (address[] memory accounts) {
        accounts = new address[](n);
        for (uint256 i = 0; i < n; ++i) {
            accounts[i] = address(uint160(uint256(keccak256(abi.encode(prefix, i)))));
            _fund(accounts[i]);
        }
    }

    // ------------------------------------------------------------------ tasks

    /// @dev The default schedule.
    function _schedule() internal pure returns (IFedTask.Schedule memory) {
        return
            IFedTask.Schedule({
                joinPeriod: JOIN_PERIOD,
                commitPeriod: COMMIT_PERIOD,
                inclusionPeriod: INCLUSION_PERIOD,
                revealPeriod: REVEAL_PERIOD,
                finalizePeriod: FINALIZE_PERIOD,
                challengePeriod: CHALLENGE_PERIOD,
                openPeriod: OPEN_PERIOD,
                abortGrace: ABORT_GRACE,
                stakeCooldown: STAKE_COOLDOWN
            });
    }

    /// @dev The default configuration: {POOL}, {ROUNDS} rounds, open joining, stakes on both sides.
    function _config() internal view returns (IFedTask.TaskConfig memory) {
        return
            IFedTask.TaskConfig({
                specCid: SPEC_CID,
                specHash: SPEC_HASH,
                coordinator: coordinator,
                pool: POOL,
                totalRounds: ROUNDS,
                maxParticipants: MAX_PARTICIPANTS,
                quorum: QUORUM,
                participantStake: PARTICIPANT_STAKE,
                coordinatorStake: COORDINATOR_STAKE,
                slashBps: SLASH_BPS,
                permissioned: false,
                schedule: _schedule()
            });
    }

    /// @dev Creates a task with `config` as the sponsor.
    function _create(IFedTask.TaskConfig memory config) internal returns (uint256 taskId) {
        vm.prank(sponsor);
        taskId = fedTask.createTask(config);
    }

    /// @dev Creates a task with the default configuration.
    function _create() internal returns (uint256 taskId) {
        return _create(_config());
    }

    /// @dev `account` joins `taskId` (open task, no invitation).
    function _join(uint256 taskId, address account) internal {
        vm.prank(account);
        fedTask.joinTask(taskId, 0, "");
    }

    function _joinAll(uint256 taskId, address[] memory accounts) internal {
        for (uint256 i = 0; i < accounts.length; ++i) {
            _join(taskId, accounts[i]);
        }
    }

    /// @dev The coordinator stakes.
    function _stake(uint256 taskId) internal {
        vm.prank(coordinator);
        fedTask.stakeAsCoordinator(taskId);
    }

    /// @dev The coordinator opens `round` from the model of round `round - 1`.
    function _open(uint256 taskId, uint32 round) internal {
        vm.prank(coordinator);
        fedTask.openRound(taskId, round, "bafkreimodel", _modelHash(round - 1));
    }

    /// @dev The coordinator posts a batch of `count` commitments for `round`.
    function _batch(uint256 taskId, uint32 round, uint32 count) internal {
        vm.prank(coordinator);
        fedTask.commitBatch(taskId, round, keccak256(abi.encode("batch", taskId, round)), count, BATCH_CID);
    }

    /// @dev Warps to the round's reveal deadline (the first moment it can be finalised).
    function _toRevealDeadline(uint256 taskId, uint32 round) internal {
        vm.warp(fedTask.getRound(taskId, round).revealDeadline);
    }

    /// @dev Warps to the end of the round's challenge window.
    function _toClaimable(uint256 taskId, uint32 round) internal {
        vm.warp(fedTask.getRound(taskId, round).claimableAt);
    }

    /// @dev A task created with the default configuration, alice, bob, carol and dave joined, the coordinator
    /// staked and round 1 open.
    function _started() internal returns (uint256 taskId) {
        taskId = _create();
        _joinAll(taskId, _four());
        _stake(taskId);
        _open(taskId, 1);
    }

    /// @dev A finalisation of `round` paying `amounts` to `accounts` (budget = their sum), every commitment
    /// accepted.
    function _finalization(
        uint256 taskId,
        uint32 round,
        address[] memory accounts,
        uint256[] memory amounts
    ) internal view returns (IFedTask.Finalization memory f) {
        uint256 budget;
        for (uint256 i = 0; i < amounts.length; ++i) {
            budget += amounts[i];
        }
        f.newModelCid = "bafkreinewmodel";
        f.newModelHash = _modelHash(round);
        f.evidenceCid = EVIDENCE_CID;
        f.rewardsRoot = budget == 0 ? bytes32(0) : Merkle.root(_rewardLeaves(taskId, round, accounts, amounts));
        f.budget = budget;
        f.accepted = fedTask.getRound(taskId, round).commitments;
        f.flagged = new address[](0);
        if (round == fedTask.getTask(taskId).totalRounds)
            f.shares = _equalShares(fedTask.getTask(taskId).participantCount);
    }

    /// @dev The coordinator finalises with `f`.
    function _finalize(uint256 taskId, uint32 round, IFedTask.Finalization memory f) internal {
        vm.prank(coordinator);
        fedTask.finalizeRound(taskId, round, f);
    }

    /// @dev Runs the open `round` to finalisation: a batch of every participant, then the finalisation paying
    /// `amounts` to `accounts`.
    function _runRound(uint256 taskId, uint32 round, address[] memory accounts, uint256[] memory amounts) internal {
        _batch(taskId, round, fedTask.getTask(taskId).participantCount);
        _toRevealDeadline(taskId, round);
        _finalize(taskId, round, _finalization(taskId, round, accounts, amounts));
    }

    /// @dev `account` claims `amount` from `round` with its proof in the tree of `accounts`/`amounts`.
    function _claim(
        uint256 taskId,
        uint32 round,
        address[] memory accounts,
        uint256[] memory amounts,
        uint256 index
    ) internal {
        bytes32[] memory proof = Merkle.proof(_rewardLeaves(taskId, round, accounts, amounts), index);
        vm.prank(accounts[index]);
        fedTask.claimRewards(taskId, round, amounts[index], proof);
    }

    function _rewardLeaves(
        uint256 taskId,
        uint32 round,
        address[] memory accounts,
        uint256[] memory amounts
    ) internal pure returns (bytes32[] memory leaves) {
        leaves = new bytes32[](accounts.length);
        for (uint256 i = 0; i < accounts.length; ++i) {
            leaves[i] = Merkle.rewardLeaf(taskId, round, accounts[i], amounts[i]);
        }
    }

    /// @dev `n` big-endian uint16 shares summing to 10,000 (the first takes the remainder).
    function _equalShares(uint256 n) internal pure returns (bytes memory packed) {
        packed = new bytes(2 * n);
        for (uint256 i = 0; i < n; ++i) {
            uint256 share = 10_000 / n + (i == 0 ? 10_000 % n : 0);
            packed[2 * i] = bytes1(uint8(share >> 8));
            packed[2 * i + 1] = bytes1(uint8(share));
        }
    }

    /// @dev Packs `values` as big-endian uint16s.
    function _pack(uint16[] memory values) internal pure returns (bytes memory packed) {
        packed = new bytes(2 * values.length);
        for (uint256 i = 0; i < values.length; ++i) {
            packed[2 * i] = bytes1(uint8(values[i] >> 8));
            packed[2 * i + 1] = bytes1(uint8(values[i]));
        }
    }

    /// @dev The sponsor's EIP-712 invitation of `participant`.
    function _invitation(uint256 taskId, address participant, uint256 deadline) internal view returns (bytes memory) {
        bytes32 structHash = keccak256(abi.encode(fedTask.INVITATION_TYPEHASH(), taskId, participant, deadline));
        bytes32 digest = keccak256(abi.encodePacked("\x19\x01", fedTask.DOMAIN_SEPARATOR(), structHash));
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(sponsorKey, digest);
        return abi.encodePacked(r, s, v);
    }

    function _modelHash(uint32 version) internal pure returns (bytes32) {
        return keccak256(abi.encode("model", version));
    }

    /// @dev Revert data of a custom error whose arguments are a task id and a status.
    function _statusError(
        bytes4 selector,
        uint256 taskId,
        IFedTask.TaskStatus status
    ) internal pure returns (bytes memory) {
        return abi.encodeWithSelector(selector, taskId, status);
    }
}
