// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";

import {FedTask} from "../FedTask.sol";
import {FedTaskExtension} from "../fedtask/FedTaskExtension.sol";
import {IFedTask} from "../interfaces/IFedTask.sol";
import {FedTaskFixture} from "./utils/FedTaskFixture.sol";

/// @notice Unit tests of FedTask's set-up phase: deployment, pause, creation, allowlist, joining, invitations,
/// cancellation, the coordinator's stake. Every custom error with its exact arguments.
contract FedTaskTest is FedTaskFixture {
    // ------------------------------------------------------------------ deployment, roles, pause

    function test_constructor_setsTokenRolesAndConstants() public view {
        vm.assertEq(address(fedTask.token()), address(token), "token");
        vm.assertTrue(fedTask.hasRole(fedTask.DEFAULT_ADMIN_ROLE(), address(this)), "admin");
        vm.assertTrue(fedTask.hasRole(fedTask.PAUSER_ROLE(), address(this)), "pauser");
        vm.assertTrue(fedTask.hasRole(fedTask.COURT_ROLE(), address(court)), "court");
        vm.assertEq(fedTask.MAX_ROUNDS(), 1_000, "MAX_ROUNDS");
        vm.assertEq(fedTask.MAX_PARTICIPANTS(), 1_024, "MAX_PARTICIPANTS");
        vm.assertEq(fedTask.REPLACEMENT_DELAY(), 2 days, "REPLACEMENT_DELAY");
        vm.assertEq(fedTask.PAUSER_ROLE(), keccak256("PAUSER_ROLE"), "PAUSER_ROLE");
        vm.assertEq(fedTask.COURT_ROLE(), keccak256("COURT_ROLE"), "COURT_ROLE");
        vm.assertEq(
            fedTask.INVITATION_TYPEHASH(),
            keccak256("Invitation(uint256 taskId,address participant,uint256 deadline)"),
            "INVITATION_TYPEHASH"
        );
        vm.assertEq(
            fedTask.UPDATE_COMMITMENT_TYPEHASH(),
            keccak256("UpdateCommitment(uint256 taskId,uint32 round,bytes32 updateHash,uint64 samples)"),
            "UPDATE_COMMITMENT_TYPEHASH"
        );
        vm.assertEq(fedTask.taskCount(), 0, "no task yet");
    }

    function test_DOMAIN_SEPARATOR_isFedMarketFedTaskVersion2() public view {
        bytes32 expected = keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256("FedMarket FedTask"),
                keccak256("2"),
                block.chainid,
                address(fedTask)
            )
        );
        vm.assertEq(fedTask.DOMAIN_SEPARATOR(), expected, "domain");
    }

    function test_constructor_revertsWhenTokenZero() public {
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskInvalidConfig.selector, "token"));
        new FedTask(IERC20(address(0)), address(this));
    }

    function test_constructor_revertsWhenAdminZero() public {
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskInvalidConfig.selector, "admin"));
        new FedTask(token, address(0));
    }

    function test_extension_revertsWhenCalledDirectly() public {
        FedTaskExtension extension = new FedTaskExtension(token);
        vm.expectRevert(abi.encodeWithSelector(FedTaskExtension.TaskExtensionDirectCall.selector));
        vm.prank(sponsor);
        extension.createTask(_config());
    }

    function test_pause_requiresPauserRole() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector,
                stranger,
                fedTask.PAUSER_ROLE()
            )
        );
        vm.prank(stranger);
        fedTask.pause();
    }

    function test_unpause_requiresPauserRole() public {
        fedTask.pause();
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector,
                stranger,
                fedTask.PAUSER_ROLE()
            )
        );
        vm.prank(stranger);
        fedTask.unpause();
    }

    function test_pause_blocksWhatTakesMoneyInOrStartsWork() public {
        uint256 taskId = _create();
        _join(taskId, alice);
        fedTask.pause();
        vm.assertTrue(fedTask.paused(), "paused");

        vm.expectRevert(abi.encodeWithSelector(Pausable.EnforcedPause.selector));
        _create();
        vm.expectRevert(abi.encodeWithSelector(Pausable.EnforcedPause.selector));
        _join(taskId, bob);
        vm.expectRevert(abi.encodeWithSelector(Pausable.EnforcedPause.selector));
        _stake(taskId);

        fedTask.unpause();
        _join(taskId, bob);
        _stake(taskId);
        fedTask.pause();
        vm.expectRevert(abi.encodeWithSelector(Pausable.EnforcedPause.selector));
        _open(taskId, 1);
    }

    function test_pause_neverBlocksCancelWithdrawOrAbort() public {
        uint256 taskId = _create();
        _join(taskId, alice);
        fedTask.pause();

        vm.prank(sponsor);
        fedTask.cancelTask(taskId);
        vm.prank(alice);
        fedTask.withdrawStake(taskId);
        vm.assertEq(token.balanceOf(alice), FUNDS, "stake back while paused");
        vm.assertEq(token.balanceOf(sponsor), FUNDS, "pool back while paused");

        uint256 other = _unpausedCreate();
        fedTask.pause();
        vm.warp(block.timestamp + JOIN_PERIOD);
        vm.prank(sponsor);
        fedTask.abortTask(other);
        vm.assertEq(uint256(fedTask.getTask(other).status), uint256(IFedTask.TaskStatus.Aborted), "aborted");
    }

    function _unpausedCreate() private returns (uint256 taskId) {
        fedTask.unpause();
        taskId = _create();
    }

    // ------------------------------------------------------------------ createTask

    function test_createTask_escrowsPoolAndStoresConfig() public {
        uint256 taskId = _create();

        vm.assertEq(taskId, 1, "first id");
        vm.assertEq(fedTask.taskCount(), 1, "count");
        vm.assertEq(token.balanceOf(address(fedTask)), POOL, "escrowed");
        IFedTask.TaskInfo memory info = fedTask.getTask(taskId);
        vm.assertEq(info.sponsor, sponsor, "sponsor");
        vm.assertEq(info.coordinator, coordinator, "coordinator");
        vm.assertEq(uint256(info.status), uint256(IFedTask.TaskStatus.Joining), "status");
        vm.assertEq(info.createdAt, block.timestamp, "createdAt");
        vm.assertEq(info.endedAt, 0, "endedAt");
        vm.assertEq(info.totalRounds, ROUNDS, "totalRounds");
        vm.assertEq(info.lastRound, 0, "lastRound");
        vm.assertFalse(info.roundOpen, "roundOpen");
        vm.assertEq(info.maxParticipants, MAX_PARTICIPANTS, "maxParticipants");
        vm.assertEq(info.participantCount, 0, "participantCount");
        vm.assertEq(info.quorum, QUORUM, "quorum");
        vm.assertEq(info.slashBps, SLASH_BPS, "slashBps");
        vm.assertFalse(info.permissioned, "permissioned");
        vm.assertFalse(info.coordinatorStaked, "coordinatorStaked");
        vm.assertEq(info.openDisputes, 0, "openDisputes");
        vm.assertEq(info.deadline, block.timestamp + JOIN_PERIOD, "round 1 open-by");
        vm.assertEq(info.pool, POOL, "pool");
        vm.assertEq(info.unallocated, POOL, "unallocated");
        vm.assertEq(info.slashedIn, 0, "slashedIn");
        vm.assertEq(info.refunded, 0, "refunded");
        vm.assertEq(info.participantStake, PARTICIPANT_STAKE, "participantStake");
        vm.assertEq(info.coordinatorStake, COORDINATOR_STAKE, "coordinatorStake");
        vm.assertEq(info.specHash, SPEC_HASH, "specHash");
        vm.assertEq(info.modelHash, bytes32(0), "modelHash");
        vm.assertEq(info.pendingCoordinator, address(0), "pendingCoordinator");
        vm.assertEq(info.specCid, SPEC_CID, "specCid");
        IFedTask.Schedule memory schedule = fedTask.getSchedule(taskId);
        vm.assertEq(schedule.joinPeriod, JOIN_PERIOD, "joinPeriod");
        vm.assertEq(schedule.inclusionPeriod, INCLUSION_PERIOD, "inclusionPeriod");
        vm.assertEq(schedule.stakeCooldown, STAKE_COOLDOWN, "stakeCooldown");
        vm.assertEq(fedTask.sponsorOf(taskId), sponsor, "sponsorOf");
    }

    function test_createTask_emitsTaskCreated() public {
        vm.expectEmit(true, true, true, true, address(fedTask));
        emit IFedTask.TaskCreated(1, sponsor, coordinator, POOL, ROUNDS, MAX_PARTICIPANTS, SPEC_CID, SPEC_HASH);
        _create();
    }

    function test_createTask_withoutCoordinatorStakeCountsAsStaked() public {
        IFedTask.TaskConfig memory config = _config();
        config.coordinatorStake = 0;
        uint256 taskId = _create(config);
        vm.assertTrue(fedTask.getTask(taskId).coordinatorStaked, "nothing to stake");
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskAlreadyStaked.selector, taskId));
        _stake(taskId);
    }

    function test_createTask_acceptsLimitsAtTheirMaximum() public {
        IFedTask.TaskConfig memory config = _config();
        config.totalRounds = 1_000;
        config.maxParticipants = 1_024;
        config.quorum = 1_024;
        config.slashBps = 10_000;
        config.schedule.inclusionPeriod = 0;
        uint256 taskId = _create(config);
        vm.assertEq(fedTask.getTask(taskId).totalRounds, 1_000, "rounds");
    }

    function test_createTask_revertsWhenSpecHashZero() public {
        IFedTask.TaskConfig memory config = _config();
        config.specHash = bytes32(0);
        _expectInvalidConfig(config, "specHash");
    }

    function test_createTask_revertsWhenCoordinatorZero() public {
        IFedTask.TaskConfig memory config = _config();
        config.coordinator = address(0);
        _expectInvalidConfig(config, "coordinator");
    }

    function test_createTask_revertsWhenCoordinatorIsTheSponsor() public {
        IFedTask.TaskConfig memory config = _config();
        config.coordinator = sponsor;
        _expectInvalidConfig(config, "coordinator");
    }

    function test_createTask_revertsWhenPoolZero() public {
        IFedTask.TaskConfig memory config = _config();
        config.pool = 0;
        _expectInvalidConfig(config, "pool");
    }

    function test_createTask_revertsWhenTotalRoundsOutOfRange() public {
        IFedTask.TaskConfig memory config = _config();
        config.totalRounds = 0;
        _expectInvalidConfig(config, "totalRounds");
        config.totalRounds = 1_001;
        _expectInvalidConfig(config, "totalRounds");
    }

    function test_createTask_revertsWhenMaxParticipantsOutOfRange() public {
        IFedTask.TaskConfig memory config = _config();
        config.maxParticipants = 0;
        _expectInvalidConfig(config, "maxParticipants");
        config.maxParticipants = 1_025;
        _expectInvalidConfig(config, "maxParticipants");
    }

    function test_createTask_revertsWhenQuorumOutOfRange() public {
        IFedTask.TaskConfig memory config = _config();
        config.quorum = 0;
        _expectInvalidConfig(config, "quorum");
        config.quorum = MAX_PARTICIPANTS + 1;
        _expectInvalidConfig(config, "quorum");
    }

    function test_createTask_revertsWhenSlashBpsAbove10000() public {
        IFedTask.TaskConfig memory config = _config();
        config.slashBps = 10_001;
        _expectInvalidConfig(config, "slashBps");
    }

    function test_createTask_revertsWhenAPeriodIsZero() public {
        string[8] memory fields = [
            "joinPeriod",
            "commitPeriod",
            "revealPeriod",
            "finalizePeriod",
            "challengePeriod",
            "openPeriod",
            "abortGrace",
            "stakeCooldown"
        ];
        for (uint256 i = 0; i < fields.length; ++i) {
            IFedTask.TaskConfig memory config = _config();
            if (i == 0) config.schedule.joinPeriod = 0;
            if (i == 1) config.schedule.commitPeriod = 0;
            if (i == 2) config.schedule.revealPeriod = 0;
            if (i == 3) config.schedule.finalizePeriod = 0;
            if (i == 4) config.schedule.challengePeriod = 0;
            if (i == 5) config.schedule.openPeriod = 0;
            if (i == 6) config.schedule.abortGrace = 0;
            if (i == 7) config.schedule.stakeCooldown = 0;
            _expectInvalidConfig(config, fields[i]);
        }
    }

    function _expectInvalidConfig(IFedTask.TaskConfig memory config, string memory field) private {
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskInvalidConfig.selector, field));
        vm.prank(sponsor);
        fedTask.createTask(config);
    }

    // ------------------------------------------------------------------ setAllowed

    function test_setAllowed_updatesAllowlistAndEmits() public {
        uint256 taskId = _create();
        vm.expectEmit(true, true, true, true, address(fedTask));
        emit IFedTask.AllowlistUpdated(taskId, alice, true);
        vm.expectEmit(true, true, true, true, address(fedTask));
        emit IFedTask.AllowlistUpdated(taskId, bob, true);
        vm.prank(sponsor);
        fedTask.setAllowed(taskId, _two(alice, bob), true);
        vm.assertTrue(fedTask.isAllowed(taskId, alice), "alice");
        vm.prank(sponsor);
        fedTask.setAllowed(taskId, _one(alice), false);
        vm.assertFalse(fedTask.isAllowed(taskId, alice), "alice removed");
        vm.assertTrue(fedTask.isAllowed(taskId, bob), "bob kept");
    }

    function test_setAllowed_revertsWhenNotSponsor() public {
        uint256 taskId = _create();
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskNotSponsor.selector, taskId, alice));
        vm.prank(alice);
        fedTask.setAllowed(taskId, _one(alice), true);
    }

    function test_setAllowed_revertsWhenTaskUnknown() public {
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskUnknown.selector, 9));
        vm.prank(sponsor);
        fedTask.setAllowed(9, _one(alice), true);
    }

    // ------------------------------------------------------------------ joinTask

    function test_joinTask_locksStakeAndIndexesInJoinOrder() public {
        uint256 taskId = _create();
        vm.expectEmit(true, true, true, true, address(fedTask));
        emit IFedTask.TaskJoined(taskId, bob, 0, PARTICIPANT_STAKE);
        _join(taskId, bob);
        _join(taskId, alice);

        vm.assertEq(fedTask.participantIndex(taskId, bob), 0, "bob first");
        vm.assertEq(fedTask.participantIndex(taskId, alice), 1, "alice second");
        vm.assertEq(fedTask.getParticipants(taskId), _two(bob, alice), "join order");
        vm.assertTrue(fedTask.isParticipant(taskId, alice), "alice joined");
        vm.assertFalse(fedTask.isParticipant(taskId, carol), "carol did not");
        vm.assertEq(fedTask.stakeOf(taskId, alice), PARTICIPANT_STAKE, "stake");
        vm.assertEq(token.balanceOf(address(fedTask)), POOL + 2 * PARTICIPANT_STAKE, "stakes escrowed");
        vm.assertEq(fedTask.getTask(taskId).participantCount, 2, "count");
    }

    function test_participantIndex_revertsForNonParticipant() public {
        uint256 taskId = _create();
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskNotParticipant.selector, taskId, carol));
        fedTask.participantIndex(taskId, carol);
    }

    function test_joinTask_revertsWhenTaskUnknown() public {
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskUnknown.selector, 7));
        _join(7, alice);
    }

    function test_joinTask_revertsForSponsorAndCoordinator() public {
        uint256 taskId = _create();
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskRoleConflict.selector, taskId, sponsor));
        _join(taskId, sponsor);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskRoleConflict.selector, taskId, coordinator));
        _join(taskId, coordinator);
    }

    function test_joinTask_revertsWhenAlreadyJoined() public {
        uint256 taskId = _create();
        _join(taskId, alice);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskAlreadyJoined.selector, taskId, alice));
        _join(taskId, alice);
    }

    function test_joinTask_revertsWhenFull() public {
        IFedTask.TaskConfig memory config = _config();
        config.maxParticipants = 2;
        uint256 taskId = _create(config);
        _joinAll(taskId, _two(alice, bob));
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskFull.selector, taskId, uint32(2)));
        _join(taskId, carol);
    }

    function test_joinTask_revertsOnceTraining() public {
        uint256 taskId = _started();
        vm.expectRevert(_statusError(IFedTask.TaskNotJoining.selector, taskId, IFedTask.TaskStatus.Training));
        _join(taskId, erin);
    }

    function test_joinTask_creditsTheStakeAsReceived() public {
        IFedTask.TaskConfig memory config = _config();
        config.participantStake = 0;
        uint256 taskId = _create(config);
        vm.expectEmit(true, true, true, true, address(fedTask));
        emit IFedTask.TaskJoined(taskId, alice, 0, 0);
        _join(taskId, alice);
        vm.assertEq(fedTask.stakeOf(taskId, alice), 0, "no stake");
        vm.assertEq(token.balanceOf(alice), FUNDS, "nothing pulled");
    }

    function test_joinTask_permissionedAcceptsAllowlisted() public {
        uint256 taskId = _permissioned();
        vm.prank(sponsor);
        fedTask.setAllowed(taskId, _one(alice), true);
        _join(taskId, alice);
        vm.assertTrue(fedTask.isParticipant(taskId, alice), "joined");
    }

    function test_joinTask_permissionedAcceptsSponsorInvitation() public {
        uint256 taskId = _permissioned();
        uint256 deadline = block.timestamp + 1 hours;
        bytes memory invitation = _invitation(taskId, bob, deadline);
        vm.prank(bob);
        fedTask.joinTask(taskId, deadline, invitation);
        vm.assertTrue(fedTask.isParticipant(taskId, bob), "joined");
    }

    function test_joinTask_permissionedAcceptsInvitationAtItsDeadline() public {
        uint256 taskId = _permissioned();
        uint256 deadline = block.timestamp + 1 hours;
        bytes memory invitation = _invitation(taskId, bob, deadline);
        vm.warp(deadline);
        vm.prank(bob);
        fedTask.joinTask(taskId, deadline, invitation);
        vm.assertTrue(fedTask.isParticipant(taskId, bob), "joined");
    }

    function test_joinTask_permissionedRevertsWithoutInvitation() public {
        uint256 taskId = _permissioned();
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskNotInvited.selector, taskId, carol));
        _join(taskId, carol);
    }

    function test_joinTask_permissionedRevertsWhenInvitationIsForAnotherAccount() public {
        uint256 taskId = _permissioned();
        uint256 deadline = block.timestamp + 1 hours;
        bytes memory invitation = _invitation(taskId, bob, deadline);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskNotInvited.selector, taskId, carol));
        vm.prank(carol);
        fedTask.joinTask(taskId, deadline, invitation);
    }

    function test_joinTask_permissionedRevertsWhenInvitationNotSignedBySponsor() public {
        uint256 taskId = _permissioned();
        uint256 deadline = block.timestamp + 1 hours;
        (, uint256 strangerKey) = makeAddrAndKey("stranger");
        bytes32 digest = keccak256(
            abi.encodePacked(
                "\x19\x01",
                fedTask.DOMAIN_SEPARATOR(),
                keccak256(abi.encode(fedTask.INVITATION_TYPEHASH(), taskId, carol, deadline))
            )
        );
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(strangerKey, digest);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskNotInvited.selector, taskId, carol));
        vm.prank(carol);
        fedTask.joinTask(taskId, deadline, abi.encodePacked(r, s, v));
    }

    function test_joinTask_permissionedRevertsWhenInvitationMalformed() public {
        uint256 taskId = _permissioned();
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskNotInvited.selector, taskId, carol));
        vm.prank(carol);
        fedTask.joinTask(taskId, block.timestamp, hex"1234");
    }

    function test_joinTask_permissionedRevertsWhenInvitationExpired() public {
        uint256 taskId = _permissioned();
        uint256 deadline = block.timestamp + 1 hours;
        bytes memory invitation = _invitation(taskId, bob, deadline);
        vm.warp(deadline + 1);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskInvitationExpired.selector, deadline));
        vm.prank(bob);
        fedTask.joinTask(taskId, deadline, invitation);
    }

    function test_joinTask_permissionedRevertsWhenInvitationDeadlineAltered() public {
        uint256 taskId = _permissioned();
        uint256 deadline = block.timestamp + 1 hours;
        bytes memory invitation = _invitation(taskId, bob, deadline);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskNotInvited.selector, taskId, bob));
        vm.prank(bob);
        fedTask.joinTask(taskId, deadline + 1 days, invitation);
    }

    function _permissioned() private returns (uint256 taskId) {
        IFedTask.TaskConfig memory config = _config();
        config.permissioned = true;
        taskId = _create(config);
    }

    // ------------------------------------------------------------------ cancelTask

    function test_cancelTask_refundsPoolAndReleasesStakesAtOnce() public {
        uint256 taskId = _create();
        _join(taskId, alice);
        _stake(taskId);

        vm.expectEmit(true, true, true, true, address(fedTask));
        emit IFedTask.TaskCancelled(taskId, POOL);
        vm.prank(sponsor);
        fedTask.cancelTask(taskId);

        IFedTask.TaskInfo memory info = fedTask.getTask(taskId);
        vm.assertEq(uint256(info.status), uint256(IFedTask.TaskStatus.Cancelled), "status");
        vm.assertEq(info.unallocated, 0, "escrow emptied");
        vm.assertEq(info.refunded, POOL, "refunded");
        vm.assertEq(info.endedAt, block.timestamp, "endedAt");
        vm.assertEq(token.balanceOf(sponsor), FUNDS, "sponsor refunded");
        vm.prank(alice);
        fedTask.withdrawStake(taskId);
        vm.prank(coordinator);
        fedTask.withdrawStake(taskId);
        vm.assertEq(token.balanceOf(address(fedTask)), 0, "nothing left");
    }

    function test_cancelTask_revertsWhenTaskUnknown() public {
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskUnknown.selector, 1));
        vm.prank(sponsor);
        fedTask.cancelTask(1);
    }

    function test_cancelTask_revertsWhenNotSponsor() public {
        uint256 taskId = _create();
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskNotSponsor.selector, taskId, coordinator));
        vm.prank(coordinator);
        fedTask.cancelTask(taskId);
    }

    function test_cancelTask_revertsOnceTraining() public {
        uint256 taskId = _started();
        vm.expectRevert(_statusError(IFedTask.TaskNotJoining.selector, taskId, IFedTask.TaskStatus.Training));
        vm.prank(sponsor);
        fedTask.cancelTask(taskId);
    }

    // ------------------------------------------------------------------ stakeAsCoordinator

    function test_stakeAsCoordinator_locksStakeAndEmits() public {
        uint256 taskId = _create();
        vm.expectEmit(true, true, true, true, address(fedTask));
        emit IFedTask.CoordinatorStaked(taskId, coordinator, COORDINATOR_STAKE);
        _stake(taskId);
        vm.assertEq(fedTask.stakeOf(taskId, coordinator), COORDINATOR_STAKE, "stake");
        vm.assertTrue(fedTask.getTask(taskId).coordinatorStaked, "staked");
        vm.assertEq(token.balanceOf(address(fedTask)), POOL + COORDINATOR_STAKE, "escrowed");
    }

    function test_stakeAsCoordinator_revertsWhenNotCoordinator() public {
        uint256 taskId = _create();
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskNotCoordinator.selector, taskId, alice));
        vm.prank(alice);
        fedTask.stakeAsCoordinator(taskId);
    }

    function test_stakeAsCoordinator_revertsWhenAlreadyStaked() public {
        uint256 taskId = _create();
        _stake(taskId);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskAlreadyStaked.selector, taskId));
        _stake(taskId);
    }

    function test_stakeAsCoordinator_revertsWhenNotJoining() public {
        uint256 taskId = _create();
        vm.prank(sponsor);
        fedTask.cancelTask(taskId);
        vm.expectRevert(_statusError(IFedTask.TaskNotJoining.selector, taskId, IFedTask.TaskStatus.Cancelled));
        _stake(taskId);
    }

    // ------------------------------------------------------------------ views of unknown tasks

    function test_getTask_revertsWhenTaskUnknown() public {
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskUnknown.selector, 3));
        fedTask.getTask(3);
        vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskUnknown.selector, 3));
        fedTask.getSchedule(3);
    }

    function test_readerViews_areZeroForUnknownTask() public view {
        vm.assertEq(fedTask.sponsorOf(3), address(0), "sponsorOf");
        vm.assertFalse(fedTask.isParticipant(3, alice), "isParticipant");
        vm.assertFalse(fedTask.isFinal(3), "isFinal");
        vm.assertEq(fedTask.shareOf(3, alice), 0, "shareOf");
        vm.assertEq(fedTask.roundCap(3, 1), 0, "roundCap");
        vm.assertEq(fedTask.shares(3).length, 0, "shares");
        vm.assertEq(fedTask.getParticipants(3).length, 0, "participants");
    }
}
