// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IFedTask} from "../interfaces/IFedTask.sol";
import {FedTaskFixture} from "./utils/FedTaskFixture.sol";
import {Merkle} from "./utils/Merkle.sol";

/**
 * @notice Fuzz tests of every arithmetic path of FedTask against references computed here with plain
 * arithmetic: round caps, claims against budgets, slashing amounts, abort refunds. No wei is created or lost:
 * after everything is paid out, FedTask holds nothing.
 */
contract FedTaskFuzzTest is FedTaskFixture {
    uint256 private constant MAX_AMOUNT = 1e30;

    /// @dev Runs every round with a fuzzed budget at most the cap, checks the cap against
    /// `unallocated / (totalRounds - r + 1)` before each, and that one wei more reverts.
    function testFuzz_roundCap_isAnEqualShareOfWhatIsLeft(uint256 pool, uint256 rounds, uint256 seed) public {
        pool = bound(pool, 1, MAX_AMOUNT);
        uint32 totalRounds = uint32(bound(rounds, 1, 5));
        IFedTask.TaskConfig memory config = _config();
        config.pool = pool;
        config.totalRounds = totalRounds;
        token.mint(sponsor, pool);
        uint256 taskId = _create(config);
        _joinAll(taskId, _four());
        _stake(taskId);

        uint256 unallocated = pool;
        uint256 allocated;
        for (uint32 r = 1; r <= totalRounds; ++r) {
            uint256 cap = unallocated / (totalRounds - r + 1);
            vm.assertEq(fedTask.roundCap(taskId, r), cap, "cap == reference");
            _open(taskId, r);
            _batch(taskId, r, 4);
            _toRevealDeadline(taskId, r);
            IFedTask.Finalization memory f = _bare(taskId, r, cap + 1);
            vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskBudgetExceeded.selector, taskId, r, cap + 1, cap));
            _finalize(taskId, r, f);
            uint256 budget = bound(uint256(keccak256(abi.encode(seed, r))), 0, cap);
            _finalize(taskId, r, _bare(taskId, r, budget));
            unallocated -= budget;
            allocated += budget;
            vm.assertEq(fedTask.getTask(taskId).unallocated, unallocated, "unallocated == reference");
        }
        vm.assertEq(unallocated + allocated, pool, "pool conserved");
        vm.assertEq(fedTask.roundCap(taskId, totalRounds), unallocated, "the last cap is what is left");
    }

    /// @dev A root whose leaves may sum to more than the budget: each claim succeeds exactly when the reference
    /// says the round can still pay it, and the round never pays more than its budget.
    function testFuzz_claims_neverExceedTheBudget(uint256 seed, uint256 budget, uint256 count) public {
        (uint256 taskId, address[] memory accounts, uint256[] memory amounts) = _claimable(seed, budget, count);
        budget = fedTask.getRound(taskId, 1).budget;
        uint256 held = token.balanceOf(address(fedTask));
        uint256 paid;
        for (uint256 k = 0; k < accounts.length; ++k) {
            uint256 i = (uint256(keccak256(abi.encode(seed, "order"))) + k) % accounts.length;
            paid = _claimOrOverpay(taskId, accounts, amounts, i, budget, paid);
        }
        vm.assertEq(fedTask.getRound(taskId, 1).claimed, paid, "claimed == reference");
        vm.assertLe(paid, budget, "never above the budget");
        vm.assertEq(held - token.balanceOf(address(fedTask)), paid, "tokens out == claimed");
    }

    /// @dev Round 1 finalised with `count` (1..4) fuzzed leaves under a fuzzed budget, past its window.
    function _claimable(
        uint256 seed,
        uint256 budget,
        uint256 count
    ) private returns (uint256 taskId, address[] memory accounts, uint256[] memory amounts) {
        uint256 n = bound(count, 1, 4);
        taskId = _started();
        accounts = new address[](n);
        amounts = new uint256[](n);
        budget = bound(budget, 1, fedTask.roundCap(taskId, 1));
        for (uint256 i = 0; i < n; ++i) {
            accounts[i] = _four()[i];
            amounts[i] = bound(uint256(keccak256(abi.encode(seed, i))), 0, budget);
        }
        _batch(taskId, 1, 4);
        _toRevealDeadline(taskId, 1);
        IFedTask.Finalization memory f = _finalization(taskId, 1, accounts, amounts);
        f.budget = budget;
        f.rewardsRoot = Merkle.root(_rewardLeaves(taskId, 1, accounts, amounts));
        _finalize(taskId, 1, f);
        _toClaimable(taskId, 1);
    }

    /// @dev The flag slash is `stake * slashBps / 10,000`, moved from the stake into the pool; no token moves.
    function testFuzz_executeSlash_matchesTheReference(uint256 stake, uint16 slashBps) public {
        stake = bound(stake, 0, MAX_AMOUNT);
        slashBps = uint16(bound(slashBps, 0, 10_000));
        IFedTask.TaskConfig memory config = _config();
        config.participantStake = stake;
        config.slashBps = slashBps;
        uint256 taskId = _fundedTask(config, stake);
        _open(taskId, 1);
        _batch(taskId, 1, 4);
        _toRevealDeadline(taskId, 1);
        IFedTask.Finalization memory f = _bare(taskId, 1, 0);
        f.flagged = _one(carol);
        _finalize(taskId, 1, f);
        _toClaimable(taskId, 1);
        uint256 held = token.balanceOf(address(fedTask));
        uint256 unallocated = fedTask.getTask(taskId).unallocated;

        fedTask.executeSlash(taskId, 1, carol);

        uint256 expected = (stake * slashBps) / 10_000;
        vm.assertEq(fedTask.stakeOf(taskId, carol), stake - expected, "stake - slash");
        vm.assertEq(fedTask.getTask(taskId).unallocated, unallocated + expected, "pool + slash");
        vm.assertEq(fedTask.getTask(taskId).slashedIn, expected, "slashedIn");
        vm.assertEq(token.balanceOf(address(fedTask)), held, "no token moved");
    }

    /// @dev The court hooks' slashes against the same reference: into the pool for a participant, out to the
    /// court for the coordinator.
    function testFuzz_courtSlashes_matchTheReference(uint256 stake, uint16 bps, uint16 slashBps) public {
        stake = bound(stake, 0, MAX_AMOUNT);
        bps = uint16(bound(bps, 0, 10_000));
        slashBps = uint16(bound(slashBps, 0, 10_000));
        fedTask.grantRole(fedTask.COURT_ROLE(), address(this));
        IFedTask.TaskConfig memory config = _config();
        config.participantStake = stake;
        config.coordinatorStake = stake;
        config.slashBps = slashBps;
        uint256 taskId = _fundedTask(config, stake);
        _open(taskId, 1);
        _runRound(taskId, 1, _two(alice, bob), _amounts2(0, 0));

        uint256 unallocated = fedTask.getTask(taskId).unallocated;
        uint256 slashed = fedTask.slashParticipant(taskId, dave, bps);
        vm.assertEq(slashed, (stake * bps) / 10_000, "participant slash == reference");
        vm.assertEq(fedTask.stakeOf(taskId, dave) + slashed, stake, "no wei lost from the stake");
        vm.assertEq(fedTask.getTask(taskId).unallocated, unallocated + slashed, "into the pool");

        fedTask.openDispute(taskId, 1);
        uint256 before = token.balanceOf(address(this));
        uint256 coordinatorSlash = fedTask.resolveDispute(taskId, 1, true, keccak256("corrected"), "");
        vm.assertEq(coordinatorSlash, (stake * slashBps) / 10_000, "coordinator slash == reference");
        vm.assertEq(token.balanceOf(address(this)) - before, coordinatorSlash, "paid to the court");
        vm.assertEq(fedTask.stakeOf(taskId, coordinator) + coordinatorSlash, stake, "no wei lost");
    }

    /// @dev Aborting after `k` finalised rounds refunds exactly `pool - Σ budgets + coordinatorStake x slashBps`;
    /// once every reward and stake is out, FedTask holds nothing.
    function testFuzz_abortTask_refundsExactlyWhatIsUnspent(
        uint256 pool,
        uint256 stake,
        uint16 slashBps,
        uint256 finalised,
        uint256 seed
    ) public {
        pool = bound(pool, 1, MAX_AMOUNT);
        stake = bound(stake, 0, MAX_AMOUNT);
        slashBps = uint16(bound(slashBps, 0, 10_000));
        IFedTask.TaskConfig memory config = _config();
        config.pool = pool;
        config.participantStake = stake;
        config.coordinatorStake = stake;
        config.slashBps = slashBps;
        token.mint(sponsor, pool);
        uint256 taskId = _fundedTask(config, stake);
        uint256 spent = _finaliseRounds(taskId, uint32(bound(finalised, 0, ROUNDS - 1)), seed);
        vm.warp(fedTask.getTask(taskId).deadline);
        uint256 sponsorBefore = token.balanceOf(sponsor);

        vm.prank(sponsor);
        fedTask.abortTask(taskId);

        uint256 slash = (stake * slashBps) / 10_000;
        vm.assertEq(token.balanceOf(sponsor) - sponsorBefore, pool - spent + slash, "refund == reference");
        IFedTask.TaskInfo memory info = fedTask.getTask(taskId);
        vm.assertEq(info.pool + info.slashedIn, info.unallocated + spent + info.refunded, "task conserved");
        _payEverythingOut(taskId);
        vm.assertEq(token.balanceOf(address(fedTask)), 0, "no wei left behind, none created");
    }

    /// @dev Budgets of the rounds finalised by {_finaliseRounds}, by round.
    uint256[] private _budgets;

    /// @dev Opens and finalises rounds 1..k with fuzzed budgets (each at most its cap) paid to alice.
    function _finaliseRounds(uint256 taskId, uint32 k, uint256 seed) private returns (uint256 spent) {
        delete _budgets;
        _budgets.push(0);
        for (uint32 r = 1; r <= k; ++r) {
            _open(taskId, r);
            uint256 budget = bound(uint256(keccak256(abi.encode(seed, r))), 0, fedTask.roundCap(taskId, r));
            _runRound(taskId, r, _one(alice), _single(budget));
            _budgets.push(budget);
            spent += budget;
        }
    }

    /// @dev After the windows and the cooldown: alice claims every round, every staker withdraws.
    function _payEverythingOut(uint256 taskId) private {
        vm.warp(block.timestamp + 30 days);
        for (uint32 r = 1; r < _budgets.length; ++r) {
            // A zero-budget round has a zero root: nothing to claim.
            if (_budgets[r] != 0) _claim(taskId, r, _one(alice), _single(_budgets[r]), 0);
        }
        address[5] memory stakers = [alice, bob, carol, dave, coordinator];
        for (uint256 i = 0; i < stakers.length; ++i) {
            if (fedTask.stakeOf(taskId, stakers[i]) != 0) {
                vm.prank(stakers[i]);
                fedTask.withdrawStake(taskId);
            }
        }
    }

    /// @dev Shares are accepted exactly when they are one uint16 per participant summing to 10,000, and read back.
    function testFuzz_finalizeRound_acceptsSharesExactlyWhenTheySumTo10000(uint16 a, uint16 b, uint16 c) public {
        IFedTask.TaskConfig memory config = _config();
        config.totalRounds = 1;
        uint256 taskId = _create(config);
        _joinAll(taskId, _four());
        _stake(taskId);
        _open(taskId, 1);
        _batch(taskId, 1, 4);
        _toRevealDeadline(taskId, 1);
        uint16 d = uint16((uint256(a) + b + c) % 10_001);
        uint16[] memory bps = new uint16[](4);
        (bps[0], bps[1], bps[2], bps[3]) = (a, b, c, d);
        uint256 sum = uint256(a) + b + c + d;
        IFedTask.Finalization memory f = _bare(taskId, 1, 0);
        f.shares = _pack(bps);
        if (sum != 10_000) {
            vm.expectRevert(abi.encodeWithSelector(IFedTask.TaskSharesInvalid.selector, taskId, sum));
            _finalize(taskId, 1, f);
            return;
        }
        _finalize(taskId, 1, f);
        vm.assertEq(fedTask.shareOf(taskId, alice), a, "alice");
        vm.assertEq(fedTask.shareOf(taskId, dave), d, "dave");
    }

    /// @dev Default-like shares that always sum to 10,000 (the dependent fourth share closes the sum).
    function testFuzz_finalizeRound_recordsAnyValidShares(uint16 a, uint16 b, uint16 c) public {
        a = uint16(bound(a, 0, 10_000));
        b = uint16(bound(b, 0, 10_000 - a));
        c = uint16(bound(c, 0, 10_000 - a - b));
        uint16 d = 10_000 - a - b - c;
        IFedTask.TaskConfig memory config = _config();
        config.totalRounds = 1;
        uint256 taskId = _create(config);
        _joinAll(taskId, _four());
        _stake(taskId);
        _open(taskId, 1);
        _batch(taskId, 1, 4);
        _toRevealDeadline(taskId, 1);
        uint16[] memory bps = new uint16[](4);
        (bps[0], bps[1], bps[2], bps[3]) = (a, b, c, d);
        IFedTask.Finalization memory f = _bare(taskId, 1, 0);
        f.shares = _pack(bps);
        _finalize(taskId, 1, f);
        uint256 total;
        address[] memory accounts = _four();
        for (uint256 i = 0; i < 4; ++i) {
            vm.assertEq(fedTask.shareOf(taskId, accounts[i]), bps[i], "share");
            total += fedTask.shareOf(taskId, accounts[i]);
        }
        vm.assertEq(total, 10_000, "sum");
    }

    // ------------------------------------------------------------------ helpers

    /// @dev Claims leaf `i`, expecting {TaskRoundOverpaid} when the reference says the round cannot pay it.
    function _claimOrOverpay(
        uint256 taskId,
        address[] memory accounts,
        uint256[] memory amounts,
        uint256 i,
        uint256 budget,
        uint256 paid
    ) private returns (uint256) {
        bytes32[] memory proof = Merkle.proof(_rewardLeaves(taskId, 1, accounts, amounts), i);
        if (paid + amounts[i] > budget) {
            vm.expectRevert(
                abi.encodeWithSelector(
                    IFedTask.TaskRoundOverpaid.selector,
                    taskId,
                    uint32(1),
                    budget,
                    paid + amounts[i]
                )
            );
            vm.prank(accounts[i]);
            fedTask.claimRewards(taskId, 1, amounts[i], proof);
            return paid;
        }
        vm.prank(accounts[i]);
        fedTask.claimRewards(taskId, 1, amounts[i], proof);
        return paid + amounts[i];
    }

    /// @dev A finalisation of `round` with `budget` and an arbitrary non-zero root (no claims in the test).
    function _bare(uint256 taskId, uint32 round, uint256 budget) private view returns (IFedTask.Finalization memory f) {
        f = _finalization(taskId, round, new address[](0), new uint256[](0));
        f.budget = budget;
        f.rewardsRoot = budget == 0 ? bytes32(0) : keccak256(abi.encode("root", round));
    }

    /// @dev Creates a task with `config` and four participants who can afford `stake`; the coordinator staked.
    function _fundedTask(IFedTask.TaskConfig memory config, uint256 stake) private returns (uint256 taskId) {
        address[5] memory accounts = [alice, bob, carol, dave, coordinator];
        for (uint256 i = 0; i < accounts.length; ++i) {
            token.mint(accounts[i], stake);
        }
        taskId = _create(config);
        _joinAll(taskId, _four());
        if (config.coordinatorStake != 0) _stake(taskId);
    }

    function _single(uint256 amount) private pure returns (uint256[] memory amounts) {
        amounts = new uint256[](1);
        amounts[0] = amount;
    }
}
